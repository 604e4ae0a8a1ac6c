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
// bytes read, lines per second, and for files of known size the time
// left. Add is called from the pipeline's writer, Run from a goroutine of
// its own.
type Progress struct {
	w       io.Writer
	total   int64 // bytes of the input files; 0 when unknown (pipes)
	bytes   atomic.Int64
	lines   atomic.Int64
	start   time.Time
	stopped chan struct{}
}

// NewProgress makes a progress display on w for a run over paths ("-" is
// standard input, whose size is unknown).
func NewProgress(paths []string, w io.Writer) *Progress {
	p := &Progress{w: w, start: time.Now(), stopped: make(chan struct{})}
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

// Line formats the progress line for elapsed time d.
func (p *Progress) Line(d time.Duration) string {
	bytes, lines := p.bytes.Load(), p.lines.Load()
	secs := d.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	s := fmt.Sprintf("%s read, %s lines/s", humanBytes(bytes), Thousands(int64(float64(lines)/secs+0.5)))
	if p.total > 0 {
		pct := 100 * float64(bytes) / float64(p.total)
		s += fmt.Sprintf(", %.0f%% of %s", pct, humanBytes(p.total))
		if bytes > 0 && bytes < p.total {
			left := time.Duration(float64(d) * float64(p.total-bytes) / float64(bytes))
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
			fmt.Fprintf(p.w, "\r\x1b[K%s", p.Line(now.Sub(p.start)))
			drawn = true
		}
	}
}

// Wait returns once Run has returned.
func (p *Progress) Wait() { <-p.stopped }
