package checkpoint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripAndAtomicReplace(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{Path: "/var/log/app.log", File: Identity{Dev: 1, Ino: 42, FPLen: 3, FPHash: Fingerprint([]byte("abc"))}, Offset: 1234}
	if err := s.Set(e); err != nil {
		t.Fatal(err)
	}
	e.Offset = 2000
	if err := s.Set(e); err != nil {
		t.Fatal(err)
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 2 || names[0].Name() != FileName || names[1].Name() != LockName {
		t.Errorf("state directory holds %v, want only %s and %s (no temporary files left)", names, FileName, LockName)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s2.Get(e.Path)
	if !ok || got != e {
		t.Errorf("read back %+v, %v; want %+v", got, ok, e)
	}
	if err := s2.Delete(e.Path); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3, _ := Open(dir)
	if _, ok := s3.Get(e.Path); ok {
		t.Error("deleted entry came back")
	}
}

func TestCorruptFileReportedAndKept(t *testing.T) {
	for _, body := range []string{`{"version":1,"files":[{"pa`, `{"version":9,"files":[]}`, `{"version":1,"files":[{"path":"x","offset":-1}]}`, "\x00\x00"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir)
		var ce *CorruptError
		if !errors.As(err, &ce) || s == nil {
			t.Fatalf("%q: got %v, want a usable store and a CorruptError", body, err)
		}
		if len(s.Entries()) != 0 {
			t.Errorf("%q: entries %v from a corrupt file", body, s.Entries())
		}
		kept, err := os.ReadFile(ce.SavedAs)
		if err != nil || !bytes.Equal(kept, []byte(body)) {
			t.Errorf("%q: corrupt file not kept as %s: %v", body, ce.SavedAs, err)
		}
		if !strings.Contains(ce.Error(), FileName) {
			t.Errorf("error does not name the file: %v", ce)
		}
	}
}

func TestStateDirMustBeADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("Open(%s) = %v, want an error naming it", file, err)
	}
	if _, err := Open(filepath.Join(file, "sub")); err == nil {
		t.Error("a state directory under a file opened")
	}
}

func TestIdentityMatches(t *testing.T) {
	id := Identity{FPLen: 5, FPHash: Fingerprint([]byte("hello"))}
	for _, tc := range []struct {
		content string
		want    bool
	}{{"hello world", true}, {"hello", true}, {"hell", false}, {"jello world", false}} {
		got, err := id.Matches(strings.NewReader(tc.content))
		if err != nil || got != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.content, got, err, tc.want)
		}
	}
	if ok, _ := (Identity{}).Matches(strings.NewReader("x")); !ok {
		t.Error("an empty fingerprint matches every file")
	}
}

// Put only records; Flush writes every recorded change at once and names
// the paths it wrote; a failed write keeps the changes for the next one.
func TestPutFlushAndRetry(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := Entry{Path: "/a.log", File: Identity{Ino: 1}, Offset: 10}
	b := Entry{Path: "/b.log", File: Identity{Ino: 2}, Offset: 20}
	s.Put(a)
	s.Put(b)
	if _, err := os.Stat(filepath.Join(dir, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Put wrote the state file (stat: %v)", err)
	}
	paths, err := s.Flush()
	if err != nil || strings.Join(paths, ",") != "/a.log,/b.log" {
		t.Fatalf("Flush = %v, %v; want both paths", paths, err)
	}
	if paths, err := s.Flush(); err != nil || len(paths) != 0 {
		t.Errorf("Flush with nothing new = %v, %v; want no write", paths, err)
	}

	// The directory vanishes: the write fails and the change is kept.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	a.Offset = 99
	s.Put(a)
	s.Remove(b.Path)
	if _, err := s.Flush(); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Flush into a missing directory: %v, want an error naming %s", err, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if paths, err := s.Flush(); err != nil || strings.Join(paths, ",") != "/a.log,/b.log" {
		t.Fatalf("Flush after the failure = %v, %v; want both paths again", paths, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.Get(a.Path); got != a {
		t.Errorf("read back %+v, want %+v", got, a)
	}
	if _, ok := s2.Get(b.Path); ok {
		t.Error("removed entry came back")
	}
}

// Put never waits for a write in progress, and concurrent use is safe.
func TestPutDuringFlush(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			if _, err := s.Flush(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := int64(1); i <= 2000; i++ {
		s.Put(Entry{Path: "/x.log", Offset: i})
	}
	<-done
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := s2.Get("/x.log"); e.Offset != 2000 {
		t.Errorf("offset %d on disk, want 2000", e.Offset)
	}
}
