package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
)

// errNotSent marks the messages not sent because an earlier request to
// their partition failed; they are retried with it.
var errNotSent = errors.New("not sent after an earlier request to the partition failed")

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
	// records: the topic's max.message.bytes less a batch header (see
	// RecordLimit). A single message over it is refused for itself, as
	// the broker would refuse it.
	maxBytes int
	// parts is 0…n-1 for the balancer, kept between calls.
	parts []int
	log   *slog.Logger
	// limitRead is when maxBytes was last read again: a request the
	// broker refuses as too large has it read again (at once the first
	// time, then at most every limitRecheck), since the topic's limit may
	// have been lowered.
	limitRead time.Time
}

// limitRecheck is the least time between two reads of the topic's limit.
const limitRecheck = 10 * time.Second

// produce sends msgs and returns nil when the broker acknowledged them
// all with acks=all. Otherwise it returns a kafkago.WriteErrors of
// len(msgs), an entry per message (nil for those acknowledged), or
// another error when nothing could be sent at all.
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
	var mu sync.Mutex // guards errs and sizeRefused while partitions are sent in parallel
	sizeRefused := false
	fail := func(i int, err error) {
		if errs == nil {
			errs = make(kafkago.WriteErrors, len(msgs))
		}
		errs[i] = err
	}

	// Group the messages by partition, keeping their order.
	byPart := make(map[int][]int, 1)
	for i := range msgs {
		if size := messageSize(&msgs[i]); size > p.maxBytes {
			fail(i, fmt.Errorf("%w: about %d bytes with its key and headers, over the %d of topic %s's max.message.bytes",
				kafkago.MessageTooLargeError{Message: msgs[i]}, size, p.maxBytes+batchOverhead, p.topic))
			continue
		}
		part := p.balancer.Balance(msgs[i], p.parts...)
		byPart[part] = append(byPart[part], i)
	}
	// A partition's requests go one after the other: sent side by side
	// they could take different connections and be appended out of
	// order. After a failed one the rest of the partition's are not sent,
	// so that the retry keeps the order.
	send := func(part int, idx []int) {
		for len(idx) > 0 {
			k, size := 0, 0
			for k < len(idx) {
				s := messageSize(&msgs[idx[k]])
				if k > 0 && size+s > p.maxBytes {
					break
				}
				size += s
				k++
			}
			resp, err := p.client.Produce(ctx, &kafkago.ProduceRequest{
				Topic: p.topic, Partition: part, RequiredAcks: kafkago.RequireAll,
				Compression: p.compression, Records: &messageRecords{msgs: msgs, idx: idx[:k]},
			})
			if err == nil && resp != nil && resp.Error != nil {
				err = resp.Error
			}
			if err != nil {
				mu.Lock()
				if k > 1 && (errors.Is(err, kafkago.MessageSizeTooLarge) || errors.Is(err, kafkago.RecordListTooLarge)) {
					sizeRefused = true
				}
				err = fmt.Errorf("partition %d: %w", part, err)
				for _, i := range idx[:k] {
					fail(i, err)
				}
				// The rest wait for the retry after the failed
				// request's; if that one was refused for its records,
				// they go with them into the halving, in order, so no
				// later record of the partition overtakes an earlier
				// one that is sent again.
				rest := fmt.Errorf("partition %d: %w", part, errNotSent)
				if refusedRecord(err) {
					rest = fmt.Errorf("partition %d: not sent after an earlier request was refused: %w", part, err)
				}
				for _, i := range idx[k:] {
					fail(i, rest)
				}
				mu.Unlock()
				return
			}
			idx = idx[k:]
		}
	}
	if len(byPart) == 1 {
		for part, idx := range byPart {
			send(part, idx)
		}
	} else {
		var wg sync.WaitGroup
		for part, idx := range byPart {
			wg.Go(func() { send(part, idx) })
		}
		wg.Wait()
	}
	if sizeRefused && time.Since(p.limitRead) >= limitRecheck {
		p.limitRead = time.Now()
		if n := RecordLimit(ctx, p.client, p.topic, p.log); n != p.maxBytes {
			p.log.Info("kafka output: the topic's max.message.bytes changed; produce requests follow it",
				"topic", p.topic, "was", p.maxBytes+batchOverhead, "now", n+batchOverhead)
			p.maxBytes = n
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
