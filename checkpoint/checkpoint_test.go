package checkpoint

import (
	"bytes"
	"encoding/json"
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

// reopen closes s and opens its directory again, failing on any error.
func reopen(t *testing.T, s *Store) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

// Paths that are not UTF-8 keep their exact bytes on disk: two that
// differ only in an invalid byte stay two entries.
func TestNonUTF8PathsStayDistinct(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := Entry{Path: "x\xff.log", File: Identity{Ino: 1}, Offset: 10}
	b := Entry{Path: "x\xfe.log", File: Identity{Ino: 2}, Offset: 20}
	s.Put(a)
	s.Put(b)
	if _, err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(s.Dir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`"path_b64":"eP8ubG9n"`)) || bytes.Contains(raw, []byte(`"path"`)) {
		t.Errorf("state file %s: want the paths in path_b64 and no path key", raw)
	}
	s2 := reopen(t, s)
	got := s2.Entries()
	if len(got) != 2 || got[0] != b || got[1] != a {
		t.Errorf("read back %#v, want %#v", got, []Entry{b, a})
	}
}

// A valid UTF-8 path is written under "path", readable as before.
func TestUTF8PathWrittenAsPath(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{Path: "/var/log/café\uFFFD.log", File: Identity{Ino: 1}, Offset: 5}
	if err := s.Set(e); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(s.Dir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Version int
		Files   []map[string]any
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.Version != 2 || len(st.Files) != 1 || st.Files[0]["path"] != e.Path {
		t.Fatalf("state file %s: want version 2 and the path under \"path\"", raw)
	}
	if _, ok := st.Files[0]["path_b64"]; ok {
		t.Errorf("state file %s: path_b64 for a UTF-8 path", raw)
	}
	if _, ok := st.Files[0]["marker"]; ok {
		t.Errorf("state file %s: a marker for an entry without one", raw)
	}
	if got, _ := reopen(t, s).Get(e.Path); got != e {
		t.Errorf("read back %+v, want %+v", got, e)
	}
}

// A marker is written and read back with its entry.
func TestMarkerRoundTrip(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{Path: "/a.log", File: Identity{Ino: 1}, Offset: 100, Marker: MarkerOf([]byte("last line\n"))}
	if err := s.Set(e); err != nil {
		t.Fatal(err)
	}
	if got, _ := reopen(t, s).Get(e.Path); got != e {
		t.Errorf("read back %+v, want %+v", got, e)
	}
}

// A file in today's version 1 form loads with its offsets, and the next
// write makes it version 2.
func TestVersion1FileUpgraded(t *testing.T) {
	dir := t.TempDir()
	v1 := `{"version":1,"files":[{"path":"/var/log/app.log","file":{"dev":1,"ino":42,"fp_len":3,"fp_sha256":"` + Fingerprint([]byte("abc")) + `"},"offset":1234}]}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := Entry{Path: "/var/log/app.log", File: Identity{Dev: 1, Ino: 42, FPLen: 3, FPHash: Fingerprint([]byte("abc"))}, Offset: 1234}
	if got, ok := s.Get(want.Path); !ok || got != want {
		t.Fatalf("read back %+v, %v; want %+v", got, ok, want)
	}
	s.Put(Entry{Path: "/b.log", Offset: 1})
	if _, err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte(`{"version":2,`)) || !bytes.Contains(raw, []byte(`"offset":1234`)) {
		t.Errorf("state file after a write: %s; want version 2 keeping offset 1234", raw)
	}
}

// Entries the version 2 form does not allow make the file corrupt.
func TestCorruptEntries(t *testing.T) {
	hash := Fingerprint([]byte("x"))
	for _, body := range []string{
		`{"version":2,"files":[{"path":"x","path_b64":"eA==","offset":1}]}`,
		`{"version":2,"files":[{"offset":1}]}`,
		`{"version":2,"files":[{"path_b64":"not base64!","offset":1}]}`,
		`{"version":1,"files":[{"path_b64":"eA==","offset":1}]}`,
		`{"version":1,"files":[{"path":"x","offset":1,"marker":{"len":1,"sha256":"` + hash + `"}}]}`,
		`{"version":2,"files":[{"path":"x","offset":100,"marker":{"len":65,"sha256":"` + hash + `"}}]}`,
		`{"version":2,"files":[{"path":"x","offset":100,"marker":{"len":-1,"sha256":""}}]}`,
		`{"version":2,"files":[{"path":"x","offset":3,"marker":{"len":4,"sha256":"` + hash + `"}}]}`,
		`{"version":2,"files":[{"path":"x","offset":100,"marker":{"len":4,"sha256":"abc"}}]}`,
		`{"version":2,"files":[{"path":"x","offset":100,"marker":{"len":4,"sha256":"` + strings.ToUpper(hash) + `"}}]}`,
		`{"version":2,"files":[{"path":"x","offset":100,"marker":{"len":0,"sha256":"` + hash + `"}}]}`,
		`{"version":2,"files":[{"path":"x","offset":100,"marker":{"len":4,"sha256":"` + hash + `","x":1}}]}`,
		`{"version":3,"files":[]}`,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir)
		var ce *CorruptError
		if !errors.As(err, &ce) || s == nil {
			t.Errorf("%s: got %v, want a usable store and a CorruptError", body, err)
			continue
		}
		if len(s.Entries()) != 0 {
			t.Errorf("%s: entries %v from a corrupt file", body, s.Entries())
		}
		s.Close()
	}
}

func TestMarkerMatches(t *testing.T) {
	content := "first line\nsecond line\n"
	off := int64(len(content))
	m := MarkerOf([]byte(content))
	if m.Len != len(content) {
		t.Fatalf("marker of %d bytes covers %d", len(content), m.Len)
	}
	for _, tc := range []struct {
		content string
		offset  int64
		want    bool
	}{
		{content, off, true},
		{content + "third line\n", off, true},
		{"first line\nsecond lime\n", off, false},
		{"0" + content, off + 1, true},
		{"0" + content, off, false},
		{content[:off-1], off, false},
		{"", off, false},
		{content, int64(m.Len) - 1, false},
	} {
		got, err := m.Matches(strings.NewReader(tc.content), tc.offset)
		if err != nil || got != tc.want {
			t.Errorf("%q at %d: %v, %v; want %v", tc.content, tc.offset, got, err, tc.want)
		}
	}
	if ok, err := (Marker{}).Matches(strings.NewReader(""), 100); !ok || err != nil {
		t.Errorf("zero marker: %v, %v; want a match", ok, err)
	}
	if MarkerOf(nil) != (Marker{}) {
		t.Errorf("MarkerOf(nil) = %+v, want the zero Marker", MarkerOf(nil))
	}
}

// A longer tail keeps its last MarkerLen bytes.
func TestMarkerOfLongTail(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789"), 20)
	m := MarkerOf(long)
	if m != MarkerOf(long[len(long)-MarkerLen:]) || m.Len != MarkerLen {
		t.Errorf("MarkerOf(%d bytes) = %+v, want the marker of the last %d", len(long), m, MarkerLen)
	}
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, long, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ok, err := m.Matches(r, int64(len(long))); !ok || err != nil {
		t.Errorf("Matches on the file: %v, %v; want a match", ok, err)
	}
	if ok, err := m.Matches(r, int64(len(long))+10); ok || err != nil {
		t.Errorf("Matches past the end of the file: %v, %v; want no match", ok, err)
	}
}
