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
		l.r.file.Close()
		f.lingering = append(f.lingering[:i], f.lingering[i+1:]...)
		i--
	}
	return nil
}
