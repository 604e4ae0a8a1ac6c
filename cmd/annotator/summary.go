package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/metrics"
	"github.com/annotator-dev/annotator/pipeline"
)

// runStats is `annotator stats [flags] [FILE...]`: a run that prints only
// the summary table, on standard output.
func runStats(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, "stats", append([]string{"--only-matching"}, args...), stdin, &statsOutput{w: stdout}, stderr)
}

// statsOutput stands in for standard output in a stats run: the annotated
// lines are dropped and the summary goes to w.
type statsOutput struct{ w io.Writer }

func (s *statsOutput) Write(p []byte) (int, error) { return len(p), nil }

// place is where a code was seen: a line number, within a file when the
// run reads several.
type place struct {
	stream string
	line   int64
}

type codeStat struct {
	code, message, meaning string
	known                  bool
	count                  int64
	first, last            place
}

// summary gathers the codes seen, with their line numbers. It is fed from
// the pipeline's writer, which delivers batches in input order.
type summary struct {
	withStream bool
	lines      map[string]int64 // stream -> lines before the next batch
	codes      map[string]*codeStat
	scratch    []matcher.Match
	total      int64 // codes seen
	annotated  int64 // lines with a catalog code
	read       int64 // lines read
}

func newSummary(withStream bool) *summary {
	return &summary{withStream: withStream, lines: map[string]int64{}, codes: map[string]*codeStat{}}
}

func (s *summary) hit(stream string, line int64, key int, code []byte, codes *metrics.Codes) {
	st := s.codes[string(code)]
	if st == nil {
		st = &codeStat{code: string(code), first: place{stream, line}}
		if key >= 0 {
			n := codes.Note(key)
			st.message, st.meaning, st.known = n.Message, n.Meaning, true
		}
		s.codes[st.code] = st
	}
	st.count++
	st.last = place{stream, line}
	s.total++
}

func (s *summary) add(b *pipeline.Batch, codes *metrics.Codes) {
	base := s.lines[b.Stream]
	s.read += b.Stats.Lines
	s.annotated += b.Stats.Annotated
	if b.Kind == pipeline.Records {
		for i := range b.Records {
			line := base + int64(i) + 1
			s.scratch, _ = codes.Scan(b.Records[i].Value, true, s.scratch, func(h metrics.Hit) {
				s.hit(b.Stream, line, h.Key, h.Code, codes)
			})
		}
		s.lines[b.Stream] = base + int64(len(b.Records))
		return
	}
	var n int
	s.scratch, n = codes.Scan(b.Data, true, s.scratch, func(h metrics.Hit) {
		s.hit(b.Stream, base+int64(h.Line)+1, h.Key, h.Code, codes)
	})
	s.lines[b.Stream] = base + int64(n)
}

func (s *summary) where(p place) string {
	if s.withStream && p.stream != "" {
		return p.stream + ":" + strconv.FormatInt(p.line, 10)
	}
	return strconv.FormatInt(p.line, 10)
}

// write prints the table, most frequent code first: what an engineer on
// call wants to see first.
func (s *summary) write(w io.Writer) {
	stats := make([]*codeStat, 0, len(s.codes))
	for _, st := range s.codes {
		stats = append(stats, st)
	}
	sort.Slice(stats, func(i, j int) bool {
		if stats[i].count != stats[j].count {
			return stats[i].count > stats[j].count
		}
		return stats[i].code < stats[j].code
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%d lines read, %d with a code; %d codes seen, %d distinct\n", s.read, s.annotated, s.total, len(stats))
	if len(stats) > 0 {
		b.WriteByte('\n')
		// The meaning comes last: it is often Chinese, whose double-width
		// characters would skew any column after it.
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tCOUNT\tSHARE\tFIRST\tLAST\tMESSAGE\tMEANING")
		// Numbers shaped like codes but not in the catalog can be
		// anything (request ids, amounts); only the most frequent are
		// listed, so they cannot bury the catalog's codes.
		unknownShown, unknownLeft, unknownCount := 0, 0, int64(0)
		for _, st := range stats {
			msg, meaning := st.message, st.meaning
			if !st.known {
				if unknownShown == maxUnknownRows {
					unknownLeft++
					unknownCount += st.count
					continue
				}
				unknownShown++
				msg = "(not in the catalog)"
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%s\t%s\t%s\t%s\n", st.code, st.count,
				100*float64(st.count)/float64(s.total), s.where(st.first), s.where(st.last), oneLine(msg), oneLine(meaning))
		}
		tw.Flush()
		if unknownLeft > 0 {
			fmt.Fprintf(&b, "... and %d more numbers not in the catalog, seen %d times\n", unknownLeft, unknownCount)
		}
	}
	io.WriteString(w, b.String())
}

// maxUnknownRows is how many numbers not in the catalog the table lists.
const maxUnknownRows = 10

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// progress shows, on a terminal's standard error, how far a run has got:
// bytes read, lines per second, and for files of known size the time
// left.
type progress struct {
	w       io.Writer
	total   int64 // bytes of the input files; 0 when unknown (pipes)
	bytes   atomic.Int64
	lines   atomic.Int64
	start   time.Time
	stopped chan struct{}
}

func newProgress(paths []string, w io.Writer) *progress {
	p := &progress{w: w, start: time.Now(), stopped: make(chan struct{})}
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

func (p *progress) add(b *pipeline.Batch) {
	n := int64(len(b.Data))
	for i := range b.Records {
		n += int64(len(b.Records[i].Value))
	}
	p.bytes.Add(n)
	p.lines.Add(b.Stats.Lines)
}

// line formats the progress line for elapsed time d.
func (p *progress) line(d time.Duration) string {
	bytes, lines := p.bytes.Load(), p.lines.Load()
	secs := d.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	s := fmt.Sprintf("%s read, %.0f lines/s", humanBytes(bytes), float64(lines)/secs)
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

// run redraws the progress line until ctx is done, then clears it.
func (p *progress) run(ctx context.Context) {
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
			fmt.Fprintf(p.w, "\r\x1b[K%s", p.line(now.Sub(p.start)))
			drawn = true
		}
	}
}

func (p *progress) wait() { <-p.stopped }

// termios reports whether fd is a terminal.
func termios(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
