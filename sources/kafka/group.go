package kafka

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partition is one partition's state while this member holds it: a
// partition given up and assigned again gets a new one.
type partition struct {
	topic string
	id    int32
	mu    sync.Mutex
	cond  *sync.Cond
	// revoked: the partition is being given up; records polled and not
	// yet handed out are dropped.
	revoked bool
	// gone: given up, its last commit made (set under commitMu).
	gone   bool
	handed int64 // offset just past the last record handed to the pipeline
	acked  int64 // offset just past the last record the sink took
	epoch  int32 // leader epoch of the last record the sink took
	sent   int64 // the last offset sent in a commit
	// For the lag (-1 until known): the offset past the partition's last
	// record, the first offset still in the log, and the offset this
	// member started delivering at.
	hwm      int64
	logStart int64
	start    int64
}

// partition returns the state of the partition held, made if need be.
func (s *Source) partition(topic string, id int32) *partition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.partitionLocked(topic, id)
}

func (s *Source) partitionLocked(topic string, id int32) *partition {
	k := topicPartition{topic, id}
	if p, ok := s.parts[k]; ok {
		return p
	}
	p := &partition{topic: topic, id: id, handed: -1, acked: -1, epoch: -1, sent: -1, hwm: -1, logStart: -1, start: -1}
	p.cond = sync.NewCond(&p.mu)
	s.parts[k] = p
	return p
}

// held returns the partitions this member holds.
func (s *Source) held() []*partition {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := make([]*partition, 0, len(s.parts))
	for _, p := range s.parts {
		parts = append(parts, p)
	}
	return parts
}

// assigned is franz-go's OnPartitionsAssigned: a new generation, which
// may add partitions (a cooperative rebalance adds and revokes
// separately).
func (s *Source) assigned(_ context.Context, _ *kgo.Client, added map[string][]int32) {
	s.mu.Lock()
	for t, ps := range added {
		for _, id := range ps {
			s.partitionLocked(t, id)
		}
	}
	n := len(s.parts)
	names := make([]string, 0, n)
	topics := map[string]bool{}
	for k := range s.parts {
		names = append(names, fmt.Sprintf("%s/%d", k.topic, k.partition))
		topics[k.topic] = true
	}
	s.mu.Unlock()
	sort.Strings(names)
	s.log.Info("kafka input: partitions assigned", "group", s.cfg.Group, "added", partitionList(added), "partitions", strings.Join(names, ","))
	if s.cfg.Membership != nil {
		s.cfg.Membership.Assigned(n)
	}
	for _, t := range s.cfg.Topics {
		if !topics[t] {
			// Normal with more members than partitions, but also what a
			// deleted topic looks like: the group just drops it.
			s.checkTopics()
			break
		}
	}
}

// starting is franz-go's AdjustFetchOffsetsFn: where the partitions
// added start, which the lag counts from until a record is delivered.
func (s *Source) starting(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for t, ps := range offsets {
		for id, o := range ps {
			// A partition without a committed offset starts at the log's
			// first or last offset, not known here (negative).
			if at := o.EpochOffset().Offset; at >= 0 {
				p := s.partition(t, id)
				p.mu.Lock()
				if p.start < 0 {
					p.start = at
				}
				p.mu.Unlock()
			}
		}
	}
	return offsets, nil
}

// revoked is franz-go's OnPartitionsRevoked, which the member's rejoin (or
// its leaving) waits for. franz-go has already dropped what it fetched of
// these partitions and did not hand to Next; here they stop handing out
// what Next holds of them, wait up to DrainTimeout for what they handed
// out, commit, and are given up.
func (s *Source) revoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.giveUp(revoked, true)
}

// lost is franz-go's OnPartitionsLost: the group dropped this member (its
// session ended), so a commit would be refused and waiting for records in
// flight would only hold up its rejoin. The partitions are given up at
// once; what they handed out and did not commit is read again by their
// next owner.
func (s *Source) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.giveUp(lost, false)
}

// giveUp stops parts handing out records and forgets them, after
// draining and committing them when drain is set.
func (s *Source) giveUp(lost map[string][]int32, drain bool) {
	var parts []*partition
	s.mu.Lock()
	for t, ps := range lost {
		for _, id := range ps {
			if p, ok := s.parts[topicPartition{t, id}]; ok {
				parts = append(parts, p)
			}
		}
	}
	s.mu.Unlock()
	if len(parts) == 0 {
		return // a cooperative generation ending without giving anything up
	}
	for _, p := range parts {
		p.mu.Lock()
		p.revoked = true
		p.mu.Unlock()
	}
	if drain {
		s.drain(parts)
	}
	s.commitMu.Lock()
	if drain {
		s.commit(parts)
	}
	s.mu.Lock()
	for _, p := range parts {
		if k := (topicPartition{p.topic, p.id}); s.parts[k] == p {
			delete(s.parts, k)
		}
	}
	s.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		p.gone = true
		p.mu.Unlock()
	}
	s.commitMu.Unlock()
	s.lagGone(parts)
	s.log.Info("kafka input: partitions given up", "group", s.cfg.Group, "partitions", partitionList(lost))
}

// drain waits, up to DrainTimeout or until Close, for the records the
// revoked parts handed out to be acknowledged.
func (s *Source) drain(parts []*partition) {
	wake := func() {
		for _, p := range parts {
			p.mu.Lock()
			p.cond.Broadcast()
			p.mu.Unlock()
		}
	}
	timeout := time.AfterFunc(s.cfg.DrainTimeout, wake)
	defer timeout.Stop()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() { // wakes the waits below when Close is called
		select {
		case <-s.stop:
			wake()
		case <-stopped:
		}
	}()
	deadline := time.Now().Add(s.cfg.DrainTimeout)
	for _, p := range parts {
		p.mu.Lock()
		for p.acked < p.handed && time.Now().Before(deadline) && !s.closed() {
			p.cond.Wait()
		}
		if p.acked < p.handed {
			s.log.Warn("kafka input: giving up a partition with records in flight; they will be consumed again",
				"topic", p.topic, "partition", p.id, "acknowledged", p.acked, "handed", p.handed)
		}
		p.mu.Unlock()
	}
}

// partitionList names the partitions of m, sorted.
func partitionList(m map[string][]int32) string {
	var names []string
	for t, ps := range m {
		for _, id := range ps {
			names = append(names, fmt.Sprintf("%s/%d", t, id))
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}
