package reporting

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/annotator-dev/annotator/pipeline"
)

// Progress shows, on a terminal's standard error, how far a run has got:
// bytes and lines done, the current rate, and for files of known size the
// share done and the time left at that rate. The rate is taken over the
// last few seconds, not since the start, so that a stall shows as one at
// once rather than as an average slowly falling. Add is called from the
// pipeline's writer, Run from a goroutine of its own.
type Progress struct {
	w     io.Writer
	total int64 // bytes of the input files; 0 when unknown (pipes)
	bytes atomic.Int64
	lines atomic.Int64
	// samples are what was done when, oldest first, over about the last
	// rateWindow: the rate is the change across them. Only Line (Run's
	// goroutine) touches them.
	samples []sample
	stopped chan struct{}
}

type sample struct {
	at           time.Time
	bytes, lines int64
}

// rateWindow is how far back the current rate looks.
const rateWindow = 5 * time.Second

// NewProgress makes a progress display on w for a run over paths ("-" is
// standard input, whose size is unknown).
func NewProgress(paths []string, w io.Writer) *Progress {
	p := &Progress{w: w, stopped: make(chan struct{})}
	p.samples = []sample{{at: time.Now()}}
	for _, path := range paths {
		if path == "-" {
			p.total = 0
			break
		}
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			p.total = 0
			break
		}
		p.total += fi.Size()
	}
	return p
}

// Add takes a delivered batch.
func (p *Progress) Add(b *pipeline.Batch) {
	n := int64(len(b.Data))
	for i := range b.Records {
		n += int64(len(b.Records[i].Value))
	}
	p.bytes.Add(n)
	p.lines.Add(b.Stats.Lines)
}

// Line records what is done at now and formats the progress line.
func (p *Progress) Line(now time.Time) string {
	bytes, lines := p.bytes.Load(), p.lines.Load()
	p.samples = append(p.samples, sample{at: now, bytes: bytes, lines: lines})
	// Keep the samples within the window, and the last one before it, so
	// the rate spans at least the window once there is that much history.
	cut := 0
	for cut+1 < len(p.samples)-1 && now.Sub(p.samples[cut+1].at) >= rateWindow {
		cut++
	}
	p.samples = p.samples[cut:]
	first := p.samples[0]
	s := fmt.Sprintf("%s, %s read", humanBytes(bytes), Count(lines, "line", "lines"))
	secs := now.Sub(first.at).Seconds()
	if secs <= 0 {
		return s
	}
	byteRate := float64(bytes-first.bytes) / secs
	s += fmt.Sprintf(", %s lines/s, %s/s", Thousands(int64(float64(lines-first.lines)/secs+0.5)), humanBytes(int64(byteRate+0.5)))
	if p.total > 0 {
		pct := 100 * float64(bytes) / float64(p.total)
		s += fmt.Sprintf(", %.0f%% of %s", pct, humanBytes(p.total))
		switch {
		case bytes >= p.total:
		case byteRate < 1:
			s += ", stalled"
		default:
			left := time.Duration(float64(p.total-bytes) / byteRate * float64(time.Second))
			s += ", ETA " + left.Round(time.Second).String()
		}
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[i])
}

// Run redraws the progress line until ctx is done, then clears it.
func (p *Progress) Run(ctx context.Context) {
	defer close(p.stopped)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	drawn := false
	for {
		select {
		case <-ctx.Done():
			if drawn {
				fmt.Fprint(p.w, "\r\x1b[K")
			}
			return
		case now := <-t.C:
			fmt.Fprintf(p.w, "\r\x1b[K%s", p.Line(now))
			drawn = true
		}
	}
}

// Wait returns once Run has returned.
func (p *Progress) Wait() { <-p.stopped }
