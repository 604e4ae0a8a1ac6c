package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A file is one file whatever its name: the tests below follow files
// through what a follower keyed by path gets wrong (globs that also match
// the rotated names, a symlink beside its target, files replaced by ones
// with the same first bytes, a freed inode handed out again, rotation
// while the follower is stopped or cannot see it, file names that are not
// UTF-8) and count every line by its sequence number: after a clean stop
// none may be lost and none repeated.

// identWait bounds each wait for lines in these tests, and identStall
// ends it sooner once no new line has come for that long: what has not
// come by then is counted as lost by the check that follows, which gives
// the numbers. Once a wait has ended so, later waits in the same test
// last identWaitAfter at most, so that a failing test does not take a
// minute.
const (
	identWait      = 20 * time.Second
	identStall     = 5 * time.Second
	identWaitAfter = time.Second
)

// identQuiet is how long a test lets the follower run on after the last
// line it waited for, before stopping it: lines read a second time would
// come out meanwhile. It proves that something does not happen, so it is
// a sleep; 50 poll intervals of the runs here.
const identQuiet = 500 * time.Millisecond

// identCase is one test's files, state directory, line numbers and
// collector.
type identCase struct {
	t     *testing.T
	c     *collector
	dir   string // the logs, and nothing else
	state string
	seq   int // the last sequence number written
	// headers counts the banner lines (hdr=...) seen in the output;
	// they are kept from the collector, which counts only seq= lines.
	headers atomic.Int64
	late    bool // a wait timed out
}

func newIdent(t *testing.T) *identCase {
	t.Helper()
	root := t.TempDir()
	x := &identCase{t: t, c: newCollector(), dir: filepath.Join(root, "log"), state: filepath.Join(root, "state")}
	if err := os.Mkdir(x.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return x
}

func (x *identCase) path(name string) string { return filepath.Join(x.dir, name) }

// lines returns the next n numbered lines.
func (x *identCase) lines(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		x.seq++
		fmt.Fprintf(&b, "seq=%09d err 803001 identity line %d\n", x.seq, x.seq%89)
	}
	return b.Bytes()
}

// write appends the next n lines to path, creating it if need be.
func (x *identCase) write(path string, n int) {
	x.t.Helper()
	x.appendBytes(path, x.lines(n))
}

func (x *identCase) appendBytes(path string, data []byte) {
	x.t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		x.t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		x.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		x.t.Fatal(err)
	}
}

// identHeaderLines is how many lines the banner has; the banner is more
// than 1.5 KiB, longer than a fingerprint of the first kilobyte.
const identHeaderLines = 20

// banner is what each file of an app starts with, the same every time.
func banner() []byte {
	var b bytes.Buffer
	for i := 1; i <= identHeaderLines; i++ {
		fmt.Fprintf(&b, "hdr=%02d ==== app 4.2.1 starting: config /etc/app/app.conf, pid file /run/app.pid ====\n", i)
	}
	if b.Len() < 1536 {
		panic("banner shorter than 1.5 KiB")
	}
	return b.Bytes()
}

// start runs the binary with JSON output and a 10 ms poll interval (args
// may give another: the last one given wins), banner lines counted apart.
func (x *identCase) start(args ...string) *annRun {
	x.t.Helper()
	cmd := exec.Command(binary, append([]string{"--format", "json", "--poll-interval", "10ms"}, args...)...)
	return startRun(x.t, x.c, cmd, func(r io.Reader) io.Reader {
		return &bannerFilter{br: bufio.NewReaderSize(r, 1<<20), seen: &x.headers}
	})
}

// bannerFilter passes the output on without its banner lines, counting
// them.
type bannerFilter struct {
	br      *bufio.Reader
	pending []byte
	seen    *atomic.Int64
}

func (h *bannerFilter) Read(p []byte) (int, error) {
	for len(h.pending) == 0 {
		line, err := h.br.ReadBytes('\n')
		if err != nil {
			return 0, err // a line cut short is not delivered
		}
		if bytes.Contains(line, []byte(`"line":"hdr=`)) {
			h.seen.Add(1)
			continue
		}
		h.pending = line
	}
	n := copy(p, h.pending)
	h.pending = h.pending[n:]
	return n, nil
}

