// Package kafka is the source that consumes Kafka topics as a member of a
// consumer group, delivering at least once.
//
// Offsets are committed only for records the sink has durably taken: a
// batch's Done (which the pipeline calls in order, after the sink's Write
// returned) moves a partition's acknowledged offset forward, and a
// committer sends the acknowledged offsets every CommitInterval. Because
// batches are delivered in order, the acknowledged offset of a partition
// only moves over records that were all delivered: offset N+1 is never
// committed while N is outstanding.
//
// The group is driven with kafka-go's ConsumerGroup and one fetch loop per
// assigned partition, rather than its Reader, because of two known Reader
// problems on rebalance: records fetched before a rebalance stay queued
// and are handed out afterwards (kafka-go #1398), and a commit made after
// a rebalance for a record of the previous generation can move the group's
// offset back (#1308). Here each generation has its own fetch loops and
// partition states: records of a revoked partition that were not yet
// handed out are dropped, and commits always carry the generation that
// fetched the records, which the broker refuses once the group has moved
// on. When a generation ends (a rebalance, or Close) each partition stops
// fetching and waits up to DrainTimeout for the records it handed out to
// be acknowledged, then the acknowledged offsets are committed, and only
// then does the member rejoin and give its partitions up.
//
// Lag is reported per partition, when Config.Lag is set, every
// CommitInterval: the partition's high watermark, which every fetch
// response carries, minus the next offset the sink is to take. Records
// fetched but not yet delivered count as lag, as do records deleted by
// retention only once they are no longer in the log.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/metrics"
	"github.com/annotator-dev/annotator/pipeline"
)

// Config says what to consume and how.
type Config struct {
	Brokers []string
	Topics  []string
	Group   string
	TLS     *tls.Config
	SASL    sasl.Mechanism
	// Start is where a partition without a committed offset begins:
	// "first" (the default) or "last".
	Start string
	// SessionTimeout: a member silent this long is dropped from the group
	// and its partitions move. 0 means 30 s.
	SessionTimeout time.Duration
	// HeartbeatInterval: 0 means a tenth of SessionTimeout.
	HeartbeatInterval time.Duration
	// RebalanceTimeout: how long the group waits for members to rejoin.
	// 0 means 30 s.
	RebalanceTimeout time.Duration
	// CommitInterval: how often acknowledged offsets are committed.
	// 0 means 1 s; CommitEachBatch commits as soon as a batch has been
	// delivered.
	CommitInterval time.Duration
	// DrainTimeout bounds how long a partition being given up waits for
	// its records in flight. 0 means 10 s; it must stay well under the
	// rebalance timeout.
	DrainTimeout time.Duration
	// BatchRecords is the most records a batch gathers; 0 means 8192.
	BatchRecords int
	// Linger is how long a batch waits for more records after its first;
	// 0 means 2 ms.
	Linger time.Duration
	// FetchBytes is the most bytes one fetch returns; 0 means 1 MiB.
	FetchBytes int
	// InFlightBytes bounds the bytes of the records fetched and not yet
	// delivered (handed out in batches, or waiting to be), which is what
	// the stage's memory grows with while it catches up on a backlog
	// (see budget). A batch gathers at most a quarter of it. 0 means
	// DefaultInFlightBytes.
	InFlightBytes int
	// StartTimeout bounds how long New keeps trying to reach the brokers.
	// 0 means 30 s.
	StartTimeout time.Duration
	Log          *slog.Logger
	// Lag, when set, is told each assigned partition's lag every
	// CommitInterval (at most every second), and 0 once this member gives
	// the partition up.
	Lag metrics.LagHook
	// Membership, when set, is told of each generation and each commit.
	Membership metrics.GroupHook
}

// DefaultInFlightBytes is Config.InFlightBytes unless set.
const DefaultInFlightBytes = 16 << 20

// CommitEachBatch as Config.CommitInterval commits the offsets of every
// batch as soon as the sink has taken it. Commits still go one at a time:
// batches delivered while a commit is on its way go in the next one.
const CommitEachBatch time.Duration = -1

