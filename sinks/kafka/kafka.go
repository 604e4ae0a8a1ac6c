// Package kafka is the sink that produces annotated lines and records to a
// Kafka topic.
//
// Each line or record becomes one message: the value is the annotated line
// (text or JSON), the key and headers of a consumed record are kept, and a
// header lists the codes found. Write returns only once the broker has
// acknowledged every message of the batch with acks=all, so the source's
// acknowledgement (a Kafka commit, a file checkpoint) never runs ahead of
// what the output topic holds. Failures are retried with backoff for as
// long as the caller's context allows; only errors that no retry can cure
// (no permission, a wrong setting) end the run.
//
// A record the topic refuses for itself (its annotated value is over the
// topic's size limit, or the broker finds it invalid) is poison: sending
// it again cannot succeed. With a dead-letter topic it is set aside there
// as it was read, with headers saying why and where it came from, and
// the stage goes on; without one, it stops the run with an error naming
// the record, and the batch holding it is never acknowledged, so no
// offset past it is committed.
//
// It produces with franz-go's idempotent producer, the client the
// exactly-once stage (sources/kafkatxn) is built on: the broker drops
// what a retry sends twice, and keeps each partition's records in the
// order they were sent.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/internal/kafkaout"
	"github.com/annotator-dev/annotator/metrics"
	"github.com/annotator-dev/annotator/pipeline"
)

// CodesHeader is the header that lists the codes found in a message,
// comma-separated in order of first appearance. A header of that name on
// a consumed record is replaced, so chained stages do not pile them up.
const CodesHeader = kafkaout.CodesHeader

// The headers a record set aside in the dead-letter topic carries beside
// its own: why it was refused, and where it was read.
const (
	ErrorHeader           = kafkaout.ErrorHeader
	SourceTopicHeader     = kafkaout.SourceTopicHeader
	SourcePartitionHeader = kafkaout.SourcePartitionHeader
	SourceOffsetHeader    = kafkaout.SourceOffsetHeader
)

// Config says where and how to produce.
type Config struct {
	Brokers []string
	Topic   string
	TLS     *tls.Config
	SASL    sasl.Mechanism
	// Compression: "none", "gzip", "snappy", "lz4" or "zstd".
	Compression string
	// AttemptTimeout bounds one produce request: half of it is what the
	// request gives the leader to hear from the in-sync replicas, the
	// other half the time the answer may take on top. Records still
	// unacknowledged after it count as a failed attempt (and are still
	// retried). 0 means 30 s.
	AttemptTimeout time.Duration
	// StartTimeout bounds how long New keeps trying to reach the brokers.
	// 0 means 30 s.
	StartTimeout time.Duration
	// ProduceTime stamps a record's output with the time it is produced
	// rather than the consumed record's timestamp.
	ProduceTime bool
	// DeadLetterTopic, when set, takes the consumed records the topic
	// refuses for themselves; when empty such a record stops the run.
	DeadLetterTopic string
	// Hook, when set, is told of failed produce attempts and of records
	// set aside.
	Hook metrics.ProduceHook
	Log  *slog.Logger
}

// Sink produces to one topic. It implements pipeline.RecordSink. Its
// methods are called from one goroutine at a time, as a pipeline does.
type Sink struct {
	cfg  Config
	conn kafkaconn.Conn
	comp kgo.CompressionCodec
	// cl is the producer; it is replaced when a topic's limit changes,
	// which franz-go reads only once per partition. nil once closed.
	cl   *kgo.Client
	out  *topic
	dlq  *topic // nil without a dead-letter topic
	hook metrics.ProduceHook
	log  *slog.Logger
	warn kafkaconn.Every
	seen brokerErrors

	// A batch's records and where their headers live, reused by the
	// next Write once the client is done with them.
	recs  []kgo.Record
	idx   []int
	build kafkaout.Builder

	// What the records of the attempt under way came to, told by the
	// client's promise (done).
	promise func(*kgo.Record, error)
	pending sync.WaitGroup
	unacked atomic.Int64
	mu      sync.Mutex
	failed  []failure

	// broken is what every Write returns after one that had to close the
	// client to get its records back (its context ended first).
	broken error

	// Produced counts the messages the broker acknowledged.
	Produced atomic.Int64
	// DeadLettered counts the records set aside in the dead-letter topic.
	DeadLettered atomic.Int64
}

