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
	length  int    // bytes of the line scanned so far
	keys    []matcher.Match
	heldCR  bool   // a trailing '\r' held back: it may be half of a CRLF
	pending []byte // json: an incomplete UTF-8 sequence
	merge   mergeLine
}

// Reset prepares the state for a new line, keeping its buffers.
func (l *LongLine) Reset() {
	l.started = false
	l.heldCR = false
	l.length = 0
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
	// The boundary rule treats a CR like any other non-word byte and like
	// the end of the line, so scanning the raw piece gives what scanning
	// the whole line would.
	a.scanPiece(l, body, last, s, st)

	heldCR := l.heldCR
	l.heldCR = false
	if heldCR && last && len(body) == 0 && len(term) == 1 {
		// The CR held back at the end of the previous piece and this LF
		// are one CRLF: the terminator, after the notes.
		term, heldCR = crlf, false
	}
	if !last && len(body) > 0 && body[len(body)-1] == '\r' {
		// Might be the CR of a CRLF cut between pieces: hold it back.
		l.heldCR = true
		body = body[:len(body)-1]
	}
	if a.opts.Format == JSON {
		if !l.started {
			dst = append(dst, '{')
			dst = append(dst, meta...)
			dst = append(dst, `"line":"`...)
		}
		if heldCR {
			dst = l.appendJSON(dst, crlf[:1], false)
		}
		dst = l.appendJSON(dst, body, last)
	} else if a.opts.Format == Merge {
		if !l.started {
			l.merge.reset(&a.merge)
		}
		if heldCR {
			dst = l.merge.put(dst, crlf[:1])
		}
		dst = l.merge.put(dst, body)
	} else {
		if heldCR {
			dst = append(dst, '\r')
		}
		dst = append(dst, body...)
	}
	l.started = true
	if !last {
		return dst
	}
	a.count(l.keys, st)
	st.Lines++
	if len(l.keys) > 0 {
		st.Annotated++
		st.Codes += int64(len(l.keys))
	}
	if a.opts.Format == JSON {
		dst = append(dst, '"')
		dst = a.appendJSONCodes(dst, l.keys)
		dst = append(dst, '\n')
	} else if a.opts.Format == Merge {
		dst = a.endMerge(dst, &l.merge, l.keys)
		dst = append(dst, term...)
	} else {
		for _, m := range l.keys {
			dst = append(dst, a.noteOut(m.Key)...)
		}
		dst = append(dst, term...)
	}
	l.Reset()
	return dst
}

var crlf = []byte("\r\n")

// appendJSON escapes b into a JSON string body, carrying a UTF-8 sequence
// cut at the end of b over to the next call unless final.
func (l *LongLine) appendJSON(dst, b []byte, final bool) []byte {
	var rest int
	if len(l.pending) > 0 {
		// Finish the sequence cut last time together with b's first bytes.
		n := min(len(b), utf8.UTFMax)
		chunk := append(l.pending, b[:n]...)
		dst, rest = appendJSONBody(dst, chunk, final && n == len(b))
		if rest > n {
			// Still incomplete, and b is used up.
			l.pending = append(l.pending[:0], chunk[len(chunk)-rest:]...)
			return dst
		}
		// The bytes left unwritten are b's: go on from them.
		l.pending = l.pending[:0]
		b = b[n-rest:]
	}
	dst, rest = appendJSONBody(dst, b, final)
	if rest > 0 {
		l.pending = append(l.pending[:0], b[len(b)-rest:]...)
	}
	return dst
}

// scanPiece finds the keys in body with enough context from earlier pieces
// that every occurrence is judged exactly once with all the bytes the
// boundary rule looks at.
func (a *Annotator) scanPiece(l *LongLine, body []byte, last bool, s *Scratch, st *Stats) {
	// A key needs two bytes of context on each side (a digit and a '.').
	keep := a.maxKey + 4
	l.window = append(append(l.window[:0], l.carry...), body...)
	// The previous piece judged the occurrences ending two bytes before
	// its end, which is where the carry now ends: keys found there again
	// are dropped as duplicates, numbers the catalog lacks must not be
	// counted twice.
	judged := -1
	if l.length > 0 {
		judged = len(l.carry) - 2
	}
	from := 0
	if l.length > len(l.carry) {
		// The carry does not reach back to the line's start, so its first
		// two bytes lack left context; occurrences starting there were
		// judged, with it, in an earlier piece.
		from = min(2, len(l.carry))
	}
	l.length += len(body)
	to := len(l.window)
	if !last {
		// An occurrence ending here cannot be judged before the next piece.
		to = max(from, to-2)
	}
	a.find(l.window, from, to, judged, s, st)
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

// HasKeys reports whether the line so far holds a code.
func (l *LongLine) HasKeys() bool { return len(l.keys) > 0 }
