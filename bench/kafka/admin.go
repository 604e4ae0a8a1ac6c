package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// admin asks the brokers what a reader could see: end offsets, last
// stable offsets, and a group's committed offsets.
type admin struct{ cl *kgo.Client }

func newAdmin(addrs []string) (*admin, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ClientID("annotator-bench"))
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return &admin{cl: cl}, nil
}

func (a *admin) close() { a.cl.Close() }

// endOffsets are the offsets just past the last record of each of the
// topic's partitions a reader can see: the high watermark, or with
// committed the last stable offset (nothing of an open transaction).
// Offsets count a transaction's markers too, so on a topic written in
// transactions their sum is more than the records.
func (a *admin) endOffsets(ctx context.Context, topic string, partitions int, committed bool) ([]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	if committed {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := 0; p < partitions; p++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = int32(p)
		rp.Timestamp = -1 // the end
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	offs := make([]int64, partitions)
	seen := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets of %s partition %d: %w", topic, p.Partition, err)
			}
			if p.Partition < 0 || int(p.Partition) >= partitions {
				return nil, fmt.Errorf("list offsets of %s: partition %d not asked for", topic, p.Partition)
			}
			offs[p.Partition] = p.Offset
			seen++
		}
	}
	if seen != partitions {
		return nil, fmt.Errorf("list offsets of %s: %d of %d partitions answered", topic, seen, partitions)
	}
	return offs, nil
}

// errUnstable: the group has offsets in a transaction not yet ended.
var errUnstable = errors.New("offsets pending in an open transaction")

// committed is the sum of group's committed offsets on topic's
// partitions, read with require_stable: offsets of a transaction still
// open are an error (errUnstable) rather than the previous ones.
func (a *admin) committed(ctx context.Context, group, topic string, partitions int) (int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	req.RequireStable = true
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := 0; p < partitions; p++ {
		rt.Partitions = append(rt.Partitions, int32(p))
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return 0, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if errors.Is(err, kerr.UnstableOffsetCommit) {
			return 0, errUnstable
		}
		return 0, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	var sum int64
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				if errors.Is(err, kerr.UnstableOffsetCommit) {
					return 0, errUnstable
				}
				return 0, fmt.Errorf("committed offsets of group %s on %s partition %d: %w", group, topic, p.Partition, err)
			}
			if p.Offset > 0 {
				sum += p.Offset
			}
		}
	}
	return sum, nil
}

// settled reports whether no transaction is open on topic: every
// partition's last stable offset is its high watermark, so that a
// read_committed reader sees all there is. visible is the sum of the
// last stable offsets.
func (a *admin) settled(ctx context.Context, topic string, partitions int) (ok bool, visible int64, err error) {
	stable, err := a.endOffsets(ctx, topic, partitions, true)
	if err != nil {
		return false, 0, err
	}
	end, err := a.endOffsets(ctx, topic, partitions, false)
	if err != nil {
		return false, 0, err
	}
	ok = true
	for p := range stable {
		visible += stable[p]
		if stable[p] != end[p] {
			ok = false
		}
	}
	return ok, visible, nil
}

// pollInterval is how often the bench asks the brokers whether a stage
// is done: the resolution of its timings.
const pollInterval = 20 * time.Millisecond

// waitCommitted waits until the group reading in committed the offsets of
// all n records of in (a topic written without transactions, so its
// offsets count records) and no transaction is open on out: then a
// read_committed reader of out sees the output of every input record.
// It returns that moment and the first moment out showed a committed
// record.
func (a *admin) waitCommitted(ctx context.Context, group, in, out string, partitions, n int, timeout time.Duration) (end, first time.Time, err error) {
	deadline := time.Now().Add(timeout)
	var sum int64
	for {
		select {
		case <-ctx.Done():
			return end, first, ctx.Err()
		case <-time.After(pollInterval):
		}
		now := time.Now()
		sum, err = a.committed(ctx, group, in, partitions)
		if err != nil && !errors.Is(err, errUnstable) {
			return end, first, err
		}
		ok, visible, err := a.settled(ctx, out, partitions)
		if err != nil {
			return end, first, err
		}
		if visible > 0 && first.IsZero() {
			first = now
		}
		if sum >= int64(n) && ok {
			return now, first, nil
		}
		if now.After(deadline) {
			return end, first, fmt.Errorf("group %s committed %d of %d records in %s", group, sum, n, timeout)
		}
	}
}

// waitProduced waits until out's end offsets add up to n records (a topic
// written without transactions) and returns that moment and the first
// moment out held a record.
func (a *admin) waitProduced(ctx context.Context, out string, partitions, n int, timeout time.Duration) (end, first time.Time, err error) {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-ctx.Done():
			return end, first, ctx.Err()
		case <-time.After(pollInterval):
		}
		now := time.Now()
		offs, err := a.endOffsets(ctx, out, partitions, false)
		if err != nil {
			return end, first, err
		}
		var total int64
		for _, o := range offs {
			total += o
		}
		if total > 0 && first.IsZero() {
			first = now
		}
		if total >= int64(n) {
			return now, first, nil
		}
		if now.After(deadline) {
			return end, first, fmt.Errorf("%s holds %d of %d records after %s", out, total, n, timeout)
		}
	}
}
