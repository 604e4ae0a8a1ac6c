package follow

import (
	"os"
	"sort"

	"github.com/annotator-dev/annotator/checkpoint"
)

// successorHasData reports whether any file the path named after the one
// being read has been written to: its writer has moved on. Any, not the
// next: after two rotations the middle generation may have got no line
// at all, and the writer is then at the newest.
func (f *follower) successorHasData() bool {
	for _, s := range f.succ {
		if fi, err := s.file.Stat(); err == nil && fi.Size() > 0 {
			return true
		}
	}
	// The path's file, if not opened (no descriptor to spare).
	cur, err := os.Stat(f.path)
	return err == nil && cur.Size() > 0 && f.rd != nil && f.rd.info != nil && !os.SameFile(cur, f.rd.info) && !f.isLingering(cur)
}

// noteSuccessor opens the file the path names now if it is not the one
// being read nor one already noted.
func (f *follower) noteSuccessor(cur os.FileInfo) {
	dev, ino := devIno(cur)
	if f.rd != nil && dev == f.rd.dev && ino == f.rd.ino {
		return
	}
	for _, s := range f.succ {
		if s.dev == dev && s.ino == ino {
			return
		}
	}
	if !f.roomFor(1) {
		// No descriptor to spare: the file is opened once the one being
		// read is done with (a generation renamed away meanwhile is
		// found among the rotated files then).
		return
	}
	file, err := f.open()
	if err != nil {
		return
	}
	if fi, err := file.Stat(); err == nil {
		if d, i := devIno(fi); d == dev && i == ino {
			if !f.src.reg.claim(f, fi) {
				file.Close() // another follower reads it
				return
			}
			f.succ = append(f.succ, f.pathReader(file, f.knownOffset(file, fi)))
			return
		}
	}
	file.Close() // replaced again between stat and open: seen next time
}

// withMissed puts ahead of queued the generations a follower held back by
// a slow sink never saw: created under the path and renamed away again
// while it was still reading done, so neither a file system event nor a
// look at the path ever showed them. They are the rotated files modified
// after done, oldest first, less the files queued already, done's own
// copies and copies of queued files (a truncated file finds its copy
// itself).
func (f *follower) withMissed(done *reader, queued []*reader) []*reader {
	dfi, err := done.file.Stat() // now: its last write is what counts
	if err != nil {
		return queued
	}
	dgen := f.genTime(done.file, dfi)
	type gen struct {
		r *reader
		t genTime
	}
	qgens := make([]gen, len(queued))
	for i, q := range queued {
		qgens[i].r = q
		if fi, err := q.file.Stat(); err == nil {
			qgens[i].t = f.genTime(q.file, fi)
		}
	}
	var missed []gen
	rotated, listed := f.listRotated()
	defer listed()
	for _, rf := range rotated {
		t := f.rotatedGenTime(rf)
		keep := !os.SameFile(rf.fi, dfi) && t.newerThan(dgen) && !rf.copyOf(done.fp) && !f.isLingering(rf.fi)
		if keep {
			f.noteAssumedOrder(rf, t, dgen)
		}
		for i := range qgens {
			if !keep {
				break
			}
			q := qgens[i].r
			switch {
			case os.SameFile(rf.fi, q.info):
				keep = false
			case rf.copyOf(q.fp):
				// A copytruncate copy of a queued file: that file's lines
				// are read from it once the file is found truncated, so
				// the queued file takes the copy's place in the order.
				keep = false
				if t.before(qgens[i].t) {
					qgens[i].t = t
				}
			}
		}
		if keep && !rf.gz {
			if off, ok, _ := f.src.reg.known(rf.f, rf.fi); ok && off >= rf.fi.Size() {
				keep = false // read to its end already (a copy, or under another name)
			}
		}
		if !keep {
			rf.f.Close()
			continue
		}
		f.log.Info("reading a rotated file the follower fell behind on", "file", f.path, "rotated", rf.f.Name())
		file, err := f.openRotated(rf)
		if err != nil {
			f.log.Error("cannot read a rotated file; its lines are lost", "file", f.path, "err", err)
			continue
		}
		pos := int64(0)
		if !rf.gz {
			pos = f.knownOffset(file, rf.fi)
		}
		missed = append(missed, gen{newReader(f, file, pos), t})
	}
	if len(missed) == 0 {
		return queued
	}
	// Generations in the order they were written: a generation stops
	// changing when the next one takes over the path. Every file read
	// later is then newer than the one before it, so none comes twice.
	gens := append(missed, qgens...)
	sort.SliceStable(gens, func(i, j int) bool { return gens[i].t.before(gens[j].t) })
	out := make([]*reader, len(gens))
	for i, g := range gens {
		out[i] = g.r
	}
	return out
}

// unqueue drops from the queued successors the files about to be read as
// copytruncate copies, so that no generation is read twice.
func (f *follower) unqueue(copies []*os.File) {
	kept := f.succ[:0]
	for _, q := range f.succ {
		dup := false
		for _, c := range copies {
			if cfi, err := c.Stat(); err == nil && q.info != nil && os.SameFile(cfi, q.info) {
				dup = true
				break
			}
		}
		if dup {
			q.file.Close()
			continue
		}
		kept = append(kept, q)
	}
	f.succ = kept
}

