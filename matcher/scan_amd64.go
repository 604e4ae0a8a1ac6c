package matcher

// wordStart8 is wordStart8Generic in SSE2 assembly.
//
//go:noescape
func wordStart8(b []byte) int

// indexPair is indexPairGeneric in SSE2 assembly.
//
//go:noescape
func indexPair(b []byte, first, lo, hi byte) int

// digitBlocks is digitBlocksGeneric in SSE2 assembly.
//
//go:noescape
func digitBlocks(b []byte, m []uint64) int

// indexRangePair is indexRangePairGeneric in SSE2 assembly.
//
//go:noescape
func indexRangePair(b []byte, lo1, hi1, lo2, hi2 byte) int
