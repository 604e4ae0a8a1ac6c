package matcher

import (
	"bytes"
	"slices"
	"sort"
)

// automaton is an Aho-Corasick automaton that reports every occurrence of
// every key with its position in one pass, without allocating, in memory
// proportional to the keys' total length.
//
// States are numbered breadth first, so the children of a state have
// consecutive numbers and the shallow states come first. The shallow
// states, where a scan of text holding no key spends nearly all its time,
// get dense rows of complete transitions over byte classes (a DFA: one
// lookup per byte, no failure links). The deep ones, which are most of
// the states of a large key set, keep only their trie edges (five bytes
// each) and a failure link; a scan reaches them only while the text
// follows a key.
//
// At the root, the scan skips bytes that begin no key, and letters, digits
// and underscores that begin no word (the boundary rule rejects a key
// there), with a table lookup per byte, or with bytes.IndexByte when one
// byte begins every key.
type automaton struct {
	keys   [][]byte
	maxLen int

	// classes maps a byte to its column in a dense row: the bytes that
	// occur in no key share column 0.
	classes [256]uint8
	stride  int
	// dense[s*stride+class] is the next state from s < nDense.
	dense  []uint32
	nDense uint32

	// The trie edges of state s lead to states first[s] to first[s+1]-1,
	// in order of their bytes, label[t] being the byte into t.
	first []uint32
	label []byte
	fail  []uint32
	// out[s] is the nearest state on s's failure chain (s included) that
	// ends a key, or 0; key[t] is the key ending at such a state t.
	out []uint32
	key []int32

	// begins says how a byte may begin a key occurrence; start1 is the
	// byte when only one begins every key (nStart).
	begins [256]uint8
	nStart int
	start1 byte

	// rare holds up to three bytes, one in every key, expected to be rare
	// in log text; maxOff[b] is the furthest b lies from a key's start.
	// When set, the scan looks for them with bytes.IndexByte and runs the
	// automaton only around them.
	rare   []byte
	maxOff [256]int
	// pairs, when set, narrows the rare bytes to those followed by a byte
	// the keys pair them with: see pairs.go.
	pairs *pairTable
	// bigrams, when set and there are no rare bytes, is a set of byte
	// pairs one of which every key holds: see bigrams.go.
	bigrams *bigramTable
}

// denseBudget bounds the dense rows' memory: shallow states get one until
// the next depth would pass it.
const denseBudget = 8 << 20

func newAutomaton(keys []string) *automaton { return newAutomatonBudget(keys, denseBudget) }

// newAutomatonBudget gives dense rows within budget bytes (the root's
// always).
func newAutomatonBudget(keys []string, budget int) *automaton {
	a := &automaton{keys: make([][]byte, len(keys))}
	for i, k := range keys {
		a.keys[i] = []byte(k)
		a.maxLen = max(a.maxLen, len(k))
	}

	// The trie, built from the keys in sorted order: the child a key
	// continues with, if it exists, is then always its parent's last one.
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return keys[order[i]] < keys[order[j]] })
	var (
		firstChild = []uint32{0}
		lastChild  = []uint32{0}
		sibling    = []uint32{0}
		lab        = []byte{0}
		term       = []int32{-1}
	)
	for _, ki := range order {
		s := uint32(0)
		for _, c := range a.keys[ki] {
			if t := lastChild[s]; t != 0 && lab[t] == c {
				s = t
				continue
			}
			t := uint32(len(lab))
			firstChild = append(firstChild, 0)
			lastChild = append(lastChild, 0)
			sibling = append(sibling, 0)
			lab = append(lab, c)
			term = append(term, -1)
			if lastChild[s] == 0 {
				firstChild[s] = t
			} else {
				sibling[lastChild[s]] = t
			}
			lastChild[s] = t
			s = t
		}
		term[s] = int32(ki)
	}
	lastChild = nil
	n := len(lab)

	// Breadth-first renumbering: old node -> new state.
	bfs := make([]uint32, 0, n) // old nodes in new order
	bfs = append(bfs, 0)
	depth := make([]uint16, n) // by new state
	a.first = make([]uint32, n+1)
	a.label = make([]byte, n)
	a.key = make([]int32, n)
	for s := 0; s < len(bfs); s++ {
		a.first[s] = uint32(len(bfs))
		old := bfs[s]
		a.key[s] = term[old]
		for c := firstChild[old]; c != 0; c = sibling[c] {
			t := len(bfs)
			bfs = append(bfs, c)
			a.label[t] = lab[c]
			depth[t] = depth[s] + 1
		}
	}
	a.first[n] = uint32(n)
	firstChild, sibling, lab, term, bfs = nil, nil, nil, nil, nil

	// Byte classes: every byte that occurs in a key gets its own.
	var used [256]bool
	for _, k := range a.keys {
		for _, c := range k {
			used[c] = true
		}
	}
	a.stride = 1
	for c := 0; c < 256; c++ {
		if used[c] {
			a.classes[c] = uint8(a.stride)
			a.stride++
		}
	}
	if a.stride > 256 {
		// Every byte value occurs in some key: a class per byte.
		for c := 0; c < 256; c++ {
			a.classes[c] = uint8(c)
		}
		a.stride = 256
	}

	// Failure links and outputs, breadth first: a state's failure is
	// shallower, so it is done before the state.
	a.fail = make([]uint32, n)
	a.out = make([]uint32, n)
	for s := 0; s < n; s++ {
		if s > 0 && a.key[s] >= 0 {
			a.out[s] = uint32(s)
		} else if s > 0 {
			a.out[s] = a.out[a.fail[s]]
		}
		for t := a.first[s]; t < a.first[s+1]; t++ {
			c := a.label[t]
			f := uint32(0)
			if s > 0 {
				f = a.fail[s]
				for {
					if g := a.child(f, c); g != 0 {
						f = g
						break
					}
					if f == 0 {
						break
					}
					f = a.fail[f]
				}
			}
			a.fail[t] = f
		}
	}

	// Dense rows for the shallow states, depth by depth within budget.
	nd := 1
	for d := uint16(1); ; d++ {
		next := nd
		for next < n && depth[next] == d {
			next++
		}
		if next == nd || next*a.stride*4 > budget {
			break
		}
		nd = next
	}
	a.nDense = uint32(nd)
	a.dense = make([]uint32, nd*a.stride)
	for s := 0; s < nd; s++ {
		row := a.dense[s*a.stride : (s+1)*a.stride]
		if s > 0 {
			copy(row, a.dense[int(a.fail[s])*a.stride:])
		}
		// (Flags are added below, once every row is complete.)
		for t := a.first[s]; t < a.first[s+1]; t++ {
			row[a.classes[a.label[t]]] = t
		}
	}
	for i, t := range a.dense {
		if a.out[t&^hasOutput] != 0 {
			a.dense[i] = t | hasOutput
		}
	}

	a.chooseRare()
	for t := a.first[0]; t < a.first[1]; t++ {
		c := a.label[t]
		a.begins[c] = anywhere
		if isWord(c) {
			a.begins[c] = atWordStart
		}
		a.start1 = c
		a.nStart++
	}
	return a
}

