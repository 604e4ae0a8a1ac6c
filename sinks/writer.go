// Package sinks holds where annotated output goes: a byte stream (stdout,
// a file) and, in its own file, a Kafka topic.
package sinks

import (
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
	if _, err := s.w.Write(b.Out); err != nil {
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