// lagInterval is how often lag is reported when commits follow batches.
const lagInterval = time.Second

// commitTimeout bounds one offset commit, coordinator look-up included.
const commitTimeout = 10 * time.Second

// partitionWatch is how often the group's members look for partitions
// added to their topics.
const partitionWatch = 5 * time.Second

// A topic consumed is called deleted once topicAsks answers in a row,
// topicAskGap apart, say the brokers do not know it: one answer may come
// from a broker that has not caught up with the cluster yet.
const (
	topicAsks   = 3
	topicAskGap = 500 * time.Millisecond
)

// quietFetch is what a fetch asks for after one that found nothing; each
// fetch that finds records asks for twice as much as the one before, up to
// Config.FetchBytes.
const quietFetch = 64 << 10

// checkGap is the least time between two topic checks: every fetch of a
// partition of a deleted topic, and every group join, asks for one.
const checkGap = time.Second

// emptyGenerationHold is the least time a generation that left a topic
// consumed without partitions is kept before the member rejoins. A
// deleted topic gives such generations, and kafka-go's partition watcher
// ends each one at once (it cannot read the topic's partitions), so
// without this hold the member rejoins the group in a tight loop until
// the topic check stops the source.
const emptyGenerationHold = time.Second

// Source consumes records as pipeline.Records batches.
type Source struct {
	cfg       Config
	transport *kafkago.Transport
	client    *kafkago.Client
	group     *kafkago.ConsumerGroup
	chunks    chan *chunk
	pending   *chunk // the rest of a chunk cut to fit a batch
	// free holds delivered batches for Next to fill again: their
	// Records, Out and Outs keep their memory, which, grown anew for
	// every batch, took a fifth of the stage's CPU.
	free      chan *pipeline.Batch
	inFlight  *budget       // bytes of the records fetched and not yet delivered
	stop      chan struct{} // closed by Close: drains stop waiting
	runCancel context.CancelFunc
	runDone   chan struct{}
	// failed is closed, with err set, when the source cannot go on (a
	// topic it consumes was deleted); Next then returns err.
	failed     chan struct{}
	failOnce   sync.Once
	err        error
	checking   atomic.Bool    // a topic check is under way
	lastCheck  atomic.Int64   // when the last topic check started (Unix ns)
	checks     sync.WaitGroup // the topic check, waited for by Close
	closeOnce  sync.Once
	log        *slog.Logger
	fetchWarn  kafkaconn.Every
	groupWarn  kafkaconn.Every
	commitWarn kafkaconn.Every
	// Committed counts successful offset commits (for tests and metrics).
	Committed atomic.Int64
}

// chunk is the records of one fetch of one partition.
type chunk struct {
	part *partition
	recs []pipeline.Record
	end  int64 // offset just past the last record
	cost int64 // bytes taken from the in-flight budget for it
}

// partition is one partition's state within one generation.
type partition struct {
	topic string
	id    int
	mu    sync.Mutex
	cond  *sync.Cond
	// revoked: the generation is ending; records not yet handed out are
	// dropped.
	revoked bool
	handed  int64 // offset just past the last record handed to the pipeline
	acked   int64 // offset just past the last record the sink took
	sent    int64 // the last offset sent in a commit
	// kick, when commits follow batches, wakes the generation's
	// committer (shared by its partitions; nil otherwise).
	kick chan struct{}
	// For the lag, from the latest fetch response (-1 until the first):
	// the offset past the partition's last record, the first offset still
	// in the log, and the offset this generation started delivering at.
	hwm      int64
	logStart int64
	start    int64
	// lastFetch is how many records the fetch loop's last fetch held
	// (the fetch loop's own).
	lastFetch int
}

