package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// TestKafkaPartitionsAdded: partitions added to the input topic while the
// stage runs are picked up with a rebalance, from their first record:
// records produced to them before the stage noticed are delivered too.
func TestKafkaPartitionsAdded(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 2), b.CreateTopic("out", 2)
	group := b.Name("group")
	cmd, stderr := startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", group,
		"--kafka-out-topic", out, "--kafka-commit-interval", "100ms")
	b.Produce(in, records(0, 500)...)
	waitOutput(t, b, out, 500, 60*time.Second, stderr)
	b.AddPartitions(in, 4)
	b.Produce(in, records(500, 1500)...) // keyed: spread over all four
	final := waitOutput(t, b, out, 2000, 90*time.Second, stderr)
	distinct, dups := checkOutput(t, final)
	t.Logf("partitions added: %d distinct, %d duplicates", distinct, dups)
	committed := b.Committed(group, in, 4)
	waitMetricsCond(t, stderr, "the new partitions committed", func() bool {
		committed = b.Committed(group, in, 4)
		return committed[2] > 0 && committed[3] > 0
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
	var sum int64
	for _, off := range b.Committed(group, in, 4) {
		sum += off
	}
	if sum != 2000 {
		t.Errorf("committed offsets add up to %d, want 2000", sum)
	}
}

// TestKafkaTopicDeleted: deleting the input topic under the stage stops
// it with exit 1 and an error naming the topic.
func TestKafkaTopicDeleted(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 2), b.CreateTopic("out", 2)
	cmd, stderr := startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", b.Name("group"),
		"--kafka-out-topic", out, "--kafka-commit-interval", "100ms")
	b.Produce(in, records(0, 200)...)
	waitOutput(t, b, out, 200, 60*time.Second, stderr)
	b.DeleteTopic(in)
	if code := exitWithin(t, cmd, 60*time.Second); code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	// The log quotes the error, so its quotes come escaped.
	if want := `topic \"` + in + `\" does not exist`; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "deleted while consumed") {
		t.Errorf("stderr does not say %q and that it was deleted:\n%s", want, stderr)
	}
}