// findCopy looks among the rotated files for a copy of a truncated file:
// one that starts with the same bytes. The copy may hold less than was
// read: lines written between copytruncate's copy and its truncation
// were read from the file but are in the copy no more. It is taken all
// the same, with nothing left to read in it, since the copies made after
// it, while the follower was behind, are found from it.
func (f *follower) findCopy(fp []byte, pos int64, ino uint64) *os.File {
	if len(fp) == 0 {
		return nil
	}
	var found *os.File
	rotated, done := f.listRotated()
	defer done()
	for _, r := range rotated {
		if found == nil {
			if _, cino := devIno(r.fi); cino != ino && r.copyOf(fp) {
				if file, err := f.openRotated(r); err == nil {
					found = file
					continue
				}
			}
		}
		r.f.Close()
	}
	return found
}

// findByIdentity looks among the rotated files for the one a checkpoint
// names: the same inode and first bytes (renamed), holding at least the
// checkpointed offset, or a copy with the same first bytes
// (copytruncate). A copy may hold less than the offset (see findCopy):
// it is still the generation the newer ones are found from.
func (f *follower) findByIdentity(e checkpoint.Entry) *os.File {
	var same *os.File
	var copyFile *rotatedFile
	rotated, done := f.listRotated()
	defer done()
	for _, r := range rotated {
		keep := false
		// A file checkpointed while still empty has no fingerprint: only
		// its inode tells it, and no copy can be recognised.
		if same == nil && r.matches(e.File) {
			dev, ino := devIno(r.fi)
			switch {
			case dev == e.File.Dev && ino == e.File.Ino && !r.gz:
				if mark, _ := e.Marker.Matches(r.f, e.Offset); mark && r.fi.Size() >= e.Offset {
					same, keep = r.f, true
				}
			case copyFile == nil && e.File.FPLen > 0 && (r.gz || r.fi.Size() < e.Offset || markMatches(r.f, e)):
				// A copy holds the bytes before the offset too, unless it
				// was made before they were written (see findCopy); a
				// file that only shares the first bytes (a banner, a CSV
				// header) does not.
				copyFile, keep = &r, true
			}
		}
		if !keep {
			r.f.Close()
		}
	}
	if same != nil {
		if copyFile != nil {
			copyFile.f.Close()
		}
		return same
	}
	if copyFile == nil {
		return nil
	}
	file, err := f.openRotated(*copyFile)
	if err != nil {
		f.log.Error("cannot read a rotated file", "file", f.path, "err", err)
		return nil
	}
	return file
}

// newerRotated opens the rotated files modified after old, oldest first,
// but current (the path's file, opened already, or nil): the generations
// rotated after old while stopped, to be read whole.
func (f *follower) newerRotated(old, current *os.File) []*reader {
	var cfi os.FileInfo
	if current != nil {
		cfi, _ = current.Stat()
	}
	var out []*reader
	for _, file := range f.newerRotatedFiles(old, nil) {
		fi, err := file.Stat()
		if err == nil && cfi != nil && os.SameFile(fi, cfi) {
			file.Close()
			continue
		}
		pos := int64(0)
		if err == nil {
			pos = f.knownOffset(file, fi)
		}
		out = append(out, newReader(f, file, pos))
	}
	return out
}

// newerRotatedFiles opens the rotated files modified after old, oldest
// first. With live (a truncated file whose copies are wanted), the list
// ends before live itself, should it have been renamed: what comes after
// it are rotations of the files that replaced it, read as its successors.
func (f *follower) newerRotatedFiles(old *os.File, live os.FileInfo) []*os.File {
	ofi, err := old.Stat()
	if err != nil {
		return nil
	}
	ogen := f.genTime(old, ofi)
	ofp := prefix(old, fpMax)
	gens := f.pickRotated(func(r rotatedFile, t genTime) bool {
		keep := !os.SameFile(r.fi, ofi) && t.newerThan(ogen) && !r.copyOf(ofp) && !f.isLingering(r.fi)
		if keep {
			f.noteAssumedOrder(r, t, ogen)
		}
		return keep
	})
	var out []*os.File
	cut := false
	for _, g := range gens {
		if cut = cut || (live != nil && os.SameFile(g.fi, live)); cut {
			g.f.Close()
			continue
		}
		f.log.Info("reading a rotated file", "file", f.path, "rotated", g.f.Name())
		file, err := f.openRotated(g.rotatedFile)
		if err != nil {
			f.log.Error("cannot read a rotated file; its lines are lost", "file", f.path, "err", err)
			continue
		}
		out = append(out, file)
	}
	return out
}

// noteAssumedOrder logs a generation taken for newer than the file read
// last on its creation time alone, its modification time being older:
// the order is assumed, not known (a clock stepped back, a touch).
func (f *follower) noteAssumedOrder(rf rotatedFile, t, last genTime) {
	if !last.before(t) {
		f.log.Info("reading a rotated file modified before the file read last but created after that one's last write; assuming it is a newer generation (clock stepped back?)",
			"file", f.path, "rotated", rf.f.Name())
	}
}
