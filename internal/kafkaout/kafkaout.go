// Package kafkaout holds what the two Kafka outputs share, the
// at-least-once sink (sinks/kafka) and the exactly-once stage
// (sources/kafkatxn), both built on franz-go: how an annotated output
// becomes a record, which produce errors refuse a record for itself and
// which no retry cures, what a record set aside in the dead-letter topic
// carries, and how large a record batch a topic takes. One place, so
// that the two guarantees write the same records and set the same ones
// aside in the same way.
package kafkaout

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/pipeline"
)

// CodesHeader is the header that lists the codes found in a record,
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

// Builder makes the records of outputs. It carves every record's headers
// and codes out of two buffers it keeps, rather than allocating them per
// record: the records stay valid as long as the Builder is not Reset.
type Builder struct {
	// ProduceTime stamps records with the time they are produced rather
	// than the consumed record's timestamp.
	ProduceTime bool
	headers     []kgo.RecordHeader
	bytes       []byte
}

// Reset lets the next records reuse the buffers: only once the client is
// done with every record built since the last Reset.
func (b *Builder) Reset() {
	clear(b.headers) // drop references to the last batch's buffers
	b.headers = b.headers[:0]
	b.bytes = b.bytes[:0]
}

// Grow makes room in the buffers for the headers and codes of outs, so
// that building their records grows neither.
func (b *Builder) Grow(outs []pipeline.Output) {
	nh, nc := 0, 0
	for i := range outs {
		nh += len(outs[i].Headers) + 1
		for _, c := range outs[i].Codes {
			nc += len(c) + 1
		}
	}
	b.headers = slices.Grow(b.headers, nh)
	b.bytes = slices.Grow(b.bytes, nc)
}

// Build sets r to the record of o for topic: o's value, the consumed
// record's key, headers (a stale CodesHeader dropped) and timestamp (event
// time, unless ProduceTime; a line gets the time it is produced), and a
// CodesHeader listing the codes found.
func (b *Builder) Build(r *kgo.Record, topic string, o *pipeline.Output) {
	*r = kgo.Record{Topic: topic, Key: o.Key, Value: o.Value}
	if o.Source != nil && !b.ProduceTime {
		r.Timestamp = o.Source.Time
	}
	start := len(b.headers)
	for _, h := range o.Headers {
		if h.Key != CodesHeader {
			b.headers = append(b.headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
	}
	if len(o.Codes) > 0 {
		from := len(b.bytes)
		for i, c := range o.Codes {
			if i > 0 {
				b.bytes = append(b.bytes, ',')
			}
			b.bytes = append(b.bytes, c...)
		}
		// Growing either buffer moves it, but what earlier records hold
		// stays where it was, untouched: appends write past it.
		b.headers = append(b.headers, kgo.RecordHeader{Key: CodesHeader, Value: b.bytes[from:len(b.bytes):len(b.bytes)]})
	}
	if n := len(b.headers); n > start {
		r.Headers = b.headers[start:n:n]
	}
}

// Refused reports errors that refuse records for what they are: sending
// them again cannot succeed, but other records can. A broker refuses a
// partition's whole record batch for one such record, so the others of
// the batch get the error too.
func Refused(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.InvalidTimestamp) ||
		errors.Is(err, kerr.CorruptMessage)
}

// Fatal reports errors no retry cures for any record: the credentials or
// the settings are wrong.
func Fatal(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.SaslAuthenticationFailed) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism) || errors.Is(err, kerr.UnsupportedForMessageFormat) ||
		errors.Is(err, kerr.InvalidRequiredAcks)
}

// refusalTitles name the refusals as the stage's messages and dead-letter
// headers always have ("[10] Message Size Too Large: …"), so that what
// operators and their tooling match on stays the same.
var refusalTitles = map[int16]string{
	kerr.MessageTooLarge.Code:    "Message Size Too Large",
	kerr.RecordListTooLarge.Code: "Record List Too Large",
	kerr.InvalidRecord.Code:      "Invalid Record",
	kerr.InvalidTimestamp.Code:   "Invalid Timestamp",
	kerr.CorruptMessage.Code:     "Corrupt Message",
}

// titled is a refusal with its code and title in front.
type titled struct {
	code  int16
	title string
	err   error
}

func (e *titled) Error() string { return fmt.Sprintf("[%d] %s: %v", e.code, e.title, e.err) }
func (e *titled) Unwrap() error { return e.err }

// Titled returns err with the refusal's code and title in front, or err
// itself when it is no refusal (or has them already).
func Titled(err error) error {
	var t *titled
	var ke *kerr.Error
	if errors.As(err, &t) || !errors.As(err, &ke) {
		return err
	}
	title, ok := refusalTitles[ke.Code]
	if !ok {
		return err
	}
	return &titled{code: ke.Code, title: title, err: err}
}

// Stop is the error that stops the run for an output topic refused for
// itself when no dead-letter topic takes it.
func Stop(topic string, o *pipeline.Output, cause error) error {
	where := fmt.Sprintf("a line (annotated, %d bytes)", len(o.Value))
	hint := ""
	if r := o.Source; r != nil {
		where = fmt.Sprintf("the record at topic %s partition %d offset %d (annotated, %d bytes)", r.Topic, r.Partition, r.Offset, len(o.Value))
		hint = "; --kafka-dlq-topic sets such records aside instead"
	}
	return fmt.Errorf("kafka topic %s refused %s: %w%s", topic, where, Titled(cause), hint)
}

// DeadLetter returns the record that sets aside, in the topic dlq, the
// consumed record of o (o.Source, not nil), which topic refused for
// cause: the record as it was read, with headers saying why and where
// from.
func DeadLetter(dlq, topic string, o *pipeline.Output, cause error) *kgo.Record {
	src := o.Source
	r := &kgo.Record{Topic: dlq, Key: src.Key, Value: src.Value, Timestamp: src.Time,
		Headers: make([]kgo.RecordHeader, 0, len(src.Headers)+4)}
	for _, h := range src.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	r.Headers = append(r.Headers,
		kgo.RecordHeader{Key: ErrorHeader, Value: fmt.Appendf(nil, "produce to %s: %v (annotated value %d bytes)", topic, Titled(cause), len(o.Value))},
		kgo.RecordHeader{Key: SourceTopicHeader, Value: []byte(src.Topic)},
		kgo.RecordHeader{Key: SourcePartitionHeader, Value: strconv.AppendInt(nil, int64(src.Partition), 10)},
		kgo.RecordHeader{Key: SourceOffsetHeader, Value: strconv.AppendInt(nil, src.Offset, 10)},
	)
	return r
}

// NotSetAside is the error that stops the run when the dead-letter topic
// did not take the record of o either.
func NotSetAside(topic, dlq string, o *pipeline.Output, cause, err error) error {
	src := o.Source
	return fmt.Errorf("kafka topic %s refused the record at topic %s partition %d offset %d (%v), and the dead-letter topic %s did not take it: %w",
		topic, src.Topic, src.Partition, src.Offset, Titled(cause), dlq, Titled(err))
}

// LogSetAside says that the record of o went to the dead-letter topic.
func LogSetAside(log *slog.Logger, topic, dlq string, o *pipeline.Output, cause error) {
	src := o.Source
	log.Warn("kafka output: record refused, set aside in the dead-letter topic", "topic", topic,
		"dlq", dlq, "source_topic", src.Topic, "partition", src.Partition, "offset", src.Offset, "err", Titled(cause))
}

// Compression maps a compression's name to franz-go's codec.
func Compression(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("kafka compression %q: want none, gzip, snappy, lz4 or zstd", name)
}
