package matcher

// Number is a number shaped like a numeric code that is no key: where it
// starts and its value.
type Number struct {
	Start int
	Value int32
}

// KeySkipper is implemented by the matchers NewWithUnknown builds. Their
// First stops at numbers that are no key as well as at keys; FirstKey
// steps over those numbers in the same scan and hands them back, so that
// a caller counting them (the summary, metrics) does not stop and scan a
// line again for each one. In logs where a third of the lines hold such a
// number (ids, sizes), stopping at each cost more than the scan itself.
type KeySkipper interface {
	// FirstKey returns the start of the first valid key occurrence in
	// text, or -1, and appends to dst, in order, the numbers that are no
	// key starting before it (all of them when there is no key).
	FirstKey(text []byte, dst []Number) (int, []Number)
}

var (
	_ KeySkipper = (*numeric)(nil)
	_ KeySkipper = (*combined)(nil)
)

func (n *numeric) FirstKey(text []byte, dst []Number) (int, []Number) {
	return n.firstKey(text, len(text), dst)
}

// firstKey is FirstKey looking only at occurrences starting before limit.
func (n *numeric) firstKey(text []byte, limit int, dst []Number) (int, []Number) {
	// An occurrence starting before limit ends by limit+5.
	to := min(len(text), limit+5)
	for from := 0; ; {
		p, key := n.next(text, from, to)
		if p < 0 {
			return -1, dst
		}
		if key >= 0 && !n.onlyUnknown {
			return p, dst
		}
		if key < 0 && n.unknown {
			dst = append(dst, Number{Start: p, Value: value6(text[p : p+6])})
		}
		from = p + 6
	}
}

func value6(digits []byte) int32 {
	var v int32
	for _, d := range digits {
		v = v*10 + int32(d-'0')
	}
	return v
}

// FirstKey finds the automaton's first key, then the numeric engine's
// keys and numbers before it.
func (c *combined) FirstKey(text []byte, dst []Number) (int, []Number) {
	b := c.ac.m.First(text)
	limit := len(text)
	if b >= 0 {
		limit = b
	}
	a, dst := c.num.m.(*numeric).firstKey(text, limit, dst)
	if a >= 0 {
		return a, dst
	}
	return b, dst
}
