package matcher

import (
	"hash/maphash"
	"math/bits"
)

// keySet finds which key a piece of text is, by hashing: an
// open-addressing table of 1 + each key's index (0: an empty slot) at the
// key's hash and the slots after it. It serves build's check for
// duplicate keys and the prefix engine's lookups. Unlike a map of
// strings it holds no pointers for the collector to scan and is one
// allocation: a catalog of 10,000 keys is indexed at every start, and a
// map was most of what building the matcher cost.
type keySet struct {
	keys  []string
	slots []int32
	seed  maphash.Seed
}

// newKeySet returns an empty set for keys; add puts them in.
func newKeySet(keys []string) *keySet {
	// At most half full, so that a miss, the usual outcome of a lookup,
	// meets an empty slot soon.
	return &keySet{keys: keys, slots: make([]int32, 1<<bits.Len(uint(2*len(keys)))), seed: maphash.MakeSeed()}
}

// add puts key i in the set, or returns the index of an equal key added
// before and false.
func (s *keySet) add(i int) (int, bool) {
	mask := uint64(len(s.slots) - 1)
	j := maphash.String(s.seed, s.keys[i]) & mask
	for ; s.slots[j] != 0; j = (j + 1) & mask {
		if k := int(s.slots[j]) - 1; s.keys[k] == s.keys[i] {
			return k, false
		}
	}
	s.slots[j] = int32(i + 1)
	return i, true
}

// index returns the index of the key equal to b, or -1.
func (s *keySet) index(b []byte) int {
	mask := uint64(len(s.slots) - 1)
	for j := maphash.Bytes(s.seed, b) & mask; ; j = (j + 1) & mask {
		k := int(s.slots[j]) - 1
		if k < 0 {
			return -1
		}
		if s.keys[k] == string(b) {
			return k
		}
	}
}
