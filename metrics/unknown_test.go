package metrics

import (
	"fmt"
	"strings"
	"testing"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
)

// TestUnknownNumbersOneSeries: a log full of numbers not in the catalog
// gives one series with their count and one with the distinct values,
// and leaves the code label's values to the catalog's codes: a code first
// seen after thousands of such numbers still has its own series.
func TestUnknownNumbersOneSeries(t *testing.T) {
	r := New()
	a := testAnnotator(t)
	var text strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&text, "room=%d size %d\n", 810000+i, 810000+i%10)
	}
	r.Delivered("stdin", annotated(a, "", text.String()))
	r.Delivered("stdin", annotated(a, "", "late 898002\n"))
	var sb strings.Builder
	r.WritePrometheus(&sb)
	ss := parseText(t, sb.String())
	if got := find(t, ss, "annotator_unknown_codes_total"); got != 6000 {
		t.Errorf("unknown numbers %v, want 6000", got)
	}
	if got := find(t, ss, "annotator_unknown_codes_distinct"); got != 3000 {
		t.Errorf("distinct unknown numbers %v, want 3000", got)
	}
	if got := find(t, ss, "annotator_annotations_total", "code", "898002"); got != 1 {
		t.Errorf("898002 counted %v times under its own label, want 1", got)
	}
	n := 0
	for _, s := range ss {
		if strings.HasPrefix(s.name, "annotator_unknown_codes") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d series for unknown numbers, want 2", n)
	}
}

// TestDeliveredUnknownAllocs: counting numbers not in the catalog
// allocates nothing per batch, however many distinct values come.
func TestDeliveredUnknownAllocs(t *testing.T) {
	r := New()
	a := testAnnotator(t)
	b := &pipeline.Batch{Kind: pipeline.Lines, Data: []byte("x\n"), Annotator: a}
	for i := range 2000 {
		b.Stats.Hits = append(b.Stats.Hits, annotate.Hit{Line: int64(i), Key: matcher.Unknown, Number: int32(800000 + i*37)})
	}
	b.Stats.Lines = 2000
	r.Delivered("stdin", b)
	if n := testing.AllocsPerRun(100, func() {
		for i := range b.Stats.Hits {
			b.Stats.Hits[i].Number = 800000 + (b.Stats.Hits[i].Number-800000+1)%100000
		}
		r.Delivered("stdin", b)
	}); n != 0 {
		t.Errorf("%v allocations per batch of 2000 unknown numbers", n)
	}
}
