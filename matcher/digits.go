package matcher

import (
	"fmt"
	"math/bits"
)

// digits serves catalogs whose keys are all ASCII digits (five-digit
// codes, say). Such a key passes the boundary rule only as a whole
// number: no digit, letter or underscore on either side, and no decimal
// point joining it to more digits. So each number in the text is at most
// one candidate, the key equal to it; the Aho-Corasick automaton, started
// at every number, walked each one's digits through its trie instead. The
// engine finds the numbers as long as some key with bit masks (see
// scan_digits.go) and looks each up in a set.
type digits struct {
	// lens has bit n set when some key has n digits; minLen and maxLen
	// bound them.
	lens           uint32
	minLen, maxLen int
	// small[n], for n up to smallDigits, has bit v set when the n-digit
	// number v is a key: most numbers in a log are no key, and this
	// tells so without hashing.
	small [smallDigits + 1][]uint64
	// index maps digitKey(v, n) to the key's index.
	index map[uint64]int32
}

const (
	// maxDigitKey is the longest key the engine serves: a value and its
	// length fit in one uint64 (10^17 < 2^57).
	maxDigitKey = 17
	// smallDigits is the longest key length given a bit set (10^6 bits,
	// 125 KiB).
	smallDigits = 6
	// digitChunk is how many 64-byte blocks next classifies at a time:
	// enough to make the call's cost small, few enough that a key near
	// the start is not paid for with a long scan past it.
	digitChunk = 16
)

// digitKeys reports whether the digit-run engine can serve keys: every
// one ASCII digits, none empty (the masks look for runs of at least one)
// or longer than maxDigitKey.
func digitKeys(keys []string) bool {
	for _, k := range keys {
		if len(k) == 0 || len(k) > maxDigitKey {
			return false
		}
		for i := 0; i < len(k); i++ {
			if !isDigit(k[i]) {
				return false
			}
		}
	}
	return len(keys) > 0
}

func newDigits(keys []string) (*digits, error) {
	if !digitKeys(keys) {
		return nil, fmt.Errorf("digit engine: keys must be ASCII digits, at most %d of them", maxDigitKey)
	}
	d := &digits{minLen: maxDigitKey, index: make(map[uint64]int32, len(keys))}
	for i, k := range keys {
		n := len(k)
		d.lens |= 1 << n
		d.minLen, d.maxLen = min(d.minLen, n), max(d.maxLen, n)
		v := digitValue([]byte(k))
		if n <= smallDigits {
			if d.small[n] == nil {
				d.small[n] = make([]uint64, (pow10(n)+63)/64)
			}
			d.small[n][v/64] |= 1 << (v % 64)
		}
		d.index[digitKey(v, n)] = int32(i)
	}
	return d, nil
}

func pow10(n int) int {
	p := 1
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

func digitValue(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v*10 + uint64(c-'0')
	}
	return v
}

func digitKey(v uint64, n int) uint64 { return v | uint64(n)<<58 }

// lookup returns the index of the key text[p:p+n] (all digits), or -1.
func (d *digits) lookup(text []byte, p, n int) int {
	v := digitValue(text[p : p+n])
	if n <= smallDigits && d.small[n][v/64]&(1<<(v%64)) == 0 {
		return -1
	}
	if k, ok := d.index[digitKey(v, n)]; ok {
		return int(k)
	}
	return -1
}

// next returns the first key occurrence in text starting at or after i
// and ending by to that passes the boundary rule: its start, its end and
// its key index; start is -1 when there is none. Bytes outside [i, to) are
// read for the boundary rule only.
func (d *digits) next(text []byte, i, to int) (start, end, key int) {
	// The masks cover text[i:to+1]: the byte at to, if any, says whether
	// a number ending there ends there.
	region := text[i:min(len(text), to+1)]
	var carry uint64 // whether the byte before the block is a digit
	if i > 0 && isDigit(text[i-1]) {
		carry = 1
	}
	single := d.minLen == d.maxLen
	var m [digitChunk + 1]uint64
	for base := 0; base < len(region); base += digitChunk * 64 {
		n := digitMasks(region[base:], m[:])
		clear(m[n:]) // past the end: no digits
		for j := 0; j < min(n, digitChunk); j++ {
			lo, hi := m[j], m[j+1]
			// Where a run of digits starts, at least minLen long.
			c := lo &^ (lo<<1 | carry) & runsAtLeast(lo, hi, d.minLen)
			carry = lo >> 63
			if single {
				// And ends right after minLen digits.
				c &^= shr128(lo, hi, uint(d.minLen))
			} else {
				c &^= runsAtLeast(lo, hi, d.maxLen+1)
			}
			for ; c != 0; c &= c - 1 {
				b := bits.TrailingZeros64(c)
				n := d.minLen
				if !single {
					n = bits.TrailingZeros64(^shr128(lo, hi, uint(b)))
					if d.lens&(1<<n) == 0 {
						continue
					}
				}
				p := i + base + j*64 + b
				if k := d.check(text, p, p+n, to); k >= 0 {
					return p, p + n, k
				}
			}
		}
	}
	return -1, 0, 0
}

// check returns the key index of the run of digits text[p:e] if it ends
// by to, stands on its own by the boundary rule (Valid) and is a key, or
// -1. The byte before p and the byte at e are known to be no digits.
func (d *digits) check(text []byte, p, e, to int) int {
	if e > to {
		return -1
	}
	if p > 0 {
		c := text[p-1]
		if wordByte[c] || c == '.' && p > 1 && isDigit(text[p-2]) {
			return -1
		}
	}
	if e < len(text) {
		c := text[e]
		if wordByte[c] || c == '.' && e+1 < len(text) && isDigit(text[e+1]) {
			return -1
		}
	}
	return d.lookup(text, p, e-p)
}

func (d *digits) Find(text []byte, from, to int, dst []Match) []Match {
	base := len(dst)
	for from < to {
		p, e, k := d.next(text, from, to)
		if p < 0 {
			break
		}
		if !seen(dst[base:], k) {
			dst = append(dst, Match{Start: p, End: e, Key: k})
		}
		from = e
	}
	return dst
}

func (d *digits) First(text []byte) int {
	p, _, _ := d.next(text, 0, len(text))
	return p
}
