package follow

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/checkpoint"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sources"
)

// follower turns one path into one perpetual stream of lines, whatever
// rotation does to the files behind it. It runs in its own goroutine,
// owned by the Source.
type follower struct {
	src  *Source
	path string
	dir  string
	meta []byte
	log  *slog.Logger
	// explicit: named on the command line rather than matched by a glob;
	// it is waited for when missing instead of released.
	explicit bool
	// heldAt: the offset of the long line last said to be held back
	// while it is written, so that it is said once.
	heldAt int64
	// initial: the file was there when following started, so its start
	// position comes from the checkpoint or --start-at; a file appearing
	// later is new and read from its start.
	initial bool
	// existed: the file was there when following started.
	existed bool
	wake    chan struct{}
	tick    *time.Ticker
	done    chan struct{} // closed when run returns

	rd *reader
	fr *sources.Framer
	// succ holds, in order, the files the path named after the one being
	// read: each is read from its start once the one before it ends. They
	// are opened as soon as they are seen, so a follower behind by more
	// than one rotation still reads every generation.
	succ []*reader
	// copies are copytruncate copies to read whole before the truncated
	// file, oldest first.
	copies []*os.File

	// lingering are files moved on from, still read for late lines from
	// processes of the app that have not reopened their log yet.
	lingering []*lingerer
	// unpacked holds, by the inode of the temporary file a compressed
	// generation was decompressed into, that generation's place in the
	// order: the temporary file's own times are those of its making.
	unpacked map[uint64]genTime
	// slots is how many slots of the Source's open budget the follower
	// holds; short how many files it holds beyond them.
	slots, short int
	// released are files read for late lines that were closed while
	// descriptors ran short: found again by identity when they grow.
	released []*releasedFile
	// parked: the current file, quiet, was closed to free its descriptor;
	// rd and fr are kept (with a partial line, if any) and the file is
	// reopened by its identity once it changes.
	parked     bool
	parkedInfo os.FileInfo
	// parkedMark is the marker of the bytes before where reading stopped
	// in the parked file: an inode found again with other bytes there
	// was reused by a new file.
	parkedMark checkpoint.Marker

	waitingLogged bool
	heldLogged    bool
	errLogged     string
}

func (f *follower) run(ctx context.Context) {
	defer close(f.done)
	f.tick = time.NewTicker(f.src.opt.Poll)
	defer f.tick.Stop()
	defer f.closeAll()
	for ctx.Err() == nil {
		f.syncClaims()
		if f.parked {
			// Late lines in a file rotated away come before the quiet
			// current file: they are read while it stays closed.
			if sent, ok := f.readLate(ctx); !ok {
				return
			} else if sent {
				continue
			}
			if !f.changed() {
				f.sleep(ctx)
				continue
			}
			if !f.take(ctx) {
				return
			}
			f.unpark()
			continue
		}
		if f.fr == nil {
			if !f.take(ctx) {
				return
			}
			if !f.openNext() {
				if sent, ok := f.readLate(ctx); !ok {
					return
				} else if sent {
					continue
				}
				f.syncClaims()
				if !f.explicit && f.gone() && len(f.released) == 0 && len(f.lingering) == 0 {
					return
				}
				f.sleep(ctx)
				continue
			}
		}
		callCtx, cancel := context.WithCancel(ctx)
		f.rd.cancel = cancel
		b, err := f.fr.Next(callCtx)
		cancel()
		switch {
		case err == nil:
			if !f.send(ctx, b) {
				return
			}
		case ctx.Err() != nil:
			return
		case errors.Is(err, sources.ErrLineUnfinished):
			// A line longer than the buffer is still being written: none
			// of it goes out until its end is in the file, so a stop
			// leaves the checkpoint before it and writes nothing of it.
			// Unless the file has ended (rotated away, say): then the
			// line ends with it.
			if at := f.fr.Offset(); at != f.heldAt {
				f.heldAt = at
				f.log.Info("a line longer than the buffer is still being written; it goes out once its end is in the file",
					"file", f.path, "offset", at)
			}
			switch f.rd.atEnd() {
			case stateMore:
				continue
			case stateEnded:
				f.fr.EndStream()
				continue
			}
			f.sleep(ctx)
		case errors.Is(err, context.Canceled):
			f.findReleased()
			if b := f.readLingering(ctx); b != nil {
				if !f.send(ctx, b) {
					return
				}
				continue
			}
			// Nothing new: a quiet file gives its descriptor up when
			// another follower waits for one, or once it has been quiet
			// for CloseInactive.
			if f.src.open.contended() || time.Since(f.rd.lastData) >= f.src.opt.CloseInactive {
				f.park()
			}
			f.sleep(ctx)
		default:
			if !errors.Is(err, io.EOF) {
				f.log.Error("read failed; reopening the file", "file", f.path, "err", err)
			}
			f.endSegment()
		}
	}
}

