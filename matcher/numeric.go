package matcher

import "fmt"

// numeric serves six-digit codes beginning with 8. It finds the '8's that
// start a word, reads the five digits after each and looks the value up in
// a flat table: no hashing, no allocation.
type numeric struct {
	// table[v-800000] is the key index plus one for code v, 0 when the
	// code is not a key.
	table []int32
	// unknown: also report codes the table does not hold, as matches of
	// key Unknown at every occurrence. onlyUnknown: report nothing else
	// (another engine serves the keys).
	unknown, onlyUnknown bool
}

const numericBase = 800000

func newNumeric(keys []string) (*numeric, error) {
	n := &numeric{table: make([]int32, 100000)}
	for i, k := range keys {
		if !IsNumericCode(k) {
			return nil, fmt.Errorf("numeric engine: key %q is not a six-digit code beginning with 8", k)
		}
		v := 0
		for j := 0; j < 6; j++ {
			v = v*10 + int(k[j]-'0')
		}
		n.table[v-numericBase] = int32(i + 1)
	}
	return n, nil
}

// next returns the first code occurrence starting in text[from:to] (and
// ending by to) that passes the boundary rule: its start and its key index,
// or key -1 for a well-formed code the table does not hold. start is -1
// when there is none.
func (n *numeric) next(text []byte, from, to int) (start, key int) {
	for i := from; i+6 <= to; {
		// A code starting at p needs p+6 <= to.
		p := indexWordStart8(text, i, to-5)
		if p < 0 {
			break
		}
		if k := n.check(text, p); k != noCode {
			return p, k
		}
		i = p + 1
	}
	return -1, 0
}

const noCode = -2

// check looks at the six bytes from p, an '8' that starts a word: it
// returns the key index for a code passing the boundary rule, -1 for such
// a code not in the table, and noCode when there is no code at p.
func (n *numeric) check(text []byte, p int) int {
	v := 0
	for k := 1; k < 6; k++ {
		d := text[p+k] - '0'
		if d > 9 {
			return noCode
		}
		v = v*10 + int(d)
	}
	if !Valid(text, p, p+6) {
		return noCode
	}
	return int(n.table[v]) - 1
}

func (n *numeric) Find(text []byte, from, to int, dst []Match) []Match {
	base := len(dst)
	for {
		p, key := n.next(text, from, to)
		if p < 0 {
			return dst
		}
		from = p + 6
		if key < 0 {
			if n.unknown {
				dst = append(dst, Match{Start: p, End: p + 6, Key: Unknown})
			}
			continue
		}
		if n.onlyUnknown || seen(dst[base:], key) {
			continue
		}
		dst = append(dst, Match{Start: p, End: p + 6, Key: key})
	}
}

func (n *numeric) First(text []byte) int {
	from := 0
	for {
		p, key := n.next(text, from, len(text))
		if p < 0 || (key >= 0 && !n.onlyUnknown) || (key < 0 && n.unknown) {
			return p
		}
		from = p + 6
	}
}

func seen(ms []Match, key int) bool {
	for _, m := range ms {
		if m.Key == key {
			return true
		}
	}
	return false
}
