package matcher

import (
	"bytes"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// reference is the matching rule written as plainly as possible: every
// position, every key. Engines must agree with it.
func reference(keys []string, text []byte, from, to int) []Match {
	var out []Match
	done := map[int]bool{}
	for p := from; p < to; p++ {
		var here []Match
		for k, key := range keys {
			if done[k] || p+len(key) > to || !bytes.HasPrefix(text[p:], []byte(key)) {
				continue
			}
			if Valid(text, p, p+len(key)) {
				here = append(here, Match{Start: p, End: p + len(key), Key: k})
			}
		}
		for i := 1; i < len(here); i++ {
			for j := i; j > 0 && before(here[j], here[j-1]); j-- {
				here[j], here[j-1] = here[j-1], here[j]
			}
		}
		for _, m := range here {
			done[m.Key] = true
			out = append(out, m)
		}
	}
	return out
}

// referenceUnknown is reference plus, for NewWithUnknown, every valid
// occurrence of a six-digit number beginning with 8 that is not a key.
func referenceUnknown(keys []string, text []byte, from, to int) []Match {
	out := reference(keys, text, from, to)
	isKey := map[string]bool{}
	for _, k := range keys {
		isKey[k] = true
	}
	for p := from; p+6 <= to; p++ {
		w := string(text[p : p+6])
		if IsNumericCode(w) && !isKey[w] && Valid(text, p, p+6) {
			out = append(out, Match{Start: p, End: p + 6, Key: Unknown})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return before(out[i], out[j]) })
	return out
}

// rareKeys are keys the rare-byte prefilter serves: each holds an
// underscore or an upper-case E.
var rareKeys = []string{"ERR_X1", "E11000", "DB_LOCK", "A_E", "E", "ERR_X1_E"}

var codes = []string{"898001", "871310", "800012", "898006", "869999", "800002"}

func engines(t testing.TB, keys []string) map[Engine]Matcher {
	return enginesOf(t, keys, New)
}

// unknownEngines are the engines built with NewWithUnknown.
func unknownEngines(t testing.TB, keys []string) map[Engine]Matcher {
	return enginesOf(t, keys, NewWithUnknown)
}

func enginesOf(t testing.TB, keys []string, build func([]string, Engine) (Matcher, error)) map[Engine]Matcher {
	t.Helper()
	out := map[Engine]Matcher{}
	for _, e := range []Engine{Auto, Numeric, AhoCorasick} {
		m, err := build(keys, e)
		if err != nil {
			if e == Numeric {
				continue // not every key set is numeric
			}
			t.Fatalf("New(%v): %v", e, err)
		}
		out[e] = m
	}
	return out
}

func TestRule(t *testing.T) {
	cases := []struct {
		line string
		want []string
	}{
		{"code=898001", []string{"898001"}},
		{"898001", []string{"898001"}},
		{"错误码898001，请重试", []string{"898001"}},
		{"1898001", nil},
		{"8980012", nil},
		{"898001x", nil},
		{"x898001", nil},
		{"_898001", nil},
		{"898001_", nil},
		{"0x898001", nil},
		{"3.898001", nil},
		{"898001.5", nil},
		{"v.898001", []string{"898001"}}, // '.' not after a digit
		{"898001.", []string{"898001"}},  // '.' not followed by a digit
		{"898001.x", []string{"898001"}}, // likewise
		{"1.2.898001", nil},              // digit and '.' right before
		{"898001-871310", []string{"898001", "871310"}},
		{"871310 then 898001 then 871310", []string{"871310", "898001"}},
		{"898002 unknown", nil},
		{"(898001)", []string{"898001"}},
		{"\t898001\r", []string{"898001"}},
		{"88898001", nil},
		{"8898001 898001", []string{"898001"}},
		{"\xff898001\xfe", []string{"898001"}},
		{"", nil},
		{"89800", nil},
	}
	for _, c := range cases {
		for e, m := range engines(t, codes) {
			var got []string
			for _, x := range m.Find([]byte(c.line), 0, len(c.line), nil) {
				if c.line[x.Start:x.End] != codes[x.Key] {
					t.Errorf("%s: %q: match %v does not cover its key", e, c.line, x)
				}
				got = append(got, codes[x.Key])
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s: Find(%q) = %v, want %v", e, c.line, got, c.want)
			}
			first := m.First([]byte(c.line))
			if (first >= 0) != (len(c.want) > 0) {
				t.Errorf("%s: First(%q) = %d, want a match: %v", e, c.line, first, len(c.want) > 0)
			}
		}
	}
}

func TestContextOutsideWindow(t *testing.T) {
	text := []byte("a1898001 b898001c 898001")
	for e, m := range engines(t, codes) {
		// The window starts at the '8' of 1898001: the '1' before it still blocks.
		got := m.Find(text, 2, 8, nil)
		if len(got) != 0 {
			t.Errorf("%s: window ignored left context: %v", e, got)
		}
		// A window ending right after 898001 in b898001c: the 'c' blocks.
		got = m.Find(text, 10, 16, nil)
		if len(got) != 0 {
			t.Errorf("%s: window ignored right context: %v", e, got)
		}
		got = m.Find(text, 17, len(text), nil)
		if len(got) != 1 || got[0].Start != 18 {
			t.Errorf("%s: want the last code at 18, got %v", e, got)
		}
	}
}

func TestGeneralKeys(t *testing.T) {
	keys := []string{"ECONNRESET", "ERR_4031", "E11000", "[E42]", "898001", "timeout!"}
	cases := []struct {
		line string
		want []string
	}{
		{"read: ECONNRESET by peer", []string{"ECONNRESET"}},
		{"XECONNRESET", nil},
		{"ECONNRESETS", nil},
		{"ERR_4031: denied", []string{"ERR_4031"}},
		{"ERR_40312", nil},
		{"E11000 duplicate key", []string{"E11000"}},
		{"E11000.5", nil},
		{"xx[E42]yy", []string{"[E42]"}},
		{"timeout!!", []string{"timeout!"}},
		{"mytimeout!", nil},
		{"898001 E11000 ECONNRESET 898001", []string{"898001", "E11000", "ECONNRESET"}},
	}
	for _, c := range cases {
		for e, m := range engines(t, keys) {
			var got []string
			for _, x := range m.Find([]byte(c.line), 0, len(c.line), nil) {
				got = append(got, keys[x.Key])
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s: Find(%q) = %v, want %v", e, c.line, got, c.want)
			}
		}
	}
	if _, err := New(keys, Numeric); err == nil {
		t.Error("numeric engine accepted a non-numeric key")
	}
}

func TestNewRejects(t *testing.T) {
	for _, keys := range [][]string{{""}, {"a\nb"}, {"x", "x"}} {
		if _, err := New(keys, Auto); err == nil {
			t.Errorf("New(%q) accepted bad keys", keys)
		}
	}
	if _, err := New(codes, "regex"); err == nil || !strings.Contains(err.Error(), "regex") {
		t.Errorf("unknown engine: err = %v", err)
	}
}

func TestNoAllocation(t *testing.T) {
	line := []byte("2026-11-23 12:00:01 ERROR send failed code=898001 uid=1898001 871310 again 898001")
	for e, m := range engines(t, codes) {
		dst := make([]Match, 0, 16)
		allocs := testing.AllocsPerRun(100, func() {
			dst = m.Find(line, 0, len(line), dst[:0])
			_ = m.First(line)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per line", e, allocs)
		}
	}
	// The automaton allocates nothing, keys present or not, on a large
	// key set too.
	keys := append([]string{"ECONNRESET", "E11000", "[E42]"}, codes...)
	for i := 0; i < 5000; i++ {
		keys = append(keys, fmt.Sprintf("ERR_%d_X", i))
	}
	big, _ := New(keys, AhoCorasick)
	line = []byte("ECONNRESET then ERR_4031_X and [E42] 898001 ERR_40 E11000")
	dst := make([]Match, 0, 16)
	if a := testing.AllocsPerRun(100, func() {
		dst = big.Find(line, 0, len(line), dst[:0])
		_ = big.First(line)
	}); a != 0 || len(dst) != 5 {
		t.Errorf("ahocorasick: %v allocations per line, %d matches", a, len(dst))
	}
}

// randomText builds text from pieces that sit near the rule's edges.
func randomText(r *rand.Rand, keys []string) []byte {
	pieces := []string{"8", "9", "0", ".", "_", "x", " ", "\n", "1.", ".5", "错", "\xff", "89800", "0x", "899999", "81234"}
	var b []byte
	n := r.Intn(20)
	for i := 0; i < n; i++ {
		if r.Intn(3) == 0 {
			b = append(b, keys[r.Intn(len(keys))]...)
		} else {
			b = append(b, pieces[r.Intn(len(pieces))]...)
		}
	}
	return b
}

func checkAgree(t *testing.T, keys []string, ms map[Engine]Matcher, text []byte, from, to int) {
	checkAgreeWith(t, reference, keys, ms, text, from, to)
}

func checkAgreeWith(t *testing.T, ref func([]string, []byte, int, int) []Match, keys []string, ms map[Engine]Matcher, text []byte, from, to int) {
	want := ref(keys, text, from, to)
	for e, m := range ms {
		got := m.Find(text, from, to, nil)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s disagrees with the reference on %q [%d:%d]:\n got %v\nwant %v", e, text, from, to, got, want)
		}
	}
	if from == 0 && to == len(text) {
		wantFirst := -1
		if len(want) > 0 {
			wantFirst = want[0].Start
		}
		for e, m := range ms {
			if got := m.First(text); got != wantFirst {
				t.Fatalf("%s: First(%q) = %d, want %d", e, text, got, wantFirst)
			}
		}
		checkFirstKey(t, ms, text, want)
	}
}

// checkFirstKey holds FirstKey to the reference's matches of the whole
// text: the first key's start, and every number that is no key before it.
func checkFirstKey(t *testing.T, ms map[Engine]Matcher, text []byte, want []Match) {
	t.Helper()
	wantKey, wantNums := -1, []Number{}
	for _, m := range want {
		if m.Key != Unknown {
			wantKey = m.Start
			break
		}
		wantNums = append(wantNums, Number{m.Start, value6(text[m.Start:m.End])})
	}
	for e, m := range ms {
		ks, ok := m.(KeySkipper)
		if !ok {
			continue
		}
		got, nums := ks.FirstKey(text, []Number{})
		if got != wantKey || !reflect.DeepEqual(nums, wantNums) {
			t.Fatalf("%s: FirstKey(%q) = %d %v, want %d %v", e, text, got, nums, wantKey, wantNums)
		}
	}
}

func TestRandomAgreement(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	if a := newAutomaton(rareKeys); string(a.rare) != "E_" && string(a.rare) != "_E" {
		t.Fatalf("rare bytes %q for %q", a.rare, rareKeys)
	}
	for _, keys := range [][]string{codes, {"898001", "E11000", "ECONNRESET", "[E42]", "E1", "E1-x", "8980"}, {"E1", "x89"}, rareKeys} {
		ms, us := engines(t, keys), unknownEngines(t, keys)
		for i := 0; i < 20000; i++ {
			text := randomText(r, keys)
			checkAgreeSpan(t, r, i%2 == 1, keys, ms, us, text)
		}
	}
}

// TestAutomatonOverlaps holds the automaton to the reference on key sets
// full of keys that are prefixes, suffixes and infixes of one another
// (deep failure chains, several keys ending at one byte), with dense rows
// for every state, for the root only, and in between.
func TestAutomatonOverlaps(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	alphabet := "ab_1.8-"
	for round := 0; round < 40; round++ {
		seen := map[string]bool{}
		var keys []string
		for len(keys) < 1+r.Intn(60) {
			var k []byte
			for n := 1 + r.Intn(6); n > 0; n-- {
				k = append(k, alphabet[r.Intn(len(alphabet))])
			}
			if round%2 == 1 && !bytes.ContainsAny(k, "_-8") {
				// Every key holds a byte of the prefilter's.
				k = append(k, "_-8"[r.Intn(3)])
			}
			if !seen[string(k)] {
				seen[string(k)] = true
				keys = append(keys, string(k))
			}
		}
		ms := map[Engine]Matcher{
			"all-dense":  newAutomatonBudget(keys, 1<<30),
			"root-dense": newAutomatonBudget(keys, 0),
			"some-dense": newAutomatonBudget(keys, 64*8*4),
		}
		for name, budget := range map[Engine]int{"bigram-root-dense": 0, "bigram-all-dense": 1 << 30} {
			a := newAutomatonBudget(keys, budget)
			a.rare, a.pairs = nil, nil
			if a.useBigrams(true); a.bigrams != nil {
				ms[name] = a
			}
		}
		if round%2 == 1 {
			for name, budget := range map[Engine]int{"rare-root-dense": 0, "rare-all-dense": 1 << 30} {
				a := newAutomatonBudget(keys, budget)
				a.rare = nil
				a.useRare([]byte("_-8"))
				ms[name] = a
			}
		}
		for i := 0; i < 300; i++ {
			var text []byte
			for n := r.Intn(40); n > 0; n-- {
				if r.Intn(4) == 0 {
					text = append(text, keys[r.Intn(len(keys))]...)
				} else {
					text = append(text, alphabet[r.Intn(len(alphabet))])
				}
			}
			from, to := 0, len(text)
			if len(text) > 0 && i%2 == 1 {
				from = r.Intn(len(text))
				to = from + r.Intn(len(text)-from+1)
			}
			checkAgree(t, keys, ms, text, from, to)
		}
	}
}

// FuzzEnginesAgree is the differential fuzz target: the numeric engine,
// Aho-Corasick (with each prefilter: start bytes, rare bytes, rare pairs,
// bigrams), the digit-run engine, the prefix engine and the combined
// engine must find exactly what the plain reference finds, and FirstKey
// the first key and the numbers before it.
func FuzzEnginesAgree(f *testing.F) {
	for _, s := range []string{"code=898001", "1898001 898001.5 3.898001", "错误码898001，", "898001898001", "E11000 898001", "xERR_X1_E ERR_X1_Ex A_E_E DB_LOCK",
		"retry_count=3 ERR_00042_ABCD ERR_CONN AUTH_TIMEOUT_4127x request_timeout_17 x_", "AppleWebKit AuthTimeout4127 xrequestTimeout17 cacheMiss",
		"400 85593 1.41270 41270.5 v41270 0042 42 123456 8980012", "a_b ERR_ ERR_1 xERR_12 ERR_00042_ABCD ERR_9.5 ERR_X X_\u00e9a [E42] [E5"} {
		f.Add([]byte(s), uint16(0), uint16(0xffff))
	}
	numKeys := codes
	mixed := []string{"898001", "871310", "E11000", "ECONNRESET", "[E42]"}
	numMs, numUs := engines(f, numKeys), unknownEngines(f, numKeys)
	mixMs, mixUs := engines(f, mixed), unknownEngines(f, mixed)
	strKeys := []string{"E11000", "ECONNRESET", "[E42]", "E1", "E1-x"}
	strMs, strUs := engines(f, strKeys), unknownEngines(f, strKeys)
	rareMs := engines(f, rareKeys)
	pairMs, pairAnyMs := engines(f, pairKeys), engines(f, pairAnyKeys)
	caseMs := engines(f, caseKeys)
	dig5Ms, dig5Us := digitEngines(f, digitKeys5)
	digMixMs, digMixUs := digitEngines(f, digitKeysMixed)
	preKeys := [][]string{prefixKeys, prefixInnerKeys, prefixWideKeys, prefixPunctKeys}
	preMs, preUs := make([]map[Engine]Matcher, len(preKeys)), make([]map[Engine]Matcher, len(preKeys))
	for i, keys := range preKeys {
		preMs[i], preUs[i] = prefixEngines(f, keys)
	}
	f.Fuzz(func(t *testing.T, text []byte, a, b uint16) {
		if len(text) > 4096 {
			text = text[:4096] // the reference is quadratic
		}
		from, to := int(a), int(b)
		if to > len(text) {
			to = len(text)
		}
		if from > to {
			from = to
		}
		checkAgree(t, numKeys, numMs, text, from, to)
		checkAgree(t, mixed, mixMs, text, from, to)
		checkAgree(t, strKeys, strMs, text, from, to)
		checkAgree(t, rareKeys, rareMs, text, from, to)
		checkAgree(t, pairKeys, pairMs, text, from, to)
		checkAgree(t, pairAnyKeys, pairAnyMs, text, from, to)
		checkAgree(t, caseKeys, caseMs, text, from, to)
		checkAgree(t, digitKeys5, dig5Ms, text, from, to)
		checkAgree(t, digitKeysMixed, digMixMs, text, from, to)
		checkAgreeWith(t, referenceUnknown, digitKeys5, dig5Us, text, from, to)
		checkAgreeWith(t, referenceUnknown, digitKeysMixed, digMixUs, text, from, to)
		checkAgreeWith(t, referenceUnknown, numKeys, numUs, text, from, to)
		checkAgreeWith(t, referenceUnknown, mixed, mixUs, text, from, to)
		checkAgreeWith(t, referenceUnknown, strKeys, strUs, text, from, to)
		for i, keys := range preKeys {
			checkAgree(t, keys, preMs[i], text, from, to)
			checkAgreeWith(t, referenceUnknown, keys, preUs[i], text, from, to)
		}
	})
}

func ExampleMatcher() {
	m, _ := New([]string{"898001", "871310"}, Auto)
	line := []byte("错误码898001，retry 1898001 then 871310")
	for _, x := range m.Find(line, 0, len(line), nil) {
		fmt.Println(string(line[x.Start:x.End]), x.Start)
	}
	// Output:
	// 898001 9
	// 871310 37
}

// TestConcurrentUse shares one matcher of each engine among goroutines; run
// with -race it also proves the engines hold no per-call shared state.
func TestConcurrentUse(t *testing.T) {
	keys := []string{"898001", "871310", "E11000", "ECONNRESET"}
	line := []byte("a 898001 b E11000 c 871310 d ECONNRESET 1898001")
	for e, m := range engines(t, keys) {
		want := m.Find(line, 0, len(line), nil)
		if len(want) != 4 {
			t.Fatalf("%s: %v", e, want)
		}
		errs := make(chan string, 8)
		for g := 0; g < 8; g++ {
			go func() {
				var dst []Match
				for i := 0; i < 2000; i++ {
					dst = m.Find(line, 0, len(line), dst[:0])
					if !reflect.DeepEqual(dst, want) {
						errs <- fmt.Sprintf("%s: got %v", e, dst)
						return
					}
				}
				errs <- ""
			}()
		}
		for g := 0; g < 8; g++ {
			if msg := <-errs; msg != "" {
				t.Error(msg)
			}
		}
	}
}

// appendPieces appends up to 29 pieces to text, a key for one in four and
// one of pieces for the rest.
func appendPieces(r *rand.Rand, text []byte, keys, pieces []string) []byte {
	for n := r.Intn(30); n > 0; n-- {
		if r.Intn(4) == 0 {
			text = append(text, keys[r.Intn(len(keys))]...)
		} else {
			text = append(text, pieces[r.Intn(len(pieces))]...)
		}
	}
	return text
}

// checkAgreeSpan holds the engines ms and us to the references on text,
// whole or, with part, on a random span of it.
func checkAgreeSpan(t *testing.T, r *rand.Rand, part bool, keys []string, ms, us map[Engine]Matcher, text []byte) {
	t.Helper()
	from, to := 0, len(text)
	if len(text) > 0 && part {
		from = r.Intn(len(text))
		to = from + r.Intn(len(text)-from+1)
	}
	checkAgree(t, keys, ms, text, from, to)
	checkAgreeWith(t, referenceUnknown, keys, us, text, from, to)
}
