package matcher

import (
	"math/rand"
	"testing"
)

// digitKeys5 are five-digit codes, as the digits key shape of bench/corpus;
// digitKeysMixed have several lengths, a leading zero and a key that is a
// prefix of another.
var (
	digitKeys5     = []string{"41270", "10000", "99999", "85593", "12345", "55555"}
	digitKeysMixed = []string{"7", "42", "0042", "12345", "123456", "8980012", "00000000000000001", "898001"}
)

func TestDigitsChosen(t *testing.T) {
	for _, keys := range [][]string{digitKeys5, {"1", "22"}} {
		m, err := New(keys, Auto)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*digits); !ok {
			t.Errorf("%q: Auto chose %T, want the digit-run engine", keys, m)
		}
	}
	// A key of another shape, or too long for a uint64 with its length,
	// keeps Aho-Corasick.
	for _, keys := range [][]string{{"12345", "E11000"}, {"12345", "123456789012345678"}, {"12 45"}} {
		m, err := New(keys, Auto)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*automaton); !ok {
			t.Errorf("%q: Auto chose %T, want Aho-Corasick", keys, m)
		}
	}
	if _, err := newDigits([]string{"1", ""}); err == nil {
		t.Error("the digit-run engine took an empty key")
	}
	// Six-digit codes beginning with 8 go to the numeric engine, the
	// other numbers to the digit-run engine.
	m, _ := New(digitKeysMixed, Auto)
	if c, ok := m.(*combined); !ok {
		t.Errorf("mixed digit keys: %T, want combined", m)
	} else if _, ok := c.ac.m.(*digits); !ok {
		t.Errorf("mixed digit keys: %T beside the numeric engine, want the digit-run engine", c.ac.m)
	}
}

// digitEngines are the engines for numeric keys: New's and
// NewWithUnknown's, and the digit-run engine on its own for every key.
func digitEngines(t testing.TB, keys []string) (ms, us map[Engine]Matcher) {
	ms, us = engines(t, keys), unknownEngines(t, keys)
	d, err := newDigits(keys)
	if err != nil {
		t.Fatal(err)
	}
	ms["digits"] = d
	return ms, us
}

// TestDigitsAgree holds the digit-run engine to the reference on text
// full of numbers that are keys, that are longer, shorter, decimals,
// joined to letters, and placed across the 64-byte blocks and the chunks
// the scan classifies.
func TestDigitsAgree(t *testing.T) {
	r := rand.New(rand.NewSource(17))
	pieces := []string{"0", "1", "4127", "1234", "123456", ".", ". ", "x", "_", " ", "-", "\n", "1.", ".5", "v", "错", "\xff", "0x", "85593 ", "2026-11-23T08:14:02.113Z"}
	for _, keys := range [][]string{digitKeys5, digitKeysMixed, {"1", "22", "333"}} {
		ms, us := digitEngines(t, keys)
		for i := 0; i < 20000; i++ {
			var text []byte
			if i%10 == 0 {
				// Long text, keys near block and chunk edges.
				text = make([]byte, 64*digitChunk+200+r.Intn(300))
				for j := range text {
					text[j] = " a1"[r.Intn(3)]
				}
				for k := r.Intn(6); k >= 0; k-- {
					edge := 64 * (1 + r.Intn(digitChunk+2))
					p := max(0, min(len(text)-20, edge-10+r.Intn(20)))
					copy(text[p:], " "+keys[r.Intn(len(keys))]+" ")
				}
			} else {
				text = appendPieces(r, text, keys, pieces)
			}
			checkAgreeSpan(t, r, i%2 == 1, keys, ms, us, text)
		}
	}
}

// TestDigitMasksAgree holds the digit masks (assembly on amd64) to a byte
// loop, on every byte value and every length.
func TestDigitMasksAgree(t *testing.T) {
	r := rand.New(rand.NewSource(19))
	buf := make([]byte, 300)
	for n := 0; n < 20000; n++ {
		b := buf[:r.Intn(len(buf))]
		for j := range b {
			if r.Intn(3) == 0 {
				b[j] = byte(r.Intn(256))
			} else {
				b[j] = "/09:\x00\xb0\xb9 5"[r.Intn(9)]
			}
		}
		m := make([]uint64, 1+r.Intn(6))
		got := digitMasks(b, m)
		want := min(len(m), (len(b)+63)/64)
		if got != want {
			t.Fatalf("digitMasks(%d bytes, %d masks) = %d, want %d", len(b), len(m), got, want)
		}
		for j := 0; j < got; j++ {
			var w uint64
			for k := 0; k < 64 && j*64+k < len(b); k++ {
				if isDigit(b[j*64+k]) {
					w |= 1 << k
				}
			}
			if m[j] != w {
				t.Fatalf("block %d of %q: mask %#x, want %#x", j, b, m[j], w)
			}
		}
		g := make([]uint64, len(m))
		if a, c := digitBlocks(b, m), digitBlocksGeneric(b, g); a != c || a > 0 && m[a-1] != g[a-1] {
			t.Fatalf("digitBlocks = %d, the generic one %d", a, c)
		}
	}
}

func TestRunsAtLeast(t *testing.T) {
	r := rand.New(rand.NewSource(23))
	for n := 0; n < 20000; n++ {
		lo, hi := r.Uint64(), r.Uint64()
		if n%2 == 0 {
			lo |= r.Uint64() | r.Uint64()
			hi |= r.Uint64() | r.Uint64()
		}
		k := 1 + r.Intn(20)
		var want uint64
		for p := 0; p < 64; p++ {
			all := true
			for q := p; q < p+k; q++ {
				bit := lo >> q & 1
				if q >= 64 {
					bit = hi >> (q - 64) & 1
				}
				all = all && bit == 1
			}
			if all {
				want |= 1 << p
			}
		}
		if got := runsAtLeast(lo, hi, k); got != want {
			t.Fatalf("runsAtLeast(%#x, %#x, %d) = %#x, want %#x", lo, hi, k, got, want)
		}
	}
}
