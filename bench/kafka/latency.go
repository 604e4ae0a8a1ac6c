package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/pipeline"
)

// warmBase is the first req= number of the warm-up records of a latency
// measurement, far above the measured ones (0 to rate × duration).
const warmBase = 90_000_000

// latencyRow is one stage's end-to-end latency: from producing an input
// record (its timestamp, which every stage measured keeps on its output)
// until a read_committed reader of the output holds it.
type latencyRow struct {
	name          string
	guarantee     string
	streams       bool
	sent, got     int
	p50, p99, max time.Duration
}

// measureLatency runs each row's stage again, on topics of its own, with
// a paced input of c.latencyRate records/s for c.latency, once the stage
// is running (a first record came through), and reports the latencies.
func measureLatency(ctx context.Context, c config, client *kafkago.Client, adm *admin, a *annotate.Annotator, addrs []string, rows []row, suffix string) ([]latencyRow, error) {
	var topics []string
	for i := range rows {
		topics = append(topics, fmt.Sprintf("bench-lat-in-%d-%s", i, suffix), fmt.Sprintf("bench-lat-out-%d-%s", i, suffix))
	}
	if err := createTopics(ctx, client, topics, c.partitions, c.replication); err != nil {
		return nil, err
	}
	var lats []latencyRow
	for i, r := range rows {
		in, out := topics[2*i], topics[2*i+1]
		var stop func() error
		var exited <-chan struct{}
		if r.streams {
			p, err := c.streams.start(addrs, in, out, "bench-streams-lat-"+r.guarantee+"-"+suffix, r.guarantee)
			if err != nil {
				return lats, err
			}
			stop = func() error { p.stop(); return nil }
			exited = p.exited
		} else {
			var err error
			stop, exited, err = startStage(ctx, c, a, r.guarantee, addrs, in, out, "bench-lat-"+r.guarantee+"-"+suffix)
			if err != nil {
				return lats, err
			}
		}
		l, err := paced(ctx, c, addrs, in, out, exited)
		err = errors.Join(err, stop())
		if err != nil {
			return lats, fmt.Errorf("latency of %s: %w", r.name, err)
		}
		l.name, l.guarantee, l.streams = r.name, r.guarantee, r.streams
		lats = append(lats, l)
		fmt.Printf("latency of %s, produce → visible to read_committed, %d records/s for %s: median %s, p99 %s, max %s (%d of %d records); load average %s\n",
			r.name, c.latencyRate, c.latency, ms(l.p50), ms(l.p99), ms(l.max), l.got, l.sent, loadAverage())
	}
	for _, streams := range []bool{false, true} {
		var alo, eos *latencyRow
		for i := range lats {
			if lats[i].streams == streams {
				if lats[i].guarantee == exactlyOnce {
					eos = &lats[i]
				} else {
					alo = &lats[i]
				}
			}
		}
		if alo != nil && eos != nil {
			fmt.Printf("latency added by exactly-once (%s): median +%s, p99 +%s\n", eos.name, ms(eos.p50-alo.p50), ms(eos.p99-alo.p99))
		}
	}
	return lats, nil
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// startStage runs annotator's stage with guarantee g on in → out until
// the returned stop is called; exited is closed when the run ends.
func startStage(ctx context.Context, c config, a *annotate.Annotator, g string, addrs []string, in, out, group string) (stop func() error, exited <-chan struct{}, err error) {
	st, err := newStage(ctx, c, g, addrs, in, out, group)
	if err != nil {
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		_, runErr = pipeline.Run(runCtx, st.src, a, st.sink, pipeline.Options{})
	}()
	return func() error {
		cancel()
		<-done
		return errors.Join(runErr, st.close())
	}, done, nil
}

// paced produces warm-up records into in until one comes out of out,
// then c.latencyRate records/s for c.latency, each stamped with the time
// it is produced, and waits for their outputs. exited is closed if the
// stage stops on its own.
func paced(ctx context.Context, c config, addrs []string, in, out string, exited <-chan struct{}) (latencyRow, error) {
	m := int(float64(c.latencyRate) * c.latency.Seconds())
	reader, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ClientID("annotator-bench"), kgo.ConsumeTopics(out),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return latencyRow{}, fmt.Errorf("reader: %w", err)
	}
	defer reader.Close()
	producer, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ClientID("annotator-bench"), kgo.DefaultProduceTopic(in),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		return latencyRow{}, fmt.Errorf("producer: %w", err)
	}
	defer producer.Close()

	// The reader: the latency of each measured record, the first time
	// it is seen.
	var mu sync.Mutex
	lat := make([]time.Duration, m)
	got := 0
	warm := make(chan struct{})
	all := make(chan struct{})
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	readErr := make(chan error, 1)
	go func() {
		warmed := false
		for {
			fetches := reader.PollFetches(rctx)
			now := time.Now()
			if rctx.Err() != nil {
				readErr <- nil
				return
			}
			for _, fe := range fetches.Errors() {
				readErr <- fmt.Errorf("read %s: %w", out, fe.Err)
				return
			}
			mu.Lock()
			fetches.EachRecord(func(r *kgo.Record) {
				id := reqNumber(r.Value)
				switch {
				case id >= warmBase:
					if !warmed {
						warmed = true
						close(warm)
					}
				case id >= 0 && id < m && lat[id] == 0:
					lat[id] = max(now.Sub(r.Timestamp), 1) // 0 is "not seen"
					got++
					if got == m {
						close(all)
					}
				}
			})
			mu.Unlock()
		}
	}()

	var perrMu sync.Mutex
	var perr error // the first failed produce of a measured record
	produce := func(id int) error {
		r := &kgo.Record{Value: record(id), Timestamp: time.Now()}
		if id >= warmBase {
			return producer.ProduceSync(ctx, r).FirstErr()
		}
		producer.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				perrMu.Lock()
				perr = cmp.Or(perr, err)
				perrMu.Unlock()
			}
		})
		return nil
	}
	// Warm up: the stage has joined its group and its first output is
	// visible before the measured records start.
	warmDeadline := time.Now().Add(3 * time.Minute)
	for k := 0; ; k++ {
		if err := produce(warmBase + k); err != nil {
			return latencyRow{}, fmt.Errorf("produce to %s: %w", in, err)
		}
		select {
		case <-warm:
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(warmDeadline) {
				return latencyRow{}, fmt.Errorf("no output in %s within 3 minutes", out)
			}
			continue
		case <-exited:
			return latencyRow{}, errors.New("the stage stopped before its first output")
		case err := <-readErr:
			return latencyRow{}, err
		}
		break
	}
	// Paced: every 10 ms, the records due by then.
	t0 := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	for sent := 0; sent < m; {
		<-tick.C
		due := min(m, int(time.Since(t0).Seconds()*float64(c.latencyRate)))
		for ; sent < due; sent++ {
			produce(sent) // failures are reported after Flush
		}
	}
	tick.Stop()
	if err := producer.Flush(ctx); err != nil {
		return latencyRow{}, fmt.Errorf("produce to %s: %w", in, err)
	}
	perrMu.Lock()
	err = perr
	perrMu.Unlock()
	if err != nil {
		return latencyRow{}, fmt.Errorf("produce to %s: %w", in, err)
	}
	wait := 30*time.Second + 3*c.commit
	select {
	case <-all:
	case <-time.After(wait):
	case <-exited:
	case err := <-readErr:
		if err != nil {
			return latencyRow{}, err
		}
	}
	rcancel()
	mu.Lock()
	defer mu.Unlock()
	l := latencyRow{sent: m, got: got}
	if got < m {
		return l, fmt.Errorf("%d of %d paced records came out of %s", got, m, out)
	}
	slices.Sort(lat)
	l.p50, l.p99, l.max = lat[m/2], lat[min(m-1, m*99/100)], lat[m-1]
	return l, nil
}
