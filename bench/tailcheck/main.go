// Command tailcheck runs one log-rotation scenario through
// github.com/nxadm/tail (TailFile with Follow and ReOpen, as tail -F) and
// through annotator's own follower (the built binary with --follow), and
// counts for each how many lines were lost, repeated or mangled.
//
// The scenario: a writer appends numbered lines fast and rotates the log
// the way logrotate does by default (rename to app.log.1, shifting older
// generations up, then create a new app.log) a few times, while the
// consumer is deliberately slow for the first moment, so that a renamed
// file still holds unread lines when the next rotation comes.
//
//	go run ./bench/tailcheck
//
// It exits 1 when annotator's follower lost, repeated or mangled a line.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nxadm/tail"
)

// scenario is what the writer and the consumer do.
type scenario struct {
	lines     int           // numbered lines written
	rate      int           // lines per second written
	rotations int           // rename+create rotations, evenly spread
	slowFor   time.Duration // how long, from the first line, the consumer is slow
	slowRate  int           // lines per second the consumer takes while slow
	idle      time.Duration // after the writer is done, no new line for this long ends the run
}

// subject is one way of following a file: start begins following path and
// hands each line (without its newline) to take, from one goroutine;
// stop ends it after which take is not called again.
type subject struct {
	name  string
	start func(path string, take func([]byte)) (stop func() (note string, err error), err error)
}

// result is what one subject delivered.
type result struct {
	name                          string
	received, lost, dup, mangled  int
	note                          string
	firstLost, lastLost, lostRuns int
}

func main() {
	var sc scenario
	flag.IntVar(&sc.lines, "lines", 200000, "numbered lines written")
	flag.IntVar(&sc.rate, "rate", 100000, "lines per second written")
	flag.IntVar(&sc.rotations, "rotations", 4, "rename+create rotations while writing")
	flag.DurationVar(&sc.slowFor, "slow-for", time.Second, "how long the consumer is slow, from the first line")
	flag.IntVar(&sc.slowRate, "slow-rate", 20000, "lines per second the consumer takes while slow")
	flag.DurationVar(&sc.idle, "idle", 3*time.Second, "after the writer is done, no new line for this long ends a run")
	bin := flag.String("bin", "", "annotator binary (default: built from this module)")
	flag.Parse()
	log.SetFlags(0)

	dir, err := os.MkdirTemp("", "tailcheck")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if *bin == "" {
		if *bin, err = build(dir); err != nil {
			log.Fatal(err)
		}
	}

	fmt.Printf("scenario: %d lines at %d lines/s, %d rename+create rotations; the consumer takes %d lines/s for the first %s\n\n",
		sc.lines, sc.rate, sc.rotations, sc.slowRate, sc.slowFor)
	var results []result
	for i, s := range subjects(*bin) {
		r, err := run(filepath.Join(dir, strconv.Itoa(i)), sc, s)
		if err != nil {
			log.Fatalf("%s: %v", s.name, err)
		}
		results = append(results, r)
	}
	printResults(os.Stdout, results)
	for _, r := range results {
		if r.name == annotatorName && (r.lost > 0 || r.dup > 0 || r.mangled > 0) {
			os.Exit(1)
		}
	}
}

const annotatorName = "annotator --follow"

// build compiles the annotator into dir.
func build(dir string) (string, error) {
	bin := filepath.Join(dir, "annotator")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/annotator-dev/annotator/cmd/annotator")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build annotator: %w", err)
	}
	return bin, nil
}

func subjects(bin string) []subject {
	return []subject{
		{"nxadm/tail v1.4.11 Follow+ReOpen", func(path string, take func([]byte)) (func() (string, error), error) {
			return startTail(path, false, take)
		}},
		{"nxadm/tail v1.4.11 Follow+ReOpen+CompleteLines", func(path string, take func([]byte)) (func() (string, error), error) {
			return startTail(path, true, take)
		}},
		{annotatorName, func(path string, take func([]byte)) (func() (string, error), error) {
			return startAnnotator(bin, path, take)
		}},
	}
}

// reopenCounter is nxadm/tail's logger: it counts the reopenings the
// library reports.
type reopenCounter struct {
	mu      sync.Mutex
	reopens int
}

