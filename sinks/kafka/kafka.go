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
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/metrics"
	"github.com/annotator-dev/annotator/pipeline"
)

// CodesHeader is the header that lists the codes found in a message,
// comma-separated in order of first appearance. A header of that name on
// a consumed record is replaced, so chained stages do not pile them up.
const CodesHeader = "annotator-codes"

// The headers a record set aside in the dead-letter topic carries beside
// its own: why it was refused, and where it was read.
const (
	ErrorHeader           = "annotator-error"
	SourceTopicHeader     = "annotator-source-topic"
	SourcePartitionHeader = "annotator-source-partition"
	SourceOffsetHeader    = "annotator-source-offset"
)

// Config says where and how to produce.
type Config struct {
	Brokers []string
	Topic   string
	TLS     *tls.Config
	SASL    sasl.Mechanism
	// Compression: "none", "gzip", "snappy", "lz4" or "zstd".
	Compression string
	// AttemptTimeout bounds one produce attempt. 0 means 30 s.
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

// Sink produces to one topic. It implements pipeline.RecordSink.
type Sink struct {
	cfg       Config
	out       *producer
	dlq       *producer // nil without a dead-letter topic
	transport *kafkago.Transport
	balancer  *stickyBalancer
	hook      metrics.ProduceHook
	log       *slog.Logger
	msgs      []kafkago.Message
	idx       []int
	warn      kafkaconn.Every
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
	tr := &kafkago.Transport{
		TLS: cfg.TLS, SASL: cfg.SASL, DialTimeout: 5 * time.Second,
		// kafka-go's transport learns that a partition's leader moved
		// only from its periodic metadata refresh (at a random moment
		// within the TTL), not from the errors of a dead leader: the TTL
		// bounds how long requests keep going to a dead broker.
		MetadataTTL: kafkaconn.MetadataTTL, ClientID: "annotator",
	}
	topics := []string{cfg.Topic}
	if cfg.DeadLetterTopic != "" {
		if cfg.DeadLetterTopic == cfg.Topic {
			return nil, fmt.Errorf("kafka output: the dead-letter topic %s is the output topic", cfg.Topic)
		}
		topics = append(topics, cfg.DeadLetterTopic)
	}
	if err := kafkaconn.CheckTopics(ctx, tr, cfg.Brokers, topics, cfg.StartTimeout, cfg.Log); err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("kafka output: %w", err)
	}
	if cfg.Hook == nil {
		cfg.Hook = noHook{}
	}
	s := &Sink{cfg: cfg, transport: tr, balancer: &stickyBalancer{}, hook: cfg.Hook, log: cfg.Log,
		warn: kafkaconn.Every{Interval: 10 * time.Second}}
	// Timeout is what a produce request gives the leader to wait for the
	// in-sync replicas (acks=all). Without it kafka-go asks for 500 ms
	// whatever the context's deadline, and a cluster under load answers
	// REQUEST_TIMED_OUT for records it then appends anyway: the retry
	// writes them twice. Half the attempt's bound, as kafka-go halves it.
	client := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: tr, Timeout: cfg.AttemptTimeout}
	// A Write hands over a whole pipeline batch; it goes out in requests
	// that fit the topic's max.message.bytes, which bounds a record batch
	// (one request per partition): a request over it would be refused
	// whole.
	s.out = &producer{client: client, topic: cfg.Topic, balancer: s.balancer, compression: comp,
		maxBytes: RecordLimit(ctx, client, cfg.Topic, cfg.Log), log: cfg.Log}
	if cfg.DeadLetterTopic != "" {
		// Records set aside are rare; a key goes where Java's
		// partitioner would put it.
		s.dlq = &producer{client: client, topic: cfg.DeadLetterTopic, balancer: &kafkago.Murmur2Balancer{}, compression: comp,
			maxBytes: RecordLimit(ctx, client, cfg.DeadLetterTopic, cfg.Log), log: cfg.Log}
	}
	return s, nil
}

// batchOverhead is a record batch's header, which the broker counts
// against max.message.bytes with the records.
const batchOverhead = 61

// RecordLimit is the most bytes of records one produce request to topic
// may hold: the topic's max.message.bytes (its own setting, or the
// broker's message.max.bytes it inherits) less a batch header. When the
// setting cannot be read (no DescribeConfigs permission, say), Kafka's
// default is assumed and a note logged: a larger limit then goes unused,
// a smaller one still works, with refused requests sent again in halves.
func RecordLimit(ctx context.Context, c *kafkago.Client, topic string, log *slog.Logger) int {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.DescribeConfigs(ctx, &kafkago.DescribeConfigsRequest{Resources: []kafkago.DescribeConfigRequestResource{{
		ResourceType: kafkago.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"max.message.bytes"},
	}}})
	if err == nil && len(resp.Resources) == 1 && resp.Resources[0].Error != nil {
		err = resp.Resources[0].Error
	}
	if err == nil {
		for _, e := range resp.Resources[0].ConfigEntries {
			if e.ConfigName != "max.message.bytes" {
				continue
			}
			if v, perr := strconv.Atoi(e.ConfigValue); perr == nil && v > 2*batchOverhead {
				return v - batchOverhead
			}
			err = fmt.Errorf("max.message.bytes = %q", e.ConfigValue)
		}
		if err == nil {
			err = errors.New("max.message.bytes not in the answer")
		}
	}
	log.Info("kafka output: could not read the topic's max.message.bytes; assuming Kafka's default",
		"topic", topic, "default", defaultMaxMessageBytes, "err", err)
	return defaultMaxMessageBytes - batchOverhead
}

