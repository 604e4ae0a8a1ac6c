package catalog_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type want struct{ code, message, meaning string }

func check(t *testing.T, c *catalog.Catalog, path string, ws []want) {
	t.Helper()
	es := c.Entries()
	if len(es) != len(ws) {
		t.Fatalf("%d entries, want %d: %+v", len(es), len(ws), es)
	}
	for _, w := range ws {
		e, ok := c.Lookup(w.code)
		if !ok {
			t.Fatalf("code %q missing", w.code)
		}
		v := e.Variants[0]
		if len(e.Variants) != 1 || v.Message != w.message || v.Meaning != w.meaning {
			t.Errorf("code %q: got %+v, want %+v", w.code, e.Variants, w)
		}
		if len(v.Sources) != 1 || v.Sources[0] != catalog.SourceID(path) {
			t.Errorf("code %q cites %v", w.code, v.Sources)
		}
	}
}

var threeCodes = []want{
	{"ECONNRESET", "Connection reset by peer", "对端重置了连接"},
	{"E11000", "duplicate key error", ""},
	{"898001", "User exists, really", "用户已存在（自定义）"},
}

func TestLoadTSV(t *testing.T) {
	p := write(t, "codes.tsv", "code\tmessage\tmeaning\n# network\nECONNRESET\tConnection reset by peer\t对端重置了连接\r\n\n"+
		"E11000\t duplicate key error \n898001\tUser exists, really\t用户已存在（自定义）\n")
	c, err := catalog.LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	check(t, c, p, threeCodes)
}

func TestLoadCSV(t *testing.T) {
	p := write(t, "codes.csv", "Code,Message,Meaning\n# network\nECONNRESET,Connection reset by peer,对端重置了连接\n"+
		"E11000,duplicate key error\n898001,\"User exists, really\",用户已存在（自定义）\n")
	c, err := catalog.LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	check(t, c, p, threeCodes)
}

func TestLoadTOML(t *testing.T) {
	p := write(t, "codes.toml", `# custom codes
[codes.ECONNRESET]
message = "Connection reset by peer"
meaning = "对端重置了连接"

[codes."E11000"]
message = "duplicate key error"

[codes.898001]
message = "User exists, really"
meaning = "用户已存在（自定义）"
`)
	c, err := catalog.LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	check(t, c, p, threeCodes)
}

