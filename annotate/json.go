package annotate

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// safe[b] is true for ASCII bytes that go into a JSON string as they are.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendJSONString appends s as a quoted JSON string. Bytes that are not
// valid UTF-8 are written as the escapes \udc80 to \udcff (the lone low
// surrogate U+DC00 plus the byte, PEP 383's "surrogateescape"), so the
// exact bytes can be recovered: Python's
// json.loads(x).encode("utf-8", "surrogateescape") gives them back, and a
// decoder that does not know the convention shows U+FFFD. Valid text,
// including U+2028 and U+2029, is escaped only where JSON requires it.
func AppendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	dst, _ = appendJSONBody(dst, s, true)
	return append(dst, '"')
}

// appendJSONBody escapes s without quotes. When final is false, a trailing
// incomplete UTF-8 sequence is left unwritten and its length returned, so a
// caller writing a long line in pieces can prepend it to the next piece.
func appendJSONBody(dst, s []byte, final bool) ([]byte, int) {
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			// Most bytes go out as they are: skip them eight at a time.
			m := needsEscape(binary.LittleEndian.Uint64(s[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			if !final && !utf8.FullRune(s[i:]) {
				dst = append(dst, s[start:i]...)
				return dst, len(s) - i
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', 'd', 'c', hexDigits[b>>4], hexDigits[b&0xf])
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...), 0
}

// needsEscape sets the high bit of each byte of w that safe does not hold:
// a control byte, '"', '\\' or a byte of a multi-byte (or invalid) UTF-8
// sequence. No carry crosses from one byte to the next: every sum stays
// below 0x100.
func needsEscape(w uint64) uint64 {
	const (
		ones = 0x0101010101010101
		low7 = 0x7f7f7f7f7f7f7f7f
	)
	lo := w & low7
	control := ^(lo + ones*(0x80-0x20))
	q := lo ^ ones*'"'
	quote := ^((q + low7) | q)
	bs := lo ^ ones*'\\'
	backslash := ^((bs + low7) | bs)
	return (w | control | quote | backslash) & (ones * 0x80)
}
