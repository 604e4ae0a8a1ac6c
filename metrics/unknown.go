package metrics

import (
	"sync/atomic"

	vm "github.com/VictoriaMetrics/metrics"
)

// unknownCounter counts the numbers shaped like codes (six digits
// beginning with 8) that are not in the catalog, and how many distinct
// values of them were seen, exactly: one bit per possible value (12.5 KiB)
// rather than a map entry each.
type unknownCounter struct {
	seen     *vm.Counter
	bits     [100000/64 + 1]uint64 // bit v-800000; written by the writer goroutine only
	distinct atomic.Int64          // read at scrape time
}

func (u *unknownCounter) add(v int32) {
	i := uint(v) - 800000
	if i >= 100000 {
		return // not a number the matcher reports as unknown
	}
	w, bit := i/64, uint64(1)<<(i%64)
	if u.bits[w]&bit == 0 {
		u.bits[w] |= bit
		u.distinct.Add(1)
	}
}
