package metrics

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/matcher"
)

// unlabel reverses labelText, written from its description: \\ is a
// backslash, \xHH with HH in 80..ff is that byte, anything else is itself.
func unlabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if s[i+1] == '\\' {
				b.WriteByte('\\')
				i++
				continue
			}
			if i+3 < len(s) && s[i+1] == 'x' && strings.IndexByte("89abcdef", s[i+2]) >= 0 && strings.IndexByte("0123456789abcdef", s[i+3]) >= 0 {
				hi := strings.IndexByte("0123456789abcdef", s[i+2])
				lo := strings.IndexByte("0123456789abcdef", s[i+3])
				b.WriteByte(byte(hi<<4 | lo))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var labelSeeds = []string{
	"", "/var/log/app.log", "a\xffb", `a\xffb`, `a\\xffb`, "a\\\xff", `\`, `\\`, `\\\`,
	`foo\x2dbar.log`, `\x8`, "\\x8\xff", `\xFF`, "\xc3", "\xc3\xa9", "é\\", `x\xe9`, "\xed\xa0\x80",
	"\ufffd", `"quoted"` + "\n",
}

func TestLabelText(t *testing.T) {
	for in, want := range map[string]string{
		"/var/log/app.log":   "/var/log/app.log",
		"/var/log/a\xff.log": `/var/log/a\xff.log`,
		`/var/log/a\xff.log`: `/var/log/a\\xff.log`, // the text, not the byte
		`foo\x2dbar.log`:     `foo\x2dbar.log`,      // an ASCII byte is never escaped: left alone
		"C:\\logs":           "C:\\logs",
		"\xc3(":              `\xc3(`, // a truncated character
		"a\\\xff":            `a\\\xff`,
		`a\\b`:               `a\\\b`,
	} {
		if got := labelText(in); got != want {
			t.Errorf("labelText(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every value comes out valid UTF-8 and can be read back exactly, so two
// names never share a label.
func FuzzLabelText(f *testing.F) {
	for _, s := range labelSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := labelText(s)
		if !utf8.ValidString(l) {
			t.Fatalf("labelText(%q) = %q: not UTF-8", s, l)
		}
		if back := unlabel(l); back != s {
			t.Fatalf("labelText(%q) = %q, read back as %q", s, l, back)
		}
	})
}

// Hostile values in every label (source, path, code, kind, topic) still
// make a page that is valid UTF-8 and parses, and names differing only in
// a byte against its escape text stay two series.
func TestExpositionValidUTF8(t *testing.T) {
	r := New()
	byteName, textName := "/var/log/a\xff.log", `/var/log/a\xff.log`
	key := "E\xfe42"
	m, err := matcher.NewWithUnknown([]string{key}, matcher.Auto)
	if err != nil {
		t.Fatal(err)
	}
	a, err := annotate.New(m, []annotate.Note{{Code: key, Message: "m"}}, annotate.Options{Count: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{byteName, textName} {
		data := strings.Repeat("x "+key+"\n", i+1)
		r.Delivered("stdin", annotated(a, name, data))
		r.FileProgress(name, int64(i+10), 100)
		r.Checkpointed(name, time.Now())
	}
	r.Error("read \x80")
	r.PartitionLag("topic\xc3", 1, 5)

	var sb strings.Builder
	r.WritePrometheus(&sb)
	page := sb.String()
	if !utf8.ValidString(page) {
		t.Fatalf("page is not valid UTF-8")
	}
	ss := parseText(t, page)
	label := func(v string) string {
		l := labelText(v)
		if unlabel(l) != v {
			t.Fatalf("%q does not read back", v)
		}
		return l
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"annotator_lines_read_total", []string{"source", `/var/log/a\xff.log`}, 1},
		{"annotator_lines_read_total", []string{"source", `/var/log/a\\xff.log`}, 2},
		{"annotator_file_offset_bytes", []string{"path", label(byteName)}, 10},
		{"annotator_file_offset_bytes", []string{"path", label(textName)}, 11},
		{"annotator_annotations_total", []string{"code", `E\xfe42`}, 3},
		{"annotator_errors_total", []string{"kind", `read \x80`}, 1},
		{"annotator_kafka_lag_messages", []string{"topic", `topic\xc3`, "partition", "1"}, 5},
	} {
		if got := find(t, ss, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	ages := 0
	for _, s := range ss {
		if s.name == "annotator_checkpoint_age_seconds" {
			ages++
		}
	}
	if ages != 2 {
		t.Errorf("%d checkpoint age series, want 2 (one per name)", ages)
	}
}

// Every string of up to five pieces drawn from the bytes that matter to
// the escaping reads back exactly: the fuzz target's property, checked
// exhaustively where the cases are dense.
func TestLabelTextShortStrings(t *testing.T) {
	pieces := []string{`\`, "x", "8", "f", "2", "\xff", "\xc3", "\xa9"}
	var walk func(s string, depth int)
	walk = func(s string, depth int) {
		l := labelText(s)
		if !utf8.ValidString(l) || unlabel(l) != s {
			t.Fatalf("labelText(%q) = %q, read back as %q", s, l, unlabel(l))
		}
		if depth == 5 {
			return
		}
		for _, p := range pieces {
			walk(s+p, depth+1)
		}
	}
	walk("", 0)
}