// waitRange waits until every line from lo to hi has been seen; false if
// they have not. With d 0, it waits up to identWait, or identStall with
// no new line; otherwise d exactly.
func (x *identCase) waitRange(lo, hi int, d time.Duration) bool {
	x.t.Helper()
	stall := time.Duration(0)
	if d == 0 {
		d, stall = identWait, identStall
	}
	if x.late && d > identWaitAfter {
		d, stall = identWaitAfter, 0
	}
	start := time.Now()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	var stalled <-chan time.Time // nil, never ready, without stall
	seen := -1
	for {
		x.c.mu.Lock()
		missing := 0
		for i := lo; i <= hi; i++ {
			if x.c.counts[i] == 0 {
				missing++
			}
		}
		distinct := len(x.c.counts)
		x.c.mu.Unlock()
		if missing == 0 {
			return true
		}
		if stall > 0 && distinct != seen {
			seen = distinct
			stalled = time.After(stall)
		}
		select {
		case <-x.c.changed:
			continue
		case <-deadline.C:
		case <-stalled:
		}
		x.t.Logf("after %v, %d of lines %d..%d have not come", time.Since(start).Round(time.Millisecond), missing, lo, hi)
		x.late = true
		return false
	}
}

// wait waits for every line written so far.
func (x *identCase) wait() bool {
	x.t.Helper()
	return x.waitRange(1, x.seq, 0)
}

// tally counts the lines from lo to hi never seen, and the repeats.
func (x *identCase) tally(lo, hi int) (lost, repeated int) {
	x.c.mu.Lock()
	defer x.c.mu.Unlock()
	for i := lo; i <= hi; i++ {
		switch k := x.c.counts[i]; {
		case k == 0:
			lost++
		case k > 1:
			repeated += k - 1
		}
	}
	return lost, repeated
}

// finish waits for every line written, lets the follower run on a
// while, stops it cleanly and checks that each line came exactly once.
func (x *identCase) finish(a *annRun) {
	x.t.Helper()
	x.wait()
	time.Sleep(identQuiet)
	a.stop(false)
	x.verify()
}

// verify reports the numbers and checks that lines 1..seq each came once.
func (x *identCase) verify() {
	x.t.Helper()
	lost, repeated := x.tally(1, x.seq)
	x.c.mu.Lock()
	bad := len(x.c.bad)
	x.c.mu.Unlock()
	x.t.Logf("RESULT %d lines: lost %d, repeated %d, bad %d", x.seq, lost, repeated, bad)
	x.c.check(x.t, x.seq, 0)
}

// checkBanners checks that the banner lines came files times each.
func (x *identCase) checkBanners(files int) {
	x.t.Helper()
	got, want := x.headers.Load(), int64(files*identHeaderLines)
	x.t.Logf("RESULT banner lines: %d, want %d", got, want)
	if got != want {
		x.t.Errorf("%d banner lines, want %d (%d files of %d)", got, want, files, identHeaderLines)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func mustCreate(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// shiftGenerations renames path.N to path.N+1, oldest first, as
// logrotate does; path.keep, if there, is deleted first.
func shiftGenerations(path string, keep int) error {
	if err := os.Remove(fmt.Sprintf("%s.%d", path, keep)); err != nil && !os.IsNotExist(err) {
		return err
	}
	for i := keep - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Lstat(from); err != nil {
			continue
		}
		if err := os.Rename(from, fmt.Sprintf("%s.%d", path, i+1)); err != nil {
			return err
		}
	}
	return nil
}

// renameRotate rotates path as logrotate's create does: the generations
// shift, path becomes path.1 and a new empty path is created.
func renameRotate(t *testing.T, path string) {
	t.Helper()
	if err := shiftGenerations(path, 9); err != nil {
		t.Fatal(err)
	}
	mustRename(t, path, path+".1")
	mustCreate(t, path)
}

// copyTruncate rotates path as logrotate's copytruncate does: the
// generations shift, path is copied to path.1 and truncated.
func copyTruncate(path string, keep int, live *os.File) error {
	if err := shiftGenerations(path, keep); err != nil {
		return err
	}
	return copyThenTruncate(path, live)
}

// copyThenTruncate copies path to path.1 and truncates it, through live
// if given, the writer's own descriptor.
func copyThenTruncate(path string, live *os.File) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".1", data, 0o644); err != nil {
		return err
	}
	if live != nil {
		return live.Truncate(0)
	}
	return os.Truncate(path, 0)
}