// child returns s's trie edge on c, or 0.
func (a *automaton) child(s uint32, c byte) uint32 {
	lo, hi := a.first[s], a.first[s+1]
	if hi-lo > 8 {
		lb := a.label[lo:hi]
		i, found := slices.BinarySearch(lb, c)
		if found {
			return lo + uint32(i)
		}
		return 0
	}
	for t := lo; t < hi; t++ {
		if a.label[t] == c {
			return t
		}
	}
	return 0
}

// skip returns the first position from i before to where a key may
// begin: a byte that begins a key and, if it is a letter, digit or
// underscore, begins a word too (the boundary rule rejects any other
// occurrence of such a key, so the scan need not start one there).
func (a *automaton) skip(text []byte, i, to int) int {
	switch a.nStart {
	case 0:
		return to
	case 1:
		for i < to {
			j := bytes.IndexByte(text[i:to], a.start1)
			if j < 0 {
				return to
			}
			i += j
			if i == 0 || a.begins[a.start1] == anywhere || !wordByte[text[i-1]] {
				return i
			}
			i++
		}
		return to
	}
	t, begins := text[:to], &a.begins
	for ; i < len(t); i++ {
		b := begins[t[i]]
		if b == never {
			continue
		}
		if b == anywhere || i == 0 || !wordByte[t[i-1]] {
			return i
		}
	}
	return to
}

// jump returns where the scan, at the root at i, goes next: to the
// earliest start of a key whose rare byte is the next rare byte, or to if
// there is none before it. Every key holds a rare byte, at most maxOff
// bytes from its start, so no occurrence starts between i and there.
func (a *automaton) jump(text []byte, i, to int, cur *cursor) int {
	if a.rare == nil {
		return a.jumpBigram(text, i, to, cur)
	}
	c, ck := to, 0
	for k := range a.rare {
		p := cur.near[k]
		if p < i {
			p = a.nextRare(text, i, to, k)
			cur.near[k] = p
		}
		if p < c {
			c, ck = p, k
		}
	}
	if c >= to {
		return to
	}
	cur.checked = c + 1
	return max(i, c-a.rareOff(text, c, to, ck))
}

// chooseRare picks the rare-byte prefilter: each key's rarest byte by
// rarity's guess of log text; if the keys need more than three, there is
// no prefilter (the start-byte skip serves).
func (a *automaton) chooseRare() {
	var set []byte
	for _, k := range a.keys {
		best := k[0]
		for _, c := range k[1:] {
			if rarity[c] < rarity[best] {
				best = c
			}
		}
		if bytes.IndexByte(set, best) < 0 {
			set = append(set, best)
		}
		if len(set) > 3 {
			a.useBigrams(false)
			return
		}
	}
	for _, b := range set {
		// A byte common in text makes the prefilter slower than the
		// automaton alone.
		if rarity[b] >= rarityCommon {
			a.useBigrams(false)
			return
		}
	}
	a.useRare(set)
}

