package reporting

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
)

// counting is an annotator that counts codes, as a run with --summary
// builds it.
func counting(t *testing.T, keys []string, notes []annotate.Note) *annotate.Annotator {
	t.Helper()
	m, err := matcher.NewWithUnknown(keys, matcher.Auto)
	if err != nil {
		t.Fatal(err)
	}
	a, err := annotate.New(m, notes, annotate.Options{Count: true})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var testNotes = []annotate.Note{
	{Code: "898001", Message: "User exists", Meaning: "用户已存在"},
	{Code: "898002", Message: "No sush user", Meaning: "用户不存在"},
	{Code: "E_WIDE", Message: "全角ＡＢ", Meaning: "x"},
}

func testAnnotator(t *testing.T) *annotate.Annotator {
	keys := make([]string, len(testNotes))
	for i, n := range testNotes {
		keys[i] = n.Code
	}
	return counting(t, keys, testNotes)
}

// feed annotates data in batches of whole lines of at most n lines, as
// the pipeline does, and hands them to s.
func feed(a *annotate.Annotator, s *Summary, stream, data string, n int) {
	lines := strings.SplitAfter(data, "\n")
	for len(lines) > 0 {
		k := min(n, len(lines))
		b := &pipeline.Batch{Kind: pipeline.Lines, Data: []byte(strings.Join(lines[:k], "")), Stream: stream, Annotator: a}
		lines = lines[k:]
		var sc annotate.Scratch
		b.Out = a.AppendLines(nil, b.Data, nil, &sc, &b.Stats)
		s.Add(b)
	}
}

const known = "start\n" +
	"send failed 898002\n" +
	"retry 898002 again 898002\n" +
	"login 898001\n" +
	"odd 899999\n" +
	"send failed 898002\n" +
	"end\n"

func TestSummaryTable(t *testing.T) {
	for _, n := range []int{1, 2, 100} { // batch boundaries do not matter
		s := NewSummary(false, 0)
		feed(testAnnotator(t), s, "", known, n)
		var b strings.Builder
		if err := s.Write(&b); err != nil {
			t.Fatal(err)
		}
		// The number not in the catalog is counted apart, and its share
		// is of those numbers.
		want := "7 lines read, 4 with a code; 4 codes seen, 2 distinct\n" +
			"1 number shaped like a code that is not in the catalog, 1 distinct\n\n" +
			"CODE    COUNT   SHARE  FIRST  LAST  MESSAGE               MEANING\n" +
			"898002      3   75.0%  2      6     No sush user          用户不存在\n" +
			"898001      1   25.0%  4      4     User exists           用户已存在\n" +
			"899999      1  100.0%  5      5     (not in the catalog)\n"
		if b.String() != want {
			t.Errorf("batches of %d lines:\n%s\nwant\n%s", n, b.String(), want)
		}
	}
}

// TestWideColumns: Chinese and full-width text takes two columns, so the
// columns after it stay aligned on a terminal.
func TestWideColumns(t *testing.T) {
	s := NewSummary(false, 0)
	feed(testAnnotator(t), s, "", "E_WIDE 898001\n", 10)
	var b strings.Builder
	s.Write(&b)
	rows := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")[2:]
	col := -1
	for _, r := range rows {
		// The MEANING column starts at the same screen column in every row.
		i := strings.Index(r, "MEANING")
		if i < 0 {
			i = strings.LastIndex(r, "  ") + 2
		}
		w := Width(r[:i])
		if col >= 0 && w != col {
			t.Errorf("MEANING at column %d in %q, %d before", w, r, col)
		}
		col = w
	}
	if Width("用户ＡＢab\u0301") != 10 {
		t.Errorf("Width = %d", Width("用户ＡＢab\u0301"))
	}
}

func TestCountsAndPlurals(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
	s := NewSummary(false, 0)
	feed(testAnnotator(t), s, "", "898001\n", 1)
	var b strings.Builder
	s.Write(&b)
	if first := strings.SplitN(b.String(), "\n", 2)[0]; first != "1 line read, 1 with a code; 1 code seen, 1 distinct" {
		t.Errorf("got %q", first)
	}
	s = NewSummary(false, 0)
	feed(testAnnotator(t), s, "", strings.Repeat("898001\n", 1500), 64)
	b.Reset()
	s.Write(&b)
	if !strings.HasPrefix(b.String(), "1,500 lines read, 1,500 with a code; 1,500 codes seen, 1 distinct\n") ||
		!strings.Contains(b.String(), "898001  1,500  100.0%") {
		t.Errorf("got %q", b.String())
	}
}

func TestTop(t *testing.T) {
	s := NewSummary(true, 1)
	a := testAnnotator(t)
	feed(a, s, "a.log", known, 3)
	feed(a, s, "b.log", "898001 812345\n", 3)
	var b strings.Builder
	s.Write(&b)
	want := "8 lines read, 5 with a code; 5 codes seen, 2 distinct\n" +
		"2 numbers shaped like codes that are not in the catalog, 2 distinct\n\n" +
		"CODE    COUNT  SHARE  FIRST    LAST     MESSAGE       MEANING\n" +
		"898002      3  60.0%  a.log:2  a.log:6  No sush user  用户不存在\n" +
		"... and 1 more code in the catalog, seen 2 times\n" +
		"... and 2 more numbers not in the catalog, seen 2 times\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestSummaryJSON(t *testing.T) {
	s := NewSummary(true, 0)
	feed(testAnnotator(t), s, "a.log", known, 2)
	var b strings.Builder
	if err := s.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got jsonSummary
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("%v: %s", err, b.String())
	}
	if got.Lines != 7 || got.Annotated != 4 || got.Codes != 4 || got.Distinct != 2 ||
		got.Unknown != (jsonUnknown{1, 1}) || len(got.Rows) != 3 {
		t.Fatalf("%+v", got)
	}
	r := got.Rows[0]
	if r.Code != "898002" || !r.Known || r.Count != 3 || r.Share != 0.75 || r.First != (jsonPlace{"a.log", 2}) ||
		r.Last != (jsonPlace{"a.log", 6}) || r.Meaning != "用户不存在" {
		t.Errorf("row 0: %+v", r)
	}
	if r := got.Rows[2]; r.Code != "899999" || r.Known || r.Message != "" {
		t.Errorf("row 2: %+v", r)
	}
	if !strings.Contains(b.String(), "用户不存在") {
		t.Error("Chinese text escaped")
	}
}

