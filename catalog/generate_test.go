package catalog_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/annotator-dev/annotator/catalog/internal/parse"
)

// TestGeneratedUpToDate guards against editing a source document (or the
// generator) without regenerating the embedded catalog.
func TestGeneratedUpToDate(t *testing.T) {
	want, err := parse.Generate(os.DirFS("sources"))
	if err != nil {
		t.Fatalf("generating from sources: %v", err)
	}
	got, err := os.ReadFile("jmessage.json")
	if err != nil {
		t.Fatalf("reading committed catalog: %v; run go generate ./catalog", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("jmessage.json is out of date with catalog/sources (%s); run go generate ./catalog", firstDiff(got, want))
	}

	// The sources must be exact copies of the published documents. The
	// originals are only present next to the repository in the workspace
	// they were imported from, so elsewhere there is nothing to compare.
	root := repoRoot(t)
	seeds := filepath.Join(root, "..", "shared", "seeds")
	if st, err := os.Stat(seeds); err != nil || !st.IsDir() {
		t.Logf("%s not present; comparison of catalog/sources with the original documents is not applicable", seeds)
		return
	}
	for copyName, seedName := range map[string]string{
		"jmessage-sdk-errors.md": "000_1599e5c4793cf27d.txt",
		"im-errors.md":           "002_207ab5be752945e4.txt",
	} {
		seed, err := os.ReadFile(filepath.Join(seeds, seedName))
		if err != nil {
			t.Errorf("reading original document: %v", err)
			continue
		}
		cp, err := os.ReadFile(filepath.Join("sources", copyName))
		if err != nil {
			t.Errorf("reading copy: %v", err)
			continue
		}
		if !bytes.Equal(seed, cp) {
			t.Errorf("catalog/sources/%s differs from %s (%s)", copyName, seedName, firstDiff(cp, seed))
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, err := parse.Generate(os.DirFS("sources"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		b, err := parse.Generate(os.DirFS("sources"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("two generations differ (%s)", firstDiff(a, b))
		}
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod found above the test directory")
		}
		dir = parent
	}
}

func firstDiff(a, b []byte) string {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	line := bytes.Count(a[:i], []byte("\n")) + 1
	return fmt.Sprintf("first difference at byte %d, line %d", i, line)
}

const header = `#### Server Error

<table>
<tr><th>Code</th><th>Error Message</th><th>说明</th></tr>
<tr><td>898000</td><td>Server internal error</td><td>内部错误</td></tr>
`

var oneTable = []parse.Table{{Heading: "Server Error", ID: "sdk/server", Name: "Server"}}

func TestParseErrorNamesDocumentAndRow(t *testing.T) {
	cases := []struct {
		name  string
		doc   string
		wants []string // substrings the error must contain
	}{
		{
			name:  "two cells",
			doc:   header + "<tr><td>898001</td><td>User exists</td></tr>\n</table>\n",
			wants: []string{"broken.md", `table "Server Error"`, "row 2", "line 6", "2 cells", "898001"},
		},
		{
			name:  "bad code",
			doc:   header + "<tr><td>89800x</td><td>User exists</td><td>用户已存在</td></tr>\n</table>\n",
			wants: []string{"broken.md", "row 2", "line 6", `"89800x"`},
		},
		{
			name:  "unclosed cell",
			doc:   header + "<tr><td>898001<td>User exists</td><td>用户已存在</td></tr>\n</table>\n",
			wants: []string{"broken.md", "row 2", "line 6", "not closed"},
		},
		{
			name:  "unclosed row",
			doc:   header + "<tr><td>898001</td><td>User exists</td><td>用户已存在</td>\n<tr><td>898002</td><td>No sush user</td><td>用户不存在</td></tr>\n</table>\n",
			wants: []string{"broken.md", "row 2", "line 6", "</tr>"},
		},
		{
			name:  "stray text between rows",
			doc:   header + "oops\n</table>\n",
			wants: []string{"broken.md", "line 6", "oops"},
		},
		{
			name:  "code 0 that is not success",
			doc:   header + "<tr><td>0</td><td>Failure</td><td>失败</td></tr>\n</table>\n",
			wants: []string{"broken.md", "row 2", "Failure"},
		},
		{
			name:  "reordered columns",
			doc:   "#### Server Error\n\n<table>\n<tr><th>Error Message</th><th>Code</th><th>说明</th></tr>\n</table>\n",
			wants: []string{"broken.md", "line 4", "header"},
		},
		{
			name:  "unexpected heading",
			doc:   strings.Replace(header, "Server Error", "Client Error", 1) + "</table>\n",
			wants: []string{"broken.md", `"Client Error"`, `"Server Error"`},
		},
		{
			name:  "missing table",
			doc:   "#### Server Error\n\nno table here\n",
			wants: []string{"broken.md", "found 0 table(s), expected 1"},
		},
		{
			name:  "document ends in table",
			doc:   header,
			wants: []string{"broken.md", "ends inside the table"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse.ParseDocument("broken.md", []byte(tc.doc), oneTable)
			if err == nil {
				t.Fatal("malformed document parsed without error")
			}
			var re *parse.RowError
			if !errors.As(err, &re) {
				t.Errorf("error %T is not a *parse.RowError", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// The generator must stop on a bad row in any document and say which one.
func TestBuildReportsDocument(t *testing.T) {
	fsys := fstest.MapFS{
		"good.md": {Data: []byte(header + "</table>\n")},
		"bad.md":  {Data: []byte(header + "<tr><td>898001</td><td>a</td><td>b</td><td>c</td></tr>\n</table>\n")},
	}
	docs := []parse.Document{
		{Path: "good.md", Tables: oneTable},
		{Path: "bad.md", Tables: []parse.Table{{Heading: "Server Error", ID: "other", Name: "Other"}}},
	}
	_, err := parse.Build(fsys, docs)
	if err == nil {
		t.Fatal("Build accepted a row with four cells")
	}
	for _, w := range []string{"bad.md", "row 2", "line 6", "4 cells"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestParseCleansCells(t *testing.T) {
	doc := header + "<tr><td> 898004 </td><td>Password error</a></td><td>  A &amp; B&#x3002;\t</td></tr>\n</table>\n"
	rows, err := parse.ParseDocument("ok.md", []byte(doc), oneTable)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(rows))
	}
	got := rows[1]
	want := parse.Row{Document: "ok.md", Source: "sdk/server", Index: 2, Line: 6, Code: "898004", Message: "Password error", Meaning: "A & B。"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