func (p *partition) ack(off int64) {
	p.mu.Lock()
	moved := off > p.acked
	if moved {
		p.acked = off
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	if moved && p.kick != nil {
		select {
		case p.kick <- struct{}{}:
		default: // a commit is already due; it will take this offset too
		}
	}
}

// New checks that the brokers answer and the topics exist, and joins the
// group in the background.
func New(ctx context.Context, cfg Config) (*Source, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("kafka input: no brokers (--kafka-brokers)")
	case len(cfg.Topics) == 0:
		return nil, errors.New("kafka input: no topic (--kafka-topic)")
	case cfg.Group == "":
		return nil, errors.New("kafka input: no consumer group (--kafka-group)")
	}
	start := kafkago.FirstOffset
	switch cfg.Start {
	case "", "first":
	case "last":
		start = kafkago.LastOffset
	default:
		return nil, fmt.Errorf("kafka input: start %q: want first or last", cfg.Start)
	}
	setDefault(&cfg.SessionTimeout, 30*time.Second)
	setDefault(&cfg.HeartbeatInterval, cfg.SessionTimeout/10)
	setDefault(&cfg.RebalanceTimeout, 30*time.Second)
	if cfg.CommitInterval == 0 {
		cfg.CommitInterval = time.Second
	}
	setDefault(&cfg.DrainTimeout, 10*time.Second)
	setDefault(&cfg.Linger, 2*time.Millisecond)
	setDefault(&cfg.StartTimeout, 30*time.Second)
	if cfg.BatchRecords <= 0 {
		cfg.BatchRecords = 8192
	}
	if cfg.FetchBytes <= 0 {
		cfg.FetchBytes = 1 << 20
	}
	if cfg.InFlightBytes <= 0 {
		cfg.InFlightBytes = DefaultInFlightBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	tr := &kafkago.Transport{
		TLS: cfg.TLS, SASL: cfg.SASL, DialTimeout: 5 * time.Second,
		// kafka-go's transport learns that a partition's leader moved
		// only from its periodic metadata refresh (at a random moment
		// within the TTL), not from the errors of a dead leader: the TTL
		// bounds how long requests keep going to a dead broker.
		MetadataTTL: kafkaconn.MetadataTTL, ClientID: "annotator",
	}
	if err := kafkaconn.CheckTopics(ctx, tr, cfg.Brokers, cfg.Topics, cfg.StartTimeout, cfg.Log); err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("kafka input: %w", err)
	}
	log := cfg.Log
	group, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:      cfg.Group,
		Brokers: cfg.Brokers,
		Dialer: &kafkago.Dialer{
			ClientID: "annotator", Timeout: 10 * time.Second, DualStack: true,
			TLS: cfg.TLS, SASLMechanism: cfg.SASL,
		},
		Topics: cfg.Topics,
		// Partitions added to a topic start a rebalance that hands them
		// out (kafka-go leaves this off by default); a deleted topic
		// starts one too.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: partitionWatch,
		HeartbeatInterval:      cfg.HeartbeatInterval,
		SessionTimeout:         cfg.SessionTimeout,
		RebalanceTimeout:       cfg.RebalanceTimeout,
		JoinGroupBackoff:       time.Second,
		StartOffset:            start,
		Timeout:                10 * time.Second,
		// kafka-go's own messages are detail; what matters is reported
		// from Next and the fetch loops.
		Logger:      kafkago.LoggerFunc(func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...)) }),
		ErrorLogger: kafkago.LoggerFunc(func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...)) }),
	})
	if err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("kafka input: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Source{
		cfg: cfg, transport: tr, group: group,
		client:    &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: tr},
		chunks:    make(chan *chunk, 4),
		free:      make(chan *pipeline.Batch, 16),
		inFlight:  newBudget(int64(cfg.InFlightBytes)),
		stop:      make(chan struct{}),
		failed:    make(chan struct{}),
		runCancel: cancel, runDone: make(chan struct{}),
		log:        log,
		fetchWarn:  kafkaconn.Every{Interval: 10 * time.Second},
		groupWarn:  kafkaconn.Every{Interval: 10 * time.Second},
		commitWarn: kafkaconn.Every{Interval: 10 * time.Second},
	}
	go s.run(runCtx)
	return s, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// run takes each generation the group hands out and starts its work.
