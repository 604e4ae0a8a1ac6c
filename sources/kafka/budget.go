package kafka

import (
	"sync"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/pipeline"
)

// budget bounds the bytes of the records fetched and not yet delivered, so
// that a stage catching up on a backlog holds the same memory whatever
// the backlog's size, its records' size or its number of partitions.
//
// franz-go holds, per broker, one fetch at a time: it sends the next only
// once this source has polled the last one empty (and no more than
// MaxConcurrentFetches are on their way at once). Next polls only while
// the records it handed out leave room in the budget and none polled
// wait, and hands a record out only if it fits (or if nothing else is
// out): so what is held is the
// budget, what one poll took beyond it (waiting in pending), and a fetch
// per broker. A batch gives its records' bytes back once the sink has
// taken it.
type budget struct {
	mu      sync.Mutex
	size    int64
	handed  int64 // in batches handed out and not yet delivered
	pending int64 // polled and not yet in a batch
	peak    int64
	// buffered is what franz-go holds fetched and not yet polled.
	buffered func() int64
	// freed is closed, and replaced, whenever handed bytes are given
	// back.
	freed chan struct{}
}

func newBudget(size int64) *budget {
	return &budget{size: size, freed: make(chan struct{}), buffered: func() int64 { return 0 }}
}

// polled counts n bytes just polled, pending.
func (b *budget) polled(n int64) {
	b.mu.Lock()
	b.pending += n
	b.peak = max(b.peak, b.handed+b.pending+b.buffered())
	b.mu.Unlock()
}

// dropped forgets n pending bytes that will not be handed out.
func (b *budget) dropped(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.pending -= n
	b.mu.Unlock()
}

// room reports whether the records handed out leave room for more, and
// if not, a channel closed once some are given back.
func (b *budget) room() (bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.handed < b.size, b.freed
}

// available is the room the records handed out leave, and whether none
// are out.
func (b *budget) available() (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size - b.handed, b.handed == 0
}

// handOut moves n pending bytes to a batch: the caller has checked that
// they fit (see available).
func (b *budget) handOut(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.pending -= n
	b.handed += n
	b.mu.Unlock()
}

// give returns n bytes handed out.
func (b *budget) give(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.handed -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// spent is the bytes held now, and the most ever held at once.
func (b *budget) spent() (now, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.handed + b.pending + b.buffered(), b.peak
}

// recordOverhead is what a record holds beyond its bytes: franz-go's
// record and the pipeline's, and its JSON metadata beyond the topic's
// name.
const recordOverhead = int64(unsafe.Sizeof(kgo.Record{}) + unsafe.Sizeof(pipeline.Record{}) + 48)

// recordBytes is what r holds in memory once handed out.
func recordBytes(r *kgo.Record) int64 {
	n := int64(len(r.Key)+len(r.Value)+len(r.Topic)) + recordOverhead
	for _, h := range r.Headers {
		n += int64(len(h.Key)+len(h.Value)) + int64(unsafe.Sizeof(h)+unsafe.Sizeof(pipeline.Header{}))
	}
	return n
}

// fetchOpts bound what franz-go fetches ahead of Next: a fetch is at most
// FetchBytes, one partition may fill it, and no more fetches are on their
// way at once than fill a quarter of the budget.
func (s *Source) fetchOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.FetchMaxBytes(int32(s.cfg.FetchBytes)),
		kgo.FetchMaxPartitionBytes(int32(s.cfg.FetchBytes)),
		kgo.MaxConcurrentFetches(max(1, s.cfg.InFlightBytes/4/s.cfg.FetchBytes)),
	}
}
