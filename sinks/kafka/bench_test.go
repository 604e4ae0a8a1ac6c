package kafka_test

import (
	"context"
	"testing"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
)

// BenchmarkSinkWrite produces batches of 5,000 records of 150 bytes with
// a code each to three partitions of an in-process broker (whose own
// work is most of the time and allocations measured).
func BenchmarkSinkWrite(b *testing.B) {
	br := kafkatest.StartLocal(b)
	topic := br.CreateTopic("bench", 3)
	s, err := kafkasink.New(context.Background(), kafkasink.Config{Brokers: br.Addrs, Topic: topic})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := sequenced(0, 5000, 140)
	for i := range batch.Outs {
		batch.Outs[i].Codes = []string{"898001"}
	}
	b.ResetTimer()
	for b.Loop() {
		if err := s.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch.Outs))/b.Elapsed().Seconds(), "records/s")
}
