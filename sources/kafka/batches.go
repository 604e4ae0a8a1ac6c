package kafka

import (
	"context"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/annotator-dev/annotator/pipeline"
)

// maxRecycled is the largest output buffer a recycled batch keeps: a
// batch of huge records is left to the garbage collector rather than
// holding its memory for good.
const maxRecycled = 8 << 20

// slot is a batch and the memory Next fills it with, kept across reuses.
type slot struct {
	s *Source
	b pipeline.Batch
	// meta and headers are arenas of the records' JSON metadata and
	// headers: a full one is replaced (the records already made keep
	// the old). The last meta arena, the largest, is kept for the next
	// use; the headers' is made anew for each batch (sized as the last
	// one), as their lists reach the sink's outputs, which sinks have
	// kept past Done.
	meta        []byte
	headers     []pipeline.Header
	headersHint int
	acks        []partitionAck
	cost        int64  // in-flight bytes the batch gives back once delivered
	done        func() // deliver, made once per slot
}

// partitionAck is how far a batch goes in one partition.
type partitionAck struct {
	p     *partition
	end   int64 // offset just past the batch's last record of p
	epoch int32 // leader epoch of that record
}

// polled is one poll's records of one partition not yet put in a batch.
type polled struct {
	p     *partition
	recs  []*kgo.Record
	bytes int64 // what recs hold (see recordBytes)
}

// Next returns the next batch of records, waiting for at least one.
func (s *Source) Next(ctx context.Context) (*pipeline.Batch, error) {
	s.next.Lock()
	defer s.next.Unlock()
	sl := s.slot()
	b := &sl.b
	var lingerEnd time.Time // zero until the batch has its first record
	for {
		s.fill(sl)
		n := len(b.Records)
		if n == 0 {
			// Nothing is counted against a partition for this batch
			// yet: the group may take partitions away (records polled
			// of those are dropped by fill).
			s.cl.AllowRebalance()
		}
		if n >= s.cfg.BatchRecords || (n > 0 && s.hasPending()) {
			return s.handOut(sl), nil // as full as the limits let it be
		}
		if n > 0 && lingerEnd.IsZero() {
			lingerEnd = time.Now().Add(s.cfg.Linger)
		}
		room, freed := s.inFlight.room()
		if n > 0 && (!room || !time.Now().Before(lingerEnd)) {
			return s.handOut(sl), nil
		}
		if err := s.interrupted(ctx); err != nil {
			if n > 0 {
				// What was taken is handed on: its partitions count
				// it as in flight.
				return s.handOut(sl), nil
			}
			s.recycle(sl)
			return nil, err
		}
		if s.hasPending() || !room {
			// The batch is empty and the records out fill the
			// budget: wait until some are delivered.
			select {
			case <-freed:
			case <-ctx.Done():
			case <-s.quit.Done():
			}
			continue
		}
		s.sort(s.poll(ctx, lingerEnd, s.cfg.BatchRecords-n))
	}
}

// interrupted says why Next must stop: the source failed or was closed,
// or ctx is done.
func (s *Source) interrupted(ctx context.Context) error {
	select {
	case <-s.failed:
		return s.err
	case <-s.stop:
		return io.EOF
	default:
		return ctx.Err()
	}
}

// poll waits for up to n records, until ctx is done, until (unless zero),
// or until the source stops. The caller sorts what it returns, which
// allows rebalances again.
func (s *Source) poll(ctx context.Context, until time.Time, n int) kgo.Fetches {
	var pctx context.Context
	var cancel context.CancelFunc
	if until.IsZero() {
		pctx, cancel = context.WithCancel(ctx)
	} else {
		pctx, cancel = context.WithDeadline(ctx, until)
	}
	defer cancel()
	stop := context.AfterFunc(s.quit, cancel)
	defer stop()
	return s.cl.PollRecords(pctx, n)
}

