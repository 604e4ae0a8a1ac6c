package reporting

import (
	"bytes"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/timeparse"
)

// TimelineOptions tune a timeline.
type TimelineOptions struct {
	// Bucket is the bucket size asked for, whole seconds; 0 lets each
	// output choose one that fits it.
	Bucket time.Duration
	// Loc is the zone of times written without one, and of the times
	// shown; nil means UTC.
	Loc *time.Location
	// Reference gives, per stream, a time near its lines (a file's
	// modification time): syslog times leave the year out, and before a
	// line with a full date it comes from here. nil means now.
	Reference func(stream string) time.Time
}

// MaxBuckets bounds the buckets a timeline keeps per code, whatever the
// range of time the input spans: past it the buckets are merged, so
// memory is bounded by the codes seen, not by the lines read.
const MaxBuckets = 4096

// niceBuckets are the bucket sizes (seconds) a timeline moves through as
// its range grows, each a whole multiple of the one before, so that
// merging is exact and every bucket stays aligned to a multiple of its
// size; past a day it doubles.
var niceBuckets = []int64{1, 2, 10, 20, 60, 120, 600, 1200, 3600, 7200, 21600, 43200, 86400}

// series counts one code per bucket, over the buckets between the first
// and the last it was seen in.
type series struct {
	lo int64 // index of n[0], in buckets since 1970
	n  []int64
}

// lineClock is what a stream carries from one batch to the next: the
// time of its last line that stated one.
type lineClock struct {
	last    time.Time
	ref     time.Time // for the year of syslog times; zero until needed
	midLine bool      // a long line's pieces are arriving
}

// Timeline counts codes per bucket of time. It is fed the delivered
// batches in input order, like Summary, and is not safe for concurrent
// use. The time of a line is read only for lines with a code, and for the
// lines before one back to the nearest that states a time: a line without
// one (a stack trace's continuation) belongs to the line before it.
type Timeline struct {
	opt       TimelineOptions
	bucket    int64 // seconds
	asked     bool  // the bucket was asked for: it doubles, not along niceBuckets
	any       bool  // a code with a time was counted
	lo, hi    int64 // bucket indices of the range seen
	first     time.Time
	lastT     time.Time
	known     map[string]*series
	unknown   map[int32]*series
	untimed   int64 // codes on lines before any line stating a time
	streams   map[string]*lineClock
	coarsened bool // the bucket asked for was widened to keep MaxBuckets
	// byKey finds the series of a key index of annotator byKeyOf without
	// a map lookup per code; a reloaded catalog starts it afresh.
	byKeyOf *annotate.Annotator
	byKey   []*series
}

// NewTimeline makes an empty timeline.
func NewTimeline(opt TimelineOptions) *Timeline {
	if opt.Loc == nil {
		opt.Loc = time.UTC
	}
	t := &Timeline{opt: opt, bucket: 1, known: map[string]*series{}, unknown: map[int32]*series{},
		streams: map[string]*lineClock{}}
	if s := int64(opt.Bucket / time.Second); s > 0 {
		t.bucket, t.asked = s, true
	}
	return t
}

// Add takes a delivered batch.
func (t *Timeline) Add(b *pipeline.Batch) {
	c := t.streams[b.Stream]
	if c == nil {
		c = &lineClock{}
		t.streams[b.Stream] = c
	}
	hits := b.Stats.Hits
	switch b.Kind {
	case pipeline.Records:
		// A record carries its own time (Kafka's record timestamp).
		for _, h := range hits {
			var at time.Time
			if h.Line >= 0 && h.Line < int64(len(b.Records)) {
				at = b.Records[h.Line].Time
			}
			t.count(b, h, at)
		}
		return
	case pipeline.Piece, pipeline.LastPiece:
		// The time is at the start of a long line: in its first piece.
		if !c.midLine {
			t.lineTime(c, b.Stream, b.Data)
		}
		c.midLine = b.Kind == pipeline.Piece
		for _, h := range hits {
			t.count(b, h, c.last)
		}
		return
	}
	c.midLine = false
	data := b.Data
	pos, line := 0, int64(0) // pos is where line starts
	resolved := 0            // c.last is the time as of data[:resolved]
	var at time.Time
	prev := int64(-1)
	for _, h := range hits {
		if h.Line != prev {
			if h.Line == line+1 { // codes on consecutive lines: no call
				if i := bytes.IndexByte(data[pos:], '\n'); i >= 0 {
					pos += i + 1
				} else {
					pos = len(data)
				}
			} else {
				pos = skipLines(data, pos, h.Line-line)
			}
			line = h.Line
			end := len(data)
			if i := bytes.IndexByte(data[pos:], '\n'); i >= 0 {
				end = pos + i + 1
			}
			if t.lineTime(c, b.Stream, data[pos:end]) {
				at = c.last // the usual case: the line states its time
			} else {
				at = t.timeBefore(c, b.Stream, data, resolved, pos)
			}
			resolved, prev = end, h.Line
		}
		t.count(b, h, at)
	}
	// Carry the batch's last stated time to the next batch.
	t.timeBefore(c, b.Stream, data, resolved, len(data))
}