func (s *Source) run(ctx context.Context) {
	defer close(s.runDone)
	var leavers sync.WaitGroup
	defer leavers.Wait()
	member := "" // this member's ID in the latest generation
	for {
		gen, err := s.group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafkago.ErrGroupClosed) {
				return
			}
			s.checkTopics() // the group cannot be joined without its topics
			if ok, n := s.groupWarn.Allow(); ok {
				s.log.Warn("kafka input: joining the consumer group failed, retrying", "group", s.cfg.Group,
					"brokers", strings.Join(s.cfg.Brokers, ","), "err", err, "suppressed", n)
			}
			if member != "" && !errors.Is(err, kafkago.RebalanceInProgress) {
				// kafka-go has given that member ID up and will join
				// with a new one.
				old := member
				leavers.Go(func() { s.leave(ctx, old) })
				member = ""
			}
			continue
		}
		member = gen.MemberID
		s.startGeneration(gen)
	}
}

// leave removes from the group a member ID this instance gave up. After
// any error but a rebalance under way, kafka-go leaves the group and
// joins again under a new member ID; when the error was the
// coordinator's broker dying, that leave went nowhere, and the broker
// taking the group over loads it with the old member, so the rebalance
// the new one starts waits for the old one's session to time out (the
// default 30 s: measured on the 3-node cluster, output stalled 30-50 s
// after the coordinator was SIGKILLed). The group is looked at every
// 500 ms for one session timeout (after that the coordinator drops the
// member itself) and the member asked to leave whenever it is there:
// a new coordinator may load the group after the first look, and a
// coordinator failing again reloads it with the member once more.
func (s *Source) leave(ctx context.Context, member string) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SessionTimeout)
	defer cancel()
	for {
		if s.memberPresent(ctx, member) {
			resp, err := s.client.LeaveGroup(ctx, &kafkago.LeaveGroupRequest{
				GroupID: s.cfg.Group, Members: []kafkago.LeaveGroupRequestMember{{ID: member}},
			})
			if err == nil && resp.Error == nil {
				s.log.Info("kafka input: removed the member ID given up from the group, so that the rebalance need not wait for it",
					"group", s.cfg.Group, "member", member)
			}
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// memberPresent reports whether the group's coordinator lists member.
func (s *Source) memberPresent(ctx context.Context, member string) bool {
	resp, err := s.client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{s.cfg.Group}})
	if err != nil {
		return false
	}
	for _, g := range resp.Groups {
		if g.Error != nil {
			continue
		}
		for _, m := range g.Members {
			if m.MemberID == member {
				return true
			}
		}
	}
	return false
}

func (s *Source) startGeneration(gen *kafkago.Generation) {
	var parts []*partition
	var assigned []string
	var fetchers sync.WaitGroup
	var kick chan struct{}
	if s.cfg.CommitInterval < 0 {
		kick = make(chan struct{}, 1)
	}
	for topic, as := range gen.Assignments {
		for _, a := range as {
			p := &partition{topic: topic, id: a.ID, handed: -1, acked: -1, sent: -1, hwm: -1, logStart: -1, start: -1, kick: kick}
			p.cond = sync.NewCond(&p.mu)
			parts = append(parts, p)
			assigned = append(assigned, topic+"/"+strconv.Itoa(a.ID))
			fetchers.Add(1)
			offset := a.Offset
			gen.Start(func(ctx context.Context) {
				defer fetchers.Done()
				s.consume(ctx, p, offset)
			})
		}
	}
	s.log.Info("kafka input: partitions assigned", "group", s.cfg.Group, "generation", gen.ID, "partitions", strings.Join(assigned, ","))
	for _, t := range s.cfg.Topics {
		if len(gen.Assignments[t]) == 0 {
			// Normal with more members than partitions, but also what a
			// deleted topic looks like: the group just drops it.
			s.checkTopics()
			started := time.Now()
			gen.Start(func(ctx context.Context) {
				<-ctx.Done()
				s.hold(time.Until(started.Add(emptyGenerationHold)))
			})
			break
		}
	}
	if s.cfg.Membership != nil {
		s.cfg.Membership.Assigned(len(parts))
	}
	gen.Start(func(ctx context.Context) { s.commitLoop(ctx, gen, parts, &fetchers, kick) })
}

