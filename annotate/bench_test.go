package annotate_test

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/bench/corpus"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sources"
)

func benchAnnotator(b *testing.B, format annotate.Format) *annotate.Annotator {
	b.Helper()
	c, err := catalog.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	a, err := annotate.FromCatalog(c, nil, matcher.Auto, annotate.Options{Format: format})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

func benchData(b *testing.B, size int64, single bool) []byte {
	b.Helper()
	c := corpus.Default()
	c.Size = size
	c.SingleLine = single
	return benchCorpus(b, c)
}

func benchCorpus(b *testing.B, c corpus.Config) []byte {
	b.Helper()
	var buf bytes.Buffer
	if err := corpus.Write(&buf, c); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkAppendLines annotates the corpus in 1 MiB blocks of whole
// lines, as a pipeline worker does.
func BenchmarkAppendLines(b *testing.B) {
	// text-count counts the codes as well, as with --metrics-addr or
	// --summary.
	benchLines(b, benchData(b, 16<<20, false), []annotate.Options{{Format: annotate.Text}, {Format: annotate.JSON},
		{Format: annotate.Merge}, {Format: annotate.Text, Count: true}})
}

// BenchmarkJSONLines compares text and merge mode on a corpus of JSON
// Lines only, where merge mode inserts a field into every line with a code.
func BenchmarkJSONLines(b *testing.B) {
	c := corpus.Default()
	c.Size = 16 << 20
	c.JSONShare = 1
	benchLines(b, benchCorpus(b, c), []annotate.Options{{Format: annotate.Text}, {Format: annotate.Merge}})
}

func benchLines(b *testing.B, data []byte, options []annotate.Options) {
	var blocks [][]byte
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1<<20)
		if n < len(rest) {
			n = bytes.LastIndexByte(rest[:n], '\n') + 1
		}
		blocks = append(blocks, rest[:n])
		rest = rest[n:]
	}
	lines := bytes.Count(data, []byte{'\n'})
	for _, opts := range options {
		name := string(opts.Format)
		if opts.Count {
			name += "-count"
		}
		b.Run(name, func(b *testing.B) {
			c, err := catalog.Builtin()
			if err != nil {
				b.Fatal(err)
			}
			a, err := annotate.FromCatalog(c, nil, matcher.Auto, opts)
			if err != nil {
				b.Fatal(err)
			}
			var s annotate.Scratch
			var st annotate.Stats
			dst := make([]byte, 0, 4<<20)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				for _, blk := range blocks {
					dst = a.AppendLines(dst[:0], blk, nil, &s, &st)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(lines), "ns/line")
			b.ReportMetric(float64(len(data))*float64(b.N)/(cpuTime(b)-cpu0).Seconds()/1e6, "cpu-MB/s")
		})
	}
}

// BenchmarkAppendPiece annotates one long line in 1 MiB pieces, as the
// pipeline's writer does for lines longer than a buffer.
func BenchmarkAppendPiece(b *testing.B) {
	data := benchData(b, 16<<20, true)
	for _, format := range []annotate.Format{annotate.Text, annotate.JSON, annotate.Merge} {
		b.Run(string(format), func(b *testing.B) {
			a := benchAnnotator(b, format)
			var s annotate.Scratch
			var st annotate.Stats
			var l annotate.LongLine
			dst := make([]byte, 0, 4<<20)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				for rest := data; len(rest) > 0; {
					n := min(len(rest), 1<<20)
					dst = a.AppendPiece(dst[:0], rest[:n], nil, n == len(rest), &l, &s, &st)
					rest = rest[n:]
				}
			}
		})
	}
}

type discard struct{}

func (discard) Write(context.Context, *pipeline.Batch) error { return nil }
func (discard) Close() error                                 { return nil }

// BenchmarkRun is the whole line path in process: framing from a reader,
// parallel annotation, ordered delivery to a sink that drops the bytes.
func BenchmarkRun(b *testing.B) {
	data := benchData(b, 64<<20, false)
	for _, format := range []annotate.Format{annotate.Text, annotate.JSON} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", format, workers), func(b *testing.B) {
				a := benchAnnotator(b, format)
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					pool := sources.NewPool(0, 2*workers+2)
					src := sources.NewFramer(bytes.NewReader(data), "", nil, pool)
					if _, err := pipeline.Run(context.Background(), src, a, discard{}, pipeline.Options{Workers: workers}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// cpuTime is the CPU time the process has used: on a machine shared with
// other work, bytes per CPU second say more than bytes per wall second.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
