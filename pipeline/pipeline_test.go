package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sources"
)

func annotator(t testing.TB, format annotate.Format) *annotate.Annotator {
	return annotatorWith(t, annotate.Options{Format: format})
}

func annotatorWith(t testing.TB, opts annotate.Options) *annotate.Annotator {
	t.Helper()
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	a, err := annotate.FromCatalog(c, nil, matcher.Auto, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// collect is a sink that keeps everything, optionally failing at a batch.
type collect struct {
	mu      sync.Mutex
	out     bytes.Buffer
	batches int
	failAt  int // 1-based batch number to fail on; 0 never
	slow    time.Duration
}

func (c *collect) Write(_ context.Context, b *pipeline.Batch) error {
	if c.slow > 0 {
		time.Sleep(c.slow) // a slow sink, not synchronisation
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches++
	if c.batches == c.failAt {
		return errors.New("sink broke")
	}
	c.out.Write(b.Out)
	return nil
}

func (c *collect) Close() error { return nil }

// corpus makes input with long lines, CRLF, codes and no final newline.
func corpus(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	words := []string{"898001", "871310", "1898001", "3.898001", "x", "错误码", "\xff", "\r", "800012", " ", "899999"}
	for b.Len() < n {
		k := r.Intn(40)
		if r.Intn(50) == 0 {
			k = 20000 // longer than the small buffers used below
		}
		for i := 0; i < k; i++ {
			b.WriteString(words[r.Intn(len(words))])
		}
		if r.Intn(3) == 0 {
			b.WriteString("\r\n")
		} else {
			b.WriteByte('\n')
		}
	}
	// Long lines without a code, and with one only at their very end.
	b.WriteString(strings.Repeat("x", 30000) + "\n")
	b.WriteString(strings.Repeat("y", 30000) + " 898001\r\n")
	b.WriteString(strings.Repeat("z", 30000) + "\n")
	b.WriteString("tail without newline 898001")
	return b.Bytes()
}

// TestOrderedAndExact runs real pipes through the pipeline with several
// workers and tiny buffers: the output must equal annotating the whole
// input in one go, byte for byte, and the codes counted per delivered
// batch (long lines' pieces included) must be those of the whole input.
func TestOrderedAndExact(t *testing.T) {
	in := corpus(rand.New(rand.NewSource(11)), 2<<20)
	for _, opts := range []annotate.Options{
		{Format: annotate.Text}, {Format: annotate.JSON},
		{Format: annotate.Text, OnlyMatching: true}, {Format: annotate.JSON, OnlyMatching: true},
		{Format: annotate.Text, Count: true}, {Format: annotate.JSON, OnlyMatching: true, Count: true},
	} {
		format := fmt.Sprintf("%+v", opts)
		a := annotatorWith(t, opts)
		var s annotate.Scratch
		var st annotate.Stats
		want := a.AppendLines(nil, in, nil, &s, &st)
		for _, bufSize := range []int{64, 4096, 1 << 20} {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			go func() { // writer: ends when it has written everything
				r := rand.New(rand.NewSource(5))
				rest := in
				for len(rest) > 0 {
					n := min(len(rest), 1+r.Intn(100000))
					pw.Write(rest[:n])
					rest = rest[n:]
				}
				pw.Close()
			}()
			sink := &collect{}
			src := sources.NewFramer(pr, "", nil, sources.NewPool(bufSize, 6))
			// The hits of each delivered batch, numbered by line in the
			// whole input.
			var hits []annotate.Hit
			var lines int64
			delivered := func(b *pipeline.Batch) {
				for _, h := range b.Stats.Hits {
					h.Line += lines
					hits = append(hits, h)
				}
				lines += b.Stats.Lines
			}
			got, err := pipeline.Run(context.Background(), src, a, sink, pipeline.Options{Workers: 3, Delivered: delivered})
			pr.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sink.out.Bytes(), want) {
				t.Fatalf("%s, buffer %d: output differs from whole-input annotation (got %d bytes, want %d)",
					format, bufSize, sink.out.Len(), len(want))
			}
			if got.Lines != st.Lines || got.Annotated != st.Annotated || got.Codes != st.Codes {
				t.Errorf("%s, buffer %d: stats %+v, want %+v", format, bufSize, got, st)
			}
			if !reflect.DeepEqual(hits, st.Hits) {
				t.Errorf("%s, buffer %d: %d hits delivered, want %d", format, bufSize, len(hits), len(st.Hits))
			}
			if opts.Count && len(hits) < 1000 {
				t.Errorf("%s: only %d hits: the test input lacks codes", format, len(hits))
			}
		}
	}
}

// TestDoneOnlyAfterSink checks the acknowledgement path: offsets are
// reported in order, only for batches the sink took, and never for a batch
// the sink refused or anything after it.
func TestDoneOnlyAfterSink(t *testing.T) {
	in := []byte(strings.Repeat("line 898001 with a code\nplain line\n", 2000))
	a := annotator(t, annotate.Text)
	sink := &collect{failAt: 4}
	src := sources.NewFramer(bytes.NewReader(in), "f", nil, sources.NewPool(1000, 4))
	var offsets []int64
	src.OnDone = func(off int64) { offsets = append(offsets, off) }
	_, err := pipeline.Run(context.Background(), src, a, sink, pipeline.Options{Workers: 2})
	if err == nil || !strings.Contains(err.Error(), "sink broke") {
		t.Fatalf("Run error = %v, want the sink's", err)
	}
	if len(offsets) != 3 {
		t.Fatalf("acknowledged %d batches, want the 3 the sink took: %v", len(offsets), offsets)
	}
	for i, off := range offsets {
		if off <= 0 || (i > 0 && off <= offsets[i-1]) || in[off-1] != '\n' {
			t.Fatalf("offset %d = %d: not increasing or not at a line end", i, off)
		}
	}
	// What was acknowledged is exactly what reached the sink.
	var s annotate.Scratch
	var st annotate.Stats
	want := a.AppendLines(nil, in[:offsets[2]], nil, &s, &st)
	if !bytes.Equal(sink.out.Bytes(), want) {
		t.Errorf("sink holds %d bytes, acknowledged input annotates to %d", sink.out.Len(), len(want))
	}
}

// blockingReader hands out data and then blocks until closed, like a quiet
// pipe.
type blockingReader struct {
	data   []byte
	closed chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.closed
	return 0, io.EOF
}

// TestCancelDrains: cancelling stops reading but still delivers and
// acknowledges every whole line already read.
func TestCancelDrains(t *testing.T) {
	a := annotator(t, annotate.Text)
	r := &blockingReader{data: []byte("one 898001\ntwo\n"), closed: make(chan struct{})}
	defer close(r.closed)
	src := sources.NewFramer(r, "", nil, sources.NewPool(1<<10, 2))
	acked := make(chan int64, 10)
	src.OnDone = func(off int64) { acked <- off }
	sink := &collect{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := pipeline.Run(ctx, src, a, sink, pipeline.Options{Workers: 2})
		done <- err
	}()
	select {
	case off := <-acked:
		if off != 15 {
			t.Errorf("acknowledged offset %d, want 15", off)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lines already read were not delivered")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
	if got := sink.out.String(); got != "one 898001 [898001 User exists | 用户已存在]\ntwo\n" {
		t.Errorf("output %q", got)
	}
}
