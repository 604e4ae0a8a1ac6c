package kafkatxn

import (
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/internal/kafkaout"
	"github.com/annotator-dev/annotator/pipeline"
)

// freeBatches is how many spent batches wait to be filled again: enough
// for the pipeline's batches in flight, few enough that a burst's batches
// do not stay in memory once it is over.
const freeBatches = 8

// maxRecycled is the largest output buffer a spent batch keeps.
const maxRecycled = 8 << 20

// txnBatch is a batch with the memory that lives as long as it: the
// arena of its records' metadata and the output records produced from
// it. A batch is spent, and filled again, once the sink has written it
// (Done) and the broker has acknowledged each of its output records:
// growing all of it anew for every batch took a fifth of the stage's CPU.
type txnBatch struct {
	b     *pipeline.Batch
	arena []byte
	recs  []kgo.Record
	build kafkaout.Builder // the records' headers and codes headers
	// refs counts what still holds the batch: Done not yet called, and
	// output records not yet acknowledged.
	refs atomic.Int64
	// kept: a record of it failed, and a refusal may point into it until
	// the transaction settles; it is left to the garbage collector.
	kept atomic.Bool
}

// outputOf returns the output r was produced from.
func (tb *txnBatch) outputOf(r *kgo.Record) *pipeline.Output {
	for i := range tb.recs {
		if &tb.recs[i] == r {
			return &tb.b.Outs[i]
		}
	}
	return nil
}

// release drops one hold on the batch; the last one returns it to free,
// or, when a record of it failed, only forgets it.
func (tb *txnBatch) release(p *batchPool) {
	if tb.refs.Add(-1) != 0 {
		return
	}
	p.put(tb)
}

// batchPool hands out batches, new or spent, and knows which batch of
// the pipeline's is which.
type batchPool struct {
	free chan *txnBatch
	mu   sync.Mutex
	live map[*pipeline.Batch]*txnBatch
}

func newBatchPool() *batchPool {
	return &batchPool{free: make(chan *txnBatch, freeBatches), live: map[*pipeline.Batch]*txnBatch{}}
}

// get returns an empty batch, held once (for Done).
func (p *batchPool) get() *txnBatch {
	var tb *txnBatch
	select {
	case tb = <-p.free:
	default:
		tb = &txnBatch{b: &pipeline.Batch{}}
	}
	tb.refs.Store(1)
	tb.kept.Store(false)
	p.mu.Lock()
	p.live[tb.b] = tb
	p.mu.Unlock()
	return tb
}

// of returns the txnBatch of a batch get handed out.
func (p *batchPool) of(b *pipeline.Batch) *txnBatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live[b]
}

// put keeps a spent batch for get, or lets it go: one with a failed
// record may still be pointed into by a refusal until the transaction
// settles.
func (p *batchPool) put(tb *txnBatch) {
	p.mu.Lock()
	delete(p.live, tb.b)
	p.mu.Unlock()
	if tb.kept.Load() || cap(tb.b.Out) > maxRecycled {
		return
	}
	tb.b.Reset()
	clear(tb.recs)
	tb.recs = tb.recs[:0]
	tb.build.Reset()
	select {
	case p.free <- tb:
	default:
	}
}

// forget lets go of every batch handed out, for Close: those still held
// are left to the garbage collector.
func (p *batchPool) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for b, tb := range p.live {
		tb.kept.Store(true)
		delete(p.live, b)
	}
}
