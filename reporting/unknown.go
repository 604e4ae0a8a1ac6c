package reporting

import "strconv"

// The numbers shaped like codes (six digits beginning with 8) that the
// catalog lacks are counted apart from the codes. Real logs hold them on
// a third of their lines (chatroom and group ids, sizes, trace
// fragments), nearly every value of the hundred thousand in a long run,
// so they are counted in flat arrays indexed by value rather than in a
// map of allocated entries: a few array stores per occurrence, nothing
// allocated, memory fixed at 3.2 MB however many there are.

const (
	unknownBase   = 800000
	unknownValues = 100000
)

// unknownStat is one value's count and where it was first and last seen;
// streams are indices into unknownNumbers.streams.
type unknownStat struct {
	count                   int64
	firstLine, lastLine     int64
	firstStream, lastStream int32
}

// unknownNumbers counts the numbers not in the catalog.
type unknownNumbers struct {
	seen, distinct int64
	stats          []unknownStat // by value - unknownBase, made at the first number
	streams        []string
	stream         int32 // index of the stream of the batch being added
}

// setStream makes later adds belong to stream; batches of one stream come
// in runs, so the last one is checked first.
func (u *unknownNumbers) setStream(name string) {
	if int(u.stream) < len(u.streams) && u.streams[u.stream] == name {
		return
	}
	for i, s := range u.streams {
		if s == name {
			u.stream = int32(i)
			return
		}
	}
	u.streams = append(u.streams, name)
	u.stream = int32(len(u.streams) - 1)
}

// add counts value v seen at line (1-based) of the current stream.
func (u *unknownNumbers) add(v int32, line int64) {
	i := int(v) - unknownBase
	if i < 0 || i >= unknownValues {
		return // not a number the matcher reports as unknown
	}
	if u.stats == nil {
		u.stats = make([]unknownStat, unknownValues)
	}
	st := &u.stats[i]
	if st.count == 0 {
		u.distinct++
		st.firstLine, st.firstStream = line, u.stream
	}
	st.count++
	st.lastLine, st.lastStream = line, u.stream
	u.seen++
}

// top returns the n most frequent values as rows, most frequent first,
// ties by value: one pass over the array, keeping the best n in order.
func (u *unknownNumbers) top(n int) []*codeStat {
	if n <= 0 || u.stats == nil {
		return nil
	}
	best := make([]int, 0, n+1) // indices into stats
	for i := range u.stats {
		c := u.stats[i].count
		if c == 0 || len(best) == n && c <= u.stats[best[n-1]].count {
			continue
		}
		// Scanning in value order, a tie never moves ahead of what is
		// already kept.
		j := len(best)
		for j > 0 && u.stats[best[j-1]].count < c {
			j--
		}
		best = append(best, 0)
		copy(best[j+1:], best[j:])
		best[j] = i
		if len(best) > n {
			best = best[:n]
		}
	}
	rows := make([]*codeStat, len(best))
	for k, i := range best {
		st := &u.stats[i]
		rows[k] = &codeStat{code: strconv.Itoa(unknownBase + i), count: st.count,
			first: Place{u.streams[st.firstStream], st.firstLine}, last: Place{u.streams[st.lastStream], st.lastLine}}
	}
	return rows
}
