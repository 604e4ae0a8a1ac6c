package matcher

import (
	"math/rand"
	"testing"
)

// caseKeys have no three rare bytes between them: the bigram filter
// serves them, on their camelCase humps.
var caseKeys = []string{"AuthTimeout4127", "requestTimeout17", "SessionToken9", "cacheMiss", "QueueDepth_2", "okHttp"}

func TestBigramsChosen(t *testing.T) {
	a := newAutomaton(caseKeys)
	if a.rare != nil || a.bigrams == nil {
		t.Fatalf("rare %q, bigrams %v: want no rare bytes and the pair filter", a.rare, a.bigrams != nil)
	}
	for _, p := range []string{"hT", "tT", "nT", "eM", "_2", "kH"} {
		if !a.bigrams.has(pairIndex(p[0], p[1])) {
			t.Errorf("pair %q not looked for", p)
		}
	}
	// Capitalized words and lower-case text are no candidates.
	for _, p := range []string{"Au", "re", "ca", "ok"} {
		if a.bigrams.has(pairIndex(p[0], p[1])) {
			t.Errorf("pair %q looked for", p)
		}
	}
	if b := a.bigrams; !b.ranged || b.lo1 != '_' || b.hi1 != 't' || b.lo2 != '2' || b.hi2 != 'T' {
		// The humps hT, tT, nT, eM, kH and _2 of QueueDepth_2.
		t.Errorf("pair ranges %q-%q then %q-%q (ranged %v), want _-t then 2-T", b.lo1, b.hi1, b.lo2, b.hi2, b.ranged)
	}
	if off := a.bigrams.off[pairIndex('t', 'T')]; off != 6 {
		t.Errorf("tT lies up to %d bytes into a key, want 6 (requestTimeout17)", off)
	}
	// A one-byte key holds no pair, Mx only a common one: no filter.
	for _, k := range []string{"Z", "Mx"} {
		if b := newAutomaton(append([]string{k}, caseKeys...)); b.bigrams != nil {
			t.Errorf("a pair filter with key %q", k)
		}
	}
}

// TestBigramsAgree holds the bigram filter to the reference on text full
// of Capitalized words, humps that begin no key and keys cut short.
func TestBigramsAgree(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	pieces := []string{"Auth", "Timeout", "timeout", "request", "4127", " ", "AppleWebKit", "okhttp", "iPhone", "T", "t", "\n", "_", "Mozilla/5.0", "cacheMis", "Mx"}
	forced := newAutomaton(rareKeys)
	forced.rare, forced.pairs = nil, nil
	forced.useBigrams(true)
	// The byte loop, for pairs whose bytes lie in no range below 0x7f.
	bytewise := newAutomaton(caseKeys)
	bytewise.bigrams.ranged = false
	for _, c := range []struct {
		keys []string
		ms   map[Engine]Matcher
	}{{caseKeys, engines(t, caseKeys)}, {caseKeys, map[Engine]Matcher{"bytewise": bytewise}}, {rareKeys, map[Engine]Matcher{"forced-bigrams": forced}}} {
		for i := 0; i < 20000; i++ {
			var text []byte
			for n := r.Intn(30); n > 0; n-- {
				if r.Intn(4) == 0 {
					text = append(text, c.keys[r.Intn(len(c.keys))]...)
				} else {
					text = append(text, pieces[r.Intn(len(pieces))]...)
				}
			}
			from, to := 0, len(text)
			if len(text) > 0 && i%2 == 1 {
				from = r.Intn(len(text))
				to = from + r.Intn(len(text)-from+1)
			}
			checkAgree(t, c.keys, c.ms, text, from, to)
		}
	}
}
