package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	"github.com/annotator-dev/annotator/pipeline"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
)

// sequenced is a batch of n outputs without a key whose values begin with
// their sequence numbers from, from on, padded to pad bytes.
func sequenced(from, n, pad int) *pipeline.Batch {
	b := &pipeline.Batch{Kind: pipeline.Records}
	p := strings.Repeat(".", pad)
	for i := from; i < from+n; i++ {
		b.Outs = append(b.Outs, pipeline.Output{Value: []byte(fmt.Sprintf("%06d %s", i, p))})
	}
	return b
}

// checkOrder fails the test unless msgs hold sequence numbers 0 to n-1,
// each once, every partition's in increasing order.
func checkOrder(t *testing.T, msgs []kafkago.Message, n int) {
	t.Helper()
	if len(msgs) != n {
		t.Fatalf("read %d messages, want %d", len(msgs), n)
	}
	last := map[int]int{}
	seen := make([]bool, n)
	for _, m := range msgs {
		var seq int
		fmt.Sscanf(string(m.Value), "%d", &seq)
		if prev, ok := last[m.Partition]; ok && seq <= prev {
			t.Fatalf("partition %d: message %d at offset %d after message %d", m.Partition, seq, m.Offset, prev)
		}
		last[m.Partition] = seq
		if seq < 0 || seq >= n || seen[seq] {
			t.Fatalf("message %d unexpected or twice", seq)
		}
		seen[seq] = true
	}
}

