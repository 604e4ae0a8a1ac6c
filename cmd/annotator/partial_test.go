package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A stop's rule for a line whose end has not come: the filter writes what
// it read as a complete record (text ended with a newline, valid JSON);
// the follower writes nothing of it, and its checkpoint stays before it,
// so the line goes out once, whole, after a restart.

// filterStopMidLine feeds the filter input on a pipe that stays open,
// waits until want bytes of output came, sends SIGTERM and returns all
// the output.
func filterStopMidLine(t *testing.T, input string, want int, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(binary, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go io.WriteString(stdin, input) // the pipe stays open: the writer is quiet, not gone
	r := bufio.NewReader(stdout)
	var out []byte
	buf := make([]byte, 64<<10)
	for len(out) < want {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			t.Fatalf("output ended after %d bytes: %v\n%s", len(out), err, stderr.String())
		}
	}
	// The rest of the input is read while the output is: give it a
	// moment to arrive, as a writer pausing mid-line does.
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	out = append(out, rest...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	return out
}

func TestSIGTERMFilterWritesPartialLineWhole(t *testing.T) {
	first := "one 898001" + note898001 + "\n"
	got := filterStopMidLine(t, "one 898001\ntwo partial", len(first))
	if want := first + "two partial\n"; string(got) != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// A partial line longer than the read buffer has gone out in pieces when
// the stop comes: the stop ends it, with its notes.
func TestSIGTERMFilterEndsLongPartialLine(t *testing.T) {
	line := "long 898001 " + strings.Repeat("x", 1<<20)
	text := filterStopMidLine(t, line, 1<<19)
	if want := line + note898001 + "\n"; string(text) != want {
		t.Errorf("text: %d bytes ending %q, want %d ending %q", len(text), tail(string(text), 80), len(want), tail(want, 80))
	}
	js := filterStopMidLine(t, line, 1<<19, "--format", "json")
	var rec struct {
		Line  string `json:"line"`
		Codes []struct {
			Code string `json:"code"`
		} `json:"codes"`
	}
	if err := json.Unmarshal(js, &rec); err != nil || !bytes.HasSuffix(js, []byte("}\n")) {
		t.Fatalf("json: not one valid record (%v), ends %q", err, tail(string(js), 80))
	}
	if rec.Line != line || len(rec.Codes) != 1 || rec.Codes[0].Code != "898001" {
		t.Errorf("json: line of %d bytes, codes %+v; want %d bytes and 898001", len(rec.Line), rec.Codes, len(line))
	}
}

// A followed file's long line being written at the stop: nothing of it
// goes out, and after the restart it comes out once, whole.
func TestSIGTERMFollowHoldsLongPartialLine(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	state := filepath.Join(dir, "state")
	long := "seq=000000002 long 871310 " + strings.Repeat("y", 1<<20)
	if err := os.WriteFile(path, []byte("seq=000000001 first 898001\n"+long), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	var raw bytes.Buffer // read by the collector's goroutine until the run ends
	cmd := exec.Command(binary, "--format", "json", "--poll-interval", "10ms", "--follow", path, "--state", state)
	a := startRun(t, c, cmd, func(r io.Reader) io.Reader { return io.TeeReader(r, &raw) })
	a.waitLog("a line longer than the buffer is still being written")
	c.waitAll(t, 1)
	a.stop(false)
	if len(c.counts) != 1 || len(c.bad) != 0 || bytes.Count(raw.Bytes(), []byte("\n")) != 1 || raw.Bytes()[raw.Len()-1] != '\n' {
		t.Fatalf("before the long line's end was written: lines %v, unreadable %d, %d bytes out ending %q; want line 1 only",
			c.counts, len(c.bad), raw.Len(), tail(raw.String(), 40))
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, " end\nseq=000000003 next 898001\n")
	f.Close()
	c2 := newCollector()
	a2 := startFollow(t, c2, false, "--follow", path, "--state", state)
	c2.waitFor(t, "lines 2 and 3", func() bool { return c2.counts[2] > 0 && c2.counts[3] > 0 })
	a2.stop(false)
	if c2.counts[1] != 0 || c2.counts[2] != 1 || c2.counts[3] != 1 || len(c2.bad) != 0 {
		t.Errorf("after the restart: lines %v, unreadable %d; want 2 and 3 once", c2.counts, len(c2.bad))
	}
	if got, want := c2.lens[2], len(long)+4; got != want {
		t.Errorf("the long line has %d bytes, want %d", got, want)
	}
}

// A long line held back while written ends with its file when the file is
// rotated away unfinished: it goes out whole, as the file's last line,
// before the next file's lines.
func TestFollowLongPartialLineEndsWithRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	long := "seq=000000001 long 871310 " + strings.Repeat("y", 1<<20)
	if err := os.WriteFile(path, []byte(long), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	a := startFollow(t, c, false, "--follow", path, "--close-inactive", "2s")
	a.waitLog("a line longer than the buffer is still being written")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("seq=000000002 next 898001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.waitAll(t, 2)
	a.stop(false)
	if c.counts[1] != 1 || c.counts[2] != 1 || len(c.bad) != 0 || c.lens[1] != len(long) {
		t.Errorf("lines %v, unreadable %v, the long line %d bytes; want each once, the long one whole (%d bytes)",
			c.counts, c.bad, c.lens[1], len(long))
	}
}
