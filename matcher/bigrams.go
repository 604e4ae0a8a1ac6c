package matcher

// When no three bytes rare in logs cover the keys (mixed-case names such
// as AuthTimeout4127, each beginning and ending with any letter), the
// root would stop at every word start that begins a key, which in such
// catalogs is nearly every word. Every key still holds a pair of bytes
// that is rare in text: the hump of camelCase (a lower-case letter then
// an upper-case one), an underscore then a digit. Each key picks its
// rarest pair by the guess of followScore, and the scan at the root looks
// for any of those pairs in a 64 Ki-bit table, then lets the automaton
// confirm from as far back as the pair lies in a key. When the pairs'
// first bytes and second bytes each lie in a range (a lower-case letter
// then an upper-case one), the scan finds the positions where both do
// thirty-two bytes a step (indexRangePair) and looks only those up: a
// lookup per byte ran the case key shape at under half the plain path.

// bigramTable is the pair set and, for each pair in it, the furthest it
// lies from the start of a key holding it.
type bigramTable struct {
	bits [1 << 16 / 64]uint64
	off  [1 << 16]int16
	// lo1-hi1 bounds the pairs' first bytes and lo2-hi2 their second
	// ones, when ranged: both ranges lie below 0x7f.
	lo1, hi1, lo2, hi2 byte
	ranged             bool
}

// maxBigramScore is the followScore above which a pair is too common to
// look for: letters following letters are everywhere.
const maxBigramScore = 6

// useBigrams sets a.bigrams when every key holds a pair rarer than
// maxBigramScore (or with force, any pair at all).
func (a *automaton) useBigrams(force bool) {
	t := new(bigramTable)
	for _, k := range a.keys {
		if len(k) < 2 {
			return
		}
		bestJ, best := 0, 1<<30
		for j := 0; j+1 < len(k); j++ {
			if s := followScore(k[j], k[j+1]); s < best {
				bestJ, best = j, s
			}
		}
		if best > maxBigramScore && !force {
			return
		}
		h := pairIndex(k[bestJ], k[bestJ+1])
		t.bits[h/64] |= 1 << (h % 64)
	}
	t.setRanges()
	// Any occurrence of a chosen pair in a key may be where the scan
	// stops, so the offset is the furthest over all of them.
	for i := range t.off {
		t.off[i] = -1
	}
	for _, k := range a.keys {
		for j := 0; j+1 < len(k); j++ {
			if h := pairIndex(k[j], k[j+1]); t.has(h) {
				t.off[h] = max(t.off[h], int16(min(j, 1<<15-1)))
			}
		}
	}
	a.bigrams = t
}

// setRanges bounds the pairs' bytes, for the vectorised scan.
func (t *bigramTable) setRanges() {
	lo1, hi1, lo2, hi2 := 255, -1, 255, -1
	for h := 0; h < 1<<16; h++ {
		if t.has(uint32(h)) {
			lo1, hi1 = min(lo1, h>>8), max(hi1, h>>8)
			lo2, hi2 = min(lo2, h&0xff), max(hi2, h&0xff)
		}
	}
	if hi1 >= 0 && hi1 < 0x7f && hi2 < 0x7f {
		t.lo1, t.hi1, t.lo2, t.hi2, t.ranged = byte(lo1), byte(hi1), byte(lo2), byte(hi2), true
	}
}

func pairIndex(b, f byte) uint32 { return uint32(b)<<8 | uint32(f) }

func (t *bigramTable) has(h uint32) bool { return t.bits[h/64]&(1<<(h%64)) != 0 }

// nextBigram returns the first c in [i, to-1) where text[c:c+2] is a pair
// of the set, or to.
func (t *bigramTable) nextBigram(text []byte, i, to int) int {
	if to > len(text) {
		to = len(text)
	}
	if i >= to {
		return to
	}
	if t.ranged {
		for {
			c := indexRangePairIn(text, i, to, t.lo1, t.hi1, t.lo2, t.hi2)
			if c < 0 {
				return to
			}
			if t.has(pairIndex(text[c], text[c+1])) {
				return c
			}
			i = c + 1
		}
	}
	t2 := text[:to]
	prev := uint32(t2[i])
	for c := i + 1; c < len(t2); c++ {
		cur := uint32(t2[c])
		if h := prev<<8 | cur; t.bits[h/64]&(1<<(h%64)) != 0 {
			return c - 1
		}
		prev = cur
	}
	return to
}

// jumpBigram is jump for the pair set: the scan goes to where a key
// holding the next pair could start.
func (a *automaton) jumpBigram(text []byte, i, to int, cur *cursor) int {
	c := cur.near[0]
	if c < i {
		c = a.bigrams.nextBigram(text, i, to)
		cur.near[0] = c
	}
	if c >= to-1 {
		return to
	}
	cur.checked = c + 1
	return max(i, c-int(a.bigrams.off[pairIndex(text[c], text[c+1])]))
}