// setLimit sets topic's max.message.bytes while the sink runs.
func setLimit(t *testing.T, b *kafkatest.Broker, topic string, limit int) {
	t.Helper()
	resp, err := b.Client().AlterConfigs(context.Background(), &kafkago.AlterConfigsRequest{Resources: []kafkago.AlterConfigRequestResource{{
		ResourceType: kafkago.ResourceTypeTopic, ResourceName: topic,
		Configs: []kafkago.AlterConfigRequestConfig{{Name: "max.message.bytes", Value: fmt.Sprint(limit)}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Errors {
		if r != nil {
			t.Fatal(r)
		}
	}
}

// TestSinkBrokerDownThenBack: a Write while the broker is down does not
// return; it reports its attempts as failed, and returns once the broker
// is back, every record then in the topic once and in order.
func TestSinkBrokerDownThenBack(t *testing.T) {
	b := kafkatest.StartLocal(t)
	topic := b.CreateTopic("down", 1)
	ctx := context.Background()
	hook := &hookCounts{retried: make(chan struct{}, 1)}
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: topic, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 500
	if err := s.Write(ctx, sequenced(0, n, 50)); err != nil {
		t.Fatal(err)
	}

	b.Stop()
	errc := make(chan error, 1)
	go func() { errc <- s.Write(ctx, sequenced(n, n, 50)) }()
	select {
	case <-hook.retried:
	case err := <-errc:
		t.Fatalf("Write returned %v while the broker was down", err)
	}
	select {
	case err := <-errc:
		t.Fatalf("Write returned %v while the broker was down", err)
	default:
	}
	b.Restart()
	if err := <-errc; err != nil {
		t.Fatalf("Write after the broker came back: %v", err)
	}
	checkOrder(t, b.ReadAll(topic, 2*n, 30*time.Second), 2*n)
	if got := s.Produced.Load(); got != 2*n {
		t.Errorf("Produced = %d, want %d", got, 2*n)
	}
}

// TestSinkGivesUpWithItsContext: a Write waiting for a broker that is
// down returns when its context ends, saying how many messages were not
// acknowledged; the sink then refuses further writes rather than reuse
// what the client may still hold.
func TestSinkGivesUpWithItsContext(t *testing.T) {
	b := kafkatest.StartLocal(t)
	topic := b.CreateTopic("gone", 1)
	hook := &hookCounts{retried: make(chan struct{}, 1)}
	s, err := kafkasink.New(context.Background(), kafkasink.Config{Brokers: b.Addrs, Topic: topic, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Write(ctx, sequenced(0, 100, 10)) }()
	<-hook.retried
	cancel()
	err = <-errc
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "100 messages not acknowledged") {
		t.Fatalf("Write error = %v, want context.Canceled and the 100 messages not acknowledged", err)
	}
	if err := s.Write(context.Background(), sequenced(100, 1, 10)); err == nil {
		t.Fatal("a Write after one given up succeeded")
	}
}

// TestSinkInvalidRecordIsolated: a broker that finds one record of a
// partition's batch invalid refuses the whole batch, and the client fails
// the partition's later records with it; the refused are sent again in
// halves until the invalid one is alone, and only it goes to the
// dead-letter topic, the others reaching the output once and in order.
func TestSinkInvalidRecordIsolated(t *testing.T) {
	b := kafkatest.StartLocal(t)
	out := b.CreateTopic("out", 1)
	dlq := b.CreateTopic("dlq", 1)
	c := b.Fake()
	marker := []byte("#bad-record#")
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		bad := false
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				bad = bad || bytes.Contains(rp.Records, marker)
			}
		}
		if !bad {
			return nil, nil, false
		}
		// The whole request refused: one partition of one topic, as the
		// test produces.
		return refuseAll(req, kerr.InvalidRecord), nil, true
	})
	ctx := context.Background()
	hook := &hookCounts{}
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: out, DeadLetterTopic: dlq, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n, bad = 64, 37
	batch := poisonBatch(n, -1, 0)
	batch.Outs[bad].Value = append(batch.Outs[bad].Value, marker...)
	for i := range batch.Outs {
		batch.Outs[i].Key = nil // one partition whatever the key; the order is checked by value
		batch.Outs[i].Value = append([]byte(fmt.Sprintf("%06d ", i)), batch.Outs[i].Value...)
	}
	if err := s.Write(ctx, batch); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got := b.ReadAll(out, n-1, 20*time.Second)
	if len(got) != n-1 {
		t.Fatalf("output holds %d messages, want %d", len(got), n-1)
	}
	prev := -1
	for _, m := range got {
		var seq int
		fmt.Sscanf(string(m.Value), "%d", &seq)
		if seq <= prev || seq == bad {
			t.Fatalf("offset %d holds message %d after %d (the invalid one is %d)", m.Offset, seq, prev, bad)
		}
		prev = seq
	}
	dead := b.ReadAll(dlq, 1, 20*time.Second)
	if len(dead) != 1 {
		t.Fatalf("dead-letter topic holds %d messages, want 1", len(dead))
	}
	h := map[string]string{}
	for _, x := range dead[0].Headers {
		h[x.Key] = string(x.Value)
	}
	if string(dead[0].Value) != fmt.Sprintf("v%d 898001", bad) || h[kafkasink.SourceOffsetHeader] != fmt.Sprint(100+bad) ||
		!strings.Contains(h[kafkasink.ErrorHeader], "Invalid Record") {
		t.Errorf("dead letter %q headers %v: want record %d as read, refused as invalid", dead[0].Value, h, bad)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if s.DeadLettered.Load() != 1 || hook.failed["record"] < 2 {
		t.Errorf("DeadLettered %d, refusals counted %v: want 1 set aside after the batch and the halves refused", s.DeadLettered.Load(), hook.failed)
	}
}

// TestSinkOrderAfterRefusalAcrossPartitions: records without a key fill
// one partition's batch after another; when the topic's lowered limit has
// the first batch refused and the next one taken, the refused records go
// back to their own partition, not behind later records in another.
func TestSinkOrderAfterRefusalAcrossPartitions(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("spread", 2)
	ctx := context.Background()
	hook := &hookCounts{}
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: topic, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	setLimit(t, b, topic, 700000)
	const n = 10000 // ~1.5 MB: a batch of ~1 MiB, refused now, then one of ~0.5 MB
	if err := s.Write(ctx, sequenced(0, n, 140)); err != nil {
		t.Fatal(err)
	}
	hook.mu.Lock()
	refused := hook.failed["record"]
	hook.mu.Unlock()
	if refused == 0 {
		t.Fatal("no batch was refused: the test no longer lowers the limit under the sink")
	}
	checkOrder(t, b.ReadAll(topic, n, 30*time.Second), n)
}

// TestSinkNoRecordOvertakesARefusal: when the broker refuses a
// partition's first record batch at once, while the batch is still being
// handed to the client, no later record of the batch reaches the
// partition before the refused ones.
func TestSinkNoRecordOvertakesARefusal(t *testing.T) {
	b := kafkatest.StartLocal(t)
	topic := b.CreateTopic("overtake", 1)
	c := b.Fake()
	// Once: without KeepControl, the cluster handles the later requests.
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		return refuseAll(kreq.(*kmsg.ProduceRequest), kerr.MessageTooLarge), nil, true
	})
	ctx := context.Background()
	hook := &hookCounts{}
	s, err := kafkasink.New(ctx, kafkasink.Config{Brokers: b.Addrs, Topic: topic, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 100000 // ~10 MB: handing it over takes far longer than the refusal
	if err := s.Write(ctx, sequenced(0, n, 90)); err != nil {
		t.Fatal(err)
	}
	hook.mu.Lock()
	refused := hook.failed["record"]
	hook.mu.Unlock()
	if refused == 0 {
		t.Fatal("no batch was refused")
	}
	checkOrder(t, b.ReadAll(topic, n, 60*time.Second), n)
}

// refuseAll answers req refusing every partition's batch with err.
func refuseAll(req *kmsg.ProduceRequest, err *kerr.Error) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = err.Code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
