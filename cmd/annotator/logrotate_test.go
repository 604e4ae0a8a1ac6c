package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The sidecar under the real logrotate: logrotate -f rotates the log of a
// real application (follow/internal/hupapp, which reopens its log on
// SIGHUP, like a daemon) while it writes 20,000 lines a second, and the
// built binary follows it, with a fast sink and with one slower than the
// writer, through a SIGTERM or a SIGKILL restart while it lags. Every line
// the application wrote is counted by its sequence number.

// hupRate is the application's rate in lines per second.
const hupRate = 20000

// lrBuffer is --buffer-size in these tests; lrMaxBatchLines bounds the
// lines of one batch, each line being longer than 40 bytes.
const (
	lrBuffer        = 16384
	lrMaxBatchLines = lrBuffer / 40
)

// logrotateStyle is one way of configuring logrotate for the log.
type logrotateStyle struct {
	name string
	// directives go into the log's block besides "rotate".
	directives string
	// hup: the application is sent SIGHUP after the rotation, a second
	// late, and writes into the rotated file until then.
	hup bool
	// rotatorLoses: logrotate itself loses what the application writes
	// between copying the log and truncating it; those lines are on no
	// file, and are not the follower's to deliver.
	rotatorLoses bool
}

var logrotateStyles = []logrotateStyle{
	{name: "create", directives: "create", hup: true},
	{name: "delaycompress", directives: "create\ncompress\ndelaycompress", hup: true},
	{name: "copytruncate", directives: "copytruncate", rotatorLoses: true},
	// Dated names must differ between rotations: with seconds in the
	// name and each rotation taking over a second (the HUP's delay),
	// they do.
	{name: "dateext", directives: "create\ndateext\ndateformat -%Y%m%d-%H%M%S", hup: true},
}

func logrotateBin(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"logrotate", "/usr/sbin/logrotate"} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	t.Skip("logrotate is not installed (.ci/run installs it with apt-get): the tests with the real rotator cannot run")
	return ""
}

func TestLogrotate(t *testing.T) {
	bin := logrotateBin(t)
	for _, style := range logrotateStyles {
		for _, slow := range []bool{false, true} {
			for _, kill := range []bool{false, true} {
				name := fmt.Sprintf("%s/sink=%s/%s", style.name, map[bool]string{false: "fast", true: "slow"}[slow], map[bool]string{false: "SIGTERM", true: "SIGKILL"}[kill])
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					logrotateCase(t, bin, style, slow, kill, false)
				})
			}
		}
	}
}

// The same, following the glob app.log*, which matches every rotated
// generation too (app.log.1, app.log.2.gz, dated names): each file is
// still read once, whatever names it has had.
func TestLogrotateGlobMatchesRotatedNames(t *testing.T) {
	bin := logrotateBin(t)
	for _, style := range logrotateStyles {
		for _, slow := range []bool{false, true} {
			kill := slow
			name := fmt.Sprintf("%s/sink=%s/%s", style.name, map[bool]string{false: "fast", true: "slow"}[slow], map[bool]string{false: "SIGTERM", true: "SIGKILL"}[kill])
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				logrotateCase(t, bin, style, slow, kill, true)
			})
		}
	}
}

func logrotateCase(t *testing.T, bin string, style logrotateStyle, slow, kill, glob bool) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "log")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(logDir, "app.log")
	pidfile := filepath.Join(dir, "app.pid")
	rot := newRotator(t, bin, dir, path, pidfile, style)

	app := startHupApp(t, path, pidfile)
	// The file holds its first bytes before the follower starts: they
	// are what tells a copytruncate from new writes.
	waitNonEmpty(t, path)

	c := newCollector()
	followed := path
	if glob {
		followed = path + "*"
	}
	args := []string{"--follow", followed, "--state", filepath.Join(dir, "state"), "--buffer-size", strconv.Itoa(lrBuffer), "--workers", "2"}
	if kill {
		// A checkpoint after every batch: a SIGKILL repeats one batch
		// at most.
		args = append(args, "--checkpoint-interval", "0")
	}
	a := startFollowPaced(t, c, slow, args...)
	a.waitLog("following file")
	rot.rotate(0)
	a.stop(kill)
	t.Logf("first run delivered %d lines", c.distinct())
	rot.rotate(1) // while the follower is stopped
	a = startFollowPaced(t, c, slow, args...)
	rot.rotate(2)
	rot.pace()
	n := app.stop()
	t.Logf("application: %s", strings.TrimSpace(app.stderr.String()))

	disk := readGenerations(t, logDir)
	waitDelivered(t, c, disk)
	a.stop(false)

	maxDup := 0
	if kill {
		maxDup = lrMaxBatchLines
	}
	checkRotated(t, c, n, maxDup, disk, style.rotatorLoses)
}

