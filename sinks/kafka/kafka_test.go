package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	"github.com/annotator-dev/annotator/pipeline"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
)

// TestSinkKeysHeadersCodes: values, keys and headers arrive as given, the
// codes header replaces any stale one, and Write returns only once the
// broker holds every message.
func TestSinkKeysHeadersCodes(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("sink", 3)
	ctx := context.Background()
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: topic, Compression: "zstd"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := &pipeline.Batch{Kind: pipeline.Records, Outs: []pipeline.Output{
		{Value: []byte("v1 898001 [note]"), Key: []byte("k1"), Headers: []pipeline.Header{{Key: "h", Value: []byte("x")}, {Key: kafkasink.CodesHeader, Value: []byte("stale")}}, Codes: []string{"898001", "871310"}},
		{Value: []byte("v2 plain")},
		{Value: []byte("v3"), Key: []byte{}},
	}}
	if err := s.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got := b.ReadAll(topic, 3, 20*time.Second)
	if len(got) != 3 {
		t.Fatalf("read %d messages, want 3", len(got))
	}
	byValue := map[string]int{}
	for i, m := range got {
		byValue[string(m.Value)] = i
	}
	m := got[byValue["v1 898001 [note]"]]
	if string(m.Key) != "k1" || len(m.Headers) != 2 || m.Headers[0].Key != "h" || string(m.Headers[0].Value) != "x" ||
		m.Headers[1].Key != kafkasink.CodesHeader || string(m.Headers[1].Value) != "898001,871310" {
		t.Errorf("first message key %q headers %v", m.Key, m.Headers)
	}
	m = got[byValue["v2 plain"]]
	if m.Key != nil || len(m.Headers) != 0 {
		t.Errorf("plain message has key %q headers %v, want none", m.Key, m.Headers)
	}
	if n := s.Produced.Load(); n != 3 {
		t.Errorf("Produced = %d, want 3", n)
	}
}

// TestSinkMissingTopic and unreachable brokers fail at start with errors
// that say what is wrong.
func TestSinkStartErrors(t *testing.T) {
	b := kafkatest.Start(t)
	ctx := context.Background()
	_, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: "no-such-topic-x"})
	if err == nil || !strings.Contains(err.Error(), `topic "no-such-topic-x" does not exist`) {
		t.Errorf("missing topic: err = %v", err)
	}
	addr := kafkatest.FreePort(t)
	_, err = kafkasink.New(ctx, kafkasink.Config{Brokers: []string{addr}, Topic: "t", StartTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "brokers "+addr+" unreachable") {
		t.Errorf("unreachable broker: err = %v", err)
	}
	_, err = kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: "t", Compression: "brotli"})
	if err == nil || !strings.Contains(err.Error(), `compression "brotli"`) {
		t.Errorf("bad compression: err = %v", err)
	}
}
