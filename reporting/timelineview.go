package reporting

import (
	"strconv"
	"time"
)

// The timeline as outputs read it: in buckets of a size they choose, a
// multiple of the one kept.

// view is the timeline in buckets of a given size, a multiple of the
// one kept.
type view struct {
	bucket int64 // seconds
	start  int64 // index of the first bucket
	n      int
}

// view returns the timeline in buckets of the kept size times f.
func (t *Timeline) view(f int64) view {
	if !t.any {
		return view{bucket: t.bucket * f}
	}
	lo, hi := floorDiv(t.lo, f), floorDiv(t.hi, f)
	return view{bucket: t.bucket * f, start: lo, n: int(hi - lo + 1)}
}

// fit returns the view with the smallest bucket giving at most cols
// buckets, or the bucket asked for whatever the columns.
func (t *Timeline) fit(cols int) view {
	if t.asked {
		return t.view(1)
	}
	v := t.view(1)
	for v.n > cols {
		next := v.bucket * 2
		for _, b := range niceBuckets {
			if b > v.bucket {
				next = b
				break
			}
		}
		v = t.view(next / t.bucket)
	}
	return v
}

// counts returns the code's count per bucket of v.
func (t *Timeline) counts(v view, st *codeStat) []int64 {
	var s *series
	if st.known {
		s = t.known[st.code]
	} else if n, err := strconv.Atoi(st.code); err == nil {
		s = t.unknown[int32(n)]
	}
	out := make([]int64, v.n)
	if s == nil {
		return out
	}
	f := v.bucket / t.bucket
	for j, c := range s.n {
		out[floorDiv(s.lo+int64(j), f)-v.start] += c
	}
	return out
}

// TimelineRows is how many codes the timeline draws when --top does not
// say: the most frequent, as in the table; a chart of every code seen
// would bury them.
const TimelineRows = 10

// drawn returns the summary's rows the timeline draws, and how many of
// the table's rows it leaves out.
func (t *Timeline) drawn(s *Summary) ([]*codeStat, int) {
	shown, _, _, _, _ := s.rows()
	n := TimelineRows
	if s.top > 0 {
		n = s.top
	}
	n = min(n, len(shown))
	return shown[:n], len(shown) - n
}

// bucketTime is the start of bucket i of v.
func (t *Timeline) bucketTime(v view, i int) time.Time {
	return time.Unix((v.start+int64(i))*v.bucket, 0).In(t.opt.Loc)
}
