package main

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A FIFO a glob matches beside a log, and a followed path that turns out
// to be a FIFO once it appears: neither is opened in a way that blocks
// (open(2) on a FIFO waits for a writer, deaf to SIGTERM). The log's
// lines come out, the FIFO is named in the log, and SIGTERM stops the
// process at once with status 0.
func TestFollowFIFONeverBlocks(t *testing.T) {
	x := newIdent(t)
	if err := syscall.Mkfifo(x.path("pipe.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := x.path("later.log")
	x.write(x.path("app.log"), 20)
	a := x.start("--follow", filepath.Join(x.dir, "*.log"), "--follow", later, "--state", x.state)
	a.waitLog("waiting for the file to appear")
	x.wait()
	if err := syscall.Mkfifo(later, 0o644); err != nil {
		t.Fatal(err)
	}
	a.waitLog("named pipe")
	x.write(x.path("app.log"), 20)
	x.wait()
	start := time.Now()
	a.allowErrors = true // the FIFO at the followed path is logged as an error
	x.finish(a)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping took %v", d)
	}
}
