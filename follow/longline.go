package follow

import (
	"bytes"
	"io"
)

// lineEnds reports whether the segment holds a '\n' at or after the
// reader's position: the end of a line longer than the framer's buffer,
// which the framer holds back until it is in the file (see
// sources.Framer.LineEnds). It reads ahead without moving the position,
// remembering how far it looked, so a line written slowly is scanned
// once, not again at each poll.
func (r *reader) lineEnds() bool {
	if r.scanAt != r.pos || r.scanSrc != r.src {
		r.scanAt, r.scanFrom, r.scanSrc = r.pos, r.pos, r.src
	}
	if r.ahead == nil {
		r.ahead = make([]byte, 64<<10)
	}
	for {
		n, err := r.src.ReadAt(r.ahead, r.scanFrom)
		if bytes.IndexByte(r.ahead[:n], '\n') >= 0 {
			return true
		}
		r.scanFrom += int64(n)
		if n == 0 || err == io.EOF || err != nil {
			return false
		}
	}
}
