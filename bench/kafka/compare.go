package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// outputRead is what a read_committed reader found in one output topic.
type outputRead struct {
	topic string
	// hash is, by req= number, a hash of the record's value; 0 for a
	// record not seen.
	hash       []uint64
	records    int // records read, duplicates included
	duplicates int
	annotated  int // distinct records longer than their input
}

// compareOutputs reads every row's output topic with read_committed and
// checks that every input record came out of each with the same value as
// out of the first (duplicates, which at-least-once allows, must agree
// too), that each annotated the same records, and that the exactly-once
// outputs hold no duplicate. It returns what it read and how many
// records differ.
func compareOutputs(ctx context.Context, addrs []string, rows []row, n int) ([]outputRead, int, error) {
	var reads []outputRead
	differ := 0
	var problems []error
	for i, r := range rows {
		o, err := readOutput(ctx, addrs, r.out, n)
		if err != nil {
			return reads, 0, fmt.Errorf("%s: %w", r.name, err)
		}
		reads = append(reads, o)
		d, sample := 0, -1
		if i > 0 {
			for id, h := range o.hash {
				if h != reads[0].hash[id] {
					if d == 0 {
						sample = id
					}
					d++
				}
			}
		}
		differ += d
		fmt.Printf("output of %s (read_committed): %d records, %d distinct, %d duplicates, %d annotated, %d differ from %s\n",
			r.name, o.records, o.records-o.duplicates, o.duplicates, o.annotated, d, rows[0].name)
		if d > 0 || o.annotated != reads[0].annotated {
			problems = append(problems, fmt.Errorf("%s's and %s's outputs differ (%d records, req=%08d first; %d and %d annotated)",
				rows[0].name, r.name, d, sample, reads[0].annotated, o.annotated))
		}
		if r.guarantee == exactlyOnce && o.duplicates > 0 {
			problems = append(problems, fmt.Errorf("%s: %d duplicates in an exactly-once output", r.name, o.duplicates))
		}
	}
	return reads, differ, errors.Join(problems...)
}

// reqNumber is the req= number of a record value, -1 if it has none.
func reqNumber(v []byte) int {
	i := bytes.Index(v, []byte("req="))
	if i < 0 || len(v) < i+12 {
		return -1
	}
	id, err := strconv.Atoi(string(v[i+4 : i+12]))
	if err != nil {
		return -1
	}
	return id
}

// readOutput reads topic from the start with read_committed until every
// one of the n records has been seen and then until the topic has no
// more, counting duplicates.
func readOutput(ctx context.Context, addrs []string, topic string, n int) (outputRead, error) {
	o := outputRead{topic: topic, hash: make([]uint64, n)}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ClientID("annotator-bench"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchMaxBytes(16<<20))
	if err != nil {
		return o, fmt.Errorf("read %s: %w", topic, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	distinct := 0
	for {
		pctx := ctx
		var pcancel context.CancelFunc = func() {}
		if distinct == n {
			// All seen: what follows within a second is duplicates.
			pctx, pcancel = context.WithTimeout(ctx, time.Second)
		}
		fetches := cl.PollFetches(pctx)
		pcancel()
		if distinct == n && fetches.NumRecords() == 0 {
			return o, nil
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) && distinct == n {
				continue
			}
			return o, fmt.Errorf("read %s after %d of %d records: %w", topic, distinct, n, fe.Err)
		}
		var bad error
		fetches.EachRecord(func(r *kgo.Record) {
			id := reqNumber(r.Value)
			if id < 0 || id >= n {
				if bad == nil {
					bad = fmt.Errorf("%s: a record without a req= of the input: %q", topic, r.Value)
				}
				return
			}
			h := fnv.New64a()
			h.Write(r.Value)
			sum := h.Sum64() | 1 // never 0, which is "not seen"
			o.records++
			switch old := o.hash[id]; {
			case old == 0:
				o.hash[id] = sum
				distinct++
				if len(r.Value) > 150 {
					o.annotated++
				}
			case old != sum:
				if bad == nil {
					bad = fmt.Errorf("%s: req=%08d came out twice with different values", topic, id)
				}
			default:
				o.duplicates++
			}
		})
		if bad != nil {
			return o, bad
		}
	}
}
