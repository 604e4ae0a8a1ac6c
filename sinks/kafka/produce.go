package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/internal/kafkaout"
	"github.com/annotator-dev/annotator/pipeline"
)

// refusal is a record the broker (or the size check before sending)
// refused for itself; alone says it was refused when sent on its own.
type refusal struct {
	i     int
	alone bool
	err   error
}

// failure is a record the client gave back with an error.
type failure struct {
	r   *kgo.Record
	err error
}

// done is the promise of every record produced: it notes failures and
// counts the record settled.
func (s *Sink) done(r *kgo.Record, err error) {
	if err != nil {
		s.mu.Lock()
		s.failed = append(s.failed, failure{r, err})
		s.mu.Unlock()
	}
	s.unacked.Add(-1)
	s.pending.Done()
}

// send produces recs[i] for each i in idx to t, retrying failures that a
// retry can cure with backoff for as long as ctx allows. It returns the
// records refused for themselves (too large, invalid), and an error only
// for what stops the run.
func (s *Sink) send(ctx context.Context, t *topic, recs []kgo.Record, idx []int) ([]refusal, error) {
	var refused []refusal
	pending := idx
	delay := 100 * time.Millisecond
	for failures := 0; ; failures++ {
		r, again, err := s.attempt(ctx, t, recs, pending)
		if err != nil {
			return nil, err
		}
		refused = append(refused, r...)
		if len(again) == 0 {
			if failures > 0 {
				s.log.Info("kafka output: produced after retrying", "topic", t.name, "attempts", failures+1)
			}
			return refused, nil
		}
		pending = again
		if ok, n := s.warn.Allow(); ok {
			s.log.Warn("kafka output: produce failed, retrying", "topic", t.name,
				"brokers", strings.Join(s.cfg.Brokers, ","), "pending", len(pending), "attempt", failures+1, "suppressed", n)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("produce to kafka topic %s: %d messages not acknowledged: %w", t.name, len(pending), ctx.Err())
		case <-timer.C:
		}
		delay = min(2*delay, kafkaconn.MaxBackoff)
	}
}

// attempt produces recs[i] for each i in idx once and waits for every one
// to be acknowledged or given back. It returns those refused for
// themselves and those to send again (failures the client does not retry
// by itself, which later records of their partitions share), in idx's
// order, and an error for what stops the run.
func (s *Sink) attempt(ctx context.Context, t *topic, recs []kgo.Record, idx []int) (refused []refusal, again []int, err error) {
	limit := int(t.limit.Load())
	clear(s.failed) // the last attempt's records and errors
	s.failed = s.failed[:0]
	sent := 0
	for _, i := range idx {
		r := &recs[i]
		// Refused here rather than by the client, with the size and
		// the limit in the error: what the broker would do.
		if size := recordSize(r); size > limit {
			refused = append(refused, refusal{i: i, alone: true, err: fmt.Errorf(
				"about %d bytes with its key and headers, over the %d of topic %s's max.message.bytes: %w",
				size, limit+kafkaout.BatchOverhead, t.name, kerr.MessageTooLarge)})
			continue
		}
		sent++
		s.pending.Add(1)
		s.unacked.Add(1)
		s.cl.Produce(ctx, r, s.promise)
	}
	if len(refused) > 0 {
		s.hook.ProduceFailed(t.name, "record", len(refused))
	}
	if sent == 0 {
		return refused, nil, nil
	}
	err = s.flush(ctx, t)
	s.Produced.Add(int64(sent - len(s.failed)))
	if err != nil {
		return nil, nil, err
	}
	if len(s.failed) == 0 {
		return refused, nil, nil
	}

	// Back to the records' order: the client reports partitions' failures
	// in any order.
	at := make(map[*kgo.Record]int, len(idx))
	for _, i := range idx {
		at[&recs[i]] = i
	}
	slices.SortFunc(s.failed, func(a, b failure) int { return at[a.r] - at[b.r] })
	var nrefused int
	tooLarge := false
	for _, f := range s.failed {
		i := at[f.r]
		switch {
		case kafkaout.Refused(f.err):
			refused = append(refused, refusal{i: i, alone: sent == 1, err: f.err})
			nrefused++
			tooLarge = tooLarge || sent > 1 && (errors.Is(f.err, kerr.MessageTooLarge) || errors.Is(f.err, kerr.RecordListTooLarge))
		case kafkaout.Fatal(f.err):
			s.hook.ProduceFailed(t.name, "fatal", len(s.failed))
			return nil, nil, fmt.Errorf("produce to kafka topic %s: %w", t.name, f.err)
		default:
			again = append(again, i)
		}
	}
	if nrefused > 0 {
		s.hook.ProduceFailed(t.name, "record", nrefused)
	}
	if len(again) > 0 {
		s.hook.ProduceFailed(t.name, "retriable", len(again))
	}
	if tooLarge {
		s.relimit(ctx, t)
	}
	return refused, again, nil
}

