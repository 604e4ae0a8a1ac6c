// Package checkpoint keeps, per followed path, which file was being read
// and how far its lines have been delivered, so that a restart neither
// loses nor repeats lines.
//
// A file is known by its identity: device and inode plus a fingerprint
// (the length and SHA-256 of its first bytes). The inode alone is not
// enough, because file systems hand a freed inode number to the next file
// created: the fingerprint tells the new file from the old. It cannot when
// the new file starts with the same bytes (log lines often begin with the
// same header), so an entry may also carry a marker: the length and
// SHA-256 of up to MarkerLen bytes just before its offset. A file whose
// bytes there differ is not the one checkpointed, and is not resumed at
// that offset (Fluent Bit guards its offsets the same way).
//
// The state is one JSON file in the state directory, replaced atomically
// (write a temporary file, fsync it, rename it over the old one), so a
// crash leaves either the old state or the new one, never a torn file.
// Its form (version 2) is
//
//	{"version":2,"files":[{"path":"/var/log/app.log",
//	  "file":{"dev":D,"ino":I,"fp_len":N,"fp_sha256":"<hex>"},
//	  "offset":O,"marker":{"len":L,"sha256":"<hex>"}}]}
//
// with "marker" left out when an entry has none. A path is a string of
// bytes, not necessarily UTF-8, and JSON strings cannot carry arbitrary
// bytes (encoding/json turns invalid ones into U+FFFD, so two such paths
// would become one): a path that is not valid UTF-8 is written instead as
// "path_b64", the standard base64 of its exact bytes. Version 1 files
// (no "path_b64", no "marker") are read too; the next write makes them
// version 2.
//
// Set and Delete write at once; Put and Remove only record the change,
// and Flush writes every recorded change in one go, so a caller can
// acknowledge deliveries at any rate while the disk sees one write per
// flush. The directory itself is not fsynced after the rename: if
// the machine loses power, the state read back may be the previous one,
// which is behind, never ahead: lines are repeated, not lost.
//
// One process at a time owns a state directory: Open takes an exclusive
// flock on its lock file (LockName) and Close releases it, so a second
// instance started on the same directory is refused (*InUseError) rather
// than overwriting the first one's checkpoints.
package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
	"unicode/utf8"
)

// FileName is the state file inside the state directory.
const FileName = "checkpoints.json"

// version is the form this package writes; minVersion is the oldest it
// reads.
const (
	version    = 2
	minVersion = 1
)

// Identity tells one file from every other, also from a later file that
// was given the same inode number.
type Identity struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	// FPLen is how many of the file's first bytes FPHash covers.
	FPLen int `json:"fp_len"`
	// FPHash is the hex SHA-256 of the file's first FPLen bytes.
	FPHash string `json:"fp_sha256"`
}

// Fingerprint hashes a file's first bytes.
func Fingerprint(prefix []byte) string {
	sum := sha256.Sum256(prefix)
	return hex.EncodeToString(sum[:])
}

