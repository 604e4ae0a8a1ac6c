package annotate

import "bytes"

type logfmtState uint8

const (
	lSep    logfmtState = iota // at the start, or after a separator
	lKey                       // inside a key
	lEq                        // just after '='
	lBare                      // inside a bare value
	lQuoted                    // inside a quoted value
	lEsc                       // after a backslash in a quoted value
	lClosed                    // just after a quoted value's closing '"'
	lBad                       // not a logfmt line
)

// logfmtLine decides, a piece at a time, whether a line is a logfmt line:
// key=value pairs separated by spaces or tabs, each value empty, bare (no
// space, '=' or '"') or double-quoted with backslash escapes. Keys are
// bytes above the space other than '=' and '"'. A word without '=' makes
// the line prose, not logfmt. It notes which candidate field names occur
// as keys.
type logfmtLine struct {
	state logfmtState
	pairs int
	names [][]byte
	key   []byte // the key being read, while it can still be a name
	over  bool
	taken uint8
}

func (l *logfmtLine) reset() {
	l.state = lSep
	l.pairs = 0
	l.key = l.key[:0]
	l.over = false
	l.taken = 0
}

// ok reports whether everything fed so far is a complete logfmt line.
func (l *logfmtLine) ok() bool {
	switch l.state {
	case lSep, lEq, lBare, lClosed:
		return l.pairs > 0
	}
	return false
}

func isLogfmtSep(c byte) bool { return c == ' ' || c == '\t' }

// isWordByte is a byte a key or a bare value may hold.
func isWordByte(c byte) bool { return c > ' ' && c != '=' && c != '"' }

// feed reads the next bytes of the line.
func (l *logfmtLine) feed(b []byte) {
	st := l.state
	for i := 0; i < len(b) && st != lBad; i++ {
		c := b[i]
		switch st {
		case lSep:
			switch {
			case isLogfmtSep(c):
			case isWordByte(c):
				st = lKey
				l.key, l.over = l.key[:0], false
				l.keyByte(c)
			default:
				st = lBad
			}
		case lKey:
			switch {
			case c == '=':
				l.endKey()
				l.pairs++
				st = lEq
			case isWordByte(c):
				l.keyByte(c)
			default:
				st = lBad
			}
		case lEq:
			switch {
			case isLogfmtSep(c):
				st = lSep
			case c == '"':
				st = lQuoted
			case isWordByte(c):
				st = lBare
			default:
				st = lBad
			}
		case lBare:
			for i < len(b) && isWordByte(b[i]) {
				i++
			}
			if i == len(b) {
				break
			}
			if isLogfmtSep(b[i]) {
				st = lSep
			} else {
				st = lBad
			}
		case lQuoted:
			for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
				i++
			}
			if i == len(b) {
				break
			}
			switch b[i] {
			case '"':
				st = lClosed
			case '\\':
				st = lEsc
			default:
				st = lBad
			}
		case lEsc:
			if c < 0x20 {
				st = lBad
			} else {
				st = lQuoted
			}
		case lClosed:
			if isLogfmtSep(c) {
				st = lSep
			} else {
				st = lBad
			}
		}
	}
	l.state = st
}

func (l *logfmtLine) keyByte(c byte) {
	if l.over {
		return
	}
	for _, name := range l.names {
		if len(l.key) < len(name) {
			l.key = append(l.key, c)
			return
		}
	}
	l.over = true
}

func (l *logfmtLine) endKey() {
	if l.over {
		return
	}
	for i, name := range l.names {
		if bytes.Equal(l.key, name) {
			l.taken |= 1 << i
		}
	}
}
