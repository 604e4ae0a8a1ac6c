//go:build !amd64

package matcher

func wordStart8(b []byte) int { return wordStart8Generic(b) }

func indexPair(b []byte, first, lo, hi byte) int { return indexPairGeneric(b, first, lo, hi) }

func digitBlocks(b []byte, m []uint64) int { return digitBlocksGeneric(b, m) }

func indexRangePair(b []byte, lo1, hi1, lo2, hi2 byte) int {
	return indexRangePairGeneric(b, lo1, hi1, lo2, hi2)
}
