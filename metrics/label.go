package metrics

import (
	"strings"
	"unicode/utf8"
)

// labelText makes v valid UTF-8, as the text format requires (a scraper
// rejects the whole page otherwise), without letting two values meet: a
// file name may hold any byte but NUL and slash. Each byte that is not
// part of a UTF-8 character becomes the text \xHH (lowercase hex, 80 to
// ff), and a backslash that would otherwise be read as the start of such
// an escape, or of an escaped backslash, is doubled. Everything else is
// left as it is, so ordinary names, systemd's escaped ones such as
// foo\x2dbar.log included, read the same in a label as on disk.
func labelText(v string) string {
	if utf8.ValidString(v) && strings.IndexByte(v, '\\') < 0 {
		return v
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(v) + 8)
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRuneInString(v[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteByte(hex[v[i]>>4])
			b.WriteByte(hex[v[i]&15])
		case r == '\\' && escapeLike(v[i+1:]):
			b.WriteString(`\\`)
		default:
			b.WriteString(v[i : i+n])
		}
		i += n
	}
	return b.String()
}

// escapeLike reports whether a backslash written as it is before rest
// would be read back as part of an escape: rest starts with a backslash,
// with a byte that becomes \xHH, or with the text xHH for HH in 80..ff.
func escapeLike(rest string) bool {
	switch {
	case rest == "":
		return false
	case rest[0] == '\\':
		return true
	case rest[0] >= utf8.RuneSelf:
		r, n := utf8.DecodeRuneInString(rest)
		return r == utf8.RuneError && n == 1
	}
	return len(rest) >= 3 && rest[0] == 'x' && isHighHex(rest[1]) && isHex(rest[2])
}

// isHighHex: the first digit of a byte that is never ASCII.
func isHighHex(c byte) bool { return c == '8' || c == '9' || 'a' <= c && c <= 'f' }

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }
