package kafkaconn_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// TestMissingTopicAsksAfresh: a topic deleted a moment ago is still in a
// transport's metadata cache, which CheckTopics reads; MissingTopic names
// it at once.
func TestMissingTopicAsksAfresh(t *testing.T) {
	b := kafkatest.Start(t)
	kept, gone := b.CreateTopic("kept", 1), b.CreateTopic("gone", 1)
	topics := []string{kept, gone}
	// A long TTL: the cache keeps what it was told until the test ends.
	tr := &kafkago.Transport{DialTimeout: 5 * time.Second, MetadataTTL: time.Hour, MetadataTopics: topics}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafkaconn.CheckTopics(ctx, tr, b.Addrs, topics, 10*time.Second, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if m, err := kafkaconn.MissingTopic(ctx, tr, b.Addrs, topics); err != nil || m != "" {
		t.Fatalf("before the deletion: missing %q, %v; want none", m, err)
	}
	b.DeleteTopic(gone)
	if err := kafkaconn.CheckTopics(ctx, tr, b.Addrs, topics, 10*time.Second, slog.New(slog.DiscardHandler)); err != nil {
		t.Logf("the cached transport noticed the deletion itself: %v", err)
	}
	// A cluster of several brokers learns of the deletion a little later:
	// ask until the answer changes (a cached answer never would).
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := kafkaconn.MissingTopic(ctx, tr, b.Addrs, topics)
		if err == nil && m == gone {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after deleting %s: missing %q, %v", gone, m, err)
		}
		time.Sleep(100 * time.Millisecond) // polling the brokers
	}
}