// defaultMaxMessageBytes is Kafka's default max.message.bytes.
const defaultMaxMessageBytes = 1048588

// MaxRecord is the longest annotated record the output topic takes; a
// longer one is refused for itself.
func (s *Sink) MaxRecord() int { return s.out.maxBytes }

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
// acknowledged them all, or has refused some of them for themselves and
// those are dealt with: set aside in the dead-letter topic, or, without
// one, reported as the error that stops the run.
func (s *Sink) Write(ctx context.Context, b *pipeline.Batch) error {
	if len(b.Outs) == 0 {
		return nil
	}
	msgs := s.msgs[:0]
	for i := range b.Outs {
		o := &b.Outs[i]
		m := kafkago.Message{Key: o.Key, Value: o.Value}
		if o.Source != nil && !s.cfg.ProduceTime {
			// The output of a record keeps its timestamp (event time);
			// a line's gets the time it is produced.
			m.Time = o.Source.Time
		}
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
	defer clear(msgs) // drop references to the batch's buffers
	// Messages without a key go to one partition per batch (as Java's
	// sticky partitioner does): fewer, larger produce requests.
	s.balancer.next.Add(1)

	all := s.idx[:0]
	for i := range msgs {
		all = append(all, i)
	}
	s.idx = all
	refused, err := s.send(ctx, s.out, msgs, all)
	if err != nil {
		return err
	}
	return s.isolate(ctx, b, msgs, refused)
}

// refusal is a message the broker (or the client's size check) refused
// for itself; alone says it was refused when sent on its own.
type refusal struct {
	i     int
	alone bool
	err   error
}

// send produces msgs[i] for each i in idx through p, retrying failures
// that a retry can cure with backoff for as long as ctx allows. It
// returns the messages refused for themselves (too large, invalid), and
// an error only for what stops the run.
func (s *Sink) send(ctx context.Context, p *producer, msgs []kafkago.Message, idx []int) ([]refusal, error) {
	topic := p.topic
	var refused []refusal
	pending := idx
	batch := msgs
	backoff := 100 * time.Millisecond
	failures := 0
	for {
		if len(pending) != len(msgs) {
			batch = make([]kafkago.Message, len(pending))
			for k, i := range pending {
				batch[k] = msgs[i]
			}
		}
		err := s.attempt(ctx, p, batch)
		if err == nil {
			s.Produced.Add(int64(len(pending)))
			if failures > 0 {
				s.log.Info("kafka output: produced after retrying", "topic", topic, "attempts", failures+1)
			}
			return refused, nil
		}
		var again []int
		var werrs kafkago.WriteErrors
		switch {
		case errors.As(err, &werrs) && len(werrs) == len(pending):
			n := len(refused)
			for k, e := range werrs {
				switch {
				case e == nil:
					s.Produced.Add(1)
				case refusedRecord(e):
					refused = append(refused, refusal{i: pending[k], alone: len(pending) == 1, err: e})
				case fatal(e):
					s.hook.ProduceFailed(topic, "fatal", len(pending))
					return nil, fmt.Errorf("produce to kafka topic %s: %w", topic, e)
				default:
					again = append(again, pending[k])
				}
			}
			if len(refused) > n {
				s.hook.ProduceFailed(topic, "record", len(refused)-n)
			}
		case refusedRecord(err):
			// The whole request (the client's own size check refuses
			// before sending anything).
			for _, i := range pending {
				refused = append(refused, refusal{i: i, alone: len(pending) == 1, err: err})
			}
			s.hook.ProduceFailed(topic, "record", len(pending))
		case fatal(err):
			s.hook.ProduceFailed(topic, "fatal", len(pending))
			return nil, fmt.Errorf("produce to kafka topic %s: %w", topic, err)
		default:
			again = pending
		}
		if len(again) == 0 {
			return refused, nil
		}
		pending = again
		s.hook.ProduceFailed(topic, "retriable", len(pending))
		if ctx.Err() != nil {
			return nil, fmt.Errorf("produce to kafka topic %s: %d messages not acknowledged: %w", topic, len(pending), err)
		}
		failures++
		if ok, n := s.warn.Allow(); ok {
			s.log.Warn("kafka output: produce failed, retrying", "topic", topic,
				"brokers", strings.Join(s.cfg.Brokers, ","), "pending", len(pending), "attempt", failures, "err", err, "suppressed", n)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("produce to kafka topic %s: %d messages not acknowledged: %w", topic, len(pending), err)
		case <-t.C:
		}
		backoff = min(2*backoff, kafkaconn.MaxBackoff)
	}
}

// isolate finds, among refused messages, those refused for themselves: a
// broker refuses a partition's whole record batch for one bad record, so
// the others of that batch were refused with it. The refused are sent
// again in halves until each is accepted or refused on its own.
func (s *Sink) isolate(ctx context.Context, b *pipeline.Batch, msgs []kafkago.Message, refused []refusal) error {
	var suspects []int
	for _, r := range refused {
		if !r.alone {
			suspects = append(suspects, r.i)
			continue
		}
		if err := s.poison(ctx, &b.Outs[r.i], r.err); err != nil {
			return err
		}
	}
	if len(suspects) == 0 {
		return nil
	}
	halves := [][]int{suspects}
	if len(suspects) > 1 {
		halves = [][]int{suspects[:len(suspects)/2], suspects[len(suspects)/2:]}
	}
	for _, h := range halves {
		again, err := s.send(ctx, s.out, msgs, h)
		if err != nil {
			return err
		}
		if err := s.isolate(ctx, b, msgs, again); err != nil {
			return err
		}
	}
	return nil
}

// poison deals with an output the topic refused on its own: its record
// goes to the dead-letter topic as it was read, with headers saying why
// and where from; without a dead-letter topic (or for a line, which has
// no record) the refusal is the error that stops the run.
func (s *Sink) poison(ctx context.Context, o *pipeline.Output, cause error) error {
	if s.dlq == nil || o.Source == nil {
		where := fmt.Sprintf("a line (annotated, %d bytes)", len(o.Value))
		hint := ""
		if r := o.Source; r != nil {
			where = fmt.Sprintf("the record at topic %s partition %d offset %d (annotated, %d bytes)", r.Topic, r.Partition, r.Offset, len(o.Value))
			hint = "; --kafka-dlq-topic sets such records aside instead"
		}
		return fmt.Errorf("kafka topic %s refused %s: %w%s", s.cfg.Topic, where, cause, hint)
	}
	r := o.Source
	m := kafkago.Message{Key: r.Key, Value: r.Value, Time: r.Time}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
	}
	m.Headers = append(m.Headers,
		kafkago.Header{Key: ErrorHeader, Value: fmt.Appendf(nil, "produce to %s: %v (annotated value %d bytes)", s.cfg.Topic, cause, len(o.Value))},
		kafkago.Header{Key: SourceTopicHeader, Value: []byte(r.Topic)},
		kafkago.Header{Key: SourcePartitionHeader, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
		kafkago.Header{Key: SourceOffsetHeader, Value: strconv.AppendInt(nil, r.Offset, 10)},
	)
	refused, err := s.send(ctx, s.dlq, []kafkago.Message{m}, []int{0})
	if err == nil && len(refused) > 0 {
		err = refused[0].err
	}
	if err != nil {
		return fmt.Errorf("kafka topic %s refused the record at topic %s partition %d offset %d (%v), and the dead-letter topic %s did not take it: %w",
			s.cfg.Topic, r.Topic, r.Partition, r.Offset, cause, s.cfg.DeadLetterTopic, err)
	}
	s.DeadLettered.Add(1)
	s.hook.DeadLettered(r.Topic)
	s.log.Warn("kafka output: record refused, set aside in the dead-letter topic", "topic", s.cfg.Topic,
		"dlq", s.cfg.DeadLetterTopic, "source_topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", cause)
	return nil
}

func (s *Sink) attempt(ctx context.Context, p *producer, msgs []kafkago.Message) error {
	actx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	defer cancel()
	return p.produce(actx, msgs)
}

// refusedRecord reports errors that refuse records for what they are, so
// that sending them again cannot succeed but other records can.
func refusedRecord(err error) bool {
	var tooLarge kafkago.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		return true
	}
	var ke kafkago.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafkago.MessageSizeTooLarge, kafkago.RecordListTooLarge, kafkago.InvalidRecord, kafkago.InvalidTimestamp:
			return true
		}
	}
	return false
}

// fatal reports errors that retrying cannot cure for any record: the
// topic, the credentials or the settings are wrong.
func fatal(err error) bool {
	var ke kafkago.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafkago.TopicAuthorizationFailed, kafkago.ClusterAuthorizationFailed,
			kafkago.SASLAuthenticationFailed, kafkago.UnsupportedSASLMechanism,
			kafkago.UnsupportedForMessageFormat, kafkago.InvalidRequiredAcks:
			return true
		}
	}
	return false
}

// Close releases the connections. Every Write has returned with its
// messages acknowledged (or failed), so nothing is left to flush.
func (s *Sink) Close() error {
	s.transport.CloseIdleConnections()
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
