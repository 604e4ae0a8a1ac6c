package metrics

import "time"

// The exactly-once Kafka stage's transactions: how many ended each way,
// how often the member was fenced, and how long the open one has been
// open (which is what a read_committed reader of the output waits).

// TransactionOpened records when the open transaction began.
func (r *Registry) TransactionOpened(at time.Time) {
	if r == nil {
		return
	}
	r.txnOpen.Store(at.UnixNano())
	r.set.GetOrCreateGauge("annotator_kafka_transaction_open_seconds", func() float64 {
		at := r.txnOpen.Load()
		if at == 0 {
			return 0
		}
		return time.Since(time.Unix(0, at)).Seconds()
	})
}

// TransactionEnded counts a transaction committed or aborted.
func (r *Registry) TransactionEnded(committed bool, age time.Duration) {
	if r == nil {
		return
	}
	r.txnOpen.Store(0)
	result := "aborted"
	if committed {
		result = "committed"
	}
	r.set.GetOrCreateCounter(`annotator_kafka_transactions_total{result="` + result + `"}`).Inc()
	r.set.GetOrCreateHistogram("annotator_kafka_transaction_duration_seconds").Update(age.Seconds())
}

// Fenced counts the member's producer fenced by a newer one with its
// transactional ID.
func (r *Registry) Fenced() {
	if r == nil {
		return
	}
	r.set.GetOrCreateCounter("annotator_kafka_fenced_total").Inc()
}
