package follow

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// One follower at a time holds a file; a release lets another take it.
func TestRegistryClaimsAreExclusive(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "app.log"), lines(1, 10), time.Time{})
	fi, err := file.Stat()
	if err != nil {
		t.Fatal(err)
	}
	g := newRegistry()
	a, b := &follower{}, &follower{}
	if !g.claim(a, fi) || !g.claim(a, fi) {
		t.Fatal("the first follower cannot claim a free file (or again)")
	}
	if g.claim(b, fi) || !g.heldByOther(b, fi) {
		t.Fatal("a second follower claimed a file another holds")
	}
	g.keep(a, nil)
	if g.isHeld(fi) || !g.claim(b, fi) {
		t.Fatal("a released file cannot be claimed")
	}
}

// A file let go is known again by its inode, first bytes and the bytes
// before the offset; the same inode with other bytes is a reused one.
func TestRegistryKnownAndReused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	data := lines(1, 200)
	file := writeFile(t, path, data, time.Time{})
	fi, _ := file.Stat()
	g := newRegistry()
	off := int64(len(lines(1, 150))) // past the first kilobyte
	g.readTo(keyOf(fi), markOf(file, prefix(file, fpMax), off))
	if got, ok, reused := g.known(file, fi); !ok || reused || got != off {
		t.Fatalf("known = %d, %v, %v; want %d, true, false", got, ok, reused, off)
	}
	// Same inode, same first kilobyte, other bytes before the offset.
	other := append([]byte(nil), data...)
	copy(other[off-20:], "XXXXXXXXXXXXXXXXXXX\n")
	if err := os.WriteFile(path, other, 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ = file.Stat()
	if _, ok, reused := g.known(file, fi); ok || !reused {
		t.Fatalf("a file with other bytes before the offset was taken for the one read (ok %v, reused %v)", ok, reused)
	}
	// Marks older than markTTL are dropped at the next record.
	g.read[fileKey{1, 1}] = readMark{at: time.Now().Add(-markTTL - time.Minute)}
	g.swept = time.Now().Add(-markTTL)
	g.readTo(fileKey{1, 2}, readMark{})
	if _, ok := g.read[fileKey{1, 1}]; ok {
		t.Error("a mark older than markTTL was kept")
	}
	if _, ok := g.read[fileKey{1, 2}]; !ok {
		t.Error("a new mark was dropped")
	}
}

// A glob's name that a --rotated pattern of another matched name covers
// is that name's generation; names with glob characters are matched
// literally.
func TestGenerationOf(t *testing.T) {
	d := &discovery{s: &Source{opt: Options{Rotated: DefaultRotated}}}
	all := map[string]bool{"/l/app.log": true, "/l/app.log.1": true, "/l/app.log-20261204": true, "/l/app.log.2.gz": true,
		"/l/other.log": true, "/l/x[1].log": true, "/l/x[1].log.1": true, "/l/x1.log.1": true}
	for name, want := range map[string]string{
		"/l/app.log": "", "/l/app.log.1": "/l/app.log", "/l/app.log-20261204": "/l/app.log", "/l/app.log.2.gz": "/l/app.log",
		"/l/other.log": "", "/l/x[1].log.1": "/l/x[1].log", "/l/x1.log.1": "",
	} {
		if got := d.generationOf(name, all); got != want {
			t.Errorf("generationOf(%s) = %q, want %q", name, got, want)
		}
	}
}
