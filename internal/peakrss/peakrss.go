// Package peakrss reads the peak resident memory of a running process as
// Linux keeps it (VmHWM in /proc/PID/status), for the tests and
// benchmarks that bound a child process's memory.
//
// ru_maxrss from wait4 cannot be used for that: Go starts a child with
// vfork, and Linux then counts the parent's RSS at exec time into the
// child's maximum, so a large test process, or a benchmark holding an
// in-process broker full of records, would make the child look large.
package peakrss

import (
	"bytes"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// Watch polls the high-water RSS of process pid every interval until the
// process exits; the returned function waits for that and gives the last
// reading, in bytes (0 if none was read). The high-water mark only
// grows, so a reading missed between polls is made up by the next one;
// only growth in the last interval before the exit can be missed.
func Watch(pid int, every time.Duration) func() int64 {
	var last atomic.Int64
	done := make(chan struct{})
	go func() { // ends when the process has exited
		defer close(done)
		path := fmt.Sprintf("/proc/%d/status", pid)
		for {
			hwm, ok := read(path)
			if !ok {
				return // exited: the memory is gone
			}
			last.Store(hwm)
			time.Sleep(every) // polling the process
		}
	}()
	return func() int64 {
		<-done
		return last.Load()
	}
}

// read returns the VmHWM of a status file in bytes; ok is false once the
// process is gone (no file) or a zombie (no memory lines).
func read(path string) (hwm int64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	i := bytes.Index(b, []byte("VmHWM:"))
	if i < 0 {
		return 0, false
	}
	var kb int64
	if _, err := fmt.Sscanf(string(b[i+len("VmHWM:"):]), "%d", &kb); err != nil {
		return 0, false
	}
	return kb << 10, true
}
