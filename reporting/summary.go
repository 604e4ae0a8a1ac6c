// Package reporting tells a person what a run saw: the table of codes at
// its end (the summary) and, on a terminal, a progress line while it runs.
//
// Both are fed from the pipeline's writer with each delivered batch, and
// both take the codes the annotation already found (the batch's
// Stats.Hits): nothing here scans the input again.
package reporting

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
)

// Place is where a code was seen: a line number, within a file when the
// run reads several.
type Place struct {
	Stream string
	Line   int64
}

type codeStat struct {
	code, message, meaning string
	known                  bool
	count                  int64
	first, last            Place
}

// Summary gathers the codes seen, with their line numbers. It is fed from
// the pipeline's writer, which delivers batches in input order, and is not
// safe for concurrent use.
type Summary struct {
	withStream bool
	top        int
	lines      map[string]int64 // stream -> lines before the next batch
	codes      map[string]*codeStat
	unknown    unknownNumbers // counted apart: see unknown.go
	total      int64          // catalog codes seen
	annotated  int64          // lines with a catalog code
	read       int64          // lines read
}

// NewSummary makes an empty summary. withStream puts file names in the
// line columns (a run over several files); top, when above 0, lists only
// that many rows.
func NewSummary(withStream bool, top int) *Summary {
	return &Summary{withStream: withStream, top: top, lines: map[string]int64{},
		codes: map[string]*codeStat{}}
}

// Add takes a delivered batch.
func (s *Summary) Add(b *pipeline.Batch) {
	base := s.lines[b.Stream]
	s.read += b.Stats.Lines
	s.annotated += b.Stats.Annotated
	s.lines[b.Stream] = base + b.Stats.Lines
	s.unknown.setStream(b.Stream)
	for _, h := range b.Stats.Hits {
		if h.Key == matcher.Unknown {
			s.unknown.add(h.Number, base+h.Line+1)
			continue
		}
		at := Place{b.Stream, base + h.Line + 1}
		n := b.Annotator.Note(int(h.Key))
		st := s.codes[n.Code]
		if st == nil {
			st = &codeStat{code: n.Code, message: n.Message, meaning: n.Meaning, known: true, first: at}
			s.codes[n.Code] = st
		}
		st.count++
		st.last = at
		s.total++
	}
}

func (s *Summary) where(p Place) string {
	if s.withStream && p.Stream != "" {
		return p.Stream + ":" + strconv.FormatInt(p.Line, 10)
	}
	return strconv.FormatInt(p.Line, 10)
}

// maxUnknownRows is how many numbers not in the catalog the table lists:
// they can be anything (request ids, amounts), and only the most frequent
// are shown so that they cannot bury the catalog's codes.
const maxUnknownRows = 10

// rows returns the rows to list, the catalog's codes before the numbers
// not in it, each most frequent first (what an engineer on call wants to
// see first), and the totals of those left out.
func (s *Summary) rows() (shown []*codeStat, left, leftCount, unknownLeft, unknownLeftCount int64) {
	all := append(make([]*codeStat, 0, len(s.codes)+maxUnknownRows), s.unknown.top(maxUnknownRows)...)
	for _, st := range s.codes {
		all = append(all, st)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].known != all[j].known {
			return all[i].known // the catalog's codes first, however many ids a log holds
		}
		if all[i].count != all[j].count {
			return all[i].count > all[j].count
		}
		return all[i].code < all[j].code
	})
	// Only the most frequent unknown numbers are in all: those left out
	// follow from the totals.
	unknownLeft, unknownLeftCount = s.unknown.distinct, s.unknown.seen
	for _, st := range all {
		switch {
		case s.top > 0 && len(shown) == s.top:
			if st.known {
				left++
				leftCount += st.count
			}
		default:
			if !st.known {
				unknownLeft--
				unknownLeftCount -= st.count
			}
			shown = append(shown, st)
		}
	}
	return
}

// share is a row's count as a share of the catalog codes seen, or for a
// number not in the catalog of those numbers.
func (s *Summary) share(st *codeStat) float64 {
	total := s.total
	if !st.known {
		total = s.unknown.seen
	}
	return float64(st.count) / float64(total)
}