// slowSinkRate is the slow sink's rate in lines per second: behind the
// application by 8,000 lines every second it writes.
const slowSinkRate = 12000

// startFollowPaced is startFollow with, if slow, a sink that takes
// slowSinkRate lines a second: the collector's own slow mode depends on
// how long a short sleep lasts, which on a loaded machine makes it too
// slow for a test that writes this much.
func startFollowPaced(t *testing.T, c *collector, slow bool, args ...string) *annRun {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--format", "json", "--poll-interval", "10ms"}, args...)...)
	return startRun(t, c, cmd, func(r io.Reader) io.Reader {
		if slow {
			return &pacedReader{r: r, rate: slowSinkRate, start: time.Now()}
		}
		return r
	})
}

// pacedReader reads lines no faster than rate a second.
type pacedReader struct {
	r     io.Reader
	rate  int
	start time.Time
	lines int
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if len(b) > 4096 {
		b = b[:4096]
	}
	n, err := p.r.Read(b)
	p.lines += bytes.Count(b[:n], []byte{'\n'})
	due := p.start.Add(time.Duration(p.lines) * time.Second / time.Duration(p.rate))
	time.Sleep(time.Until(due)) // a slow consumer, not a synchronisation
	return n, err
}

// rotator runs logrotate on the log, leaving the application a while to
// write into the new file after each rotation.
type rotator struct {
	t     *testing.T
	bin   string
	conf  string
	state string
	last  time.Time
	// gap is that while: with a HUP the application also writes a
	// second into the renamed file.
	gap time.Duration
	// each is how many rotations are made at each step.
	each int
}

func newRotator(t *testing.T, bin, dir, path, pidfile string, style logrotateStyle) *rotator {
	t.Helper()
	var conf strings.Builder
	fmt.Fprintf(&conf, "%s {\n", path)
	// Twenty generations kept, more than these tests rotate: the rotator
	// never deletes a generation the follower has not read, which no
	// follower could survive; what is lost here is the follower's doing.
	conf.WriteString("    rotate 20\n    missingok\n")
	for _, d := range strings.Split(style.directives, "\n") {
		fmt.Fprintf(&conf, "    %s\n", d)
	}
	if style.hup {
		// A daemon reopens its log a while after the rename; until
		// then it writes into the renamed file.
		fmt.Fprintf(&conf, "    postrotate\n        sleep 1; kill -HUP $(cat %s)\n    endscript\n", pidfile)
	}
	conf.WriteString("}\n")
	r := &rotator{t: t, bin: bin, conf: filepath.Join(dir, "logrotate.conf"), state: filepath.Join(dir, "logrotate.state"), last: time.Now(), gap: 400 * time.Millisecond, each: 1}
	if !style.hup {
		// Without a HUP a rotation takes no time: two at each step,
		// 0.7 s apart, write as long as one with a HUP, and leave a
		// slow follower more generations behind.
		r.gap, r.each = 700*time.Millisecond, 2
	}
	// logrotate refuses a configuration others can write to.
	if err := os.WriteFile(r.conf, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// pace lets the application write for the rest of the gap since the last
// rotation ended.
func (r *rotator) pace() {
	if d := r.gap - time.Since(r.last); d > 0 {
		time.Sleep(d) // the application writes meanwhile: lines, not a synchronisation
	}
}

// rotate makes step's rotations; the test's log names the step of each.
func (r *rotator) rotate(step int) {
	r.t.Helper()
	for i := 0; i < r.each; i++ {
		r.pace()
		out, err := exec.Command(r.bin, "-f", "-s", r.state, r.conf).CombinedOutput()
		r.last = time.Now()
		if err != nil || len(out) > 0 {
			r.t.Fatalf("logrotate -f -s %s %s (step %d): %v\n%s", r.state, r.conf, step, err, out)
		}
	}
}

func hupAppBinary(t *testing.T) string { return hupAppProgram.build(t) }

// hupProc is a running hupapp.
type hupProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr logBuffer
}

func startHupApp(t *testing.T, path, pidfile string) *hupProc {
	t.Helper()
	p := &hupProc{t: t}
	p.stderr.changed = make(chan struct{}, 1)
	p.cmd = exec.Command(hupAppBinary(t), "-rate", strconv.Itoa(hupRate), "-pidfile", pidfile, path)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// stop ends the application and returns the last sequence number it wrote.
func (p *hupProc) stop() int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("hupapp: %v\n%s", err, p.stderr.String())
	}
	n, err := strconv.Atoi(strings.TrimSpace(p.stdout.String()))
	if err != nil {
		p.t.Fatalf("hupapp printed %q, want its last sequence number", p.stdout.String())
	}
	return n
}

