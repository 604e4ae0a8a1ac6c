package matcher

import (
	"encoding/binary"
	"math/bits"
)

// A code that passes the boundary rule is a whole word: an '8' with no
// letter, digit or underscore before it. Timestamps, ids, IPs and hex
// strings are full of '8's, but few of them start a word, so the numeric
// engine looks for exactly those, many bytes at a time, and checks only
// the few candidates byte by byte.

// indexWordStart8 returns the first p in [i, to) where text[p] is '8' and
// text[p-1] is not a word byte (or p is 0), or -1.
func indexWordStart8(text []byte, i, to int) int {
	if i == 0 {
		if to > 0 && text[0] == '8' {
			return 0
		}
		i = 1
	}
	if i >= to {
		return -1
	}
	b := text[i-1 : to]
	if k := wordStart8(b); k >= 0 {
		return i - 1 + k
	}
	for p := i - 1 + scanned(len(b)); p < to; p++ {
		if text[p] == '8' && !isWord(text[p-1]) {
			return p
		}
	}
	return -1
}

// scanned is how far wordStart8 looks into a slice of length n: whole
// steps of 16 positions from position 1.
func scanned(n int) int { return 1 + max(0, n-1)&^15 }

// wordStart8Generic returns the first k in [1, scanned(len(b))) where b[k]
// is '8' and b[k-1] is not a word byte, or -1. It works on eight bytes at a
// time in a uint64 (SWAR).
func wordStart8Generic(b []byte) int {
	end := scanned(len(b))
	for k := 1; k+8 <= end; k += 8 {
		c := eqBytes(binary.LittleEndian.Uint64(b[k:]), '8')
		if c == 0 {
			continue
		}
		// Byte j of prev is b[k+j-1], the byte before byte j of the word.
		c &^= wordBytes(binary.LittleEndian.Uint64(b[k-1:]))
		if c != 0 {
			return k + bits.TrailingZeros64(c)>>3
		}
	}
	return -1
}

const (
	lanes01 = 0x0101010101010101
	lanes7f = 0x7f7f7f7f7f7f7f7f
	lanes80 = 0x8080808080808080
)

// eqBytes sets the high bit of each byte of w that equals b, and no other
// bit. (Exact: no carry crosses from one byte to the next.)
func eqBytes(w uint64, b byte) uint64 {
	x := w ^ (lanes01 * uint64(b))
	return ^((x&lanes7f + lanes7f) | x) & lanes80
}

// wordBytes sets the high bit of each byte of w that is an ASCII letter,
// digit or underscore (isWord), and no other bit.
func wordBytes(w uint64) uint64 {
	lo := w & lanes7f
	// A byte lies in [a, b] when adding 0x80-a sets its high bit and adding
	// 0x80-(b+1) does not; seven-bit bytes never carry into the next one.
	digit := (lo + lanes01*(0x80-'0')) &^ (lo + lanes01*(0x80-'9'-1))
	l := lo | lanes01*0x20 // folds upper case onto lower case
	alpha := (l + lanes01*(0x80-'a')) &^ (l + lanes01*(0x80-'z'-1))
	x := lo ^ lanes01*'_'
	under := ^((x + lanes7f) | x)
	return (digit | alpha | under) &^ w & lanes80
}
