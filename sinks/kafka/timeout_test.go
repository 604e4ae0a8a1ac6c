package kafka_test

import (
	"context"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/annotator-dev/annotator/pipeline"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
)

// A produce request gives the leader seconds to hear from the in-sync
// replicas, not kafka-go's 500 ms default: under load a short timeout
// answers REQUEST_TIMED_OUT for records appended anyway, and the retry
// writes them twice (seen on a loaded 3-node cluster).
func TestSinkProduceTimeoutIsSeconds(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "timeout-out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	var timeouts []int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		timeouts = append(timeouts, req.(*kmsg.ProduceRequest).TimeoutMillis)
		mu.Unlock()
		return nil, nil, false // observed only: the cluster handles it
	})
	ctx := context.Background()
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: c.ListenAddrs(), Topic: "timeout-out"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(ctx, &pipeline.Batch{Kind: pipeline.Records, Outs: []pipeline.Output{{Value: []byte("x 898001")}}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(timeouts) == 0 {
		t.Fatal("no produce request seen")
	}
	for _, ms := range timeouts {
		if ms < 5000 {
			t.Errorf("produce request timeout %d ms, want seconds", ms)
		}
	}
}
