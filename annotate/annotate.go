// Package annotate turns input lines into output lines: it runs the matcher
// over them and appends, for every distinct key found, the note the catalog
// gives for it, in text or JSON form.
//
// It works on blocks of whole lines so that the common case, a run of lines
// with no code, costs one matcher scan and one copy. Lines longer than a
// block arrive in pieces and are annotated with a LongLine state, so memory
// stays bounded whatever the line length.
package annotate

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/annotator-dev/annotator/matcher"
)

// Format is the output form.
type Format string

const (
	// Text writes each line as it came, followed by one " [CODE message |
	// meaning]" per distinct code, before the line's terminator.
	Text Format = "text"
	// JSON writes one JSON object per line.
	JSON Format = "json"
	// Merge puts the notes inside the line where its form allows: as a
	// field of a JSON object line, as a pair of a logfmt line, and as the
	// text note anywhere else.
	Merge Format = "merge"
)

// ParseFormat checks a user-given format name.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case Text, JSON, Merge:
		return Format(s), nil
	}
	return "", fmt.Errorf("unknown format %q (want text, json or merge)", s)
}

// Note is what the output says about one key.
type Note struct {
	Code, Message, Meaning, Source string
}

// Options shape the output.
type Options struct {
	Format Format
	// OnlyMatching drops lines that hold no code.
	OnlyMatching bool
	// Field names the field (JSON) or key (logfmt) that merge mode adds;
	// empty means DefaultField.
	Field string
	// Count fills Stats.Hits with every code found, per line, for the
	// metrics and the summary: they then reuse the one scan that annotates
	// instead of scanning the input again. Numbers shaped like codes that
	// the catalog lacks are among them when the matcher was built with
	// matcher.NewWithUnknown.
	Count bool
	// NoUnknownLines, with Count, leaves the Line of the hits of numbers
	// not in the catalog on lines before a line with a code at the index
	// of the first line of the block scanned: only the summary shows
	// where they were, and working out their lines costs the metrics a
	// tenth of a run on logs full of such numbers.
	NoUnknownLines bool
}

// Annotator is immutable and safe for concurrent use; per-goroutine
// buffers live in a Scratch.
type Annotator struct {
	m     matcher.Matcher
	notes []Note
	// text and json hold, one after the other, what is appended for each
	// key: " [CODE message | meaning]" and {"code":...}; key k's ends at
	// textEnd[k] and jsonEnd[k]. One block per form rather than a slice
	// per key: a catalog of 100,000 keys is then one object for the
	// collector, not 100,000. Only the forms the output uses are built.
	text, json       []byte
	textEnd, jsonEnd []uint32
	opts             Options
	maxKey           int
	merge            mergeParts
	// skip, when counting with a matcher that can, steps over numbers not
	// in the catalog in the scan for the next line with a key: see
	// nextKey.
	skip matcher.KeySkipper
}

