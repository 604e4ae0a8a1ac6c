package corpus

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/annotator-dev/annotator/matcher"
)

// TestRealProfile: a third of the lines hold a number shaped like a code
// that the catalog lacks, the line kinds are mixed as stated, and the
// catalog codes keep their share.
func TestRealProfile(t *testing.T) {
	c, err := Profile("real")
	if err != nil {
		t.Fatal(err)
	}
	c.Size = 4 << 20
	codes, err := Codes()
	if err != nil {
		t.Fatal(err)
	}
	known := codeMatcher(t)
	all, err := matcher.NewWithUnknown(codes, matcher.Numeric)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(generate(t, c), []byte{'\n'})
	var unknown, coded, jsonLines, access int
	distinct := map[string]bool{}
	var ms []matcher.Match
	for _, l := range lines {
		ms = all.Find(l, 0, len(l), ms[:0])
		u := false
		for _, m := range ms {
			if m.Key == matcher.Unknown {
				u = true
				distinct[string(l[m.Start:m.End])] = true
			}
		}
		if u {
			unknown++
		}
		if known.First(l) >= 0 {
			coded++
		}
		switch {
		case bytes.HasPrefix(l, []byte{'{'}):
			jsonLines++
		case bytes.Contains(l, []byte(" - - [")):
			access++
		}
	}
	n := float64(len(lines))
	near := func(what string, got int, want float64) {
		if f := float64(got) / n; f < want*0.85 || f > want*1.15 {
			t.Errorf("%s: %.4f of the lines, want about %.4f", what, f, want)
		}
	}
	near("unknown numbers", unknown, 1.0/3)
	near("catalog codes", coded, 0.02)
	near("JSON", jsonLines, 0.3)
	near("access-log", access, 0.3)
	if len(distinct) < unknown/2 {
		t.Errorf("%d distinct unknown numbers on %d lines: want them spread like ids", len(distinct), unknown)
	}
}

// TestDefaultProfileUnchanged: the default profile is Default, so the
// figures measured on it before the profiles existed stay comparable.
func TestDefaultProfileUnchanged(t *testing.T) {
	c, err := Profile("default")
	if err != nil {
		t.Fatal(err)
	}
	if c != Default() {
		t.Fatalf("default profile %+v differs from Default %+v", c, Default())
	}
	if _, err := Profile("nope"); err == nil {
		t.Fatal("an unknown profile was accepted")
	}
}

func TestLongProfile(t *testing.T) {
	c, err := Profile("long")
	if err != nil {
		t.Fatal(err)
	}
	c.Size = 4 << 20
	data := generate(t, c)
	if mean := len(data) / bytes.Count(data, []byte{'\n'}); mean < 3000 {
		t.Errorf("mean line length %d, want about 4096", mean)
	}
}

func TestRejectsSharesOverOne(t *testing.T) {
	c := Default()
	c.JSONShare, c.AccessShare = 0.6, 0.6
	if err := Write(&bytes.Buffer{}, c); err == nil {
		t.Fatal("JSON and access shares adding up to 1.2 were accepted")
	}
}

func TestKeyShapes(t *testing.T) {
	shapes := map[string]*regexp.Regexp{
		"prefix": regexp.MustCompile(`^ERR_\d{5}_[A-Z]{4}$`),
		"words":  regexp.MustCompile(`^([A-Z_]+_[A-Z_]+|[a-z]+_[a-z]+)_\d{1,4}$`),
		"digits": regexp.MustCompile(`^[1-9]\d{4}$`),
		"case":   regexp.MustCompile(`^[A-Za-z]+[A-Z][a-z]+\d{1,4}$`),
		"mixed":  regexp.MustCompile(`^\S+$`),
	}
	for _, shape := range KeyShapes {
		re := shapes[shape]
		if re == nil {
			t.Fatalf("no test for shape %s", shape)
		}
		keys, err := ShapedKeys(shape, 5000, 1)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := ShapedKeys(shape, 5000, 1)
		seen := map[string]bool{}
		mixedCase := false
		for i, k := range keys {
			if !re.MatchString(k) {
				t.Fatalf("%s: key %q is not of the shape", shape, k)
			}
			if seen[k] {
				t.Fatalf("%s: key %q twice", shape, k)
			}
			seen[k] = true
			if again[i] != k {
				t.Fatalf("%s: not deterministic", shape)
			}
			if k != strings.ToUpper(k) && k != strings.ToLower(k) {
				mixedCase = true
			}
		}
		if shape == "case" && !mixedCase {
			t.Error("case: no key mixes upper and lower case")
		}
		if _, err := matcher.New(keys, matcher.Auto); err != nil {
			t.Fatalf("%s: %v", shape, err)
		}
	}
	if _, err := ShapedKeys("digits", maxDigitKeys+1, 1); err == nil {
		t.Error("more five-digit keys than there are were promised")
	}
	if _, err := ShapedKeys("nope", 1, 1); err == nil {
		t.Error("an unknown shape was accepted")
	}
}
