package annotate

import (
	"bytes"

	"github.com/annotator-dev/annotator/matcher"
)

// nextKey returns the start of the first key in data, or -1, as the
// matcher's First does, for the loops that copy the lines before it
// whole. When counting, First would also stop at every number shaped like
// a code that the catalog lacks, and the line holding it would be scanned
// again; in logs where a third of the lines hold one (ids, sizes) that
// doubled the work. nextKey has the matcher step over them instead and
// notes those on the lines before the key's in st.Hits, with their line
// indices (st.Lines is that of data's first line). The key's own line is
// judged by find as before, its numbers with it.
func (a *Annotator) nextKey(data []byte, s *Scratch, st *Stats) int {
	if a.skip == nil {
		return a.m.First(data)
	}
	var p int
	p, s.numbers = a.skip.FirstKey(data, s.numbers[:0])
	if len(s.numbers) == 0 {
		return p
	}
	keyLine := len(data)
	if p >= 0 {
		keyLine = bytes.LastIndexByte(data[:p], '\n') + 1
	}
	line, at := st.Lines, 0
	for _, n := range s.numbers {
		if n.Start >= keyLine {
			break
		}
		if !a.opts.NoUnknownLines {
			line += int64(bytes.Count(data[at:n.Start], nl))
			at = n.Start
		}
		st.Hits = append(st.Hits, Hit{Line: line, Key: matcher.Unknown, Number: n.Value})
	}
	return p
}
