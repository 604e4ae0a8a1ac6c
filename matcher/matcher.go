// Package matcher finds catalog keys (error codes) in a line of text.
//
// It knows nothing of I/O: callers hand it bytes and get back positions.
// Every engine is read-only after construction, so one value serves all
// goroutines, and none allocates per call.
package matcher

import (
	"fmt"
	"strings"
)

// Unknown is the Key of a match that is no key but a number shaped like a
// numeric code (six digits beginning with 8, passing the boundary rule),
// reported only by matchers built with NewWithUnknown.
const Unknown = -1

// Match is one key found in a text: text[Start:End] equals the key, and
// Key is the key's index in the slice the matcher was built from.
type Match struct {
	Start, End int
	Key        int
}

// Matcher finds keys that stand on their own in a text (see the package's
// boundary rule in Valid).
type Matcher interface {
	// Find appends to dst the distinct keys found in text whose occurrence
	// lies within text[from:to], each once at its first valid occurrence,
	// ordered by position, and returns the extended slice. Bytes outside
	// [from, to) are consulted for the boundary rule only, so a caller
	// scanning a long line in pieces can pass context around a piece. The
	// ends of text count as boundaries.
	Find(text []byte, from, to int, dst []Match) []Match
	// First returns the start of the first valid key occurrence in text, or
	// -1. Callers use it to skip over blocks of lines with no key at all.
	First(text []byte) int
}

// Engine names which implementation serves a key set.
type Engine string

const (
	// Auto uses the numeric engine for six-digit codes beginning with 8,
	// the digit-run engine for other keys when all of them are numbers,
	// the prefix engine when they all begin with one prefix, and
	// Aho-Corasick for any other key, combining them when needed.
	Auto Engine = "auto"
	// Numeric serves only six-digit codes beginning with 8.
	Numeric Engine = "numeric"
	// AhoCorasick serves any key set.
	AhoCorasick Engine = "ahocorasick"
)

// New builds a matcher for keys with the given engine. Keys must be
// non-empty, distinct, and hold no line terminator (a key never spans
// lines).
func New(keys []string, engine Engine) (Matcher, error) {
	return build(keys, engine, false)
}

// NewWithUnknown is New whose matcher also reports every occurrence of a
// number shaped like a numeric code that is not a key, as a match of key
// Unknown (not deduplicated: each occurrence counts), and whose First
// stops at those too. Counting them is then part of the one scan that
// finds the keys: the metrics and the summary need no second pass.
func NewWithUnknown(keys []string, engine Engine) (Matcher, error) {
	return build(keys, engine, true)
}

func build(keys []string, engine Engine, unknown bool) (Matcher, error) {
	seen := newKeySet(keys)
	for i, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("key %d is empty", i)
		}
		if strings.ContainsAny(k, "\r\n") {
			return nil, fmt.Errorf("key %q holds a line terminator", k)
		}
		if j, ok := seen.add(i); !ok {
			return nil, fmt.Errorf("key %q given twice (at %d and %d)", k, j, i)
		}
	}
	var numIdx, otherIdx []int
	for i, k := range keys {
		if IsNumericCode(k) {
			numIdx = append(numIdx, i)
		} else {
			otherIdx = append(otherIdx, i)
		}
	}
	switch engine {
	case Numeric:
		n, err := newNumeric(keys)
		if err != nil {
			return nil, err
		}
		n.unknown = unknown
		return n, nil
	case AhoCorasick:
		if !unknown {
			return newAutomaton(keys), nil
		}
		// The automaton serves every key; a numeric engine holding the
		// numeric ones reports only the numbers that are none of them.
		num, err := newNumeric(pick(keys, numIdx))
		if err != nil {
			return nil, err
		}
		num.unknown, num.onlyUnknown = true, true
		return &combined{num: remapped{num, numIdx}, ac: remapped{newAutomaton(keys), identity(len(keys))}}, nil
	case Auto, "":
		if len(otherIdx) == 0 {
			n, err := newNumeric(keys)
			if err != nil {
				return nil, err
			}
			n.unknown = unknown
			return n, nil
		}
		if len(numIdx) == 0 && !unknown {
			return newOther(keys), nil
		}
		num, err := newNumeric(pick(keys, numIdx))
		if err != nil {
			return nil, err
		}
		num.unknown = unknown
		return &combined{
			num: remapped{num, numIdx}, ac: remapped{newOther(pick(keys, otherIdx)), otherIdx},
		}, nil
	default:
		return nil, fmt.Errorf("unknown matcher engine %q (want auto, numeric or ahocorasick)", engine)
	}
}

