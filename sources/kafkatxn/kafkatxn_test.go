package kafkatxn

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestNewRefuses: settings that cannot work are refused before any
// broker is asked, each error naming what is wrong.
func TestNewRefuses(t *testing.T) {
	base := Config{Brokers: []string{"127.0.0.1:1"}, Topics: []string{"in"}, Group: "g", OutTopic: "out"}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Brokers = nil }, "no brokers"},
		{func(c *Config) { c.Topics = nil }, "no input topic"},
		{func(c *Config) { c.Group = "" }, "no consumer group"},
		{func(c *Config) { c.OutTopic = "" }, "no output topic"},
		{func(c *Config) { c.DeadLetterTopic = "out" }, "the dead-letter topic out is the output topic"},
		{func(c *Config) { c.Topics = []string{"out"} }, "topic out is both read and written"},
		{func(c *Config) { c.Compression = "brotli" }, `kafka compression "brotli"`},
		{func(c *Config) { c.Start = "middle" }, `start "middle"`},
		{func(c *Config) { c.CommitInterval = 20 * time.Minute }, "commit interval 20m0s: a transaction may stay open at most 14m0s"},
	} {
		cfg := base
		tc.edit(&cfg)
		_, err := New(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v, want an error saying %q", err, tc.want)
		}
	}
}

// TestDefaultTransactionalID: instances on one host, even of one group,
// never share an id, which would fence one of them.
func TestDefaultTransactionalID(t *testing.T) {
	a, b := DefaultTransactionalID("g"), DefaultTransactionalID("g")
	if a == b || !strings.HasPrefix(a, "annotator-g-") {
		t.Errorf("ids %q and %q: want two distinct ids beginning annotator-g-", a, b)
	}
}
