package matcher

import (
	"bytes"

	"github.com/cloudflare/ahocorasick"
)

// ac serves arbitrary string keys with github.com/cloudflare/ahocorasick.
// That library reports which patterns occur (each once, no positions) and
// allocates its result slice only when something matched, so this engine
// asks it which keys are present and then finds each key's first
// occurrence that passes the boundary rule with bytes.Index.
type ac struct {
	m      *ahocorasick.Matcher
	keys   [][]byte
	maxLen int
}

func newAC(keys []string) *ac {
	bs := make([][]byte, len(keys))
	for i, k := range keys {
		bs[i] = []byte(k)
	}
	a := &ac{m: ahocorasick.NewMatcher(bs), keys: bs}
	for _, k := range bs {
		a.maxLen = max(a.maxLen, len(k))
	}
	return a
}

// firstValid returns the start of key's first occurrence inside
// text[from:to] that passes the boundary rule, or -1.
func (a *ac) firstValid(text []byte, from, to, key int) int {
	k := a.keys[key]
	for from+len(k) <= to {
		j := bytes.Index(text[from:to], k)
		if j < 0 {
			return -1
		}
		p := from + j
		if Valid(text, p, p+len(k)) {
			return p
		}
		from = p + 1
	}
	return -1
}

func (a *ac) Find(text []byte, from, to int, dst []Match) []Match {
	if from >= to {
		return dst
	}
	// MatchThreadSafe (not Match) because Match mutates the trie.
	hits := a.m.MatchThreadSafe(text[from:to])
	base := len(dst)
	for _, key := range hits {
		p := a.firstValid(text, from, to, key)
		if p < 0 {
			continue
		}
		dst = append(dst, Match{Start: p, End: p + len(a.keys[key]), Key: key})
		for j := len(dst) - 1; j > base && before(dst[j], dst[j-1]); j-- {
			dst[j], dst[j-1] = dst[j-1], dst[j]
		}
	}
	return dst
}

// First looks through text in windows that double in size, so that
// finding a key near the start costs little and a caller that calls First
// again after each hit (the annotator, over a block of lines) scans each
// byte a bounded number of times instead of the whole rest of the block
// per hit.
func (a *ac) First(text []byte) int {
	for from, w := 0, 4096; from < len(text); from, w = from+w, min(2*w, 1<<20) {
		to := min(len(text), from+w)
		// Keys starting before to may end up to maxLen-1 bytes later.
		end := min(len(text), to+a.maxLen-1)
		best := -1
		for _, key := range a.m.MatchThreadSafe(text[from:end]) {
			// An occurrence starting at or after to is judged with the
			// next window, where the keys it may hide behind are seen.
			if p := a.firstValid(text, from, end, key); p >= 0 && p < to && (best < 0 || p < best) {
				best = p
			}
		}
		if best >= 0 {
			return best
		}
	}
	return -1
}