// Each malformed file is rejected with its line.
// TestLoadTSVLines: a last line without a newline counts, a wide header
// is skipped, and the codes come out sorted whatever the file's order,
// the same through LoadFile and ParseTSV.
func TestLoadTSVLines(t *testing.T) {
	content := "code\tmessage\tmeaning\tnotes\nECONNRESET\tConnection reset by peer\t对端重置了连接\n898001\tUser exists, really\t用户已存在（自定义）\r\nE11000\tduplicate key error"
	p := write(t, "codes.tsv", content)
	c, err := catalog.LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	check(t, c, p, threeCodes)
	var codes []string
	for _, e := range c.Entries() {
		codes = append(codes, e.Code)
	}
	if want := []string{"898001", "E11000", "ECONNRESET"}; !reflect.DeepEqual(codes, want) {
		t.Errorf("codes %q, want %q", codes, want)
	}
	r, err := catalog.ParseTSV(p, strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	check(t, r, p, threeCodes)
}

func TestLoadErrors(t *testing.T) {
	cases := []struct{ name, content, want string }{
		{"a.tsv", "E1\tx\n\tno code\n", "a.tsv:2: empty code"},
		{"a.tsv", "E1\tx\nE2\n", "a.tsv:2: 1 column, want code, message and an optional meaning"},
		{"a.tsv", "E1\tx\ty\tz\n", "a.tsv:1: 4 columns"},
		{"a.tsv", "E1\tx\n# c\nE1\ty\n", `a.tsv:3: code "E1" is already defined at line 1`},
		{"a.tsv", "E1\t\t\n", `a.tsv:1: code "E1" has neither a message nor a meaning`},
		{"a.csv", "E1,x\nE2,\"unterminated\n", "a.csv:2: "},
		{"a.csv", "E1,x\n\nE1,y\n", `a.csv:3: code "E1" is already defined at line 1`},
		{"a.toml", "[codes.E1]\nmesage = \"x\"\n", `a.toml:2: unknown key "mesage" in [codes."E1"]`},
		{"a.toml", "message = \"x\"\n", `a.toml:1: key "message" outside a [codes."CODE"] table`},
		{"a.toml", "[errors.E1]\nmessage = \"x\"\n", "a.toml:1: unexpected table [errors.E1]"},
		{"a.toml", "[codes.E1]\nmessage = 5\n", `a.toml:2: key "message" in [codes."E1"]: want a string`},
		{"a.toml", "[codes.E1]\nmessage = \"x\n", "a.toml:2: syntax error"},
		{"a.toml", "[codes.E1]\nmessage = \"x\"\n[codes.E1]\nmessage = \"y\"\n", `a.toml:3: code "E1" is already defined at line 1`},
		{"a.json", "{}", `unknown format ".json"`},
		// The TSV reader cuts its lines out of the file whole; a line
		// too long for the scanner it replaced still stops the load.
		{"a.tsv", "E1\tx\nE2\t" + strings.Repeat("y", 1<<20) + "\n", "a.tsv:2: bufio.Scanner: token too long"},
	}
	for _, c := range cases {
		_, err := catalog.LoadFile(write(t, c.name, c.content))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: got %v, want %q", c.name, c.content, err, c.want)
		}
	}
	if _, err := catalog.LoadFile(filepath.Join(t.TempDir(), "none.tsv")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestCombine(t *testing.T) {
	b, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	p1 := write(t, "one.tsv", "898001\tfirst\nECONNRESET\treset\n")
	p2 := write(t, "two.tsv", "898001\tsecond\n")
	c1, err := catalog.LoadFile(p1)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := catalog.LoadFile(p2)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := catalog.Combine(b, []*catalog.Catalog{c1, c2}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(merged.Entries()); got != len(b.Entries())+1 {
		t.Errorf("merged: %d entries, want %d", got, len(b.Entries())+1)
	}
	if e, _ := merged.Lookup("898001"); e.Variants[0].Message != "second" || len(e.Variants) != 1 {
		t.Errorf("later file must win: %+v", e)
	}
	if _, ok := merged.Lookup("898002"); !ok {
		t.Error("built-in code lost in merge")
	}
	replaced, err := catalog.Combine(b, []*catalog.Catalog{c1, c2}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(replaced.Entries()); got != 2 {
		t.Errorf("replace: %d entries, want 2", got)
	}
	if _, ok := replaced.Lookup("898002"); ok {
		t.Error("replace kept a built-in code")
	}
	// The merged catalog's preference order still works.
	if _, err := merged.Choose(catalog.DefaultPreference()); err != nil {
		t.Fatal(err)
	}
}

// Custom keys of any shape are found end to end under the boundary rule: a
// key is not touched by an ASCII letter, digit or underscore on a side where
// the key's own edge is one; a key edged with punctuation may touch anything
// on that side.
func TestCustomKeysEndToEnd(t *testing.T) {
	p := write(t, "k.tsv", "ECONNRESET\treset\nERR_4031\tquota\nE11000\tdup\n[E42]\tbracketed\n898001\tmine\n")
	c, err := catalog.LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	merged, err := catalog.Combine(b, []*catalog.Catalog{c}, false)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		line  string
		codes []string
	}{
		{"read: ECONNRESET", []string{"ECONNRESET"}},
		{"errno=ECONNRESET,", []string{"ECONNRESET"}},
		{"ECONNRESETX", nil},
		{"XECONNRESET", nil},
		{"_ECONNRESET", nil},
		{"错误ECONNRESET。", []string{"ECONNRESET"}},
		{"got ERR_4031 twice ERR_4031", []string{"ERR_4031"}},
		{"ERR_40312", nil},
		{"E11000 duplicate; 898002 too", []string{"E11000", "898002"}},
		{"E110001", nil},
		{"x[E42]y", []string{"[E42]"}},
		{"code 898001 here", []string{"898001"}},
		{"1898001", nil},
	}
	for _, engine := range []matcher.Engine{matcher.Auto, matcher.AhoCorasick} {
		a, err := annotate.FromCatalog(merged, nil, engine, annotate.Options{Format: annotate.Text})
		if err != nil {
			t.Fatal(err)
		}
		var s annotate.Scratch
		var st annotate.Stats
		for _, cs := range cases {
			a.AppendRecord(nil, []byte(cs.line), nil, &s, &st)
			var got []string
			for _, m := range s.Matches() {
				got = append(got, a.Note(m.Key).Code)
			}
			if strings.Join(got, " ") != strings.Join(cs.codes, " ") {
				t.Errorf("%s: %q: got %v, want %v", engine, cs.line, got, cs.codes)
			}
		}
		out := a.AppendRecord(nil, []byte("code 898001 here"), nil, &s, &st)
		if want := "code 898001 here [898001 mine]"; string(out) != want {
			t.Errorf("override: got %q, want %q", out, want)
		}
	}
}

// TestCombineReplaceOneFile: with the built-in catalog left out, one
// custom catalog is the result, entries and sources alike, and a second
// one still overrides it code by code.
func TestCombineReplaceOneFile(t *testing.T) {
	a, err := catalog.ParseTSV("a.tsv", strings.NewReader("E1\tone\nE2\ttwo\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := catalog.ParseTSV("b.tsv", strings.NewReader("E2\tzwei\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Combine(nil, []*catalog.Catalog{a}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Entries(), a.Entries()) || !reflect.DeepEqual(c.Sources(), a.Sources()) {
		t.Errorf("combined %v %v, want the file's %v %v", c.Entries(), c.Sources(), a.Entries(), a.Sources())
	}
	c, err = catalog.Combine(nil, []*catalog.Catalog{a, b}, true)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := c.Lookup("E2"); !ok || e.Variants[0].Message != "zwei" || len(c.Sources()) != 2 {
		t.Errorf("E2 = %+v, sources %v: the second file must override the first", e, c.Sources())
	}
	if _, err := catalog.Combine(nil, []*catalog.Catalog{nil}, true); err == nil {
		t.Error("a nil catalog was combined")
	}
}
