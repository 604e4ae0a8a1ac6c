package annotate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/annotator-dev/annotator/matcher"
	"github.com/go-logfmt/logfmt"
)

const (
	field898001 = `[{"code":"898001","message":"User exists","meaning":"用户已存在","source":"sdk/server"}]`
	pair898001  = ` jmessage="898001 User exists | 用户已存在"`
)

func TestMergeLines(t *testing.T) {
	a := builtin(t, Options{Format: Merge})
	cases := []struct{ name, in, want string }{
		{"object", `{"level":"error","code":898001}` + "\n",
			`{"level":"error","code":898001,"jmessage":` + field898001 + "}\n"},
		{"code in a string", `{"msg":"failed: 898001"}` + "\r\n",
			`{"msg":"failed: 898001","jmessage":` + field898001 + "}\r\n"},
		{"spacing and trailing white space kept", " { \"a\" : [ 1 , 2.50e+3 , -0 ] ,\t\"c\":898001 }  \t\r\n",
			" { \"a\" : [ 1 , 2.50e+3 , -0 ] ,\t\"c\":898001 ,\"jmessage\":" + field898001 + "}  \t\r\n"},
		{"escapes kept", `{"m":"\u00e9\"\\\/ 898001"}`,
			`{"m":"\u00e9\"\\\/ 898001","jmessage":` + field898001 + `}`},
		{"empty object, no comma", "{ } 898001\n", "{ } 898001" + note898001 + "\n"},
		{"clash", `{"jmessage":"mine","code":898001}` + "\n",
			`{"jmessage":"mine","code":898001,"jmessage_annotator":` + field898001 + "}\n"},
		{"clash through an escape", `{"jmess\u0061ge":1,"code":898001}`,
			`{"jmess\u0061ge":1,"code":898001,"jmessage_annotator":` + field898001 + `}`},
		{"nested name is no clash", `{"x":{"jmessage":1},"code":898001}`,
			`{"x":{"jmessage":1},"code":898001,"jmessage":` + field898001 + `}`},
		{"both names taken", `{"jmessage":1,"jmessage_annotator":2,"c":898001}` + "\n",
			`{"jmessage":1,"jmessage_annotator":2,"c":898001}` + note898001 + "\n"},
		{"truncated", `{"a":898001` + "\n", `{"a":898001` + note898001 + "\n"},
		{"truncated after colon", `{"a": 898001, "b":` + "\n", `{"a": 898001, "b":` + note898001 + "\n"},
		{"array", "[898001]\n", "[898001]" + note898001 + "\n"},
		{"two objects", `{"a":898001}{"b":1}` + "\n", `{"a":898001}{"b":1}` + note898001 + "\n"},
		{"bad number", `{"a":0898001}` + "\n", `{"a":0898001}` + "\n"},
		{"bad escape", `{"a":"\x 898001"}` + "\n", `{"a":"\x 898001"}` + note898001 + "\n"},
		{"no code: byte for byte", `{"a":1}` + "\r\n", `{"a":1}` + "\r\n"},
		{"logfmt", `time=2026-11-26T12:00:00Z level=error msg="send failed" code=898001` + "\n",
			`time=2026-11-26T12:00:00Z level=error msg="send failed" code=898001` + pair898001 + "\n"},
		{"logfmt, empty value and trailing space", "a= code=898001 \r\n",
			"a= code=898001 " + pair898001 + "\r\n"},
		{"logfmt clash", "jmessage=x code=898001\n",
			`jmessage=x code=898001 jmessage_annotator="898001 User exists | 用户已存在"` + "\n"},
		{"prose is not logfmt", "send failed code=898001\n", "send failed code=898001" + note898001 + "\n"},
		{"unclosed quote", `a="b code=898001` + "\n", `a="b code=898001` + note898001 + "\n"},
		{"two codes", `{"a":871310,"b":"898001"}`,
			`{"a":871310,"b":"898001","jmessage":[{"code":"871310","message":"Network not available,please check your network connection.","meaning":"网络连接已断开，请检查网络","source":"sdk/android"},` + field898001[1:] + `}`},
	}
	for _, c := range cases {
		if got := lines(t, a, c.in); got != c.want {
			t.Errorf("%s: %q\n got %q\nwant %q", c.name, c.in, got, c.want)
		}
	}
}

