package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The sidecar's tests run the real binary on real files written by a real
// process (follow/internal/logwriter), and count every line by its
// sequence number.

// helperProgram is a program the tests build once, beside the binary.
type helperProgram struct {
	pkg  string
	once sync.Once
	path string
	err  error
}

func (h *helperProgram) build(t *testing.T) string {
	t.Helper()
	h.once.Do(func() {
		h.path = filepath.Join(filepath.Dir(binary), filepath.Base(h.pkg))
		out, err := exec.Command("go", "build", "-o", h.path, h.pkg).CombinedOutput()
		if err != nil {
			h.err = fmt.Errorf("build %s: %v\n%s", h.pkg, err, out)
		}
	})
	if h.err != nil {
		t.Fatal(h.err)
	}
	return h.path
}

var (
	logWriterProgram = &helperProgram{pkg: "github.com/annotator-dev/annotator/follow/internal/logwriter"}
	hupAppProgram    = &helperProgram{pkg: "github.com/annotator-dev/annotator/follow/internal/hupapp"}
)

func logWriter(t *testing.T) string { return logWriterProgram.build(t) }

// writerProc drives a logwriter process one command at a time.
type writerProc struct {
	t   *testing.T
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	seq int
}

func startWriter(t *testing.T, path string) *writerProc {
	t.Helper()
	cmd := exec.Command(logWriter(t), path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &writerProc{t: t, cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	return w
}

func (w *writerProc) do(command string) {
	w.t.Helper()
	if _, err := fmt.Fprintln(w.in, command); err != nil {
		w.t.Fatalf("writer %q: %v", command, err)
	}
	reply, err := w.out.ReadString('\n')
	if err != nil || reply != "ok\n" {
		w.t.Fatalf("writer %q: reply %q, %v", command, reply, err)
	}
	f := strings.Fields(command)
	switch f[0] {
	case "w":
		n, _ := strconv.Atoi(f[1])
		w.seq += n
	case "big":
		w.seq++
	}
}

// collector counts the sequence numbers in the annotator's JSON output.
type collector struct {
	mu      sync.Mutex
	counts  map[int]int
	lens    map[int]int
	paths   map[string]int
	bad     []string
	changed chan struct{}
}

func newCollector() *collector {
	return &collector{counts: map[int]int{}, lens: map[int]int{}, paths: map[string]int{}, changed: make(chan struct{}, 1)}
}

// consume reads one run's output; slow reads it a little at a time, a
// sink slower than the writer.
func (c *collector) consume(r io.Reader, slow bool) {
	br := bufio.NewReaderSize(r, 1<<20)
	if slow {
		br = bufio.NewReaderSize(&slowReader{r: r}, 1<<20)
	}
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return // a last line cut by SIGKILL is not delivered
		}
		c.add(line)
	}
}

type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	if len(p) > 2048 {
		p = p[:2048]
	}
	time.Sleep(500 * time.Microsecond) // a slow consumer, not a synchronisation
	return s.r.Read(p)
}

func (c *collector) add(line []byte) {
	var rec struct {
		Path string `json:"path"`
		Line string `json:"line"`
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() {
		select {
		case c.changed <- struct{}{}:
		default:
		}
	}()
	if err := json.Unmarshal(line, &rec); err != nil || !strings.HasPrefix(rec.Line, "seq=") || len(rec.Line) < 13 {
		c.bad = append(c.bad, string(line[:min(len(line), 200)]))
		return
	}
	n, err := strconv.Atoi(rec.Line[4:13])
	if err != nil {
		c.bad = append(c.bad, rec.Line[:13])
		return
	}
	c.counts[n]++
	c.lens[n] = len(rec.Line)
	c.paths[rec.Path]++
}

// waitAll waits until every sequence number up to n has been seen.
func (c *collector) waitAll(t *testing.T, n int) {
	t.Helper()
	c.waitFor(t, fmt.Sprintf("all %d lines", n), func() bool {
		for i := 1; i <= n; i++ {
			if c.counts[i] == 0 {
				return false
			}
		}
		return true
	})
}

// distinct is how many different lines were seen.
func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.counts)
}

