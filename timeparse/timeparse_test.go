package timeparse

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGolden reads testdata/STYLE.golden: each line is the time expected
// (RFC 3339 in UTC, "-" for none), a tab, and the log line.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.golden")
	if err != nil || len(files) < 6 {
		t.Fatalf("golden files: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			sc := bufio.NewScanner(fh)
			n := 0
			for sc.Scan() {
				if sc.Text() == "" || strings.HasPrefix(sc.Text(), "#") {
					continue
				}
				want, line, ok := strings.Cut(sc.Text(), "\t")
				if !ok {
					t.Fatalf("%s: no tab in %q", f, sc.Text())
				}
				n++
				got, _, ok := Parse([]byte(line), nil, 2026)
				switch {
				case want == "-" && ok:
					t.Errorf("%q: got %s, want no time", line, got.Format(time.RFC3339Nano))
				case want != "-" && !ok:
					t.Errorf("%q: no time, want %s", line, want)
				case want != "-" && got.UTC().Format(time.RFC3339Nano) != want:
					t.Errorf("%q: got %s, want %s", line, got.UTC().Format(time.RFC3339Nano), want)
				}
			}
			if n == 0 {
				t.Fatalf("%s holds no case", f)
			}
		})
	}
}

// A time without a zone is in the zone given; one with a zone keeps it.
func TestZoneless(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	for line, want := range map[string]string{
		"2026-12-04 10:20:00,456 ERROR code=871310":       "2026-12-04T02:20:00.456Z",
		"2026/12/04 10:20:00 code=871310":                 "2026-12-04T02:20:00Z",
		"Dec  4 10:20:00 host app: code=871310":           "2026-12-04T02:20:00Z",
		"2026-12-04T10:20:00Z code=871310":                "2026-12-04T10:20:00Z",
		"[04/Dec/2026:10:20:00 +0000] code=871310":        "2026-12-04T10:20:00Z",
		`{"ts":1796379600,"msg":"code 871310"}`:           "2026-12-04T10:20:00Z",
		`{"time":"2026-12-04 10:20:00","msg":"c 871310"}`: "2026-12-04T02:20:00Z",
	} {
		got, _, ok := Parse([]byte(line), shanghai, 2026)
		if !ok || got.UTC().Format(time.RFC3339Nano) != want {
			t.Errorf("%q in UTC+8: got %v %v, want %s", line, got.UTC(), ok, want)
		}
	}
}

// The style is reported, so that the caller knows when the year it gave
// was used.
func TestStyle(t *testing.T) {
	for line, want := range map[string]Style{
		"2026-12-04T10:20:00Z x":         ISO,
		"2026/12/04 10:20:00 x":          Go,
		"[04/Dec/2026:10:20:00 +0000] x": CLF,
		"Dec  4 10:20:00 x":              Syslog,
		`{"ts":1796379600}`:              JSON,
		"level=info ts=1796379600":       Logfmt,
		"no time":                        None,
	} {
		if _, got, _ := Parse([]byte(line), nil, 2026); got != want {
			t.Errorf("%q: style %d, want %d", line, got, want)
		}
	}
}

// Only the start of a line is searched for a plain timestamp: a date in
// the message, far into the line, is not the line's time.
func TestOnlyNearStart(t *testing.T) {
	line := strings.Repeat("word ", NearStart/5+1) + "2026-12-04T10:20:00Z code=871310"
	if got, _, ok := Parse([]byte(line), nil, 2026); ok {
		t.Errorf("a date %d bytes in: got %v", NearStart, got)
	}
}
