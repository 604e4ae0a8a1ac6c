package matcher

// indexPairIn returns the first c in [i, to-1) where text[c] is first and
// text[c+1] lies in [lo, hi] (hi below 0x7f), or -1: indexPair over the
// whole steps, a byte loop over the rest.
func indexPairIn(text []byte, i, to int, first, lo, hi byte) int {
	if i+1 >= to {
		return -1
	}
	b := text[i:to]
	if k := indexPair(b, first, lo, hi); k >= 0 {
		return i + k - 1
	}
	for c := i + scanned(len(b)) - 1; c+1 < to; c++ {
		if text[c] == first && text[c+1] >= lo && text[c+1] <= hi {
			return c
		}
	}
	return -1
}

// indexPairGeneric returns the first k in [1, scanned(len(b))) where
// b[k-1] is first and b[k] lies in [lo, hi], or -1.
func indexPairGeneric(b []byte, first, lo, hi byte) int {
	end := scanned(len(b))
	for k := 1; k < end; k++ {
		if b[k-1] == first && b[k] >= lo && b[k] <= hi {
			return k
		}
	}
	return -1
}

// indexRangePairIn returns the first c in [i, to-1) where text[c] lies in
// [lo1, hi1] and text[c+1] in [lo2, hi2] (both below 0x7f), or -1:
// indexRangePair over the whole steps, a byte loop over the rest.
func indexRangePairIn(text []byte, i, to int, lo1, hi1, lo2, hi2 byte) int {
	if i+1 >= to {
		return -1
	}
	b := text[i:to]
	if k := indexRangePair(b, lo1, hi1, lo2, hi2); k >= 0 {
		return i + k - 1
	}
	for c := i + scanned(len(b)) - 1; c+1 < to; c++ {
		if text[c] >= lo1 && text[c] <= hi1 && text[c+1] >= lo2 && text[c+1] <= hi2 {
			return c
		}
	}
	return -1
}

// indexRangePairGeneric returns the first k in [1, scanned(len(b))) where
// b[k-1] lies in [lo1, hi1] and b[k] in [lo2, hi2], or -1.
func indexRangePairGeneric(b []byte, lo1, hi1, lo2, hi2 byte) int {
	end := scanned(len(b))
	for k := 1; k < end; k++ {
		if b[k-1] >= lo1 && b[k-1] <= hi1 && b[k] >= lo2 && b[k] <= hi2 {
			return k
		}
	}
	return -1
}
