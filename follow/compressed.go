package follow

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/annotator-dev/annotator/checkpoint"
)

// Rotation may compress a generation (logrotate's compress, with or
// without delaycompress) before the follower has read it: a follower held
// back by a slow sink, or stopped, can find a generation only as
// app.log.2.gz. Such a file is read through gzip. Its lines are what
// counts, so its fingerprint is taken from its decompressed first bytes:
// it is recognised as the copy of the file it was made from.
//
// A generation the follower has seen is held open from then on, so
// compressing it afterwards (which deletes the plain file) takes nothing
// away; decompressing is for generations never seen.

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// isGzip tells a gzip file by its name or its first bytes. By name too,
// because a file being compressed is empty at first.
func isGzip(file *os.File) bool {
	if strings.HasSuffix(file.Name(), ".gz") {
		return true
	}
	var b [2]byte
	n, _ := file.ReadAt(b[:], 0)
	return n == 2 && bytes.Equal(b[:], gzipMagic)
}

// hasGzipMagic reports whether the named file starts as a gzip stream.
func hasGzipMagic(name string) bool {
	file, err := openLog(name)
	if err != nil {
		return false
	}
	defer file.Close()
	var b [2]byte
	n, _ := file.ReadAt(b[:], 0)
	return n == 2 && bytes.Equal(b[:], gzipMagic)
}

// otherCompressed names the compressed files that cannot be read: their
// bytes are no lines, so they are never taken for a generation.
var otherCompressed = []string{".bz2", ".xz", ".zst", ".lz4", ".lzma", ".lzo", ".Z", ".zip"}

func compressedOtherwise(name string) bool {
	for _, ext := range otherCompressed {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// head is a rotated file's first n bytes of content: decompressed for a
// gzip file.
func (r rotatedFile) head(n int64) []byte {
	if n > fpMax {
		n = fpMax
	}
	if !r.gz {
		return prefix(r.f, n)
	}
	zr, err := gzip.NewReader(io.NewSectionReader(r.f, 0, r.fi.Size()))
	if err != nil {
		return nil
	}
	buf := make([]byte, n)
	got, _ := io.ReadFull(zr, buf)
	return buf[:got]
}

// matches reports whether the file's content starts with the bytes an
// identity was taken from.
func (r rotatedFile) matches(id checkpoint.Identity) bool {
	if id.FPLen == 0 {
		return true
	}
	h := r.head(int64(id.FPLen))
	ok, _ := id.Matches(bytes.NewReader(h))
	return ok
}

// open returns the file to read the generation's lines from: itself, or
// for a gzip file its content decompressed into an unlinked temporary
// file (in the state directory, else the system's), given the compressed
// file's modification time, which orders generations. The rotated file's
// own descriptor is closed either way once done with.
func (f *follower) openRotated(r rotatedFile) (*os.File, error) {
	if !r.gz {
		return r.f, nil
	}
	defer r.f.Close()
	// Its modification time is its generation's (logrotate keeps it);
	// its creation time is when it was compressed, which says nothing of
	// the generation's place, so it is left unknown.
	gen := genTime{mtime: r.fi.ModTime()}
	dir := os.TempDir()
	if f.src.store != nil {
		dir = f.src.store.Dir()
	}
	tmp, err := os.CreateTemp(dir, ".annotator-gunzip-*")
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", r.f.Name(), err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	zr, err := gzip.NewReader(io.NewSectionReader(r.f, 0, r.fi.Size()))
	if err == nil {
		_, err = io.Copy(tmp, zr)
	}
	if err == nil {
		err = os.Chtimes(name, r.fi.ModTime(), r.fi.ModTime())
	}
	var tfi os.FileInfo
	if err == nil {
		tfi, err = tmp.Stat()
	}
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("decompress %s: %w", r.f.Name(), err)
	}
	if f.unpacked == nil {
		f.unpacked = map[uint64]genTime{}
	}
	_, ino := devIno(tfi)
	f.unpacked[ino] = gen
	f.log.Info("reading a compressed rotated file", "file", f.path, "rotated", r.f.Name())
	return tmp, nil
}
