package follow

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// genTime orders a path's generations: by when each was last written,
// and, for two written within the same clock tick (rotations in quick
// succession while the follower was behind), by when each was created,
// since a copytruncate copy or a renamed file's successor is created
// after the generation before it. The creation time comes from statx
// where the file system keeps one; elsewhere ties stay ties.
type genTime struct {
	mtime, btime time.Time
}

func genTimeOf(file *os.File, fi os.FileInfo) genTime {
	g := genTime{mtime: fi.ModTime()}
	var stx unix.Statx_t
	if err := unix.Statx(int(file.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &stx); err == nil && stx.Mask&unix.STATX_BTIME != 0 {
		g.btime = time.Unix(stx.Btime.Sec, int64(stx.Btime.Nsec))
	}
	return g
}

// genTime is file's place among the path's generations; a decompressed
// generation keeps its compressed file's.
func (f *follower) genTime(file *os.File, fi os.FileInfo) genTime {
	if _, ino := devIno(fi); f.unpacked != nil {
		if g, ok := f.unpacked[ino]; ok {
			return g
		}
	}
	return genTimeOf(file, fi)
}

// rotatedGenTime is a rotated file's place among the generations; a
// compressed file's creation time is when it was compressed, so only its
// modification time (which logrotate keeps) counts.
func (f *follower) rotatedGenTime(r rotatedFile) genTime {
	if r.gz {
		return genTime{mtime: r.fi.ModTime()}
	}
	return f.genTime(r.f, r.fi)
}

// before reports whether g is an older generation than o.
func (g genTime) before(o genTime) bool {
	if !g.mtime.Equal(o.mtime) {
		return g.mtime.Before(o.mtime)
	}
	return g.btime.Before(o.btime)
}

// newerThan reports whether g's generation came after o's: written
// later, or, where the file system keeps creation times, created after o
// was last written. The second covers a modification time stepped back
// (a clock step, a file system keeping another clock, a touch): such a
// generation must not be skipped, since skipping loses all of its lines.
// A file created before o's last write and written less recently is
// rather a copy made while o was still written (copytruncate): not a
// newer generation.
func (g genTime) newerThan(o genTime) bool {
	if o.before(g) {
		return true
	}
	return !g.btime.IsZero() && !o.btime.IsZero() && g.btime.After(o.btime) && !g.btime.Before(o.mtime)
}

// createdBefore reports whether g's file was created before o's, where
// the file system keeps both creation times.
func (g genTime) createdBefore(o genTime) bool {
	return !g.btime.IsZero() && !o.btime.IsZero() && g.btime.Before(o.btime)
}
