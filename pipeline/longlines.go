package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/annotator-dev/annotator/annotate"
)

// longLines annotates the pieces of lines longer than a buffer, in order,
// one state per stream. It runs on the writer goroutine.
type longLines struct {
	current func() *annotate.Annotator
	lines   map[string]*longLine
	chunk   []byte // for copying a spool out
	// For record sinks: the most input one record may hold, and the lines
	// seen so far per stream, to name a line that is too long.
	maxRecord int
	lineNo    map[string]int64
}

type longLine struct {
	state annotate.LongLine
	// a is pinned for the whole line: key indices must not change under it.
	a *annotate.Annotator
	// spool holds the output of a long line whose fate is not known yet:
	// with OnlyMatching, a line is written only if it holds a code, and a
	// code may come gigabytes after the line began. A temporary file keeps
	// memory bounded.
	spool    *os.File
	spoolLen int64
	// record gathers the input of a line bound for a record sink.
	record []byte
}

func newLongLines(current func() *annotate.Annotator, maxRecord int) *longLines {
	return &longLines{current: current, lines: map[string]*longLine{}, maxRecord: maxRecord, lineNo: map[string]int64{}}
}

// count notes the lines of a batch bound for a record sink.
func (ls *longLines) count(b *Batch) {
	if b.Kind == Lines || b.Kind == LastPiece {
		ls.lineNo[b.Stream] += b.Stats.Lines
	}
}

func (ls *longLines) annotate(ctx context.Context, b *Batch, records bool, sink Sink, s *annotate.Scratch) error {
	if records {
		return ls.annotateRecord(b, s)
	}
	l := ls.lines[b.Stream]
	if l == nil {
		l = &longLine{a: ls.current()}
		ls.lines[b.Stream] = l
	}
	last := b.Kind == LastPiece
	b.resetStats(l.a)
	b.Out = l.a.AppendPiece(b.Out[:0], b.Data, b.Meta, last, &l.state, s, &b.Stats)
	b.Outs = b.Outs[:0]
	if last {
		delete(ls.lines, b.Stream)
	}
	if l.a.Options().OnlyMatching {
		hasCode := l.state.HasKeys() || (last && b.Stats.Annotated > 0)
		switch {
		case !hasCode && !last:
			if err := l.toSpool(b.Out); err != nil {
				return err
			}
			b.Out = b.Out[:0]
		case !hasCode && last:
			b.Out = b.Out[:0]
			l.closeSpool()
		case l.spoolLen > 0:
			// The first code: what was held back goes out first.
			if err := ls.flushSpool(ctx, l, b, sink); err != nil {
				return err
			}
		}
		if last {
			l.closeSpool()
		}
	}
	return nil
}

// annotateRecord gathers the pieces of a line bound for a record sink and
// annotates the whole line at its last piece, exactly as a line that fitted
// a buffer: a record is a unit, and its codes header needs every code.
// The pieces before the last give the sink nothing to write.
func (ls *longLines) annotateRecord(b *Batch, s *annotate.Scratch) error {
	l := ls.lines[b.Stream]
	if l == nil {
		l = &longLine{a: ls.current()}
		ls.lines[b.Stream] = l
	}
	b.resetStats(l.a)
	b.Out = b.Out[:0]
	b.Outs = b.Outs[:0]
	if len(l.record)+len(b.Data) > ls.maxRecord {
		delete(ls.lines, b.Stream)
		name := b.Stream
		if name == "" {
			name = "standard input"
		}
		return fmt.Errorf("line %d of %s is longer than %d bytes, the most one record may hold",
			ls.lineNo[b.Stream]+1, name, ls.maxRecord)
	}
	l.record = append(l.record, b.Data...)
	if b.Kind != LastPiece {
		return nil
	}
	delete(ls.lines, b.Stream)
	b.Out = l.a.AppendRecord(b.Out, trimTerm(l.record), b.Meta, s, &b.Stats)
	b.Outs, b.codes = appendOutput(b.Outs, b.codes, l.a, b.Out, nil, s)
	return nil
}

func (l *longLine) toSpool(out []byte) error {
	if len(out) == 0 {
		return nil
	}
	if l.spool == nil {
		f, err := os.CreateTemp("", "annotator-line-*")
		if err != nil {
			return fmt.Errorf("spool a long line: %w", err)
		}
		// Unlinked at once: the file lives only as long as it is open.
		os.Remove(f.Name())
		l.spool = f
	}
	if _, err := l.spool.Write(out); err != nil {
		return fmt.Errorf("spool a long line: %w", err)
	}
	l.spoolLen += int64(len(out))
	return nil
}

// flushSpool sends the spooled output to the sink ahead of b, in chunks,
// as batches of b's stream that acknowledge nothing.
func (ls *longLines) flushSpool(ctx context.Context, l *longLine, b *Batch, sink Sink) error {
	if _, err := l.spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read back a long line: %w", err)
	}
	if ls.chunk == nil {
		ls.chunk = make([]byte, 1<<20)
	}
	for {
		n, err := l.spool.Read(ls.chunk)
		if n > 0 {
			if werr := sink.Write(ctx, &Batch{Kind: Piece, Stream: b.Stream, Meta: b.Meta, Out: ls.chunk[:n]}); werr != nil {
				return fmt.Errorf("write: %w", werr)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read back a long line: %w", err)
		}
	}
	l.closeSpool()
	return nil
}

func (l *longLine) closeSpool() {
	if l.spool != nil {
		l.spool.Close()
		l.spool = nil
	}
	l.spoolLen = 0
}

func (ls *longLines) close() {
	for _, l := range ls.lines {
		l.closeSpool()
	}
}
