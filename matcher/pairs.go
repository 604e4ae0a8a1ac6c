package matcher

import "bytes"

// The rare-byte prefilter (see jump) bets that one of up to three bytes,
// one in every key, is rare in the text. For key families such as
// ERR_00042_ABCD or AUTH_TIMEOUT_4127 that byte is the underscore, which
// real logs hold by the million (snake_case fields, upper-case
// constants), and the automaton then ran around every one of them. What
// is rare there is the pair: an underscore followed by a digit. So each
// key is also given the pair (its rare byte, the byte after it) whose
// second byte is least likely after the first, and a rare byte counts as
// a candidate only when the byte after it is one of those the keys pair
// it with. As GNU grep and Hyperscan do, the filter only narrows where to
// look: the automaton confirms every candidate.

// pairTable is the pair prefilter.
type pairTable struct {
	// off[k][f] is, for the k-th rare byte b, the furthest position j of
	// any key with key[j] == b and key[j+1] == f, for f among the bytes
	// the keys pair b with; -1 for the other bytes (no candidate there).
	// A row is maxOff[b] throughout when b is not paired (some key's only
	// rare byte is its last).
	off [3][256]int16
	// lo and hi bound the bytes the k-th rare byte is paired with, when
	// they lie below 0x7f: the scan then finds such pairs sixteen bytes a
	// step (indexPair) and checks each against off.
	lo, hi [3]byte
	ranged [3]bool
}

// usePairs sets a.pairs for the rare bytes a.rare, or leaves it nil when
// pairing would not narrow anything.
func (a *automaton) usePairs() {
	var follow [3][256]bool
	var anyFollow [3]bool
	narrows := false
	for _, k := range a.keys {
		// The occurrence of a rare byte whose next byte is least likely
		// after it; one at the key's end has no next byte.
		bestK, bestJ, best := -1, -1, 1<<30
		for j, c := range k {
			rk := bytes.IndexByte(a.rare, c)
			if rk < 0 {
				continue
			}
			score := 100 // no byte after it: any byte may follow
			if j+1 < len(k) {
				score = followScore(c, k[j+1])
			}
			if score < best {
				bestK, bestJ, best = rk, j, score
			}
		}
		if bestJ+1 < len(k) {
			follow[bestK][k[bestJ+1]] = true
			narrows = true
		} else {
			anyFollow[bestK] = true
		}
	}
	if !narrows {
		return
	}
	p := new(pairTable)
	for rk, b := range a.rare {
		lo, hi := 255, -1
		for f := range p.off[rk] {
			p.off[rk][f] = -1
			if anyFollow[rk] {
				p.off[rk][f] = int16(a.maxOff[b])
			}
			if follow[rk][f] {
				lo, hi = min(lo, f), max(hi, f)
			}
		}
		if !anyFollow[rk] && hi >= 0 && hi < 0x7f {
			p.lo[rk], p.hi[rk], p.ranged[rk] = byte(lo), byte(hi), true
		}
	}
	for _, k := range a.keys {
		for j := 0; j+1 < len(k); j++ {
			rk := bytes.IndexByte(a.rare, k[j])
			if rk >= 0 && !anyFollow[rk] && follow[rk][k[j+1]] {
				p.off[rk][k[j+1]] = max(p.off[rk][k[j+1]], int16(min(j, 1<<15-1)))
			}
		}
	}
	a.pairs = p
}

// followScore guesses how often byte f follows byte b in log text, lower
// meaning rarer: within a word class (letters, digits) bytes follow each
// other all the time; after an underscore or punctuation come letters
// (snake_case, upper-case constants) much more often than digits.
func followScore(b, f byte) int {
	cb, cf := byteClass(b), byteClass(f)
	switch {
	case cb == cf && cb != classOther && cb != classUnderscore:
		return 8
	case cb == classUnderscore && cf == classDigit:
		return 1
	case cb == classLower && cf == classUpper:
		return 2 // the hump of camelCase
	case (cb == classUnderscore || cb == classOther) && cf == classUpper:
		return 3
	case cb == classUpper && cf == classLower:
		return 7 // every Capitalized word
	case cb == classUnderscore && cf == classLower:
		return 5
	case cb == classDigit || cf == classDigit:
		return 4 // hex ids mix letters and digits
	}
	return 6
}

const (
	classOther = iota
	classLower
	classUpper
	classDigit
	classUnderscore
)

func byteClass(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		return classLower
	case c >= 'A' && c <= 'Z':
		return classUpper
	case c >= '0' && c <= '9':
		return classDigit
	case c == '_':
		return classUnderscore
	}
	return classOther
}

// pairMisses is how many occurrences of a rare byte that are no
// candidates nextRare steps over one by one before looking for the pairs:
// one, measured on the bench/corpus profiles (more cost the real profile,
// with its underscores every 130 bytes, a fifth of its speed; none cost
// the default profile, with hardly any, a third).
const pairMisses = 1

// nextRare returns the next position from i before to of the k-th rare
// byte that may be a key's (paired with a byte the keys pair it with), or
// to.
func (a *automaton) nextRare(text []byte, i, to, k int) int {
	b := a.rare[k]
	if p := a.pairs; p != nil && p.ranged[k] {
		// Every key holding b at a candidate pairs it with a byte after
		// it, inside the key: a b in the last place is none. Where b is
		// rare in the text, bytes.IndexByte (32 bytes a step) finds it
		// soonest; once one is no candidate, b is likely common here and
		// the pairs are looked for instead, in one pass.
		for misses := 0; ; misses++ {
			var c int
			if misses < pairMisses {
				j := bytes.IndexByte(text[i:to], b)
				if j < 0 {
					return to
				}
				c = i + j
				if c+1 >= to {
					return to
				}
			} else if c = indexPairIn(text, i, to, b, p.lo[k], p.hi[k]); c < 0 {
				return to
			}
			if p.off[k][text[c+1]] >= 0 {
				return c
			}
			i = c + 1
		}
	}
	for i < to {
		j := bytes.IndexByte(text[i:to], b)
		if j < 0 {
			return to
		}
		c := i + j
		if a.pairs == nil || c+1 >= to || a.pairs.off[k][text[c+1]] >= 0 {
			return c
		}
		i = c + 1
	}
	return to
}

// rareOff is how far before the candidate c, the k-th rare byte, a key
// holding it there may start.
func (a *automaton) rareOff(text []byte, c, to, k int) int {
	if a.pairs == nil || c+1 >= to {
		return a.maxOff[text[c]]
	}
	return int(a.pairs.off[k][text[c+1]])
}
