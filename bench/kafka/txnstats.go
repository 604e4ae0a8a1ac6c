package main

import (
	"fmt"
	"sync"
	"time"
)

// txnStats follows the exactly-once stage's transactions (its Txn hook):
// how long each stayed open to new records and how long ending it took
// after that (waiting for the batches handed out, flushing the producer,
// committing the offsets and the transaction), during which the stage
// hands out nothing.
type txnStats struct {
	mu        sync.Mutex
	opened    time.Time
	committed int
	aborted   int
	fenced    int
	open      time.Duration // summed over the transactions
	ending    time.Duration
	maxEnding time.Duration
}

func (s *txnStats) TransactionOpened(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened = at
}

func (s *txnStats) TransactionEnded(committed bool, age time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if committed {
		s.committed++
	} else {
		s.aborted++
	}
	if s.opened.IsZero() {
		return
	}
	ending := max(time.Since(s.opened)-age, 0)
	s.open += age
	s.ending += ending
	s.maxEnding = max(s.maxEnding, ending)
	s.opened = time.Time{}
}

func (s *txnStats) Fenced() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fenced++
}

func (s *txnStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.committed + s.aborted
	if n == 0 {
		return "no transaction ended"
	}
	return fmt.Sprintf("%d transactions committed, %d aborted, %d fenced; open %s on average, then %s to end (at most %s)",
		s.committed, s.aborted, s.fenced, (s.open / time.Duration(n)).Round(time.Millisecond),
		(s.ending / time.Duration(n)).Round(time.Millisecond), s.maxEnding.Round(time.Millisecond))
}
