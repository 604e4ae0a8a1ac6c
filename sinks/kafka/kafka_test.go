package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

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

// A topic created just after the stage started (by the same deployment
// script, say) is waited for a few seconds rather than called missing: a
// new topic reaches every broker's metadata a little later.
func TestSinkTopicCreatedJustAfterStart(t *testing.T) {
	b := kafkatest.Start(t)
	name := b.Name("late")
	errc := make(chan error, 1)
	go func() {
		s, err := kafkasink.New(context.Background(), kafkasink.Config{Brokers: b.Addrs, Topic: name})
		if s != nil {
			s.Close()
		}
		errc <- err
	}()
	time.Sleep(time.Second) // the sink asks for the topic meanwhile
	b.CreateTopicNamed(name, 1, nil)
	if err := <-errc; err != nil {
		t.Fatalf("a topic created a second after start: %v", err)
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

// poisonBatch is a batch of outputs made from consumed records, the one at
// offset big with an annotated value of size bytes; the rest are small.
func poisonBatch(n, big, size int) *pipeline.Batch {
	b := &pipeline.Batch{Kind: pipeline.Records}
	for i := 0; i < n; i++ {
		r := &pipeline.Record{
			Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d 898001", i)),
			Headers: []pipeline.Header{{Key: "trace", Value: []byte(fmt.Sprint(i))}},
			Topic:   "in", Partition: 3, Offset: int64(100 + i),
		}
		out := string(r.Value) + " [note]"
		if i == big {
			out += strings.Repeat("x", size)
		}
		b.Records = append(b.Records, *r)
		b.Outs = append(b.Outs, pipeline.Output{Value: []byte(out), Key: r.Key, Headers: r.Headers, Codes: []string{"898001"}})
	}
	for i := range b.Outs {
		b.Outs[i].Source = &b.Records[i]
	}
	return b
}

// TestSinkDeadLetter: a record whose annotated value is over the output
// topic's max.message.bytes, sent in one batch with others of the same
// partition (which the broker refuses along with it), goes to the
// dead-letter topic as it was read, with the headers that say why and
// where from; every other record reaches the output topic once. Records
// over the client's own 1 MiB limit go the same way.
func TestSinkDeadLetter(t *testing.T) {
	b := kafkatest.Start(t)
	// One partition: every record of the batch shares the refused
	// record batch.
	out := b.CreateTopicWith("out", 1, map[string]string{"max.message.bytes": "4000"})
	dlq := b.CreateTopic("dlq", 1)
	ctx := context.Background()
	var hook hookCounts
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: out, DeadLetterTopic: dlq, Hook: &hook})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 50
	if err := s.Write(ctx, poisonBatch(n, 17, 5000)); err != nil {
		t.Fatalf("Write with a dead-letter topic: %v", err)
	}
	if err := s.Write(ctx, poisonBatch(n, 3, 2<<20)); err != nil {
		t.Fatalf("Write of a record over 1 MiB: %v", err)
	}
	got := b.ReadAll(out, 2*(n-1), 20*time.Second)
	if len(got) != 2*(n-1) {
		t.Fatalf("output topic holds %d messages, want %d", len(got), 2*(n-1))
	}
	seen := map[string]int{}
	for _, m := range got {
		seen[string(m.Key)]++
	}
	for i := 0; i < n; i++ {
		want := 2
		if i == 17 || i == 3 {
			want = 1
		}
		if k := fmt.Sprintf("k%d", i); seen[k] != want {
			t.Errorf("record %s reached the output %d times, want %d", k, seen[k], want)
		}
	}
	dead := b.ReadAll(dlq, 2, 20*time.Second)
	if len(dead) != 2 {
		t.Fatalf("dead-letter topic holds %d messages, want 2", len(dead))
	}
	for _, tc := range []struct {
		m      kafkago.Message
		i      int
		reason string
	}{{dead[0], 17, "Message Size Too Large"}, {dead[1], 3, "Message Size Too Large"}} {
		m := tc.m
		if string(m.Key) != fmt.Sprintf("k%d", tc.i) || string(m.Value) != fmt.Sprintf("v%d 898001", tc.i) {
			t.Errorf("dead letter key %q value %q: want the record as read, k%d / v%d 898001", m.Key, m.Value, tc.i, tc.i)
		}
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		if h["trace"] != fmt.Sprint(tc.i) || h[kafkasink.SourceTopicHeader] != "in" || h[kafkasink.SourcePartitionHeader] != "3" ||
			h[kafkasink.SourceOffsetHeader] != fmt.Sprint(100+tc.i) || !strings.Contains(h[kafkasink.ErrorHeader], tc.reason) ||
			!strings.Contains(h[kafkasink.ErrorHeader], out) {
			t.Errorf("dead letter headers %v: want the record's own and where it came from and why", h)
		}
		if _, ok := h[kafkasink.CodesHeader]; ok {
			t.Errorf("dead letter carries %s: it holds the record as read", kafkasink.CodesHeader)
		}
	}
	if s.DeadLettered.Load() != 2 || hook.dead["in"] != 2 || hook.failed["record"] == 0 {
		t.Errorf("DeadLettered %d, hook dead %v failed %v: want 2 set aside and refusals counted", s.DeadLettered.Load(), hook.dead, hook.failed)
	}
}

