package kafka

import (
	"context"
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sort puts a poll's records in pending, each partition's under the state
// it was polled for, notes what the poll said of the partitions' extent,
// and reports its errors. Rebalances stay blocked from the poll on (the
// client's BlockRebalanceOnPoll) until Next has an empty batch or hands
// one out: the group cannot take a partition whose records are not yet
// counted.
func (s *Source) sort(fetches kgo.Fetches) {
	for i := range fetches {
		for j := range fetches[i].Topics {
			t := &fetches[i].Topics[j]
			for k := range t.Partitions {
				fp := &t.Partitions[k]
				if fp.Err != nil {
					s.fetchError(t.Topic, fp.Partition, fp.Err)
					continue
				}
				p := s.partition(t.Topic, fp.Partition)
				p.fetched(fp)
				if len(fp.Records) == 0 {
					continue
				}
				var n int64
				for _, r := range fp.Records {
					n += recordBytes(r)
				}
				s.inFlight.polled(n)
				s.pending = append(s.pending, polled{p: p, recs: fp.Records, bytes: n})
			}
		}
	}
}

// fetched notes what a fetch said of p's extent.
func (p *partition) fetched(fp *kgo.FetchPartition) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hwm, p.logStart = fp.HighWatermark, fp.LogStartOffset
	if p.start < 0 && len(fp.Records) > 0 {
		p.start = fp.Records[0].Offset
	}
}

// fetchError reports an error a poll returned: franz-go retries fetching
// by itself, and rejoins the group after a failure.
func (s *Source) fetchError(topic string, partition int32, err error) {
	var loss *kgo.ErrDataLoss
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrClientClosed):
		// The poll's own end: a linger, a stop.
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		s.checkTopics() // deleted, or a leader not known yet
		s.warnFetch(topic, partition, err)
	case topic == "":
		// The client's own: joining the group, mostly; the group cannot
		// be joined without its topics.
		s.checkTopics()
		if ok, n := s.groupWarn.Allow(); ok {
			s.log.Warn("kafka input: the consumer group session failed, retrying", "group", s.cfg.Group,
				"brokers", strings.Join(s.cfg.Brokers, ","), "err", err, "suppressed", n)
		}
	case errors.As(err, &loss):
		// Records were deleted (retention) or lost (an unclean leader
		// election) before they were read: franz-go goes on from what
		// is left.
		s.log.Warn("kafka input: records lost before they were read; going on from what is left", "topic", topic,
			"partition", partition, "err", err)
	default:
		s.warnFetch(topic, partition, err)
	}
}

func (s *Source) warnFetch(topic string, partition int32, err error) {
	if ok, n := s.fetchWarn.Allow(); ok {
		s.log.Warn("kafka input: fetch failed, retrying", "topic", topic, "partition", partition,
			"brokers", strings.Join(s.cfg.Brokers, ","), "err", err, "suppressed", n)
	}
}
