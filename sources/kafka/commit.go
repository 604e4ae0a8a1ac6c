package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

func (p *partition) ack(off int64) {
	p.mu.Lock()
	moved := off > p.acked
	if moved {
		p.acked = off
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	if moved && p.kick != nil {
		select {
		case p.kick <- struct{}{}:
		default: // a commit is already due; it will take this offset too
		}
	}
}

// commitLoop commits the acknowledged offsets of one generation every
// CommitInterval (or whenever kick says a batch was delivered), and once
// more after every partition has drained.
func (s *Source) commitLoop(ctx context.Context, gen *kafkago.Generation, parts []*partition, fetchers *sync.WaitGroup, kick chan struct{}) {
	interval := s.cfg.CommitInterval
	if interval < 0 {
		interval = lagInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-kick: // nil unless commits follow batches
			failed = !s.commit(gen, parts)
		case <-t.C:
			// When commits follow batches, the tick only retries one
			// that failed (the stream may have gone quiet since).
			if kick == nil || failed {
				failed = !s.commit(gen, parts)
			}
			s.reportLag(parts, false)
		case <-ctx.Done():
			fetchers.Wait()
			s.commit(gen, parts)
			s.reportLag(parts, true)
			return
		}
	}
}

// commit sends the offsets acknowledged since the last commit; it reports
// false if they could not be committed.
func (s *Source) commit(gen *kafkago.Generation, parts []*partition) bool {
	offsets := map[string][]kafkago.OffsetCommit{}
	type sent struct {
		p   *partition
		off int64
	}
	var todo []sent
	for _, p := range parts {
		p.mu.Lock()
		acked, prev := p.acked, p.sent
		p.mu.Unlock()
		if acked > prev {
			offsets[p.topic] = append(offsets[p.topic], kafkago.OffsetCommit{Partition: p.id, Offset: acked})
			todo = append(todo, sent{p, acked})
		}
	}
	if len(todo) == 0 {
		return true
	}
	if err := s.commitOffsets(gen, offsets); err != nil {
		// The records stay uncommitted and will be consumed again by
		// whoever owns the partitions next: at least once.
		if s.cfg.Membership != nil {
			s.cfg.Membership.CommitFailed()
		}
		if ok, n := s.commitWarn.Allow(); ok {
			s.log.Warn("kafka input: commit failed; uncommitted records will be consumed again",
				"group", s.cfg.Group, "generation", gen.ID, "err", err, "suppressed", n)
		}
		return false
	}
	s.Committed.Add(1)
	for _, x := range todo {
		x.p.mu.Lock()
		if x.off > x.p.sent {
			x.p.sent = x.off
		}
		x.p.mu.Unlock()
		if s.cfg.Membership != nil {
			s.cfg.Membership.PartitionCommitted(x.p.topic, int32(x.p.id), x.off)
		}
	}
	return true
}

// commitOffsets commits offsets for gen through the client, which looks
// the group's coordinator up for every request, rather than through the
// generation's connection: when the coordinator's broker dies, that
// connection stays dead until the generation ends (kafka-go #1079), while
// the coordinator that takes over accepts the generation's commits.
func (s *Source) commitOffsets(gen *kafkago.Generation, offsets map[string][]kafkago.OffsetCommit) error {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	resp, err := s.client.OffsetCommit(ctx, &kafkago.OffsetCommitRequest{
		GroupID: s.cfg.Group, GenerationID: int(gen.ID), MemberID: gen.MemberID, Topics: offsets,
	})
	if err != nil {
		return err
	}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("%s/%d: %w", topic, p.Partition, p.Error)
			}
		}
	}
	return nil
}
