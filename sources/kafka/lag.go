package kafka

// lag is how many of p's records the sink has yet to take, as far as the
// latest fetch knows; ok is false before the first fetch.
func (p *partition) lag() (lag int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hwm < 0 || p.start < 0 {
		return 0, false
	}
	next := p.start
	if p.acked >= 0 {
		next = p.acked
	}
	// Records deleted before they were read are not owed any more
	// (LogStartOffset is 0 from brokers too old to send it).
	next = max(next, p.logStart)
	return max(p.hwm-next, 0), true
}

// reportLag tells the Lag hook each partition's lag; gone says the
// generation has ended and the partitions are given up, so this member
// owes nothing on them.
func (s *Source) reportLag(parts []*partition, gone bool) {
	if s.cfg.Lag == nil {
		return
	}
	for _, p := range parts {
		lag, ok := p.lag()
		if gone {
			lag, ok = 0, true
		}
		if ok {
			s.cfg.Lag.PartitionLag(p.topic, int32(p.id), lag)
		}
	}
}
