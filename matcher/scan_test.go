package matcher

import (
	"bytes"
	"math/rand"
	"testing"
)

// plainWordStart8 is indexWordStart8 written one byte at a time.
func plainWordStart8(text []byte, i, to int) int {
	for p := i; p < to; p++ {
		if text[p] == '8' && (p == 0 || !isWord(text[p-1])) {
			return p
		}
	}
	return -1
}

// TestWordStart8Agree holds the vectorised candidate scan (assembly on
// amd64), its portable SWAR twin and the byte loop to the same answers,
// on every byte value around every class edge.
func TestWordStart8Agree(t *testing.T) {
	alphabet := []byte("8888800999_./:-aAzZ`{@[\x7f\x80\xff\x00 ")
	for b := 0; b < 256; b++ {
		alphabet = append(alphabet, byte(b))
	}
	r := rand.New(rand.NewSource(7))
	buf := make([]byte, 200)
	for n := 0; n < 200000; n++ {
		text := buf[:r.Intn(len(buf))]
		for j := range text {
			if r.Intn(4) == 0 {
				text[j] = byte(r.Intn(256))
			} else {
				text[j] = alphabet[r.Intn(40)]
			}
		}
		i, to := 0, len(text)
		if len(text) > 0 && n%2 == 1 {
			i = r.Intn(len(text))
			to = i + r.Intn(len(text)-i+1)
		}
		want := plainWordStart8(text, i, to)
		if got := indexWordStart8(text, i, to); got != want {
			t.Fatalf("indexWordStart8(%q, %d, %d) = %d, want %d", text, i, to, got, want)
		}
		if len(text) > 0 {
			if a, g := wordStart8(text), wordStart8Generic(text); a != g {
				t.Fatalf("wordStart8(%q) = %d, the generic one says %d", text, a, g)
			}
		}
	}
}

func TestByteClasses(t *testing.T) {
	for b := 0; b < 256; b++ {
		w := uint64(b) * lanes01
		wantWord, wantEight := uint64(0), uint64(0)
		if isWord(byte(b)) {
			wantWord = lanes80
		}
		if b == '8' {
			wantEight = lanes80
		}
		if got := wordBytes(w); got != wantWord {
			t.Errorf("wordBytes(%#x) = %#x, want %#x", b, got, wantWord)
		}
		if got := eqBytes(w, '8'); got != wantEight {
			t.Errorf("eqBytes(%#x, '8') = %#x, want %#x", b, got, wantEight)
		}
	}
}

// TestFirstAcrossWindows places keys around the edges of the windows the
// Aho-Corasick engine's First looks through (4 KiB, then 8, 16, ...), with
// a short key right after a long one that crosses the edge.
func TestFirstAcrossWindows(t *testing.T) {
	keys := []string{"898001", "E11000", "ECONNRESET", "E1", "[E42]"}
	ms := engines(t, keys)
	r := rand.New(rand.NewSource(5))
	edges := []int{4096, 4096 + 8192, 4096 + 8192 + 16384}
	for n := 0; n < 300; n++ {
		text := bytes.Repeat([]byte("ab "), 12000)
		edge := edges[r.Intn(len(edges))]
		for k := r.Intn(3); k >= 0; k-- {
			key := keys[r.Intn(len(keys))]
			p := edge - 12 + r.Intn(24)
			copy(text[p:], " "+key+" ")
		}
		if r.Intn(4) == 0 {
			text = text[:edge+r.Intn(8)] // the text ends near the edge
		}
		want := reference(keys, text, 0, len(text))
		wantFirst := -1
		if len(want) > 0 {
			wantFirst = want[0].Start
		}
		for e, m := range ms {
			if got := m.First(text); got != wantFirst {
				t.Fatalf("%s: First = %d, want %d (keys near %d: %q)", e, got, wantFirst, edge, text[edge-16:min(len(text), edge+16)])
			}
		}
	}
}

