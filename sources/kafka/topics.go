package kafka

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
)

// A topic consumed is called deleted once topicAsks answers in a row,
// topicAskGap apart, say the brokers do not know it: one answer may come
// from a broker that has not caught up with the cluster yet.
const (
	topicAsks   = 3
	topicAskGap = 500 * time.Millisecond
)

// checkGap is the least time between two topic checks: every fetch of a
// partition of a deleted topic, and every group join, asks for one.
const checkGap = time.Second

// hold waits for d, or until the source has failed or is closed.
func (s *Source) hold(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.failed:
	case <-s.stop:
	}
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
		m, err := kafkaconn.MissingTopic(actx, s.transport, s.cfg.Brokers, s.cfg.Topics)
		acancel()
		if err != nil || m == "" {
			// Unreachable brokers are the fetch loops' and the group's
			// to report and retry; a topic known is not deleted.
			return
		}
		missing = m
	}
	s.fail(fmt.Errorf("kafka input: topic %q %w on %s (deleted while consumed)",
		missing, kafkaconn.ErrNoTopic, strings.Join(s.cfg.Brokers, ",")))
}