// Matches reports whether r starts with the fingerprinted bytes. It does
// not look at the inode: a copy of the file (copytruncate) matches too.
func (id Identity) Matches(r io.ReaderAt) (bool, error) {
	if id.FPLen == 0 {
		return true, nil
	}
	buf := make([]byte, id.FPLen)
	n, err := r.ReadAt(buf, 0)
	if n < id.FPLen {
		if err == nil || errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	return Fingerprint(buf) == id.FPHash, nil
}

// Marker identifies the bytes just before a checkpointed offset.
type Marker struct {
	Len  int    `json:"len"`
	Hash string `json:"sha256"` // hex SHA-256 of the Len bytes before the offset
}

// MarkerLen is how many bytes before an offset a marker covers at most.
const MarkerLen = 64

// MarkerOf makes the marker of the bytes just before an offset (callers
// pass at most MarkerLen bytes; longer input keeps its last MarkerLen
// bytes). No bytes make the zero Marker.
func MarkerOf(tail []byte) Marker {
	if len(tail) > MarkerLen {
		tail = tail[len(tail)-MarkerLen:]
	}
	if len(tail) == 0 {
		return Marker{}
	}
	return Marker{Len: len(tail), Hash: Fingerprint(tail)}
}

// Matches reports whether r holds the marked bytes just before offset. A
// zero Marker (Len 0) matches anything. A file too short to hold them
// does not match.
func (m Marker) Matches(r io.ReaderAt, offset int64) (bool, error) {
	if m.Len == 0 {
		return true, nil
	}
	if m.Len < 0 || offset < int64(m.Len) {
		return false, nil
	}
	buf := make([]byte, m.Len)
	n, err := r.ReadAt(buf, offset-int64(m.Len))
	if n < m.Len {
		if err == nil || errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	return Fingerprint(buf) == m.Hash, nil
}

// Entry is what is known about one followed path. Its JSON tags name the
// keys of the state file, but the file is not Entry's plain encoding: a
// Path that is not valid UTF-8 is written as "path_b64" (see the package
// comment).
type Entry struct {
	// Path is the followed path, byte for byte; it need not be UTF-8.
	Path string `json:"path"`
	// File is the identity of the file whose lines were delivered last:
	// the file at Path, or, during a rotation, the file it was renamed to.
	File Identity `json:"file"`
	// Offset is the byte offset in File just past the last line the sink
	// has durably taken.
	Offset int64 `json:"offset"`
	// Marker covers the bytes of File just before Offset; zero when not
	// known (a version 1 file, or an entry made without one).
	Marker Marker `json:"marker,omitzero"`
}

type stateFile struct {
	Version int         `json:"version"`
	Files   []diskEntry `json:"files"`
}

// diskEntry is an Entry as the state file holds it: the path in "path"
// when it is valid UTF-8, else in "path_b64" as the base64 of its bytes.
type diskEntry struct {
	Entry
	// v2 is set by UnmarshalJSON when the entry has a key version 1 did
	// not know ("path_b64" or "marker").
	v2 bool
}

// diskForm is the JSON object of one entry.
type diskForm struct {
	Path    *string  `json:"path,omitempty"`
	PathB64 *string  `json:"path_b64,omitempty"`
	File    Identity `json:"file"`
	Offset  int64    `json:"offset"`
	Marker  *Marker  `json:"marker,omitempty"`
}

func (d diskEntry) MarshalJSON() ([]byte, error) {
	f := diskForm{File: d.File, Offset: d.Offset}
	if utf8.ValidString(d.Path) {
		f.Path = &d.Path
	} else {
		b64 := base64.StdEncoding.EncodeToString([]byte(d.Path))
		f.PathB64 = &b64
	}
	if d.Marker != (Marker{}) {
		f.Marker = &d.Marker
	}
	return json.Marshal(f)
}

func (d *diskEntry) UnmarshalJSON(data []byte) error {
	var f diskForm
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return err
	}
	e := Entry{File: f.File, Offset: f.Offset}
	switch {
	case f.Path != nil && f.PathB64 != nil:
		return errors.New("an entry with both path and path_b64")
	case f.Path != nil:
		e.Path = *f.Path
	case f.PathB64 != nil:
		b, err := base64.StdEncoding.Strict().DecodeString(*f.PathB64)
		if err != nil {
			return fmt.Errorf("path_b64 %q: %w", *f.PathB64, err)
		}
		e.Path = string(b)
	}
	if f.Marker != nil {
		e.Marker = *f.Marker
	}
	*d = diskEntry{Entry: e, v2: f.PathB64 != nil || f.Marker != nil}
	return nil
}

// CorruptError reports a state file that could not be read back. The
// store starts empty; the bad file is kept beside it for inspection.
type CorruptError struct {
	Path    string // the state file
	SavedAs string // where the bad file was moved
	Err     error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("checkpoint file %s is corrupt (kept as %s): %v", e.Path, e.SavedAs, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Store is the state of every followed path. It is safe for concurrent use.
type Store struct {
	dir string
	// mu guards ents and dirty; it is never held during a disk write, so
	// Put never waits for a slow fsync.
	mu    sync.Mutex
	ents  map[string]Entry
	dirty map[string]bool // paths changed since the last write
	// writeMu makes writes one at a time, so an older state can never be
	// renamed over a newer one.
	writeMu sync.Mutex
	buf     bytes.Buffer
	// lock holds the directory's flock until Close; nil once closed.
	// writeMu guards it, so no write can happen after the release.
	lock *dirLock
}

// Open loads the state in dir, creating dir if needed. It fails when dir
// cannot be written: a follower that cannot checkpoint must not start. A
// corrupt state file is not fatal: Open returns a usable empty store
// together with a *CorruptError for the caller to report. A directory
// another process holds is refused with an *InUseError. The store holds
// the directory until Close.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("state directory %s: not a directory", dir)
	}
	s := &Store{dir: dir, ents: map[string]Entry{}, dirty: map[string]bool{}}
	// Prove the directory writable now rather than at the first batch.
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("state directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	// Lock before reading: the state read must be the one this process
	// goes on writing.
	if s.lock, err = lockDir(dir); err != nil {
		return nil, err
	}
	err = s.load()
	var corrupt *CorruptError
	if err != nil && !errors.As(err, &corrupt) {
		s.lock.unlock()
		return nil, err
	}
	return s, err
}

// load reads the state file, if there is one, into s.
func (s *Store) load() error {
	path := filepath.Join(s.dir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read checkpoint file: %w", err)
	}
	if err := s.decode(data); err != nil {
		saved := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, saved); rerr != nil {
			return fmt.Errorf("checkpoint file %s is corrupt (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		s.ents = map[string]Entry{}
		return &CorruptError{Path: path, SavedAs: saved, Err: err}
	}
	return nil
}

func (s *Store) decode(data []byte) error {
	var st stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return err
	}
	if st.Version < minVersion || st.Version > version {
		return fmt.Errorf("version %d, want %d to %d", st.Version, minVersion, version)
	}
	for _, d := range st.Files {
		e := d.Entry
		switch {
		case e.Path == "":
			return errors.New("an entry without a path")
		case d.v2 && st.Version < 2:
			return fmt.Errorf("%q: path_b64 or marker in a version %d file", e.Path, st.Version)
		case e.Offset < 0 || e.File.FPLen < 0:
			return fmt.Errorf("%q: negative offset or fingerprint length", e.Path)
		case e.File.FPLen > 0 && len(e.File.FPHash) != 2*sha256.Size:
			return fmt.Errorf("%q: malformed fingerprint", e.Path)
		case e.Marker.Len < 0 || e.Marker.Len > MarkerLen || int64(e.Marker.Len) > e.Offset:
			return fmt.Errorf("%q: marker length %d outside 0 to min(%d, offset %d)", e.Path, e.Marker.Len, MarkerLen, e.Offset)
		case e.Marker.Len > 0 && !isHexHash(e.Marker.Hash), e.Marker.Len == 0 && e.Marker.Hash != "":
			return fmt.Errorf("%q: malformed marker", e.Path)
		}
		s.ents[e.Path] = e
	}
	return nil
}

// isHexHash reports whether h is a SHA-256 in lower-case hex, as
// Fingerprint writes it.
func isHexHash(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Dir is the state directory.
func (s *Store) Dir() string { return s.dir }

// Get returns the entry for path.
func (s *Store) Get(path string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.ents[path]
	return e, ok
}

// Entries returns every entry, sorted by path.
func (s *Store) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sorted()
}

func (s *Store) sorted() []Entry {
	out := make([]Entry, 0, len(s.ents))
	for _, e := range s.ents {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Set records e and writes the state durably before returning.
func (s *Store) Set(e Entry) error {
	s.Put(e)
	_, err := s.Flush()
	return err
}

// Delete forgets path (its file was deleted and fully read) and writes
// the state durably before returning.
func (s *Store) Delete(path string) error {
	s.Remove(path)
	_, err := s.Flush()
	return err
}

// Put records e; the next Flush writes it.
func (s *Store) Put(e Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.ents[e.Path]; ok && old == e {
		return
	}
	s.ents[e.Path] = e
	s.dirty[e.Path] = true
}

// Remove forgets path; the next Flush writes that.
func (s *Store) Remove(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ents[path]; !ok {
		return
	}
	delete(s.ents, path)
	s.dirty[path] = true
}

// Flush writes the state if anything changed since the last write, and
// returns the paths whose entries it saved or removed. Put and Remove go
// on meanwhile; what they record is written by the next Flush. After a
// failed write the changes stay recorded for the next one.
func (s *Store) Flush() ([]string, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.flush()
}

// flush is Flush for a caller holding writeMu.
func (s *Store) flush() ([]string, error) {
	if s.lock == nil {
		// The directory may belong to another process by now.
		return nil, fmt.Errorf("write checkpoints in %s: store closed", s.dir)
	}
	s.mu.Lock()
	if len(s.dirty) == 0 {
		s.mu.Unlock()
		return nil, nil
	}
	ents := s.sorted()
	paths := make([]string, 0, len(s.dirty))
	for p := range s.dirty {
		paths = append(paths, p)
	}
	clear(s.dirty)
	s.mu.Unlock()
	if err := s.write(ents); err != nil {
		s.mu.Lock()
		for _, p := range paths {
			s.dirty[p] = true
		}
		s.mu.Unlock()
		return nil, err
	}
	sort.Strings(paths)
	return paths, nil
}

// Close writes what was recorded and not yet written, then releases the
// state directory for the next process. Calling it again does nothing;
// a Flush after it fails.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.lock == nil {
		return nil
	}
	_, err := s.flush()
	uerr := s.lock.unlock()
	s.lock = nil
	return errors.Join(err, uerr)
}

// write replaces the state file: temporary file, fsync, rename. The
// caller holds writeMu.
func (s *Store) write(ents []Entry) error {
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	files := make([]diskEntry, len(ents))
	for i, e := range ents {
		files[i] = diskEntry{Entry: e}
	}
	if err := enc.Encode(stateFile{Version: version, Files: files}); err != nil {
		return fmt.Errorf("encode checkpoints: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, "."+FileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	name := tmp.Name()
	_, err = tmp.Write(s.buf.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, filepath.Join(s.dir, FileName))
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("write checkpoints in %s: %w", s.dir, err)
	}
	return nil
}
