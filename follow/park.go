package follow

import "os"

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
	f.parkedMark = markerAt(r.file, r.pos)
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
	if file, err := openLog(f.path); err == nil {
		if fi, err := file.Stat(); err == nil {
			if dev, ino := devIno(fi); dev == r.dev && ino == r.ino {
				r.file, r.src, r.info = file, file, fi
				if mark, _ := f.parkedMark.Matches(file, r.pos); (!r.samePrefix() || !mark) && fi.Size() >= r.pos {
					// Other bytes where reading stopped: truncated and
					// written again (copytruncate: the rest is in the
					// copy), or a new file given the inode.
					if r.truncated() {
						return
					}
					f.log.Info("the file closed for being quiet holds other bytes now (written again from its start, or a new file given its inode); reading it from its start",
						"file", f.path, "offset", r.pos)
					f.start(newReader(f, file, 0))
				}
				return
			}
		}
		file.Close()
	}
	found := false
	rotated, done := f.listRotated()
	defer done()
	for _, rf := range rotated {
		if dev, ino := devIno(rf.fi); !found && dev == r.dev && ino == r.ino && markerOK(f.parkedMark, rf.f, r.pos) {
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
