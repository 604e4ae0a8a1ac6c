package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWritesCorpusAndTables(t *testing.T) {
	dir := t.TempDir()
	out, codes, notes := filepath.Join(dir, "c.log"), filepath.Join(dir, "codes.txt"), filepath.Join(dir, "notes.tsv")
	if err := run([]string{"-size", "64K", "-o", out, "-codes-file", codes, "-notes-file", notes}, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 64<<10 {
		t.Errorf("corpus is %d bytes, want %d", len(data), 64<<10)
	}
	var stdout bytes.Buffer
	if err := run([]string{"-size", "64K"}, &stdout); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), data) {
		t.Error("standard output and -o differ for the same knobs")
	}
	c, _ := os.ReadFile(codes)
	n, _ := os.ReadFile(notes)
	codeLines := strings.Split(strings.TrimSpace(string(c)), "\n")
	noteLines := strings.Split(strings.TrimSpace(string(n)), "\n")
	if len(codeLines) < 100 || len(codeLines) != len(noteLines) {
		t.Fatalf("%d codes, %d notes", len(codeLines), len(noteLines))
	}
	for i, l := range noteLines {
		f := strings.Split(l, "\t")
		if len(f) != 3 || f[0] != codeLines[i] {
			t.Fatalf("note line %d %q does not go with code %q", i, l, codeLines[i])
		}
	}
}

func TestRejectsBadSize(t *testing.T) {
	for _, s := range []string{"x", "-1", "1T"} {
		if err := run([]string{"-size", s}, &bytes.Buffer{}); err == nil {
			t.Errorf("size %q accepted", s)
		}
	}
}

// TestProfileAndKeyShape: -profile changes the text, a knob after it
// still applies, and -keys-list holds the catalog's keys one a line.
func TestProfileAndKeyShape(t *testing.T) {
	var def, real, realNoUnknown bytes.Buffer
	for _, c := range []struct {
		args []string
		out  *bytes.Buffer
	}{{[]string{"-size", "64K"}, &def}, {[]string{"-profile", "real", "-size", "64K"}, &real},
		{[]string{"-profile=real", "-size", "64K", "-unknown", "0"}, &realNoUnknown}} {
		if err := run(c.args, c.out); err != nil {
			t.Fatal(err)
		}
	}
	if bytes.Equal(def.Bytes(), real.Bytes()) || bytes.Equal(real.Bytes(), realNoUnknown.Bytes()) {
		t.Fatal("-profile or -unknown made no difference")
	}
	if err := run([]string{"-profile", "nope", "-size", "1K"}, &bytes.Buffer{}); err == nil {
		t.Error("an unknown profile was accepted")
	}
	dir := t.TempDir()
	tsv, list := filepath.Join(dir, "k.tsv"), filepath.Join(dir, "k.txt")
	if err := run([]string{"-size", "1K", "-o", os.DevNull, "-keys", "50", "-keys-shape", "prefix", "-keys-file", tsv, "-keys-list", list}, nil); err != nil {
		t.Fatal(err)
	}
	k, _ := os.ReadFile(list)
	c, _ := os.ReadFile(tsv)
	keys := strings.Split(strings.TrimSpace(string(k)), "\n")
	rows := strings.Split(strings.TrimSpace(string(c)), "\n")[1:]
	if len(keys) != 50 || len(rows) != 50 {
		t.Fatalf("%d keys listed, %d in the catalog, want 50", len(keys), len(rows))
	}
	for i, r := range rows {
		if !strings.HasPrefix(keys[i], "ERR_") || !strings.HasPrefix(r, keys[i]+"\t") {
			t.Fatalf("row %q does not go with key %q", r, keys[i])
		}
	}
}
