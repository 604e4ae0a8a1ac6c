package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logrotate's default style: the log is renamed and an empty one created
// at once, but the app reopens its log only when postrotate's HUP reaches
// it, often seconds later, and writes into the renamed file until then.
// Every line written there meanwhile must be read, with either sink.
func TestFollowLateReopenAfterCreate(t *testing.T) {
	for _, slow := range []bool{false, true} {
		t.Run(map[bool]string{false: "fast", true: "slow"}[slow], func(t *testing.T) {
			t.Parallel()
			w, c, a := followWriter(t, slow)
			for round := 0; round < 3; round++ {
				w.do("w 1000")
				w.do("r create")
				w.do("w 500")
				// The HUP is late: many poll intervals (10 ms here) pass
				// with the new file empty and the old one still written.
				time.Sleep(150 * time.Millisecond)
				w.do("w 500")
				w.do("reopen")
				w.do("w 200")
			}
			c.waitAll(t, w.seq)
			a.stop(false)
			c.check(t, w.seq, 0)
		})
	}
}

const note871310 = " [871310 Network not available,please check your network connection. | 网络连接已断开，请检查网络]"

// followWriter starts a logwriter on a new file holding one line, and the
// binary following it with checkpoints and small batches.
func followWriter(t *testing.T, slow bool) (*writerProc, *collector, *annRun) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := startWriter(t, path)
	w.do("w 1")
	c := newCollector()
	a := startFollow(t, c, slow, "--follow", path, "--state", filepath.Join(dir, "state"), "--buffer-size", "4096")
	a.waitLog("following file")
	return w, c, a
}

// textFollow runs the binary following path with text output, and
// collects its output.
type textFollow struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	errb logBuffer
}

func startTextFollow(t *testing.T, args ...string) *textFollow {
	t.Helper()
	tf := &textFollow{done: make(chan struct{})}
	tf.errb.changed = make(chan struct{}, 1)
	tf.cmd = exec.Command(binary, append([]string{"--poll-interval", "10ms"}, args...)...)
	tf.cmd.Stderr = &tf.errb
	out, err := tf.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(tf.done)
		buf := make([]byte, 64<<10)
		for {
			n, err := out.Read(buf)
			tf.mu.Lock()
			tf.out.Write(buf[:n])
			tf.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		tf.cmd.Process.Signal(syscall.SIGTERM)
		<-tf.done
		tf.cmd.Wait()
		if t.Failed() {
			t.Logf("log:\n%s", tf.errb.String())
		}
	})
	return tf
}

func (tf *textFollow) output() string {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	return tf.out.String()
}

// waitOutput waits until the output holds s.
func (tf *textFollow) waitOutput(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(tf.output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %q in the output; have %q", s, tf.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, s); err != nil {
		t.Fatal(err)
	}
}

// A partial last line at rotation waits for its completion in the renamed
// file, and a partial line whose file is let go is handed on as a line of
// its own, never joined to the next file's first line.
func TestFollowPartialLineAtRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, "l1\npart 898001")
	tf := startTextFollow(t, "--follow", path)
	tf.waitOutput(t, "l1\n")

	// Completed in the renamed file before the writer moves on.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "")
	time.Sleep(50 * time.Millisecond) // the new file stays empty a while
	appendFile(t, path+".1", " rest\n")
	appendFile(t, path, "new1\nhalf 871310")
	tf.waitOutput(t, "new1\n")

	// Never completed: the writer moved on.
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "new2\n")
	tf.waitOutput(t, "new2\n")

	want := "l1\npart 898001 rest" + note898001 + "\nnew1\nhalf 871310" + note871310 + "\nnew2\n"
	if got := tf.output(); got != want {
		t.Errorf("output\n got %q\nwant %q", got, want)
	}
}