// send hands a batch on; false when ctx ended first.
func (f *follower) send(ctx context.Context, b *pipeline.Batch) bool {
	select {
	case f.src.out <- b:
		return true
	case <-ctx.Done():
		return false
	}
}

// take makes sure the follower holds a slot of the open budget, waiting
// for one; false when ctx ended first.
func (f *follower) take(ctx context.Context) bool {
	if f.roomFor(1) {
		return true
	}
	// Files read for late lines give way to the file to read now, and
	// must, before waiting: followers each holding one and waiting for
	// another would wait for ever.
	f.shedLingering()
	if f.roomFor(1) {
		return true
	}
	if !f.src.open.acquire(ctx) {
		return false
	}
	f.slots++
	return true
}

// fitBudget matches the slots held to the files open: more are taken
// when free, the rest counted short (which makes the budget contended, so
// that quiet files elsewhere give theirs up); those no longer needed are
// given back.
func (f *follower) fitBudget(open int) {
	b := f.src.open
	for f.slots < open && b.tryAcquire() {
		f.slots++
	}
	for f.slots > open {
		b.release()
		f.slots--
	}
	if short := open - f.slots; short != f.short {
		b.short.Add(int32(short - f.short))
		f.short = short
	}
}

// giveBack returns the follower's slot once it holds no file open.
func (f *follower) giveBack() {
	f.fitBudget(0)
}

// sleep waits for news about the file: a file system event, a poll tick.
func (f *follower) sleep(ctx context.Context) {
	select {
	case <-f.wake:
	case <-f.tick.C:
	case <-ctx.Done():
	}
}

// gone reports whether a glob-matched path no longer exists, so that its
// follower is released.
func (f *follower) gone() bool {
	_, err := os.Stat(f.path)
	return errors.Is(err, os.ErrNotExist)
}

// endSegment moves on once the framer has handed on a segment's last line.
func (f *follower) endSegment() {
	r := f.rd
	f.rd, f.fr = nil, nil
	live := r.file
	var lastCopy *os.File
	if r.src != r.file {
		lastCopy = r.src // the copy read in the truncated file's place
	}
	switch r.next {
	case afterCopy:
		lastCopy = r.file
		live = r.live
		fallthrough
	case afterRestart:
		if len(f.copies) == 0 && lastCopy != nil {
			// Copies made by rotations while this one was being read
			// (a slow sink holds the follower back) hold whole
			// generations written after it: they come before the file.
			var lfi os.FileInfo
			if fi, err := live.Stat(); err == nil {
				lfi = fi
			}
			f.copies = f.newerRotatedFiles(lastCopy, lfi)
			f.unqueue(f.copies)
		}
		if len(f.copies) > 0 {
			if lastCopy != nil {
				f.closeCopy(lastCopy, r.pos)
			}
			c := f.copies[0]
			f.copies = f.copies[1:]
			nr := newReader(f, c, 0)
			nr.fixed, nr.next, nr.live = true, afterCopy, live
			if fi, err := live.Stat(); err == nil {
				nr.liveInfo = fi
			}
			f.start(nr)
			return
		}
		// Truncated, and the copies read to their end: the same file goes
		// on from its start as a new file, or after what the last copy
		// held if that copy was made and the truncation is still to come.
		pos := int64(0)
		if lastCopy != nil {
			pos = f.copiedUpTo(live, nil, lastCopy, r.pos)
			f.closeCopy(lastCopy, r.pos)
		}
		f.start(f.pathReader(live, pos))
		return
	}
	if lastCopy != nil {
		f.closeCopy(lastCopy, r.pos)
	}
	f.succ = f.withMissed(r, f.succ)
	if len(f.succ) > 0 && f.succ[0].pos == 0 && readsCopyOf(r, f.succ[0]) {
		f.succ[0].pos = f.copiedUpTo(f.succ[0].file, f.succ[0].fp, r.file, r.pos)
	}
	switch {
	case r.movedOn && f.roomFor(1):
		f.linger(r)
	case r.movedOn:
		// No descriptor to spare for late lines: the file is found
		// again by its identity if it grows.
		f.letGo(r.file, r.pos)
		f.release(r, r.pos)
		r.file.Close()
	case r.quietAway:
		f.log.Info("the file renamed away with nothing new at its path was quiet for --close-inactive; closed, and read again if it grows",
			"file", f.path, "offset", r.pos)
		f.letGo(r.file, r.pos)
		if rf := f.release(r, r.pos); rf != nil {
			rf.until = time.Now().Add(markTTL)
		}
		r.file.Close()
	default:
		if r.src == r.file {
			f.letGo(r.file, r.pos)
		}
		r.file.Close()
	}
	if r.next == afterGone && len(f.succ) == 0 {
		f.log.Info("file deleted and read to its end; released", "file", f.path)
	}
	if len(f.succ) > 0 {
		next := f.succ[0]
		f.succ = f.succ[1:]
		f.log.Info("following file", "file", f.path, "offset", next.pos)
		f.start(next)
	}
}