// New builds an annotator; notes[i] describes the matcher's key i.
func New(m matcher.Matcher, notes []Note, opts Options) (*Annotator, error) {
	if opts.Format == "" {
		opts.Format = Text
	}
	if _, err := ParseFormat(string(opts.Format)); err != nil {
		return nil, err
	}
	if opts.Field == "" {
		opts.Field = DefaultField
	}
	if err := CheckField(opts.Field); err != nil {
		return nil, err
	}
	a := &Annotator{m: m, notes: notes, opts: opts}
	if opts.Count {
		a.skip, _ = m.(matcher.KeySkipper)
	}
	// Merge mode writes either form, depending on the line.
	withText, withJSON := opts.Format != JSON, opts.Format != Text
	if withText {
		// Sized once: grown note by note, a large catalog's text was
		// copied a dozen times at every start.
		size := 0
		for _, n := range notes {
			size += len(n.Code) + len(n.Message) + len(n.Meaning) + len(" [ | ]")
		}
		a.text = make([]byte, 0, size)
		a.textEnd = make([]uint32, 0, len(notes))
	}
	for _, n := range notes {
		if withText {
			a.text = appendTextNote(a.text, n)
			a.textEnd = append(a.textEnd, uint32(len(a.text)))
		}
		if withJSON {
			j := append(a.json, `{"code":`...)
			j = AppendJSONString(j, []byte(n.Code))
			j = append(j, `,"message":`...)
			j = AppendJSONString(j, []byte(n.Message))
			j = append(j, `,"meaning":`...)
			j = AppendJSONString(j, []byte(n.Meaning))
			j = append(j, `,"source":`...)
			j = AppendJSONString(j, []byte(n.Source))
			a.json = append(j, '}')
			a.jsonEnd = append(a.jsonEnd, uint32(len(a.json)))
		}
		if len(n.Code) > a.maxKey {
			a.maxKey = len(n.Code)
		}
	}
	mergeNotes := notes
	if opts.Format != Merge {
		mergeNotes = nil // the per-key logfmt values serve merge mode only
	}
	a.merge = newMergeParts(opts.Field, mergeNotes)
	return a, nil
}

// textNote is " [CODE message | meaning]", leaving out what the catalog
// does not say rather than showing an empty field: " [CODE | meaning]"
// without a message, " [CODE message]" without a meaning, " [CODE]"
// without either. JSON keeps both keys, empty, so its shape never changes.
// It is appended to dst in place: a catalog of 10,000 keys is rendered at
// every start, and a few allocations per note were most of annotate.New's
// time.
func appendTextNote(dst []byte, n Note) []byte {
	msg, meaning := strings.TrimSpace(oneLine(n.Message)), strings.TrimSpace(oneLine(n.Meaning))
	dst = append(append(dst, " ["...), n.Code...)
	if msg != "" {
		dst = append(append(dst, ' '), msg...)
	}
	if meaning != "" {
		dst = append(append(dst, " | "...), meaning...)
	}
	return append(dst, ']')
}

// noteOut is what is appended for key k in the annotator's format (text
// or JSON).
func (a *Annotator) noteOut(k int) []byte {
	if a.opts.Format == JSON {
		return jsonOf(a, k)
	}
	return textOf(a, k)
}

// textOf is key k's text note.
func textOf(a *Annotator, k int) []byte { return part(a.text, a.textEnd, k) }

// jsonOf is key k's JSON note.
func jsonOf(a *Annotator, k int) []byte { return part(a.json, a.jsonEnd, k) }

func part(block []byte, end []uint32, k int) []byte {
	start := uint32(0)
	if k > 0 {
		start = end[k-1]
	}
	return block[start:end[k]]
}

// oneLine keeps a note from breaking the line it is appended to.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return string(bytes.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, []byte(s)))
}

// Options returns the options the annotator was built with.
func (a *Annotator) Options() Options { return a.opts }

// Len is the number of keys.
func (a *Annotator) Len() int { return len(a.notes) }

// Note returns the note for key index k.
func (a *Annotator) Note(k int) Note { return a.notes[k] }

// Scratch holds one goroutine's reusable buffers.
type Scratch struct {
	matches []matcher.Match
	numbers []matcher.Number
	merge   mergeLine
}

// Matches returns the matches of the last line annotated with s (valid
// until the next call).
func (s *Scratch) Matches() []matcher.Match { return s.matches }

// Stats counts what an annotation pass saw.
type Stats struct {
	Lines     int64 // lines (or records) read
	Annotated int64 // of which held at least one code
	Codes     int64 // codes annotated (distinct per line)
	// Hits, with Options.Count, lists the codes found: each key once per
	// line, in line order, and each number shaped like a code but not in
	// the catalog at every occurrence.
	Hits []Hit
}

