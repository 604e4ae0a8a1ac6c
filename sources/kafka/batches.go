package kafka

import (
	"context"
	"io"
	"time"

	"github.com/annotator-dev/annotator/pipeline"
)

// Next returns the next batch of records, waiting for at least one.
func (s *Source) Next(ctx context.Context) (*pipeline.Batch, error) {
	var b *pipeline.Batch
	select {
	case b = <-s.free:
	default:
		b = &pipeline.Batch{}
	}
	b.Kind, b.Stream = pipeline.Records, "kafka"
	var acks []chunkAck
	var cost int64 // in-flight bytes the batch gives back once delivered
	add := func(c *chunk) {
		var n int64
		acks, n = s.take(b, c, acks)
		cost += n
	}
	if s.pending != nil {
		c := s.pending
		s.pending = nil
		add(c)
	}
	for len(b.Records) == 0 {
		select {
		case c := <-s.chunks:
			add(c)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.stop:
			return nil, io.EOF
		case <-s.failed:
			return nil, s.err
		}
	}
	linger := time.NewTimer(s.cfg.Linger)
	defer linger.Stop()
	maxCost := int64(s.cfg.InFlightBytes / 4)
gather:
	for len(b.Records) < s.cfg.BatchRecords && s.pending == nil && cost < maxCost {
		select {
		case c := <-s.chunks:
			add(c)
		case <-linger.C:
			break gather
		case <-ctx.Done():
			// What was taken is handed on: its partitions count it as
			// in flight.
			break gather
		}
	}
	b.Done = func() {
		for _, a := range acks {
			a.p.ack(a.end)
		}
		s.inFlight.give(cost)
		s.recycle(b)
	}
	return b, nil
}

// recycle keeps a delivered batch for Next to fill again.
func (s *Source) recycle(b *pipeline.Batch) {
	if cap(b.Out) > maxRecycled {
		return
	}
	b.Reset()
	select {
	case s.free <- b:
	default:
	}
}

// InFlight reports the bytes of the records fetched and not yet delivered,
// now and at most so far (see Config.InFlightBytes).
func (s *Source) InFlight() (now, peak int64) {
	return s.inFlight.spent()
}

type chunkAck struct {
	p   *partition
	end int64
}

// take adds c's records to b, as many as fit, unless c's partition was
// revoked, and notes the offset to acknowledge. The rest of a chunk that
// does not fit waits in s.pending for the next batch, with the chunk's
// in-flight bytes (its records share one arena, which lives as long as
// the last of them); cost is the in-flight bytes b now holds for c.
func (s *Source) take(b *pipeline.Batch, c *chunk, acks []chunkAck) (_ []chunkAck, cost int64) {
	p := c.part
	n := min(len(c.recs), max(1, s.cfg.BatchRecords-len(b.Records)))
	end := c.end
	if n < len(c.recs) {
		end = c.recs[n-1].Offset + 1
	}
	p.mu.Lock()
	if p.revoked {
		p.mu.Unlock()
		s.inFlight.give(c.cost)
		return acks, 0 // the next owner reads these again
	}
	p.handed = end
	p.mu.Unlock()
	b.Records = append(b.Records, c.recs[:n]...)
	cost = c.cost
	if n < len(c.recs) {
		s.pending = &chunk{part: p, recs: c.recs[n:], end: c.end, cost: c.cost}
		cost = 0
	}
	for i := range acks {
		if acks[i].p == p {
			acks[i].end = end
			return acks, cost
		}
	}
	return append(acks, chunkAck{p: p, end: end}), cost
}
