package annotate

import (
	"encoding/binary"
	"math/bits"
	"slices"
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
//
// Log lines that are themselves JSON hold a quote every few bytes, so the
// runs between escapes are short: each step stores eight bytes of s into
// dst as one word and keeps those before the first byte to escape, rather
// than copying each run with a call.
func appendJSONBody(dst, s []byte, final bool) ([]byte, int) {
	i, fast := 0, 0
	for i < len(s) {
		if rest := len(s) - i; rest >= 16 && i >= fast {
			// Room for every byte left escaped, so that only another
			// escape stops the copy.
			if need := 2*rest + 32; cap(dst)-len(dst) < need {
				dst = slices.Grow(dst, need)
			}
			w, r := escapeQuotes(dst[len(dst):cap(dst)], s[i:])
			dst = dst[:len(dst)+w]
			i += r
			if i == len(s) {
				break
			}
			// The byte at i needs another escape (a control byte, or
			// UTF-8, which comes in runs: Chinese text) and goes the
			// ways below, as do the next sixteen bytes.
			fast = i + 16
		}
		if cap(dst)-len(dst) < 16 {
			dst = slices.Grow(dst, len(s)-i+16)
		}
		if i+8 <= len(s) {
			w := binary.LittleEndian.Uint64(s[i:])
			n := len(dst)
			binary.LittleEndian.PutUint64(dst[n:n+8], w)
			m := needsEscape(w)
			if m == 0 {
				dst = dst[:n+8]
				i += 8
				// A clean word often starts a long clean run (a plain log
				// line): find its end sixteen bytes a step, copy it whole.
				if j := indexEscape(s[i:]); j != 0 {
					if j < 0 {
						j = (len(s) - i) &^ 15
					}
					dst = append(dst, s[i:i+j]...)
					i += j
				}
				continue
			}
			k := bits.TrailingZeros64(m) >> 3
			i += k
			if c := s[i]; c == '"' || c == '\\' {
				// The common escape, in place: the room checked above
				// holds the word and these two bytes.
				dst = dst[:n+k+2]
				dst[n+k], dst[n+k+1] = '\\', c
				i++
				continue
			}
			dst = dst[:n+k]
		}
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case safe[b]:
				dst = append(dst, b)
			case b == '"' || b == '\\':
				dst = append(dst, '\\', b)
			case b == '\n':
				dst = append(dst, '\\', 'n')
			case b == '\r':
				dst = append(dst, '\\', 'r')
			case b == '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			if !final && !utf8.FullRune(s[i:]) {
				return dst, len(s) - i
			}
			dst = append(dst, '\\', 'u', 'd', 'c', hexDigits[b>>4], hexDigits[b&0xf])
			i++
			continue
		}
		// The characters after it, while valid and not ASCII, go with
		// it in one copy: Chinese text comes in runs.
		j := i + size
		for j < len(s) && s[j] >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[j:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			j += size
		}
		dst = append(dst, s[i:j]...)
		i = j
	}
	return dst, 0
}

// indexEscapeGeneric returns the index of the first byte of b that a JSON
// string cannot hold as it is (see needsEscape), looking at whole steps of
// sixteen bytes only, or -1 if there is none there.
func indexEscapeGeneric(b []byte) int {
	for i := 0; i+16 <= len(b); i += 16 {
		if m := needsEscape(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		if m := needsEscape(binary.LittleEndian.Uint64(b[i+8:])); m != 0 {
			return i + 8 + bits.TrailingZeros64(m)>>3
		}
	}
	return -1
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
