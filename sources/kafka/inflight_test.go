package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	"github.com/annotator-dev/annotator/pipeline"
	kafkasrc "github.com/annotator-dev/annotator/sources/kafka"
)

// TestInFlightBounded: with a backlog sixteen times the in-flight budget,
// the source hands out no more than the budget while nothing is
// delivered, holds no more than the budget and one fetch per partition,
// puts no more than a quarter of it (and one fetch) in a batch, and once
// batches are delivered the rest follows, all of it; closed, it holds
// nothing.
func TestInFlightBounded(t *testing.T) {
	const (
		budget     = 1 << 20
		fetch      = 64 << 10
		size       = 4 << 10 // bytes per record value
		records    = 16 * budget / size
		partitions = 2
		// What one fetch's records may hold in memory beyond the room
		// taken for it: 64 KiB of values are copied into arenas of 32 and
		// 256 KiB, and each record takes some more.
		overdraft = 512 << 10
	)
	b := kafkatest.Start(t)
	topic := b.CreateTopic("inflight", partitions)
	value := strings.Repeat("x", size-len(" error 898001")) + " error 898001"
	msgs := make([]kafkago.Message, records)
	for i := range msgs {
		msgs[i] = kafkago.Message{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(value)}
	}
	// Record batches of 16 records (64 KiB): a fetch returns at least one
	// whole batch, whatever its MaxBytes.
	w := &kafkago.Writer{
		Addr: kafkago.TCP(b.Addrs...), Topic: topic, Balancer: &kafkago.Hash{},
		BatchSize: 16, BatchBytes: 16 * (size + 256), BatchTimeout: time.Millisecond,
		RequiredAcks: kafkago.RequireAll,
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	src, err := kafkasrc.New(context.Background(), kafkasrc.Config{
		Brokers: b.Addrs, Topics: []string{topic}, Group: b.Name("group"),
		SessionTimeout: 6 * time.Second, FetchBytes: fetch, InFlightBytes: budget,
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			src.Close()
		}
	}()

	// Nothing delivered: batches come until the budget is spent, then
	// Next waits (until its context gives up).
	var held []*pipeline.Batch
	handed := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		batch, err := src.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := len(batch.Records) * size; n > budget/4+fetch+size {
			t.Errorf("a batch of %d records, %d KiB: more than a quarter of the %d KiB budget and a fetch", len(batch.Records), n>>10, budget>>10)
		}
		held = append(held, batch)
		if handed += len(batch.Records); handed == records {
			t.Fatalf("all %d records (%d MiB) handed out with none delivered, against a budget of %d MiB", records, records*size>>20, budget>>20)
		}
	}
	now, _ := src.InFlight()
	t.Logf("undelivered: %d records handed out (%d KiB of values), %d KiB in flight by the source's count", handed, handed*size>>10, now>>10)
	if handed == 0 || handed*size > budget {
		t.Errorf("%d records (%d KiB) handed out with none delivered, want some, within the %d KiB budget", handed, handed*size>>10, budget>>10)
	}
	if now > budget+partitions*overdraft {
		t.Errorf("%d KiB in flight, over the %d KiB budget and one fetch per partition", now>>10, budget>>10)
	}

	// Delivering frees the budget: the rest of the backlog follows.
	for _, batch := range held {
		batch.Done()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for handed < records {
		batch, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d records: %v", handed, records, err)
		}
		handed += len(batch.Records)
		batch.Done()
	}
	src.Close()
	closed = true
	if now, peak := src.InFlight(); peak > budget+partitions*overdraft || now != 0 {
		t.Errorf("in flight: %d bytes once closed, want 0; %d KiB at most, budget %d KiB", now, peak>>10, budget>>10)
	}
}