func (c *reopenCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.reopens += bytes.Count(p, []byte("Re-opening"))
	c.mu.Unlock()
	return len(p), nil
}

func startTail(path string, completeLines bool, take func([]byte)) (func() (string, error), error) {
	rc := &reopenCounter{}
	t, err := tail.TailFile(path, tail.Config{
		Follow: true, ReOpen: true, CompleteLines: completeLines,
		Logger: log.New(rc, "", 0),
	})
	if err != nil {
		return nil, fmt.Errorf("tail %s: %w", path, err)
	}
	var errs int
	done := make(chan struct{})
	go func() { // ends when Stop closes Lines
		defer close(done)
		for l := range t.Lines {
			if l.Err != nil {
				errs++
				continue
			}
			take([]byte(l.Text))
		}
	}()
	return func() (string, error) {
		err := t.Stop()
		<-done
		t.Cleanup()
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return fmt.Sprintf("reopened the log %d times (%d error lines)", rc.reopens, errs), err
	}, nil
}

func startAnnotator(bin, path string, take func([]byte)) (func() (string, error), error) {
	cmd := exec.Command(bin, "--follow", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan error, 1)
	go func() { // ends when the process closes its standard output
		br := bufio.NewReaderSize(out, 1<<20)
		for {
			line, err := br.ReadSlice('\n')
			if err == nil {
				take(line[:len(line)-1])
				continue
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				take(line) // longer than any line written: counted as mangled
				continue
			}
			if errors.Is(err, io.EOF) {
				if len(line) > 0 {
					take(line)
				}
				err = nil
			}
			done <- err
			return
		}
	}()
	return func() (string, error) {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return "", err
		}
		readErr := <-done
		if err := cmd.Wait(); err != nil {
			return "", fmt.Errorf("annotator: %w; stderr:\n%s", err, stderr.Bytes())
		}
		if readErr != nil {
			return "", fmt.Errorf("read annotator's output: %w", readErr)
		}
		return "", nil
	}, nil
}

// line returns numbered line seq as written (without its newline).
func line(dst []byte, seq int) []byte {
	return fmt.Appendf(dst, "seq=%09d level=info msg=\"rotation check\" pad=0123456789abcdef", seq)
}

// tally counts what a subject delivered, by sequence number.
type tally struct {
	mu      sync.Mutex
	counts  []int32
	mangled int
	scratch []byte
	// paced counts lines taken since the clock started, for the pacing.
	paced int
	// start is when the writer began (unix nanoseconds); 0 before.
	start atomic.Int64
}

// take counts line and, while the consumer is meant to be slow, sleeps to
// hold it to sc.slowRate.
func (t *tally) take(sc scenario, l []byte) {
	t.mu.Lock()
	seq := -1
	if len(l) > 13 && bytes.HasPrefix(l, []byte("seq=")) {
		if n, err := strconv.Atoi(string(l[4:13])); err == nil && n >= 0 && n < len(t.counts) {
			t.scratch = line(t.scratch[:0], n)
			if bytes.Equal(l, t.scratch) {
				seq = n
			}
		}
	}
	if seq < 0 {
		t.mangled++
	} else {
		t.counts[seq]++
	}
	start := t.start.Load()
	var sleep time.Duration
	if start != 0 {
		t.paced++
		if el := time.Since(time.Unix(0, start)); el < sc.slowFor && t.paced%64 == 0 {
			due := time.Duration(float64(t.paced) / float64(sc.slowRate) * float64(time.Second))
			sleep = min(due, sc.slowFor) - el
		}
	}
	t.mu.Unlock()
	if sleep > 0 {
		time.Sleep(sleep) // the deliberate slowness
	}
}

// received returns how many distinct numbered lines (1..n) arrived.
func (t *tally) received() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := 0
	for _, c := range t.counts[1:] {
		if c > 0 {
			k++
		}
	}
	return k
}

func (t *tally) seen(seq int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[seq] > 0
}

