package follow

import (
	"context"
	"time"

	"github.com/annotator-dev/annotator/checkpoint"
)

// Writing checkpoints: acknowledgements are recorded as the sink takes
// batches and written off the delivery path (see the package comment).

// checkpointed reports a failed checkpoint write. A lack of descriptors
// or disk space is waited out: the changes stay recorded and the next
// write retries them, delivery goes on, and a crash meanwhile only
// repeats lines. Any other failure (a state directory made read-only or
// removed) stops the run rather than go on with no way to resume.
func (s *Source) checkpointed(err error) {
	if err == nil {
		return
	}
	if transient(err) {
		now := time.Now().UnixNano()
		if last := s.lastWarn.Load(); now-last >= int64(10*time.Second) && s.lastWarn.CompareAndSwap(last, now) {
			s.opt.Log.Warn("cannot write checkpoint now; retrying, delivery goes on", "err", err)
		}
		return
	}
	s.failOnce.Do(func() {
		s.opt.Log.Error("cannot write checkpoint; stopping", "err", err)
		s.fatal <- err
	})
}

// acked records that the sink took a path's lines up to e.Offset in the
// file e names, or, with gone, that the path's deleted file was delivered
// to its end. It runs on the pipeline's delivery goroutine, so it only
// records, unless every batch is to be written before the next.
func (s *Source) acked(e checkpoint.Entry, gone bool) {
	if gone {
		s.store.Remove(e.Path)
	} else {
		s.store.Put(e)
	}
	if s.opt.CheckpointEvery <= 0 {
		s.checkpointed(s.flush())
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// flush writes what was acknowledged since the last write.
func (s *Source) flush() error {
	paths, err := s.store.Flush()
	if err != nil {
		return err
	}
	if s.opt.Checkpointed != nil && len(paths) > 0 {
		now := time.Now()
		for _, p := range paths {
			s.opt.Checkpointed(p, now)
		}
	}
	return nil
}

// writeCheckpoints writes acknowledged offsets as they come, starting at
// most one write per CheckpointEvery; acknowledgements made during a
// write or a pause go into the next write together. A write that took
// longer than the interval (a contended fsync) is followed at once by the
// next, so what a crash would repeat stays close to one write's worth.
func (s *Source) writeCheckpoints(ctx context.Context) {
	pause := time.NewTimer(s.opt.CheckpointEvery)
	defer pause.Stop()
	for {
		select {
		case <-s.kick:
		case <-ctx.Done():
			return // Close writes the rest
		}
		began := time.Now()
		if err := s.flush(); err != nil {
			s.checkpointed(err)
			if !transient(err) {
				return
			}
			// Retry after the pause even if nothing new is acknowledged.
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
		pause.Reset(max(0, s.opt.CheckpointEvery-time.Since(began)))
		select {
		case <-pause.C:
		case <-ctx.Done():
			return
		}
	}
}
