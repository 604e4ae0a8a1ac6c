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
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

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

// maxRecycled is the largest output buffer a recycled batch keeps: a
// batch of huge records is left to the garbage collector rather than
// holding its memory for good.
const maxRecycled = 8 << 20

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
