package follow

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func testFollower(t *testing.T, path string) *follower {
	t.Helper()
	src, err := New(Options{Paths: []string{path}, NoWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	f := src.newFollower(path, true, false)
	f.log = slog.New(slog.DiscardHandler)
	return f
}

func lines(from, to int) []byte {
	var b bytes.Buffer
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "seq=%09d some text\n", i)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, path string, data []byte, mtime time.Time) *os.File {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// A copy whose file is not truncated yet holds the file's first lines:
// reading goes on after them, not from the start again.
func TestCopiedUpTo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	f := testFollower(t, path)
	gen := lines(1, 200)
	cp := writeFile(t, path+".1", gen, time.Time{})
	n := int64(len(gen))

	live := writeFile(t, path, append(append([]byte(nil), gen...), lines(201, 210)...), time.Time{})
	if got := f.copiedUpTo(live, nil, cp, n); got != n {
		t.Errorf("untruncated file: start at %d, want %d", got, n)
	}
	// Same first bytes, different end: not a copy of this file.
	other := append(append([]byte(nil), gen[:len(gen)-30]...), lines(900, 960)...)
	live2 := writeFile(t, filepath.Join(dir, "b.log"), other, time.Time{})
	if got := f.copiedUpTo(live2, nil, cp, n); got != 0 {
		t.Errorf("different file: start at %d, want 0", got)
	}
	// Truncated and written again since it was opened with the copy's
	// content: reading goes on at n, where the truncation is then seen.
	live3 := writeFile(t, filepath.Join(dir, "c.log"), lines(201, 300), time.Time{})
	if got := f.copiedUpTo(live3, gen[:fpMax], cp, n); got != n {
		t.Errorf("truncated file opened with the copy's content: start at %d, want %d", got, n)
	}
	// Opened with too few bytes to tell: from the start.
	if got := f.copiedUpTo(live3, gen[:10], cp, n); got != 0 {
		t.Errorf("short fingerprint: start at %d, want 0", got)
	}
}

// The copies of a truncated file stop where the file itself was renamed:
// later rotated files are rotations of its successors.
func TestNewerRotatedStopsAtTheLiveFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	f := testFollower(t, path)
	base := time.Now().Add(-time.Hour)
	old := writeFile(t, path+".4", lines(1, 10), base)
	writeFile(t, path+".3", lines(11, 20), base.Add(time.Minute))
	live := writeFile(t, path+".2", lines(21, 30), base.Add(2*time.Minute))
	writeFile(t, path+".1", lines(31, 40), base.Add(3*time.Minute))
	liveInfo, err := live.Stat()
	if err != nil {
		t.Fatal(err)
	}
	got := f.newerRotatedFiles(old, liveInfo)
	if len(got) != 1 || got[0].Name() != path+".3" {
		var names []string
		for _, g := range got {
			names = append(names, g.Name())
		}
		t.Errorf("copies %v, want only %s", names, path+".3")
	}
	for _, g := range got {
		g.Close()
	}
	all := f.newerRotatedFiles(old, nil)
	if len(all) != 3 || all[0].Name() != path+".3" || all[2].Name() != path+".1" {
		t.Errorf("after a restart every newer generation is read, oldest first; got %d", len(all))
	}
	for _, g := range all {
		g.Close()
	}
}