// freeze stops the run with SIGSTOP and waits until every one of its
// threads is stopped: the signal is delivered, not acted on, when kill
// returns, and a thread busy reading would go on reading a while.
func freeze(t *testing.T, a *annRun) {
	t.Helper()
	pid := a.cmd.Process.Pid
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.cmd.Process.Signal(syscall.SIGCONT) })
	for deadline := time.Now().Add(10 * time.Second); ; {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, task := range tasks {
			data, err := os.ReadFile(task)
			if err != nil {
				continue // a thread that ended
			}
			// The state follows the command's closing parenthesis.
			i := bytes.LastIndexByte(data, ')')
			if i < 0 || i+2 >= len(data) || (data[i+2] != 'T' && data[i+2] != 't') {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("annotator %d not stopped 10 s after SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond) // polling /proc
	}
}

// thaw resumes a run stopped by freeze.
func thaw(t *testing.T, a *annRun) {
	t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// 1. A glob that also matches the rotated names: each renamed generation
// is the file already read, not a new file to read from its start.
func TestFollowIdentityGlobMatchesRotatedNames(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	for _, tc := range []struct{ name, pattern string }{{"star", "*"}, {"prefix", "app.log*"}} {
		t.Run(tc.name, func(t *testing.T) {
			x := newIdent(t)
			path := x.path("app.log")
			x.write(path, 100)
			a := x.start("--follow", filepath.Join(x.dir, tc.pattern), "--state", x.state)
			x.wait()
			for r := 0; r < 2; r++ {
				x.write(path, 50) // perhaps not read before the rotation
				renameRotate(t, path)
				x.write(path, 100)
				x.wait()
			}
			x.finish(a)
		})
	}
}

// 2. A glob matching dated names (dateext): app.log renamed to
// app-20261204.log, which the glob matches too, and a new app.log.
func TestFollowIdentityGlobMatchesDatedNames(t *testing.T) {
	x := newIdent(t)
	path := x.path("app.log")
	x.write(path, 100)
	a := x.start("--follow", filepath.Join(x.dir, "*.log"), "--state", x.state)
	x.wait()
	for _, day := range []string{"20261204", "20261205"} {
		x.write(path, 50)
		mustRename(t, path, x.path("app-"+day+".log"))
		mustCreate(t, path)
		x.write(path, 100)
		x.wait()
	}
	x.finish(a)
}

// 3. A file and a symlink to it, both followed: one file, read once.
func TestFollowIdentitySymlinkAndTarget(t *testing.T) {
	x := newIdent(t)
	path := x.path("app.log")
	link := x.path("current.log")
	x.write(path, 100)
	if err := os.Symlink("app.log", link); err != nil {
		t.Fatal(err)
	}
	a := x.start("--follow", path, "--follow", link, "--state", x.state)
	x.wait()
	x.write(path, 100)
	x.wait()
	renameRotate(t, path)
	x.write(path, 100)
	x.finish(a)
}

// 4. The file replaced by a new one starting with the same 1.6 KiB
// banner, deleted and created or atomically replaced by a rename over
// it, while followed and while the follower is stopped: the new file is
// read from its start, banner included.
func TestFollowIdentitySameFirstBytes(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	for _, how := range []string{"delete", "replace"} {
		for _, restart := range []bool{false, true} {
			name := how + map[bool]string{false: "/live", true: "/restart"}[restart]
			t.Run(name, func(t *testing.T) {
				x := newIdent(t)
				path := x.path("app.log")
				x.appendBytes(path, append(banner(), x.lines(122)...))
				args := []string{"--follow", path, "--state", x.state}
				a := x.start(args...)
				x.wait()
				if restart {
					a.stop(false)
				}
				// The new file is larger than the old one: taken for a
				// continuation, it would be read from the old file's size
				// on.
				next := append(banner(), x.lines(222)...)
				switch how {
				case "delete":
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
					x.appendBytes(path, next)
				case "replace":
					// Not named like a rotated file (app.log.*, app.log-*).
					tmp := x.path("tmp-app")
					if err := os.WriteFile(tmp, next, 0o644); err != nil {
						t.Fatal(err)
					}
					mustRename(t, tmp, path)
				}
				if restart {
					a = x.start(args...)
				}
				x.write(path, 20)
				x.finish(a)
				x.checkBanners(2)
			})
		}
	}
}

// 4b. A small file, all of it read, rotated while the follower is
// stopped; its successor starts with the same three lines (an app's
// start-up banner) and goes on: those three lines are the new file's
// and come out again.
func TestFollowIdentitySmallFileSameStartRotatedWhileStopped(t *testing.T) {
	x := newIdent(t)
	path := x.path("app.log")
	head := []byte("hdr=01 app starting\nhdr=02 config loaded\nhdr=03 listening\n")
	x.appendBytes(path, head)
	args := []string{"--follow", path, "--state", x.state}
	a := x.start(args...)
	waitHeaders(t, x, 3)
	a.stop(false)
	mustRename(t, path, path+".1")
	x.appendBytes(path, head)
	x.write(path, 50)
	a = x.start(args...)
	x.finish(a)
	if got := x.headers.Load(); got != 6 {
		t.Errorf("%d banner lines, want 6 (3 in each file)", got)
	}
}

// waitHeaders waits until n banner lines came out.
func waitHeaders(t *testing.T, x *identCase, n int64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); x.headers.Load() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d banner lines came out, want %d", x.headers.Load(), n)
		}
		time.Sleep(10 * time.Millisecond) // polling a counter the output reader sets
	}
}

