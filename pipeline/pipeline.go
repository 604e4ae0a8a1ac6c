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
	"slices"
	"sync/atomic"
	"time"

	"github.com/annotator-dev/annotator/annotate"
)

// Kind says how a batch's input is framed.
type Kind uint8

const (
	// Lines: Data holds whole lines, each ending in '\n', except that the
	// last may lack it at the end of a stream.
	Lines Kind = iota
	// Piece: Data is a part of one line longer than a buffer; more follows.
	Piece
	// LastPiece: Data ends a long line (with its '\n', or at end of stream).
	LastPiece
	// Records: Records hold values each annotated as a unit (Kafka).
	Records
)

// Header is a record header (Kafka).
type Header struct {
	Key   string
	Value []byte
}

// Record is one message-framed input value.
type Record struct {
	Key     []byte
	Value   []byte
	Headers []Header
	// Meta is a JSON fragment (`"topic":"t","partition":0,"offset":5,`)
	// put into this record's JSON output.
	Meta []byte
	// Where the record was read (Kafka), so that a record the output
	// refuses can be named and set aside with its origin.
	Topic     string
	Partition int32
	Offset    int64
	// Time is the record's timestamp (Kafka), which its output keeps, as
	// a Kafka Streams app's output does; zero for a line.
	Time time.Time
}

// Output is one annotated record, for sinks that take records (Kafka):
// Value is a sub-slice of the batch's Out.
type Output struct {
	Value   []byte
	Key     []byte
	Headers []Header
	// Codes are the keys found, in order of first appearance.
	Codes []string
	// Source is the record this output was made from (nil for a line):
	// its Value is the input as read, before annotation.
	Source *Record
}

// Batch is the unit that flows through the pipeline.
type Batch struct {
	Kind    Kind
	Data    []byte
	Records []Record
	// Stream names the sequence a batch belongs to (a file path); the
	// pieces of one long line share it.
	Stream string
	// Meta is a JSON fragment put into every JSON object of the batch.
	Meta []byte
	// Done, when set, runs once the sink has durably taken the batch.
	// The source may reuse the batch from then on: nothing may keep its
	// slices (Out, Outs and what they point to) past Done.
	Done func()

	// Filled by the pipeline.
	Out   []byte
	Outs  []Output
	Stats annotate.Stats
	// Annotator is the one that annotated the batch: the key indices of
	// Stats.Hits are its.
	Annotator *annotate.Annotator
	// codes holds the Codes of every Output, one allocation per batch.
	codes []string
}

// Reset empties b for reuse by its source, keeping the memory of its
// slices, and drops what they point to so that a batch waiting to be
// reused does not hold the data it carried.
func (b *Batch) Reset() {
	clear(b.Records)
	clear(b.Outs)
	clear(b.codes)
	*b = Batch{Records: b.Records[:0], Out: b.Out[:0], Outs: b.Outs[:0], codes: b.codes[:0],
		Stats: annotate.Stats{Hits: b.Stats.Hits[:0]}}
}

// resetStats empties b's counts for a new annotation, keeping the hit
// list's memory.
func (b *Batch) resetStats(a *annotate.Annotator) {
	b.Stats = annotate.Stats{Hits: b.Stats.Hits[:0]}
	b.Annotator = a
}

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

func annotateBatch(a *annotate.Annotator, b *Batch, records bool, s *annotate.Scratch) {
	b.resetStats(a)
	b.Out = b.Out[:0]
	b.Outs = b.Outs[:0]
	b.codes = b.codes[:0]
	if b.Kind == Records {
		// The output is at least the input: room for it at once saves
		// growing b.Out step by step, copying it each time.
		n := 0
		for i := range b.Records {
			n += len(b.Records[i].Value) + len(b.Records[i].Meta)
		}
		b.Out = slices.Grow(b.Out, n)
		if records {
			b.Outs = slices.Grow(b.Outs, len(b.Records))
		}
	}
	switch {
	case b.Kind == Records:
		for i := range b.Records {
			r := &b.Records[i]
			start := len(b.Out)
			b.Out = a.AppendRecord(b.Out, r.Value, r.Meta, s, &b.Stats)
			if records {
				b.Outs, b.codes = appendOutput(b.Outs, b.codes, a, b.Out[start:], r, s)
			} else if len(b.Out) > start {
				b.Out = append(b.Out, '\n')
			}
		}
	case records:
		data := b.Data
		for len(data) > 0 {
			end := len(data)
			for i, c := range data {
				if c == '\n' {
					end = i + 1
					break
				}
			}
			line := data[:end]
			data = data[end:]
			line = trimTerm(line)
			start := len(b.Out)
			b.Out = a.AppendRecord(b.Out, line, b.Meta, s, &b.Stats)
			b.Outs, b.codes = appendOutput(b.Outs, b.codes, a, b.Out[start:], nil, s)
		}
	default:
		b.Out = a.AppendLines(b.Out, b.Data, b.Meta, s, &b.Stats)
	}
	if records {
		repointOutputs(b)
	}
}

// repointOutputs points each output's value into b.Out's final array.
// They were cut from b.Out while it grew, so each pointed into the array
// b.Out had then: every array it outgrew stayed alive, held by the
// outputs cut from it, until the batch was delivered (several times the
// batch's output, for large records). The values lie in b.Out one after
// another, in order.
func repointOutputs(b *Batch) {
	off := 0
	for i := range b.Outs {
		n := len(b.Outs[i].Value)
		b.Outs[i].Value = b.Out[off : off+n : off+n]
		off += n
	}
}

func trimTerm(line []byte) []byte {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	}
	return line[:n]
}

// appendOutput adds the output made from src (nil for a line).
// Its Codes are a piece of codes, which is returned grown.
func appendOutput(outs []Output, codes []string, a *annotate.Annotator, value []byte, src *Record, s *annotate.Scratch) ([]Output, []string) {
	ms := s.Matches()
	if len(value) == 0 && len(ms) == 0 && a.Options().OnlyMatching {
		return outs, codes
	}
	o := Output{Value: value, Source: src}
	if src != nil {
		o.Key, o.Headers = src.Key, src.Headers
	}
	if len(ms) > 0 {
		start := len(codes)
		for _, m := range ms {
			codes = append(codes, a.Note(m.Key).Code)
		}
		o.Codes = codes[start:len(codes):len(codes)]
	}
	return append(outs, o), codes
}