func waitNonEmpty(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still empty", path)
		}
		time.Sleep(5 * time.Millisecond) // polling a file another process writes
	}
}

// generations is what the rotated log's files hold once the application
// stopped: where each sequence number is, and how many pieces of lines
// are not whole lines (a copytruncate splitting a line being written).
type generations struct {
	where     map[int]string
	fragments int
}

func readGenerations(t *testing.T, dir string) generations {
	t.Helper()
	g := generations{where: map[int]string{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var r io.Reader
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		r = f
		if strings.HasSuffix(e.Name(), ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			r = zr
		}
		br := bufio.NewReaderSize(r, 1<<16)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				if n, ok := seqOf(line); ok {
					if prev, dup := g.where[n]; dup {
						t.Errorf("line %d is in %s and %s", n, prev, e.Name())
					}
					g.where[n] = e.Name()
				} else {
					g.fragments++
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read %s: %v", e.Name(), err)
			}
		}
		f.Close()
	}
	return g
}

func seqOf(line string) (int, bool) {
	if !strings.HasPrefix(line, "seq=") || len(line) < 13 {
		return 0, false
	}
	n, err := strconv.Atoi(line[4:13])
	return n, err == nil
}

// waitDelivered waits until every line on disk was delivered, or until
// delivery has made no progress for a while: lost lines never come, and
// checkRotated says which they are.
func waitDelivered(t *testing.T, c *collector, disk generations) {
	t.Helper()
	const stall = 3 * time.Second
	tick := time.NewTicker(100 * time.Millisecond) // looking, not synchronising
	defer tick.Stop()
	seen, progressed := -1, time.Now()
	for range tick.C {
		c.mu.Lock()
		have := len(c.counts)
		missing := 0
		if have != seen {
			for n := range disk.where {
				if c.counts[n] == 0 {
					missing++
				}
			}
		}
		c.mu.Unlock()
		switch {
		case have != seen && missing == 0:
			return
		case have != seen:
			seen, progressed = have, time.Now()
		case time.Since(progressed) > stall:
			t.Logf("no line delivered for %v; %d distinct lines delivered, %d on disk", stall, have, len(disk.where))
			return
		}
	}
}

// checkRotated verifies that every line of 1..n on disk was delivered,
// once, or after a SIGKILL with at most maxDup repeats in all. Lines on
// no file are allowed only where the rotator itself loses lines.
func checkRotated(t *testing.T, c *collector, n, maxDup int, disk generations, rotatorLoses bool) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var lost, repeated []int
	dups, notOnDisk := 0, 0
	for i := 1; i <= n; i++ {
		k := c.counts[i]
		_, onDisk := disk.where[i]
		switch {
		case k == 0 && onDisk:
			lost = append(lost, i)
		case !onDisk:
			notOnDisk++
		}
		if k > 1 {
			dups += k - 1
			repeated = append(repeated, i)
		}
	}
	t.Logf("%d lines written, %d delivered, %d on no file, %d repeated", n, len(c.counts), notOnDisk, dups)
	if notOnDisk > 0 && !rotatorLoses {
		t.Errorf("%d of %d written lines are on no file: the rotation is not what the test means", notOnDisk, n)
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d lines lost: %s", len(lost), n, lostRanges(lost, disk, 8))
	}
	if dups > maxDup {
		t.Errorf("%d lines repeated, want at most %d: %s", dups, maxDup, lostRanges(repeated, disk, 8))
	}
	for i := range c.counts {
		if i < 1 || i > n {
			t.Errorf("line %d delivered, only 1..%d written", i, n)
			break
		}
	}
	// A line copytruncate split between the copy and the emptied file
	// comes out as two pieces; nothing else may be cut.
	if len(c.bad) > disk.fragments {
		t.Errorf("%d output lines are not whole lines (%d pieces on disk), first %q", len(c.bad), disk.fragments, c.bad[0])
	}
}

// lostRanges describes lines (lost or repeated) as runs of numbers and
// the file each run is in, at most max runs.
func lostRanges(lost []int, disk generations, max int) string {
	sort.Ints(lost)
	var parts []string
	for i := 0; i < len(lost); {
		j := i
		for j+1 < len(lost) && lost[j+1] == lost[j]+1 && disk.where[lost[j+1]] == disk.where[lost[i]] {
			j++
		}
		if len(parts) == max {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, fmt.Sprintf("%d-%d (%d, in %s)", lost[i], lost[j], j-i+1, disk.where[lost[i]]))
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