// consume fetches one partition until the generation ends, then drains.
func (s *Source) consume(ctx context.Context, p *partition, offset int64) {
	defer s.drain(p)
	backoff := 100 * time.Millisecond
	want := int64(s.cfg.FetchBytes) // how much the next fetch asks for
	for ctx.Err() == nil {
		// Room for the fetch is taken before it is sent, so a partition
		// waiting for room holds no records.
		room, err := s.inFlight.take(ctx, want)
		if err != nil {
			return // the generation ended while waiting for room
		}
		resp, err := s.client.Fetch(ctx, &kafkago.FetchRequest{
			Topic: p.topic, Partition: p.id, Offset: offset,
			MinBytes: 1, MaxBytes: room, MaxWait: 500 * time.Millisecond,
		})
		if err == nil && resp.Error != nil {
			err = resp.Error
		}
		if err != nil {
			s.inFlight.give(room)
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, kafkago.UnknownTopicOrPartition) {
				s.checkTopics() // deleted, or a leader not known yet
			}
			if errors.Is(err, kafkago.OffsetOutOfRange) {
				// The records were deleted (retention) before they were
				// read: nothing to do but start from what is left.
				s.log.Warn("kafka input: offset out of range, restarting from the earliest", "topic", p.topic, "partition", p.id, "offset", offset)
				offset = kafkago.FirstOffset
				continue
			}
			if ok, n := s.fetchWarn.Allow(); ok {
				s.log.Warn("kafka input: fetch failed, retrying", "topic", p.topic, "partition", p.id,
					"brokers", strings.Join(s.cfg.Brokers, ","), "err", err, "suppressed", n)
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, kafkaconn.MaxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		c, err := s.read(p, resp.Records, offset)
		if err != nil {
			s.inFlight.give(room)
			if ok, n := s.fetchWarn.Allow(); ok {
				s.log.Warn("kafka input: reading a fetch failed, retrying", "topic", p.topic, "partition", p.id, "err", err, "suppressed", n)
			}
			continue
		}
		p.fetched(offset, resp.HighWatermark, resp.LogStartOffset, c)
		if c == nil {
			// A quiet partition asks for little, so that its waiting
			// fetches keep little of the budget from busy ones.
			s.inFlight.give(room)
			want = quietFetch
			continue
		}
		// The records take what they hold in memory, which is more than
		// their bytes on the wire (and a broker returns at least one
		// whole record batch, whatever the fetch asked for).
		c.cost = s.inFlight.settle(room, c.bytes())
		want = min(2*want, int64(s.cfg.FetchBytes))
		offset = c.end
		select {
		case s.chunks <- c:
		case <-ctx.Done():
			s.inFlight.give(c.cost)
			return
		}
	}
}

// read copies a fetch's records (at offset or later) into one arena.
func (s *Source) read(p *partition, rr kafkago.RecordReader, offset int64) (*chunk, error) {
	if rr == nil {
		return nil, nil
	}
	var c *chunk
	var arena []byte
	for {
		r, err := rr.ReadRecord()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return c, nil
			}
			return nil, err
		}
		if r.Offset < offset && offset >= 0 {
			// A fetch may start at the beginning of a compressed batch.
			discard(r)
			continue
		}
		if c == nil {
			// Sized as the partition's last fetch was: growing the
			// slice record by record cost more than the records' copy.
			c = &chunk{part: p, recs: make([]pipeline.Record, 0, max(16, p.lastFetch))}
			arena = make([]byte, 0, 32<<10)
		}
		rec := pipeline.Record{Topic: p.topic, Partition: int32(p.id), Offset: r.Offset, Time: r.Time}
		if rec.Key, arena, err = readInto(arena, r.Key); err != nil {
			return nil, err
		}
		if rec.Value, arena, err = readInto(arena, r.Value); err != nil {
			return nil, err
		}
		for _, h := range r.Headers {
			start := len(arena)
			arena = append(arena, h.Value...)
			rec.Headers = append(rec.Headers, pipeline.Header{Key: h.Key, Value: arena[start:len(arena):len(arena)]})
		}
		start := len(arena)
		arena = append(arena, `"topic":`...)
		arena = annotate.AppendJSONString(arena, []byte(p.topic))
		arena = append(arena, `,"partition":`...)
		arena = strconv.AppendInt(arena, int64(p.id), 10)
		arena = append(arena, `,"offset":`...)
		arena = strconv.AppendInt(arena, r.Offset, 10)
		arena = append(arena, ',')
		rec.Meta = arena[start:len(arena):len(arena)]
		c.recs = append(c.recs, rec)
		c.end = r.Offset + 1
		p.lastFetch = len(c.recs)
	}
}

