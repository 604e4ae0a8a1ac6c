package follow

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sources"
)

// lingerer is a file the follower moved on from, read on for late lines.
type lingerer struct {
	r      *reader
	fr     *sources.Framer
	logged bool
}

// linger keeps r's file open after the follower moved on from it: an app
// whose processes reopen their log one by one after a rotation (nginx's
// workers, a pre-fork server) goes on writing into the renamed file from
// the processes that have not reopened yet, after the others already
// write to the new one. Those late lines are handed on as they come,
// until the file has been quiet for CloseInactive. They are not
// checkpointed: the path's checkpoint follows the new file, so a restart
// while lines are still coming late does not read them again.
func (f *follower) linger(r *reader) {
	r.fixed, r.lingering, r.drained = true, true, false
	r.lastData = time.Now()
	fr := sources.NewFramer(r, f.path, f.meta, f.src.opt.Pool)
	fr.SetOffset(r.pos)
	fr.EndLastLine = true
	f.lingering = append(f.lingering, &lingerer{r: r, fr: fr})
}

// isLingering reports whether fi is a file moved on from and still read
// for late lines: its late lines make it look newer than it is, but it is
// no generation still to read.
func (f *follower) isLingering(fi os.FileInfo) bool {
	for _, l := range f.lingering {
		if l.r.info != nil && os.SameFile(fi, l.r.info) {
			return true
		}
	}
	return false
}

// readLingering returns a batch of late lines from a file moved on from,
// or nil when none has any; files quiet long enough are let go.
func (f *follower) readLingering(ctx context.Context) *pipeline.Batch {
	for i := 0; i < len(f.lingering); i++ {
		l := f.lingering[i]
		callCtx, cancel := context.WithCancel(ctx)
		l.r.cancel = cancel
		b, err := l.fr.Next(callCtx)
		cancel()
		switch {
		case err == nil:
			if !l.logged {
				f.log.Info("reading late lines written to a file rotated away", "file", f.path, "rotated", l.r.file.Name())
				l.logged = true
			}
			return b
		case errors.Is(err, context.Canceled):
			continue
		}
		f.letGo(l.r.file, l.r.pos)
		if quietFor := time.Since(l.r.lastData); quietFor < f.src.opt.CloseInactive {
			// Closed for want of descriptors, not for being quiet long
			// enough: late lines may still come.
			f.release(l.r, l.r.pos)
		}
		l.r.file.Close()
		f.lingering = append(f.lingering[:i], f.lingering[i+1:]...)
		i--
	}
	return nil
}

// releasedFile is a file read for late lines whose descriptor was given
// back while descriptors ran short. It is looked at (stat, no descriptor)
// under its last name, or among the rotated names if it moved, and read
// again from where it was left as soon as it grows, until it has been
// quiet for CloseInactive or can no longer be found.
type releasedFile struct {
	key  fileKey
	name string
	pos  int64
	mark readMark
	// until is when it is let go for good: CloseInactive after its last
	// data, or later for a file renamed with nothing in its place,
	// whose writer may come back to it.
	until time.Time
}

// release remembers r's file, read up to pos (before any partial line
// its framer holds), and returns the entry; nil when the file cannot be
// looked at.
func (f *follower) release(r *reader, pos int64) *releasedFile {
	fi, err := r.file.Stat()
	if err != nil {
		return nil
	}
	rf := &releasedFile{key: keyOf(fi), name: r.file.Name(), pos: pos,
		until: r.lastData.Add(f.src.opt.CloseInactive), mark: markOf(r.file, prefix(r.file, min(pos, fpMax)), pos)}
	f.released = append(f.released, rf)
	f.log.Debug("a file read for late lines gave its descriptor up; it is read again if it grows", "file", f.path, "rotated", r.file.Name(), "offset", pos)
	return rf
}

// findReleased reopens, as files read for late lines, the released files
// that grew.
func (f *follower) findReleased() {
	kept := f.released[:0]
	for _, rf := range f.released {
		if time.Now().After(rf.until) {
			continue
		}
		name, fi := f.locate(rf)
		if fi == nil {
			f.log.Info("a file rotated away and closed (quiet, or for want of descriptors) is gone; lines written to it since, if any, cannot be read", "file", f.path, "rotated", rf.name)
			continue
		}
		rf.name = name
		if fi.Size() <= rf.pos || f.src.reg.heldByOther(f, fi) || !f.roomFor(1) {
			kept = append(kept, rf)
			continue
		}
		file, err := openLog(name)
		if err != nil {
			kept = append(kept, rf)
			continue
		}
		ofi, err := file.Stat()
		if err != nil || keyOf(ofi) != rf.key {
			file.Close()
			kept = append(kept, rf)
			continue
		}
		same, _ := rf.mark.id.Matches(file)
		marked, _ := rf.mark.marker.Matches(file, rf.pos)
		if !same || !marked {
			file.Close() // its inode was given to a new file
			continue
		}
		if !f.src.reg.claim(f, ofi) {
			file.Close()
			kept = append(kept, rf)
			continue
		}
		pos := rf.pos
		if off, ok, _ := f.src.reg.known(file, ofi); ok && off > pos {
			pos = off // read further meanwhile under another name
		}
		r := newReader(f, file, pos)
		f.linger(r)
	}
	f.released = kept
}

// locate finds a released file by its identity: under its last name, or
// among the rotated names.
func (f *follower) locate(rf *releasedFile) (string, os.FileInfo) {
	if fi, err := os.Stat(rf.name); err == nil && keyOf(fi) == rf.key {
		return rf.name, fi
	}
	f.src.listing.Lock() // listing the rotated names reads their directory
	defer f.src.listing.Unlock()
	for _, name := range f.rotatedNames() {
		if fi, err := os.Stat(name); err == nil && keyOf(fi) == rf.key {
			return name, fi
		}
	}
	return "", nil
}

// releasedGrew reports whether a released file has lines to read: a
// parked follower then takes a descriptor again to read them.
func (f *follower) releasedGrew() bool {
	for _, rf := range f.released {
		if time.Now().After(rf.until) {
			continue
		}
		if _, fi := f.locate(rf); fi != nil && fi.Size() > rf.pos {
			return true
		}
	}
	return false
}

// shedLingering closes the files read for late lines, remembering them by
// identity (see releasedFile).
func (f *follower) shedLingering() {
	for _, l := range f.lingering {
		// Up to the framer's offset: a partial line it holds is read
		// again, whole, when the file is found again.
		off := l.fr.Offset()
		f.letGo(l.r.file, off)
		f.release(l.r, off)
		l.r.file.Close()
	}
	f.lingering = nil
	f.syncClaims()
}

// readLate reads late lines of files rotated away, lingering or released
// and grown, while the follower has no current file open (parked, or
// waiting for its path). sent reports a batch handed on; ok is false
// when ctx ended.
func (f *follower) readLate(ctx context.Context) (sent, ok bool) {
	if len(f.lingering) == 0 && !f.releasedGrew() {
		return false, true
	}
	if len(f.lingering) == 0 && !f.take(ctx) {
		return false, false
	}
	f.findReleased()
	b := f.readLingering(ctx)
	if b == nil {
		return false, true
	}
	return true, f.send(ctx, b)
}
