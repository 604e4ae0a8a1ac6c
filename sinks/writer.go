// Package sinks holds where annotated output goes: a byte stream (stdout,
// a file) and, in its own file, a Kafka topic.
package sinks

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/annotator-dev/annotator/pipeline"
)

// Writer writes each batch's output to an io.Writer with one Write call.
// Batches are already large, so there is no further buffering: when Write
// returns, the bytes are with the operating system, which is as durable
// as a pipe gets.
type Writer struct {
	w    io.Writer
	name string
	// unended: the output so far ends in a line without '\n', the last
	// line of a stream (a file without a final newline). Should more
	// output follow, from the next file, the line is ended first, as grep
	// does, so that two files' lines never run together; output that
	// ends there stays byte for byte the input.
	unended bool
	// withName puts "NAME:" before every line, grep -H's way; midLine
	// says, per stream, that the last output of it was a piece of a
	// line, whose rest gets no name again.
	withName bool
	midLine  map[string]bool
	scratch  []byte
}

// WithFilename makes the writer put each line's file name and ':' before
// it (grep -H); standard input is "(standard input)".
func (s *Writer) WithFilename() {
	s.withName = true
	s.midLine = map[string]bool{}
}

var newline = []byte{'\n'}

// NewWriter writes to w, naming it in errors.
func NewWriter(w io.Writer, name string) *Writer { return &Writer{w: w, name: name} }

// Write implements pipeline.Sink.
func (s *Writer) Write(_ context.Context, b *pipeline.Batch) error {
	if len(b.Out) == 0 {
		return nil
	}
	if s.unended {
		if _, err := s.w.Write(newline); err != nil {
			return fmt.Errorf("write %s: %w", s.name, err)
		}
	}
	out := b.Out
	if s.withName {
		out = s.named(b)
	}
	if _, err := s.w.Write(out); err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	// A piece of a long line is continued by the next batch.
	s.unended = b.Kind != pipeline.Piece && b.Out[len(b.Out)-1] != '\n'
	return nil
}

// Close implements pipeline.Sink.
func (s *Writer) Close() error {
	if c, ok := s.w.(interface{ Sync() error }); ok {
		_ = c.Sync() // best effort: stdout may be a pipe
	}
	return nil
}

// named is b's output with the stream's name before each line.
func (s *Writer) named(b *pipeline.Batch) []byte {
	name := b.Stream
	if name == "" {
		name = "(standard input)"
	}
	out := s.scratch[:0]
	data := b.Out
	for len(data) > 0 {
		if !s.midLine[b.Stream] {
			out = append(append(out, name...), ':')
		}
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, data...)
			break
		}
		out = append(out, data[:i+1]...)
		data = data[i+1:]
		s.midLine[b.Stream] = false
	}
	// A piece of a long line is continued by the stream's next batch.
	s.midLine[b.Stream] = b.Kind == pipeline.Piece && b.Out[len(b.Out)-1] != '\n'
	if !s.midLine[b.Stream] {
		delete(s.midLine, b.Stream)
	}
	s.scratch = out
	return out
}
