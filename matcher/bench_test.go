package matcher_test

import (
	"bytes"
	"testing"

	"github.com/annotator-dev/annotator/bench/corpus"
	"github.com/annotator-dev/annotator/matcher"
)

// benchCorpus is 16 MiB of the default benchmark corpus (2% of lines with a
// code).
func benchCorpus(b *testing.B, c corpus.Config) []byte {
	b.Helper()
	var buf bytes.Buffer
	if err := corpus.Write(&buf, c); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func benchMatchers(b *testing.B) map[string]matcher.Matcher {
	b.Helper()
	codes, err := corpus.Codes()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]matcher.Matcher{}
	for _, e := range []matcher.Engine{matcher.Numeric, matcher.AhoCorasick} {
		m, err := matcher.New(codes, e)
		if err != nil {
			b.Fatal(err)
		}
		out[string(e)] = m
	}
	return out
}

// BenchmarkFirst scans a whole block for its first code, then goes on
// after it, as the annotator does over a block of lines: this is the cost
// of the bytes that hold no code.
func BenchmarkFirst(b *testing.B) {
	c := corpus.Default()
	c.Size = 16 << 20
	data := benchCorpus(b, c)
	for name, m := range benchMatchers(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				for rest := data; ; {
					p := m.First(rest)
					if p < 0 {
						break
					}
					rest = rest[p+1:]
				}
			}
		})
	}
}

// BenchmarkFindLines runs Find on every line, the per-record path (Kafka
// values, JSON output).
func BenchmarkFindLines(b *testing.B) {
	c := corpus.Default()
	c.Size = 16 << 20
	data := benchCorpus(b, c)
	lines := bytes.SplitAfter(data, []byte{'\n'})
	for name, m := range benchMatchers(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			dst := make([]matcher.Match, 0, 16)
			for b.Loop() {
				for _, l := range lines {
					dst = m.Find(l, 0, len(l), dst[:0])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(lines)), "ns/line")
		})
	}
}

// BenchmarkShapedKeys scans each corpus profile for the first key of a
// catalog of 10,000 five-digit codes (the digits key shape: the digit-run
// engine) and of 10,000 mixed-case names (the case shape: the bigram
// prefilter), as the annotator does over a block of lines, against the
// built-in codes on the same text.
func BenchmarkShapedKeys(b *testing.B) {
	digits, err := corpus.ShapedKeys("digits", 10000, 1)
	if err != nil {
		b.Fatal(err)
	}
	mixedCase, err := corpus.ShapedKeys("case", 10000, 1)
	if err != nil {
		b.Fatal(err)
	}
	codes, err := corpus.Codes()
	if err != nil {
		b.Fatal(err)
	}
	for _, profile := range corpus.Profiles {
		c, err := corpus.Profile(profile)
		if err != nil {
			b.Fatal(err)
		}
		c.Size = 16 << 20
		data := benchCorpus(b, c)
		for _, k := range []struct {
			name string
			keys []string
		}{{"digits", digits}, {"case", mixedCase}, {"codes", codes}} {
			m, err := matcher.New(k.keys, matcher.Auto)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(profile+"/"+k.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					for rest := data; ; {
						p := m.First(rest)
						if p < 0 {
							break
						}
						rest = rest[p+1:]
					}
				}
			})
		}
	}
}
