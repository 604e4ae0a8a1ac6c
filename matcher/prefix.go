package matcher

import (
	"bytes"
	"errors"
	"slices"
)

// prefixed serves catalogs whose keys all begin with one literal prefix
// (ERR_00042_ABCD and its 10,000 siblings; ORA-, SQLSTATE and E11000
// families). Every key occurrence then starts at an occurrence of the
// prefix, so the engine finds those the way the automaton's pair
// prefilter finds its candidates (a byte rare in log text and the byte
// after it, bytes.IndexByte or 32 bytes a step in SSE2), checks the whole
// prefix there, and looks up the text from that start in a set, once per
// key length: the start of a key is known, so no automaton is needed to
// find which key it is.
//
// The scan was never the cost: the automaton's pair prefilter already ran
// at 34 GB per CPU second over the default profile. The cost was building
// the automaton: 7.5 MiB of dense rows for 10,000 such keys, 20-30 ms of
// a 60 ms run of 256 MiB, more than the whole gap to GNU grep. A set of
// the keys is built in well under a millisecond.
type prefixed struct {
	prefix []byte
	// set holds the keys; lens their distinct lengths, shortest first,
	// so that matches at one start come out in the order before wants.
	set  *keySet
	lens []int
	// The scan looks for text[c] == first with follow[text[c+1]], at c =
	// start+at. When ranged, every byte in follow lies in [lo, hi], below
	// 0x7f, and indexPairIn finds such pairs many bytes a step.
	at            int
	first, lo, hi byte
	ranged        bool
	follow        [256]bool
}

// Limits of the engine's use; other key sets go to the automaton.
const (
	// minPrefix is the shortest shared prefix served: one byte checked
	// after the pair would narrow nothing, and such sets are rarely
	// families.
	minPrefix = 2
	// maxPrefixLens bounds the lookups a candidate costs.
	maxPrefixLens = 8
)

var errNotPrefixed = errors.New("prefix engine: the keys share no prefix of at least 2 bytes with a rare byte, or have more than 8 lengths")

// newPrefixed builds the engine, or returns errNotPrefixed when keys do
// not suit it.
func newPrefixed(keys []string) (*prefixed, error) {
	if len(keys) == 0 {
		return nil, errNotPrefixed
	}
	p := &prefixed{prefix: []byte(commonPrefix(keys))}
	if len(p.prefix) < minPrefix {
		return nil, errNotPrefixed
	}
	for _, k := range keys {
		if !slices.Contains(p.lens, len(k)) {
			if len(p.lens) == maxPrefixLens {
				return nil, errNotPrefixed
			}
			p.lens = append(p.lens, len(k))
		}
	}
	slices.Sort(p.lens)
	if !p.choosePair(keys) {
		return nil, errNotPrefixed
	}
	p.set = newKeySet(slices.Clone(keys)) // the caller may reuse its slice
	for i := range keys {
		p.set.add(i) // distinct: New checked
	}
	return p, nil
}

// choosePair picks the pair the scan looks for: inside the prefix, or its
// last byte and the bytes the keys continue with when every key is
// longer. Like the automaton's rare bytes, the first byte is the one
// rarity guesses rarest in log text, and among those the pair whose
// second byte is least likely after it (followScore): for ERR_ keys,
// the underscore then a digit. It reports false when every first byte is
// common in text: scanning for it would cost more than it skips.
func (p *prefixed) choosePair(keys []string) bool {
	last := len(p.prefix) - 1
	var next [256]bool // the bytes keys continue the prefix with
	straddle := true
	for _, k := range keys {
		if len(k) == len(p.prefix) {
			straddle = false
			break
		}
		next[k[len(p.prefix)]] = true
	}
	best, bestRarity, bestScore := -1, 256, 0
	for q := 0; q <= last; q++ {
		f := p.prefix[q]
		score := 0
		if q < last {
			score = followScore(f, p.prefix[q+1])
		} else if !straddle {
			continue
		} else {
			for c, ok := range next {
				if ok {
					score = max(score, followScore(f, byte(c)))
				}
			}
		}
		if r := int(rarity[f]); r < bestRarity || r == bestRarity && score < bestScore {
			best, bestRarity, bestScore = q, r, score
		}
	}
	if best < 0 || bestRarity >= rarityCommon {
		return false
	}
	p.at, p.first = best, p.prefix[best]
	if best < last {
		p.follow[p.prefix[best+1]] = true
	} else {
		p.follow = next
	}
	lo, hi := 255, -1
	for c, ok := range p.follow {
		if ok {
			lo, hi = min(lo, c), max(hi, c)
		}
	}
	p.lo, p.hi, p.ranged = byte(lo), byte(hi), hi < 0x7f
	return true
}

// nextPair returns the first c in [i, to-1) where text[c] is p.first and
// text[c+1] follows it in some key, or -1. Where the first byte is rare
// in the text, bytes.IndexByte finds it soonest; once one is no
// candidate, it is likely common here, and the pairs are looked for
// instead, in one pass (as the automaton's nextRare does).
func (p *prefixed) nextPair(text []byte, i, to int) int {
	for misses := 0; i+1 < to; misses++ {
		var c int
		if misses < pairMisses || !p.ranged {
			j := bytes.IndexByte(text[i:to], p.first)
			if j < 0 {
				return -1
			}
			c = i + j
			if c+1 >= to {
				return -1
			}
		} else if c = indexPairIn(text, i, to, p.first, p.lo, p.hi); c < 0 {
			return -1
		}
		if p.follow[text[c+1]] {
			return c
		}
		i = c + 1
	}
	return -1
}

// scan calls found for each valid key occurrence within text[from:to], in
// the order before gives, until found returns false.
func (p *prefixed) scan(text []byte, from, to int, found func(start, end, key int) bool) {
	word := wordByte[p.prefix[0]]
	for i := from + p.at; ; {
		c := p.nextPair(text, i, to)
		if c < 0 {
			return
		}
		i = c + 1
		s := c - p.at
		if s+len(p.prefix) > to || !bytes.Equal(text[s:s+len(p.prefix)], p.prefix) {
			continue
		}
		if word && s > 0 && wordByte[text[s-1]] {
			continue // inside a word: Valid rejects every key here
		}
		for _, n := range p.lens {
			if s+n > to {
				break
			}
			k := p.set.index(text[s : s+n])
			if k >= 0 && Valid(text, s, s+n) && !found(s, s+n, k) {
				return
			}
		}
	}
}

func (p *prefixed) Find(text []byte, from, to int, dst []Match) []Match {
	base := len(dst)
	p.scan(text, from, to, func(start, end, key int) bool {
		// Found in position order: a key's first occurrence comes first.
		if !seen(dst[base:], key) {
			dst = append(dst, Match{Start: start, End: end, Key: key})
		}
		return true
	})
	return dst
}

func (p *prefixed) First(text []byte) int {
	first := -1
	p.scan(text, 0, len(text), func(start, _, _ int) bool {
		first = start
		return false
	})
	return first
}

// commonPrefix returns the longest prefix every key begins with.
func commonPrefix(keys []string) string {
	pre := keys[0]
	for _, k := range keys[1:] {
		n := 0
		for n < len(pre) && n < len(k) && pre[n] == k[n] {
			n++
		}
		pre = pre[:n]
	}
	return pre
}
