package kafkatest

import (
	"context"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadCommitted reads every partition of topic from the start as a
// read_committed consumer (what a reader of an exactly-once stage's output
// must be) until want records were read, or, once timeout passes, returns
// what it read. Records of aborted or still open transactions are not
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
	for len(out) < want && ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
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
func (b *Broker) Records(topic string, partitions int) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reqs := make([]kafkago.OffsetRequest, partitions)
	for p := range reqs {
		reqs[p] = kafkago.LastOffsetOf(p)
	}
	for {
		resp, err := b.Client().ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: reqs}})
		if err == nil {
			n := 0
			for _, p := range resp.Topics[topic] {
				if p.Error != nil {
					err = p.Error
				}
				n += int(p.LastOffset)
			}
			if err == nil && len(resp.Topics[topic]) == partitions {
				return n
			}
		}
		if ctx.Err() != nil {
			b.t.Fatalf("end offsets of %s: %v", topic, err)
		}
		time.Sleep(200 * time.Millisecond) // a broker of a cluster coming back
	}
}
