package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
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
	// holding: the follower has a slot of the Source's open budget.
	holding bool
	// parked: the current file, quiet, was closed to free its descriptor;
	// rd and fr are kept (with a partial line, if any) and the file is
	// reopened by its identity once it changes.
	parked     bool
	parkedInfo os.FileInfo

	waitingLogged bool
	errLogged     string
}

func (f *follower) run(ctx context.Context) {
	defer close(f.done)
	f.tick = time.NewTicker(f.src.opt.Poll)
	defer f.tick.Stop()
	defer f.closeAll()
	for ctx.Err() == nil {
		if f.parked {
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
				f.giveBack()
				if !f.explicit && f.gone() {
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
			select {
			case f.src.out <- b:
			case <-ctx.Done():
				return
			}
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.Canceled):
			if b := f.readLingering(ctx); b != nil {
				select {
				case f.src.out <- b:
				case <-ctx.Done():
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

// take makes sure the follower holds a slot of the open budget, waiting
// for one; false when ctx ended first.
func (f *follower) take(ctx context.Context) bool {
	if f.holding {
		return true
	}
	if !f.src.open.acquire(ctx) {
		return false
	}
	f.holding = true
	return true
}

// giveBack returns the follower's slot once it holds no file open.
func (f *follower) giveBack() {
	if f.holding {
		f.holding = false
		f.src.open.release()
	}
}

// park closes the current file while it is quiet, keeping where reading
// is, when the path still names it and nothing else is held open: not
// during a rotation, a copy or a file found by its checkpoint.
func (f *follower) park() {
	r := f.rd
	if r == nil || r.fixed || r.src != r.file || r.live != nil || len(f.succ) > 0 || len(f.copies) > 0 || len(f.lingering) > 0 {
		return
	}
	cur, err := os.Stat(f.path)
	if err != nil {
		return
	}
	if dev, ino := devIno(cur); dev != r.dev || ino != r.ino || cur.Size() != r.pos {
		return
	}
	r.file.Close()
	f.parked = true
	f.parkedInfo = cur
	f.giveBack()
}

// changed reports whether a parked file may have something new: the
// path names another file (or none), or the file's size or modification
// time moved.
func (f *follower) changed() bool {
	cur, err := os.Stat(f.path)
	if err != nil {
		return true
	}
	p := f.parkedInfo
	return !os.SameFile(cur, p) || cur.Size() != p.Size() || !cur.ModTime().Equal(p.ModTime())
}

// unpark reopens a parked file by its identity: at the path, or, if
// rotation took it away meanwhile, among the rotated files. Reading then
// goes on where it stopped, rotation handled as for an open file. A file
// no longer found anywhere (deleted, or compressed away) is given up:
// the path's current file is read from its start.
func (f *follower) unpark() {
	r := f.rd
	f.parked, f.parkedInfo = false, nil
	if file, err := os.Open(f.path); err == nil {
		if fi, err := file.Stat(); err == nil {
			if dev, ino := devIno(fi); dev == r.dev && ino == r.ino {
				r.file, r.src, r.info = file, file, fi
				return
			}
		}
		file.Close()
	}
	found := false
	for _, rf := range f.rotatedFiles() {
		if dev, ino := devIno(rf.fi); !found && dev == r.dev && ino == r.ino {
			r.file, r.src, r.info = rf.f, rf.f, rf.fi
			found = true
			continue
		}
		rf.f.Close()
	}
	if found {
		f.log.Info("reopened the file rotated while closed for being quiet", "file", f.path, "now", r.file.Name(), "offset", r.pos)
		return
	}
	f.log.Warn("the file closed for being quiet was rotated away and is not among the rotated files; lines written to it since, if any, cannot be read",
		"file", f.path, "offset", r.pos)
	f.rd, f.fr = nil, nil
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
				lastCopy.Close()
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
			lastCopy.Close()
		}
		f.start(newReader(f, live, pos))
		return
	}
	if lastCopy != nil {
		lastCopy.Close()
	}
	f.succ = f.withMissed(r, f.succ)
	if len(f.succ) > 0 && f.succ[0].pos == 0 {
		f.succ[0].pos = f.copiedUpTo(f.succ[0].file, f.succ[0].fp, r.file, r.pos)
	}
	if r.movedOn {
		f.linger(r)
	} else {
		r.file.Close()
	}
	if r.next == afterGone && len(f.succ) == 0 {
		f.log.Info("file deleted and read to its end; released", "file", f.path)
	}
	if len(f.succ) > 0 {
		next := f.succ[0]
		f.succ = f.succ[1:]
		f.log.Info("following file", "file", f.path, "offset", 0)
		f.start(next)
	}
}

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
		l.r.file.Close()
		f.lingering = append(f.lingering[:i], f.lingering[i+1:]...)
		i--
	}
	return nil
}

// successorHasData reports whether the file the path names after the one
// being read has been written to: its writer has moved on to it.
func (f *follower) successorHasData() bool {
	if len(f.succ) == 0 {
		return false
	}
	fi, err := f.succ[0].file.Stat()
	return err == nil && fi.Size() > 0
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
	file, err := f.open()
	if err != nil {
		return
	}
	if fi, err := file.Stat(); err == nil {
		if d, i := devIno(fi); d == dev && i == ino {
			f.succ = append(f.succ, newReader(f, file, 0))
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
	for _, rf := range f.rotatedFiles() {
		t := f.rotatedGenTime(rf)
		keep := !os.SameFile(rf.fi, dfi) && dgen.before(t) && !rf.copyOf(done.fp) && !f.isLingering(rf.fi)
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
		missed = append(missed, gen{newReader(f, file, 0), t})
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

// copyOf reports whether the file's content starts with fp, a
// fingerprint of another file's first bytes.
func (r rotatedFile) copyOf(fp []byte) bool {
	return len(fp) > 0 && bytes.Equal(r.head(int64(len(fp))), fp)
}

// start makes r the current segment.
func (f *follower) start(r *reader) {
	f.rd = r
	fr := sources.NewFramer(r, f.path, f.meta, f.src.opt.Pool)
	fr.SetOffset(r.pos)
	fr.EndLastLine = true
	store, progress := f.src.store, f.src.opt.Progress
	if store != nil || progress != nil {
		src, path := f.src, f.path
		// Called on the pipeline's delivery goroutine: ident, size and
		// goneAt are atomic.
		fr.OnDone = func(off int64) {
			if progress != nil {
				progress(path, off, max(off, r.size.Load()))
			}
			if store == nil {
				return
			}
			// At goneAt the deleted file's last line is delivered: nothing
			// of it is left to resume.
			src.acked(checkpoint.Entry{Path: path, File: *r.ident.Load(), Offset: off}, r.goneAt.Load() == off)
		}
	}
	f.fr = fr
	if _, ok := f.checkpointEntry(); store != nil && !ok {
		// A path's first file is checkpointed where reading starts before
		// any of its lines is handed on: a crash before the first
		// acknowledgement is written must still leave the file known, or
		// a restart would start at whatever the path names then and miss
		// the generations rotated meanwhile.
		store.Put(checkpoint.Entry{Path: f.path, File: *r.ident.Load(), Offset: r.pos})
		f.src.checkpointed(f.src.flush())
	}
}

// openNext starts the next segment: one queued at start-up, or the file
// the path names now. It returns false when there is nothing to read yet.
func (f *follower) openNext() bool {
	if len(f.succ) > 0 {
		next := f.succ[0]
		f.succ = f.succ[1:]
		f.start(next)
		return true
	}
	file, err := f.open()
	if err != nil && errors.Is(err, os.ErrNotExist) && f.initial {
		// Renamed away while stopped, and nothing new created yet: the
		// file read last may still have lines to finish.
		f.initial = false
		if e, ok := f.checkpointEntry(); ok {
			if old := f.findByIdentity(e); old != nil {
				f.succ = append(f.newerRotated(old, nil), f.succ...)
				f.startRotated(old, e)
				return true
			}
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if !f.waitingLogged {
				f.log.Info("waiting for the file to appear", "file", f.path)
				f.waitingLogged = true
			}
		} else if msg := err.Error(); msg != f.errLogged {
			f.log.Error("cannot follow file; retrying", "file", f.path, "err", err)
			f.errLogged = msg
		}
		return false
	}
	if f.waitingLogged {
		f.log.Info("file appeared", "file", f.path)
	}
	f.waitingLogged, f.errLogged = false, ""
	initial := f.initial
	f.initial = false
	if !initial {
		f.log.Info("following file", "file", f.path, "offset", 0)
		f.start(newReader(f, file, 0))
		return true
	}
	f.resume(file)
	return true
}

// open opens the path, refusing directories.
func (f *follower) open() (*os.File, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("stat %s: %w", f.path, err)
	}
	if fi.IsDir() {
		file.Close()
		return nil, fmt.Errorf("%s is a directory, not a log file", f.path)
	}
	return file, nil
}

// resume decides where reading starts in a file that was there when
// following started: where its checkpoint says, after finishing the file
// the checkpoint names if rotation replaced it meanwhile; else per
// --start-at.
func (f *follower) resume(file *os.File) {
	opt := &f.src.opt
	e, ok := f.checkpointEntry()
	if !ok {
		pos := int64(0)
		if opt.StartAt == StartEnd && f.existed && !f.src.unknownFromStart {
			pos = lastLineEnd(file)
		}
		f.log.Info("following file", "file", f.path, "offset", pos)
		f.start(newReader(f, file, pos))
		return
	}
	fi, err := file.Stat()
	if err == nil {
		dev, ino := devIno(fi)
		if dev == e.File.Dev && ino == e.File.Ino && fi.Size() >= e.Offset {
			if same, _ := e.File.Matches(file); same {
				f.log.Info("following file from its checkpoint", "file", f.path, "offset", e.Offset)
				f.start(newReader(f, file, e.Offset))
				return
			}
		}
	}
	// The file checkpointed is not at the path any more (or not as it
	// was): rotation happened while stopped. Finish it where it lies now,
	// then read the path's current file from its start.
	if old := f.findByIdentity(e); old != nil {
		// The path's file was opened before the rotated files were
		// listed: a rotation meanwhile may have renamed it among them. It
		// is read once, last; its reader finds what replaced it.
		f.succ = append(append(f.newerRotated(old, file), newReader(f, file, 0)), f.succ...)
		f.startRotated(old, e)
		return
	}
	f.log.Warn("the file read last was rotated away while stopped and is not among the rotated copies; lines it had after the checkpoint cannot be read",
		"file", f.path, "offset", e.Offset, "rotated", strings.Join(opt.Rotated, ","))
	f.start(newReader(f, file, 0))
}

func (f *follower) checkpointEntry() (checkpoint.Entry, bool) {
	if f.src.store == nil {
		return checkpoint.Entry{}, false
	}
	return f.src.store.Get(f.path)
}

// startRotated finishes, from its checkpoint, the file read last before a
// restart, found under its rotated name.
func (f *follower) startRotated(old *os.File, e checkpoint.Entry) {
	r := newReader(f, old, e.Offset)
	r.dev, r.ino = e.File.Dev, e.File.Ino
	r.publish()
	r.fixed, r.next = true, afterReopen
	f.log.Info("resuming the file read last, rotated while stopped", "file", f.path, "now", old.Name(), "offset", e.Offset)
	f.start(r)
}

// copiedUpTo is where reading the live file starts after cp, the
// generation just read to n, when cp is a copytruncate copy of it (the
// copy is made first, then the file truncated). Reading the file from
// its start would repeat cp's lines when
//
//   - its truncation is still to come: it still holds cp's first n bytes,
//     the first and last of them where they stand in cp; or
//   - it was opened (openFP: its first bytes then, if known) before the
//     truncation, with cp's content: the reader then sees the truncation
//     and reads what cp holds past n from cp (reader.truncated).
//
// In both cases reading goes on at n, which also covers a copy read while
// it was still being made. It is 0 otherwise.
func (f *follower) copiedUpTo(live *os.File, openFP []byte, cp *os.File, n int64) int64 {
	if n <= 0 {
		return 0
	}
	lfi, err := live.Stat()
	if err != nil {
		return 0
	}
	if cfi, err := cp.Stat(); err != nil || os.SameFile(lfi, cfi) {
		return 0
	}
	k := min(n, fpMax)
	head := make([]byte, k)
	if got, _ := cp.ReadAt(head, 0); int64(got) != k {
		return 0
	}
	if int64(len(openFP)) >= k && bytes.Equal(openFP[:k], head) {
		f.log.Info("the file held the lines of its copy when opened; reading on after them",
			"file", f.path, "copy", cp.Name(), "offset", n)
		return n
	}
	if lfi.Size() < n {
		return 0
	}
	tail, b := make([]byte, k), make([]byte, k)
	if got, _ := cp.ReadAt(tail, n-k); int64(got) != k {
		return 0
	}
	for _, want := range []struct {
		at int64
		p  []byte
	}{{0, head}, {n - k, tail}} {
		if got, _ := live.ReadAt(b, want.at); int64(got) != k || !bytes.Equal(b, want.p) {
			return 0
		}
	}
	f.log.Info("the file's copy holds its lines so far and its truncation is still to come; reading on after them",
		"file", f.path, "copy", cp.Name(), "offset", n)
	return n
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

// lastLineEnd is the offset just past a file's last newline: starting at
// the end, a line still being written is read whole.
func lastLineEnd(file *os.File) int64 {
	fi, err := file.Stat()
	if err != nil {
		return 0
	}
	end := fi.Size()
	buf := make([]byte, 64<<10)
	for end > 0 {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		got, err := file.ReadAt(buf[:n], end-n)
		if err != nil && int64(got) < n {
			return 0
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1
		}
		end -= n
	}
	return 0
}

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
func (f *follower) rotatedFiles() []rotatedFile {
	var out []rotatedFile
	for attempt := 0; ; attempt++ {
		names := f.rotatedNames()
		out = out[:0]
		stable := true
		for _, name := range names {
			c, err := os.Open(name)
			if err != nil {
				stable = false // renamed away since listed
				continue
			}
			fi, err := c.Stat()
			if err != nil || !fi.Mode().IsRegular() || compressedOtherwise(name) {
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
	for _, r := range f.rotatedFiles() {
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
	for _, r := range f.rotatedFiles() {
		keep := false
		// A file checkpointed while still empty has no fingerprint: only
		// its inode tells it, and no copy can be recognised.
		if same == nil && r.matches(e.File) {
			dev, ino := devIno(r.fi)
			switch {
			case dev == e.File.Dev && ino == e.File.Ino && !r.gz:
				if r.fi.Size() >= e.Offset {
					same, keep = r.f, true
				}
			case copyFile == nil && e.File.FPLen > 0:
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
		if fi, err := file.Stat(); err == nil && cfi != nil && os.SameFile(fi, cfi) {
			file.Close()
			continue
		}
		out = append(out, newReader(f, file, 0))
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
	type gen struct {
		rotatedFile
		t genTime
	}
	var gens []gen
	for _, r := range f.rotatedFiles() {
		t := f.rotatedGenTime(r)
		if os.SameFile(r.fi, ofi) || !ogen.before(t) || r.copyOf(ofp) || f.isLingering(r.fi) {
			r.f.Close()
			continue
		}
		gens = append(gens, gen{r, t})
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i].t.before(gens[j].t) })
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

func (f *follower) closeAll() {
	defer f.giveBack()
	for _, l := range f.lingering {
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
