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
// watcher, checkpoint writes, metrics and Kafka connections, rotated
// files looked at.
const openReserve = 64

// DefaultMaxOpen is how many followed files may be open at once unless
// told otherwise: half of what the descriptor limit (RLIMIT_NOFILE) leaves
// after a reserve, since a follower behind a rotation holds the next
// generations open besides its own file.
func DefaultMaxOpen() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == unix.RLIM_INFINITY || rl.Cur > 1<<20 {
		return 1 << 16
	}
	return max(4, (int(rl.Cur)-openReserve)/2)
}

// openBudget bounds the followers holding a file open. A follower takes a
// slot before opening its path and keeps it while it reads; one whose
// file is quiet gives the slot back when another waits for one (or after
// Options.CloseInactive), and takes one again when its file changes.
type openBudget struct {
	slots   chan struct{}
	waiting atomic.Int32
}

func newOpenBudget(n int) *openBudget {
	return &openBudget{slots: make(chan struct{}, n)}
}

// acquire takes a slot, waiting for one; false when ctx ended first.
func (b *openBudget) acquire(ctx context.Context) bool {
	select {
	case b.slots <- struct{}{}:
		return true
	default:
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

func (b *openBudget) release() { <-b.slots }

// contended reports whether a follower is waiting for a slot.
func (b *openBudget) contended() bool { return b.waiting.Load() > 0 }

// transient reports whether err is a lack of resources that goes away by
// itself (descriptors, disk space): worth retrying, never worth stopping
// a sidecar for, since a checkpoint written late only means lines
// repeated after a crash, never lines lost.
func transient(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, syscall.ENOMEM)
}