// Hit is one code found on a line.
type Hit struct {
	// Line is the line's index among the lines of the pass (the Lines
	// count before it): a line that arrives in pieces is line 0 of each.
	Line int64
	// Key is the key index, or matcher.Unknown for a number the catalog
	// lacks, whose value is then Number.
	Key    int32
	Number int32
}

// Add accumulates o's counts into s (not its hits).
func (s *Stats) Add(o Stats) {
	s.Lines += o.Lines
	s.Annotated += o.Annotated
	s.Codes += o.Codes
}

// AppendLines appends to dst the output for data, which holds whole lines,
// each ending in '\n' except that the last may lack it (at the end of
// input: then no '\n' is added in text form). meta is a JSON fragment
// (`"path":"x",` or empty) put at the front of each JSON object.
func (a *Annotator) AppendLines(dst, data, meta []byte, s *Scratch, st *Stats) []byte {
	if a.opts.Format == JSON {
		return a.appendJSONLines(dst, data, meta, s, st)
	}
	for len(data) > 0 {
		p := a.nextKey(data, s, st)
		if p < 0 {
			st.Lines += int64(countLines(data))
			if !a.opts.OnlyMatching {
				dst = append(dst, data...)
			}
			return dst
		}
		ls := bytes.LastIndexByte(data[:p], '\n') + 1
		// The lines before are counted here rather than all at once, so
		// that st.Lines is the index of the line with the code.
		st.Lines += int64(bytes.Count(data[:ls], nl))
		if !a.opts.OnlyMatching {
			dst = append(dst, data[:ls]...)
		}
		le := len(data)
		if i := bytes.IndexByte(data[p:], '\n'); i >= 0 {
			le = p + i + 1
		}
		if a.opts.Format == Merge {
			dst = a.appendMergeLine(dst, data[ls:le], s, st)
		} else {
			dst = a.appendTextLine(dst, data[ls:le], s, st)
		}
		data = data[le:]
	}
	return dst
}

func countLines(data []byte) int {
	n := bytes.Count(data, nl)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

var nl = []byte{'\n'}

// splitTerm splits a line into its content and its terminator ("\n",
// "\r\n" or none).
func splitTerm(line []byte) (body, term []byte) {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	}
	return line[:n], line[n:]
}

// find runs the matcher over text[from:to] into s.matches, keeping only
// the keys there: numbers the catalog lacks go to st.Hits when counting
// (except those ending by judged, counted already), and nowhere otherwise.
func (a *Annotator) find(text []byte, from, to, judged int, s *Scratch, st *Stats) {
	s.matches = a.m.Find(text, from, to, s.matches[:0])
	kept := s.matches[:0]
	for _, m := range s.matches {
		if m.Key != matcher.Unknown {
			kept = append(kept, m)
			continue
		}
		if a.opts.Count && m.End > judged {
			st.Hits = append(st.Hits, Hit{Line: st.Lines, Key: matcher.Unknown, Number: number(text[m.Start:m.End])})
		}
	}
	s.matches = kept
}

// count notes the keys of one line in st.Hits, when counting.
func (a *Annotator) count(ms []matcher.Match, st *Stats) {
	if !a.opts.Count {
		return
	}
	for _, m := range ms {
		st.Hits = append(st.Hits, Hit{Line: st.Lines, Key: int32(m.Key)})
	}
}

func number(digits []byte) int32 {
	var v int32
	for _, d := range digits {
		v = v*10 + int32(d-'0')
	}
	return v
}

// findLine finds and counts the codes of one line (terminator included,
// if any), leaving them in s.matches. Without a code, the line is what it
// was (or nothing, with OnlyMatching) and found is false: the caller
// appends out. With codes, body and term are the line split at its
// terminator, for the caller to annotate.
func (a *Annotator) findLine(line []byte, s *Scratch, st *Stats) (body, term, out []byte, found bool) {
	body, term = splitTerm(line)
	a.find(body, 0, len(body), -1, s, st)
	a.count(s.matches, st)
	st.Lines++
	if len(s.matches) == 0 {
		if a.opts.OnlyMatching {
			return nil, nil, nil, false
		}
		return nil, nil, line, false
	}
	st.Annotated++
	st.Codes += int64(len(s.matches))
	return body, term, nil, true
}

