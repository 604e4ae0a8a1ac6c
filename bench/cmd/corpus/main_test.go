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
