package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/pipeline"
)

// quietFetch is what a fetch asks for after one that found nothing; each
// fetch that finds records asks for twice as much as the one before, up to
// Config.FetchBytes.
const quietFetch = 64 << 10

// consume fetches one partition until the generation ends, then drains.
func (s *Source) consume(ctx context.Context, p *partition, offset int64) {
	defer s.drain(p)
	backoff := 100 * time.Millisecond
	want := int64(s.cfg.FetchBytes) // how much the next fetch asks for
	for ctx.Err() == nil {
		// Room for the fetch is taken before it is sent, so a partition
		// waiting for room holds no records.
		room, err := s.inFlight.take(ctx, want)
		if err != nil {
			return // the generation ended while waiting for room
		}
		resp, err := s.client.Fetch(ctx, &kafkago.FetchRequest{
			Topic: p.topic, Partition: p.id, Offset: offset,
			MinBytes: 1, MaxBytes: room, MaxWait: 500 * time.Millisecond,
		})
		if err == nil && resp.Error != nil {
			err = resp.Error
		}
		if err != nil {
			s.inFlight.give(room)
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, kafkago.UnknownTopicOrPartition) {
				s.checkTopics() // deleted, or a leader not known yet
			}
			if errors.Is(err, kafkago.OffsetOutOfRange) {
				// The records were deleted (retention) before they were
				// read: nothing to do but start from what is left.
				s.log.Warn("kafka input: offset out of range, restarting from the earliest", "topic", p.topic, "partition", p.id, "offset", offset)
				offset = kafkago.FirstOffset
				continue
			}
			if ok, n := s.fetchWarn.Allow(); ok {
				s.log.Warn("kafka input: fetch failed, retrying", "topic", p.topic, "partition", p.id,
					"brokers", strings.Join(s.cfg.Brokers, ","), "err", err, "suppressed", n)
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, kafkaconn.MaxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		c, err := s.read(p, resp.Records, offset)
		if err != nil {
			s.inFlight.give(room)
			if ok, n := s.fetchWarn.Allow(); ok {
				s.log.Warn("kafka input: reading a fetch failed, retrying", "topic", p.topic, "partition", p.id, "err", err, "suppressed", n)
			}
			continue
		}
		p.fetched(offset, resp.HighWatermark, resp.LogStartOffset, c)
		if c == nil {
			// A quiet partition asks for little, so that its waiting
			// fetches keep little of the budget from busy ones.
			s.inFlight.give(room)
			want = quietFetch
			continue
		}
		// The records take what they hold in memory, which is more than
		// their bytes on the wire (and a broker returns at least one
		// whole record batch, whatever the fetch asked for).
		c.cost = s.inFlight.settle(room, c.bytes())
		want = min(2*want, int64(s.cfg.FetchBytes))
		offset = c.end
		select {
		case s.chunks <- c:
		case <-ctx.Done():
			s.inFlight.give(c.cost)
			return
		}
	}
}

// read copies a fetch's records (at offset or later) into one arena.
func (s *Source) read(p *partition, rr kafkago.RecordReader, offset int64) (*chunk, error) {
	if rr == nil {
		return nil, nil
	}
	var c *chunk
	var arena []byte
	for {
		r, err := rr.ReadRecord()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return c, nil
			}
			return nil, err
		}
		if r.Offset < offset && offset >= 0 {
			// A fetch may start at the beginning of a compressed batch.
			discard(r)
			continue
		}
		if c == nil {
			// Sized as the partition's last fetch was: growing the
			// slice record by record cost more than the records' copy.
			c = &chunk{part: p, recs: make([]pipeline.Record, 0, max(16, p.lastFetch))}
			arena = make([]byte, 0, 32<<10)
		}
		rec := pipeline.Record{Topic: p.topic, Partition: int32(p.id), Offset: r.Offset, Time: r.Time}
		if rec.Key, arena, err = readInto(arena, r.Key); err != nil {
			return nil, err
		}
		if rec.Value, arena, err = readInto(arena, r.Value); err != nil {
			return nil, err
		}
		for _, h := range r.Headers {
			start := len(arena)
			arena = append(arena, h.Value...)
			rec.Headers = append(rec.Headers, pipeline.Header{Key: h.Key, Value: arena[start:len(arena):len(arena)]})
		}
		arena, rec.Meta = AppendMeta(arena, p.topic, int32(p.id), r.Offset)
		c.recs = append(c.recs, rec)
		c.end = r.Offset + 1
		p.lastFetch = len(c.recs)
	}
}

func discard(r *kafkago.Record) {
	if r.Key != nil {
		r.Key.Close()
	}
	if r.Value != nil {
		r.Value.Close()
	}
}

// readInto appends b's bytes to arena and returns them as their own slice
// (nil for an absent key or value). A full arena is replaced, not grown:
// the slices already handed out keep pointing at the old one.
func readInto(arena []byte, b protocol.Bytes) ([]byte, []byte, error) {
	if b == nil {
		return nil, arena, nil
	}
	defer b.Close()
	n := b.Len()
	if cap(arena)-len(arena) < n {
		arena = make([]byte, 0, max(n, 256<<10))
	}
	start := len(arena)
	arena = arena[:start+n]
	if _, err := io.ReadFull(b, arena[start:]); err != nil {
		return nil, arena[:start], fmt.Errorf("read record: %w", err)
	}
	return arena[start : start+n : start+n], arena, nil
}

// drain marks p revoked and waits, up to DrainTimeout or until Close, for
// the records it handed out to be acknowledged.
func (s *Source) drain(p *partition) {
	timeout := time.AfterFunc(s.cfg.DrainTimeout, func() {
		p.mu.Lock()
		p.revoked = true // already; the wake-up is what matters
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timeout.Stop()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() { // wakes the wait below when Close is called
		select {
		case <-s.stop:
			p.mu.Lock()
			p.cond.Broadcast()
			p.mu.Unlock()
		case <-stopped:
		}
	}()
	deadline := time.Now().Add(s.cfg.DrainTimeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revoked = true
	for p.acked < p.handed && time.Now().Before(deadline) && !s.closed() {
		p.cond.Wait()
	}
	if p.acked < p.handed {
		s.log.Warn("kafka input: giving up a partition with records in flight; they will be consumed again",
			"topic", p.topic, "partition", p.id, "acknowledged", p.acked, "handed", p.handed)
	}
}

// fetched notes what a fetch at offset said of the partition's extent.
func (p *partition) fetched(offset, hwm, logStart int64, c *chunk) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hwm, p.logStart = hwm, logStart
	if p.start >= 0 {
		return
	}
	switch {
	case offset >= 0:
		p.start = offset
	case c != nil:
		p.start = c.recs[0].Offset
	default:
		// Started from the log's first or last offset (no committed
		// offset) and found nothing there: nothing is owed.
		p.start = hwm
	}
}