// skipLines returns where the line n lines after the one at pos starts
// (len(data) past the end). Blocks are passed over by counting their
// newlines, several times faster than finding each one: lines with a code
// are a few in a hundred. A block is sized to hold fewer than n lines of
// 64 bytes or more, so that its count is rarely work thrown away.
func skipLines(data []byte, pos int, n int64) int {
	for n > 0 && pos < len(data) {
		if n > 4 {
			end := pos + int(min(n*64, 4096))
			if end <= len(data) {
				if c := int64(bytes.Count(data[pos:end], []byte{'\n'})); c < n {
					pos, n = end, n-c
					continue
				}
			}
		}
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			return len(data)
		}
		pos += i + 1
		n--
	}
	return pos
}

// timeBefore returns the time of the last line in data[from:end] that
// states one, scanning back from end, or the time carried in c when none
// does; c then holds the time as of end.
func (t *Timeline) timeBefore(c *lineClock, stream string, data []byte, from, end int) time.Time {
	for end > from {
		start := from
		if i := bytes.LastIndexByte(data[from:end-1], '\n'); i >= 0 {
			start = from + i + 1
		}
		if t.lineTime(c, stream, data[start:end]) {
			break
		}
		end = start
	}
	return c.last
}

// lineTime reads line's time into c, and reports whether it held one.
func (t *Timeline) lineTime(c *lineClock, stream string, line []byte) bool {
	year := c.last.In(t.opt.Loc).Year()
	if c.last.IsZero() {
		year = t.reference(c, stream).In(t.opt.Loc).Year()
	}
	at, style, ok := timeparse.Parse(line, t.opt.Loc, year)
	if !ok {
		return false
	}
	if style == timeparse.Syslog {
		at = t.syslogYear(c, stream, at)
	}
	c.last = at
	return true
}

// syslogYear corrects the year given to a syslog time: a log read across
// New Year goes from Dec to Jan of the next year, and a file written
// early in January holds lines of the December before.
func (t *Timeline) syslogYear(c *lineClock, stream string, at time.Time) time.Time {
	const half = 183 * 24 * time.Hour
	if !c.last.IsZero() {
		switch {
		case at.Before(c.last.Add(-half)):
			return at.AddDate(1, 0, 0)
		case at.After(c.last.Add(half)):
			return at.AddDate(-1, 0, 0)
		}
		return at
	}
	if at.After(t.reference(c, stream).Add(24 * time.Hour)) {
		return at.AddDate(-1, 0, 0)
	}
	return at
}

func (t *Timeline) reference(c *lineClock, stream string) time.Time {
	if c.ref.IsZero() {
		c.ref = time.Now()
		if t.opt.Reference != nil {
			if r := t.opt.Reference(stream); !r.IsZero() {
				c.ref = r
			}
		}
	}
	return c.ref
}

// count adds one hit at time at (zero: no line stated a time yet).
func (t *Timeline) count(b *pipeline.Batch, h annotate.Hit, at time.Time) {
	if at.IsZero() {
		t.untimed++
		return
	}
	var s *series
	if h.Key == matcher.Unknown {
		if s = t.unknown[h.Number]; s == nil {
			s = &series{}
			t.unknown[h.Number] = s
		}
	} else {
		if b.Annotator != t.byKeyOf {
			t.byKeyOf, t.byKey = b.Annotator, t.byKey[:0]
		}
		k := int(h.Key)
		if k < len(t.byKey) {
			s = t.byKey[k]
		}
		if s == nil {
			code := b.Annotator.Note(k).Code
			if s = t.known[code]; s == nil {
				s = &series{}
				t.known[code] = s
			}
			if k >= len(t.byKey) {
				t.byKey = append(t.byKey, make([]*series, k+1-len(t.byKey))...)
			}
			t.byKey[k] = s
		}
	}
	if !t.any || at.Before(t.first) {
		t.first = at
	}
	if !t.any || at.After(t.lastT) {
		t.lastT = at
	}
	i := floorDiv(at.Unix(), t.bucket)
	if !t.any {
		t.lo, t.hi, t.any = i, i, true
	}
	t.lo, t.hi = min(t.lo, i), max(t.hi, i)
	for t.hi-t.lo >= MaxBuckets {
		t.widen()
		i = floorDiv(at.Unix(), t.bucket)
	}
	s.add(i)
}

// widen moves to the next bucket size, merging the counts.
func (t *Timeline) widen() {
	next := t.bucket * 2
	if !t.asked {
		for _, b := range niceBuckets {
			if b > t.bucket {
				next = b
				break
			}
		}
	} else {
		t.coarsened = true
	}
	f := next / t.bucket
	t.bucket = next
	t.lo, t.hi = floorDiv(t.lo, f), floorDiv(t.hi, f)
	for _, s := range t.known {
		s.merge(f)
	}
	for _, s := range t.unknown {
		s.merge(f)
	}
}

func (s *series) add(i int64) {
	switch {
	case len(s.n) == 0:
		s.lo, s.n = i, append(s.n, 0)
	case i < s.lo:
		grown := make([]int64, s.lo-i+int64(len(s.n)))
		copy(grown[s.lo-i:], s.n)
		s.lo, s.n = i, grown
	case i >= s.lo+int64(len(s.n)):
		s.n = append(s.n, make([]int64, i-s.lo-int64(len(s.n))+1)...)
	}
	s.n[i-s.lo]++
}

// merge sums the counts into buckets f times as wide.
func (s *series) merge(f int64) {
	if len(s.n) == 0 {
		return
	}
	lo := floorDiv(s.lo, f)
	out := make([]int64, floorDiv(s.lo+int64(len(s.n))-1, f)-lo+1)
	for j, v := range s.n {
		out[floorDiv(s.lo+int64(j), f)-lo] += v
	}
	s.lo, s.n = lo, out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
