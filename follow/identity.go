package follow

import (
	"os"

	"github.com/annotator-dev/annotator/checkpoint"
)

// A follower's side of the identity registry: what it holds, and how far
// the files it lets go were read.

// syncClaims releases in the registry the files the follower no longer
// holds, so that another name of them may be followed from where this
// follower left them, and fits the slots of the descriptor budget it
// holds to the files it has open. Files are claimed as they are opened
// (claim is a test and a set in one), released here.
func (f *follower) syncClaims() {
	keep := f.heldKeys()
	f.src.reg.keep(f, keep)
	f.fitBudget(f.openCount(keep))
}

// openCount is how many of the held files are open: all but a parked one.
func (f *follower) openCount(keep map[fileKey]bool) int {
	if f.parked {
		return len(keep) - 1
	}
	return len(keep)
}

// roomFor reports whether the follower may open n more files: it holds,
// or can take now, a slot for each. A follower that cannot goes without
// (opens a successor later, closes a file rather than read it for late
// lines), so that --max-open-files bounds every file held.
func (f *follower) roomFor(n int) bool {
	open := f.openCount(f.heldKeys())
	for f.slots < open+n && f.src.open.tryAcquire() {
		f.slots++
	}
	return f.slots >= open+n
}

// heldKeys lists the files the follower holds.
func (f *follower) heldKeys() map[fileKey]bool {
	keep := map[fileKey]bool{}
	add := func(file *os.File) {
		if file == nil {
			return
		}
		if fi, err := file.Stat(); err == nil {
			keep[keyOf(fi)] = true
		}
	}
	if r := f.rd; r != nil {
		if f.parked {
			keep[fileKey{r.dev, r.ino}] = true
		} else {
			add(r.file)
			add(r.src)
			add(r.live)
		}
	}
	for _, s := range f.succ {
		add(s.file)
	}
	for _, c := range f.copies {
		add(c)
	}
	for _, l := range f.lingering {
		add(l.r.file)
	}
	return keep
}

// knownOffset is where reading starts in a file newly met under the
// path: where it was read to if it was read before (under another name,
// or before a restart), else its start. A known inode holding other
// bytes is a reused one: a new file.
func (f *follower) knownOffset(file *os.File, fi os.FileInfo) int64 {
	off, ok, reused := f.src.reg.known(file, fi)
	switch {
	case ok && off > 0:
		f.log.Info("the file was read before under another name; going on where it was left", "file", f.path, "offset", off)
		return off
	case reused:
		f.log.Info("the file has the inode of a file read before but other bytes (truncated and written again, or the inode reused by a new file); reading it from its start", "file", f.path)
		f.src.reg.forget(keyOf(fi))
	}
	return 0
}

// letGo records how far a file the follower closes was read, so that the
// file met again under another name goes on from there.
func (f *follower) letGo(file *os.File, pos int64) {
	fi, err := file.Stat()
	if err != nil {
		return
	}
	f.src.reg.readTo(keyOf(fi), markOf(file, prefix(file, min(pos, fpMax)), pos))
}

// markMatches reports whether file holds the bytes e's marker covers.
func markMatches(file *os.File, e checkpoint.Entry) bool {
	ok, _ := e.Marker.Matches(file, e.Offset)
	return ok
}

// readsCopyOf reports whether r reads, in the place of a file, a
// copytruncate copy of it that s is the original of: only then may s go
// on after what r read (copiedUpTo). That is so when r was opened as s's
// file (a copy found by s's checkpoint), or r's file was created after
// s's: a copy is made of a file that exists, whereas a new file that
// merely starts with the same bytes as the one before it (a banner, a
// CSV header) was created after it, and is read from its start.
func readsCopyOf(r, s *reader) bool {
	rfi, err := r.file.Stat()
	if err != nil {
		return false
	}
	sfi, err := s.file.Stat()
	if err != nil || os.SameFile(rfi, sfi) {
		return false
	}
	if k := keyOf(rfi); k.dev != r.dev || k.ino != r.ino {
		return s.dev == r.dev && s.ino == r.ino
	}
	return genTimeOf(s.file, sfi).createdBefore(genTimeOf(r.file, rfi))
}

// markerOK reports whether file holds the bytes m marks before pos.
func markerOK(m checkpoint.Marker, file *os.File, pos int64) bool {
	ok, _ := m.Matches(file, pos)
	return ok
}

// closeCopy closes a copytruncate copy read up to pos (or to its end, if
// it holds less), recording that: a generation found later is compared
// with every file read, copies included, so that a copy is never taken
// for a generation still to read.
func (f *follower) closeCopy(file *os.File, pos int64) {
	if fi, err := file.Stat(); err == nil {
		f.letGo(file, min(pos, fi.Size()))
	}
	file.Close()
}
