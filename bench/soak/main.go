// Command soak is the follower's rotation soak: it writes numbered,
// timestamped lines to a log at a high rate for a while, rotating the log
// (rename and copytruncate in turn) and restarting the annotator (SIGTERM,
// and SIGKILL every third time) on schedules, and reports how many lines
// were lost or repeated and how far behind the writer delivery was.
//
//	go run ./bench/soak -duration 2m
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
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
	bin := flag.String("bin", "", "annotator binary (default: built from this module)")
	dir := flag.String("dir", "", "working directory (default: a temporary one)")
	flag.Parse()

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
	w, err := newWriter(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.write(1); err != nil {
		log.Fatal(err)
	}
	st := newStats()
	args := []string{"--follow", path, "--state", filepath.Join(*dir, "state"), "--format", "json", "--poll-interval", "50ms"}
	run := start(*bin, args, st)

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
			run.stop(kill)
			run = start(*bin, args, st)
			nextRestart = now.Add(*restartEvery)
		}
	}
	written := w.seq
	wrote := time.Since(begin)
	// Wait for the follower to catch up, then stop it cleanly.
	deadline := time.Now().Add(60 * time.Second)
	for st.distinctUpTo(written) < written && time.Now().Before(deadline) {
		st.waitChange(time.Second)
	}
	run.stop(false)

	lost, dup := st.result(written)
	lags := st.lagsSorted()
	q := func(p float64) time.Duration {
		if len(lags) == 0 {
			return 0
		}
		return lags[int(p*float64(len(lags)-1))]
	}
	fmt.Printf("soak: %s writing, %d lines (%.0f lines/s), %d rotations (%s), %d restarts (%d SIGKILL)\n",
		wrote.Round(time.Second), written, float64(written)/wrote.Seconds(), rotations, *kinds, restarts, kills)
	fmt.Printf("lines lost: %d\nlines repeated: %d\n", lost, dup)
	fmt.Printf("lag (write to delivery): p50 %s, p99 %s, max %s\n", q(0.5), q(0.99), q(1))
	if lost > 0 {
		os.Exit(1)
	}
}

type writer struct {
	path string
	f    *os.File
	seq  int
	buf  []byte
}

func newWriter(path string) (*writer, error) {
	w := &writer{path: path}
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
	// Keep five generations, as a logrotate "rotate 5" would.
	os.Remove(fmt.Sprintf("%s.%d", w.path, 5))
	for i := 4; i >= 1; i-- {
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
	mu      sync.Mutex
	counts  map[int]int
	lags    []time.Duration
	changed chan struct{}
}

func newStats() *stats {
	return &stats{counts: map[int]int{}, changed: make(chan struct{}, 1)}
}

func (s *stats) add(line []byte, now time.Time) {
	var rec struct {
		Line string `json:"line"`
	}
	if json.Unmarshal(line, &rec) != nil || len(rec.Line) < 13 {
		return
	}
	seq, err := strconv.Atoi(rec.Line[4:13])
	if err != nil {
		return
	}
	var lag time.Duration
	if i := strings.Index(rec.Line, "ts="); i >= 0 {
		end := strings.IndexByte(rec.Line[i:], ' ')
		if ts, err := strconv.ParseInt(rec.Line[i+3:i+end], 10, 64); err == nil {
			lag = now.Sub(time.Unix(0, ts))
		}
	}
	s.mu.Lock()
	s.counts[seq]++
	if seq%10 == 0 {
		s.lags = append(s.lags, lag)
	}
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *stats) waitChange(d time.Duration) {
	select {
	case <-s.changed:
	case <-time.After(d):
	}
}

func (s *stats) distinctUpTo(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := 0
	for seq := range s.counts {
		if seq <= n {
			k++
		}
	}
	return k
}

func (s *stats) result(n int) (lost, dup int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 1; i <= n; i++ {
		switch c := s.counts[i]; {
		case c == 0:
			lost++
		case c > 1:
			dup += c - 1
		}
	}
	return lost, dup
}

func (s *stats) lagsSorted() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]time.Duration(nil), s.lags...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
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

func (r *annRun) stop(kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	r.cmd.Process.Signal(sig)
	<-r.read
	r.cmd.Wait()
}
