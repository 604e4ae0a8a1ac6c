package follow

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/annotator-dev/annotator/checkpoint"
)

// fpMax is how many first bytes of a file make its fingerprint: enough to
// hold a log line's timestamp and more, so two log files almost never
// share it.
const fpMax = 1024

// after says what the follower does once a segment has been read to its end.
type after uint8

const (
	// afterReopen: the path now names another file (rename or delete and
	// create): open it and read it from its start.
	afterReopen after = iota
	// afterRestart: the same file was truncated (copytruncate, truncate and
	// rewrite): read it again from its start as a new file.
	afterRestart
	// afterGone: the file was deleted and nothing replaced it yet.
	afterGone
	// afterCopy: a later copytruncate copy was read whole; the next copy,
	// or the truncated file from its start, follows.
	afterCopy
)

// reader feeds one segment of a path's stream to a sources.Framer: one
// file from a start offset until rotation ends it. It reads with ReadAt
// at its own position, so a rotated copy can take over mid-stream at the
// same offset. All of its state belongs to the follower's goroutine except
// ident, which acknowledgements read.
type reader struct {
	fol  *follower
	file *os.File // the file the segment is about
	src  *os.File // where bytes come from: file, or its rotated copy
	// live is, for a copytruncate copy read whole, the truncated file to
	// go on with afterwards; liveInfo is what it was then.
	live     *os.File
	liveInfo os.FileInfo
	dev      uint64
	ino      uint64
	info     os.FileInfo // of file, for os.SameFile
	// fixed: the segment reads a rotated copy or a file found at start-up
	// by its checkpoint; it is read to its end, never checked for rotation.
	fixed bool
	pos   int64
	fp    []byte // the file's first bytes seen so far, up to fpMax
	ident atomic.Pointer[checkpoint.Identity]
	// next is set when Read ends the segment with io.EOF.
	next after
	// goneAt is the offset at which a deleted file ended (-1 before): an
	// acknowledgement reaching it deletes the path's checkpoint.
	goneAt atomic.Int64
	// lastData is when Read last returned bytes: a file rotated away is
	// let go once it has been quiet for Options.CloseInactive although its
	// successor is still empty.
	lastData time.Time
	// drained: the successor was seen holding data while this file was at
	// its end, so the writer has moved on; one more read to the end
	// catches what it wrote here before it moved, then the segment ends.
	drained bool
	// movedOn: the segment ends because the writer moved on to the
	// successor; the file is then kept open a while (lingering) for
	// other processes of the app that have not moved on yet.
	movedOn bool
	// quietAway: the file was renamed, nothing replaced it, and it was
	// quiet for CloseInactive: it is closed and remembered.
	quietAway bool
	// lingering: the segment reads late lines written to a file the
	// follower has moved on from; it ends once the file has been quiet
	// for CloseInactive, or when descriptors run short.
	lingering bool
	// size is the file's size as last seen, for progress reports made on
	// the delivery goroutine.
	size atomic.Int64
	// cancel ends the framer's current Next call: Read calls it when there
	// is nothing new, so the framer keeps a partial line and returns its
	// buffer to the pool instead of holding it while the file is quiet.
	cancel  context.CancelFunc
	scratch []byte
	// lineEnds' look ahead: from scanAt in scanSrc, bytes up to scanFrom
	// hold no '\n'.
	scanAt, scanFrom int64
	scanSrc          *os.File
	ahead            []byte
	// sinceEmpty is, for a file found empty at offset 0, its rotated
	// files then: see copies.go.
	sinceEmpty *rotatedSnapshot
}

// newReader reads file from pos. It takes the file's fingerprint now, at
// open time, so that a copytruncate happening before reading starts is
// still recognised.
func newReader(fol *follower, file *os.File, pos int64) *reader {
	fp := prefix(file, fpMax)
	r := &reader{fol: fol, file: file, src: file, pos: pos, lastData: time.Now()}
	r.goneAt.Store(-1)
	if fi, err := file.Stat(); err == nil {
		r.dev, r.ino = devIno(fi)
		r.info = fi
		r.size.Store(fi.Size())
	}
	r.fp = make([]byte, 0, fpMax)
	r.fp = append(r.fp, fp...)
	r.publish()
	return r
}

