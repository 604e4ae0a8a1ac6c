package annotate

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
)

func builtin(t testing.TB, opts Options) *Annotator {
	t.Helper()
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	a, err := FromCatalog(c, nil, matcher.Auto, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const (
	note898001 = " [898001 User exists | 用户已存在]"
	note871310 = " [871310 Network not available,please check your network connection. | 网络连接已断开，请检查网络]"
)

func lines(t *testing.T, a *Annotator, in string) string {
	t.Helper()
	var s Scratch
	var st Stats
	return string(a.AppendLines(nil, []byte(in), nil, &s, &st))
}

func TestTextLines(t *testing.T) {
	a := builtin(t, Options{})
	cases := []struct{ in, want string }{
		{"", ""},
		{"no code here\n", "no code here\n"},
		{"code=898001\n", "code=898001" + note898001 + "\n"},
		{"code=898001\r\n", "code=898001" + note898001 + "\r\n"},
		{"a\r\nb 898001\r\nc\r\n", "a\r\nb 898001" + note898001 + "\r\nc\r\n"},
		{"last 898001", "last 898001" + note898001},
		{"last plain", "last plain"},
		{"871310 898001 871310\n", "871310 898001 871310" + note871310 + note898001 + "\n"},
		{"1898001 3.898001 898001.5 0x898001 8980012\n", "1898001 3.898001 898001.5 0x898001 8980012\n"},
		{"错误码898001，\n", "错误码898001，" + note898001 + "\n"},
		{"nul\x00898001\x00\n", "nul\x00898001\x00" + note898001 + "\n"},
		{"bad \xff\xfe 898001\n", "bad \xff\xfe 898001" + note898001 + "\n"},
		{"cr in\rmiddle 898001\n", "cr in\rmiddle 898001" + note898001 + "\n"},
		{"\n\n898001\n\n", "\n\n898001" + note898001 + "\n\n"},
		{"unknown 899999\n", "unknown 899999\n"},
	}
	for _, c := range cases {
		if got := lines(t, a, c.in); got != c.want {
			t.Errorf("AppendLines(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestOnlyMatching(t *testing.T) {
	a := builtin(t, Options{OnlyMatching: true})
	in := "a\nb 898001\r\nc\nd 871310"
	want := "b 898001" + note898001 + "\r\nd 871310" + note871310
	if got := lines(t, a, in); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	j := builtin(t, Options{Format: JSON, OnlyMatching: true})
	got := lines(t, j, "a\nb 898001\nc\n")
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, `"line":"b 898001"`) {
		t.Errorf("json only-matching: %q", got)
	}
}

func TestStats(t *testing.T) {
	a := builtin(t, Options{})
	var s Scratch
	var st Stats
	a.AppendLines(nil, []byte("a\n898001 871310\nb 898001\nlast"), nil, &s, &st)
	if st.Lines != 4 || st.Annotated != 2 || st.Codes != 3 || st.Hits != nil {
		t.Errorf("stats = %+v", st)
	}
}

// TestCountHits: with Count, the annotation pass lists every code per
// line with the line's index, in text and JSON, whole lines and records,
// including numbers shaped like codes that the catalog lacks (at every
// occurrence) and whatever the output keeps (only-matching).
func TestCountHits(t *testing.T) {
	const in = "a 899999\n898001 871310 898001\nb\r\nc 898001 899999 899999\nlast 871310"
	var k898001, k871310 int32 = -1, -1
	for _, format := range []Format{Text, JSON, Merge} {
		for _, only := range []bool{false, true} {
			a := builtin(t, Options{Format: format, OnlyMatching: only, Count: true})
			for k := 0; k898001 < 0 || k871310 < 0; k++ {
				switch a.Note(k).Code {
				case "898001":
					k898001 = int32(k)
				case "871310":
					k871310 = int32(k)
				}
			}
			want := []Hit{
				{Line: 0, Key: matcher.Unknown, Number: 899999},
				{Line: 1, Key: k898001}, {Line: 1, Key: k871310},
				{Line: 3, Key: matcher.Unknown, Number: 899999}, {Line: 3, Key: matcher.Unknown, Number: 899999},
				{Line: 3, Key: k898001},
				{Line: 4, Key: k871310},
			}
			var s Scratch
			var st Stats
			plain := builtin(t, Options{Format: format, OnlyMatching: only})
			var pst Stats
			if got, wantOut := a.AppendLines(nil, []byte(in), nil, &s, &st), plain.AppendLines(nil, []byte(in), nil, &s, &pst); !bytes.Equal(got, wantOut) {
				t.Errorf("%s only=%v: counting changed the output:\n%q\n%q", format, only, got, wantOut)
			}
			if !reflect.DeepEqual(st.Hits, want) || st.Lines != 5 || st.Annotated != 3 || st.Codes != 4 {
				t.Errorf("%s only=%v: stats %+v\nwant hits %+v", format, only, st, want)
			}
			// The same values as records.
			st = Stats{}
			for _, v := range strings.Split(in, "\n") {
				a.AppendRecord(nil, []byte(strings.TrimSuffix(v, "\r")), nil, &s, &st)
			}
			if !reflect.DeepEqual(st.Hits, want) {
				t.Errorf("%s only=%v records: hits %+v", format, only, st.Hits)
			}
		}
	}
}

// jsonLine mirrors the documented JSON output.
type jsonLine struct {
	Path  string `json:"path"`
	Line  string `json:"line"`
	Codes []struct {
		Code, Message, Meaning, Source string
	} `json:"codes"`
}

func TestJSONExact(t *testing.T) {
	a := builtin(t, Options{Format: JSON})
	got := lines(t, a, "plain\ncode=898001 \"q\" \\ \t\r\nlast")
	want := `{"line":"plain","codes":[]}` + "\n" +
		`{"line":"code=898001 \"q\" \\ \t","codes":[{"code":"898001","message":"User exists","meaning":"用户已存在","source":"sdk/server"}]}` + "\n" +
		`{"line":"last","codes":[]}` + "\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	var s Scratch
	var st Stats
	out := a.AppendLines(nil, []byte("x 871310\n"), []byte(`"path":"/var/log/a.log",`), &s, &st)
	var jl jsonLine
	if err := json.Unmarshal(out, &jl); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if jl.Path != "/var/log/a.log" || jl.Line != "x 871310" || len(jl.Codes) != 1 || jl.Codes[0].Code != "871310" || jl.Codes[0].Source != "sdk/android" {
		t.Errorf("decoded %+v", jl)
	}
}

// decodeSurrogateEscape undoes AppendJSONString for a JSON string body: it
// is the inverse a consumer applies (Python's surrogateescape).
func decodeSurrogateEscape(t *testing.T, quoted []byte) []byte {
	t.Helper()
	var out []byte
	s := quoted[1 : len(quoted)-1]
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			out = append(out, s[i])
			i++
			continue
		}
		switch s[i+1] {
		case 'u':
			var v rune
			for _, c := range s[i+2 : i+6] {
				v <<= 4
				switch {
				case c >= '0' && c <= '9':
					v |= rune(c - '0')
				default:
					v |= rune(c-'a') + 10
				}
			}
			if v >= 0xdc80 && v <= 0xdcff {
				out = append(out, byte(v-0xdc00))
			} else {
				out = utf8.AppendRune(out, v)
			}
			i += 6
		case 'n':
			out, i = append(out, '\n'), i+2
		case 'r':
			out, i = append(out, '\r'), i+2
		case 't':
			out, i = append(out, '\t'), i+2
		default:
			out, i = append(out, s[i+1]), i+2
		}
	}
	return out
}

func TestJSONStringRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	samples := [][]byte{
		[]byte("plain"), []byte("\xff\xfe"), []byte("错误码"), []byte("\xe9\x94"), // a cut 3-byte rune
		[]byte("\x00\x01\x1f\x7f"), []byte("\u2028\u2029"), []byte("\xed\xa0\x80"), // an encoded surrogate is invalid
		[]byte("\xf4\x90\x80\x80"), // beyond U+10FFFF
	}
	for i := 0; i < 2000; i++ {
		b := make([]byte, r.Intn(40))
		for j := range b {
			const alphabet = "a\"\\\n\xff\xe9\x94\x99\x80\x00 8"
			b[j] = alphabet[r.Intn(len(alphabet))]
		}
		samples = append(samples, b)
	}
	for _, in := range samples {
		q := AppendJSONString(nil, in)
		if !json.Valid(q) {
			t.Fatalf("%q: not valid JSON: %s", in, q)
		}
		if !utf8.Valid(q) {
			t.Fatalf("%q: output is not UTF-8: %q", in, q)
		}
		if back := decodeSurrogateEscape(t, q); !bytes.Equal(back, in) {
			t.Fatalf("%q: round trip gave %q via %s", in, back, q)
		}
		if utf8.Valid(in) {
			var s string
			if err := json.Unmarshal(q, &s); err != nil || s != string(in) {
				t.Fatalf("%q: standard decoder gave %q, %v", in, s, err)
			}
		}
	}
}

// TestPiecesEqualWhole feeds lines through AppendPiece cut at every kind
// of place and checks the result equals annotating the line whole: a long
// line is never split, never loses a code, never gains a false one.
func TestPiecesEqualWhole(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	atoms := []string{"898001", "871310", "1", ".", "8", "x", " ", "\r", "错", "\xff", "\xe9\x94", "\x99", "_", "3.", ".5", "89800", "899999"}
	for _, format := range []Format{Text, JSON, Merge} {
		a := builtin(t, Options{Format: format, Count: true})
		for i := 0; i < 3000; i++ {
			var line []byte
			for n := r.Intn(30); n > 0; n-- {
				line = append(line, atoms[r.Intn(len(atoms))]...)
			}
			switch r.Intn(3) {
			case 0:
				line = append(line, '\n')
			case 1:
				line = append(line, "\r\n"...)
			}
			var s Scratch
			var st Stats
			whole := a.AppendLines(nil, line, nil, &s, &st)
			if len(line) == 0 {
				continue
			}
			var l LongLine
			var out []byte
			var pst Stats
			rest := line
			for len(rest) > 0 {
				n := 1 + r.Intn(len(rest))
				if r.Intn(4) == 0 {
					n = min(len(rest), 1+r.Intn(3))
				}
				piece := rest[:n]
				rest = rest[n:]
				out = a.AppendPiece(out, piece, nil, len(rest) == 0, &l, &s, &pst)
			}
			if !bytes.Equal(out, whole) {
				t.Fatalf("%s: line %q\npieces: %q\n whole: %q", format, line, out, whole)
			}
			// The counts and the codes counted, unknown numbers included,
			// are those of the whole line.
			if !reflect.DeepEqual(pst, st) {
				t.Fatalf("%s: line %q: stats %+v in pieces, %+v whole", format, line, pst, st)
			}
		}
	}
}

func TestLongLineBoundedState(t *testing.T) {
	a := builtin(t, Options{})
	var l LongLine
	var s Scratch
	var st Stats
	piece := bytes.Repeat([]byte("898001 "), 1<<14)
	var out []byte
	for i := 0; i < 64; i++ {
		out = a.AppendPiece(out[:0], piece, nil, false, &l, &s, &st)
	}
	if len(l.keys) != 1 || len(l.carry) > 16 {
		t.Errorf("state grew: %d keys, %d carried bytes", len(l.keys), len(l.carry))
	}
	out = a.AppendPiece(out[:0], []byte("end\n"), nil, true, &l, &s, &st)
	if string(out) != "end"+note898001+"\n" {
		t.Errorf("end of long line: %q", out)
	}
}

func TestRecord(t *testing.T) {
	a := builtin(t, Options{})
	var s Scratch
	var st Stats
	got := a.AppendRecord(nil, []byte("multi\nline 898001"), nil, &s, &st)
	if string(got) != "multi\nline 898001"+note898001 {
		t.Errorf("record: %q", got)
	}
	if len(s.Matches()) != 1 {
		t.Errorf("matches: %v", s.Matches())
	}
}

func TestNoAllocPerLine(t *testing.T) {
	block := []byte(strings.Repeat("2026-11-23T12:00:00.123Z INFO request id=18 took 8ms\n", 200) +
		"2026-11-23T12:00:00.123Z ERROR send failed code=898001\n")
	for _, format := range []Format{Text, JSON, Merge} {
		a := builtin(t, Options{Format: format})
		var s Scratch
		var st Stats
		dst := make([]byte, 0, 4*len(block))
		dst = a.AppendLines(dst[:0], block, nil, &s, &st)
		allocs := testing.AllocsPerRun(50, func() {
			dst = a.AppendLines(dst[:0], block, nil, &s, &st)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per block of 201 lines", format, allocs)
		}
	}
}

func TestParseFormat(t *testing.T) {
	if _, err := ParseFormat("yaml"); err == nil || !strings.Contains(err.Error(), "yaml") {
		t.Errorf("ParseFormat(yaml) = %v", err)
	}
	m, _ := matcher.New([]string{"E1"}, matcher.Auto)
	if _, err := New(m, []Note{{Code: "E1"}}, Options{Format: "xml"}); err == nil {
		t.Error("New accepted format xml")
	}
	// A note with a line break must not break the output line.
	a, err := New(m, []Note{{Code: "E1", Message: "two\nlines", Meaning: "x"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(t, a, "E1\n"); got != "E1 [E1 two lines | x]\n" {
		t.Errorf("got %q", got)
	}
}

// A note the catalog gives no message or no meaning for is written
// without the empty field; JSON keeps both keys.
func TestEmptyFieldsLeftOut(t *testing.T) {
	m, _ := matcher.New([]string{"803001", "ERR_4031", "E3", "E4"}, matcher.Auto)
	notes := []Note{
		{Code: "803001", Meaning: "发送消息失败"},
		{Code: "ERR_4031", Message: "Forbidden"},
		{Code: "E3"},
		{Code: "E4", Message: " ", Meaning: "x"},
	}
	a, err := New(m, notes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := lines(t, a, "a 803001\nb ERR_4031\nc E3\nd E4\n")
	want := "a 803001 [803001 | 发送消息失败]\nb ERR_4031 [ERR_4031 Forbidden]\nc E3 [E3]\nd E4 [E4 | x]\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	j, err := New(m, notes, Options{Format: JSON})
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(t, j, "b ERR_4031\n"); !strings.Contains(got, `"message":"Forbidden","meaning":""`) {
		t.Errorf("JSON: %q", got)
	}
}