// waitAtLeast waits until at least n distinct lines have been seen.
func (c *collector) waitAtLeast(t *testing.T, n int) {
	t.Helper()
	c.waitFor(t, fmt.Sprintf("%d lines", n), func() bool { return len(c.counts) >= n })
}

func (c *collector) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok := cond()
		have := len(c.counts)
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-c.changed:
		case <-deadline.C:
			c.mu.Lock()
			paths := fmt.Sprint(c.paths)
			c.mu.Unlock()
			t.Fatalf("waiting for %s: have %d distinct lines; missing %v; bad %d; per path %s", what, have, c.missing(1<<30, 10), len(c.bad), paths)
		}
	}
}

func (c *collector) missing(upTo, max int) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	top := 0
	for n := range c.counts {
		top = max0(top, n)
	}
	var out []int
	for i := 1; i <= top && i <= upTo && len(out) < max; i++ {
		if c.counts[i] == 0 {
			out = append(out, i)
		}
	}
	return out
}

func max0(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// check verifies that lines 1..n each arrived once, or, after a SIGKILL,
// at least once with at most maxDup repeats in all.
func (c *collector) check(t *testing.T, n, maxDup int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bad) > 0 {
		t.Errorf("%d unexpected output lines, first %q", len(c.bad), c.bad[0])
	}
	dups, lost := 0, 0
	var firstLost []int
	for i := 1; i <= n; i++ {
		switch k := c.counts[i]; {
		case k == 0:
			lost++
			if len(firstLost) < 10 {
				firstLost = append(firstLost, i)
			}
		case k > 1:
			dups += k - 1
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d lines lost, first %v", lost, n, firstLost)
	}
	if dups > maxDup {
		t.Errorf("%d lines repeated, want at most %d", dups, maxDup)
	}
	if len(c.counts) > n {
		t.Errorf("%d distinct lines, only %d written", len(c.counts), n)
	}
}

// annRun is one run of the annotator following files.
type annRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr logBuffer
	read   chan struct{} // closed once its output is consumed
	// allowErrors: the test expects errors in the log.
	allowErrors bool
}

// logBuffer collects a process's standard error and tells when it grows.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitLog waits until the run has logged s.
func (a *annRun) waitLog(s string) {
	a.t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for !strings.Contains(a.stderr.String(), s) {
		select {
		case <-a.stderr.changed:
		case <-deadline.C:
			a.t.Fatalf("waiting for %q in the log:\n%s", s, a.stderr.String())
		}
	}
}

func startFollow(t *testing.T, c *collector, slow bool, args ...string) *annRun {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--format", "json", "--poll-interval", "10ms"}, args...)...)
	return startRun(t, c, cmd, func(r io.Reader) io.Reader {
		if slow {
			return &slowReader{r: r}
		}
		return r
	})
}

// startRun starts cmd, an annotator writing JSON, and has c consume its
// output through sink (a reader standing for the sink's pace); the run is
// killed at the end of the test if still going, and its log shown if the
// test failed.
func startRun(t *testing.T, c *collector, cmd *exec.Cmd, sink func(io.Reader) io.Reader) *annRun {
	t.Helper()
	a := &annRun{t: t, cmd: cmd, read: make(chan struct{})}
	a.stderr.changed = make(chan struct{}, 1)
	a.cmd.Stderr = &a.stderr
	out, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(a.read)
		c.consume(sink(out), false)
	}()
	t.Cleanup(func() {
		if a.cmd.ProcessState == nil {
			a.cmd.Process.Kill()
			<-a.read
			a.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("log of annotator %v:\n%s", a.cmd.Args[1:], tail(a.stderr.String(), 64<<10))
		}
	})
	return a
}

// stop ends the run with SIGTERM (a clean stop) or SIGKILL.
func (a *annRun) stop(kill bool) {
	a.t.Helper()
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := a.cmd.Process.Signal(sig); err != nil {
		a.t.Fatal(err)
	}
	<-a.read
	err := a.cmd.Wait()
	if !kill && err != nil {
		a.t.Fatalf("annotator after SIGTERM: %v\n%s", err, a.stderr.String())
	}
	if !a.allowErrors && strings.Contains(a.stderr.String(), "level=ERROR") {
		a.t.Errorf("errors logged:\n%s", a.stderr.String())
	}
}

const followBuffer = 4096

