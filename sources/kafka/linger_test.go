package kafka_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	kafkasrc "github.com/annotator-dev/annotator/sources/kafka"
)

// lockedBuffer is a log both members write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRebalanceWhileLingering: a member joins while the first one's Next
// lingers over a part-filled batch. The rebalance waits for the batch to
// be handed out, the partition given up waits for it to be delivered and
// commits it, and the new owner starts after it: no record is handed out
// by both members, none is missed, and nothing is given up in flight.
func TestRebalanceWhileLingering(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("linger", 2)
	var logs lockedBuffer
	cfg := kafkasrc.Config{
		Brokers: b.Addrs, Topics: []string{topic}, Group: b.Name("group"), SessionTimeout: 6 * time.Second,
		CommitInterval: time.Hour, // commits only as partitions are given up
		DrainTimeout:   6 * time.Second, Linger: 2 * time.Second,
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	first, err := kafkasrc.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	type key struct {
		partition int32
		offset    int64
	}
	var mu sync.Mutex
	seen := map[key]string{}
	// take hands one batch of src's out and delivers it; a wait cut
	// short by a deadline of wait's own takes nothing.
	take := func(who string, src *kafkasrc.Source, wait time.Duration) int {
		tctx, tcancel := context.WithTimeout(ctx, wait)
		defer tcancel()
		bt, err := src.Next(tctx)
		if err != nil {
			if ctx.Err() == nil && tctx.Err() == nil {
				t.Error(err)
			}
			return 0
		}
		got := len(bt.Records) // Done hands the batch back for reuse
		mu.Lock()
		for _, r := range bt.Records {
			k := key{r.Partition, r.Offset}
			if by, ok := seen[k]; ok {
				t.Errorf("partition %d offset %d handed out by %s and %s", r.Partition, r.Offset, by, who)
			}
			seen[k] = who
		}
		mu.Unlock()
		bt.Done()
		return got
	}

	const n = 20
	b.Produce(topic, messages(n)...)
	for got := 0; got < n; {
		got += take("first", first, time.Minute)
	}
	b.Produce(topic, messages(n)...)
	lingered := make(chan int, 1)
	go func() { lingered <- take("first", first, time.Minute) }() // takes records, then lingers 2 s
	time.Sleep(300 * time.Millisecond)                            // the first member is lingering now
	cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
	second, err := kafkasrc.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	total := n + <-lingered
	b.Produce(topic, messages(n)...) // after the rebalance: both members have some
	for total < 3*n && ctx.Err() == nil {
		done := make(chan int, 2)
		for who, src := range map[string]*kafkasrc.Source{"first": first, "second": second} {
			go func() { done <- take(who, src, 3*time.Second) }()
		}
		total += <-done + <-done
	}
	if len(seen) != 3*n {
		t.Errorf("%d distinct records handed out, want %d", len(seen), 3*n)
	}
	if strings.Contains(logs.String(), "records in flight") {
		t.Errorf("a partition was given up with records in flight:\n%s", logs.String())
	}
}
