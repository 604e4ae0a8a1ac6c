package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var schema = []Key{
	{Name: "output.format", Kind: String, Flag: "format", Check: func(v string) error {
		if v != "text" && v != "json" {
			return errors.New("want text or json")
		}
		return nil
	}},
	{Name: "output.only_matching", Kind: Bool, Flag: "only-matching"},
	{Name: "pipeline.workers", Kind: Int, Flag: "workers"},
	{Name: "catalog.files", Kind: List, Flag: "catalog"},
	{Name: "catalog.prefer", Kind: CSV, Flag: "prefer"},
	{Name: "inputs.file[].path", Kind: String, Flag: "path"},
	{Name: "drain_timeout", Kind: Duration, Flag: "drain-timeout"},
}

func TestParseValid(t *testing.T) {
	doc := `# comment
drain_timeout = "3s"

[output]
format = "json"
only_matching = true

[pipeline]
workers = 0x10

[catalog]
files = ["a.tsv", 'b.toml']
prefer = ["im/im", "sdk/server"]

[[inputs.file]]
path = "/var/log/a.log"

[[inputs.file]]
path = "/var/log/b.log"
`
	got, err := Parse("x.toml", []byte(doc), schema)
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{
		{Key: "drain_timeout", Flag: "drain-timeout", Values: []string{"3s"}, Line: 2},
		{Key: "output.format", Flag: "format", Values: []string{"json"}, Line: 5},
		{Key: "output.only_matching", Flag: "only-matching", Values: []string{"true"}, Line: 6},
		{Key: "pipeline.workers", Flag: "workers", Values: []string{"16"}, Line: 9},
		{Key: "catalog.files", Flag: "catalog", Values: []string{"a.tsv", "b.toml"}, Line: 12},
		{Key: "catalog.prefer", Flag: "prefer", Values: []string{"im/im,sdk/server"}, Line: 13},
		{Key: "inputs.file[].path", Flag: "path", Values: []string{"/var/log/a.log"}, Line: 16},
		{Key: "inputs.file[].path", Flag: "path", Values: []string{"/var/log/b.log"}, Line: 19},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestDottedKeys(t *testing.T) {
	got, err := Parse("x.toml", []byte("output.format = \"text\"\n[pipeline]\nworkers = 1_000\n"), schema)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "output.format" || got[1].Values[0] != "1000" {
		t.Fatalf("got %+v", got)
	}
}

// Every problem names the file, the line and the key.
func TestErrors(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"[inputs]\n[[inputs.file]]\npth = \"/x\"\n", `x.toml:3: unknown key "inputs.file.pth"`},
		{"\n\n[output]\nformat = 5\n", `x.toml:4: key "output.format": want a string, got an integer`},
		{"[output]\nformat = \"xml\"\n", `x.toml:2: key "output.format": bad value "xml": want text or json`},
		{"[pipeline]\nworkers = \"4\"\n", `x.toml:2: key "pipeline.workers": want an integer, got a string`},
		{"[output]\nonly_matching = \"yes\"\n", `x.toml:2: key "output.only_matching": want a boolean, got a string`},
		{"[catalog]\nfiles = \"a.tsv\"\n", `x.toml:2: key "catalog.files": want an array of strings, got a string`},
		{"[catalog]\nfiles = [\"a\", 1]\n", `x.toml:2: key "catalog.files": want an array of strings, got an element that is an integer`},
		{"drain_timeout = \"3 parsecs\"\n", `x.toml:1: key "drain_timeout": bad duration "3 parsecs"`},
		{"[outptu]\n", `x.toml:1: unknown table "outptu"`},
		{"[inputs.file]\n", `x.toml:1: "inputs.file" is an array of tables: write [[inputs.file]]`},
		{"[[output]]\n", `x.toml:1: "output" is a table: write [output]`},
		{"[output]\nformat = \"text\"\nformat = \"json\"\n", `x.toml:3: key "output.format" is set twice (first at line 2)`},
		{"[output]\n[output]\n", `x.toml:2: table "output" is defined twice (first at line 1)`},
		{"[output]\nformat = \n", `x.toml:2: syntax error: `},
	}
	for _, c := range cases {
		_, err := Parse("x.toml", []byte(c.doc), schema)
		if err == nil {
			t.Errorf("%q: no error, want %s", c.doc, c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q:\n got  %s\n want %s", c.doc, err, c.want)
		}
		var es Errors
		if !errors.As(err, &es) || es[0].Line == 0 {
			t.Errorf("%q: error %#v carries no line", c.doc, err)
		}
	}
}

// Two array elements may each set their own path; the same element may not
// set it twice.
func TestArrayOfTablesDuplicates(t *testing.T) {
	_, err := Parse("x.toml", []byte("[[inputs.file]]\npath = \"a\"\npath = \"b\"\n"), schema)
	if err == nil || !strings.Contains(err.Error(), `x.toml:3: key "inputs.file.path" is set twice`) {
		t.Fatalf("got %v", err)
	}
}

func TestAllErrorsListed(t *testing.T) {
	_, err := Parse("x.toml", []byte("a = 1\nb = 2\n"), schema)
	want := "x.toml:1: unknown key \"a\"\nx.toml:2: unknown key \"b\""
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte("[output]\nformat = \"json\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p, schema)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml"), schema); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Fatalf("missing file: got %v", err)
	}
}

// A size is an integer or a string with a unit; other types are refused.
func TestSizeKind(t *testing.T) {
	sizes := []Key{{Name: "pipeline.buffer_size", Kind: Size, Flag: "buffer-size"}}
	for doc, want := range map[string]string{
		"[pipeline]\nbuffer_size = 1_024\n":      "1024",
		"[pipeline]\nbuffer_size = \"256KiB\"\n": "256KiB",
	} {
		got, err := Parse("c.toml", []byte(doc), sizes)
		if err != nil || len(got) != 1 || got[0].Values[0] != want {
			t.Errorf("%q: %v, %v", doc, got, err)
		}
	}
	_, err := Parse("c.toml", []byte("[pipeline]\nbuffer_size = true\n"), sizes)
	if err == nil || !strings.Contains(err.Error(), `c.toml:2: key "pipeline.buffer_size": want an integer or a size string`) {
		t.Errorf("a boolean size: %v", err)
	}
}

// A mistyped table is one error, with the table it most likely meant,
// not one more for each of its keys.
func TestUnknownTableOneError(t *testing.T) {
	_, err := Parse("x.toml", []byte("[outptu]\nformat = \"json\"\nonly_matching = true\n[output]\nformat = \"text\"\n"), schema)
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || !strings.Contains(es[0].Error(), `x.toml:1: unknown table "outptu"; did you mean "output"?`) {
		t.Errorf("got %v, want one error for the table", err)
	}
}

// A key set in the wrong table is pointed at the table that has it.
func TestKeyInWrongTable(t *testing.T) {
	_, err := Parse("x.toml", []byte("only_matching = true\n"), schema)
	if err == nil || !strings.Contains(err.Error(), `x.toml:1: unknown key "only_matching"; did you mean "output.only_matching"?`) {
		t.Errorf("got %v", err)
	}
}
