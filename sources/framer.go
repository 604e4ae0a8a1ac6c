// Package sources holds the pipeline's inputs: byte streams (stdin and
// files) cut into batches of whole lines, and the followers and consumers
// built on the same framing.
package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/annotator-dev/annotator/pipeline"
)

// DefaultBufferSize is the size of one batch's input buffer. Large enough
// that per-batch costs vanish, small enough that a batch and its output
// stay in a core's L2 cache between being read and being annotated: 1 MiB
// batches ran measurably slower (bench/e2e.sh) and doubled peak RSS.
const DefaultBufferSize = 256 << 10

// Framer cuts a byte stream into batches of whole lines. A line longer than
// the buffer is handed on in pieces (pipeline.Piece, then
// pipeline.LastPiece), so no line is ever dropped or split into two lines,
// and memory stays bounded whatever the line length.
//
// Batches come from a fixed Pool, so only so many are in flight: Next
// blocks until the sink has taken an earlier one (backpressure).
type Framer struct {
	r      io.Reader
	stream string
	meta   []byte
	free   *Pool
	carry  []byte // the start of a line cut at the end of the last read
	inLong bool   // the carry-over belongs to a line being sent in pieces
	eof    bool
	err    error
	offset int64 // stream offset just past the last byte handed on
	// EndLastLine, if set, ends a last line that lacks '\n' at the end of
	// the stream with one, so it is handed on as a line of its own: a
	// followed file let go after rotation is one segment of a longer
	// stream, and its unfinished last line must not run into the next
	// file's first line. The added byte is not counted in offsets.
	EndLastLine bool
	// OnDone, if set, is called with the stream offset just past a batch's
	// last whole line once the sink has durably taken the batch (pieces of
	// a long line report the offset only when the line ends).
	OnDone func(offset int64)
	// OnDoneTail, if set, is called as OnDone is, with the last bytes
	// (at most TailLen) before the offset too: a checkpoint keeps them
	// to tell its file from a later one given the same inode.
	OnDoneTail func(offset int64, tail []byte)
	// LineEnds, if set, is asked before the first piece of a line longer
	// than the buffer is handed on: whether the stream already holds the
	// line's end. While it says no, Next keeps the line and returns
	// ErrLineUnfinished, so nothing of a line still being written goes
	// out (a followed file: a stop then writes nothing of it, and the
	// checkpoint stays before it). The stream's reader must then be asked
	// by other means whether more can come; EndStream says it cannot.
	LineEnds func() bool

	// Handing on the rest at a stop (Unfinished, Stranded): mu guards
	// what Stranded, called from another goroutine, may look at.
	mu       sync.Mutex
	reading  bool   // Next is in a read
	held     []byte // what Next holds meanwhile, not yet handed on
	heldLong bool   // held continues a line sent in pieces
	finished bool   // the rest was handed on: nothing more is
}

// ErrLineUnfinished is returned by Next when a line longer than the buffer
// has no end in the stream yet and LineEnds holds it back.
var ErrLineUnfinished = errors.New("a long line is still being written")

// TailLen is how many bytes before an offset OnDoneTail is given.
const TailLen = 64

// Pool holds the batches (and their buffers) that framers fill, shared by
// every framer of a run so that opening many files allocates nothing new.
type Pool struct {
	free chan *pipeline.Batch
}

// NewPool makes n batches of bufSize bytes each. bufSize <= 0 means
// DefaultBufferSize; n <= 0 means 4.
func NewPool(bufSize, n int) *Pool {
	if bufSize <= 0 {
		bufSize = DefaultBufferSize
	}
	if n <= 0 {
		n = 4
	}
	p := &Pool{free: make(chan *pipeline.Batch, n)}
	for i := 0; i < n; i++ {
		p.free <- &pipeline.Batch{Data: make([]byte, 0, bufSize)}
	}
	return p
}

// NewFramer reads r, naming batches with stream and putting meta into their
// JSON output.
func NewFramer(r io.Reader, stream string, meta []byte, pool *Pool) *Framer {
	return &Framer{r: r, stream: stream, meta: meta, free: pool}
}

// Offset is the stream offset just past the data handed on so far.
func (f *Framer) Offset() int64 { return f.offset }

// SetOffset tells the framer the stream's current offset (after a seek).
func (f *Framer) SetOffset(off int64) { f.offset = off }

