package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sources"
)

// recordCollect is a record sink that keeps a copy of every output.
type recordCollect struct {
	values []string
	codes  [][]string
}

func (c *recordCollect) Write(_ context.Context, b *pipeline.Batch) error {
	for _, o := range b.Outs {
		c.values = append(c.values, string(o.Value))
		c.codes = append(c.codes, append([]string(nil), o.Codes...))
	}
	return nil
}

func (*recordCollect) Close() error  { return nil }
func (*recordCollect) TakesRecords() {}

// TestRecordSinkLongLines: a record sink gets every line as one record,
// with all its codes, however small the read buffer that cut it in pieces.
func TestRecordSinkLongLines(t *testing.T) {
	in := corpus(rand.New(rand.NewSource(3)), 300<<10)
	for _, opts := range []annotate.Options{
		{Format: annotate.Text}, {Format: annotate.JSON}, {Format: annotate.Text, OnlyMatching: true},
	} {
		a := annotatorWith(t, opts)
		var want recordCollect
		var s annotate.Scratch
		var st annotate.Stats
		for _, line := range strings.SplitAfter(string(in), "\n") {
			if line == "" {
				continue
			}
			body := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			out := a.AppendRecord(nil, []byte(body), nil, &s, &st)
			if len(s.Matches()) == 0 && opts.OnlyMatching {
				continue
			}
			want.values = append(want.values, string(out))
			var codes []string
			for _, m := range s.Matches() {
				codes = append(codes, a.Note(m.Key).Code)
			}
			want.codes = append(want.codes, codes)
		}
		for _, bufSize := range []int{64, 1000, 1 << 20} {
			name := fmt.Sprintf("%+v/buffer %d", opts, bufSize)
			var got recordCollect
			src := sources.NewFramer(bytes.NewReader(in), "", nil, sources.NewPool(bufSize, 4))
			if _, err := pipeline.Run(context.Background(), src, a, &got, pipeline.Options{Workers: 2}); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(got.values) != len(want.values) {
				t.Fatalf("%s: %d records, want %d", name, len(got.values), len(want.values))
			}
			for i := range want.values {
				if got.values[i] != want.values[i] {
					t.Fatalf("%s: record %d = %.80q…, want %.80q…", name, i, got.values[i], want.values[i])
				}
				if fmt.Sprint(got.codes[i]) != fmt.Sprint(want.codes[i]) {
					t.Fatalf("%s: record %d codes %v, want %v", name, i, got.codes[i], want.codes[i])
				}
			}
		}
	}
}

// TestRecordSinkTooLong: a line longer than MaxRecord stops the run with an
// error naming the line, and nothing after it is acknowledged.
func TestRecordSinkTooLong(t *testing.T) {
	in := "one 898001\ntwo\n" + strings.Repeat("x", 5000) + "\nafter\n"
	a := annotator(t, annotate.Text)
	var got recordCollect
	src := sources.NewFramer(strings.NewReader(in), "app.log", nil, sources.NewPool(64, 4))
	var acked int64
	src.OnDone = func(off int64) { acked = off }
	_, err := pipeline.Run(context.Background(), src, a, &got, pipeline.Options{Workers: 2, MaxRecord: 1000})
	if err == nil || !strings.Contains(err.Error(), "line 3 of app.log is longer than 1000 bytes") {
		t.Fatalf("Run error = %v, want one naming line 3 of app.log", err)
	}
	if acked != int64(len("one 898001\ntwo\n")) {
		t.Errorf("acknowledged up to %d, want the two lines before the long one", acked)
	}
	if len(got.values) != 2 {
		t.Errorf("sink got %d records, want 2: %q", len(got.values), got.values)
	}
}

// recordBatches hands out the records in batches of per, once each.
type recordBatches struct {
	recs []pipeline.Record
	per  int
}

func (s *recordBatches) Next(context.Context) (*pipeline.Batch, error) {
	if len(s.recs) == 0 {
		return nil, io.EOF
	}
	n := min(s.per, len(s.recs))
	b := &pipeline.Batch{Kind: pipeline.Records, Records: s.recs[:n]}
	s.recs = s.recs[n:]
	return b, nil
}

// sharedOut is a record sink that checks that every output of a batch
// lies in the batch's Out, and keeps copies of the values.
type sharedOut struct {
	t      *testing.T
	values []string
}

func (c *sharedOut) Write(_ context.Context, b *pipeline.Batch) error {
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b.Out)))
	hi := lo + uintptr(len(b.Out))
	for i, o := range b.Outs {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(o.Value)))
		if len(o.Value) > 0 && (p < lo || p+uintptr(len(o.Value)) > hi) {
			c.t.Errorf("output %d of a batch of %d lies outside the batch's Out: it keeps an array Out outgrew alive", i, len(b.Outs))
			break
		}
	}
	for _, o := range b.Outs {
		c.values = append(c.values, string(o.Value))
	}
	return nil
}

func (*sharedOut) Close() error  { return nil }
func (*sharedOut) TakesRecords() {}

// TestRecordOutputsShareOut: a record batch's outputs lie in the batch's
// final Out, in order, even when the output outgrows the room made for
// it (JSON, escaped bytes): outputs cut from an array Out outgrew would
// keep every such array alive until the batch is delivered.
func TestRecordOutputsShareOut(t *testing.T) {
	var recs []pipeline.Record
	for i := 0; i < 3000; i++ {
		v := fmt.Sprintf("record %d \"quoted\" \x01 error 898001", i)
		if i%7 == 0 {
			v = strings.Repeat("\x02", 500) // escaped six bytes to one
		}
		recs = append(recs, pipeline.Record{Value: []byte(v), Meta: []byte(`"offset":1,`)})
	}
	for _, opts := range []annotate.Options{{Format: annotate.JSON}, {Format: annotate.Text}, {Format: annotate.JSON, OnlyMatching: true}} {
		a := annotatorWith(t, opts)
		sink := &sharedOut{t: t}
		if _, err := pipeline.Run(context.Background(), &recordBatches{recs: recs, per: 1000}, a, sink, pipeline.Options{}); err != nil {
			t.Fatal(err)
		}
		var s annotate.Scratch
		var st annotate.Stats
		var want []string
		for _, r := range recs {
			out := a.AppendRecord(nil, r.Value, r.Meta, &s, &st)
			if len(s.Matches()) == 0 && opts.OnlyMatching {
				continue
			}
			want = append(want, string(out))
		}
		if !slices.Equal(sink.values, want) {
			t.Errorf("%+v: %d outputs differ from annotating each record alone (%d)", opts, len(sink.values), len(want))
		}
	}
}
