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
// (a message too large, no permission) end the run.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/pipeline"
)

// CodesHeader is the header that lists the codes found in a message,
// comma-separated in order of first appearance. A header of that name on
// a consumed record is replaced, so chained stages do not pile them up.
const CodesHeader = "annotator-codes"

// Config says where and how to produce.
type Config struct {
	Brokers []string
	Topic   string
	TLS     *tls.Config
	SASL    sasl.Mechanism
	// Compression: "none", "gzip", "snappy", "lz4" or "zstd".
	Compression string
	// BatchTimeout is the longest a partly filled batch waits for more
	// messages; each Write sends all it has at once, so this bounds only
	// the tail of a Write. 0 means 2 ms.
	BatchTimeout time.Duration
	// AttemptTimeout bounds one produce attempt. 0 means 30 s.
	AttemptTimeout time.Duration
	// StartTimeout bounds how long New keeps trying to reach the brokers.
	// 0 means 30 s.
	StartTimeout time.Duration
	Log          *slog.Logger
}

// Sink produces to one topic. It implements pipeline.RecordSink.
type Sink struct {
	cfg       Config
	w         *kafkago.Writer
	transport *kafkago.Transport
	balancer  *stickyBalancer
	log       *slog.Logger
	msgs      []kafkago.Message
	lastLog   time.Time
	// Produced counts the messages the broker acknowledged.
	Produced atomic.Int64
}

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
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = 2 * time.Millisecond
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
	tr := &kafkago.Transport{
		TLS: cfg.TLS, SASL: cfg.SASL, DialTimeout: 5 * time.Second,
		MetadataTTL: 10 * time.Second, ClientID: "annotator",
	}
	if err := kafkaconn.CheckTopics(ctx, tr, cfg.Brokers, []string{cfg.Topic}, cfg.StartTimeout, cfg.Log); err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("kafka output: %w", err)
	}
	s := &Sink{cfg: cfg, transport: tr, balancer: &stickyBalancer{}, log: cfg.Log}
	s.w = &kafkago.Writer{
		Addr:      kafkago.TCP(cfg.Brokers...),
		Topic:     cfg.Topic,
		Transport: tr,
		Balancer:  s.balancer,
		// kafka-go's default is to wait for no acknowledgement at all.
		RequiredAcks: kafkago.RequireAll,
		// A Write hands over a whole pipeline batch; the writer cuts it
		// by bytes. Kafka refuses record batches over its message size
		// limit (1 MiB by default), so batches stay under it.
		BatchSize:    4096,
		BatchBytes:   pipeline.DefaultMaxRecord,
		BatchTimeout: cfg.BatchTimeout,
		Compression:  comp,
		// Retries live here in Write, with logs and no deadline but the
		// caller's; the writer's own are kept short.
		MaxAttempts:     2,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
	}
	return s, nil
}

// ParseCompression maps a flag value to kafka-go's codec.
func ParseCompression(name string) (kafkago.Compression, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return 0, nil
	case "gzip":
		return kafkago.Gzip, nil
	case "snappy":
		return kafkago.Snappy, nil
	case "lz4":
		return kafkago.Lz4, nil
	case "zstd":
		return kafkago.Zstd, nil
	}
	return 0, fmt.Errorf("kafka compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

// TakesRecords implements pipeline.RecordSink.
func (*Sink) TakesRecords() {}

// Write produces one message per output and returns once the broker has
// acknowledged them all.
func (s *Sink) Write(ctx context.Context, b *pipeline.Batch) error {
	if len(b.Outs) == 0 {
		return nil
	}
	msgs := s.msgs[:0]
	for i := range b.Outs {
		o := &b.Outs[i]
		m := kafkago.Message{Key: o.Key, Value: o.Value}
		for _, h := range o.Headers {
			if h.Key != CodesHeader {
				m.Headers = append(m.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
			}
		}
		if len(o.Codes) > 0 {
			m.Headers = append(m.Headers, kafkago.Header{Key: CodesHeader, Value: []byte(strings.Join(o.Codes, ","))})
		}
		msgs = append(msgs, m)
	}
	s.msgs = msgs
	// Messages without a key go to one partition per batch (as Java's
	// sticky partitioner does): fewer, larger produce requests.
	s.balancer.next.Add(1)

	pending := msgs
	backoff := 100 * time.Millisecond
	failures := 0
	for {
		err := s.attempt(ctx, pending)
		if err == nil {
			s.Produced.Add(int64(len(pending)))
			if failures > 0 {
				s.log.Info("kafka output: produced after retrying", "topic", s.cfg.Topic, "attempts", failures+1)
			}
			clear(msgs) // drop references to the batch's buffers
			return nil
		}
		var werrs kafkago.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(pending) {
			// Only the messages that failed are sent again.
			var failed []kafkago.Message
			for i, e := range werrs {
				if e != nil {
					if fatal(e) {
						return fmt.Errorf("produce to kafka topic %s: %w", s.cfg.Topic, e)
					}
					failed = append(failed, pending[i])
				}
			}
			s.Produced.Add(int64(len(pending) - len(failed)))
			pending = failed
		} else if fatal(err) {
			return fmt.Errorf("produce to kafka topic %s: %w", s.cfg.Topic, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("produce to kafka topic %s: %d messages not acknowledged: %w", s.cfg.Topic, len(pending), err)
		}
		failures++
		if time.Since(s.lastLog) >= 10*time.Second {
			s.lastLog = time.Now()
			s.log.Warn("kafka output: produce failed, retrying", "topic", s.cfg.Topic,
				"brokers", strings.Join(s.cfg.Brokers, ","), "pending", len(pending), "attempt", failures, "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("produce to kafka topic %s: %d messages not acknowledged: %w", s.cfg.Topic, len(pending), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Sink) attempt(ctx context.Context, msgs []kafkago.Message) error {
	actx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	defer cancel()
	return s.w.WriteMessages(actx, msgs...)
}

// fatal reports errors that retrying cannot cure.
func fatal(err error) bool {
	var tooLarge kafkago.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		return true
	}
	var ke kafkago.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafkago.MessageSizeTooLarge, kafkago.RecordListTooLarge, kafkago.InvalidRecord,
			kafkago.TopicAuthorizationFailed, kafkago.ClusterAuthorizationFailed,
			kafkago.SASLAuthenticationFailed, kafkago.UnsupportedSASLMechanism,
			kafkago.UnsupportedForMessageFormat, kafkago.InvalidRequiredAcks:
			return true
		}
	}
	return false
}

// Close flushes and releases the producer.
func (s *Sink) Close() error {
	err := s.w.Close()
	s.transport.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("close kafka output: %w", err)
	}
	return nil
}

// stickyBalancer sends messages with a key where Java's default
// partitioner would (murmur2), and those without one to a partition that
// changes with each batch.
type stickyBalancer struct {
	next    atomic.Uint64
	murmur2 kafkago.Murmur2Balancer
}

func (b *stickyBalancer) Balance(msg kafkago.Message, partitions ...int) int {
	if msg.Key != nil {
		return b.murmur2.Balance(msg, partitions...)
	}
	return partitions[b.next.Load()%uint64(len(partitions))]
}