// flush sends what attempt produced and waits until every record is
// acknowledged or given back. While it waits, broker errors the client
// retries by itself (a broker down, say), or no answer for AttemptTimeout,
// count as failed attempts. When ctx ends first, the client is closed,
// as the only way to have it give the records back: an idempotent
// producer keeps records it may have written until a broker answers for
// them. The sink is then done.
func (s *Sink) flush(ctx context.Context, t *topic) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	flushed := make(chan error, 1)
	go func() { flushed <- s.cl.Flush(fctx) }()
	tick := time.NewTicker(kafkaconn.MaxBackoff)
	defer tick.Stop()
	start := time.Now()
	reported := start
	seen, _ := s.seen.count()
	for {
		select {
		case err := <-flushed:
			if err == nil {
				// Records refused before they were buffered are not
				// waited for by Flush.
				s.pending.Wait()
				return nil
			}
			s.cl.Close()
			s.cl = nil
			s.pending.Wait()
			s.broken = fmt.Errorf("kafka output: closed after a write to %s was given up", t.name)
			// Every record is settled now: those not acknowledged
			// failed, with ctx or with the close.
			return fmt.Errorf("produce to kafka topic %s: %d messages not acknowledged: %w", t.name, len(s.failed), ctx.Err())
		case <-tick.C:
			n, last := s.seen.count()
			unacked := s.unacked.Load()
			if unacked == 0 || n == seen && time.Since(reported) < s.cfg.AttemptTimeout {
				continue
			}
			seen, reported = n, time.Now()
			s.hook.ProduceFailed(t.name, "retriable", int(unacked))
			if ok, skipped := s.warn.Allow(); ok {
				s.log.Warn("kafka output: produce not acknowledged yet, retrying", "topic", t.name,
					"brokers", strings.Join(s.cfg.Brokers, ","), "pending", unacked,
					"waited", time.Since(start).Round(time.Millisecond), "err", last, "suppressed", skipped)
			}
		}
	}
}

// isolate finds, among refused records, those refused for themselves: a
// broker refuses a partition's whole record batch for one bad record, and
// the client fails the partition's later records with it. The refused are
// sent again in halves, in order, until each is accepted or refused on
// its own.
func (s *Sink) isolate(ctx context.Context, b *pipeline.Batch, recs []kgo.Record, refused []refusal) error {
	var suspects []int
	for _, r := range refused {
		if !r.alone {
			suspects = append(suspects, r.i)
			continue
		}
		if err := s.poison(ctx, &b.Outs[r.i], r.err); err != nil {
			return err
		}
	}
	if len(suspects) == 0 {
		return nil
	}
	halves := [][]int{suspects}
	if len(suspects) > 1 {
		halves = [][]int{suspects[:len(suspects)/2], suspects[len(suspects)/2:]}
	}
	for _, h := range halves {
		again, err := s.send(ctx, s.out, recs, h)
		if err != nil {
			return err
		}
		if err := s.isolate(ctx, b, recs, again); err != nil {
			return err
		}
	}
	return nil
}

// poison deals with an output the topic refused on its own: its record
// goes to the dead-letter topic as it was read, with headers saying why
// and where from; without a dead-letter topic (or for a line, which has
// no record) the refusal is the error that stops the run.
func (s *Sink) poison(ctx context.Context, o *pipeline.Output, cause error) error {
	if s.dlq == nil || o.Source == nil {
		return kafkaout.Stop(s.cfg.Topic, o, cause)
	}
	rec := []kgo.Record{*kafkaout.DeadLetter(s.dlq.name, s.cfg.Topic, o, cause)}
	rec[0].Partition = unpartitioned
	refused, err := s.send(ctx, s.dlq, rec, []int{0})
	if err == nil && len(refused) > 0 {
		err = refused[0].err
	}
	if err != nil {
		return kafkaout.NotSetAside(s.cfg.Topic, s.dlq.name, o, cause, err)
	}
	s.DeadLettered.Add(1)
	s.hook.DeadLettered(o.Source.Topic)
	kafkaout.LogSetAside(s.log, s.cfg.Topic, s.dlq.name, o, cause)
	return nil
}

// recordSize is an upper bound of a record's size in a record batch: every
// length counted at 4 bytes and the timestamp at 8, where the batch holds
// varints.
func recordSize(r *kgo.Record) int {
	n := 4 + 1 + 1 + 8 + 4 + len(r.Key) + 4 + len(r.Value) + 4
	for _, h := range r.Headers {
		n += 4 + len(h.Key) + 4 + len(h.Value)
	}
	return n
}