// Thousands of followed files under a descriptor limit far below their
// number: every line comes out, the process stays up and stays clear of
// the limit, also across a restart (a sidecar that died of EMFILE at
// start-up would crash-loop).
func TestFollowManyFilesUnderDescriptorLimit(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	if testing.Short() {
		t.Skip("3,000 files: skipped with -short")
	}
	dir := t.TempDir()
	const files = 3000
	name := func(i int) string { return filepath.Join(dir, fmt.Sprintf("f%04d.log", i)) }
	write := func(round int) {
		for i := 0; i < files; i++ {
			appendFile(t, name(i), fmt.Sprintf("seq=%09d round %d of file %d\n", round*files+i+1, round, i))
		}
	}
	c := newCollector()
	write(0)
	run := startLimited(t, c, 256, "--follow", filepath.Join(dir, "*.log"), "--state", filepath.Join(dir, "state"), "--close-inactive", "1h")
	waitCount(t, c, files, run.sampleFDs)
	// Written once all are followed: files closed for being quiet are
	// reopened when they change.
	write(1)
	waitCount(t, c, 2*files, run.sampleFDs)
	run.stop(t)

	write(2)
	run = startLimited(t, c, 256, "--follow", filepath.Join(dir, "*.log"), "--state", filepath.Join(dir, "state"), "--close-inactive", "1h")
	waitCount(t, c, 3*files, run.sampleFDs)
	run.stop(t)
	c.check(t, 3*files, 0)
}

// limitedRun is the binary run under a descriptor limit, its descriptor
// count sampled as it goes.
type limitedRun struct {
	*annRun
	limit  int
	maxFDs int
}

func startLimited(t *testing.T, c *collector, limit int, args ...string) *limitedRun {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$@"`, limit), "sh", binary,
		"--format", "json", "--poll-interval", "50ms"}, args...)...)
	return &limitedRun{annRun: startRun(t, c, cmd, func(r io.Reader) io.Reader { return r }), limit: limit}
}

func (r *limitedRun) sampleFDs() {
	if n := countFDs(r.cmd.Process.Pid); n > r.maxFDs {
		r.maxFDs = n
	}
}

// stop ends the run with SIGTERM; it must still be running, exit 0, have
// logged no error or warning and kept well clear of its descriptor limit.
func (r *limitedRun) stop(t *testing.T) {
	t.Helper()
	r.annRun.stop(false)
	// The default --max-open-files leaves a quarter of the limit and a
	// reserve unused; rotated files looked at come on top.
	if r.maxFDs == 0 || r.maxFDs > r.limit*3/4 {
		t.Errorf("at most %d descriptors seen open, want 1..%d (limit %d)", r.maxFDs, r.limit*3/4, r.limit)
	}
	if s := r.stderr.String(); strings.Contains(s, "too many open files") || strings.Contains(s, "level=WARN") {
		t.Errorf("errors logged: %s", tail(s, 2048))
	}
}

// waitCount waits, calling each between looks, until n distinct lines
// have been seen. Thousands of files take a while on a loaded machine:
// the bound is generous, and what is missing is summed up, not listed.
func waitCount(t *testing.T, c *collector, n int, each func()) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if each != nil {
			each()
		}
		if c.distinct() >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %d lines: have %d, first missing %v", n, c.distinct(), c.missing(1<<30, 10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// gzipFile compresses path to path.gz and removes path, keeping its
// modification time, as logrotate's compress does.
func gzipFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".gz", b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path+".gz", fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// A generation compressed before it was read (rotated twice while the
// annotator was stopped, then compressed as logrotate's delaycompress
// does) is read from the .gz, from the checkpoint on, then the newer
// generations: nothing lost, nothing repeated.
func TestFollowCompressedGenerationAfterRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	state := filepath.Join(dir, "state")
	w := startWriter(t, path)
	w.do("w 1")
	c := newCollector()
	a := startFollow(t, c, false, "--follow", path, "--state", state)
	w.do("w 999")
	c.waitAll(t, w.seq)
	a.stop(false)

	w.do("w 500") // unread, in the file to be compressed
	w.do("r rename")
	w.do("w 500")
	w.do("r rename")
	w.do("w 500")
	gzipFile(t, path+".2")

	a = startFollow(t, c, false, "--follow", path, "--state", state)
	w.do("w 100")
	c.waitAll(t, w.seq)
	a.stop(false)
	c.check(t, w.seq, 0)
	if !strings.Contains(a.stderr.String(), "reading a compressed rotated file") {
		t.Errorf("the compressed file was not read as one:\n%s", a.stderr.String())
	}
}

