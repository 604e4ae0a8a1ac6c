package matcher

// Numbers are everywhere in logs (timestamps, IPs, sizes, ids): a log of
// 200-byte lines holds a digit every few bytes and starts a number every
// ten or so. A catalog of numeric keys (five-digit codes) can only match a
// whole number, so rather than stopping at every number the digit-run
// engine classifies 64 bytes at a time into a bit mask of digits and
// finds, with shifts and ands over the mask, the runs of digits as long
// as some key; only those are looked at byte by byte.

// digitMasks sets m[j] to the digit mask of b[64j:64j+64] (bit k for
// byte 64j+k), the bytes past the end of b counting as no digits, for as
// many blocks as b has and m holds; it returns how many it set.
func digitMasks(b []byte, m []uint64) int {
	n := digitBlocks(b, m)
	if n < len(m) && n*64 < len(b) {
		var pad [64]byte // zero bytes are no digits
		copy(pad[:], b[n*64:])
		digitBlocks(pad[:], m[n:n+1])
		n++
	}
	return n
}

// digitBlocksGeneric sets m[j] to the digit mask of the j-th whole 64-byte
// block of b while m has room, and returns how many blocks it set.
func digitBlocksGeneric(b []byte, m []uint64) int {
	n := min(len(b)/64, len(m))
	for j := 0; j < n; j++ {
		var mask uint64
		for k, c := range b[j*64 : j*64+64] {
			if c-'0' <= 9 {
				mask |= 1 << k
			}
		}
		m[j] = mask
	}
	return n
}

// shr128 shifts the 128-bit mask hi:lo right by k (0 <= k < 64) and
// returns its low word: bit p is bit p+k of the pair.
func shr128(lo, hi uint64, k uint) uint64 {
	return lo>>k | hi<<(64-k) // Go shifts by 64 give 0, so k = 0 is lo
}

// runsAtLeast returns the positions p < 64 of lo where the pair hi:lo has
// n set bits in a row from p (n <= 64): the places where n digits follow.
// The run is doubled in length each step, so it takes log2(n) steps.
func runsAtLeast(lo, hi uint64, n int) uint64 {
	// r holds, for every position of the pair, whether have bits in a
	// row start there (bits beyond 127 count as clear, so the high word
	// is exact only low enough to serve the low one).
	rlo, rhi, have := lo, hi, 1
	for have < n {
		k := min(have, n-have)
		rlo, rhi = rlo&shr128(rlo, rhi, uint(k)), rhi&(rhi>>uint(k))
		have += k
	}
	return rlo
}
