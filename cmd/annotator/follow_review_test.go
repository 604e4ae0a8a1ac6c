package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// R1. copytruncate while stopped, then the app restarts and writes its
// banner again into the truncated file: the truncated file's new content
// must be read from its start.
func TestFollowReviewCopytruncateStoppedBannerRestart(t *testing.T) {
	x := newIdent(t)
	path := x.path("app.log")
	x.appendBytes(path, append(banner(), x.lines(100)...))
	args := []string{"--follow", path, "--state", x.state}
	a := x.start(args...)
	x.wait()
	a.stop(false)
	x.write(path, 50) // not read before the copy
	if err := copyThenTruncate(path, nil); err != nil {
		t.Fatal(err)
	}
	// The app restarts: banner, then more lines than the copy held.
	x.appendBytes(path, append(banner(), x.lines(300)...))
	a = x.start(args...)
	x.finish(a)
	x.checkBanners(2)
}

// R2. A directory named like a followed glob's match, and a file whose
// name is that directory's name plus ".log": nobody follows the file.
func TestFollowReviewGlobDirectoryHead(t *testing.T) {
	x := newIdent(t)
	if err := os.Mkdir(x.path("mysql"), 0o755); err != nil {
		t.Fatal(err)
	}
	x.write(x.path("mysql.log"), 20)
	x.write(x.path("other.log"), 20)
	a := x.start("--follow", filepath.Join(x.dir, "*"), "--state", x.state)
	x.wait()
	x.finish(a)
}

// R2b. Two live logs, one named as the other plus a suffix.
func TestFollowReviewGlobSiblingSuffix(t *testing.T) {
	x := newIdent(t)
	x.write(x.path("server"), 20)
	x.write(x.path("server-gc"), 20)
	a := x.start("--follow", filepath.Join(x.dir, "*"), "--state", x.state)
	x.wait()
	x.write(x.path("server-gc"), 20)
	x.finish(a)
}

// R3. A late writer leaves half a line in the file renamed away; the
// follower, short of descriptors, sheds the lingering file and later
// finds it again when the line is completed.
func TestFollowReviewShedLingeringPartialLine(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	x := newIdent(t)
	path := x.path("app.log")
	x.write(path, 10)
	a := x.start("--follow", path, "--state", x.state, "--max-open-files", "2")
	x.wait()
	late, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	renameRotate(t, path) // app.log -> app.log.1, late still writes there
	x.write(path, 10)     // the writer moved on: app.log.1 lingers
	x.wait()
	line := x.lines(1)
	if _, err := late.Write(line[:20]); err != nil { // half a line, late
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // read by the lingering reader
	// A second rotation: no descriptor for the new file while the current
	// one and app.log.1 are held; app.log.1 is shed.
	late2, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer late2.Close()
	os.Rename(path+".1", path+".2")
	mustRename(t, path, path+".1")
	mustCreate(t, path)
	x.write(path, 10)
	time.Sleep(500 * time.Millisecond)
	if _, err := late.Write(line[20:]); err != nil { // the rest of the line
		t.Fatal(err)
	}
	x.write(path, 5)
	x.finish(a)
}

// R4. A quiet file closed (parked) is copytruncated, and written past
// where it was read, before the follower looks again.
func TestFollowReviewParkedCopytruncate(t *testing.T) {
	x := newIdent(t)
	path := x.path("app.log")
	x.write(path, 100)
	a := x.start("--follow", path, "--state", x.state, "--close-inactive", "100ms")
	x.wait()
	waitClosed(t, a.cmd.Process.Pid, path)
	freeze(t, a)
	x.write(path, 50) // not read before the copy
	if err := copyThenTruncate(path, nil); err != nil {
		t.Fatal(err)
	}
	x.write(path, 200)
	thaw(t, a)
	x.finish(a)
}

// R5. A glob's follower ends (its path deleted) while it reads a renamed
// file for late lines: the late lines are lost, and its claim on that
// file is never given back.
func TestFollowReviewFollowerExitsWhileLingering(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	x := newIdent(t)
	path := x.path("a.log")
	x.write(path, 10)
	a := x.start("--follow", filepath.Join(x.dir, "*.log"), "--state", x.state, "--close-inactive", "1s")
	x.wait()
	late, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	renameRotate(t, path)
	x.write(path, 10)
	x.wait()
	time.Sleep(200 * time.Millisecond)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// A worker that never reopened goes on writing into a.log.1.
	for i := 0; i < 15; i++ {
		if _, err := late.Write(x.lines(1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	x.waitRange(1, x.seq, 2*time.Second)
	late.Close()
	// The renamed file goes; a new log gets its inode.
	old := inode(t, path+".1")
	if err := os.Remove(path + ".1"); err != nil {
		t.Fatal(err)
	}
	reused := false
	for tries := 0; os.Getenv("NOREUSE") == "" && tries < 100 && !reused; tries++ {
		cand := x.path(fmt.Sprintf("cand-%03d", tries))
		x.write(cand, 0)
		if reused = inode(t, cand) == old; reused {
			mustRename(t, cand, x.path("b.log"))
		}
	}
	if !reused {
		t.Logf("inode not reused")
	}
	x.write(x.path("b.log"), 20)
	x.finish(a)
}

// R7. A file and a symlink to it, --start-at end: after a rotation the
// link's follower may win the new file and start it at its end.
func TestFollowReviewSymlinkRotateStartEnd(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	x := newIdent(t)
	path := x.path("app.log")
	link := x.path("current.log")
	x.write(path, 10)
	if err := os.Symlink("app.log", link); err != nil {
		t.Fatal(err)
	}
	a := x.start("--follow", path, "--follow", link, "--state", x.state, "--start-at", "end")
	a.waitLog("following file")
	time.Sleep(200 * time.Millisecond)
	lo := x.seq + 1
	x.write(path, 10)
	x.waitRange(lo, x.seq, 0)
	for r := 0; r < 5; r++ {
		renameRotate(t, path)
		x.write(path, 10)
		time.Sleep(100 * time.Millisecond)
		x.write(path, 10)
		x.waitRange(lo, x.seq, 3*time.Second)
	}
	time.Sleep(identQuiet)
	a.stop(false)
	lost, rep := x.tally(lo, x.seq)
	t.Logf("RESULT lines %d..%d: lost %d, repeated %d", lo, x.seq, lost, rep)
	if lost+rep > 0 {
		t.Errorf("lost %d repeated %d", lost, rep)
	}
}
