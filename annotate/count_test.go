package annotate

import (
	"bytes"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/annotator-dev/annotator/matcher"
)

// TestCountHitsManyNumbers: with numbers not in the catalog on many
// lines, alone or beside codes (custom keys too), the hits and the output
// are those of annotating each line as a record, whatever the format.
func TestCountHitsManyNumbers(t *testing.T) {
	build := func(keys []string, opts Options) *Annotator {
		newM := matcher.New
		if opts.Count {
			newM = matcher.NewWithUnknown
		}
		m, err := newM(keys, matcher.Auto)
		if err != nil {
			t.Fatal(err)
		}
		notes := make([]Note, len(keys))
		for i, k := range keys {
			notes[i] = Note{Code: k, Message: "m"}
		}
		a, err := New(m, notes, opts)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	codes := []string{"898001", "871310", "800012"}
	pieces := []string{"room=812345", " ", "898001", "871310", "899999", "1899999", "E11000", "ERR_X", "x", "\n", "\r\n", "\n", "8", "3.812345", "错误码812346，"}
	r := rand.New(rand.NewSource(7))
	for _, format := range []Format{Text, JSON, Merge} {
		for _, keys := range [][]string{codes, append([]string{"E11000", "ERR_X"}, codes...)} {
			opts := Options{Format: format, Count: true}
			a := build(keys, opts)
			if a.skip == nil {
				t.Fatal("a counting annotator does not step over unknown numbers")
			}
			opts.Count = false
			plain := build(keys, opts)
			for round := 0; round < 300; round++ {
				var b strings.Builder
				for n := r.Intn(60); n > 0; n-- {
					b.WriteString(pieces[r.Intn(len(pieces))])
				}
				in := b.String()
				var s Scratch
				var st, pst Stats
				got := a.AppendLines(nil, []byte(in), nil, &s, &st)
				if want := plain.AppendLines(nil, []byte(in), nil, &s, &pst); !bytes.Equal(got, want) {
					t.Fatalf("%s: counting changed the output of %q", format, in)
				}
				// Each line alone, as a record, is the reference.
				var ref Stats
				for _, l := range strings.SplitAfter(in, "\n") {
					if l == "" {
						continue
					}
					body, _ := splitTerm([]byte(l))
					a.AppendRecord(nil, body, nil, &s, &ref)
				}
				if !reflect.DeepEqual(st.Hits, ref.Hits) || st.Lines != ref.Lines {
					t.Fatalf("%s: %q:\n hits %v (%d lines)\nwant %v (%d lines)", format, in, st.Hits, st.Lines, ref.Hits, ref.Lines)
				}
			}
		}
	}
}