// Write prints the table.
func (s *Summary) Write(w io.Writer) error {
	shown, left, leftCount, unknownLeft, unknownLeftCount := s.rows()
	var b strings.Builder
	fmt.Fprintf(&b, "%s read, %s with a code; %s seen, %s distinct\n",
		Count(s.read, "line", "lines"), Thousands(s.annotated), Count(s.total, "code", "codes"), Thousands(int64(len(s.codes))))
	if s.unknown.seen > 0 {
		fmt.Fprintf(&b, "%s, %s distinct\n", Count(s.unknown.seen, "number shaped like a code that is not in the catalog",
			"numbers shaped like codes that are not in the catalog"), Thousands(s.unknown.distinct))
	}
	if len(shown) > 0 {
		b.WriteByte('\n')
		t := table{header: []string{"CODE", "COUNT", "SHARE", "FIRST", "LAST", "MESSAGE", "MEANING"}, right: []bool{false, true, true}}
		for _, st := range shown {
			msg := st.message
			if !st.known {
				msg = "(not in the catalog)"
			}
			t.add(st.code, Thousands(st.count), fmt.Sprintf("%.1f%%", 100*s.share(st)),
				s.where(st.first), s.where(st.last), oneLine(msg), oneLine(st.meaning))
		}
		t.write(&b)
	}
	if left > 0 {
		fmt.Fprintf(&b, "... and %s in the catalog, seen %s\n", Count(left, "more code", "more codes"), Count(leftCount, "time", "times"))
	}
	if unknownLeft > 0 {
		fmt.Fprintf(&b, "... and %s not in the catalog, seen %s\n", Count(unknownLeft, "more number", "more numbers"), Count(unknownLeftCount, "time", "times"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonPlace is a Place in the JSON summary.
type jsonPlace struct {
	Path string `json:"path,omitempty"`
	Line int64  `json:"line"`
}

type jsonRow struct {
	Code    string    `json:"code"`
	Known   bool      `json:"known"`
	Count   int64     `json:"count"`
	Share   float64   `json:"share"`
	First   jsonPlace `json:"first"`
	Last    jsonPlace `json:"last"`
	Message string    `json:"message,omitempty"`
	Meaning string    `json:"meaning,omitempty"`
}

type jsonUnknown struct {
	Seen     int64 `json:"seen"`
	Distinct int64 `json:"distinct"`
}

type jsonLeft struct {
	Codes int64 `json:"codes"`
	Seen  int64 `json:"seen"`
}

type jsonSummary struct {
	Lines     int64 `json:"lines"`
	Annotated int64 `json:"annotated"`
	// Codes and Distinct count the catalog's codes; Unknown the numbers
	// shaped like codes that are not in the catalog.
	Codes    int64       `json:"codes"`
	Distinct int64       `json:"distinct"`
	Unknown  jsonUnknown `json:"unknown"`
	Rows     []jsonRow   `json:"rows"`
	// The rows left out by --top and by the limit on numbers not in the
	// catalog.
	MoreKnown   *jsonLeft `json:"more_known,omitempty"`
	MoreUnknown *jsonLeft `json:"more_unknown,omitempty"`
}

// WriteJSON prints the summary as one JSON object, for scripts.
func (s *Summary) WriteJSON(w io.Writer) error {
	shown, left, leftCount, unknownLeft, unknownLeftCount := s.rows()
	out := jsonSummary{Lines: s.read, Annotated: s.annotated, Codes: s.total,
		Distinct: int64(len(s.codes)), Unknown: jsonUnknown{s.unknown.seen, s.unknown.distinct}, Rows: []jsonRow{}}
	place := func(p Place) jsonPlace {
		if s.withStream {
			return jsonPlace{p.Stream, p.Line}
		}
		return jsonPlace{Line: p.Line}
	}
	for _, st := range shown {
		out.Rows = append(out.Rows, jsonRow{Code: st.code, Known: st.known, Count: st.count,
			Share: s.share(st),
			First: place(st.first), Last: place(st.last), Message: st.message, Meaning: st.meaning})
	}
	if left > 0 {
		out.MoreKnown = &jsonLeft{left, leftCount}
	}
	if unknownLeft > 0 {
		out.MoreUnknown = &jsonLeft{unknownLeft, unknownLeftCount}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Thousands writes n with a comma between groups of three digits.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Count writes n with thousands separators and the noun in the number it
// takes: "1 line", "2 lines", "0 lines".
func Count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Thousands(n) + " " + many
}