// maxBatchLines bounds the lines in one batch: a batch holds at most
// followBuffer bytes, and each test line is longer than 40.
const maxBatchLines = followBuffer / 40

func TestFollowRotationRestartMatrix(t *testing.T) {
	for _, kind := range []string{"rename", "copytruncate", "delete", "truncate"} {
		for _, slow := range []bool{false, true} {
			for _, kill := range []bool{false, true} {
				name := fmt.Sprintf("%s/sink=%s/%s", kind, map[bool]string{false: "fast", true: "slow"}[slow], map[bool]string{false: "SIGTERM", true: "SIGKILL"}[kill])
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					followCase(t, kind, slow, kill)
				})
			}
		}
	}
}

func followCase(t *testing.T, kind string, slow, kill bool) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	state := filepath.Join(dir, "state")
	w := startWriter(t, path)
	// The file exists, not empty, before the follower starts: the first
	// bytes of a file are what tells a copytruncate from new writes.
	w.do("w 1")
	c := newCollector()
	args := []string{"--follow", path, "--state", state, "--buffer-size", strconv.Itoa(followBuffer), "--workers", "2"}
	// Deleting or truncating a file destroys what was not read yet: no
	// follower can read it back, so those rotations happen only once the
	// lines before them were delivered. Renamed files and copytruncate
	// copies stay readable, so they rotate while the follower lags, and
	// while it is stopped.
	lossy := kind == "delete" || kind == "truncate"
	// After SIGKILL the lines delivered since the last checkpoint write
	// are repeated: with a checkpoint after every batch, one batch at
	// most; with the default interval, at most what the killed run
	// delivered (the bound in lines depends on timing).
	exact := kill && slow
	if exact {
		args = append(args, "--checkpoint-interval", "0")
	}
	rotate := func(running bool) {
		if lossy {
			if !running {
				return
			}
			c.waitAll(t, w.seq)
		}
		w.do("r " + kind)
	}

	a := startFollow(t, c, slow, args...)
	a.waitLog("following file")
	w.do("w 2999")
	rotate(true)
	w.do("w 3000")
	c.waitAtLeast(t, 2000)
	a.stop(kill)
	firstRun := c.distinct()

	w.do("w 2000")
	rotate(false)
	w.do("w 2000")

	a = startFollow(t, c, slow, args...)
	w.do("w 2000")
	rotate(true)
	w.do("w 2000")
	c.waitAll(t, w.seq)
	a.stop(false)

	maxDup := 0
	switch {
	case exact:
		maxDup = maxBatchLines
	case kill:
		maxDup = firstRun
	}
	c.check(t, w.seq, maxDup)
	if c.paths[path] == 0 || len(c.paths) != 1 {
		t.Errorf("JSON paths %v, want only %s", c.paths, path)
	}
}

// Checkpoint writes are spaced out, but the last acknowledgement is
// written once the stream pauses: killed while idle, the follower
// repeats nothing.
func TestFollowCheckpointWrittenWhenIdle(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	state := filepath.Join(dir, "state")
	c := newCollector()
	w := startWriter(t, path)
	args := []string{"--follow", path, "--state", state, "--buffer-size", strconv.Itoa(followBuffer), "--checkpoint-interval", "50ms"}
	a := startFollow(t, c, false, args...)
	w.do("w 3000")
	c.waitAll(t, w.seq)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// The offset is followed by the entry's end or by its marker.
	want := []byte(fmt.Sprintf(`"offset":%d}`, fi.Size()))
	wantMarked := []byte(fmt.Sprintf(`"offset":%d,`, fi.Size()))
	var data []byte
	for deadline := time.Now().Add(20 * time.Second); !bytes.Contains(data, want) && !bytes.Contains(data, wantMarked); {
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint never reached the end of the file (%d bytes): %s", fi.Size(), data)
		}
		time.Sleep(5 * time.Millisecond) // polling a file the annotator writes
		data, _ = os.ReadFile(filepath.Join(state, "checkpoints.json"))
	}
	a.stop(true)
	a = startFollow(t, c, false, args...)
	w.do("w 100")
	c.waitAll(t, w.seq)
	a.stop(false)
	c.check(t, w.seq, 0)
}

