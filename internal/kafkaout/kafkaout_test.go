package kafkaout

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/pipeline"
)

// TestBuilderKeepsEveryRecord: records built one after the other out of
// shared buffers keep their own headers and codes while the buffers grow
// under them; a stale codes header is replaced; a record keeps its
// consumed record's time unless ProduceTime.
func TestBuilderKeepsEveryRecord(t *testing.T) {
	when := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	const n = 1000
	outs := make([]pipeline.Output, n)
	for i := range outs {
		outs[i] = pipeline.Output{
			Value: []byte(fmt.Sprint("v", i)), Key: []byte(fmt.Sprint("k", i)),
			Headers: []pipeline.Header{{Key: "h", Value: []byte(fmt.Sprint(i))}, {Key: CodesHeader, Value: []byte("stale")}},
			Codes:   []string{fmt.Sprint(i), "871310"},
			Source:  &pipeline.Record{Time: when},
		}
	}
	var b Builder
	recs := make([]kgo.Record, n)
	for i := range outs {
		b.Build(&recs[i], "out", &outs[i])
	}
	for i, r := range recs {
		if r.Topic != "out" || string(r.Key) != fmt.Sprint("k", i) || string(r.Value) != fmt.Sprint("v", i) || !r.Timestamp.Equal(when) {
			t.Fatalf("record %d: topic %s key %q value %q time %v", i, r.Topic, r.Key, r.Value, r.Timestamp)
		}
		if len(r.Headers) != 2 || r.Headers[0].Key != "h" || string(r.Headers[0].Value) != fmt.Sprint(i) ||
			r.Headers[1].Key != CodesHeader || string(r.Headers[1].Value) != fmt.Sprint(i, ",871310") {
			t.Fatalf("record %d: headers %v", i, r.Headers)
		}
	}
	b.Reset()
	b.ProduceTime = true
	var r kgo.Record
	b.Build(&r, "out", &pipeline.Output{Value: []byte("line")})
	if r.Headers != nil || !r.Timestamp.IsZero() {
		t.Errorf("a line without codes: headers %v, time %v; want none (the client stamps it)", r.Headers, r.Timestamp)
	}
}

// TestRefusalsKeepTheirName: a refusal reads as it always has in errors
// and dead-letter headers, and stays the kerr error underneath.
func TestRefusalsKeepTheirName(t *testing.T) {
	err := fmt.Errorf("%w (uncompressed_bytes=5000)", kerr.MessageTooLarge)
	got := Titled(err)
	if !strings.HasPrefix(got.Error(), "[10] Message Size Too Large: ") || !errors.Is(got, kerr.MessageTooLarge) || !Refused(got) {
		t.Errorf("Titled = %q", got)
	}
	if Titled(got) != got {
		t.Error("titled twice")
	}
	if other := errors.New("x"); Titled(other) != other || Titled(kerr.NotLeaderForPartition) != kerr.NotLeaderForPartition {
		t.Error("Titled changed an error that is no refusal")
	}
	if Refused(kerr.NotLeaderForPartition) || !Fatal(kerr.TopicAuthorizationFailed) || Fatal(kerr.MessageTooLarge) {
		t.Error("Refused or Fatal sorted an error wrongly")
	}
}
