package kafka

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
)

// A topic consumed is called deleted once topicAsks answers in a row,
// topicAskGap apart, say the brokers do not know it: one answer may come
// from a broker that has not caught up with the cluster yet.
const (
	topicAsks   = 3
	topicAskGap = 500 * time.Millisecond
)

// checkGap is the least time between two topic checks: every failed
// fetch of a partition of a deleted topic, and every group failure, asks
// for one.
const checkGap = time.Second

// topicWatch is how often the member asks whether its topics still
// exist: a member holding none of a deleted topic's partitions fetches
// nothing that would fail.
const topicWatch = 5 * time.Second

// watchTopics asks every topicWatch whether the topics consumed are still
// known, and checks them when one is not, until ctx is done. That the
// brokers do not answer is said (the fetches retry silently).
func (s *Source) watchTopics(ctx context.Context) {
	t := time.NewTicker(topicWatch)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(ctx, topicWatch)
		missing, err := s.unknownTopic(actx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if ok, n := s.watchWarn.Allow(); ok {
				s.log.Warn("kafka input: brokers not answering, retrying", "brokers", strings.Join(s.cfg.Brokers, ","),
					"err", err, "suppressed", n)
			}
		case missing:
			s.checkTopics()
		}
	}
}

// unknownTopic asks the brokers, over the member's own connections, for
// the topics consumed, and reports whether they do not know one.
func (s *Source) unknownTopic(ctx context.Context) (bool, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range s.cfg.Topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return false, fmt.Errorf("metadata of topics %v: %w", s.cfg.Topics, err)
	}
	known := 0
	for _, t := range resp.Topics {
		if kerr.ErrorForCode(t.ErrorCode) == nil {
			known++
		}
	}
	return known < len(s.cfg.Topics), nil
}

// checkTopics asks the brokers, in the background, whether every topic
// consumed still exists, and fails the source if one does not. One check
// runs at a time, at most one every checkGap; Close ends it and waits for
// it.
func (s *Source) checkTopics() {
	now := time.Now().UnixNano()
	if s.closed() || now-s.lastCheck.Load() < int64(checkGap) || !s.checking.CompareAndSwap(false, true) {
		return
	}
	s.lastCheck.Store(now)
	s.checks.Add(1)
	go func() {
		defer s.checks.Done()
		defer s.checking.Store(false)
		s.checkTopicsNow()
	}()
}

func (s *Source) checkTopicsNow() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // Close ends the check
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var missing string
	for i := 0; i < topicAsks; i++ {
		if i > 0 {
			t := time.NewTimer(topicAskGap)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		// A client of its own: the member's answers from metadata it
		// holds, which can still hold a topic deleted a moment ago.
		m, err := kafkaconn.Missing(actx, s.conn, s.cfg.Topics)
		acancel()
		if err != nil || m == "" {
			// Unreachable brokers are the fetches' and the group's to
			// report and retry; a topic known is not deleted.
			return
		}
		missing = m
	}
	s.fail(fmt.Errorf("kafka input: topic %q %w on %s (deleted while consumed)",
		missing, kafkaconn.ErrNoTopic, strings.Join(s.cfg.Brokers, ",")))
}