// A followed file's delivered offset, size and checkpoint age are on the
// metrics endpoint.
func TestFollowMetrics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	c := newCollector()
	w := startWriter(t, path)
	w.do("w 500")
	a := startFollow(t, c, false, "--follow", path, "--state", filepath.Join(dir, "state"), "--metrics-addr", "127.0.0.1:0")
	a.waitLog("metrics endpoint listening")
	m := regexp.MustCompile(`metrics endpoint listening.* addr=(\S+)`).FindStringSubmatch(a.stderr.String())
	if m == nil {
		t.Fatalf("no address in the log:\n%s", a.stderr.String())
	}
	c.waitAll(t, 500)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	q := regexp.QuoteMeta(path)
	want := []*regexp.Regexp{
		regexp.MustCompile(fmt.Sprintf(`(?m)^annotator_file_offset_bytes\{path="%s"\} %d$`, q, fi.Size())),
		regexp.MustCompile(fmt.Sprintf(`(?m)^annotator_file_size_bytes\{path="%s"\} %d$`, q, fi.Size())),
		regexp.MustCompile(fmt.Sprintf(`(?m)^annotator_checkpoint_age_seconds\{path="%s"\} \d`, q)),
	}
	var body []byte
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get("http://" + m[1] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		ok := true
		for _, re := range want {
			ok = ok && re.Match(body)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed the file's offset, size and checkpoint:\n%s", body)
		}
		time.Sleep(10 * time.Millisecond) // polling an endpoint
	}
	a.stop(false)
}

// A file deleted while stopped, and a new one given the same inode: the
// fingerprint tells them apart, so the new file is read from its start.
func TestFollowInodeReuse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	state := filepath.Join(dir, "state")
	c := newCollector()
	w := startWriter(t, path)
	a := startFollow(t, c, false, "--follow", path, "--state", state)
	w.do("w 100")
	c.waitAll(t, 100)
	a.stop(false)
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// A new file with more lines than the old one, so that trusting the
	// inode would resume in its middle.
	var b strings.Builder
	for i := 101; i <= 400; i++ {
		fmt.Fprintf(&b, "seq=%09d second file\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	reused := after.Sys().(*syscall.Stat_t).Ino == before.Sys().(*syscall.Stat_t).Ino
	t.Logf("inode reused: %v", reused)
	a = startFollow(t, c, false, "--follow", path, "--state", state)
	c.waitAll(t, 400)
	a.stop(false)
	c.check(t, 400, 0)
}

// A 10 MiB line passes whole, between ordinary lines, through rotation.
func TestFollowTenMiBLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	c := newCollector()
	w := startWriter(t, path)
	a := startFollow(t, c, false, "--follow", path, "--state", filepath.Join(dir, "state"), "--buffer-size", "65536")
	w.do("w 100")
	w.do("big 10485760")
	w.do("w 100")
	w.do("r rename")
	w.do("w 100")
	c.waitAll(t, w.seq)
	a.stop(false)
	c.check(t, w.seq, 0)
	if got := c.lens[101]; got != 10485759 {
		t.Errorf("long line has %d bytes, want 10485759", got)
	}
}

