package annotate

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/annotator-dev/annotator/matcher"
)

// DefaultField is the name of the field merge mode adds.
const DefaultField = "jmessage"

// clashSuffix makes the second-choice field name, for objects and logfmt
// lines that already have a field of the chosen name: that field is the
// application's own and is left alone.
const clashSuffix = "_annotator"

// maxTail bounds the white space kept back after a JSON object's closing
// brace while a long line streams: the field goes before that brace, so
// the brace and what follows it wait for the line's end. A longer run of
// white space makes the line get the text note, whatever its length.
const maxTail = 1 << 20

// CheckField checks a user-given field name: it must read back the same
// as a logfmt key, so no spaces, controls, '=' or '"'.
func CheckField(name string) error {
	if name == "" {
		return fmt.Errorf("field name is empty")
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("field name %q is not valid UTF-8", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isWordByte(c) || c == 0x7f {
			return fmt.Errorf("field name %q: want no spaces, control characters, '=' or '\"'", name)
		}
	}
	return nil
}

// mergeParts are the pieces of merged output, built once per annotator.
type mergeParts struct {
	names  [][]byte // the field name, then its second choice
	keyCap int      // see jsonObject.keyCap
	field  [][]byte // per name: `,"name":[`
	pair   [][]byte // per name: ` name="`
	logfmt [][]byte // per key: `CODE message | meaning`, escaped for a quoted logfmt value
}

func newMergeParts(field string, notes []Note) mergeParts {
	var p mergeParts
	for _, name := range []string{field, field + clashSuffix} {
		p.names = append(p.names, []byte(name))
		f := append([]byte(","), AppendJSONString(nil, []byte(name))...)
		p.field = append(p.field, append(f, ":["...))
		p.pair = append(p.pair, []byte(" "+name+`="`))
		p.keyCap = max(p.keyCap, 6*(len(name)+1))
	}
	for _, n := range notes {
		// Invalid UTF-8 could not be read back exactly from a logfmt
		// value, so it becomes U+FFFD.
		// Like the text note, what the catalog does not say is left out.
		s := n.Code
		if msg := strings.TrimSpace(n.Message); msg != "" {
			s += " " + msg
		}
		if meaning := strings.TrimSpace(n.Meaning); meaning != "" {
			s += " | " + meaning
		}
		s = strings.ToValidUTF8(s, "\uFFFD")
		v, _ := appendJSONBody(nil, []byte(s), true)
		p.logfmt = append(p.logfmt, v)
	}
	return p
}

// free returns the first name not taken (bit i set: names[i] is), or -1.
func free(taken uint8) int {
	for i := 0; i < 2; i++ {
		if taken&(1<<i) == 0 {
			return i
		}
	}
	return -1
}

// mergeLine is the state of one line in merge mode: whether it is a JSON
// object or a logfmt line, judged as its bytes go by, and, for a JSON
// object, its closing brace and what follows, held back.
type mergeLine struct {
	js   jsonObject
	lf   logfmtLine
	tail []byte
}

func (m *mergeLine) reset(p *mergeParts) {
	m.js.reset()
	m.js.names, m.js.keyCap = p.names, p.keyCap
	m.lf.reset()
	m.lf.names = p.names
	m.tail = m.tail[:0]
}

// put feeds the next bytes of a long line and appends to dst those that
// can go out now: all but a JSON object's closing brace and the white
// space after it.
func (m *mergeLine) put(dst, b []byte) []byte {
	wasDone := m.js.ok()
	m.js.feed(b)
	m.lf.feed(b)
	if m.js.ok() {
		if wasDone {
			m.tail = append(m.tail, b...)
		} else {
			cut := bytes.LastIndexByte(b, '}')
			dst = append(dst, b[:cut]...)
			m.tail = append(m.tail, b[cut:]...)
		}
		if len(m.tail) > maxTail {
			// Too much white space to hold: the line gets the text note.
			m.js.fail()
			dst = append(dst, m.tail...)
			m.tail = m.tail[:0]
		}
		return dst
	}
	if len(m.tail) > 0 {
		// The object was followed by more than white space.
		dst = append(dst, m.tail...)
		m.tail = m.tail[:0]
	}
	return append(dst, b...)
}

// end appends what a long line still owes after its last bytes were put,
// before its terminator: the field and the held-back brace, the logfmt
// pair, or the text note.
func (a *Annotator) endMerge(dst []byte, m *mergeLine, ms []matcher.Match) []byte {
	if len(ms) > 0 {
		if m.js.ok() {
			if f := free(m.js.taken); f >= 0 {
				dst = a.appendField(dst, f, m.js.members, ms)
				return append(dst, m.tail...)
			}
		} else if m.lf.ok() {
			if f := free(m.lf.taken); f >= 0 {
				return a.appendPair(dst, f, ms)
			}
		}
	}
	dst = append(dst, m.tail...)
	for _, k := range ms {
		dst = append(dst, textOf(a, k.Key)...)
	}
	return dst
}

// appendMerged appends body, a whole line without its terminator (or a
// whole record), annotated with the codes ms in merge form.
func (a *Annotator) appendMerged(dst, body []byte, ms []matcher.Match, m *mergeLine) []byte {
	m.reset(&a.merge)
	m.js.feed(body)
	if m.js.ok() {
		cut := bytes.LastIndexByte(body, '}')
		if f := free(m.js.taken); f >= 0 && len(body)-cut <= maxTail {
			dst = append(dst, body[:cut]...)
			dst = a.appendField(dst, f, m.js.members, ms)
			return append(dst, body[cut:]...)
		}
	} else if m.lf.feed(body); m.lf.ok() {
		if f := free(m.lf.taken); f >= 0 {
			dst = append(dst, body...)
			return a.appendPair(dst, f, ms)
		}
	}
	dst = append(dst, body...)
	for _, k := range ms {
		dst = append(dst, textOf(a, k.Key)...)
	}
	return dst
}

// appendField appends `,"name":[{...},...]`, without the comma in an
// empty object.
func (a *Annotator) appendField(dst []byte, f int, members bool, ms []matcher.Match) []byte {
	field := a.merge.field[f]
	if !members {
		field = field[1:]
	}
	dst = append(dst, field...)
	for i, k := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, jsonOf(a, k.Key)...)
	}
	return append(dst, ']')
}

// appendPair appends ` name="CODE message | meaning; ..."`.
func (a *Annotator) appendPair(dst []byte, f int, ms []matcher.Match) []byte {
	dst = append(dst, a.merge.pair[f]...)
	for i, k := range ms {
		if i > 0 {
			dst = append(dst, "; "...)
		}
		dst = append(dst, a.merge.logfmt[k.Key]...)
	}
	return append(dst, '"')
}

// appendMergeLine annotates one line (terminator included, if any) in
// merge form.
func (a *Annotator) appendMergeLine(dst, line []byte, s *Scratch, st *Stats) []byte {
	body, term, out, found := a.findLine(line, s, st)
	if !found {
		return append(dst, out...)
	}
	dst = a.appendMerged(dst, body, s.matches, &s.merge)
	return append(dst, term...)
}