// TestSinkPoisonStops: without a dead-letter topic, the refused record
// stops the run with an error that names it.
func TestSinkPoisonStops(t *testing.T) {
	b := kafkatest.Start(t)
	out := b.CreateTopicWith("out", 1, map[string]string{"max.message.bytes": "4000"})
	ctx := context.Background()
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: out})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Write(ctx, poisonBatch(20, 7, 5000))
	want := "refused the record at topic in partition 3 offset 107"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--kafka-dlq-topic") {
		t.Fatalf("Write error = %v, want one with %q and the hint", err, want)
	}
}

// hookCounts keeps what the sink reports to its metrics hook.
type hookCounts struct {
	mu     sync.Mutex
	failed map[string]int
	dead   map[string]int
	// retried, when set, is signalled (without blocking) at every
	// attempt reported failed and retried.
	retried chan struct{}
}

func (h *hookCounts) ProduceFailed(topic, kind string, messages int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed == nil {
		h.failed = map[string]int{}
	}
	h.failed[kind] += messages
	if kind == "retriable" && h.retried != nil {
		select {
		case h.retried <- struct{}{}:
		default:
		}
	}
}

func (h *hookCounts) DeadLettered(source string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dead == nil {
		h.dead = map[string]int{}
	}
	h.dead[source]++
}

// TestSinkOrderWithinPartition: a batch larger than one produce request
// per partition (several MiB) arrives with each partition's messages in
// the batch's order, keyed and unkeyed alike, each message once.
func TestSinkOrderWithinPartition(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("order", 3)
	ctx := context.Background()
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 30000
	pad := strings.Repeat(".", 300)
	batch := &pipeline.Batch{Kind: pipeline.Records}
	for i := 0; i < n; i++ {
		o := pipeline.Output{Value: []byte(fmt.Sprintf("%06d %s", i, pad))}
		if i%2 == 0 { // half keyed (spread by murmur2), half not (one partition per batch)
			o.Key = []byte(fmt.Sprintf("k%d", i%10))
		}
		batch.Outs = append(batch.Outs, o)
	}
	if err := s.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got := b.ReadAll(topic, n, 30*time.Second)
	if len(got) != n {
		t.Fatalf("read %d messages, want %d", len(got), n)
	}
	last := map[int]int{} // partition → sequence number last seen
	seen := map[int]bool{}
	for _, m := range got {
		var seq int
		fmt.Sscanf(string(m.Value), "%d", &seq)
		if prev, ok := last[m.Partition]; ok && seq <= prev {
			t.Fatalf("partition %d: message %d at offset %d after message %d", m.Partition, seq, m.Offset, prev)
		}
		last[m.Partition] = seq
		if seen[seq] {
			t.Fatalf("message %d twice", seq)
		}
		seen[seq] = true
	}
	if len(last) < 2 {
		t.Errorf("all messages in %d partition(s): keys should spread them", len(last))
	}
}