// Next returns the next batch, or io.EOF once the stream has ended and all
// of it was handed on.
func (f *Framer) Next(ctx context.Context) (*pipeline.Batch, error) {
	if f.eof && len(f.carry) == 0 && !f.inLong {
		if f.err != nil {
			return nil, f.err
		}
		return nil, io.EOF
	}
	var b *pipeline.Batch
	select {
	case b = <-f.free.free:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	b.Kind, b.Stream, b.Meta, b.Records = pipeline.Lines, f.stream, f.meta, nil
	data := append(b.Data[:0], f.carry...)
	f.carry = f.carry[:0]
	size := cap(data)
	for !f.eof {
		if ctx.Err() != nil {
			// Keep what was read for a later call: nothing read is dropped.
			f.carry = append(f.carry, data...)
			f.free.free <- b
			return nil, ctx.Err()
		}
		if len(data) == size {
			break
		}
		if !f.hold(data) {
			f.free.free <- b
			return nil, context.Canceled
		}
		n, err := f.r.Read(data[len(data):size])
		data = data[:len(data)+n]
		if !f.release() {
			f.free.free <- b
			return nil, context.Canceled
		}
		if err != nil {
			f.eof = true
			if !errors.Is(err, io.EOF) {
				f.err = fmt.Errorf("read %s: %w", f.streamName(), err)
			}
			break
		}
		// Hand on what there is as soon as a read did not fill a pipe's
		// worth: waiting for a full buffer would hold lines back from a
		// slow writer (tail -f | annotator).
		if n < 32<<10 && bytes.IndexByte(data[len(data)-n:], '\n') >= 0 {
			break
		}
		if n == 0 && len(data) > 0 && bytes.IndexByte(data, '\n') >= 0 {
			break
		}
	}
	if f.LineEnds != nil && !f.inLong && !f.eof && len(data) == size &&
		bytes.IndexByte(data, '\n') < 0 && !f.LineEnds() {
		f.carry = append(f.carry, data...)
		f.free.free <- b
		return nil, ErrLineUnfinished
	}
	return f.cut(b, data), nil
}

// EndStream tells the framer that its stream ends without the held-back
// long line's end (a file rotated away): the line is then handed on in
// pieces up to the end the reader reports, as the stream's last line.
func (f *Framer) EndStream() { f.LineEnds = nil }

// Unfinished hands on, as one complete line ended with '\n', the part of
// a line the framer holds when a run stops before the line's end came:
// the start of a line not yet handed on, or, for a line going out in
// pieces, its rest (possibly just the '\n'), so that the output's last
// record is whole (text ends with a newline, JSON is valid). It is called
// by the goroutine that calls Next, once Next has returned for the stop;
// it returns nil when the framer holds nothing, when Stranded took it
// already, or when ctx ends before a batch is free.
func (f *Framer) Unfinished(ctx context.Context) *pipeline.Batch {
	f.mu.Lock()
	done := f.finished
	f.finished = true
	f.mu.Unlock()
	if done || (len(f.carry) == 0 && !f.inLong) {
		return nil
	}
	var b *pipeline.Batch
	select {
	case b = <-f.free.free:
	case <-ctx.Done():
		return nil
	}
	f.finish(b, f.carry, f.inLong)
	f.carry, f.inLong, f.eof = f.carry[:0], false, true
	b.Done = func() { f.free.free <- b }
	return b
}

// Stranded is Unfinished for a stop that finds Next blocked in a read
// ctx cannot end (a pipe whose writer is quiet): it may be called from
// another goroutine. If Next is in a read, it returns what Next holds as
// a complete line (nil when nothing) and true, and what that read brings
// later is dropped; otherwise false: Next is about to return.
func (f *Framer) Stranded() (*pipeline.Batch, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.finished {
		return nil, true
	}
	if !f.reading {
		return nil, false
	}
	f.finished = true
	if len(f.held) == 0 && !f.heldLong {
		return nil, true
	}
	b := &pipeline.Batch{Data: make([]byte, 0, len(f.held)+1)}
	f.finish(b, f.held, f.heldLong)
	return b, true
}

// finish makes b the line rest, ended with '\n'; long: the end of a line
// sent in pieces.
func (f *Framer) finish(b *pipeline.Batch, rest []byte, long bool) {
	b.Kind, b.Stream, b.Meta, b.Records = pipeline.Lines, f.stream, f.meta, nil
	if long {
		b.Kind = pipeline.LastPiece
	}
	data := append(b.Data[:0], rest...)
	if len(data) == 0 || data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	b.Data = data
}

// hold tells Stranded what Next holds while it reads; false when the run
// has stopped and Unfinished or Stranded took the framer's rest.
func (f *Framer) hold(data []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.finished {
		return false
	}
	f.reading, f.held, f.heldLong = true, data, f.inLong
	return true
}

// release ends hold after a read; false when Stranded took what was held,
// so that the read's bytes belong to no record.
func (f *Framer) release() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reading, f.held = false, nil
	return !f.finished
}

func (f *Framer) streamName() string {
	if f.stream == "" {
		return "standard input"
	}
	return f.stream
}

// cut decides how much of data the batch carries and keeps the rest.
func (f *Framer) cut(b *pipeline.Batch, data []byte) *pipeline.Batch {
	end := len(data)
	switch {
	case f.inLong:
		i := bytes.IndexByte(data, '\n')
		switch {
		case i >= 0:
			end = i + 1
			b.Kind = pipeline.LastPiece
			f.inLong = false
		case f.eof:
			b.Kind = pipeline.LastPiece
			f.inLong = false
		default:
			b.Kind = pipeline.Piece
		}
	case !f.eof:
		i := bytes.LastIndexByte(data, '\n')
		if i >= 0 {
			end = i + 1
		} else if len(data) == cap(data) {
			b.Kind = pipeline.Piece
			f.inLong = true
		} else {
			end = 0 // nothing whole yet (only when a read returned 0 bytes)
		}
	}
	f.carry = append(f.carry, data[end:]...)
	b.Data = data[:end]
	f.offset += int64(end)
	if f.EndLastLine && f.eof && b.Kind != pipeline.Piece && end > 0 && data[end-1] != '\n' {
		b.Data = append(b.Data, '\n')
	}
	off := f.offset
	long := b.Kind == pipeline.Piece
	var tail []byte
	if f.OnDoneTail != nil && !long {
		tail = append(tail, data[max(0, end-TailLen):end]...)
	}
	b.Done = func() {
		if f.OnDone != nil && !long {
			f.OnDone(off)
		}
		if f.OnDoneTail != nil && !long {
			f.OnDoneTail(off, tail)
		}
		f.free.free <- b
	}
	return b
}