// run plays the scenario in dir against one subject.
func run(dir string, sc scenario, s subject) (result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return result{}, err
	}
	path := filepath.Join(dir, "app.log")
	w, err := newWriter(path)
	if err != nil {
		return result{}, err
	}
	defer w.close()
	t := &tally{counts: make([]int32, sc.lines+1)}
	stop, err := s.start(path, func(l []byte) { t.take(sc, l) })
	if err != nil {
		return result{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	// Line 0 shows the subject is following before the clock starts. It
	// is written again until it arrives: a follower may start watching
	// for changes only after the first write, as a live log would not
	// care about.
	deadline := time.Now().Add(30 * time.Second)
	for !t.seen(0) {
		if time.Now().After(deadline) {
			return result{}, errors.New("the first line never arrived")
		}
		if err := w.write(0, 1); err != nil {
			return result{}, err
		}
		if waitUntil(100*time.Millisecond, func() bool { return t.seen(0) }) == nil {
			break
		}
	}

	begin := time.Now()
	t.start.Store(begin.UnixNano())
	per := sc.lines / (sc.rotations + 1)
	nextRotation := per
	tick := time.NewTicker(time.Millisecond)
	for written := 0; written < sc.lines; {
		now := <-tick.C
		want := min(sc.lines, int(now.Sub(begin).Seconds()*float64(sc.rate)))
		for written < want {
			n := want - written
			if sc.rotations > 0 && written < nextRotation && written+n > nextRotation {
				n = nextRotation - written
			}
			if err := w.write(written+1, n); err != nil {
				tick.Stop()
				return result{}, err
			}
			written += n
			if sc.rotations > 0 && written == nextRotation && nextRotation < (sc.rotations+1)*per {
				if err := w.rotate(); err != nil {
					tick.Stop()
					return result{}, err
				}
				nextRotation += per
			}
		}
	}
	tick.Stop()

	// Wait for everything, or until nothing new arrives for sc.idle.
	last, lastChange := -1, time.Now()
	for {
		got := t.received()
		if got == sc.lines {
			break
		}
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) >= sc.idle && time.Since(begin) >= sc.slowFor {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling the tally
	}
	stopped = true
	note, err := stop()
	if err != nil {
		return result{}, err
	}

	r := result{name: s.name, note: note, mangled: t.mangled, firstLost: -1}
	prevLost := false
	for seq := 1; seq <= sc.lines; seq++ {
		switch c := t.counts[seq]; {
		case c == 0:
			r.lost++
			if r.firstLost < 0 {
				r.firstLost = seq
			}
			r.lastLost = seq
			if !prevLost {
				r.lostRuns++
			}
		case c > 1:
			r.dup += int(c) - 1
		}
		if c := t.counts[seq]; c > 0 {
			r.received++
		}
		prevLost = t.counts[seq] == 0
	}
	return r, nil
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s", d)
		}
		time.Sleep(5 * time.Millisecond) // polling
	}
	return nil
}

// writer appends numbered lines and rotates like logrotate's default.
type writer struct {
	path string
	f    *os.File
	gens int
	buf  []byte
}

func newWriter(path string) (*writer, error) {
	w := &writer{path: path}
	return w, w.open()
}

func (w *writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", w.path, err)
	}
	w.f = f
	return nil
}

// write appends lines from, from+1, ... (n of them) with one write call,
// as a logger flushing its buffer does.
func (w *writer) write(from, n int) error {
	w.buf = w.buf[:0]
	for seq := from; seq < from+n; seq++ {
		w.buf = line(w.buf, seq)
		w.buf = append(w.buf, '\n')
	}
	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return nil
}

// rotate renames app.log.N to app.log.N+1 for every kept generation,
// app.log to app.log.1, and then creates a new app.log.
func (w *writer) rotate() error {
	for i := w.gens; i >= 1; i-- {
		if err := os.Rename(fmt.Sprintf("%s.%d", w.path, i), fmt.Sprintf("%s.%d", w.path, i+1)); err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	w.gens++
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", w.path, err)
	}
	return w.open()
}

func (w *writer) close() { w.f.Close() }

func printResults(out io.Writer, results []result) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "follower\treceived\tlost\trepeated\tmangled\tlost (runs, first..last)")
	for _, r := range results {
		ranges := "-"
		if r.lost > 0 {
			ranges = fmt.Sprintf("%d, %d..%d", r.lostRuns, r.firstLost, r.lastLost)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", r.name, r.received, r.lost, r.dup, r.mangled, ranges)
	}
	tw.Flush()
	for _, r := range results {
		if r.note != "" {
			fmt.Fprintf(out, "%s: %s\n", r.name, r.note)
		}
	}
}
