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

// TestNoUnknownLines: without their lines, the hits of numbers not in the
// catalog are the same numbers, in the same order, and the codes' hits
// keep their lines.
func TestNoUnknownLines(t *testing.T) {
	const in = "a 812345\nb 812346\nc 898001 812347\nd 812348\n"
	var with, without Stats
	var s Scratch
	builtin(t, Options{Count: true}).AppendLines(nil, []byte(in), nil, &s, &with)
	builtin(t, Options{Count: true, NoUnknownLines: true}).AppendLines(nil, []byte(in), nil, &s, &without)
	if len(with.Hits) != len(without.Hits) || len(with.Hits) != 5 {
		t.Fatalf("hits %v and %v", with.Hits, without.Hits)
	}
	for i, h := range without.Hits {
		w := with.Hits[i]
		if h.Key != w.Key || h.Number != w.Number {
			t.Errorf("hit %d: %+v, with lines %+v", i, h, w)
		}
		if h.Key != matcher.Unknown && h.Line != w.Line {
			t.Errorf("code hit %d lost its line: %+v, want %+v", i, h, w)
		}
	}
	if with.Hits[1].Line != 1 || without.Hits[1].Line != 0 {
		t.Errorf("812346: line %d with lines, %d without", with.Hits[1].Line, without.Hits[1].Line)
	}
}