func discard(r *kafkago.Record) {
	if r.Key != nil {
		r.Key.Close()
	}
	if r.Value != nil {
		r.Value.Close()
	}
}

// readInto appends b's bytes to arena and returns them as their own slice
// (nil for an absent key or value). A full arena is replaced, not grown:
// the slices already handed out keep pointing at the old one.
func readInto(arena []byte, b protocol.Bytes) ([]byte, []byte, error) {
	if b == nil {
		return nil, arena, nil
	}
	defer b.Close()
	n := b.Len()
	if cap(arena)-len(arena) < n {
		arena = make([]byte, 0, max(n, 256<<10))
	}
	start := len(arena)
	arena = arena[:start+n]
	if _, err := io.ReadFull(b, arena[start:]); err != nil {
		return nil, arena[:start], fmt.Errorf("read record: %w", err)
	}
	return arena[start : start+n : start+n], arena, nil
}

// drain marks p revoked and waits, up to DrainTimeout or until Close, for
// the records it handed out to be acknowledged.
func (s *Source) drain(p *partition) {
	timeout := time.AfterFunc(s.cfg.DrainTimeout, func() {
		p.mu.Lock()
		p.revoked = true // already; the wake-up is what matters
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timeout.Stop()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() { // wakes the wait below when Close is called
		select {
		case <-s.stop:
			p.mu.Lock()
			p.cond.Broadcast()
			p.mu.Unlock()
		case <-stopped:
		}
	}()
	deadline := time.Now().Add(s.cfg.DrainTimeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revoked = true
	for p.acked < p.handed && time.Now().Before(deadline) && !s.closed() {
		p.cond.Wait()
	}
	if p.acked < p.handed {
		s.log.Warn("kafka input: giving up a partition with records in flight; they will be consumed again",
			"topic", p.topic, "partition", p.id, "acknowledged", p.acked, "handed", p.handed)
	}
}

// fetched notes what a fetch at offset said of the partition's extent.
func (p *partition) fetched(offset, hwm, logStart int64, c *chunk) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hwm, p.logStart = hwm, logStart
	if p.start >= 0 {
		return
	}
	switch {
	case offset >= 0:
		p.start = offset
	case c != nil:
		p.start = c.recs[0].Offset
	default:
		// Started from the log's first or last offset (no committed
		// offset) and found nothing there: nothing is owed.
		p.start = hwm
	}
}

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

// hold waits for d, or until the source has failed or is closed.
func (s *Source) hold(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.failed:
	case <-s.stop:
	}
}

// checkTopics asks the brokers, in the background, whether every topic
// consumed still exists, and fails the source if one does not. One check
// runs at a time, at most one every checkGap; Close ends it and waits for
// it.
func (s *Source) checkTopics() {
	now := time.Now().UnixNano()
	if s.closed() || now-s.lastCheck.Load() < int64(checkGap) || !s.checking.CompareAndSwap(false, true) {
		return
	}
	s.lastCheck.Store(now)
	s.checks.Add(1)
	go func() {
		defer s.checks.Done()
		defer s.checking.Store(false)
		s.checkTopicsNow()
	}()
}

func (s *Source) checkTopicsNow() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // Close ends the check
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var missing string
	for i := 0; i < topicAsks; i++ {
		if i > 0 {
			t := time.NewTimer(topicAskGap)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := kafkaconn.MissingTopic(actx, s.transport, s.cfg.Brokers, s.cfg.Topics)
		acancel()
		if err != nil || m == "" {
			// Unreachable brokers are the fetch loops' and the group's
			// to report and retry; a topic known is not deleted.
			return
		}
		missing = m
	}
	s.fail(fmt.Errorf("kafka input: topic %q %w on %s (deleted while consumed)",
		missing, kafkaconn.ErrNoTopic, strings.Join(s.cfg.Brokers, ",")))
}

// fail stops the source with err: Next returns it from now on.
func (s *Source) fail(err error) {
	s.failOnce.Do(func() {
		s.err = err
		close(s.failed)
	})
}

func (s *Source) closed() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// commitLoop commits the acknowledged offsets of one generation every
// CommitInterval (or whenever kick says a batch was delivered), and once
// more after every partition has drained.
func (s *Source) commitLoop(ctx context.Context, gen *kafkago.Generation, parts []*partition, fetchers *sync.WaitGroup, kick chan struct{}) {
	interval := s.cfg.CommitInterval
	if interval < 0 {
		interval = lagInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-kick: // nil unless commits follow batches
			failed = !s.commit(gen, parts)
		case <-t.C:
			// When commits follow batches, the tick only retries one
			// that failed (the stream may have gone quiet since).
			if kick == nil || failed {
				failed = !s.commit(gen, parts)
			}
			s.reportLag(parts, false)
		case <-ctx.Done():
			fetchers.Wait()
			s.commit(gen, parts)
			s.reportLag(parts, true)
			return
		}
	}
}