// 5. A file deleted while the follower is stopped, and a new one with the
// same banner given the same inode: device, inode and first bytes all
// match the checkpoint, yet it is another file, read from its start.
func TestFollowIdentityInodeReuseSameFirstBytes(t *testing.T) {
	x := newIdent(t)
	path := x.path("app.log")
	x.appendBytes(path, append(banner(), x.lines(100)...))
	args := []string{"--follow", path, "--state", x.state}
	a := x.start(args...)
	x.wait()
	a.stop(false)
	old := inode(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// More lines than the old file had, so that trusting the checkpoint
	// would resume in the middle of the new file.
	next := append(banner(), x.lines(300)...)
	reused, tries := false, 0
	for ; tries < 100 && !reused; tries++ {
		x.appendBytes(path, next)
		if reused = inode(t, path) == old; !reused {
			// Keep that inode taken, and try again with the next one.
			mustRename(t, path, x.path(fmt.Sprintf("hold-%03d", tries)))
		}
	}
	if !reused {
		t.Skipf("inode %d not handed out again in 100 files: this file system does not reuse freed inodes at once", old)
	}
	t.Logf("inode %d reused by file %d", old, tries)
	a = x.start(args...)
	x.finish(a)
	x.checkBanners(2)
}

// 5b. The same while following: a quiet file's descriptor was closed
// (--close-inactive), the file is deleted and a new one with the same
// first bytes gets its inode before the follower looks again (polling
// only, every second). The bytes before the offset tell it is new.
func TestFollowIdentityInodeReuseWhileClosed(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	x := newIdent(t)
	path := x.path("app.log")
	x.appendBytes(path, append(banner(), x.lines(100)...))
	a := x.start("--follow", path, "--state", x.state, "--poll-only", "--close-inactive", "100ms", "--poll-interval", "1s")
	x.wait()
	waitClosed(t, a.cmd.Process.Pid, path) // quiet for longer than --close-inactive
	old := inode(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// Candidates are made under another name and only the one with the
	// old inode is renamed into place, so that the follower never sees
	// another file at the path.
	next := append(banner(), x.lines(300)...)
	reused := false
	for tries := 0; tries < 100 && !reused; tries++ {
		cand := x.path(fmt.Sprintf("cand-%03d", tries))
		x.appendBytes(cand, next)
		if reused = inode(t, cand) == old; reused {
			mustRename(t, cand, path)
		}
	}
	if !reused {
		t.Skipf("inode %d not handed out again in 100 files: this file system does not reuse freed inodes at once", old)
	}
	x.finish(a)
	x.checkBanners(2)
}

// 6. copytruncate twice while the follower cannot look: it had read the
// file to its end, then its truncation to offset 0, and is stopped
// (SIGSTOP) or polls every 2 s only; meanwhile 1000 lines and a
// copytruncate, 1000 more and another, then 400. The file holds 400
// lines again, new ones past the offset 0 the follower is at, and the
// copies app.log.2 and app.log.1 hold 2000 lines it never read.
func TestFollowIdentityCopytruncateWhileStopped(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	for _, mode := range []string{"sigstop", "poll-only"} {
		t.Run(mode, func(t *testing.T) {
			x := newIdent(t)
			path := x.path("app.log")
			mustCreate(t, path)
			args := []string{"--follow", path, "--state", x.state}
			seeState := time.Second // for the follower to see the truncation
			if mode == "poll-only" {
				args = append(args, "--poll-only", "--poll-interval", "2s")
				seeState = 3 * time.Second
			}
			a := x.start(args...)
			a.waitLog("following file")
			x.write(path, 400)
			x.wait()
			if err := copyTruncate(path, 9, nil); err != nil {
				t.Fatal(err)
			}
			time.Sleep(seeState) // the follower goes to offset 0 of the emptied file
			if mode == "sigstop" {
				freeze(t, a)
			}
			x.write(path, 1000)
			if err := copyTruncate(path, 9, nil); err != nil {
				t.Fatal(err)
			}
			x.write(path, 1000)
			if err := copyTruncate(path, 9, nil); err != nil {
				t.Fatal(err)
			}
			x.write(path, 400)
			if mode == "sigstop" {
				thaw(t, a)
			}
			x.finish(a)
		})
	}
}

// 7. A generation that stayed empty: app.log rotated to an empty new
// file, which is rotated in turn before anything was written to it. The
// lines then written to the newest file come at once, not after the
// 60 s --close-inactive the follower would wait on a file rotated away
// whose successor is still empty.
func TestFollowIdentityEmptyMiddleGeneration(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	x := newIdent(t)
	path := x.path("app.log")
	x.write(path, 50)
	a := x.start("--follow", path, "--state", x.state, "--close-inactive", "60s")
	x.wait()
	renameRotate(t, path)
	time.Sleep(300 * time.Millisecond) // the follower sees the empty new file
	renameRotate(t, path)
	time.Sleep(300 * time.Millisecond) // and that one rotated away in turn
	x.write(path, 50)
	x.waitRange(1, x.seq, 10*time.Second)
	x.finish(a)
}

// 8. File names that are not UTF-8, matched by a glob, across a restart:
// each keeps its own checkpoint.
func TestFollowIdentityNonUTF8Names(t *testing.T) {
	x := newIdent(t)
	files := []string{x.path("x\xff.log"), x.path("x\xfe.log")}
	args := []string{"--follow", filepath.Join(x.dir, "x*.log"), "--state", x.state}
	for _, f := range files {
		x.write(f, 100)
	}
	a := x.start(args...)
	x.wait()
	a.stop(false)
	for _, f := range files {
		x.write(f, 100)
	}
	a = x.start(args...)
	x.finish(a)
}

// 9. A glob matching a compressed generation: app.log.1.gz, there before
// the start, is either read decompressed, once, or not at all, never as
// raw gzip bytes; the live file's lines come once.
func TestFollowIdentityGlobMatchesCompressed(t *testing.T) {
	x := newIdent(t)
	path := x.path("app.log")
	old := path + ".1"
	x.write(old, 100) // 1..100, the compressed generation
	hour := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hour, hour); err != nil {
		t.Fatal(err)
	}
	gzipFile(t, old)
	x.write(path, 100)
	a := x.start("--follow", filepath.Join(x.dir, "*"), "--state", x.state)
	x.waitRange(101, x.seq, 0)
	x.write(path, 100)
	x.waitRange(101, x.seq, 0)
	time.Sleep(identQuiet)
	a.stop(false)

	lost, repeated := x.tally(101, x.seq)
	gzLost, gzRepeated := x.tally(1, 100)
	x.c.mu.Lock()
	bad := append([]string(nil), x.c.bad...)
	x.c.mu.Unlock()
	t.Logf("RESULT live lines 101..%d: lost %d, repeated %d; compressed lines 1..100: %d missing, %d repeated; bad %d",
		x.seq, lost, repeated, gzLost, gzRepeated, len(bad))
	if len(bad) > 0 {
		t.Errorf("%d output lines that were never written (raw gzip bytes?), first %q", len(bad), bad[0])
	}
	if lost > 0 || repeated > 0 {
		t.Errorf("live file: %d lines lost, %d repeated", lost, repeated)
	}
	switch {
	case gzLost == 0 && gzRepeated == 0:
		t.Log("the compressed generation was read decompressed, once")
	case gzLost == 100:
		t.Log("the compressed generation was not read")
	default:
		t.Errorf("compressed generation: %d of 100 lines missing, %d repeated; want all once or none", gzLost, gzRepeated)
	}
}

// 10. A generation rotated while the follower was stopped, its
// modification time far off (clock skew, a restore, touch): the
// checkpointed file is found among the rotated ones by what it is, not
// by its time.
func TestFollowIdentityMtimeSkew(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	for _, skew := range []time.Duration{-time.Hour, time.Hour} {
		t.Run(map[bool]string{true: "past", false: "future"}[skew < 0], func(t *testing.T) {
			x := newIdent(t)
			path := x.path("app.log")
			args := []string{"--follow", path, "--state", x.state}
			x.write(path, 50)
			a := x.start(args...)
			x.wait()
			a.stop(false)
			x.write(path, 20)
			mustRename(t, path, path+".1")
			when := time.Now().Add(skew)
			if err := os.Chtimes(path+".1", when, when); err != nil {
				t.Fatal(err)
			}
			x.write(path, 20)
			a = x.start(args...)
			x.finish(a)
		})
		// Two rotations while stopped, the middle generation's
		// modification time stepped: it is still read, and in order.
		t.Run(map[bool]string{true: "past", false: "future"}[skew < 0]+"-middle", func(t *testing.T) {
			x := newIdent(t)
			path := x.path("app.log")
			args := []string{"--follow", path, "--state", x.state}
			x.write(path, 50)
			a := x.start(args...)
			x.wait()
			a.stop(false)
			x.write(path, 10)
			mustRename(t, path, path+".1")
			x.write(path, 20)                 // the middle generation
			time.Sleep(20 * time.Millisecond) // distinct creation times
			mustRename(t, path+".1", path+".2")
			mustRename(t, path, path+".1")
			when := time.Now().Add(skew)
			if err := os.Chtimes(path+".1", when, when); err != nil {
				t.Fatal(err)
			}
			x.write(path, 20)
			a = x.start(args...)
			if skew < 0 {
				// Never skipped, and never silently: the order is assumed.
				a.waitLog("assuming it is a newer generation")
			}
			x.finish(a)
		})
	}
}

// 11. One descriptor for two files: the quiet one gives it up, and is
// rotated twice (renamed, with lines not read yet, then renamed again to
// a.log.2) while closed and while the follower is stopped; the other goes
// on being written.
func TestFollowIdentityDescriptorPressureRename(t *testing.T) {
	x := newIdent(t)
	pa, pb := x.path("a.log"), x.path("b.log")
	x.write(pa, 50)
	x.write(pb, 50)
	a := x.start("--follow", filepath.Join(x.dir, "*.log"), "--state", x.state, "--max-open-files", "1")
	x.wait()
	x.write(pb, 50) // b takes the descriptor, a (quiet) gives it up
	x.wait()
	freeze(t, a)
	x.write(pa, 20) // not read before the rename
	renameRotate(t, pa)
	x.write(pa, 30)
	x.write(pb, 50)
	renameRotate(t, pa) // the unread lines are in a.log.2 now
	x.write(pa, 10)
	thaw(t, a)
	x.write(pb, 50)
	x.write(pa, 30)
	x.finish(a)
}

// 12. A storm of rotations: 50 a second for 2 s, alternately rename and
// create and copytruncate, at most 5 generations kept, while a writer
// appends all the time, reopening the path after a rename as a daemon
// told by HUP would. Rotation and writes share a mutex, so the rotator
// itself loses no line (copytruncate's copy and truncation are one step
// to the writer), and a generation is deleted only once its lines have
// come out (or 2 s passed: those lines are reported).
func TestFollowIdentityRotationStorm(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	x := newIdent(t)
	path := x.path("app.log")
	const keep = 5
	var (
		mu sync.Mutex // the writer's file and x.seq
		f  *os.File
	)
	open := func() (err error) {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		return err
	}
	if err := open(); err != nil {
		t.Fatal(err)
	}
	defer func() { f.Close() }()
	if _, err := f.Write(x.lines(10)); err != nil {
		t.Fatal(err)
	}
	a := x.start("--follow", path, "--state", x.state)
	a.waitLog("following file")

	stop := make(chan struct{})
	var writerErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			_, err := f.Write(x.lines(20))
			mu.Unlock()
			if err != nil {
				writerErr = err
				return
			}
			time.Sleep(time.Millisecond) // about 20,000 lines a second
		}
	}()

	// gens[i] is the range of sequence numbers path.(i+1) holds.
	type span struct{ lo, hi int }
	var gens []span
	curLo := 1
	unreadDeleted, rotations := 0, 0
	tick := time.NewTicker(20 * time.Millisecond)
	end := time.Now().Add(2 * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		if len(gens) == keep {
			if old := gens[keep-1]; old.lo <= old.hi && !x.waitRange(old.lo, old.hi, 2*time.Second) {
				n, _ := x.tally(old.lo, old.hi)
				unreadDeleted += n
			}
		}
		mu.Lock()
		if err := shiftGenerations(path, keep); err != nil {
			mu.Unlock()
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
		gens = append([]span{{curLo, x.seq}}, gens...)
		if len(gens) > keep {
			gens = gens[:keep]
		}
		var err error
		if i%2 == 0 {
			if err = os.Rename(path, path+".1"); err == nil {
				f.Close()
				err = open()
			}
		} else {
			err = copyThenTruncate(path, f)
		}
		if err != nil {
			mu.Unlock()
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
		curLo = x.seq + 1
		rotations++
		mu.Unlock()
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	if writerErr != nil {
		t.Fatal(writerErr)
	}
	if _, err := f.Write(x.lines(10)); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rotations, %d lines; %d lines unread when their generation was deleted", rotations, x.seq, unreadDeleted)
	x.finish(a)
	if unreadDeleted > 0 {
		t.Errorf("%d lines were still unread 2 s after their generation was due for deletion", unreadDeleted)
	}
}

// 11b. Fifty files, ten descriptors, four renames of each file while
// its app still holds it open and writes one late line into it after the
// new file has lines. Every file a follower holds counts against
// --max-open-files, and a renamed file closed for want of descriptors is
// found again by its identity when its late line comes.
func TestFollowIdentityDescriptorBudget(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	x := newIdent(t)
	const files, slots, rounds = 50, 10, 4
	name := func(i int) string { return x.path(fmt.Sprintf("f%02d.log", i)) }
	for i := 0; i < files; i++ {
		x.write(name(i), 5)
	}
	a := x.start("--follow", filepath.Join(x.dir, "*.log"), "--state", x.state, "--max-open-files", strconv.Itoa(slots))
	most := 0
	sample := func() {
		if n := countFDs(a.cmd.Process.Pid); n > most {
			most = n
		}
	}
	waitCount(t, x.c, x.seq, sample)
	for r := 0; r < rounds; r++ {
		for i := 0; i < files; i++ {
			app, err := os.OpenFile(name(i), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			for g := r; g >= 1; g-- {
				mustRename(t, fmt.Sprintf("%s.%d", name(i), g), fmt.Sprintf("%s.%d", name(i), g+1))
			}
			mustRename(t, name(i), name(i)+".1")
			x.write(name(i), 5)
			if _, err := app.Write(x.lines(1)); err != nil { // late, into the renamed file
				t.Fatal(err)
			}
			app.Close()
			sample()
		}
		waitCount(t, x.c, x.seq, sample)
	}
	time.Sleep(identQuiet)
	sample()
	a.stop(false)
	x.verify()
	// Beside the followed files: what the process holds following
	// nothing yet (standard streams, the notification watcher, the state
	// directory's lock, the runtime's own), one listing of a path's
	// rotated files (its generations and the directory), a checkpoint
	// being written, and the directory read for the glob.
	base := idleDescriptors(t)
	limit := base + slots + (rounds + 1) + 1 + 1
	t.Logf("RESULT at most %d descriptors open with --max-open-files %d (%d when idle)", most, slots, base)
	if most > limit {
		t.Errorf("%d descriptors open at once, want at most %d (%d idle, --max-open-files %d, one listing of %d rotated files, a checkpoint, a glob)", most, limit, base, slots, rounds)
	}
}

// idleDescriptors is how many descriptors the binary holds while it
// waits for a file to follow.
func idleDescriptors(t *testing.T) int {
	t.Helper()
	x := newIdent(t)
	a := x.start("--follow", x.path("none.log"), "--state", x.state)
	a.waitLog("waiting for the file to appear")
	n := countFDs(a.cmd.Process.Pid)
	a.stop(false)
	return n
}

// waitClosed waits until process pid holds no descriptor on path.
func waitClosed(t *testing.T, pid int, path string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		open := false
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, e := range ents {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); l == path {
				open = true
			}
		}
		if !open {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still open after 10 s", path)
		}
		time.Sleep(20 * time.Millisecond) // polling the process's descriptor table
	}
}

// A state directory written by a release before version 2 of the
// checkpoint file: its offsets hold, and the next write upgrades it.
func TestFollowIdentityVersion1CheckpointUpgraded(t *testing.T) {
	x := newIdent(t)
	path := x.path("app.log")
	x.write(path, 60)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	off := fi.Size()
	x.write(path, 40) // 61..100: after the checkpoint
	head := make([]byte, 1024)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := f.ReadAt(head, 0)
	f.Close()
	st := fi.Sys().(*syscall.Stat_t)
	sum := sha256.Sum256(head[:n])
	v1 := fmt.Sprintf(`{"version":1,"files":[{"path":%q,"file":{"dev":%d,"ino":%d,"fp_len":%d,"fp_sha256":%q},"offset":%d}]}`+"\n",
		path, st.Dev, st.Ino, n, hex.EncodeToString(sum[:]), off)
	if err := os.MkdirAll(x.state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(x.state, "checkpoints.json"), []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	a := x.start("--follow", path, "--state", x.state)
	x.waitRange(61, 100, 0)
	x.write(path, 20)
	x.waitRange(61, x.seq, 0)
	time.Sleep(identQuiet)
	a.stop(false)
	before, _ := x.tally(1, 60)
	lost, repeated := x.tally(61, x.seq)
	t.Logf("RESULT lines 1..60 (before the v1 checkpoint): %d of 60 not read again; 61..%d: lost %d, repeated %d", before, x.seq, lost, repeated)
	if before != 60 || lost != 0 || repeated != 0 {
		t.Errorf("want lines 1..60 not read again and 61..%d each once", x.seq)
	}
	data, err := os.ReadFile(filepath.Join(x.state, "checkpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte(`{"version":2,`)) {
		t.Errorf("checkpoint file not upgraded: %s", data)
	}
}

// A restart between copytruncate's copy and its truncation, after an
// earlier copytruncate while stopped: the newer copy is read whole, and
// the file, still holding the copied lines, goes on after them rather
// than from its start; after its truncation, from its start.
func TestFollowIdentityRestartBetweenCopyAndTruncate(t *testing.T) {
	x := newIdent(t)
	path := x.path("app.log")
	args := []string{"--follow", path, "--state", x.state}
	x.write(path, 100)
	a := x.start(args...)
	x.wait()
	a.stop(false)
	copyFile := func(from, to string) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(path, path+".1") // a whole copytruncate while stopped
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	x.write(path, 50)
	time.Sleep(10 * time.Millisecond) // the copy below is created later than the file's last write
	mustRename(t, path+".1", path+".2")
	copyFile(path, path+".1") // the next one's copy; its truncation is still to come
	a = x.start(args...)
	x.wait()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	x.write(path, 50)
	x.finish(a)
}
