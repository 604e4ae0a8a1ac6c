// Command soak is the follower's rotation soak: it writes numbered,
// timestamped lines to a log at a high rate for a while, rotating the log
// (rename and copytruncate in turn, keeping -keep rotated generations as
// logrotate's "rotate N" does) and restarting the annotator (SIGTERM, and
// SIGKILL every third time) on schedules, and reports how many lines were
// lost or repeated, how far behind the writer delivery was, the CPU time
// the annotator used and the machine's load meanwhile.
//
// A lost line is either the follower's fault or the rotator's: a
// generation deleted (the oldest of -keep) before all of its lines were
// delivered means the follower was more rotations behind than are kept,
// which no follower survives once it has been restarted meanwhile. The
// report tells the two apart; either fails the run.
//
//	go run ./bench/soak -duration 2m
//	go run ./bench/soak -args "--checkpoint-interval 0"
//	go run ./bench/soak -logrotate create -keep 50 -duration 30s
//	go run ./bench/soak -glob -duration 1m
//
// With -glob the annotator follows app.log* rather than app.log: the glob
// matches every rotated generation too (app.log.1, app.log.2.gz, dated
// names), and each line must still come out once.
//
// With -logrotate, the real logrotate rotates the log of
// follow/internal/hupapp, which reopens it on SIGHUP, and the lines are
// counted against what the rotated files hold at the end: a line on no
// file was lost to the rotator (copytruncate's window between copy and
// truncate, or "rotate N" deleting a generation), one still on a file but
// never delivered was lost by the follower.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	duration := flag.Duration("duration", 2*time.Minute, "how long to write")
	rate := flag.Int("rate", 50000, "lines per second written")
	rotateEvery := flag.Duration("rotate-every", 2*time.Second, "time between rotations")
	kinds := flag.String("kinds", "rename,copytruncate", "rotation kinds used in turn")
	restartEvery := flag.Duration("restart-every", 15*time.Second, "time between annotator restarts (0: never); every third is a SIGKILL")
	keep := flag.Int("keep", 5, "rotated generations kept; the oldest is deleted at each rotation")
	bin := flag.String("bin", "", "annotator binary (default: built from this module)")
	dir := flag.String("dir", "", "working directory (default: a temporary one)")
	extra := flag.String("args", "", "more annotator arguments, space-separated")
	lrStyle := flag.String("logrotate", "", "rotate with the real logrotate, configured as "+strings.Join(lrStyleNames(), ", ")+
		", the log of an application that reopens it on SIGHUP (sent a second after each rotation); -kinds is then unused")
	glob := flag.Bool("glob", false, "follow the glob app.log* instead of the path: it matches every rotated generation too, which must still come out once")
	flag.Parse()
	if *keep < 1 {
		log.Fatal("-keep: want at least 1")
	}

	if *dir == "" {
		d, err := os.MkdirTemp("", "annotator-soak")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if *bin == "" {
		*bin = filepath.Join(*dir, "annotator")
		build := exec.Command("go", "build", "-o", *bin, "github.com/annotator-dev/annotator/cmd/annotator")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			log.Fatalf("build annotator: %v", err)
		}
	}
	path := filepath.Join(*dir, "app.log")
	st := newStats()
	if *lrStyle != "" {
		soakLogrotate(lrOptions{
			style: *lrStyle, bin: *bin, dir: *dir, path: path, extra: strings.Fields(*extra), glob: *glob,
			duration: *duration, rate: *rate, rotateEvery: *rotateEvery, restartEvery: *restartEvery, keep: *keep,
		}, st)
		return
	}
	w, err := newWriter(path, *keep, st)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.write(1); err != nil {
		log.Fatal(err)
	}
	args := []string{"--follow", followed(path, *glob), "--state", filepath.Join(*dir, "state"), "--format", "json", "--poll-interval", "50ms"}
	args = append(args, strings.Fields(*extra)...)
	var cpu time.Duration // the annotator's, over every run
	run := start(*bin, args, st)
	var load loadSampler

	kindList := strings.Split(*kinds, ",")
	perTick := *rate / 1000
	if perTick < 1 {
		perTick = 1
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	begin := time.Now()
	nextRotate := begin.Add(*rotateEvery)
	nextRestart := begin.Add(*restartEvery)
	rotations, restarts, kills := 0, 0, 0
	for now := range tick.C {
		if now.Sub(begin) >= *duration {
			break
		}
		load.sample(now)
		want := int(now.Sub(begin).Seconds() * float64(*rate))
		if n := want - w.seq; n > 0 {
			if n > 20*perTick {
				n = 20 * perTick // the writer cannot keep up: do not burst
			}
			if err := w.write(n); err != nil {
				log.Fatal(err)
			}
		}
		if now.After(nextRotate) {
			if err := w.rotate(kindList[rotations%len(kindList)]); err != nil {
				log.Fatal(err)
			}
			rotations++
			nextRotate = now.Add(*rotateEvery)
		}
		if *restartEvery > 0 && now.After(nextRestart) {
			restarts++
			kill := restarts%3 == 0
			if kill {
				kills++
			}
			cpu += run.stop(kill)
			st.restarted(kill)
			run = start(*bin, args, st)
			nextRestart = now.Add(*restartEvery)
		}
	}
	written := w.seq
	wrote := time.Since(begin)
	// Wait for the follower to catch up, then stop it cleanly.
	deadline := time.Now().Add(60 * time.Second)
	for st.distinct() < written && time.Now().Before(deadline) {
		st.waitChange(time.Second)
		load.sample(time.Now())
	}
	caughtUp := time.Since(begin)
	cpu += run.stop(false)

	lost, rotatedAway, dup := st.result(written)
	fmt.Printf("soak: %s writing, %d lines (%.0f lines/s), %d rotations (%s), %d restarts (%d SIGKILL)\n",
		wrote.Round(time.Second), written, float64(written)/wrote.Seconds(), rotations, *kinds, restarts, kills)
	fmt.Printf("lines lost: %d\n", lost)
	if lost > 0 {
		fmt.Printf("  of which in generations deleted by the rotator before they were delivered (the follower was more than %d rotations, %s, behind): %d\n",
			*keep, time.Duration(*keep)*(*rotateEvery), rotatedAway)
		fmt.Printf("  of which lost by the follower: %d\n", lost-rotatedAway)
	}
	st.printRest(dup, cpu, caughtUp, &load)
	if lost > 0 {
		os.Exit(1)
	}
}

