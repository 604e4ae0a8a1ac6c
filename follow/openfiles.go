package follow

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// openReserve is what DefaultMaxOpen leaves of the descriptor limit for
// everything but followed files: standard streams, the notification
// watcher, checkpoint writes, metrics and Kafka connections, and the
// rotated files a follower looks at for a moment (a listing opens them
// to tell them apart).
const openReserve = 64

// DefaultMaxOpen is how many followed files may be open at once unless
// told otherwise: three quarters of what the descriptor limit
// (RLIMIT_NOFILE) leaves after the reserve. Every file held counts (see
// openBudget); the rest is the margin for everything else the process
// opens, rotated files looked at for a moment among them.
func DefaultMaxOpen() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == unix.RLIM_INFINITY || rl.Cur > 1<<20 {
		return 1 << 16
	}
	return max(4, (int(rl.Cur)-openReserve)*3/4)
}

// openBudget bounds the followed files open at once: every file a
// follower holds counts, its current file, the generations queued after
// it, copies and files read for late lines. A follower takes a slot
// before opening its path (waiting for one) and, for each further file,
// takes one when one is free; short counts the files held beyond the
// slots taken. Waiting and short both make the budget contended: quiet
// files then give their descriptors up (park), and files read for late
// lines are closed, to be found again by their identity when they grow.
type openBudget struct {
	slots   chan struct{}
	waiting atomic.Int32
	short   atomic.Int32
}

func newOpenBudget(n int) *openBudget {
	return &openBudget{slots: make(chan struct{}, n)}
}

// acquire takes a slot, waiting for one; false when ctx ended first.
func (b *openBudget) acquire(ctx context.Context) bool {
	if b.tryAcquire() {
		return true
	}
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	select {
	case b.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// tryAcquire takes a slot if one is free.
func (b *openBudget) tryAcquire() bool {
	select {
	case b.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (b *openBudget) release() { <-b.slots }

// contended reports whether a follower waits for a slot or holds more
// files than slots.
func (b *openBudget) contended() bool { return b.waiting.Load() > 0 || b.short.Load() > 0 }

// transient reports whether err is a lack of resources that goes away by
// itself (descriptors, disk space): worth retrying, never worth stopping
// a sidecar for, since a checkpoint written late only means lines
// repeated after a crash, never lines lost.
func transient(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, syscall.ENOMEM)
}
