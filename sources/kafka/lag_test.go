package kafka_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	"github.com/annotator-dev/annotator/pipeline"
	kafkasrc "github.com/annotator-dev/annotator/sources/kafka"
)

// lags keeps the latest lag reported per partition.
type lags struct {
	mu sync.Mutex
	by map[string]int64
}

func (l *lags) PartitionLag(topic string, partition int32, lag int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.by[fmt.Sprintf("%s/%d", topic, partition)] = lag
}

func (l *lags) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []string
	for k, v := range l.by {
		s = append(s, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// waitSum polls until every one of parts partitions has reported and the
// lags add up to want.
func (l *lags) waitSum(t *testing.T, parts int, want int64, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.mu.Lock()
		n, sum := len(l.by), int64(0)
		for _, v := range l.by {
			sum += v
		}
		l.mu.Unlock()
		if n == parts && sum == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: lags %s, want %d partitions adding up to %d", what, l, parts, want)
		}
		time.Sleep(10 * time.Millisecond) // polling the reports
	}
}

// next takes batches until they hold n records.
func next(t *testing.T, src *kafkasrc.Source, n int) []*pipeline.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var bs []*pipeline.Batch
	for got := 0; got < n; {
		b, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d records: %v", got, n, err)
		}
		bs = append(bs, b)
		got += len(b.Records)
	}
	return bs
}

// TestConsumeLagCountsUndelivered: the lag reported per partition counts the
// records the sink has not taken: fetched or handed out but not
// acknowledged counts, acknowledged does not, and new records count as
// soon as a fetch sees them.
func TestConsumeLagCountsUndelivered(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("lag", 2)
	const n = 1000
	b.Produce(topic, messages(n)...)
	l := &lags{by: map[string]int64{}}
	src, err := kafkasrc.New(context.Background(), kafkasrc.Config{
		Brokers: b.Addrs, Topics: []string{topic}, Group: b.Name("group"),
		SessionTimeout: 6 * time.Second, CommitInterval: 50 * time.Millisecond,
		BatchRecords: 100, Lag: l,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	l.waitSum(t, 2, n, "nothing delivered")
	first := next(t, src, 1)[0]
	took := len(first.Records) // Done hands the batch back for reuse
	l.waitSum(t, 2, n, "one batch handed out, not delivered")
	first.Done()
	l.waitSum(t, 2, n-int64(took), "one batch delivered")
	for _, bt := range next(t, src, n-took) {
		bt.Done()
	}
	l.waitSum(t, 2, 0, "everything delivered")

	const more = 300
	b.Produce(topic, messages(more)...)
	l.waitSum(t, 2, more, "more produced")
	for _, bt := range next(t, src, more) {
		bt.Done()
	}
	l.waitSum(t, 2, 0, "the rest delivered")
}

// commitLags checks, at each commit, that the lag already reported for the
// partition is the one that goes with the committed offset: a metrics page
// showing the new offset never shows the lag of an older one.
type commitLags struct {
	lags
	t     *testing.T
	total int64 // the records of the one partition
	seen  chan int64
}

func (c *commitLags) Assigned(int)  {}
func (c *commitLags) CommitFailed() {}
func (c *commitLags) PartitionCommitted(topic string, partition int32, off int64) {
	c.mu.Lock()
	lag, ok := c.by[fmt.Sprintf("%s/%d", topic, partition)]
	c.mu.Unlock()
	if !ok || lag != c.total-off {
		c.t.Errorf("committed offset %d of %s/%d with lag %d (reported %v) on record; want %d", off, topic, partition, lag, ok, c.total-off)
	}
	c.seen <- off
}

// TestConsumeLagReportedWithCommit: when an offset is committed, the lag
// reported for its partition already counts from it.
func TestConsumeLagReportedWithCommit(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("lagcommit", 1)
	const n = 500
	b.Produce(topic, messages(n)...)
	c := &commitLags{lags: lags{by: map[string]int64{}}, t: t, total: n, seen: make(chan int64, 1024)}
	src, err := kafkasrc.New(context.Background(), kafkasrc.Config{
		Brokers: b.Addrs, Topics: []string{topic}, Group: b.Name("group"),
		SessionTimeout: 6 * time.Second, CommitInterval: time.Hour, // no tick: commits follow Close
		BatchRecords: 100, Lag: c, Membership: c,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, bt := range next(t, src, n) {
		bt.Done()
	}
	src.Close()
	select {
	case off := <-c.seen:
		if off != n {
			t.Errorf("committed %d, want %d", off, n)
		}
	default:
		t.Fatal("Close committed nothing")
	}
}
