package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/pipeline"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
	kafkasrc "github.com/annotator-dev/annotator/sources/kafka"
	"github.com/annotator-dev/annotator/sources/kafkatxn"
)

// stage is annotator's Kafka stage with one guarantee, ready to run.
type stage struct {
	src  pipeline.Source
	sink pipeline.Sink
	// produced counts the records acknowledged (at-least-once only).
	produced func() int64
	// txns follows the transactions (exactly-once only).
	txns  *txnStats
	close func() error
}

func newStage(ctx context.Context, c config, g string, addrs []string, in, out, group string) (*stage, error) {
	if g == exactlyOnce {
		txns := &txnStats{}
		st, err := kafkatxn.New(ctx, kafkatxn.Config{Brokers: addrs, Topics: []string{in}, Group: group, OutTopic: out,
			SessionTimeout: 10 * time.Second, CommitInterval: c.commit, Compression: c.compression, Txn: txns})
		if err != nil {
			return nil, fmt.Errorf("exactly-once stage: %w", err)
		}
		return &stage{src: st, sink: st.Sink(), close: st.Close, txns: txns}, nil
	}
	commit := c.commit
	if commit == 0 {
		commit = kafkasrc.CommitEachBatch
	}
	src, err := kafkasrc.New(ctx, kafkasrc.Config{Brokers: addrs, Topics: []string{in}, Group: group,
		SessionTimeout: 10 * time.Second, CommitInterval: commit})
	if err != nil {
		return nil, fmt.Errorf("at-least-once source: %w", err)
	}
	sink, err := kafkasink.New(ctx, kafkasink.Config{Brokers: addrs, Topic: out, Compression: c.compression})
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("at-least-once sink: %w", err)
	}
	return &stage{src: src, sink: sink, produced: sink.Produced.Load,
		close: func() error { return errors.Join(sink.Close(), src.Close()) }}, nil
}

// runStage moves the n records of in through the stage with guarantee g
// into out, timed from creating the stage until the last record is out:
// acknowledged (at-least-once), or visible to read_committed readers
// (exactly-once).
func runStage(ctx context.Context, c config, adm *admin, a *annotate.Annotator, g string, addrs []string, in, out, group string) (result, error) {
	st, err := newStage(ctx, c, g, addrs, in, out, group)
	if err != nil {
		return result{}, err
	}
	defer st.close()
	t0 := time.Now()
	cpu0 := cpuTime()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var start, written time.Time
	delivered := 0
	done := make(chan time.Time, 1)
	opt := pipeline.Options{Delivered: func(b *pipeline.Batch) {
		if start.IsZero() {
			start = time.Now()
		}
		if delivered += len(b.Records); delivered >= c.n && written.IsZero() {
			written = time.Now()
		}
		if st.produced != nil && st.produced() >= int64(c.n) {
			select {
			case done <- time.Now():
				stop()
			default:
			}
		}
	}}
	watched := make(chan error, 1)
	if st.produced == nil {
		go func() {
			end, _, err := adm.waitCommitted(runCtx, group, in, out, c.partitions, c.n, 10*time.Minute)
			if err == nil {
				done <- end
			}
			watched <- err
			stop()
		}()
	} else {
		close(watched)
	}
	if c.cpuprofile != "" {
		path := c.cpuprofile
		if len(c.guarantees) > 1 {
			path += "." + g
		}
		f, err := os.Create(path)
		if err != nil {
			return result{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return result{}, fmt.Errorf("cpu profile: %w", err)
		}
	}
	_, err = pipeline.Run(runCtx, st.src, a, st.sink, opt)
	pprof.StopCPUProfile()
	if err != nil {
		return result{}, fmt.Errorf("%s stage: %w", g, err)
	}
	stop()
	if werr := <-watched; werr != nil {
		return result{}, fmt.Errorf("%s stage: waiting for its output: %w", g, werr)
	}
	var end time.Time
	select {
	case end = <-done:
	default:
		return result{}, fmt.Errorf("%s stage: stopped before moving %d records", g, c.n)
	}
	cpu := cpuTime() - cpu0
	if start.IsZero() {
		start = t0
	}
	if written.IsZero() {
		written = end
	}
	if st.txns != nil {
		fmt.Printf("%s stage: every record written into its transaction after %s (%.0f records/s), visible after %s; %s\n",
			g, written.Sub(t0).Round(time.Millisecond), float64(c.n)/written.Sub(t0).Seconds(), end.Sub(t0).Round(time.Millisecond), st.txns)
	}
	return result{n: c.n, elapsed: end.Sub(t0), steady: end.Sub(start), written: written.Sub(t0), cpu: cpu}, nil
}
