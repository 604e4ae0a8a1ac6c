package pipeline

import (
	"slices"

	"github.com/annotator-dev/annotator/annotate"
)

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