func TestProgressLine(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	p := &Progress{total: 4 << 20, samples: []sample{{at: t0}}}
	p.bytes.Store(1 << 20)
	p.lines.Store(20000)
	if got, want := p.Line(t0.Add(2*time.Second)), "1.0 MiB, 20,000 lines read, 10,000 lines/s, 512.0 KiB/s, 25% of 4.0 MiB, ETA 6s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// A stall shows at once as one: the rate is the recent one, not the
	// average since the start.
	if got, want := p.Line(t0.Add(8*time.Second)), "1.0 MiB, 20,000 lines read, 0 lines/s, 0 B/s, 25% of 4.0 MiB, stalled"; got != want {
		t.Errorf("after a stall: got %q, want %q", got, want)
	}
	// Going again at 1 MiB/s: the rate over the last seconds, and the ETA
	// at that rate.
	p.bytes.Store(3 << 20)
	p.lines.Store(60000)
	got := p.Line(t0.Add(10 * time.Second))
	if want := "3.0 MiB, 60,000 lines read, 5,000 lines/s, 256.0 KiB/s, 75% of 4.0 MiB, ETA 4s"; got != want {
		t.Errorf("after resuming: got %q, want %q", got, want)
	}
	p = &Progress{samples: []sample{{at: t0}}}
	p.bytes.Store(500)
	p.lines.Store(1)
	if got, want := p.Line(t0.Add(time.Second)), "500 B, 1 line read, 1 lines/s, 500 B/s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