// newOther builds the engine for the keys the numeric engine does not
// serve: the digit-run engine when every one is a number, the prefix
// engine when all share a prefix, else Aho-Corasick.
func newOther(keys []string) Matcher {
	if d, err := newDigits(keys); err == nil {
		return d
	}
	if p, err := newPrefixed(keys); err == nil {
		return p
	}
	return newAutomaton(keys)
}

// IsNumericCode reports whether k is a six-digit code beginning with 8, the
// shape the numeric engine serves.
func IsNumericCode(k string) bool {
	if len(k) != 6 || k[0] != '8' {
		return false
	}
	for i := 1; i < 6; i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	return true
}

func identity(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func pick(keys []string, idx []int) []string {
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = keys[j]
	}
	return out
}

func isWord(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Valid reports whether the key occurrence text[start:end] stands on its
// own. The rule, for each side of the key:
//   - if the key's edge byte is an ASCII letter, digit or underscore, the
//     neighbouring byte must not be one (so 1898001 and 898001x hold no
//     code, but 错误码898001， does: non-ASCII text does not block);
//   - if the key's edge byte is a digit, the key must not be part of a
//     decimal number: no digit and '.' right before it (3.898001), no '.'
//     and digit right after it (898001.5).
//
// A key whose edge is punctuation (say "[E42]") may touch anything on that
// side.
func Valid(text []byte, start, end int) bool {
	first, last := text[start], text[end-1]
	if isWord(first) && start > 0 {
		c := text[start-1]
		if isWord(c) {
			return false
		}
		if isDigit(first) && c == '.' && start > 1 && isDigit(text[start-2]) {
			return false
		}
	}
	if isWord(last) && end < len(text) {
		c := text[end]
		if isWord(c) {
			return false
		}
		if isDigit(last) && c == '.' && end+1 < len(text) && isDigit(text[end+1]) {
			return false
		}
	}
	return true
}

// remapped translates an engine's key indices back to the caller's.
type remapped struct {
	m   Matcher
	idx []int
}

// combined runs the numeric engine and another (Aho-Corasick or the
// digit-run engine, in ac) side by side and merges their matches by
// position.
type combined struct {
	num, ac remapped
}

func (c *combined) Find(text []byte, from, to int, dst []Match) []Match {
	base := len(dst)
	dst = c.num.m.Find(text, from, to, dst)
	for i := base; i < len(dst); i++ {
		if dst[i].Key != Unknown {
			dst[i].Key = c.num.idx[dst[i].Key]
		}
	}
	mid := len(dst)
	dst = c.ac.m.Find(text, from, to, dst)
	for i := mid; i < len(dst); i++ {
		dst[i].Key = c.ac.idx[dst[i].Key]
	}
	if mid > base && len(dst) > mid {
		// Insertion sort: a handful of matches, and no allocation.
		for i := base + 1; i < len(dst); i++ {
			for j := i; j > base && before(dst[j], dst[j-1]); j-- {
				dst[j], dst[j-1] = dst[j-1], dst[j]
			}
		}
	}
	return dst
}

func (c *combined) First(text []byte) int {
	a, b := c.num.m.First(text), c.ac.m.First(text)
	if a < 0 || (b >= 0 && b < a) {
		return b
	}
	return a
}

// before orders matches by position, the shorter first where two keys start
// at the same byte, so that every engine reports the same order.
func before(a, b Match) bool {
	if a.Start != b.Start {
		return a.Start < b.Start
	}
	return a.End < b.End
}
