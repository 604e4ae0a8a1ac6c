package annotate

import (
	"unicode/utf8"

	"github.com/annotator-dev/annotator/matcher"
)

// LongLine carries the state of a line that arrives in pieces because it is
// longer than a read buffer. Its memory is bounded by the piece size plus a
// few bytes: the pieces are written out as they come, and only the keys
// seen so far and a short tail of context are kept.
type LongLine struct {
	started bool
	window  []byte // carry + current piece, for the matcher
	carry   []byte // the last bytes of the line so far
	keys    []matcher.Match
	pending []byte // text: a trailing '\r' held back; json: an incomplete UTF-8 sequence
}

// Reset prepares the state for a new line, keeping its buffers.
func (l *LongLine) Reset() {
	l.started = false
	l.carry = l.carry[:0]
	l.keys = l.keys[:0]
	l.pending = l.pending[:0]
}

// AppendPiece appends the output for one piece of a long line. last is true
// for the piece that ends the line (it ends in '\n', or the input ended).
// After the last piece the state is reset for the next line.
func (a *Annotator) AppendPiece(dst, piece, meta []byte, last bool, l *LongLine, s *Scratch, st *Stats) []byte {
	body := piece
	var term []byte
	if last {
		body, term = splitTerm(piece)
	}
	a.scanPiece(l, body, last, s)
	if a.opts.Format == JSON {
		return a.appendJSONPiece(dst, body, meta, last, l, st)
	}
	return a.appendTextPiece(dst, body, term, last, l, st)
}

// scanPiece finds the keys in body with enough context from earlier pieces
// that every occurrence is judged exactly once with all the bytes the
// boundary rule looks at.
func (a *Annotator) scanPiece(l *LongLine, body []byte, last bool, s *Scratch) {
	// A key needs two bytes of context on each side (a digit and a '.').
	keep := a.maxKey + 4
	l.window = append(append(l.window[:0], l.carry...), body...)
	from := 0
	if len(l.carry) > 0 {
		// Occurrences starting in the first two carried bytes were judged,
		// with their left context, in the previous piece.
		from = min(2, len(l.carry))
	}
	to := len(l.window)
	if !last {
		// An occurrence ending here cannot be judged before the next piece.
		to = max(from, to-2)
	}
	s.matches = a.m.Find(l.window, from, to, s.matches[:0])
	for _, m := range s.matches {
		dup := false
		for _, k := range l.keys {
			if k.Key == m.Key {
				dup = true
				break
			}
		}
		if !dup {
			l.keys = append(l.keys, m)
		}
	}
	if len(l.window) > keep {
		l.carry = append(l.carry[:0], l.window[len(l.window)-keep:]...)
	} else {
		l.carry = append(l.carry[:0], l.window...)
	}
}

func (a *Annotator) appendTextPiece(dst, body, term []byte, last bool, l *LongLine, st *Stats) []byte {
	if last && len(body) == 0 && len(term) == 1 && len(l.pending) == 1 {
		// The CR held back at the end of the previous piece and this LF
		// are one CRLF: the notes go before both.
		term = crlf
	} else {
		dst = append(dst, l.pending...)
	}
	l.pending = l.pending[:0]
	if !last && len(body) > 0 && body[len(body)-1] == '\r' {
		// Might be the CR of a CRLF cut between pieces: hold it back.
		l.pending = append(l.pending, '\r')
		body = body[:len(body)-1]
	}
	dst = append(dst, body...)
	if !last {
		return dst
	}
	st.Lines++
	if len(l.keys) > 0 {
		st.Annotated++
		st.Codes += int64(len(l.keys))
	}
	for _, m := range l.keys {
		dst = append(dst, a.text[m.Key]...)
	}
	dst = append(dst, term...)
	l.Reset()
	return dst
}

var crlf = []byte("\r\n")

func (a *Annotator) appendJSONPiece(dst, body, meta []byte, last bool, l *LongLine, st *Stats) []byte {
	if !l.started {
		dst = append(dst, '{')
		dst = append(dst, meta...)
		dst = append(dst, `"line":"`...)
		l.started = true
	}
	var rest int
	if len(l.pending) > 0 {
		// Finish the UTF-8 sequence cut at the end of the previous piece:
		// escape it together with the first bytes of this one.
		n := min(len(body), utf8.UTFMax)
		chunk := append(l.pending, body[:n]...)
		dst, rest = appendJSONBody(dst, chunk, last && n == len(body))
		if rest > n {
			// Still incomplete, and this piece is used up.
			l.pending = append(l.pending[:0], chunk[len(chunk)-rest:]...)
			body = body[n:]
		} else {
			// The bytes left unwritten are this piece's: go on from them.
			l.pending = l.pending[:0]
			body = body[n-rest:]
		}
	}
	if len(body) > 0 || last {
		dst, rest = appendJSONBody(dst, body, last)
		if rest > 0 {
			l.pending = append(l.pending[:0], body[len(body)-rest:]...)
		}
	}
	if !last {
		return dst
	}
	dst = append(dst, '"')
	st.Lines++
	if len(l.keys) > 0 {
		st.Annotated++
		st.Codes += int64(len(l.keys))
	}
	dst = a.appendJSONCodes(dst, l.keys)
	dst = append(dst, '\n')
	l.Reset()
	return dst
}
