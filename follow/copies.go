package follow

import (
	"bytes"
	"os"
	"time"
)

// A file the follower had read to its end, empty after a truncation, can
// be filled, copied away and truncated again, more than once, before the
// follower looks (it was stopped, or held back by a slow sink, or polls
// slowly): copytruncate at offset 0. Nothing of the file itself tells:
// its size is no smaller than the offset 0, and it has no first bytes to
// compare. What tells is the rotated files: those that were not there
// when the file was found empty, and are no compressed twin of one that
// was, are copies made since. They hold lines never read and are read
// first, oldest first, then the file.

// rotatedSnapshot is what the path's rotated files were when a file was
// found empty: each file's identity, and the first bytes of each, so that
// a generation compressed since (a new inode) is known by its content.
type rotatedSnapshot struct {
	files map[fileKey]snapFile
	heads [][]byte
}

// snapFile is one file of a snapshot. An inode number alone does not
// name a file for long: ext4 gives the number of a file just deleted to
// the next file created, and a rotation deletes its oldest generation
// just before copytruncate creates its copy. So the copy has an inode of
// the snapshot, and taken for that file, it would never be read. A file
// is the snapshot's only if it was also created when that one was and
// still starts with the bytes that one started with.
type snapFile struct {
	btime time.Time // zero where the file system keeps none
	head  []byte
}

// snapshotRotated takes the snapshot without holding any file open.
func (f *follower) snapshotRotated() *rotatedSnapshot {
	snap := &rotatedSnapshot{files: map[fileKey]snapFile{}}
	f.src.listing.Lock()
	defer f.src.listing.Unlock()
	for _, name := range f.rotatedNames() {
		file, err := openLog(name)
		if err != nil {
			continue
		}
		if fi, err := file.Stat(); err == nil {
			rf := rotatedFile{f: file, fi: fi, gz: isGzip(file)}
			h := rf.head(fpMax)
			snap.files[keyOf(fi)] = snapFile{btime: genTimeOf(file, fi).btime, head: h}
			if len(h) > 0 {
				snap.heads = append(snap.heads, h)
			}
		}
		file.Close()
	}
	return snap
}

// had reports whether rf is a file of the snapshot, or a compressed
// twin of one.
func (s *rotatedSnapshot) had(rf rotatedFile) bool {
	if sf, ok := s.files[keyOf(rf.fi)]; ok {
		bt := genTimeOf(rf.f, rf.fi).btime
		sameBirth := bt.IsZero() || sf.btime.IsZero() || bt.Equal(sf.btime)
		// A file grows, it does not change its first bytes; a file
		// empty then tells nothing by them.
		if sameBirth && bytes.HasPrefix(rf.head(fpMax), sf.head) {
			return true
		}
	}
	if !rf.gz {
		return false
	}
	h := rf.head(fpMax)
	for _, o := range s.heads {
		if len(h) > 0 && bytes.Equal(h, o) {
			return true
		}
	}
	return false
}

// pathReader reads from pos a file the path names, met now: a successor,
// the path's file when nothing was being read, the truncated file read
// again from its start. A file found empty at its start may be filled,
// copied away and truncated before a line of it is read (copytruncate at
// offset 0, see above): the rotated files it is compared with then are
// those listed before the look that found it empty. Listed later, when
// its reading starts (a successor waits until the file before it has
// ended), they may hold the copy already, whose lines were never read.
func (f *follower) pathReader(file *os.File, pos int64) *reader {
	if pos != 0 {
		return newReader(f, file, pos)
	}
	snap := f.snapshotRotated()
	r := newReader(f, file, 0)
	if len(r.fp) == 0 {
		r.sinceEmpty = snap
	}
	return r
}

// copiesSince opens, oldest first, the rotated files made since snap was
// taken that hold lines not read: copies of live made while the follower
// did not look.
func (f *follower) copiesSince(snap *rotatedSnapshot, live os.FileInfo) []*os.File {
	gens := f.pickRotated(func(rf rotatedFile, _ genTime) bool {
		if snap.had(rf) || (live != nil && os.SameFile(rf.fi, live)) || f.isLingering(rf.fi) || f.isQueued(rf.fi) {
			return false
		}
		if !rf.gz {
			if off, ok, _ := f.src.reg.known(rf.f, rf.fi); ok && off >= rf.fi.Size() {
				return false // read to its end before
			}
		}
		return true
	})
	var out []*os.File
	for _, g := range gens {
		file, err := f.openRotated(g.rotatedFile)
		if err != nil {
			f.log.Error("cannot read a rotated copy; its lines are lost", "file", f.path, "err", err)
			continue
		}
		f.log.Info("reading a copy made while the file was not looked at", "file", f.path, "copy", g.f.Name())
		out = append(out, file)
	}
	return out
}

// isQueued reports whether fi is a successor already queued.
func (f *follower) isQueued(fi os.FileInfo) bool {
	for _, s := range f.succ {
		if s.info != nil && os.SameFile(fi, s.info) {
			return true
		}
	}
	return false
}
