package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

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