// commit sends the offsets acknowledged since the last commit; it reports
// false if they could not be committed.
func (s *Source) commit(gen *kafkago.Generation, parts []*partition) bool {
	offsets := map[string][]kafkago.OffsetCommit{}
	type sent struct {
		p   *partition
		off int64
	}
	var todo []sent
	for _, p := range parts {
		p.mu.Lock()
		acked, prev := p.acked, p.sent
		p.mu.Unlock()
		if acked > prev {
			offsets[p.topic] = append(offsets[p.topic], kafkago.OffsetCommit{Partition: p.id, Offset: acked})
			todo = append(todo, sent{p, acked})
		}
	}
	if len(todo) == 0 {
		return true
	}
	if err := s.commitOffsets(gen, offsets); err != nil {
		// The records stay uncommitted and will be consumed again by
		// whoever owns the partitions next: at least once.
		if s.cfg.Membership != nil {
			s.cfg.Membership.CommitFailed()
		}
		if ok, n := s.commitWarn.Allow(); ok {
			s.log.Warn("kafka input: commit failed; uncommitted records will be consumed again",
				"group", s.cfg.Group, "generation", gen.ID, "err", err, "suppressed", n)
		}
		return false
	}
	s.Committed.Add(1)
	for _, x := range todo {
		x.p.mu.Lock()
		if x.off > x.p.sent {
			x.p.sent = x.off
		}
		x.p.mu.Unlock()
		if s.cfg.Membership != nil {
			s.cfg.Membership.PartitionCommitted(x.p.topic, int32(x.p.id), x.off)
		}
	}
	return true
}

// commitOffsets commits offsets for gen through the client, which looks
// the group's coordinator up for every request, rather than through the
// generation's connection: when the coordinator's broker dies, that
// connection stays dead until the generation ends (kafka-go #1079), while
// the coordinator that takes over accepts the generation's commits.
func (s *Source) commitOffsets(gen *kafkago.Generation, offsets map[string][]kafkago.OffsetCommit) error {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	resp, err := s.client.OffsetCommit(ctx, &kafkago.OffsetCommitRequest{
		GroupID: s.cfg.Group, GenerationID: int(gen.ID), MemberID: gen.MemberID, Topics: offsets,
	})
	if err != nil {
		return err
	}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("%s/%d: %w", topic, p.Partition, p.Error)
			}
		}
	}
	return nil
}