// appendTextLine annotates one line (terminator included, if any).
func (a *Annotator) appendTextLine(dst, line []byte, s *Scratch, st *Stats) []byte {
	body, term, out, found := a.findLine(line, s, st)
	if !found {
		return append(dst, out...)
	}
	dst = append(dst, body...)
	for _, m := range s.matches {
		dst = append(dst, a.noteOut(m.Key)...)
	}
	return append(dst, term...)
}

func (a *Annotator) appendJSONLines(dst, data, meta []byte, s *Scratch, st *Stats) []byte {
	for len(data) > 0 {
		// As in text form, one scan finds the next line with a code; the
		// lines before it need no matcher call of their own.
		p := a.nextKey(data, s, st)
		plain := len(data)
		if p >= 0 {
			plain = bytes.LastIndexByte(data[:p], '\n') + 1
		}
		if a.opts.OnlyMatching {
			st.Lines += int64(countLines(data[:plain]))
		} else {
			dst = a.appendJSONPlain(dst, data[:plain], meta, st)
		}
		if p < 0 {
			return dst
		}
		data = data[plain:]
		le := len(data)
		if i := bytes.IndexByte(data[p-plain:], '\n'); i >= 0 {
			le = p - plain + i + 1
		}
		body, _ := splitTerm(data[:le])
		n := len(dst)
		dst = a.AppendRecord(dst, body, meta, s, st)
		if len(dst) > n {
			dst = append(dst, '\n')
		}
		data = data[le:]
	}
	return dst
}

// appendJSONPlain writes lines known to hold no code.
func (a *Annotator) appendJSONPlain(dst, data, meta []byte, st *Stats) []byte {
	for len(data) > 0 {
		le := len(data)
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			le = i + 1
		}
		body, _ := splitTerm(data[:le])
		dst = append(dst, '{')
		dst = append(dst, meta...)
		dst = append(dst, `"line":"`...)
		dst, _ = appendJSONBody(dst, body, true)
		dst = append(dst, `","codes":[]}`+"\n"...)
		st.Lines++
		data = data[le:]
	}
	return dst
}

// AppendRecord appends the output for one record, a unit annotated as a
// whole (a Kafka message's value, or a line without its terminator), with
// no terminator of its own. With OnlyMatching and no code it appends
// nothing; callers check Scratch.Matches.
func (a *Annotator) AppendRecord(dst, value, meta []byte, s *Scratch, st *Stats) []byte {
	a.find(value, 0, len(value), -1, s, st)
	a.count(s.matches, st)
	st.Lines++
	if len(s.matches) == 0 && a.opts.OnlyMatching {
		return dst
	}
	if len(s.matches) > 0 {
		st.Annotated++
		st.Codes += int64(len(s.matches))
	}
	if a.opts.Format == Merge {
		if len(s.matches) == 0 {
			return append(dst, value...)
		}
		return a.appendMerged(dst, value, s.matches, &s.merge)
	}
	if a.opts.Format == Text {
		dst = append(dst, value...)
		for _, m := range s.matches {
			dst = append(dst, a.noteOut(m.Key)...)
		}
		return dst
	}
	dst = append(dst, '{')
	dst = append(dst, meta...)
	dst = append(dst, `"line":`...)
	dst = AppendJSONString(dst, value)
	return a.appendJSONCodes(dst, s.matches)
}

func (a *Annotator) appendJSONCodes(dst []byte, ms []matcher.Match) []byte {
	dst = append(dst, `,"codes":[`...)
	for i, m := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, a.noteOut(m.Key)...)
	}
	return append(dst, "]}"...)
}
