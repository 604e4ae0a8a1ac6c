package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ack moves p's acknowledged offset to off, and wakes the committer when
// commits follow batches (kick is nil otherwise).
func (p *partition) ack(off int64, epoch int32, kick chan struct{}) {
	p.mu.Lock()
	moved := off > p.acked
	if moved {
		p.acked, p.epoch = off, epoch
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	if moved && kick != nil {
		select {
		case kick <- struct{}{}:
		default: // a commit is already due; it will take this offset too
		}
	}
}

// commitLoop commits the acknowledged offsets of the partitions held every
// CommitInterval (or whenever kick says a batch was delivered), and
// reports their lag, until ctx is done. A partition's last commit is its
// revoke's.
func (s *Source) commitLoop(ctx context.Context) {
	interval := s.cfg.CommitInterval
	if interval < 0 {
		interval = lagInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-s.kick: // nil unless commits follow batches
			failed = !s.commitHeld()
		case <-t.C:
			// When commits follow batches, the tick only retries one
			// that failed (the stream may have gone quiet since).
			if s.kick == nil || failed {
				failed = !s.commitHeld()
			}
			s.reportLag(ctx)
		case <-ctx.Done():
			return
		}
	}
}

// commitHeld commits the partitions held.
func (s *Source) commitHeld() bool {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	return s.commit(s.held())
}

// commit sends the offsets of parts acknowledged since their last commit,
// with commitMu held; it reports false if they could not be committed.
func (s *Source) commit(parts []*partition) bool {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	type sent struct {
		p   *partition
		off int64
	}
	var todo []sent
	for _, p := range parts {
		p.mu.Lock()
		acked, prev, epoch, gone := p.acked, p.sent, p.epoch, p.gone
		p.mu.Unlock()
		if gone || acked <= prev {
			continue
		}
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[p.topic][p.id] = kgo.EpochOffset{Epoch: epoch, Offset: acked}
		todo = append(todo, sent{p, acked})
	}
	if len(todo) == 0 {
		return true
	}
	if err := s.commitOffsets(offsets); err != nil {
		// The records stay uncommitted and will be consumed again by
		// whoever owns the partitions next: at least once.
		if s.cfg.Membership != nil {
			s.cfg.Membership.CommitFailed()
		}
		if ok, n := s.commitWarn.Allow(); ok {
			s.log.Warn("kafka input: commit failed; uncommitted records will be consumed again",
				"group", s.cfg.Group, "err", err, "suppressed", n)
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
		// The lag first: whoever sees the new committed offset (on the
		// metrics page) sees the lag that goes with it, not the one of
		// the last tick.
		if s.cfg.Lag != nil {
			if lag, ok := x.p.lag(s.cfg.Start == "first"); ok {
				s.cfg.Lag.PartitionLag(x.p.topic, x.p.id, lag)
			}
		}
		if s.cfg.Membership != nil {
			s.cfg.Membership.PartitionCommitted(x.p.topic, x.p.id, x.off)
		}
	}
	return true
}

// commitOffsets commits offsets with the group's member ID and
// generation, as franz-go holds them when the request is made: the
// broker refuses them once the group has dropped this member. franz-go
// holds commits back while the member is rejoining, so that they carry
// the generation that follows.
func (s *Source) commitOffsets(offsets map[string]map[int32]kgo.EpochOffset) error {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var rerr error
	s.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			rerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					rerr = fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err)
					return
				}
			}
		}
	})
	return rerr
}
