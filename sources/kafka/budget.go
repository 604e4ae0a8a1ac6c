package kafka

import (
	"context"
	"sync"
	"unsafe"

	"github.com/annotator-dev/annotator/pipeline"
)

// budget bounds the bytes of the records fetched and not yet delivered, so
// that a stage catching up on a backlog holds the same memory whatever
// the backlog's size, its records' size or its number of partitions: each
// fetch loop takes room for a fetch before sending it (waiting while the
// budget is spent), settles it to what the fetched records hold once read,
// and a batch gives its records' bytes back once the sink has taken it.
// Fetches in flight at once can go over the budget together by what
// their records hold beyond the room they took; the fetches after them
// wait until that is delivered.
type budget struct {
	mu   sync.Mutex
	size int64
	used int64
	peak int64
	// freed is closed, and replaced, whenever bytes are given back.
	freed chan struct{}
}

func newBudget(size int64) *budget {
	return &budget{size: size, freed: make(chan struct{})}
}

// take waits until n bytes fit, or until ctx is done, and returns what it
// took. Asked for more than the whole budget, it takes all of it: it waits
// for everything else to be delivered, and then goes alone.
func (b *budget) take(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.size)
	for {
		b.mu.Lock()
		if b.used+n <= b.size {
			b.used += n
			b.peak = max(b.peak, b.used)
			b.mu.Unlock()
			return n, nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// settle turns room taken for a fetch into what the fetch's records
// turned out to hold: it gives back what is over, or takes what is
// missing without waiting (the records are already in memory; the
// fetches that follow wait for the excess to be delivered). It returns
// the bytes now taken for the records.
func (b *budget) settle(room, n int64) int64 {
	b.mu.Lock()
	b.used += n - room
	b.peak = max(b.peak, b.used)
	if n < room {
		close(b.freed)
		b.freed = make(chan struct{})
	}
	b.mu.Unlock()
	return n
}

// give returns n bytes taken.
func (b *budget) give(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// spent is the bytes taken now, and the most ever taken at once.
func (b *budget) spent() (now, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.peak
}

// The arenas read copies a fetch's records into: the first of firstArena
// bytes, then blocks of arenaBlock (or of one record, if larger); see
// read and readInto.
const (
	firstArena = 32 << 10
	arenaBlock = 256 << 10
)

// bytes is what c's records hold in memory: the arenas holding their keys,
// values, headers and JSON metadata, and the records themselves. The
// arenas are estimated from the bytes they hold, as read fills them: a
// fetch of a few records still holds a whole first arena, and one a
// little larger than that a whole block more.
func (c *chunk) bytes() int64 {
	var data int64
	for i := range c.recs {
		r := &c.recs[i]
		data += int64(len(r.Key) + len(r.Value) + len(r.Meta))
		for _, h := range r.Headers {
			data += int64(len(h.Value))
		}
	}
	arenas := int64(firstArena)
	if over := data - firstArena; over > 0 {
		arenas += (over + arenaBlock - 1) / arenaBlock * arenaBlock
	}
	n := arenas + int64(cap(c.recs))*int64(unsafe.Sizeof(pipeline.Record{}))
	for i := range c.recs {
		for _, h := range c.recs[i].Headers {
			n += int64(unsafe.Sizeof(h)) + int64(len(h.Key))
		}
	}
	return n
}