// printRest reports repeats, lag and CPU.
func (st *stats) printRest(dup int, cpu, took time.Duration, load *loadSampler) {
	lags := st.lagsSorted()
	q := func(p float64) time.Duration {
		if len(lags) == 0 {
			return 0
		}
		return lags[int(p*float64(len(lags)-1))]
	}
	fmt.Printf("lines repeated: %d (after SIGTERM restarts: %d, after SIGKILL restarts: %d)\n", dup, st.dupAfter[false], st.dupAfter[true])
	fmt.Printf("lag (write to delivery): p50 %s, p99 %s, max %s\n", q(0.5), q(0.99), q(1))
	fmt.Printf("annotator CPU: %s in %s (%.0f%% of one core); load average (1 min) mean %.2f, max %.2f on %d cores\n",
		cpu.Round(10*time.Millisecond), took.Round(time.Second), 100*cpu.Seconds()/took.Seconds(), load.mean(), load.max, runtime.NumCPU())
}

type writer struct {
	path string
	keep int
	st   *stats
	f    *os.File
	seq  int
	buf  []byte
	// gens are the first and last line of each rotated generation, oldest
	// first; first is the first line of the file being written.
	gens  [][2]int
	first int
}

func newWriter(path string, keep int, st *stats) (*writer, error) {
	w := &writer{path: path, keep: keep, st: st, first: 1}
	return w, w.open()
}

func (w *writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	w.f = f
	return err
}

func (w *writer) write(n int) error {
	w.buf = w.buf[:0]
	ts := time.Now().UnixNano()
	for i := 0; i < n; i++ {
		w.seq++
		w.buf = fmt.Appendf(w.buf, "seq=%09d ts=%d level=error code=803001 msg=\"send failed\"\n", w.seq, ts)
	}
	_, err := w.f.Write(w.buf)
	return err
}

func (w *writer) rotate(kind string) error {
	// Keep w.keep generations, as a logrotate "rotate N" would.
	if len(w.gens) >= w.keep {
		g := w.gens[len(w.gens)-w.keep]
		w.st.deleting(g[0], g[1])
	}
	w.gens = append(w.gens, [2]int{w.first, w.seq})
	w.first = w.seq + 1
	os.Remove(fmt.Sprintf("%s.%d", w.path, w.keep))
	for i := w.keep - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", w.path, i)
		if _, err := os.Stat(from); err == nil {
			if err := os.Rename(from, fmt.Sprintf("%s.%d", w.path, i+1)); err != nil {
				return err
			}
		}
	}
	switch kind {
	case "rename":
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return err
		}
		w.f.Close()
		return w.open()
	case "copytruncate":
		src, err := os.Open(w.path)
		if err != nil {
			return err
		}
		defer src.Close()
		dst, err := os.Create(w.path + ".1")
		if err != nil {
			return err
		}
		if _, err := io.Copy(dst, src); err != nil {
			return err
		}
		if err := dst.Close(); err != nil {
			return err
		}
		return w.f.Truncate(0)
	}
	return fmt.Errorf("unknown rotation kind %q", kind)
}