// Next returns the next batch of records, waiting for at least one.
func (s *Source) Next(ctx context.Context) (*pipeline.Batch, error) {
	var b *pipeline.Batch
	select {
	case b = <-s.free:
	default:
		b = &pipeline.Batch{}
	}
	b.Kind, b.Stream = pipeline.Records, "kafka"
	var acks []chunkAck
	var cost int64 // in-flight bytes the batch gives back once delivered
	add := func(c *chunk) {
		var n int64
		acks, n = s.take(b, c, acks)
		cost += n
	}
	if s.pending != nil {
		c := s.pending
		s.pending = nil
		add(c)
	}
	for len(b.Records) == 0 {
		select {
		case c := <-s.chunks:
			add(c)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.stop:
			return nil, io.EOF
		case <-s.failed:
			return nil, s.err
		}
	}
	linger := time.NewTimer(s.cfg.Linger)
	defer linger.Stop()
	maxCost := int64(s.cfg.InFlightBytes / 4)
gather:
	for len(b.Records) < s.cfg.BatchRecords && s.pending == nil && cost < maxCost {
		select {
		case c := <-s.chunks:
			add(c)
		case <-linger.C:
			break gather
		case <-ctx.Done():
			// What was taken is handed on: its partitions count it as
			// in flight.
			break gather
		}
	}
	b.Done = func() {
		for _, a := range acks {
			a.p.ack(a.end)
		}
		s.inFlight.give(cost)
		s.recycle(b)
	}
	return b, nil
}

// maxRecycled is the largest output buffer a recycled batch keeps: a
// batch of huge records is left to the garbage collector rather than
// holding its memory for good.
const maxRecycled = 8 << 20

// recycle keeps a delivered batch for Next to fill again.
func (s *Source) recycle(b *pipeline.Batch) {
	if cap(b.Out) > maxRecycled {
		return
	}
	b.Reset()
	select {
	case s.free <- b:
	default:
	}
}

// InFlight reports the bytes of the records fetched and not yet delivered,
// now and at most so far (see Config.InFlightBytes).
func (s *Source) InFlight() (now, peak int64) {
	return s.inFlight.spent()
}

type chunkAck struct {
	p   *partition
	end int64
}

// take adds c's records to b, as many as fit, unless c's partition was
// revoked, and notes the offset to acknowledge. The rest of a chunk that
// does not fit waits in s.pending for the next batch, with the chunk's
// in-flight bytes (its records share one arena, which lives as long as
// the last of them); cost is the in-flight bytes b now holds for c.
func (s *Source) take(b *pipeline.Batch, c *chunk, acks []chunkAck) (_ []chunkAck, cost int64) {
	p := c.part
	n := min(len(c.recs), max(1, s.cfg.BatchRecords-len(b.Records)))
	end := c.end
	if n < len(c.recs) {
		end = c.recs[n-1].Offset + 1
	}
	p.mu.Lock()
	if p.revoked {
		p.mu.Unlock()
		s.inFlight.give(c.cost)
		return acks, 0 // the next owner reads these again
	}
	p.handed = end
	p.mu.Unlock()
	b.Records = append(b.Records, c.recs[:n]...)
	cost = c.cost
	if n < len(c.recs) {
		s.pending = &chunk{part: p, recs: c.recs[n:], end: c.end, cost: c.cost}
		cost = 0
	}
	for i := range acks {
		if acks[i].p == p {
			acks[i].end = end
			return acks, cost
		}
	}
	return append(acks, chunkAck{p: p, end: end}), cost
}

// Close stops fetching, commits what was acknowledged, and leaves the
// group. Records handed out but never acknowledged are not committed.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.group.Close() // ends the generation: drains, commits, leaves
		s.runCancel()
		<-s.runDone
		s.checks.Wait()
		s.transport.CloseIdleConnections()
	})
	return nil
}
