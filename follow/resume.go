package follow

import (
	"bytes"
	"errors"
	"os"
	"strings"

	"github.com/annotator-dev/annotator/checkpoint"
)

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
	if fi, err := file.Stat(); err == nil && !f.src.reg.claim(f, fi) {
		// Another follower reads this file (a link and its target, or a
		// glob's rotated name): it comes out once, through that one. A
		// file this follower takes later is no longer one that was there
		// at the start: --start-at does not apply to it.
		f.initial = false
		file.Close()
		if !f.heldLogged {
			f.log.Info("the file is read under another name; waiting", "file", f.path)
			f.heldLogged = true
		}
		return false
	}
	f.heldLogged = false
	if f.waitingLogged {
		f.log.Info("file appeared", "file", f.path)
	}
	f.waitingLogged, f.errLogged = false, ""
	initial := f.initial
	f.initial = false
	if !initial {
		pos := int64(0)
		if fi, err := file.Stat(); err == nil {
			pos = f.knownOffset(file, fi)
		}
		f.log.Info("following file", "file", f.path, "offset", pos)
		f.start(f.pathReader(file, pos))
		return true
	}
	f.resume(file)
	return true
}

// open opens the path, refusing anything but a regular file.
func (f *follower) open() (*os.File, error) {
	return openLog(f.path)
}

// resume decides where reading starts in a file that was there when
// following started: where its checkpoint says, after finishing the file
// the checkpoint names if rotation replaced it meanwhile; else per
// --start-at.
func (f *follower) resume(file *os.File) {
	opt := &f.src.opt
	e, ok := f.checkpointEntry()
	fi, err := file.Stat()
	if !ok && err == nil {
		// No checkpoint for this name, but perhaps for the file under
		// another: a glob's rotated name, a renamed file.
		if off, known, _ := f.src.reg.known(file, fi); known {
			f.log.Info("following file from the checkpoint of another name it had", "file", f.path, "offset", off)
			f.start(newReader(f, file, off))
			return
		}
	}
	if !ok {
		pos := int64(0)
		if opt.StartAt == StartEnd && f.existed && !f.src.unknownFromStart {
			pos = lastLineEnd(file)
		}
		f.log.Info("following file", "file", f.path, "offset", pos)
		f.start(newReader(f, file, pos))
		return
	}
	pathPos := int64(0)
	if err == nil {
		dev, ino := devIno(fi)
		if dev == e.File.Dev && ino == e.File.Ino {
			same, _ := e.File.Matches(file)
			mark, _ := e.Marker.Matches(file, e.Offset)
			if same && mark && fi.Size() >= e.Offset {
				f.log.Info("following file from its checkpoint", "file", f.path, "offset", e.Offset)
				f.start(newReader(f, file, e.Offset))
				return
			}
			if same && mark {
				f.log.Warn("the file is shorter than its checkpoint (truncated while stopped); reading it from its start", "file", f.path, "offset", e.Offset, "size", fi.Size())
			} else {
				f.log.Info("the file has the inode of the file checkpointed but other bytes (truncated and written again while stopped, or the inode reused by a new file); reading it from its start, after any copy of the file checkpointed",
					"file", f.path, "offset", e.Offset)
			}
		}
		pathPos = f.knownOffset(file, fi)
	}
	// The file checkpointed is not at the path any more (or not as it
	// was): rotation happened while stopped. Finish it where it lies now,
	// then read the path's current file from its start.
	if old := f.findByIdentity(e); old != nil {
		// The path's file was opened before the rotated files were
		// listed: a rotation meanwhile may have renamed it among them. It
		// is read once, last; its reader finds what replaced it.
		f.succ = append(append(f.newerRotated(old, file), newReader(f, file, pathPos)), f.succ...)
		f.startRotated(old, e)
		return
	}
	f.log.Warn("the file read last was rotated away while stopped and is not among the rotated copies; lines it had after the checkpoint cannot be read",
		"file", f.path, "offset", e.Offset, "rotated", strings.Join(opt.Rotated, ","))
	f.start(newReader(f, file, pathPos))
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
	if lfi.Size() < n {
		// Truncated since it was opened: when it held the copy's bytes
		// then, its reader finds the truncation and reads the rest from
		// the copy. First bytes alone say so only here: a file as long
		// as the copy must hold the copy's last bytes too (below), or a
		// file written again from a banner would be taken for it.
		if int64(len(openFP)) >= k && bytes.Equal(openFP[:k], head) {
			f.log.Info("the file held the lines of its copy when opened; reading on after them",
				"file", f.path, "copy", cp.Name(), "offset", n)
			return n
		}
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
