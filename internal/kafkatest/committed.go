package kafkatest

import (
	"context"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadCommitted reads every partition of topic from the start as a
// read_committed consumer (what a reader of an exactly-once stage's output
// must be) until want records were read and a second passed without more,
// or, once timeout passes, returns what it read. Records of aborted or still open transactions are not
// returned: the latter hold the reader back until they end.
func (b *Broker) ReadCommitted(topic string, want int, timeout time.Duration) []kafkago.Message {
	b.t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(b.Addrs...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		b.t.Fatalf("read_committed client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []kafkago.Message
	for ctx.Err() == nil {
		pctx := ctx
		if len(out) >= want {
			// What is past want (a duplicate) arrives by now: the
			// brokers answer a fetch at once when they hold more.
			var cancel context.CancelFunc
			pctx, cancel = context.WithTimeout(ctx, time.Second)
			defer cancel()
		}
		fetches := cl.PollFetches(pctx)
		if len(out) >= want && fetches.NumRecords() == 0 {
			break
		}
		fetches.EachRecord(func(r *kgo.Record) {
			m := kafkago.Message{Topic: r.Topic, Partition: int(r.Partition), Offset: r.Offset, Time: r.Timestamp,
				Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				m.Headers = append(m.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
			}
			out = append(out, m)
		})
	}
	return out
}

// Records returns how many records topic's partitions hold (the sum of
// their end offsets, for a topic nothing was deleted from).
func (b *Broker) Records(topic string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		n, err := b.records(ctx, topic)
		if err == nil {
			return n
		}
		if ctx.Err() != nil {
			b.t.Fatalf("end offsets of %s: %v", topic, err)
		}
		time.Sleep(200 * time.Millisecond) // a broker of a cluster coming back
	}
}

func (b *Broker) records(ctx context.Context, topic string) (int, error) {
	c := b.Client()
	md, err := c.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, err
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return 0, fmt.Errorf("metadata of %s: %v", topic, md.Topics)
	}
	var reqs []kafkago.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafkago.LastOffsetOf(p.ID))
	}
	resp, err := c.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0, err
	}
	if len(resp.Topics[topic]) != len(reqs) {
		return 0, fmt.Errorf("end offsets of %d partitions of %s, want %d", len(resp.Topics[topic]), topic, len(reqs))
	}
	n := 0
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return 0, p.Error
		}
		n += int(p.LastOffset)
	}
	return n, nil
}
