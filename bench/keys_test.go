// Package bench holds the benchmarks that span packages; the programs
// beside it (e2e.sh, cmd/, kafka/, soak/, tailcheck/) measure the binary.
package bench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/bench/corpus"
	"github.com/annotator-dev/annotator/matcher"
)

// keyText is 8 MiB of the default corpus, and the same text with one of
// keys added to 2% of the lines.
func keyText(b *testing.B, keys []string) (none, hits []byte) {
	b.Helper()
	c := corpus.Default()
	c.Size = 8 << 20
	var buf bytes.Buffer
	if err := corpus.Write(&buf, c); err != nil {
		b.Fatal(err)
	}
	none = buf.Bytes()
	r := rand.New(rand.NewPCG(2, 2))
	for i, line := range bytes.SplitAfter(none, []byte{'\n'}) {
		if i%50 == 0 && len(line) > 0 {
			hits = append(hits, line[:len(line)-1]...)
			hits = append(hits, " key="...)
			hits = append(hits, keys[r.IntN(len(keys))]...)
			hits = append(hits, '\n')
			continue
		}
		hits = append(hits, line...)
	}
	return none, hits
}

// BenchmarkCustomKeys annotates text with a custom catalog of 100 to
// 100,000 string keys, none of them in the text or one on 2% of the
// lines, as annotator --catalog-replace does: build-s is the start-up
// (building the matcher), heap-MiB what the matcher holds, cpu-MB/s the
// throughput per CPU second (steadier than MB/s on a busy machine).
func BenchmarkCustomKeys(b *testing.B) {
	for _, n := range []int{100, 1000, 10000, 100000} {
		keys := corpus.Keys(n, 1)
		none, hits := keyText(b, keys)
		notes := make([]annotate.Note, n)
		for i, k := range keys {
			notes[i] = annotate.Note{Code: k, Message: "m"}
		}
		for _, e := range []matcher.Engine{matcher.AhoCorasick} {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			t0 := time.Now()
			m, err := matcher.New(keys, e)
			if err != nil {
				b.Fatal(err)
			}
			build := time.Since(t0)
			runtime.GC()
			runtime.ReadMemStats(&after)
			heap := float64(max(0, int64(after.HeapAlloc)-int64(before.HeapAlloc))) / (1 << 20)
			a, err := annotate.New(m, notes, annotate.Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, text := range []struct {
				name string
				data []byte
				want int64
			}{{"none", none, 0}, {"hits", hits, int64(bytes.Count(hits, []byte(" key=")))}} {
				b.Run(fmt.Sprintf("%s/%d/%s", e, n, text.name), func(b *testing.B) {
					b.SetBytes(int64(len(text.data)))
					b.ReportAllocs()
					var s annotate.Scratch
					out := make([]byte, 0, len(text.data)*2)
					cpu0 := cpuTime(b)
					for b.Loop() {
						var st annotate.Stats
						out = a.AppendLines(out[:0], text.data, nil, &s, &st)
						if st.Annotated != text.want {
							b.Fatalf("%d lines annotated, want %d", st.Annotated, text.want)
						}
					}
					cpu := cpuTime(b) - cpu0
					b.ReportMetric(float64(len(text.data))*float64(b.N)/cpu.Seconds()/1e6, "cpu-MB/s")
					b.ReportMetric(build.Seconds(), "build-s")
					b.ReportMetric(heap, "heap-MiB")
				})
			}
			runtime.KeepAlive(m)
		}
	}
}

// BenchmarkBuiltinCodes is the same measurement with the built-in
// catalog (the numeric engine), the yardstick for the custom catalogs.
func BenchmarkBuiltinCodes(b *testing.B) {
	keys, err := corpus.Codes()
	if err != nil {
		b.Fatal(err)
	}
	none, _ := keyText(b, []string{"x"})
	m, err := matcher.New(keys, matcher.Auto)
	if err != nil {
		b.Fatal(err)
	}
	notes := make([]annotate.Note, len(keys))
	for i, k := range keys {
		notes[i] = annotate.Note{Code: k}
	}
	a, err := annotate.New(m, notes, annotate.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(none)))
	var s annotate.Scratch
	out := make([]byte, 0, len(none)*2)
	cpu0 := cpuTime(b)
	for b.Loop() {
		var st annotate.Stats
		out = a.AppendLines(out[:0], none, nil, &s, &st)
	}
	b.ReportMetric(float64(len(none))*float64(b.N)/(cpuTime(b)-cpu0).Seconds()/1e6, "cpu-MB/s")
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
