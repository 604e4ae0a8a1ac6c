// Package pipeline moves data one way, source → annotator → sink, and
// acknowledgements the other way: a batch's Done callback runs only after
// the sink has durably taken the batch's output, so a source that commits
// a Kafka offset or a file checkpoint in Done never commits ahead of what
// was delivered.
//
// Batches of whole lines are annotated by a pool of workers in parallel and
// written strictly in the order they were read. The pieces of a line
// longer than a buffer are annotated in order by the writer, which owns
// the per-stream long-line state.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/annotator-dev/annotator/annotate"
)

// Source produces batches. Next returns io.EOF at the end of its input; it
// must return promptly with ctx's error once ctx is done.
type Source interface {
	Next(ctx context.Context) (*Batch, error)
}

// Finisher is a source that, when a run stops, hands on the partial line
// it holds as a complete last record. The filter is one: what it read is
// written. A follower is not: it reads the line again, whole, after a
// restart.
type Finisher interface {
	// Unfinished is called, once Next has returned for the stop, by the
	// goroutine that calls Next; nil when the source holds nothing.
	Unfinished(ctx context.Context) *Batch
	// Stranded is called by another goroutine when Next has not returned
	// after the stop: blocked in a read that no context can end (a pipe
	// whose writer is quiet). true: the source was in such a read, and
	// the batch (nil when none) is its rest; false: Next is about to
	// return, and Unfinished will follow.
	Stranded() (*Batch, bool)
}

// Sink takes annotated batches.
type Sink interface {
	// Write returns once the batch's output is durably taken: written to
	// the file descriptor, or acknowledged by the broker. It must not
	// keep the batch's slices: the source may reuse them afterwards.
	Write(ctx context.Context, b *Batch) error
	// Close flushes and releases the sink.
	Close() error
}

// RecordSink is a sink that takes one output per line or record (b.Outs)
// rather than a byte stream (b.Out).
type RecordSink interface {
	Sink
	TakesRecords()
}

// Options tune a run.
type Options struct {
	// Workers annotating in parallel; 0 means GOMAXPROCS.
	Workers int
	// DrainTimeout bounds how long, after ctx is cancelled, the batches
	// already read may take to reach the sink. 0 means 10 s.
	DrainTimeout time.Duration
	// Current, when set, is read at the start of every batch instead of
	// the annotator passed to Run: storing a new annotator there swaps the
	// catalog between batches (hot reload) without stopping the run. The
	// pieces of one long line keep the annotator they started with.
	Current *atomic.Pointer[annotate.Annotator]
	// Delivered, when set, is called from the writer goroutine with each
	// batch the sink has taken, before its Done: metrics hang here. The
	// batch's Stats.Hits list its codes when the annotator counts them.
	Delivered func(b *Batch)
	// MaxRecord bounds, for a record sink, the input bytes of one line
	// that arrives in pieces (longer than a read buffer): its pieces are
	// gathered so that the sink gets the line as one record, and a longer
	// line stops the run with an error naming it. 0 means DefaultMaxRecord.
	MaxRecord int
}

// DefaultMaxRecord is Kafka's default limit on a message (1 MiB): a longer
// record would be refused by the broker anyway.
const DefaultMaxRecord = 1 << 20

type job struct {
	b    *Batch
	done chan struct{}
}