// TestSinkFollowsTopicLimit: requests are cut to the output topic's own
// max.message.bytes, larger or smaller than Kafka's default: a topic that
// takes 3 MiB gets a 2 MiB record (the default 1 MiB would refuse it),
// and a topic that takes 20,000 bytes gets a batch of 2,000 small
// records with no request refused.
func TestSinkFollowsTopicLimit(t *testing.T) {
	b := kafkatest.Start(t)
	ctx := context.Background()

	large := b.CreateTopicWith("large", 1, map[string]string{"max.message.bytes": fmt.Sprint(3 << 20)})
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: large})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.MaxRecord(), 3<<20-61; got != want {
		t.Errorf("MaxRecord = %d, want %d (the topic's max.message.bytes less a batch header)", got, want)
	}
	big := strings.Repeat("y", 2<<20)
	if err := s.Write(ctx, &pipeline.Batch{Kind: pipeline.Records, Outs: []pipeline.Output{{Value: []byte(big)}}}); err != nil {
		t.Fatalf("a 2 MiB record to a topic taking 3 MiB: %v", err)
	}
	if got := b.ReadAll(large, 1, 20*time.Second); len(got) != 1 || string(got[0].Value) != big {
		t.Fatalf("read %d messages, want the 2 MiB one", len(got))
	}

	small := b.CreateTopicWith("small", 1, map[string]string{"max.message.bytes": "20000"})
	var hook hookCounts
	s2, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: small, Hook: &hook})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	batch := &pipeline.Batch{Kind: pipeline.Records}
	for i := 0; i < 2000; i++ {
		batch.Outs = append(batch.Outs, pipeline.Output{Value: []byte(fmt.Sprintf("%06d %s", i, strings.Repeat(".", 100)))})
	}
	if err := s2.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got := b.ReadAll(small, 2000, 20*time.Second); len(got) != 2000 {
		t.Fatalf("read %d messages, want 2000", len(got))
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.failed) != 0 {
		t.Errorf("produce failures %v: requests should fit the topic's limit", hook.failed)
	}
}

// TestSinkOrderAfterRefusal: when the topic's limit is lowered after the
// sink started, the first request of a partition is refused whole while
// the next one would fit; the refused records are sent again in halves,
// no later record of the partition overtakes them, and the limit is read
// again so that the next batch goes through without refusals.
func TestSinkOrderAfterRefusal(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("lowered", 1)
	ctx := context.Background()
	var hook hookCounts
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: topic, Hook: &hook})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := b.Client().AlterConfigs(ctx, &kafkago.AlterConfigsRequest{Resources: []kafkago.AlterConfigRequestResource{{
		ResourceType: kafkago.ResourceTypeTopic, ResourceName: topic,
		Configs: []kafkago.AlterConfigRequestConfig{{Name: "max.message.bytes", Value: "700000"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Errors {
		if r != nil {
			t.Fatal(r)
		}
	}
	const n = 10000 // ~1.5 MB: a request of ~1 MiB, refused now, then one of ~0.5 MB
	pad := strings.Repeat(".", 140)
	batch := func(from int) *pipeline.Batch {
		b := &pipeline.Batch{Kind: pipeline.Records}
		for i := from; i < from+n; i++ {
			b.Outs = append(b.Outs, pipeline.Output{Value: []byte(fmt.Sprintf("%06d %s", i, pad))})
		}
		return b
	}
	if err := s.Write(ctx, batch(0)); err != nil {
		t.Fatal(err)
	}
	hook.mu.Lock()
	first := hook.failed["record"]
	hook.mu.Unlock()
	if first == 0 {
		t.Fatal("no request was refused: the test no longer lowers the limit under the sink")
	}
	// The refusal had the limit read again: the next batch's requests
	// fit it, and none is refused.
	if err := s.Write(ctx, batch(n)); err != nil {
		t.Fatal(err)
	}
	hook.mu.Lock()
	again := hook.failed["record"] - first
	hook.mu.Unlock()
	if again != 0 {
		t.Errorf("%d records refused in the second batch: the lowered limit was not read again", again)
	}
	got := b.ReadAll(topic, 2*n, 30*time.Second)
	if len(got) != 2*n {
		t.Fatalf("read %d messages, want %d", len(got), 2*n)
	}
	for i, m := range got {
		var seq int
		fmt.Sscanf(string(m.Value), "%d", &seq)
		if seq != i {
			t.Fatalf("offset %d holds message %d: out of order", m.Offset, seq)
		}
	}
}
