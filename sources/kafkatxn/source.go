package kafkatxn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/pipeline"
	kafkasrc "github.com/annotator-dev/annotator/sources/kafka"
)

// batchRecords is the most records one poll hands out as a batch.
const batchRecords = 8192

// idlePoll bounds a poll while no transaction has records, so that Next
// notices a stop promptly and a quiet input keeps no transaction open.
const idlePoll = time.Second

// dryEnd is how long the input may have nothing more before an open
// transaction ends ahead of CommitInterval: the records of a burst become
// visible to read_committed readers once the burst is over rather than a
// commit interval after it began, while a steady stream, whose polls
// keep returning records, still commits once per interval.
const dryEnd = 100 * time.Millisecond

// Next hands out the next batch of records, ending the open transaction
// first when it is due.
func (s *Stage) Next(ctx context.Context) (*pipeline.Batch, error) {
	s.nextMu.Lock()
	defer s.nextMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.quit, cancel)()
	b, err := s.poll(ctx)
	if err != nil && s.quit.Err() != nil && errors.Is(err, context.Canceled) {
		return nil, io.EOF // Close ended it
	}
	return b, err
}

// poll is Next without the lock: it hands out the next batch.
func (s *Stage) poll(ctx context.Context) (*pipeline.Batch, error) {
	for {
		if s.failed != nil {
			return nil, s.failed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.out.fatal() != nil {
			return nil, s.out.fatal()
		}
		if s.handed > 0 && time.Since(s.txnStart) >= s.cfg.CommitInterval {
			if err := s.end(ctx, true); err != nil {
				return nil, err
			}
			continue
		}
		if !s.inTxn {
			if err := s.begin(); err != nil {
				return nil, err
			}
		}
		wait, dry := idlePoll, false
		if s.handed > 0 {
			wait = time.Until(s.txnStart.Add(s.cfg.CommitInterval))
			if wait > dryEnd {
				wait, dry = dryEnd, true
			}
		}
		pctx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
		fetches := s.sess.PollRecords(pctx, batchRecords)
		cancel()
		if fetches.IsClientClosed() {
			return nil, io.EOF
		}
		err := s.fetchErrors(ctx, fetches)
		if b := s.batch(fetches); b != nil {
			// The poll's records go out whatever else it said: the
			// client counts them consumed, and the transaction
			// commits their offsets.
			if err != nil && ctx.Err() == nil {
				s.failed = err
			}
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if dry && ctx.Err() == nil {
			// The input ran dry: what was handed out need not wait
			// for the rest of the interval.
			if err := s.end(ctx, true); err != nil {
				return nil, err
			}
		}
	}
}

// begin opens a transaction.
func (s *Stage) begin() error {
	if err := s.sess.Begin(); err != nil {
		return fmt.Errorf("kafka exactly-once: begin a transaction: %w", err)
	}
	s.inTxn = true
	return nil
}

// fetchErrors reports what a poll could not fetch. A poll cut short by
// its own deadline is no error; a stop is ctx's.
func (s *Stage) fetchErrors(ctx context.Context, fetches kgo.Fetches) error {
	for _, fe := range fetches.Errors() {
		switch {
		case errors.Is(fe.Err, context.DeadlineExceeded), errors.Is(fe.Err, context.Canceled):
			if ctx.Err() != nil {
				return ctx.Err()
			}
		case errors.Is(fe.Err, kerr.UnknownTopicOrPartition), errors.Is(fe.Err, kerr.UnknownTopicID):
			return fmt.Errorf("kafka input: topic %q %w on %s (deleted while consumed): %v", fe.Topic, kafkaconn.ErrNoTopic, strings.Join(s.cfg.Brokers, ","), fe.Err)
		case fe.Topic == "":
			// The client's own errors: joining the group, mostly.
			s.log.Warn("kafka input: the consumer group session failed, retrying", "group", s.cfg.Group, "err", fe.Err)
		default:
			s.log.Warn("kafka input: fetch failed, retrying", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
	}
	return nil
}

// batch turns a poll's records into a batch; nil when it holds none.
func (s *Stage) batch(fetches kgo.Fetches) *pipeline.Batch {
	n := fetches.NumRecords()
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		k := partitionKey{p.Topic, p.Partition}
		s.hwm[k] = p.HighWatermark
		if len(p.Records) > 0 {
			s.next[k] = p.Records[len(p.Records)-1].Offset + 1
		}
	})
	if n == 0 {
		return nil
	}
	tb := s.batches.get()
	b := tb.b
	b.Kind = pipeline.Records
	// The records' JSON fragments share one arena, built without fmt:
	// fmt.Appendf per record was a fifth of the stage's CPU.
	arena := tb.arena[:0]
	fetches.EachRecord(func(r *kgo.Record) {
		rec := pipeline.Record{Key: r.Key, Value: r.Value, Topic: r.Topic, Partition: r.Partition,
			Offset: r.Offset, Time: r.Timestamp}
		if len(r.Headers) > 0 {
			rec.Headers = make([]pipeline.Header, len(r.Headers))
			for i, h := range r.Headers {
				rec.Headers[i] = pipeline.Header{Key: h.Key, Value: h.Value}
			}
		}
		arena, rec.Meta = kafkasrc.AppendMeta(arena, r.Topic, r.Partition, r.Offset)
		b.Records = append(b.Records, rec)
	})
	tb.arena = arena
	if s.handed == 0 {
		// The broker learns of a transaction with its first records:
		// its age, and the commit interval, count from there.
		s.txnStart = time.Now()
		s.txnHook.TransactionOpened(s.txnStart)
	}
	s.handed += n
	s.mu.Lock()
	s.outstanding++
	s.mu.Unlock()
	b.Done = func() {
		s.done()
		tb.release(s.batches)
	}
	return b
}

// done: the sink wrote a batch into the open transaction.
func (s *Stage) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outstanding--
	if s.outstanding == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// drained waits until every batch handed out was written, or ctx ends.
func (s *Stage) drained(ctx context.Context) error {
	s.mu.Lock()
	if s.outstanding == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// end ends the open transaction: committing, when commit asks for it, the
// output written and the offsets of every record handed out, once all of
// them were written; aborting otherwise, which rewinds the consumer to
// the committed offsets. An error is one the stage cannot go on from.
func (s *Stage) end(ctx context.Context, commit bool) error {
	if !s.inTxn {
		return nil
	}
	if commit {
		if err := s.drained(ctx); err != nil {
			return err
		}
	}
	age := time.Since(s.txnStart)
	empty := s.handed == 0
	if commit {
		// Records the output refused go to the dead-letter topic, in
		// this transaction, or stop the stage; other produce failures
		// abort the transaction, and its records are processed again.
		if err := s.out.settle(ctx); err != nil {
			commit = false
			if fatal := s.out.fatal(); fatal != nil {
				s.abort(ctx, age)
				return fatal
			}
			s.log.Warn("kafka output: producing failed; the transaction aborts and its records are processed again", "err", err)
		}
	}
	try := kgo.TryAbort
	if commit {
		try = kgo.TryCommit
	}
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.TransactionTimeout+30*time.Second)
	committed, err := s.sess.End(endCtx, try)
	cancel()
	offsets := s.reset()
	if !empty {
		s.txnHook.TransactionEnded(committed, age)
	}
	if err != nil {
		if fenced(err) {
			return s.fenced(err)
		}
		return fmt.Errorf("kafka exactly-once: ending a transaction: %w", err)
	}
	if !committed {
		s.aborts++
		if commit {
			s.log.Info("kafka exactly-once: transaction aborted (the group rebalanced); its records are processed again", "age", age)
		}
		s.backoff(ctx)
		return nil
	}
	s.aborts = 0
	for k, off := range offsets {
		s.cfg.Membership.PartitionCommitted(k.topic, k.partition, off)
		if h, ok := s.hwm[k]; ok {
			s.cfg.Lag.PartitionLag(k.topic, k.partition, max(h-off, 0))
		}
	}
	return nil
}

// abort ends the open transaction without committing, for a stop.
func (s *Stage) abort(ctx context.Context, age time.Duration) {
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := s.sess.End(endCtx, kgo.TryAbort); err != nil && !fenced(err) {
		// A fenced producer's transaction was aborted by the newer one.
		s.log.Warn("kafka exactly-once: aborting the transaction failed; the coordinator aborts it after the transaction timeout",
			"err", err, "timeout", s.cfg.TransactionTimeout)
	}
	if s.handed > 0 {
		s.txnHook.TransactionEnded(false, age)
	}
	s.reset()
}

// reset forgets the ended transaction, returning the offsets its
// records reached per partition.
func (s *Stage) reset() map[partitionKey]int64 {
	s.inTxn = false
	s.handed = 0
	offsets := s.next
	s.next = map[partitionKey]int64{}
	s.out.reset()
	return offsets
}

// backoff waits a little after aborts in a row, so that a failure that
// lasts (a broker down) is not hammered.
func (s *Stage) backoff(ctx context.Context) {
	if s.aborts < 2 {
		return
	}
	d := min(time.Duration(s.aborts)*200*time.Millisecond, 5*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// fenced reports the errors of a producer a newer one with the same
// transactional ID took over: it can never produce again.
func fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// fenced counts and explains the end of a producer a newer one with its
// transactional id took over.
func (s *Stage) fenced(err error) error {
	s.txnHook.Fenced()
	return fmt.Errorf("kafka exactly-once: fenced: another producer with the transactional id %s took over (two instances given one --kafka-transactional-id?): %w",
		s.cfg.TransactionalID, err)
}

// Close ends the stage: the open transaction commits if every batch
// handed out was written, and aborts otherwise (a run stopped by an
// error, or a drain cut short); then the member leaves the group.
func (s *Stage) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		s.nextMu.Lock()
		defer s.nextMu.Unlock()
		// Past the transaction timeout the coordinator aborts it anyway;
		// brokers that do not answer must not hold the stop for good.
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.TransactionTimeout)
		defer cancel()
		if s.inTxn {
			s.mu.Lock()
			all := s.outstanding == 0
			s.mu.Unlock()
			if all && s.out.fatal() == nil {
				if err := s.end(ctx, true); err != nil {
					// Nothing of it is committed: the partitions' next
					// owner processes its records, once.
					s.log.Warn("kafka exactly-once: the last transaction did not commit; its records are processed again by the partitions' next owner", "err", err)
				}
			} else {
				s.abort(ctx, time.Since(s.txnStart))
			}
		}
		s.sess.Close()
		s.batches.forget()
	})
	return nil
}
