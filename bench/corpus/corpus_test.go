package corpus

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/annotator-dev/annotator/matcher"
)

func generate(t *testing.T, c Config) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, c); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func codeMatcher(t *testing.T) matcher.Matcher {
	t.Helper()
	codes, err := Codes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(codes, matcher.Numeric)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDeterministicAndExactSize(t *testing.T) {
	c := Default()
	c.Size = 1 << 20
	a, b := generate(t, c), generate(t, c)
	if !bytes.Equal(a, b) {
		t.Fatal("the same config gave different bytes")
	}
	if len(a) != int(c.Size) || a[len(a)-1] != '\n' {
		t.Fatalf("size %d (want %d), last byte %q", len(a), c.Size, a[len(a)-1])
	}
	c.Seed = 2
	if bytes.Equal(a, generate(t, c)) {
		t.Fatal("another seed gave the same bytes")
	}
}

func TestCodeShare(t *testing.T) {
	m := codeMatcher(t)
	for _, share := range []float64{0, 0.02, 0.5} {
		c := Default()
		c.Size = 4 << 20
		c.CodeShare = share
		lines := bytes.SplitAfter(generate(t, c), []byte{'\n'})
		with, jsonLines := 0, 0
		for _, l := range lines {
			if m.First(l) >= 0 {
				with++
			}
			if bytes.HasPrefix(l, []byte{'{'}) {
				jsonLines++
			}
		}
		got := float64(with) / float64(len(lines))
		if got < share*0.8 || got > share*1.2 {
			t.Errorf("share %v: %d of %d lines hold a code (%.4f)", share, with, len(lines), got)
		}
		if j := float64(jsonLines) / float64(len(lines)); j < 0.2 || j > 0.3 {
			t.Errorf("share %v: %.3f of the lines are JSON, want about 0.25", share, j)
		}
	}
}

// TestDecoysDoNotMatch makes every line carry a decoy and none a code: the
// matcher must find nothing, and every decoy must be there.
func TestDecoysDoNotMatch(t *testing.T) {
	c := Default()
	c.Size = 1 << 20
	c.CodeShare = 0
	c.DecoyShare = 1
	data := generate(t, c)
	if p := codeMatcher(t).First(data); p >= 0 {
		t.Fatalf("a code matched in a corpus of decoys: %q", data[max(0, p-20):min(len(data), p+20)])
	}
	for _, d := range Decoys {
		if !bytes.Contains(data, []byte(d)) {
			t.Errorf("decoy %q never written", d)
		}
	}
}

func TestSingleLine(t *testing.T) {
	c := Default()
	c.Size = 1 << 20
	c.SingleLine = true
	c.CodeShare = 0.5
	data := generate(t, c)
	if len(data) != int(c.Size) || bytes.IndexByte(data, '\n') != len(data)-1 {
		t.Fatalf("want one line of %d bytes, got %d bytes with its first '\\n' at %d", c.Size, len(data), bytes.IndexByte(data, '\n'))
	}
	if codeMatcher(t).First(data) < 0 {
		t.Fatal("the single line holds no code")
	}
}

func TestRejects(t *testing.T) {
	for _, c := range []Config{{LineLen: 10}, {LineLen: 100, CodeShare: 2}, {LineLen: 100, Size: -1}} {
		if err := Write(&bytes.Buffer{}, c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestJSONLines: with JSONShare 1 every line is one JSON object (the
// last may be cut short to make the size exact), so merge mode has a
// field to insert into every line with a code.
func TestJSONLines(t *testing.T) {
	c := Default()
	c.Size = 1 << 20
	c.JSONShare = 1
	c.CodeShare = 0.2
	lines := bytes.Split(bytes.TrimSuffix(generate(t, c), []byte{'\n'}), []byte{'\n'})
	m := codeMatcher(t)
	coded := 0
	for i, l := range lines[:len(lines)-1] {
		var v map[string]any
		if err := json.Unmarshal(l, &v); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %q", i+1, err, l)
		}
		if m.First(l) >= 0 {
			coded++
		}
	}
	if coded < len(lines)/10 {
		t.Errorf("%d of %d lines hold a code, want about a fifth", coded, len(lines))
	}
}
