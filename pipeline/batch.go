package pipeline

import (
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
