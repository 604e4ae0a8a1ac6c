package reporting

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
)

// TestUnknownCountedApart: many numbers not in the catalog are counted
// apart from the codes, the ten most frequent listed with their places
// (across files), the rest totalled; the codes' own figures do not move.
func TestUnknownCountedApart(t *testing.T) {
	var text strings.Builder
	text.WriteString("898001\n")
	// Value 810000+i is seen 20-i times (i < 15): 810000 most often.
	for i := 0; i < 15; i++ {
		for range 20 - i {
			fmt.Fprintf(&text, "room=%d gid:%d\n", 810000+i, 810000+i)
		}
	}
	s := NewSummary(true, 0)
	a := testAnnotator(t)
	feed(a, s, "a.log", text.String(), 7)
	feed(a, s, "b.log", "last 810000\n", 7)
	var b strings.Builder
	if err := s.Write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	seen := 2*(20+19+18+17+16+15+14+13+12+11+10+9+8+7+6) + 1
	if want := "1 code seen, 1 distinct"; !strings.HasSuffix(lines[0], want) {
		t.Errorf("header %q, want it to end %q", lines[0], want)
	}
	if want := fmt.Sprintf("%d numbers shaped like codes that are not in the catalog, 15 distinct", seen); lines[1] != want {
		t.Errorf("second line %q, want %q", lines[1], want)
	}
	var unknownRows []string
	for _, l := range lines {
		if strings.Contains(l, "(not in the catalog)") {
			unknownRows = append(unknownRows, strings.Fields(l)[0])
		}
	}
	if got := strings.Join(unknownRows, " "); got != "810000 810001 810002 810003 810004 810005 810006 810007 810008 810009" {
		t.Errorf("unknown rows %s", got)
	}
	if !strings.HasPrefix(lines[4], "898001 ") {
		t.Errorf("the catalog's code is not the first row: %q", lines[4])
	}
	if f := strings.Fields(lines[5]); f[0] != "810000" || f[1] != "41" || f[3] != "a.log:2" || f[4] != "b.log:1" {
		t.Errorf("810000's count or places wrong:\n%s", b.String())
	}
	left := 2 * (10 + 9 + 8 + 7 + 6)
	if want := fmt.Sprintf("... and 5 more numbers not in the catalog, seen %d times\n", left); !strings.HasSuffix(b.String(), want) {
		t.Errorf("got\n%s\nwant it to end %q", b.String(), want)
	}
}

// TestUnknownTop: the one-pass selection gives the rows a full sort
// would, ties by value.
func TestUnknownTop(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	var u unknownNumbers
	u.setStream("")
	want := map[int32]int64{}
	for range 5000 {
		v := int32(800000 + r.IntN(300)*r.IntN(300))
		u.add(v, 1)
		want[v]++
	}
	u.add(799999, 1) // not the shape of a code: ignored
	u.add(900000, 1)
	type kv struct {
		v int32
		n int64
	}
	var all []kv
	for v, n := range want {
		all = append(all, kv{v, n})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].n != all[j].n {
			return all[i].n > all[j].n
		}
		return all[i].v < all[j].v
	})
	if u.distinct != int64(len(want)) || u.seen != 5000 {
		t.Fatalf("distinct %d seen %d, want %d and 5000", u.distinct, u.seen, len(want))
	}
	for _, n := range []int{1, 10, 25} {
		got := u.top(n)
		for i, row := range got {
			if row.code != fmt.Sprint(all[i].v) || row.count != all[i].n || row.known {
				t.Fatalf("top(%d) row %d: %s×%d, want %d×%d", n, i, row.code, row.count, all[i].v, all[i].n)
			}
		}
		if len(got) != n {
			t.Fatalf("top(%d) gave %d rows", n, len(got))
		}
	}
}

// TestSummaryAddAllocs: counting numbers not in the catalog allocates
// nothing per batch, however many distinct values come.
func TestSummaryAddAllocs(t *testing.T) {
	a := testAnnotator(t)
	b := &pipeline.Batch{Kind: pipeline.Lines, Stream: "a.log", Annotator: a}
	for i := range 2000 {
		b.Stats.Hits = append(b.Stats.Hits, annotate.Hit{Line: int64(i), Key: matcher.Unknown, Number: int32(800000 + i*37)})
	}
	b.Stats.Lines = 2000
	s := NewSummary(true, 0)
	s.Add(b)
	if n := testing.AllocsPerRun(100, func() {
		for i := range b.Stats.Hits {
			b.Stats.Hits[i].Number++
		}
		s.Add(b)
	}); n != 0 {
		t.Errorf("%v allocations per batch of 2000 unknown numbers", n)
	}
}
