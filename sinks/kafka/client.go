package kafka

import (
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/internal/kafkaout"
)

// topic is a topic the sink produces to, with the most bytes of records
// one record batch to it may hold (kafkaout.RecordLimit).
type topic struct {
	name string
	// limit is read by the client's batch limit, on its own goroutines.
	limit atomic.Int64
	// limitRead is when limit was last read again: a batch the broker
	// refuses as too large has it read again (at once the first time,
	// then at most every limitRecheck), since the topic's limit may have
	// been lowered.
	limitRead time.Time
}

// limitRecheck is the least time between two reads of a topic's limit.
const limitRecheck = 10 * time.Second

// unpartitioned is the Partition of a record not yet sent.
const unpartitioned = -1

// newClient makes the producer.
func (s *Sink) newClient() (*kgo.Client, error) {
	// Half an attempt for the leader to hear from the in-sync replicas
	// (acks=all), half for the answer on top. A short request timeout
	// (kafka-go asked for 500 ms) has a loaded cluster answer
	// REQUEST_TIMED_OUT for records it then appends anyway.
	produceTimeout := s.cfg.AttemptTimeout / 2
	opts := append(s.conn.Opts(),
		kgo.WithLogger(kafkaconn.Logger(s.log)),
		kgo.WithHooks(&s.seen),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProduceRequestTimeout(produceTimeout),
		kgo.RequestTimeoutOverhead(s.cfg.AttemptTimeout-produceTimeout),
		// Retries go on until the broker answers (an idempotent
		// producer cannot give up on records it may have written
		// without risking them twice), at most a second apart.
		kgo.RetryBackoffFn(backoff),
		// A leader that moved is looked up at most MetadataTTL after an
		// error names it gone; partitions added to the output topic
		// are used within 5 s.
		kgo.MetadataMinAge(kafkaconn.MetadataTTL),
		kgo.MetadataMaxAge(5*time.Second),
		// Write buffers a whole batch before sending any of it (Flush):
		// when a partition's record batch is refused, the client fails
		// every later record of that partition with it, and none of
		// them can have gone out on its own after the refusal.
		kgo.ManualFlushing(),
		kgo.MaxBufferedRecords(math.MaxInt32),
		kgo.ProducerBatchMaxBytesFn(s.batchLimit),
		kgo.ProducerBatchCompression(s.comp),
		kgo.RecordPartitioner(keepPartitioner{kgo.StickyKeyPartitioner(nil)}),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("producer for %s: %w", s.cfg.Topic, err)
	}
	return cl, nil
}

// batchLimit is the largest record batch to a topic, header included:
// what the broker compares with max.message.bytes. franz-go asks once
// per partition.
func (s *Sink) batchLimit(name string) int32 {
	for _, t := range []*topic{s.out, s.dlq} {
		if t != nil && t.name == name {
			if l := t.limit.Load(); l > 0 {
				return int32(min(l+kafkaout.BatchOverhead, 1<<30))
			}
		}
	}
	return kafkaout.DefaultMaxMessageBytes // a topic not ours: the client's own check of an empty name
}

// relimit reads t's limit again after the broker refused a record batch
// as too large; when it changed, the producer is made again, as franz-go
// keeps the limit it read first. Only between attempts: no record is
// in flight.
func (s *Sink) relimit(ctx context.Context, t *topic) {
	if time.Since(t.limitRead) < limitRecheck {
		return
	}
	t.limitRead = time.Now()
	n := int64(kafkaout.RecordLimit(ctx, s.cl, t.name, s.log))
	was := t.limit.Load()
	if n == was {
		return
	}
	s.log.Info("kafka output: the topic's max.message.bytes changed; produce requests follow it",
		"topic", t.name, "was", was+kafkaout.BatchOverhead, "now", n+kafkaout.BatchOverhead)
	t.limit.Store(n)
	cl, err := s.newClient()
	if err != nil {
		s.log.Warn("kafka output: could not make a producer for the new limit; keeping the old one", "topic", t.name, "err", err)
		return
	}
	s.cl.Close()
	s.cl = cl
}

// backoff is the wait before the client's retry number tries: from 100 ms,
// doubling, up to kafkaconn.MaxBackoff.
func backoff(tries int) time.Duration {
	return min(100*time.Millisecond<<min(tries, 10), kafkaconn.MaxBackoff)
}

// keepPartitioner places records as Java's default partitioner does (a
// key by murmur2, records without one on a partition that changes with
// each new batch), except that a record sent again goes back to the
// partition it had: when a batch fails, the client fails every later
// record of its partition too, so sending them back there keeps the
// partition's order, where a record without a key free to move could
// land behind later records in another partition.
type keepPartitioner struct{ kgo.Partitioner }

func (p keepPartitioner) ForTopic(name string) kgo.TopicPartitioner {
	return &keepTopicPartitioner{p.Partitioner.ForTopic(name)}
}

type keepTopicPartitioner struct{ kgo.TopicPartitioner }

// sentBefore reports whether r was given a partition by an earlier
// attempt: records start unpartitioned.
func sentBefore(r *kgo.Record) bool { return r.Partition >= 0 }

// RequiresConsistency has a record sent again wait for its partition
// even while that partition has no leader.
func (p *keepTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return sentBefore(r) || p.TopicPartitioner.RequiresConsistency(r)
}

func (p *keepTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if sentBefore(r) && int(r.Partition) < n {
		return int(r.Partition)
	}
	return p.TopicPartitioner.Partition(r, n)
}

// OnNewBatch lets the sticky choice for records without a key move on.
func (p *keepTopicPartitioner) OnNewBatch() {
	if nb, ok := p.TopicPartitioner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

// brokerErrors counts the connections and requests to brokers that
// failed, which the client retries by itself: while a Write waits, a
// count that grew is a failed attempt to report.
type brokerErrors struct {
	mu   sync.Mutex
	n    int
	last error
}

func (b *brokerErrors) note(err error) {
	b.mu.Lock()
	b.n++
	b.last = err
	b.mu.Unlock()
}

// count returns how many failed, and the last error.
func (b *brokerErrors) count() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n, b.last
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (b *brokerErrors) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		b.note(err)
	}
}

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (b *brokerErrors) OnBrokerE2E(_ kgo.BrokerMetadata, _ int16, e kgo.BrokerE2E) {
	if err := e.Err(); err != nil {
		b.note(err)
	}
}