// TestIndexPairAgree holds the pair scan (assembly on amd64), its
// portable twin and a byte loop to the same answers, with the range's
// edges, bytes from 0x80 and every position.
func TestIndexPairAgree(t *testing.T) {
	alphabet := []byte("__0099/:aAzZ\x7f\x80\xff\x00 ")
	r := rand.New(rand.NewSource(13))
	buf := make([]byte, 120)
	for n := 0; n < 200000; n++ {
		text := buf[:r.Intn(len(buf))]
		for j := range text {
			if r.Intn(5) == 0 {
				text[j] = byte(r.Intn(256))
			} else {
				text[j] = alphabet[r.Intn(len(alphabet))]
			}
		}
		first := "_a\x00"[r.Intn(3)]
		lo, hi := byte('0'), byte('9')
		if n%3 == 1 {
			lo, hi = 0, 0x7e
		} else if n%3 == 2 {
			lo, hi = 'A', 'Z'
		}
		i, to := 0, len(text)
		if len(text) > 0 && n%2 == 1 {
			i = r.Intn(len(text))
			to = i + r.Intn(len(text)-i+1)
		}
		want := -1
		for c := i; c+1 < to; c++ {
			if text[c] == first && text[c+1] >= lo && text[c+1] <= hi {
				want = c
				break
			}
		}
		if got := indexPairIn(text, i, to, first, lo, hi); got != want {
			t.Fatalf("indexPairIn(%q, %d, %d, %q, %q, %q) = %d, want %d", text, i, to, first, lo, hi, got, want)
		}
		if len(text) > 0 {
			if a, g := indexPair(text, first, lo, hi), indexPairGeneric(text, first, lo, hi); a != g {
				t.Fatalf("indexPair(%q) = %d, the generic one says %d", text, a, g)
			}
		}
	}
}

// TestIndexRangePairAgree holds the range-pair scan (assembly on amd64),
// its portable twin and a byte loop to the same answers, with the
// ranges' edges, bytes from 0x80 and every position.
func TestIndexRangePairAgree(t *testing.T) {
	alphabet := []byte("aAzZ09_`{@[/:\x7f\x80\xff\x00 ")
	r := rand.New(rand.NewSource(29))
	buf := make([]byte, 120)
	for n := 0; n < 200000; n++ {
		text := buf[:r.Intn(len(buf))]
		for j := range text {
			if r.Intn(5) == 0 {
				text[j] = byte(r.Intn(256))
			} else {
				text[j] = alphabet[r.Intn(len(alphabet))]
			}
		}
		lo1, hi1, lo2, hi2 := byte('a'), byte('z'), byte('A'), byte('Z')
		switch n % 3 {
		case 1:
			lo1, hi1, lo2, hi2 = 0, 0x7e, '0', '9'
		case 2:
			lo1, hi1, lo2, hi2 = '_', '_', 0, 0x7e
		}
		i, to := 0, len(text)
		if len(text) > 0 && n%2 == 1 {
			i = r.Intn(len(text))
			to = i + r.Intn(len(text)-i+1)
		}
		want := -1
		for c := i; c+1 < to; c++ {
			if text[c] >= lo1 && text[c] <= hi1 && text[c+1] >= lo2 && text[c+1] <= hi2 {
				want = c
				break
			}
		}
		if got := indexRangePairIn(text, i, to, lo1, hi1, lo2, hi2); got != want {
			t.Fatalf("indexRangePairIn(%q, %d, %d, %q-%q, %q-%q) = %d, want %d", text, i, to, lo1, hi1, lo2, hi2, got, want)
		}
		if len(text) > 0 {
			if a, g := indexRangePair(text, lo1, hi1, lo2, hi2), indexRangePairGeneric(text, lo1, hi1, lo2, hi2); a != g {
				t.Fatalf("indexRangePair(%q) = %d, the generic one says %d", text, a, g)
			}
		}
	}
}