func devIno(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

func nlink(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

func (r *reader) publish() {
	id := &checkpoint.Identity{Dev: r.dev, Ino: r.ino, FPLen: len(r.fp)}
	if len(r.fp) > 0 {
		id.FPHash = checkpoint.Fingerprint(r.fp)
	}
	r.ident.Store(id)
}

// Read implements io.Reader for the framer.
func (r *reader) Read(p []byte) (int, error) {
	for {
		n, err := r.src.ReadAt(p, r.pos)
		if n > 0 && r.sinceEmpty != nil {
			snap := r.sinceEmpty
			r.sinceEmpty = nil
			if r.pos == 0 && len(r.fp) == 0 && !r.fixed {
				if copies := r.fol.copiesSince(snap, r.info); len(copies) > 0 {
					r.fol.log.Info("the file, empty when last looked at, was filled and copied away meanwhile (copytruncate); reading the copies first",
						"file", r.fol.path, "copies", len(copies))
					r.fol.copies = copies
					r.fol.unqueue(copies)
					r.next = afterRestart
					return 0, io.EOF
				}
			}
		}
		if n > 0 {
			if !r.fixed && !r.samePrefix() {
				// The file was truncated and written again while these
				// bytes were read: they belong to the new content.
				if r.truncated() {
					continue
				}
				return 0, io.EOF
			}
			r.grow(p[:n])
			r.pos += int64(n)
			r.lastData = time.Now()
			// Catch every file the path names while this one is still
			// being read, however far behind reading is: also while a
			// rotated copy or the file read before a restart is.
			pathFile := r.info
			if r.liveInfo != nil {
				pathFile = r.liveInfo
			}
			cur, err := os.Stat(r.fol.path)
			switch {
			case err != nil:
			case !os.SameFile(cur, pathFile):
				r.fol.noteSuccessor(cur)
			case pathFile == r.info:
				r.size.Store(cur.Size())
			}
			if r.pos > r.size.Load() {
				r.size.Store(r.pos)
			}
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			r.next = afterReopen
			return 0, err
		}
		switch r.atEnd() {
		case stateMore:
			continue
		case stateEnded:
			return 0, io.EOF
		}
		r.cancel()
		return 0, nil
	}
}

// grow extends the fingerprint with bytes just read at r.pos.
func (r *reader) grow(data []byte) {
	have := int64(len(r.fp))
	if have >= fpMax || r.pos > have || r.pos+int64(len(data)) <= have {
		return
	}
	data = data[have-r.pos:]
	if room := fpMax - len(r.fp); len(data) > room {
		data = data[:room]
	}
	r.fp = append(r.fp, data...)
	r.publish()
}

// samePrefix reports whether the file still starts with the bytes it
// started with when they were read.
func (r *reader) samePrefix() bool {
	if len(r.fp) == 0 {
		return true
	}
	if cap(r.scratch) < len(r.fp) {
		r.scratch = make([]byte, fpMax)
	}
	buf := r.scratch[:len(r.fp)]
	n, _ := r.file.ReadAt(buf, 0)
	return n == len(buf) && bytes.Equal(buf, r.fp)
}

type endState uint8

const (
	stateIdle  endState = iota // nothing new yet
	stateMore                  // the source changed: read again
	stateEnded                 // the segment is over (r.next says what follows)
)

// atEnd decides what the end of the data means: a quiet file, a file
// rotated away (read it to its end, then move on), or a truncated one.
func (r *reader) atEnd() endState {
	if r.lingering {
		if time.Since(r.lastData) >= r.fol.src.opt.CloseInactive || r.fol.src.open.contended() {
			return stateEnded
		}
		return stateIdle
	}
	if r.fixed {
		// A copy or a file found by its checkpoint is complete: whoever
		// made the segment fixed set r.next.
		return stateEnded
	}
	fi, err := r.file.Stat()
	if err == nil && (fi.Size() < r.pos || !r.samePrefix()) {
		if r.truncated() {
			return stateMore
		}
		return stateEnded
	}
	cur, err := os.Stat(r.fol.path)
	switch {
	case err == nil:
		dev, ino := devIno(cur)
		if dev == r.dev && ino == r.ino {
			r.drained = false
			r.size.Store(cur.Size())
			return stateIdle
		}
		r.fol.noteSuccessor(cur)
		r.next = afterReopen
	case errors.Is(err, os.ErrNotExist):
		if fi != nil && nlink(fi) > 0 {
			// Renamed, and the new file is not there yet: the writer
			// may still be writing here, so it is read on until quiet
			// for CloseInactive; then its descriptor is given back (a
			// deleted file's space is not held for ever) and the file is
			// looked at by identity, read again if it grows.
			if time.Since(r.lastData) < r.fol.src.opt.CloseInactive {
				return stateIdle
			}
			r.quietAway = true
			r.next = afterReopen
			return stateEnded
		}
		r.next = afterGone
	default:
		return stateIdle
	}
	// Rotated away. A writer goes on writing into the file it has open
	// until it reopens its log (logrotate's postrotate HUP can come
	// seconds later), so the file is read on until the writer has
	// visibly moved on: its successor holds data. The file is then read
	// once more to its end, which catches what was written here before
	// the move, and let go. A successor that stays empty keeps this file
	// followed until it has been quiet for CloseInactive.
	if r.drained {
		if r.next == afterGone {
			r.goneAt.Store(r.pos)
		}
		return stateEnded
	}
	if r.fol.successorHasData() {
		r.drained, r.movedOn = true, true
		return stateMore
	}
	if time.Since(r.lastData) >= r.fol.src.opt.CloseInactive {
		r.drained = true
		return stateMore
	}
	return stateIdle
}

// truncated handles a file that shrank or was rewritten from its start:
// the lines not yet read are looked for in a rotated copy (copytruncate)
// and read from there at the same offset; then the file is read again
// from its start. It returns true when reading goes on from a copy.
func (r *reader) truncated() bool {
	r.next = afterRestart
	if cp := r.fol.findCopy(r.fp, r.pos, r.ino); cp != nil {
		if fi, err := cp.Stat(); err == nil && fi.Size() <= r.pos {
			r.fol.log.Info("file truncated; its rotated copy holds nothing that was not read (what was written between the copy and the truncation is in no file but was read here)",
				"file", r.fol.path, "copy", cp.Name(), "offset", r.pos)
		} else {
			r.fol.log.Info("file truncated; reading the rest of its lines from the rotated copy",
				"file", r.fol.path, "copy", cp.Name(), "offset", r.pos)
		}
		r.src = cp
		r.fixed = true
		// Copies made by later rotations, while this one was still being
		// read, hold whole generations: they come before the file again.
		r.fol.copies = r.fol.newerRotatedFiles(cp, r.info)
		// The copy itself may be queued already, as a generation the
		// follower fell behind on: listed after copytruncate's copy and
		// before its truncation, while this file's first bytes were not
		// yet known to tell it for this file's copy. Its lines are read
		// here, from where reading got to: read again whole later, they
		// would come twice.
		r.fol.unqueue(append([]*os.File{cp}, r.fol.copies...))
		return true
	}
	r.fol.log.Warn("file truncated and no rotated copy starts as it did; lines written after the offset before the truncation, if any, were not read",
		"file", r.fol.path, "offset", r.pos)
	return false
}