type stats struct {
	mu sync.Mutex
	// counts[seq] is how often line seq was delivered.
	counts    []uint16
	nDistinct int
	lags      []time.Duration
	changed   chan struct{}
	// unread are the generations deleted by rotation before all of their
	// lines were delivered.
	unread [][2]int
	// killed: the run delivering now followed a SIGKILL; dupAfter counts
	// the lines delivered again by runs after each kind of stop.
	killed   bool
	dupAfter map[bool]int
}

func newStats() *stats {
	return &stats{changed: make(chan struct{}, 1), dupAfter: map[bool]int{}}
}

// restarted notes how the run before the next one was stopped.
func (s *stats) restarted(kill bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killed = kill
}

// parse finds the sequence number and write time in an output line, in
// the layout the writer makes, without a JSON decoder: the soak must not
// take the CPU the annotator needs.
func parse(line []byte) (seq int, ts int64, ok bool) {
	const key = `"line":"seq=`
	i := bytes.Index(line, []byte(key))
	if i < 0 || len(line) < i+len(key)+9 {
		return 0, 0, false
	}
	i += len(key)
	seq, err := strconv.Atoi(string(line[i : i+9]))
	if err != nil {
		return 0, 0, false
	}
	rest := line[i+9:]
	j := bytes.Index(rest, []byte(" ts="))
	if j < 0 {
		return seq, 0, true
	}
	rest = rest[j+4:]
	k := bytes.IndexByte(rest, ' ')
	if k < 0 {
		return seq, 0, true
	}
	ts, _ = strconv.ParseInt(string(rest[:k]), 10, 64)
	return seq, ts, true
}

func (s *stats) add(line []byte, now time.Time) {
	seq, ts, ok := parse(line)
	if !ok || seq <= 0 {
		return
	}
	s.mu.Lock()
	for seq >= len(s.counts) {
		s.counts = append(s.counts, make([]uint16, len(s.counts)+1<<20)...)
	}
	if s.counts[seq] == 0 {
		s.nDistinct++
	} else {
		s.dupAfter[s.killed]++
	}
	if s.counts[seq] < 1<<16-1 {
		s.counts[seq]++
	}
	if seq%10 == 0 && ts > 0 {
		s.lags = append(s.lags, now.Sub(time.Unix(0, ts)))
	}
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// deleting notes that rotation deletes the generation holding lines
// first to last.
func (s *stats) deleting(first, last int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := first; i <= last; i++ {
		if i >= len(s.counts) || s.counts[i] == 0 {
			s.unread = append(s.unread, [2]int{first, last})
			return
		}
	}
}

func (s *stats) waitChange(d time.Duration) {
	select {
	case <-s.changed:
	case <-time.After(d):
	}
}

// distinct is how many different lines were delivered.
func (s *stats) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nDistinct
}

func (s *stats) result(n int) (lost, rotatedAway, dup int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inUnread := func(seq int) bool {
		for _, g := range s.unread {
			if seq >= g[0] && seq <= g[1] {
				return true
			}
		}
		return false
	}
	for i := 1; i <= n; i++ {
		c := 0
		if i < len(s.counts) {
			c = int(s.counts[i])
		}
		switch {
		case c == 0:
			lost++
			if inUnread(i) {
				rotatedAway++
			}
		case c > 1:
			dup += c - 1
		}
	}
	return lost, rotatedAway, dup
}

func (s *stats) lagsSorted() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]time.Duration(nil), s.lags...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// loadSampler reads the 1-minute load average once a second.
type loadSampler struct {
	last     time.Time
	sum, max float64
	n        int
}

func (l *loadSampler) sample(now time.Time) {
	if now.Sub(l.last) < time.Second {
		return
	}
	l.last = now
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return
	}
	l.sum += v
	l.n++
	if v > l.max {
		l.max = v
	}
}

func (l *loadSampler) mean() float64 {
	if l.n == 0 {
		return 0
	}
	return l.sum / float64(l.n)
}

type annRun struct {
	cmd  *exec.Cmd
	read chan struct{}
}

func start(bin string, args []string, st *stats) *annRun {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	r := &annRun{cmd: cmd, read: make(chan struct{})}
	go func() {
		defer close(r.read)
		br := bufio.NewReaderSize(out, 1<<20)
		for {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return // a line cut by SIGKILL was not delivered
			}
			st.add(line, time.Now())
		}
	}()
	return r
}

// stop ends the run and returns the CPU time it used.
func (r *annRun) stop(kill bool) time.Duration {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	r.cmd.Process.Signal(sig)
	<-r.read
	r.cmd.Wait()
	if ps := r.cmd.ProcessState; ps != nil {
		return ps.UserTime() + ps.SystemTime()
	}
	return 0
}

// followed is what the annotator is told to follow: the log, or with
// glob a pattern matching its rotated generations too.
func followed(path string, glob bool) string {
	if glob {
		return path + "*"
	}
	return path
}
