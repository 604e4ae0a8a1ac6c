package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/internal/kafkatest"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
	kafkasrc "github.com/annotator-dev/annotator/sources/kafka"
)

func annotator(t *testing.T, f annotate.Format) *annotate.Annotator {
	t.Helper()
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	a, err := annotate.FromCatalog(c, nil, matcher.Auto, annotate.Options{Format: f})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sink keeps every output; it can fail from a given batch on, and calls
// enough when it holds want outputs.
type sink struct {
	mu     sync.Mutex
	outs   []pipeline.Output
	n      int
	failAt int
	want   int
	enough func()
}

func (s *sink) Write(_ context.Context, b *pipeline.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.failAt > 0 && s.n >= s.failAt {
		return errors.New("sink broke")
	}
	for _, o := range b.Outs {
		o.Value = append([]byte(nil), o.Value...)
		s.outs = append(s.outs, o)
	}
	if s.want > 0 && len(s.outs) >= s.want && s.enough != nil {
		s.enough()
	}
	return nil
}
func (*sink) Close() error  { return nil }
func (*sink) TakesRecords() {}

func messages(n int) []kafkago.Message {
	msgs := make([]kafkago.Message, n)
	for i := range msgs {
		msgs[i] = kafkago.Message{
			Key:     []byte(fmt.Sprintf("k%d", i)),
			Value:   []byte(fmt.Sprintf("record %d error 898001", i)),
			Headers: []kafkago.Header{{Key: "trace", Value: []byte(fmt.Sprint(i))}},
		}
	}
	return msgs
}

func newSource(t *testing.T, b *kafkatest.Broker, topic, group string) *kafkasrc.Source {
	t.Helper()
	src, err := kafkasrc.New(context.Background(), kafkasrc.Config{
		Brokers: b.Addrs, Topics: []string{topic}, Group: group,
		SessionTimeout: 6 * time.Second, CommitInterval: 100 * time.Millisecond,
		BatchRecords: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestConsumeAnnotateCommit: every record arrives annotated as a unit,
// with its key, headers and topic/partition/offset; after Close the
// group's offsets stand at the end of every partition.
func TestConsumeAnnotateCommit(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("src", 2)
	group := b.Name("group")
	const n = 2000
	b.Produce(topic, messages(n)...)
	src := newSource(t, b, topic, group)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := &sink{want: n, enough: cancel}
	if _, err := pipeline.Run(ctx, src, annotator(t, annotate.JSON), s, pipeline.Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if len(s.outs) != n {
		t.Fatalf("got %d records, want %d", len(s.outs), n)
	}
	seen := map[string]bool{}
	for _, o := range s.outs {
		v := string(o.Value)
		if !strings.HasPrefix(v, `{"topic":"`+topic+`","partition":`) || !strings.Contains(v, `"codes":[{"code":"898001"`) {
			t.Fatalf("output %s: want topic, partition, offset and the code", v)
		}
		var i int
		fmt.Sscanf(string(o.Key), "k%d", &i)
		if !strings.Contains(v, fmt.Sprintf(`"line":"record %d error 898001"`, i)) ||
			len(o.Headers) != 1 || string(o.Headers[0].Value) != fmt.Sprint(i) || fmt.Sprint(o.Codes) != "[898001]" {
			t.Fatalf("output %s: key %q headers %v codes %v do not match", v, o.Key, o.Headers, o.Codes)
		}
		seen[string(o.Key)] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct records, want %d", len(seen), n)
	}
	total := int64(0)
	for p, off := range b.Committed(group, topic, 2) {
		if off < 0 {
			t.Errorf("partition %d: nothing committed", p)
		}
		total += off
	}
	if total != n {
		t.Errorf("committed offsets add up to %d, want %d", total, n)
	}
}

// TestFailingSinkCommitsNothingAhead: when the sink fails, only what it
// took is committed, and a new member of the group gets everything else.
func TestFailingSinkCommitsNothingAhead(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("fail", 1)
	group := b.Name("group")
	const n = 1000
	b.Produce(topic, messages(n)...)
	src := newSource(t, b, topic, group)
	first := &sink{failAt: 3}
	_, err := pipeline.Run(context.Background(), src, annotator(t, annotate.Text), first, pipeline.Options{Workers: 2})
	if err == nil || !strings.Contains(err.Error(), "sink broke") {
		t.Fatalf("Run error = %v, want the sink's", err)
	}
	src.Close()
	took := len(first.outs)
	if took == 0 || took >= n {
		t.Fatalf("the sink took %d records before failing", took)
	}
	committed := b.Committed(group, topic, 1)[0]
	if committed > int64(took) {
		t.Fatalf("committed offset %d is ahead of the %d records the sink took", committed, took)
	}
	// A restart re-delivers from the committed offset: nothing is lost.
	src2 := newSource(t, b, topic, group)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	second := &sink{want: n - int(committed), enough: cancel}
	if _, err := pipeline.Run(ctx, src2, annotator(t, annotate.Text), second, pipeline.Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	src2.Close()
	got := map[string]bool{}
	for _, o := range append(first.outs, second.outs...) {
		got[string(o.Key)] = true
	}
	if len(got) != n {
		t.Errorf("%d distinct records reached a sink, want all %d", len(got), n)
	}
	if !strings.HasPrefix(string(second.outs[0].Value), fmt.Sprintf("record %d error 898001", committed)) {
		t.Errorf("restart began with %q, want record %d", second.outs[0].Value, committed)
	}
}

// TestMissingTopic and a missing group fail at start with clear errors.
func TestStartErrors(t *testing.T) {
	b := kafkatest.Start(t)
	_, err := kafkasrc.New(context.Background(), kafkasrc.Config{Brokers: b.Addrs, Topics: []string{"absent-topic"}, Group: "g"})
	if err == nil || !strings.Contains(err.Error(), `topic "absent-topic" does not exist`) {
		t.Errorf("missing topic: err = %v", err)
	}
	_, err = kafkasrc.New(context.Background(), kafkasrc.Config{Brokers: b.Addrs, Topics: []string{"t"}})
	if err == nil || !strings.Contains(err.Error(), "no consumer group") {
		t.Errorf("no group: err = %v", err)
	}
}
