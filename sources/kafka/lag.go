package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// lagListTimeout bounds the offset listing of one lag report.
const lagListTimeout = 5 * time.Second

// lag is how many of p's records the sink has yet to take, as far as the
// latest fetch or listing knows; ok is false before either.
func (p *partition) lag(fromFirst bool) (lag int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hwm < 0 {
		return 0, false
	}
	next := p.acked
	if next < 0 {
		next = p.start
	}
	if next < 0 {
		// No committed offset and nothing fetched yet: the partition
		// starts at the log's first offset, or at its end (then
		// nothing before now is owed).
		if fromFirst {
			next = 0
		} else {
			p.start = p.hwm
			next = p.hwm
		}
	}
	// Records deleted before they were read are not owed any more.
	next = max(next, p.logStart)
	return max(p.hwm-next, 0), true
}

// reportLag tells the Lag hook each partition's lag, with the high
// watermarks listed afresh: records the source has not polled yet, which
// franz-go fetched or not, count too.
func (s *Source) reportLag(ctx context.Context) {
	if s.cfg.Lag == nil {
		return
	}
	parts := s.held()
	if len(parts) == 0 {
		return
	}
	s.listEnds(ctx, parts)
	for _, p := range parts {
		if lag, ok := p.lag(s.cfg.Start == "first"); ok {
			s.cfg.Lag.PartitionLag(p.topic, p.id, lag)
		}
	}
}

// lagGone reports parts given up: this member owes nothing on them.
func (s *Source) lagGone(parts []*partition) {
	if s.cfg.Lag == nil {
		return
	}
	for _, p := range parts {
		s.cfg.Lag.PartitionLag(p.topic, p.id, 0)
	}
}

// listEnds asks the partitions' leaders for their high watermarks. A
// failure leaves the last ones known: the fetches and the group report
// what is wrong with the brokers.
func (s *Source) listEnds(ctx context.Context, parts []*partition) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	byTopic := map[string]int{}
	for _, p := range parts {
		i, ok := byTopic[p.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.topic] = i
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = p.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p.id
		rp.Timestamp = -1 // the end of the log
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	ctx, cancel := context.WithTimeout(ctx, lagListTimeout)
	defer cancel()
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return
	}
	held := map[topicPartition]*partition{}
	for _, p := range parts {
		held[topicPartition{p.topic, p.id}] = p
	}
	for _, t := range resp.Topics {
		for _, rp := range t.Partitions {
			p := held[topicPartition{t.Topic, rp.Partition}]
			if p == nil || kerr.ErrorForCode(rp.ErrorCode) != nil {
				continue
			}
			p.mu.Lock()
			p.hwm = rp.Offset
			p.mu.Unlock()
		}
	}
}
