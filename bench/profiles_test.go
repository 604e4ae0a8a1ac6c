package bench

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/bench/corpus"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/metrics"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/reporting"
)

// profileBlocks is 16 MiB of a corpus profile in 256 KiB blocks of whole
// lines, as the pipeline's batches hold them.
func profileBlocks(b *testing.B, profile string) (blocks [][]byte, size int) {
	b.Helper()
	c, err := corpus.Profile(profile)
	if err != nil {
		b.Fatal(err)
	}
	c.Size = 16 << 20
	var buf bytes.Buffer
	if err := corpus.Write(&buf, c); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 256<<10)
		if n < len(rest) {
			n = bytes.LastIndexByte(rest[:n], '\n') + 1
		}
		blocks = append(blocks, rest[:n])
		rest = rest[n:]
	}
	return blocks, len(data)
}

// BenchmarkProfiles annotates each corpus profile as the deployed
// settings do: plain text, text counting codes and adding them to the
// summary or the metrics (the writer's share included), and JSON. The
// ratios between sub-benchmarks of one run are what issue 18's goals
// are stated in.
func BenchmarkProfiles(b *testing.B) {
	cat, err := catalog.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	for _, profile := range corpus.Profiles {
		blocks, size := profileBlocks(b, profile)
		for _, setting := range []string{"plain", "summary", "metrics", "json"} {
			opts := annotate.Options{Format: annotate.Text, Count: setting == "summary" || setting == "metrics"}
			if setting == "json" {
				opts.Format = annotate.JSON
			}
			a, err := annotate.FromCatalog(cat, nil, matcher.Auto, opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/%s", profile, setting), func(b *testing.B) {
				var s annotate.Scratch
				dst := make([]byte, 0, 1<<20)
				sum := reporting.NewSummary(false, 0)
				reg := metrics.New()
				batch := &pipeline.Batch{Kind: pipeline.Lines, Annotator: a}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				cpu0 := cpuTime(b)
				for b.Loop() {
					for _, blk := range blocks {
						batch.Data = blk
						batch.Stats = annotate.Stats{Hits: batch.Stats.Hits[:0]}
						dst = a.AppendLines(dst[:0], blk, nil, &s, &batch.Stats)
						batch.Out = dst
						switch setting {
						case "summary":
							sum.Add(batch)
						case "metrics":
							reg.Delivered("stdin", batch)
						}
					}
				}
				b.ReportMetric(float64(size)*float64(b.N)/(cpuTime(b)-cpu0).Seconds()/1e6, "cpu-MB/s")
			})
		}
	}
}

// BenchmarkKeyShapes annotates each profile with 10,000-key custom
// catalogs of each shape (see corpus.KeyShapes), as --catalog-replace
// does; compare with BenchmarkProfiles/*/plain.
func BenchmarkKeyShapes(b *testing.B) {
	for _, profile := range corpus.Profiles {
		benchKeyShapes(b, profile)
	}
}

func benchKeyShapes(b *testing.B, profile string) {
	blocks, size := profileBlocks(b, profile)
	for _, shape := range corpus.KeyShapes {
		keys, err := corpus.ShapedKeys(shape, 10000, 1)
		if err != nil {
			b.Fatal(err)
		}
		m, err := matcher.New(keys, matcher.Auto)
		if err != nil {
			b.Fatal(err)
		}
		notes := make([]annotate.Note, len(keys))
		for i, k := range keys {
			notes[i] = annotate.Note{Code: k, Message: "m"}
		}
		a, err := annotate.New(m, notes, annotate.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(profile+"/"+shape, func(b *testing.B) {
			var s annotate.Scratch
			dst := make([]byte, 0, 1<<20)
			b.SetBytes(int64(size))
			cpu0 := cpuTime(b)
			for b.Loop() {
				for _, blk := range blocks {
					var st annotate.Stats
					dst = a.AppendLines(dst[:0], blk, nil, &s, &st)
				}
			}
			b.ReportMetric(float64(size)*float64(b.N)/(cpuTime(b)-cpu0).Seconds()/1e6, "cpu-MB/s")
		})
	}
}
