package follow

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// rotatedNames lists the files rotation may have made of this path.
func (f *follower) rotatedNames() []string {
	var out []string
	seen := map[string]bool{f.path: true}
	for _, pat := range f.src.opt.Rotated {
		m, _ := filepath.Glob(strings.ReplaceAll(pat, "{path}", f.path))
		for _, name := range m {
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}

// rotatedFile is a rotated file opened, with what it was when opened.
type rotatedFile struct {
	f  *os.File
	fi os.FileInfo
	// gz: the file is gzip-compressed (see compressed.go).
	gz bool
}

// rotatedFiles opens the path's rotated files as one consistent snapshot.
// A rotation renames them one by one (app.log.2 to app.log.3, then
// app.log.1 to app.log.2), so a listing made meanwhile can miss one: the
// names are listed again after opening, each must still name the file
// opened, or the whole is done again.
//
// Listings are made one at a time across the Source, and done (which the
// caller defers) ends one: a listing opens every rotated file of a path at
// once, and fifty followers listing together after a mass rotation would
// run out of descriptors.
func (f *follower) listRotated() (files []rotatedFile, done func()) {
	f.src.listing.Lock()
	return f.rotatedFiles(), f.src.listing.Unlock
}

func (f *follower) rotatedFiles() []rotatedFile {
	var out []rotatedFile
	for attempt := 0; ; attempt++ {
		names := f.rotatedNames()
		out = out[:0]
		stable := true
		for _, name := range names {
			c, err := openLog(name)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					stable = false // renamed away since listed
				}
				continue // or no regular file: no log
			}
			fi, err := c.Stat()
			if err != nil || !fi.Mode().IsRegular() || compressedOtherwise(name) || !f.src.reg.claim(f, fi) {
				// Not a log, or read by another follower (a glob that
				// matches this rotated name too): not this path's.
				c.Close()
				continue
			}
			rf := rotatedFile{f: c, fi: fi, gz: isGzip(c)}
			if rf.gz && len(rf.head(1)) == 0 {
				// Still being written (its original is still there), or
				// not gzip after all: nothing to read from it yet.
				c.Close()
				continue
			}
			out = append(out, rf)
		}
		if stable {
			stable = slices.Equal(names, f.rotatedNames())
		}
		for _, r := range out {
			if !stable {
				break
			}
			cur, err := os.Stat(r.f.Name())
			stable = err == nil && os.SameFile(cur, r.fi)
		}
		if stable || attempt == 5 {
			return withoutCompressedTwins(out)
		}
		for _, r := range out {
			r.f.Close()
		}
		// A rotation is a few renames: it is over in moments.
		time.Sleep(time.Millisecond << attempt)
	}
}

// withoutCompressedTwins drops a compressed file whose plain original is
// still there (it is being compressed): the original is complete and
// cheaper to read.
func withoutCompressedTwins(files []rotatedFile) []rotatedFile {
	out := files[:0]
	for i, r := range files {
		twin := false
		if r.gz {
			h := r.head(fpMax)
			for j, o := range files {
				if j != i && !o.gz && len(h) > 0 && bytes.Equal(o.head(int64(len(h))), h) {
					twin = true
					break
				}
			}
		}
		if twin {
			r.f.Close()
			continue
		}
		out = append(out, r)
	}
	return out
}

// copyOf reports whether the file's content starts with fp, a
// fingerprint of another file's first bytes.
func (r rotatedFile) copyOf(fp []byte) bool {
	return len(fp) > 0 && bytes.Equal(r.head(int64(len(fp))), fp)
}

// rotatedGen is a rotated file with its place among the generations.
type rotatedGen struct {
	rotatedFile
	t genTime
}

// pickRotated lists the rotated files, keeps those keep accepts (closing
// the others) and returns them oldest first.
func (f *follower) pickRotated(keep func(rotatedFile, genTime) bool) []rotatedGen {
	rotated, done := f.listRotated()
	defer done()
	var gens []rotatedGen
	for _, rf := range rotated {
		t := f.rotatedGenTime(rf)
		if !keep(rf, t) {
			rf.f.Close()
			continue
		}
		gens = append(gens, rotatedGen{rf, t})
	}
	sort.SliceStable(gens, func(i, j int) bool { return gens[i].t.before(gens[j].t) })
	return gens
}
