package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
		// The batch is reused once delivered: keep copies.
		o.Value = append([]byte(nil), o.Value...)
		o.Codes = slices.Clone(o.Codes)
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

// membership keeps what the source reports of its place in the group.
type membership struct {
	mu        sync.Mutex
	assigned  []int
	committed []int64
	failures  int
}

func (m *membership) Assigned(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.assigned = append(m.assigned, n)
}

func (m *membership) PartitionCommitted(_ string, _ int32, off int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.committed = append(m.committed, off)
}

func (m *membership) CommitFailed() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures++
}

// gatedSink takes one batch, then holds the next Write until released.
type gatedSink struct {
	sink
	took    chan int // the records of the first batch
	release chan struct{}
}

func (g *gatedSink) Write(ctx context.Context, b *pipeline.Batch) error {
	g.sink.mu.Lock()
	first := g.sink.n == 0
	g.sink.mu.Unlock()
	if !first {
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := g.sink.Write(ctx, b); err != nil {
		return err
	}
	if first {
		g.took <- len(b.Outs)
	}
	return nil
}

// TestCommitEachBatch: with CommitEachBatch a delivered batch's offsets
// are committed while the next batch is still being written, without
// waiting for any interval; the hook sees every commit, ending at the end
// of the partition.
func TestCommitEachBatch(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("each", 1)
	group := b.Name("group")
	const n = 1000
	b.Produce(topic, messages(n)...)
	var m membership
	src, err := kafkasrc.New(context.Background(), kafkasrc.Config{
		Brokers: b.Addrs, Topics: []string{topic}, Group: group, SessionTimeout: 6 * time.Second,
		CommitInterval: kafkasrc.CommitEachBatch, BatchRecords: 100, Membership: &m,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := &gatedSink{sink: sink{want: n, enough: cancel}, took: make(chan int, 1), release: make(chan struct{})}
	ran := make(chan error, 1)
	go func() { // ends when the sink has every record (cancel) or the deadline
		_, err := pipeline.Run(ctx, src, annotator(t, annotate.Text), g, pipeline.Options{Workers: 2})
		ran <- err
	}()
	first := <-g.took
	deadline := time.Now().Add(30 * time.Second)
	for b.Committed(group, topic, 1)[0] != int64(first) {
		if time.Now().After(deadline) {
			t.Fatalf("the first batch's %d records were not committed while the second was held; committed %v", first, b.Committed(group, topic, 1))
		}
		time.Sleep(20 * time.Millisecond) // polling the broker
	}
	close(g.release)
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	src.Close()
	if got := b.Committed(group, topic, 1)[0]; got != n {
		t.Errorf("committed %d after Close, want %d", got, n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.assigned) != 1 || m.assigned[0] != 1 || len(m.committed) < 2 || m.committed[0] != int64(first) || m.committed[len(m.committed)-1] != n {
		t.Errorf("hook saw assignments %v and commits %v: want one generation of 1 partition, commits from %d to %d", m.assigned, m.committed, first, n)
	}
}
