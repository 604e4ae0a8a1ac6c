package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Stopping within a bound, whatever the output does. After SIGTERM the
// pipeline gives what was read --drain-timeout to reach the output; but
// a write to a pipe nobody reads (a hung shipper) blocks in the kernel,
// deaf to any context, and the process would never end. So main waits
// for the run at most the stop budget after the signal, then exits with
// status 1 saying why: what was not delivered is not checkpointed, and a
// restart reads it again.

// stopGrace is what the budget allows beyond the drain timeouts: closing
// the output and the sources, writing the checkpoints.
const stopGrace = 2 * time.Second

// defaultStopBudget holds until a run sets its own: the default drain
// timeout and the grace.
const defaultStopBudget = 10*time.Second + stopGrace

type stopBudgetKey struct{}

// withStopBudget gives ctx a stop budget a run may set.
func withStopBudget(ctx context.Context) (context.Context, *atomic.Int64) {
	b := new(atomic.Int64)
	b.Store(int64(defaultStopBudget))
	return context.WithValue(ctx, stopBudgetKey{}, b), b
}

// setStopBudget sets how long the run may take to stop after a signal.
func setStopBudget(ctx context.Context, d time.Duration) {
	if b, ok := ctx.Value(stopBudgetKey{}).(*atomic.Int64); ok {
		b.Store(int64(d))
	}
}

// runStoppable runs fn and returns its status; once ctx is done (a
// signal), it waits for fn at most the budget, then returns 1. stop
// releases the signals as soon as fn is done, so a second SIGTERM after
// that ends the process as usual.
func runStoppable(ctx context.Context, stop context.CancelFunc, budget *atomic.Int64, fn func() int, stderr io.Writer) int {
	done := make(chan int, 1)
	go func() { done <- fn() }() // owned by main: it returns, or the process exits
	select {
	case code := <-done:
		stop()
		return code
	case <-ctx.Done():
	}
	d := time.Duration(budget.Load())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case code := <-done:
		stop()
		return code
	case <-t.C:
		fmt.Fprintf(stderr, "annotator: stopping: not done %s after the signal (the output takes no data?); exiting without delivering what was read\n", d)
		return exitFailure
	}
}

// stoppedStarting reports whether err is a signal's stop reaching a start
// that was waiting (for brokers, say): SIGTERM then means exit 0, as at
// any other time.
func stoppedStarting(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled)
}
