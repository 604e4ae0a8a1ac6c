package corpus

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// KeyShapes name the custom catalogs a benchmark can be given, each hard
// for a different reason:
//   - mixed: Keys, names and E-codes of many prefixes;
//   - prefix: one family sharing a prefix, ERR_00042_ABCD (as ORA-,
//     SQLSTATE or E11000 codes do), whose first bytes ("ERR") stand in
//     every ERROR line;
//   - words: words that appear everywhere in logs joined with a number,
//     AUTH_TIMEOUT_4127 and request_timeout_17;
//   - digits: five-digit codes, 41270, which numbers in the text match;
//   - case: mixed-case names, AuthTimeout4127 and connectionClosed17.
var KeyShapes = []string{"mixed", "prefix", "words", "digits", "case"}

// maxDigitKeys is how many five-digit codes there are.
const maxDigitKeys = 90000

// ShapedKeys returns n distinct keys of a shape (see KeyShapes),
// deterministic for a seed.
func ShapedKeys(shape string, n int, seed uint64) ([]string, error) {
	r := rand.New(rand.NewPCG(seed, 0x73686170))
	var next func() string
	switch shape {
	case "mixed":
		return Keys(n, seed), nil
	case "prefix":
		next = func() string {
			var b strings.Builder
			fmt.Fprintf(&b, "ERR_%05d_", r.IntN(100000))
			for range 4 {
				b.WriteByte(byte('A' + r.IntN(26)))
			}
			return b.String()
		}
	case "words":
		upper := append(append([]string{}, keyWords...), "INFO", "WARN", "ERROR", "DEBUG", "GET", "POST", "USER", "GROUP", "MESSAGE", "REQUEST")
		next = func() string {
			if r.IntN(2) == 0 {
				return upper[r.IntN(len(upper))] + "_" + upper[r.IntN(len(upper))] + "_" + strconv.Itoa(r.IntN(10000))
			}
			return words[r.IntN(len(words))] + "_" + words[r.IntN(len(words))] + "_" + strconv.Itoa(r.IntN(10000))
		}
	case "digits":
		if n > maxDigitKeys {
			return nil, fmt.Errorf("%d five-digit keys: there are only %d", n, maxDigitKeys)
		}
		next = func() string { return strconv.Itoa(10000 + r.IntN(maxDigitKeys)) }
	case "case":
		next = func() string {
			a, b := words[r.IntN(len(words))], words[r.IntN(len(words))]
			if r.IntN(2) == 0 {
				a = strings.ToUpper(a[:1]) + a[1:]
			}
			return a + strings.ToUpper(b[:1]) + b[1:] + strconv.Itoa(r.IntN(10000))
		}
	default:
		return nil, fmt.Errorf("unknown key shape %q (want one of %v)", shape, KeyShapes)
	}
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for len(out) < n {
		if k := next(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}