// Run moves batches from src through a to sink until src reports io.EOF,
// an error occurs, or ctx is cancelled. On cancellation it stops reading,
// delivers what was already read (within DrainTimeout), and returns nil:
// a stop is not a failure. It returns the totals of what was annotated.
func Run(ctx context.Context, src Source, a *annotate.Annotator, sink Sink, opt Options) (annotate.Stats, error) {
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	drain := opt.DrainTimeout
	if drain <= 0 {
		drain = 10 * time.Second
	}
	_, records := sink.(RecordSink)
	current := func() *annotate.Annotator { return a }
	if opt.Current != nil {
		current = opt.Current.Load
	}

	// abort stops everything at once: on a sink failure, or when draining
	// takes too long.
	abortCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()

	order := make(chan job, 2*workers)
	work := make(chan job, 2*workers)
	readErr := make(chan error, 1)

	readCtx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	var inNext atomic.Bool // the reader is waiting in src.Next
	go func() {            // reader: owns src
		defer close(order)
		defer close(work)
		for {
			inNext.Store(true)
			b, err := src.Next(readCtx)
			inNext.Store(false)
			if err != nil && readCtx.Err() != nil {
				if fin, ok := src.(Finisher); ok {
					b, err = fin.Unfinished(abortCtx), io.EOF
				}
			}
			if b == nil {
				if errors.Is(err, io.EOF) || readCtx.Err() != nil {
					err = nil
				}
				readErr <- err
				return
			}
			j := job{b: b, done: make(chan struct{})}
			select {
			case order <- j:
			case <-abortCtx.Done():
				readErr <- nil
				return
			}
			if b.Kind == Piece || b.Kind == LastPiece {
				close(j.done) // annotated in order by the writer
				continue
			}
			select {
			case work <- j:
			case <-abortCtx.Done():
				readErr <- nil
				return
			}
		}
	}()

	workersDone := make(chan struct{})
	go func() { // workers: stop when work closes or on abort
		defer close(workersDone)
		finished := make(chan struct{}, workers)
		for i := 0; i < workers; i++ {
			go func() {
				defer func() { finished <- struct{}{} }()
				var s annotate.Scratch
				for {
					select {
					case j, ok := <-work:
						if !ok {
							return
						}
						annotateBatch(current(), j.b, records, &s)
						close(j.done)
					case <-abortCtx.Done():
						return
					}
				}
			}()
		}
		for i := 0; i < workers; i++ {
			<-finished
		}
	}()

	// The writer runs here: in order, long-line pieces, sink, acks.
	var total annotate.Stats
	var s annotate.Scratch
	maxRecord := opt.MaxRecord
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecord
	}
	long := newLongLines(current, maxRecord)
	defer long.close()
	writeCtx := abortCtx
	stopDrainTimer := func() bool { return false }
	var werr error
	fin, _ := src.(Finisher)
	for {
		j, ok := nextJob(ctx, order, &inNext)
		if !ok && fin != nil {
			// The reader is still in Next after the stop.
			j, ok = stranded(fin, order, abortCtx)
			fin = nil
			if ok && j.b.Kind == Lines {
				annotateBatch(current(), j.b, records, &s)
			}
		}
		if !ok {
			break
		}
		if ctx.Err() != nil && writeCtx == abortCtx {
			// Stopping: what was read gets DrainTimeout to reach the sink.
			var cancel context.CancelFunc
			writeCtx, cancel = context.WithTimeout(abortCtx, drain)
			defer cancel()
			t := time.AfterFunc(drain, abort)
			stopDrainTimer = t.Stop
		}
		select {
		case <-j.done:
		case <-abortCtx.Done():
		}
		if abortCtx.Err() != nil {
			werr = fmt.Errorf("stopping: batches not delivered within %s", drain)
			break
		}
		b := j.b
		if b.Kind == Piece || b.Kind == LastPiece {
			if err := long.annotate(writeCtx, b, records, sink, &s); err != nil {
				werr = err
				break
			}
		}
		if records {
			long.count(b)
		}
		if err := sink.Write(writeCtx, b); err != nil {
			werr = fmt.Errorf("write: %w", err)
			break
		}
		total.Add(b.Stats)
		if opt.Delivered != nil {
			opt.Delivered(b)
		}
		if b.Done != nil {
			b.Done()
		}
	}
	stopDrainTimer()
	abort()
	cancelRead()
	<-workersDone
	// The reader has closed order, so it is done, unless the writer stopped
	// early (a stop, a sink failure): then the reader ends as soon as
	// src.Next returns, which readCtx's cancellation asks it to do. A
	// source blocked in a read that cannot be interrupted is not waited
	// for: Run's caller owns the source and closing it ends that read.
	select {
	case err := <-readErr:
		if err != nil && werr == nil {
			werr = err
		}
	default:
	}
	return total, werr
}

// nextJob returns the next batch to deliver. Once ctx is done it returns
// only what the reader has already read: the batches queued, and one the
// reader is handing over, but it does not wait on a source still blocked
// in Next (a quiet pipe), which may never return.
// stranded takes a Finisher's rest when the reader has not returned from
// Next after a stop: the rest itself when Next is blocked in a read, or
// else the reader's next job, as Next returns at once.
func stranded(fin Finisher, order <-chan job, abortCtx context.Context) (job, bool) {
	b, blocked := fin.Stranded()
	if blocked {
		if b == nil {
			return job{}, false
		}
		j := job{b: b, done: make(chan struct{})}
		close(j.done)
		return j, true
	}
	select {
	case j, ok := <-order:
		return j, ok
	case <-abortCtx.Done():
		return job{}, false
	}
}

func nextJob(ctx context.Context, order <-chan job, inNext *atomic.Bool) (job, bool) {
	select {
	case j, ok := <-order:
		return j, ok
	case <-ctx.Done():
	}
	for {
		select {
		case j, ok := <-order:
			return j, ok
		default:
		}
		if inNext.Load() {
			// A job put just before the reader went back into Next.
			select {
			case j, ok := <-order:
				return j, ok
			default:
			}
			return job{}, false
		}
		select {
		case j, ok := <-order:
			return j, ok
		case <-time.After(time.Millisecond):
		}
	}
}
