package bench

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/bench/corpus"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/reporting"
	"github.com/annotator-dev/annotator/sources"
)

type dropSink struct{}

func (dropSink) Write(context.Context, *pipeline.Batch) error { return nil }
func (dropSink) Close() error                                 { return nil }

func timelineCorpus(b *testing.B, size int64, codes float64) []byte {
	b.Helper()
	c := corpus.Default()
	c.Size, c.CodeShare = size, codes
	var buf bytes.Buffer
	if err := corpus.Write(&buf, c); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func countingAnnotator(b *testing.B, count bool) *annotate.Annotator {
	b.Helper()
	c, err := catalog.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	a, err := annotate.FromCatalog(c, nil, matcher.Auto, annotate.Options{Format: annotate.Text, Count: count})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkTimeline is the whole line path in process (framing, two
// workers, ordered delivery to a sink that drops the bytes) as a plain
// run, with the summary, and with the summary and the timeline, on the
// default corpus (2% of lines with a code) and on one with a code in half
// its lines. "s/GB" is wall seconds per 10^9 bytes; the ratios between
// the cases are what docs/performance.md reports. The timeline reads the
// time of lines with a code only, on the writer goroutine.
func BenchmarkTimeline(b *testing.B) {
	for _, share := range []float64{0.02, 0.5} {
		data := timelineCorpus(b, 64<<20, share)
		for _, mode := range []string{"plain", "summary", "timeline"} {
			b.Run(fmt.Sprintf("codes=%g/%s", share, mode), func(b *testing.B) {
				a := countingAnnotator(b, mode != "plain")
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					opt := pipeline.Options{Workers: 2}
					if mode != "plain" {
						sum := reporting.NewSummary(false, 0)
						var tl *reporting.Timeline
						if mode == "timeline" {
							tl = reporting.NewTimeline(reporting.TimelineOptions{})
						}
						opt.Delivered = func(bt *pipeline.Batch) {
							sum.Add(bt)
							if tl != nil {
								tl.Add(bt)
							}
						}
					}
					pool := sources.NewPool(0, 6)
					src := sources.NewFramer(bytes.NewReader(data), "", nil, pool)
					if _, err := pipeline.Run(context.Background(), src, a, dropSink{}, opt); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(len(data))*1e9, "s/GB")
			})
		}
	}
}

// BenchmarkTimelineAdd is the timeline's own work alone, on batches of
// 256 KiB already annotated: finding the lines with a code and reading
// their time. It runs on the pipeline's writer, one goroutine. The corpus
// is 256 MiB: in its first hour of log time every code of the catalog
// is counted per second, up to 4,096 buckets, before the buckets widen,
// a start-up cost that a shorter input would spread over fewer bytes.
func BenchmarkTimelineAdd(b *testing.B) {
	for _, share := range []float64{0.02, 0.5} {
		data := timelineCorpus(b, 256<<20, share)
		a := countingAnnotator(b, true)
		var batches []*pipeline.Batch
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 256<<10)
			if i := bytes.LastIndexByte(rest[:n], '\n'); i >= 0 && n < len(rest) {
				n = i + 1
			}
			bt := &pipeline.Batch{Kind: pipeline.Lines, Data: rest[:n], Annotator: a}
			var sc annotate.Scratch
			a.AppendLines(nil, bt.Data, nil, &sc, &bt.Stats)
			batches = append(batches, bt)
			rest = rest[n:]
		}
		b.Run(fmt.Sprintf("codes=%g", share), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				tl := reporting.NewTimeline(reporting.TimelineOptions{})
				for _, bt := range batches {
					tl.Add(bt)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(len(data))*1e9, "s/GB")
		})
	}
}