// useRare sets the prefilter's bytes, one of which every key holds.
func (a *automaton) useRare(set []byte) {
	for _, k := range a.keys {
		for j, c := range k {
			a.maxOff[c] = max(a.maxOff[c], j)
		}
	}
	a.rare = set
	a.usePairs()
}

// rarity guesses how common each byte is in log text, higher meaning
// more common: lower-case letters, digits, the space and the punctuation
// of timestamps, paths and key=value pairs are everywhere; upper-case
// letters, underscores and the rarer punctuation much less so.
var rarity = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c == ' ' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			t[c] = 250
		case c >= 0x80:
			t[c] = 160 // CJK text and other UTF-8
		case c >= 'A' && c <= 'Z':
			t[c] = 120
		case c == '_':
			t[c] = 80
		case c < 0x20 && c != '\t':
			t[c] = 10
		default:
			t[c] = 100
		}
	}
	for _, c := range []byte(".,:;=/-\"'\t") {
		t[c] = 220
	}
	for _, c := range []byte("EIORSTANL") { // log levels, HTTP verbs
		t[c] = 150
	}
	return t
}()

// rarityCommon is the rarity from which a byte is too common to look for.
const rarityCommon = 200

// How a byte may begin a key occurrence.
const (
	never       = iota
	anywhere    // punctuation and non-ASCII: whatever precedes it
	atWordStart // a letter, digit or underscore: after a non-word byte
)

var wordByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isWord(byte(c))
	}
	return t
}()

// cursor is where a scan stands: the next byte to read, the state, and
// the next output state still to report at the byte before.
type cursor struct {
	i   int
	s   uint32
	out uint32
	// The rare-byte prefilter: the scan has jumped to where a key holding
	// the rare byte at checked-1 could start, and does not jump again
	// before passing it; near[k] caches the next position of rare[k] (-1:
	// not looked for yet).
	checked int
	near    [3]int
}

// next returns the next key occurrence in text before to that passes the
// boundary rule, in order of their ends, or ok false.
func (a *automaton) next(text []byte, to int, cur *cursor) (start, end, key int, ok bool) {
	s, i, o := cur.s, cur.i, cur.out
	dense, classes, stride, nd := a.dense, &a.classes, uint32(a.stride), a.nDense
	for {
		for ; o != 0; o = a.out[a.fail[o]] {
			k := int(a.key[o])
			start := i - len(a.keys[k])
			if Valid(text, start, i) {
				cur.s, cur.i, cur.out = s, i, a.out[a.fail[o]]
				return start, i, k, true
			}
		}
		// Step until a state that ends a key.
		for {
			if s == 0 {
				if a.rare != nil || a.bigrams != nil {
					if i >= cur.checked {
						i = a.jump(text, i, to, cur)
					}
				} else {
					i = a.skip(text, i, to)
				}
			}
			if i >= to {
				cur.s, cur.i, cur.out = s, i, 0
				return 0, 0, 0, false
			}
			c := text[i]
			i++
			if s < nd {
				t := dense[s*stride+uint32(classes[c])]
				s = t &^ hasOutput
				if t&hasOutput != 0 {
					o = a.out[s]
					break
				}
				continue
			}
			s = a.sparseStep(s, c)
			if o = a.out[s]; o != 0 {
				break
			}
		}
	}
}

// hasOutput marks, in a dense row, a next state that ends a key or has
// one on its failure chain: the scan looks no further for most bytes.
const hasOutput = 1 << 31

// sparseStep follows s's edge on c, or its failure links until a state
// that has one or a dense state.
func (a *automaton) sparseStep(s uint32, c byte) uint32 {
	for s >= a.nDense {
		if t := a.child(s, c); t != 0 {
			return t
		}
		s = a.fail[s]
	}
	return a.dense[s*uint32(a.stride)+uint32(a.classes[c])] &^ hasOutput
}

func (a *automaton) Find(text []byte, from, to int, dst []Match) []Match {
	base := len(dst)
	cur := cursor{i: from, near: [3]int{-1, -1, -1}}
	for {
		start, end, key, ok := a.next(text, to, &cur)
		if !ok {
			break
		}
		if !seen(dst[base:], key) { // else a later occurrence of a key found
			dst = append(dst, Match{Start: start, End: end, Key: key})
		}
	}
	// Found in order of their ends; a longer key may start earlier.
	ms := dst[base:]
	if len(ms) > 16 {
		sort.Slice(ms, func(i, j int) bool { return before(ms[i], ms[j]) })
	} else {
		for i := 1; i < len(ms); i++ {
			for j := i; j > 0 && before(ms[j], ms[j-1]); j-- {
				ms[j], ms[j-1] = ms[j-1], ms[j]
			}
		}
	}
	return dst
}

func (a *automaton) First(text []byte) int {
	best, limit := -1, len(text)
	cur := cursor{near: [3]int{-1, -1, -1}}
	for {
		start, _, _, ok := a.next(text, limit, &cur)
		if !ok {
			return best
		}
		if best < 0 || start < best {
			best = start
			// A key starting no later ends within maxLen bytes of it.
			limit = min(limit, best+a.maxLen)
		}
	}
}
