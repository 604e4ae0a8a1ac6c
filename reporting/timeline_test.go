package reporting

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/pipeline"
)

// feedBoth annotates data in batches of at most n lines and hands them to
// the summary and the timeline, as the run's writer does.
func feedBoth(a *annotate.Annotator, s *Summary, tl *Timeline, stream, data string, n int) {
	lines := strings.SplitAfter(data, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for len(lines) > 0 {
		k := min(n, len(lines))
		b := &pipeline.Batch{Kind: pipeline.Lines, Data: []byte(strings.Join(lines[:k], "")), Stream: stream, Annotator: a}
		lines = lines[k:]
		var sc annotate.Scratch
		b.Out = a.AppendLines(nil, b.Data, nil, &sc, &b.Stats)
		s.Add(b)
		tl.Add(b)
	}
}

// buckets lists the timeline's non-empty buckets as "START CODE COUNT"
// lines, and "untimed N" first when some codes had no time.
func buckets(tl *Timeline, s *Summary) []string {
	var out []string
	if tl.untimed > 0 {
		out = append(out, fmt.Sprintf("untimed %d", tl.untimed))
	}
	v := tl.view(1)
	shown, _, _, _, _ := s.rows()
	sort.Slice(shown, func(i, j int) bool { return shown[i].code < shown[j].code })
	var rows []string
	for i := 0; i < v.n; i++ {
		for _, st := range shown {
			if c := tl.counts(v, st)[i]; c > 0 {
				rows = append(rows, fmt.Sprintf("%s %s %d", tl.bucketTime(v, i).UTC().Format(time.RFC3339), st.code, c))
			}
		}
	}
	return append(out, rows...)
}

func readGolden(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestTimelineGolden feeds testdata/timeline/STYLE.log in batches of 1,
// 2, 3 and 100 lines (a line without a time takes the time of the line
// before it, across batches too) and compares the buckets of one minute
// with STYLE.golden.
func TestTimelineGolden(t *testing.T) {
	logs, _ := filepath.Glob("testdata/timeline/*.log")
	if len(logs) < 8 {
		t.Fatalf("golden logs: %v", logs)
	}
	ref := time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want := readGolden(t, strings.TrimSuffix(path, ".log")+".golden")
		for _, n := range []int{1, 2, 3, 100} {
			s := NewSummary(false, 0)
			tl := NewTimeline(TimelineOptions{Bucket: time.Minute, Reference: func(string) time.Time { return ref }})
			feedBoth(testAnnotator(t), s, tl, filepath.Base(path), string(data), n)
			if got := buckets(tl, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s in batches of %d lines:\n got %q\nwant %q", path, n, got, want)
			}
		}
	}
}

// A syslog file read with no full date before it takes its year from the
// reference (a file's modification time), and lines dated after the
// reference are from the year before.
func TestSyslogYearFromReference(t *testing.T) {
	for _, tc := range []struct {
		ref  time.Time
		want string
	}{
		{time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), "2026-12-04T10:20:00Z"},
		{time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), "2026-12-04T10:20:00Z"},
	} {
		s := NewSummary(false, 0)
		tl := NewTimeline(TimelineOptions{Bucket: time.Minute, Reference: func(string) time.Time { return tc.ref }})
		feedBoth(testAnnotator(t), s, tl, "syslog", "Dec  4 10:20:00 host app: code=898001\n", 1)
		if got := buckets(tl, s); len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
			t.Errorf("reference %s: got %q, want %s", tc.ref, got, tc.want)
		}
	}
}

// --timezone: times without a zone are in it; the buckets are still
// aligned to whole multiples of their size.
func TestTimelineZone(t *testing.T) {
	shanghai := time.FixedZone("UTC+8", 8*3600)
	s := NewSummary(false, 0)
	tl := NewTimeline(TimelineOptions{Bucket: time.Minute, Loc: shanghai})
	feedBoth(testAnnotator(t), s, tl, "", "2026-12-04 18:20:30,000 ERROR code=898001\n", 1)
	if got := buckets(tl, s); strings.Join(got, ";") != "2026-12-04T10:20:00Z 898001 1" {
		t.Errorf("got %q", got)
	}
}