// noHook is the ProduceHook of a sink that reports to nobody.
type noHook struct{}

func (noHook) ProduceFailed(string, string, int) {}
func (noHook) DeadLettered(string)               {}

// New checks that the brokers answer and the topic exists, and returns a
// sink producing to it.
func New(ctx context.Context, cfg Config) (*Sink, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka output: no brokers (--kafka-brokers)")
	}
	if cfg.Topic == "" {
		return nil, errors.New("kafka output: no topic")
	}
	comp, err := ParseCompression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 30 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Hook == nil {
		cfg.Hook = noHook{}
	}
	topics := []string{cfg.Topic}
	if cfg.DeadLetterTopic != "" {
		if cfg.DeadLetterTopic == cfg.Topic {
			return nil, fmt.Errorf("kafka output: the dead-letter topic %s is the output topic", cfg.Topic)
		}
		topics = append(topics, cfg.DeadLetterTopic)
	}
	conn := kafkaconn.Conn{Brokers: cfg.Brokers, TLS: cfg.TLS, SASL: cfg.SASL}
	if err := kafkaconn.Check(ctx, conn, topics, cfg.StartTimeout, cfg.Log); err != nil {
		return nil, fmt.Errorf("kafka output: %w", err)
	}
	s := &Sink{cfg: cfg, conn: conn, comp: comp, out: &topic{name: cfg.Topic}, hook: cfg.Hook, log: cfg.Log,
		warn: kafkaconn.Every{Interval: 10 * time.Second}, build: kafkaout.Builder{ProduceTime: cfg.ProduceTime}}
	s.promise = s.done
	if cfg.DeadLetterTopic != "" {
		s.dlq = &topic{name: cfg.DeadLetterTopic}
	}
	if s.cl, err = s.newClient(); err != nil {
		return nil, fmt.Errorf("kafka output: %w", err)
	}
	// A Write hands over a whole pipeline batch; it goes out in record
	// batches that fit each topic's max.message.bytes: one over it would
	// be refused whole, good records with the bad.
	for _, t := range []*topic{s.out, s.dlq} {
		if t != nil {
			t.limit.Store(int64(kafkaout.RecordLimit(ctx, s.cl, t.name, cfg.Log)))
		}
	}
	return s, nil
}

// MaxRecord is the longest annotated record the output topic takes; a
// longer one is refused for itself.
func (s *Sink) MaxRecord() int { return int(s.out.limit.Load()) }

// ParseCompression maps a flag value to franz-go's codec.
func ParseCompression(name string) (kgo.CompressionCodec, error) {
	return kafkaout.Compression(name)
}

// TakesRecords implements pipeline.RecordSink.
func (*Sink) TakesRecords() {}

// Write produces one message per output and returns once the broker has
// acknowledged them all, or has refused some of them for themselves and
// those are dealt with: set aside in the dead-letter topic, or, without
// one, reported as the error that stops the run.
func (s *Sink) Write(ctx context.Context, b *pipeline.Batch) error {
	if len(b.Outs) == 0 {
		return nil
	}
	if s.broken != nil {
		return s.broken
	}
	n := len(b.Outs)
	if cap(s.recs) < n {
		s.recs = make([]kgo.Record, n)
	}
	recs := s.recs[:n]
	idx := s.idx[:0]
	for i := range b.Outs {
		s.build.Build(&recs[i], s.out.name, &b.Outs[i])
		recs[i].Partition = unpartitioned
		idx = append(idx, i)
	}
	s.idx = idx
	// Every record is settled when send returns (or the client that held
	// them is closed): their buffers are the source's again.
	defer func() {
		clear(recs)
		s.build.Reset()
	}()
	refused, err := s.send(ctx, s.out, recs, idx)
	if err != nil {
		return err
	}
	return s.isolate(ctx, b, recs, refused)
}

// Close releases the client. Every Write has returned with its messages
// acknowledged (or failed), so nothing is left to flush.
func (s *Sink) Close() error {
	if s.cl != nil {
		s.cl.Close()
		s.cl = nil
	}
	return nil
}
