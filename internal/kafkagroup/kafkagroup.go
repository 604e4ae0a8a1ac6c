// Package kafkagroup holds what the two Kafka inputs (at-least-once and
// exactly-once) share as members of a consumer group: the checks and
// defaults of their settings, and the client options that make the group
// member, so that both refuse the same mistakes with the same words and
// consume alike.
package kafkagroup

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
)

// Settings are a consumer group member's.
type Settings struct {
	Brokers []string
	Topics  []string
	Group   string
	// Start is where a partition without a committed offset begins:
	// "first" (the default) or "last".
	Start string
	// SessionTimeout: a member silent this long is dropped from the group
	// and its partitions move. 0 means 30 s.
	SessionTimeout time.Duration
	// HeartbeatInterval: 0 means a tenth of SessionTimeout.
	HeartbeatInterval time.Duration
	// RebalanceTimeout: how long the group waits for members to rejoin.
	// 0 means 30 s.
	RebalanceTimeout time.Duration
}

// Defaults of the timeouts.
const (
	DefaultSessionTimeout   = 30 * time.Second
	DefaultRebalanceTimeout = 30 * time.Second
)

// metadataMaxAge is how often the member asks for the topics' metadata:
// partitions added to a topic consumed are found within it (franz-go's
// default is 5 minutes), and so is a topic deleted.
const metadataMaxAge = 5 * time.Second

// Check refuses settings that cannot work, naming the flag to fix, and
// fills in the defaults. Its errors carry no prefix: each input adds its
// own.
func (s *Settings) Check() error {
	switch {
	case len(s.Brokers) == 0:
		return errors.New("no brokers (--kafka-brokers)")
	case len(s.Topics) == 0:
		return errors.New("no input topic (--kafka-topic)")
	case s.Group == "":
		return errors.New("no consumer group (--kafka-group)")
	}
	switch s.Start {
	case "":
		s.Start = "first"
	case "first", "last":
	default:
		return fmt.Errorf("start %q: want first or last", s.Start)
	}
	if s.SessionTimeout <= 0 {
		s.SessionTimeout = DefaultSessionTimeout
	}
	if s.HeartbeatInterval <= 0 {
		s.HeartbeatInterval = s.SessionTimeout / 10
	}
	if s.RebalanceTimeout <= 0 {
		s.RebalanceTimeout = DefaultRebalanceTimeout
	}
	if s.HeartbeatInterval >= s.SessionTimeout {
		return fmt.Errorf("heartbeat interval %s: want it under the session timeout %s", s.HeartbeatInterval, s.SessionTimeout)
	}
	return nil
}

// Opts are the client options of the group member (Check first): the
// group, its topics, where a partition begins, the timeouts, and
// read_committed reading, so that what an upstream transaction aborted is
// never input. The caller adds how to reach the brokers (kafkaconn) and
// how offsets are committed.
func (s Settings) Opts(log *slog.Logger) []kgo.Opt {
	start := kgo.NewOffset().AtStart()
	if s.Start == "last" {
		start = kgo.NewOffset().AtEnd()
	}
	return []kgo.Opt{
		kgo.WithLogger(kafkaconn.Logger(log)),
		kgo.ConsumerGroup(s.Group),
		kgo.ConsumeTopics(s.Topics...),
		kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.SessionTimeout(s.SessionTimeout),
		kgo.HeartbeatInterval(s.HeartbeatInterval),
		kgo.RebalanceTimeout(s.RebalanceTimeout),
		kgo.MetadataMaxAge(metadataMaxAge),
	}
}
