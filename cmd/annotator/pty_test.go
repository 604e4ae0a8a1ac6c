package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty %d: %v", n, err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestProgressOnTerminal: with stderr on a real terminal, a --summary run
// over a slow pipe shows a progress line while it runs, clears it, and
// ends with the summary table; the annotated lines go to stdout untouched.
func TestProgressOnTerminal(t *testing.T) {
	master, slave := openPTY(t)
	cmd := exec.Command(binary, "--summary")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close() // the child holds it now
	var term bytes.Buffer
	copied := make(chan struct{})
	go func() { // reads the terminal until the child has gone
		io.Copy(&term, master)
		close(copied)
	}()
	// Feed lines for about 1.5 s: several progress ticks (every 250 ms).
	for i := 0; i < 30; i++ {
		fmt.Fprintf(stdin, "line %d code=898001\n", i)
		time.Sleep(50 * time.Millisecond) // pacing the input, not synchronisation
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, term.Bytes())
	}
	master.SetReadDeadline(time.Now().Add(5 * time.Second))
	<-copied
	screen := term.String()
	if !strings.Contains(screen, "lines/s") || !strings.Contains(screen, "\r\x1b[K") {
		t.Errorf("no progress line on the terminal: %q", screen)
	}
	if !strings.Contains(screen, "30 lines read, 30 with a code") || !strings.Contains(screen, "898001") {
		t.Errorf("no summary on the terminal: %q", screen)
	}
	if strings.Count(stdout.String(), "\n") != 30 || strings.Contains(stdout.String(), "lines/s") {
		t.Errorf("stdout is not just the annotated lines: %q", stdout.String())
	}
}