// TestMergeEmptyObjectGetsNoComma uses a custom key that an empty object
// can hold: with the built-in codes an object holding a code has a member.
func TestMergeEmptyObjectGetsNoComma(t *testing.T) {
	m, err := matcher.New([]string{"{}"}, matcher.Auto)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(m, []Note{{Code: "{}", Message: "m", Meaning: "n", Source: "s"}}, Options{Format: Merge, Field: "notes"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lines(t, a, "{}\n"), `{"notes":[{"code":"{}","message":"m","meaning":"n","source":"s"}]}`+"\n"; got != want {
		t.Errorf("empty object: got %q, want %q", got, want)
	}
}

func TestFieldNames(t *testing.T) {
	m, _ := matcher.New([]string{"E1"}, matcher.Auto)
	for _, bad := range []string{"a b", "a=b", `a"b`, "a\tb", "\xff", "a\x7f"} {
		if _, err := New(m, []Note{{Code: "E1"}}, Options{Format: Merge, Field: bad}); err == nil {
			t.Errorf("field %q accepted", bad)
		}
	}
	a, err := New(m, []Note{{Code: "E1", Message: "m", Meaning: "n"}}, Options{Format: Merge, Field: "注释.x\\y"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lines(t, a, `{"E1":1}`), `{"E1":1,"注释.x\\y":[{"code":"E1","message":"m","meaning":"n","source":""}]}`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := lines(t, a, `a=E1`), `a=E1 注释.x\y="E1 m | n"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// jsonGen writes random JSON with white space everywhere, every number
// form, escapes and non-ASCII text, and codes and decoys among them.
type jsonGen struct {
	r *rand.Rand
	b []byte
	// lf allows line feeds as white space (records, not lines).
	lf bool
}

func (g *jsonGen) ws() {
	spaces := []string{"", "", "", " ", "\t", "  ", " \t ", "\r"}
	if g.lf {
		spaces = append(spaces, "\n", "\r\n  ")
	}
	g.b = append(g.b, spaces[g.r.Intn(len(spaces))]...)
}

var (
	genNumbers = []string{"0", "-0", "7", "-123", "1.5", "-0.25", "0.0", "1e9", "1E-7", "2.5e+3", "-6.02E23", "0e0",
		"898001", "871310", "1898001", "898001.5", "3.898001", "-898001", "1e898001"}
	genStrParts = []string{"a", "hello world", "错误码", "😀", "é", `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`,
		`\u00e9`, `\ud83d\ude00`, `\u0000`, `\u001f`, "code=898001", "871310", "898001.5", "x898001", " ", "\x7f", "{", "}", "[", "]", ",", ":"}
	genKeys = []string{"level", "msg", "ts", "code", "错误", "", "a b", `q\"k`, "jmessagex", "jmessag", "error.code"}
)

func (g *jsonGen) str(parts int) {
	g.b = append(g.b, '"')
	for n := g.r.Intn(parts); n > 0; n-- {
		g.b = append(g.b, genStrParts[g.r.Intn(len(genStrParts))]...)
	}
	g.b = append(g.b, '"')
}

func (g *jsonGen) value(depth int) {
	k := g.r.Intn(10)
	if depth > 3 {
		k = g.r.Intn(6)
	}
	switch k {
	case 0, 1:
		g.b = append(g.b, genNumbers[g.r.Intn(len(genNumbers))]...)
	case 2, 3:
		g.str(6)
	case 4:
		g.b = append(g.b, []string{"true", "false", "null"}[g.r.Intn(3)]...)
	case 5:
		g.b = append(g.b, fmt.Sprint(g.r.Int63n(1<<62)-1<<61)...)
	case 6, 7:
		g.object(depth+1, nil)
	default:
		g.b = append(g.b, '[')
		g.ws()
		for i, n := 0, g.r.Intn(4); i < n; i++ {
			if i > 0 {
				g.b = append(g.b, ',')
				g.ws()
			}
			g.value(depth + 1)
			g.ws()
		}
		g.b = append(g.b, ']')
	}
}

// object writes an object whose members have the given keys first (raw
// JSON strings), then random ones.
func (g *jsonGen) object(depth int, keys []string) {
	g.b = append(g.b, '{')
	g.ws()
	n := len(keys) + g.r.Intn(5)
	for i := 0; i < n; i++ {
		if i > 0 {
			g.b = append(g.b, ',')
			g.ws()
		}
		if i < len(keys) {
			g.b = append(g.b, keys[i]...)
		} else if g.r.Intn(3) == 0 {
			g.str(3)
		} else {
			g.b = append(g.b, '"')
			g.b = append(g.b, genKeys[g.r.Intn(len(genKeys))]...)
			g.b = append(g.b, '"')
		}
		g.ws()
		g.b = append(g.b, ':')
		g.ws()
		g.value(depth)
		g.ws()
	}
	g.b = append(g.b, '}')
}

// line makes one object line: keys that may clash with the field, a code
// somewhere most of the time, white space around.
func (g *jsonGen) line() []byte {
	g.b = g.b[:0]
	g.ws()
	var keys []string
	clash := []string{`"jmessage"`, `"jmess\u0061ge"`, `"jmessage_annotator"`, `"jmessage\u005fannotator"`, `"code"`}
	for n := g.r.Intn(3); n > 0; n-- {
		if g.r.Intn(2) == 0 {
			keys = append(keys, clash[g.r.Intn(len(clash))])
		}
	}
	g.r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	if g.r.Intn(5) > 0 {
		keys = append(keys, `"code"`) // its value is random: a code or not
	}
	g.object(0, keys)
	g.ws()
	return g.b
}

// decode decodes one JSON value keeping numbers as written.
func decode(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// wantNotes is the field value the codes of line call for.
func wantNotes(a *Annotator, line []byte) []any {
	var notes []any
	for _, m := range a.m.Find(line, 0, len(line), nil) {
		n := a.Note(m.Key)
		notes = append(notes, map[string]any{"code": n.Code, "message": n.Message, "meaning": n.Meaning, "source": n.Source})
	}
	return notes
}

// checkMergedObject holds the promise for one object (a line without
// its terminator, or a record): out parses, equals in plus exactly the
// new field, and is in byte for byte with the field's bytes taken out.
func checkMergedObject(t *testing.T, a *Annotator, in, out []byte) {
	t.Helper()
	notes := wantNotes(a, in)
	if len(notes) == 0 {
		if !bytes.Equal(out, in) {
			t.Fatalf("no code, yet changed:\n in %q\nout %q", in, out)
		}
		return
	}
	inObj := decode(t, in).(map[string]any)
	name := ""
	for _, n := range []string{"jmessage", "jmessage_annotator"} {
		if _, ok := inObj[n]; !ok {
			name = n
			break
		}
	}
	if name == "" {
		var text []byte
		for _, m := range a.m.Find(in, 0, len(in), nil) {
			text = append(text, textOf(a, m.Key)...)
		}
		if want := append(append([]byte{}, in...), text...); !bytes.Equal(out, want) {
			t.Fatalf("both names taken: want the text note\n in %q\nout %q", in, out)
		}
		return
	}
	if !json.Valid(out) {
		t.Fatalf("output is not JSON:\n in %q\nout %q", in, out)
	}
	cut := bytes.LastIndexByte(in, '}')
	if len(out) < len(in) || !bytes.Equal(out[:cut], in[:cut]) || !bytes.Equal(out[len(out)-(len(in)-cut):], in[cut:]) {
		t.Fatalf("bytes around the field changed:\n in %q\nout %q", in, out)
	}
	ins := out[cut : len(out)-(len(in)-cut)]
	prefix := `,"` + name + `":`
	if len(inObj) == 0 {
		prefix = prefix[1:]
	}
	if !bytes.HasPrefix(ins, []byte(prefix)) {
		t.Fatalf("inserted %q, want it to start %q (in %q)", ins, prefix, in)
	}
	outObj := decode(t, out).(map[string]any)
	if got := outObj[name]; !reflect.DeepEqual(got, notes) {
		t.Fatalf("field %s = %v, want %v", name, got, notes)
	}
	delete(outObj, name)
	if !reflect.DeepEqual(outObj, inObj) {
		t.Fatalf("object changed:\n in %v\nout %v", inObj, outObj)
	}
}

// TestMergeJSONRoundTrip is the property test over generated objects, as
// whole lines, in pieces cut anywhere, and as records with line feeds.
func TestMergeJSONRoundTrip(t *testing.T) {
	a := builtin(t, Options{Format: Merge})
	r := rand.New(rand.NewSource(12))
	g := &jsonGen{r: r}
	var s Scratch
	coded, clashed := 0, 0
	for i := 0; i < 20000; i++ {
		g.lf = i%4 == 3
		body := g.line()
		if !json.Valid(body) {
			t.Fatalf("generator made invalid JSON: %q", body)
		}
		var st Stats
		if g.lf {
			out := a.AppendRecord(nil, body, nil, &s, &st)
			checkMergedObject(t, a, body, out)
			continue
		}
		term := []string{"\n", "\r\n", ""}[r.Intn(3)]
		if term == "\n" && body[len(body)-1] == '\r' {
			term = "\r\n" // else the body's CR would join the terminator
		}
		line := append(append([]byte{}, body...), term...)
		out := a.AppendLines(nil, line, nil, &s, &st)
		if !bytes.HasSuffix(out, []byte(term)) {
			t.Fatalf("terminator lost: %q", out)
		}
		checkMergedObject(t, a, body, out[:len(out)-len(term)])
		if st.Annotated > 0 {
			coded++
			if bytes.Contains(out, []byte(`"jmessage_annotator":[`)) {
				clashed++
			}
		}

		var l LongLine
		var pieces []byte
		var pst Stats
		for rest := line; len(rest) > 0; {
			n := 1 + r.Intn(len(rest))
			if r.Intn(3) == 0 {
				n = min(len(rest), 1+r.Intn(4))
			}
			pieces = a.AppendPiece(pieces, rest[:n], nil, n == len(rest), &l, &s, &pst)
			rest = rest[n:]
		}
		if !bytes.Equal(pieces, out) {
			t.Fatalf("pieces differ from whole line %q:\npieces %q\n whole %q", line, pieces, out)
		}
	}
	if coded < 5000 || clashed < 500 {
		t.Errorf("generator too tame: %d lines with a code, %d with the name taken", coded, clashed)
	}
}

type kv struct{ k, v string }

// logfmtPairs decodes one logfmt line with go-logfmt.
func logfmtPairs(t *testing.T, line []byte) []kv {
	t.Helper()
	d := logfmt.NewDecoder(bytes.NewReader(line))
	var pairs []kv
	for d.ScanRecord() {
		for d.ScanKeyval() {
			pairs = append(pairs, kv{string(d.Key()), string(d.Value())})
		}
	}
	if err := d.Err(); err != nil {
		t.Fatalf("logfmt decode %q: %v", line, err)
	}
	return pairs
}

func (g *jsonGen) logfmtLine() []byte {
	words := []string{"error", "2026-11-26T12:00:00.123Z", "898001", "code:898001", "/api/v1/users", "错误", "1.5", "-", "a.b", "\\", "x898001", "{}", "[1]"}
	quoted := []string{"send failed", `\"`, `\\`, `\n`, `\t`, `\u00e9`, "错误码 898001", "a=b", "k=v x", " ", `{\"a\":1}`, "871310"}
	keys := []string{"time", "level", "msg", "code", "err", "user.id", "错误", "jmessage", "jmessage_annotator", "jmessage2", "k"}
	seps := []string{" ", " ", "\t", "  "}
	b := g.b[:0]
	if g.r.Intn(4) == 0 {
		b = append(b, seps[g.r.Intn(len(seps))]...)
	}
	for i, n := 0, 1+g.r.Intn(6); i < n; i++ {
		if i > 0 {
			b = append(b, seps[g.r.Intn(len(seps))]...)
		}
		b = append(b, keys[g.r.Intn(len(keys))]...)
		b = append(b, '=')
		switch g.r.Intn(4) {
		case 0:
		case 1:
			b = append(b, '"')
			for m := g.r.Intn(4); m > 0; m-- {
				b = append(b, quoted[g.r.Intn(len(quoted))]...)
			}
			b = append(b, '"')
		default:
			for m := 1 + g.r.Intn(2); m > 0; m-- {
				b = append(b, words[g.r.Intn(len(words))]...)
			}
		}
	}
	if g.r.Intn(4) == 0 {
		b = append(b, seps[g.r.Intn(len(seps))]...)
	}
	g.b = b
	return b
}

// TestMergeLogfmtRoundTrip: go-logfmt reads a merged line back as the
// line's own pairs plus exactly the new one, whose value is the notes, and
// the line's bytes are all still there in front of it.
func TestMergeLogfmtRoundTrip(t *testing.T) {
	a := builtin(t, Options{Format: Merge})
	g := &jsonGen{r: rand.New(rand.NewSource(13))}
	var s Scratch
	coded, clashed := 0, 0
	for i := 0; i < 20000; i++ {
		in := g.logfmtLine()
		var st Stats
		out := a.AppendLines(nil, in, nil, &s, &st)
		ms := a.m.Find(in, 0, len(in), nil)
		if len(ms) == 0 {
			if !bytes.Equal(out, in) {
				t.Fatalf("no code, yet changed: %q → %q", in, out)
			}
			continue
		}
		coded++
		inPairs := logfmtPairs(t, in)
		taken := map[string]bool{}
		for _, p := range inPairs {
			taken[p.k] = true
		}
		var notes []string
		var text string
		for _, m := range ms {
			n := a.Note(m.Key)
			notes = append(notes, n.Code+" "+n.Message+" | "+n.Meaning)
			text += string(textOf(a, m.Key))
		}
		name := "jmessage"
		if taken[name] {
			clashed++
			name = "jmessage_annotator"
		}
		if taken[name] {
			if string(out) != string(in)+text {
				t.Fatalf("both names taken: want the text note: %q → %q", in, out)
			}
			continue
		}
		if !bytes.HasPrefix(out, in) || !bytes.HasPrefix(out[len(in):], []byte(" "+name+"=\"")) {
			t.Fatalf("line bytes changed: %q → %q", in, out)
		}
		want := append(inPairs, kv{name, strings.Join(notes, "; ")})
		if got := logfmtPairs(t, out); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q → %q\n got pairs %q\nwant %q", in, out, got, want)
		}
	}
	if coded < 5000 || clashed < 500 {
		t.Errorf("generator too tame: %d lines with a code, %d with the name taken", coded, clashed)
	}
}

// TestMergeLogfmtEscapes: a note with quotes, backslashes and line breaks
// still reads back exactly.
func TestMergeLogfmtEscapes(t *testing.T) {
	m, _ := matcher.New([]string{"E1"}, matcher.Auto)
	a, err := New(m, []Note{{Code: "E1", Message: "say \"hi\" \\ now\tplease\x01", Meaning: "two\nlines"}}, Options{Format: Merge})
	if err != nil {
		t.Fatal(err)
	}
	out := lines(t, a, "code=E1")
	got := logfmtPairs(t, []byte(out))
	want := []kv{{"code", "E1"}, {"jmessage", "E1 say \"hi\" \\ now\tplease\x01 | two\nlines"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q read back as %q", out, got)
	}
}

// FuzzMergeDetector: the JSON check never panics and agrees with
// encoding/json on what is one JSON object; a line classified as one
// comes out as valid JSON; a line cut into pieces comes out as it does
// whole. Run with: go test ./annotate -fuzz FuzzMergeDetector
func FuzzMergeDetector(f *testing.F) {
	for _, seed := range []string{
		`{"a":898001}`, `{}`, `{ }`, `{"a":`, `[898001]`, `{"a":[1,{"b":"\u00e9 898001"}]}  `,
		`{"jmessage":1,"c":898001}`, `{"jmess\u0061ge":1,"c":"898001"}`, "{\"a\":1}\r", `{"a":-0.5e+3}`,
		`{"a":01}`, `{"a":"\x"}`, `{"a":tru}`, `{"a":1}{}`, `a=1 code=898001`, `a="x\"y" code=898001`,
		"{\"a\":\"\x01\"}", `{"a":"\ud83d"}`, "{\"a\":1,\n\"b\":898001}",
	} {
		f.Add([]byte(seed), uint16(3))
	}
	a := builtin(f, Options{Format: Merge})
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		var j jsonObject
		j.reset()
		j.names = a.merge.names
		j.keyCap = a.merge.keyCap
		j.feed(in)
		trimmed := bytes.TrimLeft(in, " \t\r\n")
		want := json.Valid(in) && len(trimmed) > 0 && trimmed[0] == '{'
		if j.ok() != want {
			t.Fatalf("%q: classified as one object: %v, encoding/json: %v", in, j.ok(), want)
		}
		var s Scratch
		var st Stats
		out := a.AppendRecord(nil, in, nil, &s, &st)
		if j.ok() && free(j.taken) >= 0 && !json.Valid(out) {
			t.Fatalf("%q classified as an object, yet gave invalid JSON %q", in, out)
		}
		if bytes.IndexByte(in, '\n') >= 0 || len(in) == 0 {
			return
		}
		whole := a.AppendLines(nil, in, nil, &s, &st)
		if !bytes.Equal(whole, out) {
			t.Fatalf("%q: as a line %q, as a record %q", in, whole, out)
		}
		var l LongLine
		n := 1 + int(cut)%len(in)
		pieces := a.AppendPiece(nil, in[:n], nil, n == len(in), &l, &s, &st)
		if n < len(in) {
			pieces = a.AppendPiece(pieces, in[n:], nil, true, &l, &s, &st)
		}
		if !bytes.Equal(pieces, whole) {
			t.Fatalf("%q cut at %d: pieces %q, whole %q", in, n, pieces, whole)
		}
	})
}

// TestMergeDepthLimit: nesting is judged as encoding/json judges it, so
// an object too deep for Go's decoder gets the text note.
func TestMergeDepthLimit(t *testing.T) {
	a := builtin(t, Options{Format: Merge})
	for i, depth := range []int{maxDepth, maxDepth + 1} {
		in := []byte(`{"code":898001,"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "}")
		var s Scratch
		var st Stats
		out := a.AppendLines(nil, in, nil, &s, &st)
		if merged := bytes.Contains(out, []byte(`"jmessage":`)); merged != json.Valid(in) || merged != (i == 0) {
			t.Errorf("depth %d: merged %v, encoding/json valid %v", depth, merged, json.Valid(in))
		}
	}
}

func TestMergeNoAllocPerLine(t *testing.T) {
	block := []byte(strings.Repeat(`{"level":"info","ts":1732627200.5,"msg":"request","took":"8ms"}`+"\n", 100) +
		`{"level":"error","ts":1732627200.5,"msg":"send failed","code":898001}` + "\n" +
		`time=2026-11-26T12:00:00Z level=error msg="send failed" code=898001` + "\n")
	a := builtin(t, Options{Format: Merge})
	var s Scratch
	var st Stats
	dst := a.AppendLines(nil, block, nil, &s, &st)
	allocs := testing.AllocsPerRun(50, func() {
		dst = a.AppendLines(dst[:0], block, nil, &s, &st)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per block", allocs)
	}
}

// TestMergeTrailingSpaceLimit: the white space after an object's closing
// brace waits for the line's end, up to maxTail bytes; past that the line
// gets the text note, whether it came whole or in pieces.
func TestMergeTrailingSpaceLimit(t *testing.T) {
	a := builtin(t, Options{Format: Merge})
	for _, n := range []int{maxTail - 1, maxTail} { // the tail also holds the brace
		line := []byte(`{"code":898001}` + strings.Repeat(" ", n) + "\n")
		var s Scratch
		var st Stats
		whole := a.AppendLines(nil, line, nil, &s, &st)
		var l LongLine
		var pieces []byte
		for rest := line; len(rest) > 0; {
			k := min(len(rest), 4096)
			pieces = a.AppendPiece(pieces, rest[:k], nil, k == len(rest), &l, &s, &st)
			rest = rest[k:]
		}
		merged := bytes.HasPrefix(whole, []byte(`{"code":898001,"jmessage":`))
		if merged != (n < maxTail) || !bytes.Equal(pieces, whole) {
			t.Errorf("%d spaces: merged %v; pieces equal whole: %v", n, merged, bytes.Equal(pieces, whole))
		}
		if cap(l.merge.tail) > 2*maxTail+8192 {
			t.Errorf("%d spaces: the held-back tail grew to %d bytes", n, cap(l.merge.tail))
		}
	}
}