// Kafka records carry their time; a line's own text is not read.
func TestTimelineRecords(t *testing.T) {
	a := testAnnotator(t)
	at := time.Date(2026, 12, 4, 10, 20, 30, 0, time.UTC)
	b := &pipeline.Batch{Kind: pipeline.Records, Annotator: a, Records: []pipeline.Record{
		{Value: []byte("2020-01-01T00:00:00Z code=898001"), Time: at},
		{Value: []byte("no code")},
		{Value: []byte("code=898002"), Time: at.Add(time.Minute)},
	}}
	var sc annotate.Scratch
	for _, r := range b.Records {
		b.Out = a.AppendRecord(b.Out, r.Value, nil, &sc, &b.Stats)
	}
	s := NewSummary(false, 0)
	tl := NewTimeline(TimelineOptions{Bucket: time.Minute})
	s.Add(b)
	tl.Add(b)
	want := "2026-12-04T10:20:00Z 898001 1;2026-12-04T10:21:00Z 898002 1"
	if got := buckets(tl, s); strings.Join(got, ";") != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A line longer than a buffer arrives in pieces: its time is in the
// first, its codes in any.
func TestTimelineLongLine(t *testing.T) {
	a := testAnnotator(t)
	s := NewSummary(false, 0)
	tl := NewTimeline(TimelineOptions{Bucket: time.Minute})
	pieces := []struct {
		kind pipeline.Kind
		data string
	}{
		{pipeline.Piece, "2026-12-04T10:20:00Z start " + strings.Repeat("x", 100)},
		{pipeline.Piece, "2020-01-01T00:00:00Z is not this line's time code=898001"},
		{pipeline.LastPiece, " end\n"},
	}
	for _, p := range pieces {
		b := &pipeline.Batch{Kind: p.kind, Data: []byte(p.data), Annotator: a}
		var sc annotate.Scratch
		b.Out = a.AppendRecord(nil, b.Data, nil, &sc, &b.Stats)
		b.Stats.Lines = 1
		s.Add(b)
		tl.Add(b)
	}
	if got := buckets(tl, s); strings.Join(got, ";") != "2026-12-04T10:20:00Z 898001 1" {
		t.Errorf("got %q", got)
	}
}

// Memory is bounded by buckets × codes: a range past MaxBuckets widens
// the buckets (along 1s, 2s, 10s, 20s, 1m...), keeping every count and
// the alignment.
func TestTimelineWidens(t *testing.T) {
	a := testAnnotator(t)
	s := NewSummary(false, 0)
	tl := NewTimeline(TimelineOptions{})
	var in strings.Builder
	start := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	const lines = 20000
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&in, "%s code=898001\n", start.Add(time.Duration(i)*7*time.Second).Format(time.RFC3339))
	}
	feedBoth(a, s, tl, "", in.String(), 500)
	if tl.bucket != 60 { // 20000×7 s ≈ 39 h: 1m buckets give 2334
		t.Errorf("bucket %ds, want 60s", tl.bucket)
	}
	sr := tl.known["898001"]
	if len(sr.n) > MaxBuckets || sr.lo != start.Unix()/60 {
		t.Errorf("%d buckets from %d", len(sr.n), sr.lo)
	}
	var sum int64
	for _, c := range sr.n {
		sum += c
	}
	if sum != lines {
		t.Errorf("counted %d, want %d", sum, lines)
	}
}