// start makes r the current segment.
func (f *follower) start(r *reader) {
	f.rd = r
	if r.sinceEmpty == nil && !r.fixed && r.pos == 0 && len(r.fp) == 0 {
		// Not met at the path (a rotated file, one found again by its
		// identity): its rotated files are those of now.
		r.sinceEmpty = f.snapshotRotated()
	}
	fr := sources.NewFramer(r, f.path, f.meta, f.src.opt.Pool)
	fr.SetOffset(r.pos)
	fr.EndLastLine = true
	fr.LineEnds = r.lineEnds
	store, progress := f.src.store, f.src.opt.Progress
	if store != nil || progress != nil {
		src, path := f.src, f.path
		// Called on the pipeline's delivery goroutine: ident, size and
		// goneAt are atomic.
		fr.OnDoneTail = func(off int64, tail []byte) {
			if progress != nil {
				progress(path, off, max(off, r.size.Load()))
			}
			if store == nil {
				return
			}
			// At goneAt the deleted file's last line is delivered: nothing
			// of it is left to resume.
			src.acked(checkpoint.Entry{Path: path, File: *r.ident.Load(), Offset: off, Marker: checkpoint.MarkerOf(tail)}, r.goneAt.Load() == off)
		}
	}
	f.fr = fr
	if _, ok := f.checkpointEntry(); store != nil && !ok {
		// A path's first file is checkpointed where reading starts before
		// any of its lines is handed on: a crash before the first
		// acknowledgement is written must still leave the file known, or
		// a restart would start at whatever the path names then and miss
		// the generations rotated meanwhile.
		store.Put(checkpoint.Entry{Path: f.path, File: *r.ident.Load(), Offset: r.pos, Marker: markerAt(r.file, r.pos)})
		f.src.checkpointed(f.src.flush())
	}
}

// prefix reads a file's first bytes, up to fpMax and not past n.
func prefix(file *os.File, n int64) []byte {
	if n > fpMax {
		n = fpMax
	}
	buf := make([]byte, n)
	got, _ := file.ReadAt(buf, 0)
	return buf[:got]
}

func (f *follower) closeAll() {
	defer f.giveBack()
	// The follower's files go back to the registry, with how far each
	// file read for late lines was read: a follower ending mid-run (its
	// glob's file deleted) must not keep them from another name.
	defer f.src.reg.keep(f, nil)
	for _, l := range f.lingering {
		f.letGo(l.r.file, l.fr.Offset())
		l.r.file.Close()
	}
	f.lingering = nil
	if r := f.rd; r != nil && !f.parked {
		if r.src != r.file {
			r.src.Close()
		}
		if r.live != nil {
			r.live.Close()
		}
		r.file.Close()
	}
	for _, s := range f.succ {
		s.file.Close()
	}
	for _, c := range f.copies {
		c.Close()
	}
	f.succ, f.copies, f.rd, f.fr = nil, nil, nil, nil
}

// jsonPath is the batch Meta fragment naming the file.
func jsonPath(path string) []byte {
	b := append([]byte(`"path":`), annotate.AppendJSONString(nil, []byte(path))...)
	return append(b, ',')
}
