package annotate

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"
)

// plainJSONBody is appendJSONBody as a byte-at-a-time loop, the reference
// the eight-bytes-at-a-time scan is held to.
func plainJSONBody(dst, s []byte, final bool) ([]byte, int) {
	for i := 0; i < len(s); {
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
		dst = append(dst, s[i:i+size]...)
		i += size
	}
	return dst, 0
}

func TestNeedsEscapeEveryByte(t *testing.T) {
	for b := 0; b < 256; b++ {
		want := b >= utf8.RuneSelf || !safe[b]
		for lane := 0; lane < 8; lane++ {
			w := uint64(0x6161616161616161) // "aaaaaaaa"
			w = w&^(0xff<<(8*lane)) | uint64(b)<<(8*lane)
			m := needsEscape(w)
			if got := m&(0x80<<(8*lane)) != 0; got != want {
				t.Fatalf("byte %#x in lane %d: flagged %v, want %v", b, lane, got, want)
			}
			if m&^(0x80<<(8*lane)) != 0 {
				t.Fatalf("byte %#x in lane %d flags other lanes: %#x", b, lane, m)
			}
		}
	}
}

func TestJSONBodyAgreesWithPlain(t *testing.T) {
	pieces := []string{"a", "plain text ", strings.Repeat("a long run of plain text ", 3), `"`, `\`, "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "错误码", "é",
		"\xff", "\xe9\x94", "\xf0\x9f\x98", "\xf0\x9f\x98\x80", "\u2028", `{"k":"v"}`, "0123456789abcdef"}
	r := rand.New(rand.NewSource(3))
	for n := 0; n < 50000; n++ {
		var s []byte
		for k := r.Intn(30); k > 0; k-- {
			s = append(s, pieces[r.Intn(len(pieces))]...)
		}
		for _, final := range []bool{true, false} {
			got, grest := appendJSONBody(nil, s, final)
			want, wrest := plainJSONBody(nil, s, final)
			if !bytes.Equal(got, want) || grest != wrest {
				t.Fatalf("%q final=%v:\n got %q rest %d\nwant %q rest %d", s, final, got, grest, want, wrest)
			}
		}
	}
}

// TestIndexEscape holds the assembly (on amd64) and the portable scan to
// a byte loop, with the byte to escape at every position and of every
// value.
func TestIndexEscape(t *testing.T) {
	for n := 0; n <= 70; n++ {
		for p := -1; p < n; p++ {
			for b := 0; b < 256; b++ {
				if p < 0 && b > 0 {
					break
				}
				s := bytes.Repeat([]byte("x"), n)
				if p >= 0 {
					s[p] = byte(b)
				}
				want := -1
				for i := 0; i < n&^15; i++ {
					if s[i] >= utf8.RuneSelf || !safe[s[i]] {
						want = i
						break
					}
				}
				if got := indexEscape(s); got != want {
					t.Fatalf("indexEscape(%q) = %d, want %d", s, got, want)
				}
				if got := indexEscapeGeneric(s); got != want {
					t.Fatalf("indexEscapeGeneric(%q) = %d, want %d", s, got, want)
				}
			}
		}
	}
}

// TestEscapeQuotes holds escapeQuotes (the assembly on amd64) and its
// portable twin to plain escaping: what they write is src[:r] with its
// quotes and backslashes escaped, and they stop only where they may.
func TestEscapeQuotes(t *testing.T) {
	pieces := []string{"a", "plain text ", `"`, `\`, `{"k":"v"}`, "\n", "\x00", "\x7f", "é", "错", "0123456789abcdef"}
	r := rand.New(rand.NewSource(9))
	for n := 0; n < 50000; n++ {
		var src []byte
		for k := r.Intn(40); k > 0; k-- {
			src = append(src, pieces[r.Intn(len(pieces))]...)
		}
		room := r.Intn(3 * (len(src) + 40))
		for name, f := range map[string]func(dst, src []byte) (int, int){"escapeQuotes": escapeQuotes, "generic": escapeQuotesGeneric} {
			dst := make([]byte, 0, room)
			w, rd := f(dst, src)
			got := dst[:w]
			want, _ := plainJSONBody(nil, src[:rd], true)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s(%q): wrote %q for the first %d bytes, want %q", name, src, got, rd, want)
			}
			// It may stop only with under 16 bytes left, under 32 bytes
			// of room left, or at a byte needing another escape.
			if rd+16 <= len(src) && w+32 <= room {
				if c := src[rd]; c >= 0x20 && c < 0x80 {
					t.Fatalf("%s(%q) stopped at %d (byte %q) with room", name, src, rd, c)
				}
			}
		}
	}
}