// fill moves pending records into sl's batch while it takes them: up to
// BatchRecords, at most a quarter of the in-flight budget (a first record
// always), and only while the records out fit in the budget (see
// budget.handOut). Records of a partition given up since they were
// polled are dropped: its next owner reads them again.
func (s *Source) fill(sl *slot) {
	b := &sl.b
	maxCost := int64(s.cfg.InFlightBytes / 4)
	for s.hasPending() && len(b.Records) < s.cfg.BatchRecords {
		pp := &s.pending[s.head]
		p := pp.p
		p.mu.Lock()
		if p.revoked {
			p.mu.Unlock()
			s.inFlight.dropped(pp.bytes)
			s.popPending()
			continue
		}
		avail, idle := s.inFlight.available()
		var took int64
		n := 0
		for _, r := range pp.recs {
			if len(b.Records) >= s.cfg.BatchRecords {
				break
			}
			c := recordBytes(r)
			if took+c > avail && !(idle && took == 0) {
				break
			}
			if len(b.Records) > 0 && sl.cost+c > maxCost {
				break
			}
			sl.add(r)
			took += c
			sl.cost += c
			n++
		}
		if n > 0 {
			last := pp.recs[n-1]
			p.handed = last.Offset + 1
			sl.ack(p, last.Offset+1, last.LeaderEpoch)
		}
		p.mu.Unlock()
		s.inFlight.handOut(took)
		if n < len(pp.recs) {
			pp.recs = pp.recs[n:]
			pp.bytes -= took
			return
		}
		s.popPending()
	}
}

func (s *Source) hasPending() bool { return s.head < len(s.pending) }

// popPending drops the first pending partition's records, all handed
// out or dropped; the list keeps its memory.
func (s *Source) popPending() {
	s.pending[s.head] = polled{}
	s.head++
	if s.head == len(s.pending) {
		s.pending, s.head = s.pending[:0], 0
	}
}

// dropPending forgets the records polled and not handed out (Close).
func (s *Source) dropPending() {
	for _, pp := range s.pending[s.head:] {
		s.inFlight.dropped(pp.bytes)
	}
	clear(s.pending)
	s.pending, s.head = s.pending[:0], 0
}

// add appends r to the batch: its key, value and header values are
// franz-go's, its metadata and header list the slot's arenas.
func (sl *slot) add(r *kgo.Record) {
	rec := pipeline.Record{Key: r.Key, Value: r.Value, Topic: r.Topic, Partition: r.Partition,
		Offset: r.Offset, Time: r.Timestamp}
	if len(r.Headers) > 0 {
		if sl.headers == nil {
			sl.headers = make([]pipeline.Header, 0, max(sl.headersHint, 4*len(r.Headers)))
		}
		start := len(sl.headers)
		for _, h := range r.Headers {
			sl.headers = append(sl.headers, pipeline.Header{Key: h.Key, Value: h.Value})
		}
		rec.Headers = sl.headers[start:len(sl.headers):len(sl.headers)]
	}
	sl.meta, rec.Meta = AppendMeta(sl.meta, r.Topic, r.Partition, r.Offset)
	sl.b.Records = append(sl.b.Records, rec)
}

// ack notes that the batch goes up to end in p.
func (sl *slot) ack(p *partition, end int64, epoch int32) {
	for i := range sl.acks {
		if sl.acks[i].p == p {
			sl.acks[i].end, sl.acks[i].epoch = end, epoch
			return
		}
	}
	sl.acks = append(sl.acks, partitionAck{p: p, end: end, epoch: epoch})
}

// slot returns a delivered batch to fill again, or a new one.
func (s *Source) slot() *slot {
	select {
	case sl := <-s.free:
		return sl
	default:
	}
	sl := &slot{s: s}
	sl.done = sl.deliver
	return sl
}

// handOut returns sl's batch to the pipeline, and only then lets the
// group rebalance: while a batch is being filled its records count as
// handed out, which a partition being given up waits to see
// acknowledged, so a rebalance let through mid-fill would wait for a
// batch that cannot be handed out until the rebalance is over.
func (s *Source) handOut(sl *slot) *pipeline.Batch {
	sl.b.Kind, sl.b.Stream = pipeline.Records, "kafka"
	sl.b.Done = sl.done
	s.cl.AllowRebalance()
	return &sl.b
}

// deliver is a batch's Done: the sink took it.
func (sl *slot) deliver() {
	for _, a := range sl.acks {
		a.p.ack(a.end, a.epoch, sl.s.kick)
	}
	sl.s.inFlight.give(sl.cost)
	sl.s.recycle(sl)
}

// recycle keeps a delivered batch for Next to fill again.
func (s *Source) recycle(sl *slot) {
	if cap(sl.b.Out) > maxRecycled {
		return
	}
	sl.b.Reset()
	sl.meta = sl.meta[:0]
	sl.headersHint = len(sl.headers)
	sl.headers = nil
	clear(sl.acks)
	sl.acks = sl.acks[:0]
	sl.cost = 0
	select {
	case s.free <- sl:
	default:
	}
}

// InFlight reports the bytes of the records fetched and not yet delivered,
// now and at most so far (see Config.InFlightBytes).
func (s *Source) InFlight() (now, peak int64) {
	return s.inFlight.spent()
}
