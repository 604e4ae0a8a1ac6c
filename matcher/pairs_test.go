package matcher

import (
	"math/rand"
	"testing"
)

// pairKeys are served by the pair filter: every key's rare byte is the
// underscore, paired with a digit or an upper-case letter.
var pairKeys = []string{"ERR_00042_ABCD", "ERR_00043_ABCE", "AUTH_TIMEOUT_4127", "request_timeout_17", "E_1", "DB_LOCK"}

// pairAnyKeys add a key ending in its rare byte: the underscore then
// pairs with every byte, and the filter must still find everything.
var pairAnyKeys = append([]string{"x_"}, pairKeys...)

func TestPairsChosen(t *testing.T) {
	a := newAutomaton(pairKeys)
	if string(a.rare) != "_" || a.pairs == nil {
		t.Fatalf("rare %q, pairs %v: want the underscore, paired", a.rare, a.pairs != nil)
	}
	for _, f := range []byte("014") {
		if a.pairs.off[0][f] < 0 {
			t.Errorf("_%c is not a candidate", f)
		}
	}
	if off := a.pairs.off[0]['0']; off != 3 {
		t.Errorf("_0 lies up to %d bytes into a key, want 3 (ERR_0...)", off)
	}
	// DB_LOCK pairs _ with L; the lower-case letters and punctuation that
	// follow underscores in snake_case text are no candidates.
	for _, f := range []byte("aeiz=. ") {
		if a.pairs.off[0][f] >= 0 {
			t.Errorf("_%c is a candidate", f)
		}
	}
	if b := newAutomaton(pairAnyKeys); b.pairs == nil || b.pairs.off[0]['a'] != int16(b.maxOff['_']) {
		t.Errorf("a key ending in its rare byte: the underscore must pair with anything")
	}
}

// TestPairsAgree holds the automaton with the pair filter to the
// reference on text full of near misses: snake_case fields, upper-case
// constants, keys cut short and keys run into words.
func TestPairsAgree(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	pieces := []string{"retry_count=3", "ERR_CONN_RESET", "ERR_0004", "AUTH_TIMEOUT_", "_4127", "request_timeout", " ", "_", "x", "1", "\n", "ERR_", "E_", "DB_LOC", "K"}
	for _, keys := range [][]string{pairKeys, pairAnyKeys} {
		ms := engines(t, keys)
		us := unknownEngines(t, keys)
		for i := 0; i < 20000; i++ {
			var text []byte
			text = appendPieces(r, text, keys, pieces)
			checkAgreeSpan(t, r, i%2 == 1, keys, ms, us, text)
		}
	}
}
