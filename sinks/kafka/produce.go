package kafka

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	kafkago "github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
)

// producer sends messages to their partitions' leaders with one produce
// request per partition (more when a partition's messages exceed
// maxBytes), in parallel, and waits for every answer.
//
// kafka-go's Writer is not used for the output: it looks the topic's
// partition count up once per message (a metadata lookup through the
// transport's cache that copies the filtered metadata each time: 18% of
// the stage's CPU when moving 150-byte records), allocates a slice of
// BatchSize messages for every batch, and batches again what the sink
// already hands over in whole batches. Retries, the dead-letter topic and
// the splitting of refused batches live in Sink, as before.
type producer struct {
	client      *kafkago.Client
	topic       string
	balancer    kafkago.Balancer
	compression kafkago.Compression
	// maxBytes bounds the estimated size of one produce request's
	// records; a single message over it is refused for itself, as the
	// broker would refuse it (its default limit is 1 MiB).
	maxBytes int
	// parts is 0…n-1 for the balancer, kept between calls.
	parts []int
}

// produce sends msgs (their indices idx) and returns nil when the broker
// acknowledged them all with acks=all. Otherwise it returns a
// kafkago.WriteErrors of len(idx), an entry per message (nil for those
// acknowledged), or another error when nothing could be sent at all.
func (p *producer) produce(ctx context.Context, msgs []kafkago.Message) error {
	n, err := p.partitions(ctx)
	if err != nil {
		return err
	}
	if len(p.parts) != n {
		p.parts = make([]int, n)
		for i := range p.parts {
			p.parts[i] = i
		}
	}
	var errs kafkago.WriteErrors
	fail := func(i int, err error) {
		if errs == nil {
			errs = make(kafkago.WriteErrors, len(msgs))
		}
		errs[i] = err
	}

	// Group the messages by partition, keeping their order, and cut each
	// partition's run into requests of at most maxBytes.
	byPart := make(map[int][]int, 1)
	for i := range msgs {
		if size := messageSize(&msgs[i]); size > p.maxBytes {
			fail(i, kafkago.MessageTooLargeError{Message: msgs[i]})
			continue
		}
		part := p.balancer.Balance(msgs[i], p.parts...)
		byPart[part] = append(byPart[part], i)
	}
	type request struct {
		part int
		idx  []int
	}
	var reqs []request
	for part, idx := range byPart {
		start, size := 0, 0
		for k, i := range idx {
			s := messageSize(&msgs[i])
			if k > start && size+s > p.maxBytes {
				reqs = append(reqs, request{part, idx[start:k]})
				start, size = k, 0
			}
			size += s
		}
		reqs = append(reqs, request{part, idx[start:]})
	}

	results := make([]error, len(reqs))
	send := func(k int) {
		r := reqs[k]
		resp, err := p.client.Produce(ctx, &kafkago.ProduceRequest{
			Topic: p.topic, Partition: r.part, RequiredAcks: kafkago.RequireAll,
			Compression: p.compression, Records: &messageRecords{msgs: msgs, idx: r.idx},
		})
		if err == nil && resp != nil && resp.Error != nil {
			err = resp.Error
		}
		if err != nil {
			results[k] = fmt.Errorf("partition %d: %w", r.part, err)
		}
	}
	if len(reqs) == 1 {
		send(0)
	} else {
		var wg sync.WaitGroup
		for k := range reqs {
			wg.Go(func() { send(k) })
		}
		wg.Wait()
	}
	for k, err := range results {
		if err == nil {
			continue
		}
		for _, i := range reqs[k].idx {
			fail(i, err)
		}
	}
	if errs != nil {
		return errs
	}
	return nil
}

// partitions asks the transport for the topic's partition count: it
// answers from its metadata cache, refreshed every MetadataTTL, so
// partitions added to the output topic are used within that time.
func (p *producer) partitions(ctx context.Context) (int, error) {
	r, err := p.client.Transport.RoundTrip(ctx, p.client.Addr, &metadataAPI.Request{TopicNames: []string{p.topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata of topic %s: %w", p.topic, err)
	}
	for _, t := range r.(*metadataAPI.Response).Topics {
		if t.Name == p.topic {
			if t.ErrorCode != 0 {
				return 0, fmt.Errorf("metadata of topic %s: %w", p.topic, kafkago.Error(t.ErrorCode))
			}
			if len(t.Partitions) == 0 {
				break
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("metadata of topic %s: %w", p.topic, kafkago.UnknownTopicOrPartition)
}

// messageSize is an upper bound of a message's size in a record batch
// (kafka-go's own estimate).
func messageSize(m *kafkago.Message) int {
	n := 4 + 1 + 1 + 8 + 4 + len(m.Key) + 4 + len(m.Value) + 4
	for _, h := range m.Headers {
		n += 4 + len(h.Key) + 4 + len(h.Value)
	}
	return n
}

// messageRecords reads msgs[idx[…]] as the records of a produce request,
// with one reusable reader for keys and one for values.
type messageRecords struct {
	msgs   []kafkago.Message
	idx    []int
	next   int
	record kafkago.Record
	key    bytesReader
	value  bytesReader
}

func (r *messageRecords) ReadRecord() (*kafkago.Record, error) {
	if r.next >= len(r.idx) {
		return nil, io.EOF
	}
	m := &r.msgs[r.idx[r.next]]
	r.next++
	r.record = kafkago.Record{Time: m.Time, Headers: m.Headers}
	if m.Key != nil {
		r.key.Reset(m.Key)
		r.record.Key = &r.key
	}
	if m.Value != nil {
		r.value.Reset(m.Value)
		r.record.Value = &r.value
	}
	return &r.record, nil
}

type bytesReader struct{ bytes.Reader }

func (*bytesReader) Close() error { return nil }
