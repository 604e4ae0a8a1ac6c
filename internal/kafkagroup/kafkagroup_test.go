package kafkagroup

import (
	"strings"
	"testing"
	"time"
)

// TestCheck: settings that cannot work are refused naming what is wrong,
// and the rest get their defaults.
func TestCheck(t *testing.T) {
	base := Settings{Brokers: []string{"127.0.0.1:1"}, Topics: []string{"in"}, Group: "g"}
	for _, tc := range []struct {
		edit func(*Settings)
		want string
	}{
		{func(s *Settings) { s.Brokers = nil }, "no brokers (--kafka-brokers)"},
		{func(s *Settings) { s.Topics = nil }, "no input topic (--kafka-topic)"},
		{func(s *Settings) { s.Group = "" }, "no consumer group (--kafka-group)"},
		{func(s *Settings) { s.Start = "middle" }, `start "middle": want first or last`},
		{func(s *Settings) { s.SessionTimeout, s.HeartbeatInterval = time.Second, time.Second }, "heartbeat interval 1s: want it under the session timeout 1s"},
	} {
		s := base
		tc.edit(&s)
		if err := s.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check: %v, want an error saying %q", err, tc.want)
		}
	}
	s := base
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if s.Start != "first" || s.SessionTimeout != 30*time.Second || s.HeartbeatInterval != 3*time.Second || s.RebalanceTimeout != 30*time.Second {
		t.Errorf("defaults: start %q, session %s, heartbeat %s, rebalance %s; want first, 30s, 3s, 30s",
			s.Start, s.SessionTimeout, s.HeartbeatInterval, s.RebalanceTimeout)
	}
}
