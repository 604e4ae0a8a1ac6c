package kafkatxn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/pipeline"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
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
		return fmt.Errorf("kafka exactly-once: a batch this stage did not hand out")
	}
	// The output records and their headers are two slabs of the batch's,
	// kept with it until every record is acknowledged.
	n, nh, nc := len(b.Outs), 0, 0
	for i := range b.Outs {
		nh += len(b.Outs[i].Headers) + 1
		for _, c := range b.Outs[i].Codes {
			nc += len(c) + 1
		}
	}
	tb.recs = slices.Grow(tb.recs[:0], n)[:n]
	tb.hdrs = slices.Grow(tb.hdrs[:0], nh)
	codes := slices.Grow(tb.codes[:0], nc)
	tb.refs.Add(int64(n))
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			tb.kept.Store(true)
			p.failedRecord(tb.outputOf(r), r, err)
		}
		tb.release(pool)
	}
	for i := range b.Outs {
		o := &b.Outs[i]
		r := &tb.recs[i]
		*r = kgo.Record{Topic: cfg.OutTopic, Key: o.Key, Value: o.Value}
		if o.Source != nil && !cfg.ProduceTime {
			r.Timestamp = o.Source.Time
		}
		h0 := len(tb.hdrs)
		for _, h := range o.Headers {
			if h.Key != kafkasink.CodesHeader {
				tb.hdrs = append(tb.hdrs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
		}
		if len(o.Codes) > 0 {
			c0 := len(codes)
			for j, c := range o.Codes {
				if j > 0 {
					codes = append(codes, ',')
				}
				codes = append(codes, c...)
			}
			tb.hdrs = append(tb.hdrs, kgo.RecordHeader{Key: kafkasink.CodesHeader, Value: codes[c0:len(codes):len(codes)]})
		}
		if len(tb.hdrs) > h0 {
			r.Headers = tb.hdrs[h0:len(tb.hdrs):len(tb.hdrs)]
		}
		p.stage.sess.Produce(ctx, r, promise)
	}
	tb.codes = codes
	return nil
}

// failedRecord sorts a failed record out: refused for itself (settled at
// the transaction's end), fatal, or a failure that aborts the transaction.
func (p *producer) failedRecord(o *pipeline.Output, r *kgo.Record, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case refusedRecord(err):
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
	if refusedRecord(err) {
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
		return err
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
		if !refusedRecord(err) {
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
	src := o.Source
	if cfg.DeadLetterTopic == "" || src == nil {
		where := fmt.Sprintf("a line (annotated, %d bytes)", len(o.Value))
		if src != nil {
			where = fmt.Sprintf("the record at topic %s partition %d offset %d (annotated, %d bytes)", src.Topic, src.Partition, src.Offset, len(o.Value))
		}
		return p.setFatal(fmt.Errorf("kafka topic %s refused %s: %w; --kafka-dlq-topic sets such records aside instead", cfg.OutTopic, where, cause))
	}
	r := &kgo.Record{Topic: cfg.DeadLetterTopic, Key: src.Key, Value: src.Value, Timestamp: src.Time}
	for _, h := range src.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	r.Headers = append(r.Headers,
		kgo.RecordHeader{Key: kafkasink.ErrorHeader, Value: fmt.Appendf(nil, "produce to %s: %v (annotated value %d bytes)", cfg.OutTopic, cause, len(o.Value))},
		kgo.RecordHeader{Key: kafkasink.SourceTopicHeader, Value: []byte(src.Topic)},
		kgo.RecordHeader{Key: kafkasink.SourcePartitionHeader, Value: strconv.AppendInt(nil, int64(src.Partition), 10)},
		kgo.RecordHeader{Key: kafkasink.SourceOffsetHeader, Value: strconv.AppendInt(nil, src.Offset, 10)},
	)
	if err := p.stage.sess.ProduceSync(ctx, r).FirstErr(); err != nil {
		err = fmt.Errorf("kafka topic %s refused the record at topic %s partition %d offset %d (%v), and the dead-letter topic %s did not take it: %w",
			cfg.OutTopic, src.Topic, src.Partition, src.Offset, cause, cfg.DeadLetterTopic, err)
		if refusedRecord(err) || fatalProduce(err) {
			return p.setFatal(err)
		}
		return err
	}
	cfg.Produce.DeadLettered(src.Topic)
	p.stage.log.Warn("kafka output: record refused, set aside in the dead-letter topic", "topic", cfg.OutTopic,
		"dlq", cfg.DeadLetterTopic, "source_topic", src.Topic, "partition", src.Partition, "offset", src.Offset, "err", cause)
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

// refusedRecord reports errors that refuse records for what they are:
// sending them again cannot succeed, but other records can.
func refusedRecord(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.InvalidTimestamp) ||
		errors.Is(err, kerr.CorruptMessage)
}

// fatalProduce reports errors no retry cures for any record: the
// credentials or the settings are wrong, or the producer was fenced.
func fatalProduce(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.UnsupportedForMessageFormat) ||
		errors.Is(err, kerr.InvalidRequiredAcks) || fenced(err)
}
