package checkpoint

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// A second Open of a held directory is refused, naming the directory and
// the holder; Close writes what was recorded, releases the directory and
// clears the PID; a store is useless after Close.
func TestOpenRefusesHeldDirectory(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := os.ReadFile(filepath.Join(dir, LockName))
	if string(pid) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q, want this process's PID %d", pid, os.Getpid())
	}
	// flock locks belong to an open file, not to a process: a second
	// Open in the same process conflicts like another process would.
	s2, err := Open(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) || s2 != nil {
		t.Fatalf("second Open = %v, %v; want an InUseError", s2, err)
	}
	if inUse.Dir != dir || inUse.PID != os.Getpid() {
		t.Errorf("InUseError %+v, want dir %s, pid %d", inUse, dir, os.Getpid())
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("message %q does not name the directory and the holder", msg)
	}

	e := Entry{Path: "/a.log", Offset: 7}
	s.Put(e)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if pid, _ := os.ReadFile(filepath.Join(dir, LockName)); len(pid) != 0 {
		t.Errorf("lock file holds %q after Close, want it empty", pid)
	}
	if _, err := s.Flush(); err == nil {
		t.Error("Flush after Close wrote into a directory no longer held")
	}
	s3, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer s3.Close()
	if got, _ := s3.Get(e.Path); got != e {
		t.Errorf("Close did not write what was recorded: read back %+v, want %+v", got, e)
	}
}

// holdEnv makes the test binary a process that holds a state directory
// until it is killed.
const holdEnv = "CHECKPOINT_TEST_HOLD"

func TestMain(m *testing.M) {
	dir := os.Getenv(holdEnv)
	if dir == "" {
		os.Exit(m.Run())
	}
	s, err := Open(dir)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("held")
	// Hold it until killed, or until the test's end closes standard
	// input. A blocked read, unlike a bare channel wait, is not taken by
	// the runtime for a deadlock that would end the process early.
	io.Copy(io.Discard, os.Stdin)
	s.Close()
	os.Exit(0)
}

// Another process's lock is seen, with its PID; once that process is
// killed, its lock file (PID and all) is left behind but blocks nothing.
func TestLockOfKilledProcessDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	holder := exec.Command(os.Args[0])
	holder.Env = append(os.Environ(), holdEnv+"="+dir)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		holder.Process.Kill()
		holder.Wait()
	})
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "held\n" {
		t.Fatalf("holder said %q", line)
	}
	_, err = Open(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.PID != holder.Process.Pid {
		t.Fatalf("Open of a directory another process holds = %v, want an InUseError naming pid %d", err, holder.Process.Pid)
	}

	if err := holder.Process.Kill(); err != nil { // SIGKILL: no chance to unlock
		t.Fatal(err)
	}
	holder.Wait()
	stale, _ := os.ReadFile(filepath.Join(dir, LockName))
	if string(stale) != strconv.Itoa(holder.Process.Pid)+"\n" {
		t.Fatalf("lock file holds %q, want the killed holder's PID left behind", stale)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	defer s.Close()
	if pid, _ := os.ReadFile(filepath.Join(dir, LockName)); string(pid) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q, want the new holder's PID %d", pid, os.Getpid())
	}
}

// A store no longer referenced, but never closed, keeps the directory: a
// lock dropped by the garbage collector would let a second writer in
// unnoticed.
func TestLockNotDroppedByGarbageCollection(t *testing.T) {
	dir := t.TempDir()
	func() {
		if _, err := Open(dir); err != nil {
			t.Fatal(err)
		}
	}()
	for i := 0; i < 3; i++ {
		runtime.GC() // runs the finalizers of what the last cycle freed
	}
	if s, err := Open(dir); !errors.As(err, new(*InUseError)) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open after the first store was dropped = %v, want an InUseError", err)
	}
}
