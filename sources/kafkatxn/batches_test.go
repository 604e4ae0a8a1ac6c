package kafkatxn

import "testing"

// TestBatchPoolForgetsFailedBatches: a batch with a failed record is not
// filled again, but once nothing holds it the pool forgets it: a stage
// setting aside a steady trickle of refused records does not grow.
func TestBatchPoolForgetsFailedBatches(t *testing.T) {
	p := newBatchPool()
	for range 100 {
		tb := p.get()
		tb.b.Out = append(tb.b.Out, "annotated"...)
		tb.refs.Add(1)      // one output record produced
		tb.kept.Store(true) // and refused
		tb.release(p)       // its promise
		tb.release(p)       // Done
	}
	p.mu.Lock()
	live := len(p.live)
	p.mu.Unlock()
	if live != 0 {
		t.Errorf("%d batches still known after every hold was released, want 0", live)
	}
	select {
	case tb := <-p.free:
		t.Errorf("a batch with a failed record was kept for reuse (%d output bytes)", len(tb.b.Out))
	default:
	}

	// A batch whose records all went through is filled again, empty.
	tb := p.get()
	tb.b.Out = append(tb.b.Out, "annotated"...)
	tb.release(p)
	if again := p.get(); again != tb || len(again.b.Out) != 0 {
		t.Errorf("a spent batch was not filled again empty: same %v, %d output bytes", again == tb, len(again.b.Out))
	}
}
