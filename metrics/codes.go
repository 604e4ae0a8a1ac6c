package metrics

import (
	"bytes"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/matcher"
)

// Codes finds, line by line, the codes an annotator built from the same
// matcher and notes annotates, and the numbers shaped like JMessage codes
// (six digits beginning with 8, standing on their own) that the catalog
// does not hold. It serves the metrics and the summary, which need to know
// which code each line held; the annotator itself only counts, so that a
// run with neither pays nothing per line.
//
// A Codes is immutable; Scan is safe for concurrent use.
type Codes struct {
	m     matcher.Matcher
	notes []annotate.Note
}

// NewCodes scans with m, whose key i is described by notes[i].
func NewCodes(m matcher.Matcher, notes []annotate.Note) *Codes {
	return &Codes{m: m, notes: notes}
}

// Note returns the note of key index k.
func (c *Codes) Note(k int) annotate.Note { return c.notes[k] }

// Len is the number of keys.
func (c *Codes) Len() int { return len(c.notes) }

// Hit is one code found on a line.
type Hit struct {
	Line int // 0-based line index within the scanned data
	Key  int // key index, or -1 for an unknown numeric code
	Code []byte
}

// Scan calls fn for every distinct key on every line of data (in line
// order, then position), and, when unknown is true, for every unknown
// numeric code too. It returns the number of line ends in data. dst is a
// scratch slice reused between calls.
func (c *Codes) Scan(data []byte, unknown bool, dst []matcher.Match, fn func(Hit)) ([]matcher.Match, int) {
	pos, line := 0, 0
	for pos < len(data) {
		p := c.m.First(data[pos:])
		if p < 0 {
			break
		}
		p += pos
		ls := bytes.LastIndexByte(data[:p], '\n') + 1
		line += bytes.Count(data[pos:ls], nl)
		le := len(data)
		if i := bytes.IndexByte(data[p:], '\n'); i >= 0 {
			le = p + i
		}
		body := data[ls:le]
		dst = c.m.Find(body, 0, len(body), dst[:0])
		for _, m := range dst {
			fn(Hit{Line: line, Key: m.Key, Code: body[m.Start:m.End]})
		}
		pos = le
	}
	if unknown {
		dst = c.scanUnknown(data, dst, fn)
	}
	return dst, bytes.Count(data, nl)
}

var nl = []byte{'\n'}

// scanUnknown reports the numeric codes the matcher does not hold.
func (c *Codes) scanUnknown(data []byte, dst []matcher.Match, fn func(Hit)) []matcher.Match {
	line, counted := 0, 0
	i := 0
	for i+6 <= len(data) {
		j := bytes.IndexByte(data[i:len(data)-5], '8')
		if j < 0 {
			break
		}
		p := i + j
		k := 1
		for ; k < 6 && data[p+k] >= '0' && data[p+k] <= '9'; k++ {
		}
		if k < 6 {
			i = p + k + 1
			continue
		}
		i = p + 1
		if !matcher.Valid(data, p, p+6) {
			continue
		}
		i = p + 6
		dst = c.m.Find(data, p, p+6, dst[:0])
		if len(dst) > 0 && dst[0].Start == p && dst[0].End == p+6 {
			continue
		}
		line += bytes.Count(data[counted:p], nl)
		counted = p
		fn(Hit{Line: line, Key: -1, Code: data[p : p+6]})
	}
	return dst
}