// Many files at once, some appearing after the start, found by a glob;
// each keeps its own lines in order.
func TestFollowManyFiles(t *testing.T) {
	dir := t.TempDir()
	const files = 24
	c := newCollector()
	var ws []*writerProc
	for i := 0; i < files/2; i++ {
		ws = append(ws, startWriter(t, filepath.Join(dir, fmt.Sprintf("f%02d.log", i))))
	}
	a := startFollow(t, c, false, "--follow", filepath.Join(dir, "*.log"), "--state", filepath.Join(dir, "state"))
	for i := files / 2; i < files; i++ {
		ws = append(ws, startWriter(t, filepath.Join(dir, fmt.Sprintf("f%02d.log", i))))
	}
	for i, w := range ws {
		// A file filled and rotated before the follower first sees it
		// is a different test: wait until it follows this one.
		a.waitLog(fmt.Sprintf("msg=\"following file\" file=%s ", filepath.Join(dir, fmt.Sprintf("f%02d.log", i))))
		w.do("w 300")
		if i%3 == 0 {
			w.do("r rename")
		}
		w.do("w 200")
	}
	want := 500 * files
	c.waitFor(t, "every file's lines", func() bool {
		total := 0
		for _, n := range c.paths {
			total += n
		}
		return total >= want && len(c.paths) == files
	})
	a.stop(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, n := range c.paths {
		if n != 500 {
			t.Errorf("%s: %d lines, want 500", p, n)
		}
	}
	// Each writer numbers its lines 1..500: each number appears once per file.
	for i := 1; i <= 500; i++ {
		if c.counts[i] != files {
			t.Fatalf("line %d seen %d times, want %d", i, c.counts[i], files)
		}
	}
}

// A path that does not exist yet is waited for, and that is said once.
func TestFollowMissingPathWaited(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "later.log")
	c := newCollector()
	a := startFollow(t, c, false, "--follow", path, "--start-at", "end")
	a.waitLog("waiting for the file to appear")
	// Give it twenty poll intervals to (wrongly) say so again; the
	// assertion below does not depend on this time, only its strength does.
	time.Sleep(200 * time.Millisecond)
	w := startWriter(t, path)
	w.do("w 50")
	c.waitAll(t, 50) // a file appearing later is read from its start
	a.stop(false)
	if n := strings.Count(a.stderr.String(), "waiting for the file to appear"); n != 1 {
		t.Errorf("waiting logged %d times, want once:\n%s", n, a.stderr.String())
	}
}

func TestFollowBadInput(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"directory", []string{"--follow", dir}, "is a directory"},
		// Opened without blocking: no writer needed to be told.
		{"fifo", []string{"--follow", fifo}, "is a named pipe (FIFO)"},
		{"state not writable", []string{"--follow", notDir, "--state", filepath.Join(notDir, "state")}, "state directory"},
		{"state is a file", []string{"--follow", notDir, "--state", notDir}, "not a directory"},
		{"bad start", []string{"--follow", notDir, "--start-at", "middle"}, "--start-at"},
		{"bad checkpoint interval", []string{"--follow", notDir, "--checkpoint-interval", "-1s"}, "--checkpoint-interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, strings.NewReader(""), tc.args...)
			if r.code == 0 || !strings.Contains(string(r.stderr), tc.want) {
				t.Errorf("exit %d, stderr %q; want failure naming %q", r.code, r.stderr, tc.want)
			}
			if tc.name == "directory" && !strings.Contains(string(r.stderr), dir) {
				t.Errorf("error does not name %s: %s", dir, r.stderr)
			}
			if (tc.name == "directory" || tc.name == "fifo") && r.code != 2 {
				t.Errorf("exit %d, want 2: a path that is no log file is the caller's to fix", r.code)
			}
		})
	}
}

// A corrupt checkpoint file is reported, kept aside, and the file is read
// again from its beginning, even with --start-at end.
func TestFollowCorruptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "checkpoints.json"), []byte(`{"version":1,"files":[{"pa`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	w := startWriter(t, path)
	w.do("w 200")
	a := startFollow(t, c, false, "--follow", path, "--state", state, "--start-at", "end")
	a.allowErrors = true
	c.waitAll(t, 200)
	w.do("w 10")
	c.waitAll(t, 210)
	a.stop(false)
	c.check(t, 210, 0)
	if !strings.Contains(a.stderr.String(), "corrupt") {
		t.Errorf("corrupt checkpoint not reported:\n%s", a.stderr.String())
	}
	kept, _ := filepath.Glob(filepath.Join(state, "checkpoints.json.corrupt-*"))
	if len(kept) != 1 {
		t.Errorf("corrupt file kept as %v", kept)
	}
}

// --start-at end skips what was there, starting at a line boundary.
func TestFollowStartAtEnd(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	c := newCollector()
	w := startWriter(t, path)
	w.do("w 100")
	a := startFollow(t, c, false, "--follow", path, "--start-at", "end")
	a.waitLog("following file")
	w.do("w 50")
	c.waitFor(t, "new lines", func() bool { return c.counts[150] > 0 })
	a.stop(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 1; i <= 150; i++ {
		if want := map[bool]int{true: 0, false: 1}[i <= 100]; c.counts[i] != want {
			t.Fatalf("line %d seen %d times, want %d", i, c.counts[i], want)
		}
	}
}