// The JSON summary gains "timeline" in the documented shape.
func TestTimelineJSONShape(t *testing.T) {
	s := NewSummary(false, 0)
	tl := NewTimeline(TimelineOptions{Bucket: time.Minute})
	feedBoth(testAnnotator(t), s, tl, "", "2026-12-04T10:20:10Z code=898001\n"+
		"2026-12-04T10:25:00Z code=898002 code=898001\n2026-12-04T10:22:00Z 899999\n", 100)
	var buf bytes.Buffer
	if err := tl.WriteJSON(&buf, s); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Lines    int64 `json:"lines"`
		Timeline map[string]json.RawMessage
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil || got.Lines != 3 {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	keys := []string{}
	for k := range got.Timeline {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "bucket_seconds,codes,start" {
		t.Errorf("timeline members %v", keys)
	}
	var tlv struct {
		Start         string             `json:"start"`
		BucketSeconds int64              `json:"bucket_seconds"`
		Codes         map[string][]int64 `json:"codes"`
	}
	json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &struct {
		T *struct {
			Start         string             `json:"start"`
			BucketSeconds int64              `json:"bucket_seconds"`
			Codes         map[string][]int64 `json:"codes"`
		} `json:"timeline"`
	}{&tlv})
	start, err := time.Parse(time.RFC3339, tlv.Start)
	if err != nil || start.Unix()%tlv.BucketSeconds != 0 || tlv.BucketSeconds != 60 {
		t.Errorf("start %q (%v), bucket %d: not aligned", tlv.Start, err, tlv.BucketSeconds)
	}
	want := map[string][]int64{"898001": {1, 0, 0, 0, 0, 1}, "898002": {0, 0, 0, 0, 0, 1}, "899999": {0, 0, 1, 0, 0, 0}}
	if fmt.Sprint(tlv.Codes) != fmt.Sprint(want) {
		t.Errorf("codes %v, want %v", tlv.Codes, want)
	}
}

// The text timeline: a header with the range and bucket, one sparkline
// row per code shown (--top), its peak; ASCII when asked.
func TestTimelineText(t *testing.T) {
	var in strings.Builder
	for i, n := range []int{1, 0, 3, 8, 2} {
		for j := 0; j < n; j++ {
			fmt.Fprintf(&in, "2026-12-04T10:%02d:%02dZ code=898001\n", 20+i, j)
		}
	}
	in.WriteString("2026-12-04T10:24:30Z code=898002\n")
	s := NewSummary(false, 0)
	tl := NewTimeline(TimelineOptions{Bucket: time.Minute})
	feedBoth(testAnnotator(t), s, tl, "", in.String(), 3)
	var u, a strings.Builder
	tl.WriteText(&u, s, 80, false)
	tl.WriteText(&a, s, 80, true)
	wantU := "\nTimeline: 2026-12-04 10:20:00 to 2026-12-04 10:25:00 UTC, 1m per column (5)\n\n" +
		"CODE    10:20  PEAK\n" +
		"898001  ▁ ▃█▂  8 at 10:23\n" +
		"898002      █  1 at 10:24\n"
	if u.String() != wantU {
		t.Errorf("got\n%s\nwant\n%s", u.String(), wantU)
	}
	if !strings.Contains(a.String(), "898001  . -@:  8 at 10:23\n") || strings.ContainsAny(a.String(), string(blocks)) {
		t.Errorf("ASCII:\n%s", a.String())
	}
}

// skipLines finds the same line starts as a walk from newline to newline,
// whatever the line lengths and distances.
func TestSkipLines(t *testing.T) {
	var data []byte
	for i := 0; i < 3000; i++ {
		data = append(data, bytes.Repeat([]byte{'x'}, (i*37)%300)...)
		data = append(data, '\n')
	}
	data = append(data, "last without newline"...)
	naive := func(pos int, n int64) int {
		for ; n > 0 && pos < len(data); n-- {
			i := bytes.IndexByte(data[pos:], '\n')
			if i < 0 {
				return len(data)
			}
			pos += i + 1
		}
		return pos
	}
	for _, pos := range []int{0, 1, 500, 77777} {
		pos = naive(0, int64(pos%3000)) // a line start
		for _, n := range []int64{0, 1, 3, 5, 31, 33, 64, 100, 1000, 5000} {
			if got, want := skipLines(data, pos, n), naive(pos, n); got != want {
				t.Errorf("from %d, %d lines: %d, want %d", pos, n, got, want)
			}
		}
	}
}

// The timeline draws the ten most frequent codes, or --top N of them; the
// table lists them all.
func TestTimelineDrawsTopCodes(t *testing.T) {
	var notes []annotate.Note
	var keys []string
	var in strings.Builder
	for i := 0; i < 12; i++ {
		code := fmt.Sprintf("8000%02d", i)
		keys, notes = append(keys, code), append(notes, annotate.Note{Code: code, Message: "m"})
		for j := 0; j <= i; j++ { // 800011 most frequent
			fmt.Fprintf(&in, "2026-12-04T10:20:%02dZ code=%s\n", j, code)
		}
	}
	for _, top := range []int{0, 3} {
		s := NewSummary(false, top)
		tl := NewTimeline(TimelineOptions{Bucket: time.Minute})
		feedBoth(counting(t, keys, notes), s, tl, "", in.String(), 7)
		var text, js strings.Builder
		tl.WriteText(&text, s, 80, true)
		tl.WriteJSON(&js, s)
		want := map[int]int{0: 10, 3: 3}[top]
		rows := strings.Count(text.String(), "\n8000")
		if rows != want || strings.Count(js.String()[strings.Index(js.String(), `"timeline"`):], `":[`) != want || !strings.Contains(text.String(), "\n800011 ") {
			t.Errorf("--top %d: %d rows drawn, want %d:\n%s\n%s", top, rows, want, text.String(), js.String())
		}
	}
}

// Each file carries its own time: a second file's first lines do not
// take the time the first file ended with.
func TestTimelinePerStream(t *testing.T) {
	s := NewSummary(true, 0)
	tl := NewTimeline(TimelineOptions{Bucket: time.Minute})
	a := testAnnotator(t)
	feedBoth(a, s, tl, "a.log", "2026-12-04T10:20:00Z x\ncontinued code=898001\n", 1)
	feedBoth(a, s, tl, "b.log", "no time yet code=898002\n2026-12-04T10:25:00Z code=898002\n", 1)
	feedBoth(a, s, tl, "a.log", "still a code=898001\n", 1)
	want := "untimed 1;2026-12-04T10:20:00Z 898001 2;2026-12-04T10:25:00Z 898002 1"
	if got := strings.Join(buckets(tl, s), ";"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A reloaded catalog numbers its keys afresh: the counts follow the code,
// not the key's index.
func TestTimelineCatalogReload(t *testing.T) {
	notes := []annotate.Note{{Code: "898001", Message: "a"}, {Code: "898002", Message: "b"}}
	first := counting(t, []string{"898001", "898002"}, notes)
	second := counting(t, []string{"898002", "898001"}, []annotate.Note{notes[1], notes[0]})
	s := NewSummary(false, 0)
	tl := NewTimeline(TimelineOptions{Bucket: time.Minute})
	feedBoth(first, s, tl, "", "2026-12-04T10:20:00Z code=898001\n", 1)
	feedBoth(second, s, tl, "", "2026-12-04T10:21:00Z code=898001\n2026-12-04T10:21:00Z code=898002\n", 5)
	want := "2026-12-04T10:20:00Z 898001 1;2026-12-04T10:21:00Z 898001 1;2026-12-04T10:21:00Z 898002 1"
	if got := strings.Join(buckets(tl, s), ";"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A bucket asked for is doubled, not moved along the nice sizes, when the
// range passes MaxBuckets, and the header says so.
func TestTimelineAskedBucketWidens(t *testing.T) {
	var in strings.Builder
	start := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	for i := 0; i <= 5000; i += 100 {
		fmt.Fprintf(&in, "%s code=898001\n", start.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
	}
	s := NewSummary(false, 0)
	tl := NewTimeline(TimelineOptions{Bucket: time.Second})
	feedBoth(testAnnotator(t), s, tl, "", in.String(), 10)
	var b strings.Builder
	tl.WriteText(&b, s, 80, true)
	if tl.bucket != 2 || !strings.Contains(b.String(), "2s per column (2501); widened from --bucket 1s to keep 4096 buckets") {
		t.Errorf("bucket %ds:\n%s", tl.bucket, b.String())
	}
}
