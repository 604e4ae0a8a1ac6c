package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	"github.com/annotator-dev/annotator/pipeline"
	kafkasrc "github.com/annotator-dev/annotator/sources/kafka"
)

// TestRevokeCommitsWhatWasAcknowledged: a member holding batches of two
// partitions, some delivered and some not, gives one partition up to a
// member joining. It commits exactly the offsets the delivered batches
// reached (not what it handed out and was never delivered), hands out
// nothing more of that partition, and the new owner starts right there;
// the undelivered batches, delivered late, commit nothing of the
// partition given up.
func TestRevokeCommitsWhatWasAcknowledged(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("revoke", 2)
	group := b.Name("group")
	cfg := kafkasrc.Config{
		Brokers: b.Addrs, Topics: []string{topic}, Group: group, SessionTimeout: 6 * time.Second,
		// Only a revoke commits while the test looks.
		CommitInterval: time.Hour, DrainTimeout: 2 * time.Second, BatchRecords: 50,
	}
	first, err := kafkasrc.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// take takes batches until they hold n records, noting how far they
	// go in each partition.
	take := func(n int, to map[int32]int64) []*pipeline.Batch {
		var bs []*pipeline.Batch
		for got := 0; got < n; {
			bt, err := first.Next(ctx)
			if err != nil {
				t.Fatalf("after %d of %d records: %v", got, n, err)
			}
			for _, r := range bt.Records {
				to[r.Partition] = max(to[r.Partition], r.Offset+1)
			}
			got += len(bt.Records)
			bs = append(bs, bt)
		}
		return bs
	}
	// The first records are delivered; the next ones, produced later,
	// are held: both partitions have records of each.
	const n = 400
	b.Produce(topic, messages(n)...)
	acked := map[int32]int64{} // offset past the last delivered record
	for _, bt := range take(n, acked) {
		bt.Done()
	}
	b.Produce(topic, messages(n)...)
	heldTo := map[int32]int64{}
	held := take(n, heldTo)
	if len(acked) != 2 || len(heldTo) != 2 {
		t.Fatalf("records of partitions %v delivered, %v held: want both in each", acked, heldTo)
	}

	second, err := kafkasrc.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	// More records, so that the new owner has some wherever it starts.
	b.Produce(topic, messages(n)...)
	got, err := second.Next(ctx)
	if err != nil {
		t.Fatalf("the joining member got nothing: %v", err)
	}
	moved := got.Records[0].Partition
	if start := got.Records[0].Offset; start != acked[moved] {
		t.Errorf("partition %d: the new owner starts at %d, want %d, where the delivered batches ended (%d were handed out)",
			moved, start, acked[moved], heldTo[moved])
	}
	for _, r := range got.Records {
		if r.Partition != moved {
			t.Fatalf("the joining member got records of both partitions")
		}
	}
	if c := b.Committed(group, topic, 2)[int(moved)]; c != acked[moved] {
		t.Errorf("partition %d: committed %d on giving it up, want %d", moved, c, acked[moved])
	}

	// The member that gave the partition up hands out none of it any
	// more, though it had polled more of it than it handed out.
	for {
		short, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		bt, err := first.Next(short)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range bt.Records {
			if r.Partition == moved {
				t.Fatalf("partition %d: record %d handed out after the partition was given up", moved, r.Offset)
			}
		}
		bt.Done()
	}
	// Delivered late, the held batches move nothing of what was given up.
	for _, bt := range held {
		bt.Done()
	}
	first.Close()
	if c := b.Committed(group, topic, 2)[int(moved)]; c != acked[moved] {
		t.Errorf("partition %d: committed %d after the old owner closed, want still %d", moved, c, acked[moved])
	}
	got.Done()
}