// A sink slower than the writer across seven rotations in quick
// succession, of each kind: every generation is read once, in order,
// whether it is found as a successor, among the rotated files, or as
// copytruncate copies made while an earlier copy was still being read.
func TestFollowManyRotationsWhileBehind(t *testing.T) {
	for _, kind := range []string{"copytruncate", "rename", "create"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			w, c, a := followWriter(t, true)
			for i := 0; i < 7; i++ {
				w.do("w 3000")
				w.do("r " + kind)
				if kind == "create" {
					w.do("w 100") // into the renamed file: the reopen is late
					w.do("reopen")
				}
			}
			w.do("w 100")
			c.waitAll(t, w.seq)
			a.stop(false)
			c.check(t, w.seq, 0)
		})
	}
}

// An app of several processes reopens its log one process at a time
// after a rotation: once one writes to the new file, the others still
// write into the renamed one for a while. Those late lines are read too.
func TestFollowLateLinesFromProcessesNotYetReopened(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	seq := 0
	write := func(f *os.File, n int) {
		for i := 0; i < n; i++ {
			seq++
			if _, err := fmt.Fprintf(f, "seq=%09d worker line 898001\n", seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	w1, w2 := open(), open()
	write(w1, 10)
	c := newCollector()
	a := startFollow(t, c, false, "--follow", path, "--state", filepath.Join(dir, "state"))
	write(w2, 100)
	c.waitAll(t, seq)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w1 = open() // the first process reopened and writes to the new file
	write(w1, 100)
	c.waitAll(t, seq)
	write(w2, 100) // the second has not reopened yet
	w2 = open()
	write(w2, 100)
	write(w1, 100)
	c.waitAll(t, seq)
	a.stop(false)
	c.check(t, seq, 0)
	if !strings.Contains(a.stderr.String(), "reading late lines written to a file rotated away") {
		t.Errorf("late lines not reported:\n%s", a.stderr.String())
	}
}

// A full disk under the state directory does not stop the sidecar: lines
// keep coming, the failed checkpoint writes are logged and retried, and
// once there is room again the checkpoint catches up, so a restart
// repeats nothing.
func TestFollowStateDiskFull(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", state).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root and mount): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", state).Run() })
	path := filepath.Join(dir, "app.log")
	w := startWriter(t, path)
	w.do("w 10")
	c := newCollector()
	a := startFollow(t, c, false, "--follow", path, "--state", state)
	c.waitAll(t, w.seq)
	filler := filepath.Join(state, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the disk full: a checkpoint written while the filler grows frees
	// the old state file's page on rename, and the next one would take it.
	stopFilling := make(chan struct{})
	filled := make(chan struct{})
	go func() {
		defer close(filled)
		for {
			f.Write(make([]byte, 128<<10)) // fails part-way, once the disk is full
			select {
			case <-stopFilling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	w.do("w 1000")
	c.waitAll(t, w.seq)
	a.waitLog("cannot write checkpoint now")
	close(stopFilling)
	<-filled
	f.Close()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	w.do("w 1000")
	c.waitAll(t, w.seq)
	a.stop(false)
	a = startFollow(t, c, false, "--follow", path, "--state", state)
	w.do("w 10")
	c.waitAll(t, w.seq)
	a.stop(false)
	c.check(t, w.seq, 0)
}
