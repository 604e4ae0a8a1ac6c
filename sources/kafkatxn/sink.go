package kafkatxn

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/internal/kafkaout"
	"github.com/annotator-dev/annotator/pipeline"
)

// Sink produces annotated records into the stage's open transaction. It
// implements pipeline.RecordSink. Write hands the records to the producer
// and returns: they become durable, or are refused, by the end of the
// transaction, which the source commits only once every batch is written
// and every record settled (see producer.settle).
type Sink struct{ p *producer }

// TakesRecords implements pipeline.RecordSink.
func (*Sink) TakesRecords() {}

// MaxRecord is the longest annotated record the output topic takes.
func (s *Sink) MaxRecord() int { return s.p.limit }

// Write produces one record per output into the open transaction.
func (s *Sink) Write(ctx context.Context, b *pipeline.Batch) error {
	return s.p.write(ctx, b)
}

// Close releases nothing: the stage owns the producer.
func (*Sink) Close() error { return nil }

// producer is the output side of a stage: what the open transaction
// produced and how it went.
type producer struct {
	stage *Stage
	limit int

	mu sync.Mutex
	// refused are the outputs the topic refused, with the cause; a
	// record batch is refused whole, so some may be good.
	refused []refusal
	// failed is the first other failure of the open transaction.
	failed error
	// fatalErr stops the stage: a record refused for itself with no
	// dead-letter topic, or a failure no retry cures.
	fatalErr error
}

type refusal struct {
	out *pipeline.Output
	rec *kgo.Record
	err error
}

func (p *producer) write(ctx context.Context, b *pipeline.Batch) error {
	if err := p.fatal(); err != nil {
		return err
	}
	cfg := &p.stage.cfg
	pool := p.stage.batches
	tb := pool.of(b)
	if tb == nil {
		// Only this stage's Next makes the batches its sink writes.
		return fmt.Errorf("kafka exactly-once: asked to write a batch of %d records this stage's input did not hand out (the sink wired to another source?)", len(b.Records))
	}
	// The output records, and their headers in the Builder's buffers, are
	// the batch's, kept with it until every record is acknowledged.
	n := len(b.Outs)
	tb.recs = slices.Grow(tb.recs[:0], n)[:n]
	tb.build.ProduceTime = cfg.ProduceTime
	tb.build.Grow(b.Outs)
	tb.refs.Add(int64(n))
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			tb.kept.Store(true)
			p.failedRecord(tb.outputOf(r), r, err)
		}
		tb.release(pool)
	}
	for i := range b.Outs {
		tb.build.Build(&tb.recs[i], cfg.OutTopic, &b.Outs[i])
		p.stage.sess.Produce(ctx, &tb.recs[i], promise)
	}
	return nil
}

// failedRecord sorts a failed record out: refused for itself (settled at
// the transaction's end), fatal, or a failure that aborts the transaction.
func (p *producer) failedRecord(o *pipeline.Output, r *kgo.Record, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case kafkaout.Refused(err):
		p.refused = append(p.refused, refusal{out: o, rec: r, err: err})
	case fenced(err):
		if p.fatalErr == nil {
			p.fatalErr = p.stage.fenced(err)
		}
	case fatalProduce(err):
		if p.fatalErr == nil {
			p.fatalErr = fmt.Errorf("kafka output: topic %s: %w", r.Topic, err)
		}
	case p.failed == nil:
		p.failed = fmt.Errorf("produce to %s: %w", r.Topic, err)
	}
	kind := "retriable"
	if kafkaout.Refused(err) {
		kind = "record"
	}
	p.stage.cfg.Produce.ProduceFailed(r.Topic, kind, 1)
}

func (p *producer) fatal() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fatalErr
}

// reset forgets the ended transaction's outcomes.
func (p *producer) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused = nil
	p.failed = nil
}

// settle waits for every record of the open transaction to be
// acknowledged or failed, then deals with the refused: each is sent
// again alone (a record batch is refused whole, so it may have been
// refused for another), and one refused alone goes to the dead-letter
// topic in this transaction, or, without one, stops the stage. An error
// means the transaction must not commit.
func (p *producer) settle(ctx context.Context) error {
	cl := p.stage.sess.Client()
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("waiting for the transaction's records to be acknowledged: %w", err)
	}
	p.mu.Lock()
	refused, failed := p.refused, p.failed
	p.refused = nil
	p.mu.Unlock()
	if failed != nil {
		return failed
	}
	for _, r := range refused {
		r.rec.Partition, r.rec.Offset = 0, 0
		err := p.stage.sess.ProduceSync(ctx, r.rec).FirstErr()
		if err == nil {
			continue
		}
		if !kafkaout.Refused(err) {
			return err
		}
		if err := p.poison(ctx, r.out, err); err != nil {
			return err
		}
	}
	return p.fatal()
}

// poison sets aside an output the topic refused on its own: its record
// goes to the dead-letter topic, in the open transaction, as it was read,
// with headers saying why and where from. Without a dead-letter topic,
// the refusal stops the stage.
func (p *producer) poison(ctx context.Context, o *pipeline.Output, cause error) error {
	cfg := &p.stage.cfg
	if cfg.DeadLetterTopic == "" || o.Source == nil {
		return p.setFatal(kafkaout.Stop(cfg.OutTopic, o, cause))
	}
	r := kafkaout.DeadLetter(cfg.DeadLetterTopic, cfg.OutTopic, o, cause)
	if err := p.stage.sess.ProduceSync(ctx, r).FirstErr(); err != nil {
		err = kafkaout.NotSetAside(cfg.OutTopic, cfg.DeadLetterTopic, o, cause, err)
		if kafkaout.Refused(err) || fatalProduce(err) {
			return p.setFatal(err)
		}
		return err
	}
	cfg.Produce.DeadLettered(o.Source.Topic)
	kafkaout.LogSetAside(p.stage.log, cfg.OutTopic, cfg.DeadLetterTopic, o, cause)
	return nil
}

func (p *producer) setFatal(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fatalErr == nil {
		p.fatalErr = err
	}
	return p.fatalErr
}

// fatalProduce reports errors no retry cures for any record: the
// credentials or the settings are wrong, or the producer was fenced.
func fatalProduce(err error) bool {
	return kafkaout.Fatal(err) || fenced(err)
}
