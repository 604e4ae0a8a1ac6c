package peakrss

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary, run as a child, allocate and touch
// childMiB MiB and exit.
const childEnv = "PEAKRSS_TEST_CHILD"

const childMiB = 48

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		b := make([]byte, childMiB<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		time.Sleep(100 * time.Millisecond) // for a poll or two to see it
		os.Exit(int(b[len(b)-4096]) - 1)   // 0, and keeps b alive until here
	}
	os.Exit(m.Run())
}

// TestWatchChildOnly: a child that touches 48 MiB is read as about that,
// while its parent holds three times as much, which ru_maxrss would
// count into the child's peak.
func TestWatchChildOnly(t *testing.T) {
	parent := make([]byte, 3*childMiB<<20)
	for i := 0; i < len(parent); i += 4096 {
		parent[i] = 1
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := Watch(cmd.Process.Pid, time.Millisecond)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	got := peak()
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	t.Logf("child's VmHWM %d MiB, its ru_maxrss %d MiB, the parent holding %d MiB", got>>20, ru.Maxrss>>10, len(parent)>>20)
	if got < childMiB<<20 || got > 2*childMiB<<20 {
		t.Errorf("peak %d MiB for a child that touched %d MiB", got>>20, childMiB)
	}
	if parent[len(parent)-4096] != 1 { // keeps the parent's memory alive until here
		t.Fatal("parent memory lost")
	}
}

// TestWatchGone: a process that has already exited gives 0 at once.
func TestWatchGone(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if got := Watch(cmd.Process.Pid, time.Millisecond)(); got != 0 {
		t.Errorf("peak %d of a process reaped, want 0", got)
	}
}
