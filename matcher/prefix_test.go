package matcher

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// Key sets the prefix engine serves, one per way it finds candidates.
var (
	// prefixKeys: the pair straddles the prefix's end (an underscore,
	// then the digits the keys continue with), as for the bench corpus's
	// ERR_00042_ABCD; keys of four lengths, one ending in punctuation.
	prefixKeys = []string{"ERR_00042_ABCD", "ERR_00043_ABCE", "ERR_1", "ERR_12", "ERR_1_x", "ERR_9."}
	// prefixInnerKeys: one key is the prefix itself, so the pair lies
	// inside it (R then the underscore).
	prefixInnerKeys = []string{"ERR_", "ERR_1", "ERR_12", "ERR_X"}
	// prefixWideKeys: the pair's second byte is not ASCII, so only
	// bytes.IndexByte serves.
	prefixWideKeys = []string{"X_\u00e9a", "X_\u00e9b", "X_\u00e9"}
	// prefixPunctKeys: the prefix begins with punctuation, which any
	// byte may precede.
	prefixPunctKeys = []string{"[E42]", "[E43]", "[E5]"}
)

// prefixEngines are the engines for keys the prefix engine serves: New's
// and NewWithUnknown's, and the prefix engine on its own.
func prefixEngines(t testing.TB, keys []string) (ms, us map[Engine]Matcher) {
	ms, us = engines(t, keys), unknownEngines(t, keys)
	p, err := newPrefixed(keys)
	if err != nil {
		t.Fatal(err)
	}
	ms["prefix"] = p
	return ms, us
}

func TestPrefixedChosen(t *testing.T) {
	for _, c := range []struct {
		keys          []string
		at            int
		first, lo, hi byte
		ranged        bool
	}{
		{prefixKeys, 3, '_', '0', '9', true},
		{prefixInnerKeys, 2, 'R', '_', '_', true},
		{prefixWideKeys, 1, '_', 0xc3, 0xc3, false},
		{prefixPunctKeys, 0, '[', 'E', 'E', true},
		{[]string{"ORA-00942", "ORA-01017"}, 2, 'A', '-', '-', true},
	} {
		m, err := New(c.keys, Auto)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := m.(*prefixed)
		if !ok {
			t.Errorf("%q: %T, want the prefix engine", c.keys, m)
			continue
		}
		if p.at != c.at || p.first != c.first || p.lo != c.lo || p.hi != c.hi || p.ranged != c.ranged {
			t.Errorf("%q: pair at %d %q [%q, %q] ranged %v, want at %d %q [%q, %q] ranged %v",
				c.keys, p.at, p.first, p.lo, p.hi, p.ranged, c.at, c.first, c.lo, c.hi, c.ranged)
		}
	}
	nine := make([]string, 9)
	for i := range nine {
		nine[i] = "ERR_" + strings.Repeat("1", i+1)
	}
	for _, keys := range [][]string{
		{"abc1", "abc2"},    // every byte common in log text
		{"ERR_1", "XERR_1"}, // no shared prefix
		{"E1", "E2", "E33"}, // a one-byte prefix
		nine,                // too many lengths
		pairKeys,            // several families
	} {
		m, err := New(keys, Auto)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*prefixed); ok {
			t.Errorf("%q: the prefix engine, want the automaton", keys)
		}
	}
	// With the numeric codes apart, the other keys may share a prefix.
	m, _ := New([]string{"898001", "ERR_12", "ERR_13"}, Auto)
	if c, ok := m.(*combined); !ok {
		t.Errorf("%T, want combined", m)
	} else if _, ok := c.ac.m.(*prefixed); !ok {
		t.Errorf("%T beside the numeric engine, want the prefix engine", c.ac.m)
	}
	// The bench corpus's family.
	r := rand.New(rand.NewSource(3))
	family := make([]string, 10000)
	for i := range family {
		family[i] = fmt.Sprintf("ERR_%05d_%c%c%c%c", i*7, 'A'+r.Intn(26), 'A'+r.Intn(26), 'A'+r.Intn(26), 'A'+r.Intn(26))
	}
	if m, _ := New(family, Auto); fmt.Sprintf("%T", m) != "*matcher.prefixed" {
		t.Errorf("10,000 ERR_ keys: %T, want the prefix engine", m)
	}
}

// TestPrefixedAgree holds the prefix engine to the reference on text full
// of near misses: the prefix alone, cut short, inside words, the pair's
// bytes apart, and runs of candidates that are not (an underscore then a
// letter), long enough to move the scan from bytes.IndexByte to the pair
// scan.
func TestPrefixedAgree(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	pieces := []string{"ERR_", "ERR", "ERR_0004", "ERR_1", "xERR_1", "R_", "_", "_1", "_x", "1", "x", " ", ".", "\n",
		"\u00e9", "\xc3", "X_", "X_\u00e9", "[E", "[E4", "]", "ERRERR_12", "ERR_12_ABCD", "snake_case_field=3 "}
	for _, keys := range [][]string{prefixKeys, prefixInnerKeys, prefixWideKeys, prefixPunctKeys} {
		ms, us := prefixEngines(t, keys)
		for i := 0; i < 20000; i++ {
			var text []byte
			if i%5 == 0 {
				// Misses first, so that a key is found by the pair scan.
				for n := r.Intn(40); n > 0; n-- {
					text = append(text, "a_b "...)
				}
			}
			text = appendPieces(r, text, keys, pieces)
			checkAgreeSpan(t, r, i%2 == 1, keys, ms, us, text)
		}
	}
}

func TestPrefixedNoAlloc(t *testing.T) {
	p, err := newPrefixed(prefixKeys)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("a_b ERR_1 x ERR_00042_ABCD ERR_1 ERR_9. ERR_12x")
	dst := make([]Match, 0, 8)
	if n := testing.AllocsPerRun(100, func() { dst = p.Find(line, 0, len(line), dst[:0]) }); n != 0 {
		t.Errorf("Find allocates %v times", n)
	}
	if len(dst) != 3 {
		t.Errorf("found %v, want ERR_1, ERR_00042_ABCD and ERR_9.", dst)
	}
}
