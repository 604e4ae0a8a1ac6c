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
// The group is driven with franz-go (the client the exactly-once stage is
// built on), with automatic commits off and rebalances blocked while a
// poll's records are being sorted into batches (BlockRebalanceOnPoll):
// every record handed out is counted against the partition state it was
// polled under before the group may take that partition away. When
// partitions are given up (a rebalance, a lost membership, or Close),
// franz-go first drops what it had fetched of them and not yet handed to
// this source; then, inside its revoke callback, which the member's
// rejoin waits for, the partitions stop handing out what this source
// holds of them (it is dropped: their next owner reads it again), wait up
// to DrainTimeout for the records they handed out to be acknowledged, and
// commit. Commits are made with the group's current member ID and
// generation, under a lock the revoke callback takes before it returns:
// no commit of a partition can be sent once it was given up, so a commit
// always carries the generation that fetched its records, or a later one
// in which this member still holds the partition, and a member the group
// has dropped (a zombie) has its commits refused by the broker.
//
// The records' keys, values and headers are franz-go's fetch buffers,
// handed on without a copy; only each record's JSON metadata is built, in
// an arena of its batch. Batches are reused once delivered.
//
// Lag is reported per partition, when Config.Lag is set, every
// CommitInterval: the partition's high watermark, as the latest fetch or
// offset listing gave it, minus the next offset the sink is to take.
// Records fetched but not yet delivered count as lag, as do records
// deleted by retention only once they are no longer in the log.
package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/internal/kafkagroup"
	"github.com/annotator-dev/annotator/metrics"
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
	// FetchBytes is the most bytes one fetch (of every partition led by
	// one broker) returns; 0 means 1 MiB.
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

// Source consumes records as pipeline.Records batches.
type Source struct {
	cfg  Config
	conn kafkaconn.Conn
	cl   *kgo.Client

	// next is held by Next while it runs, and by Close to drop what Next
	// left pending.
	next sync.Mutex
	// pending are the records polled and not yet put in a batch, from
	// pending[head] on (Next's).
	pending []polled
	head    int
	// free holds delivered batches for Next to fill again: their
	// Records, Out and Outs keep their memory, which, grown anew for
	// every batch, took a fifth of the stage's CPU.
	free     chan *slot
	inFlight *budget // bytes of the records polled and not yet delivered

	// parts are the partitions this member holds, by topic and id.
	mu    sync.Mutex
	parts map[topicPartition]*partition
	// commitMu makes commits go one at a time, and lets a revoke's last
	// commit of its partitions shut out any later one.
	commitMu sync.Mutex
	// kick, when commits follow batches, wakes the committer (nil
	// otherwise).
	kick chan struct{}

	stop chan struct{} // closed by Close: drains stop waiting
	// quit is cancelled by Close and by fail: it ends a poll waiting for
	// records.
	quit       context.Context
	quitCancel context.CancelFunc
	// background is the committer and the topic watch, which
	// stopBackground ends.
	background     sync.WaitGroup
	stopBackground context.CancelFunc
	// failed is closed, with err set, when the source cannot go on (a
	// topic it consumes was deleted); Next then returns err.
	failed    chan struct{}
	failOnce  sync.Once
	err       error
	checking  atomic.Bool    // a topic check is under way
	lastCheck atomic.Int64   // when the last topic check started (Unix ns)
	checks    sync.WaitGroup // the topic check, waited for by Close
	closeOnce sync.Once

	log        *slog.Logger
	fetchWarn  kafkaconn.Every
	groupWarn  kafkaconn.Every
	commitWarn kafkaconn.Every
	watchWarn  kafkaconn.Every
	// Committed counts successful offset commits (for tests and metrics).
	Committed atomic.Int64
}

type topicPartition struct {
	topic     string
	partition int32
}

// New checks that the brokers answer and the topics exist, and joins the
// group in the background.
func New(ctx context.Context, cfg Config) (*Source, error) {
	group := kafkagroup.Settings{Brokers: cfg.Brokers, Topics: cfg.Topics, Group: cfg.Group, Start: cfg.Start,
		SessionTimeout: cfg.SessionTimeout, HeartbeatInterval: cfg.HeartbeatInterval, RebalanceTimeout: cfg.RebalanceTimeout}
	if err := group.Check(); err != nil {
		return nil, fmt.Errorf("kafka input: %w", err)
	}
	cfg.Start, cfg.SessionTimeout, cfg.HeartbeatInterval, cfg.RebalanceTimeout =
		group.Start, group.SessionTimeout, group.HeartbeatInterval, group.RebalanceTimeout
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
	conn := kafkaconn.Conn{Brokers: cfg.Brokers, TLS: cfg.TLS, SASL: cfg.SASL}
	if err := kafkaconn.Check(ctx, conn, cfg.Topics, cfg.StartTimeout, cfg.Log); err != nil {
		return nil, fmt.Errorf("kafka input: %w", err)
	}
	quit, quitCancel := context.WithCancel(context.Background())
	s := &Source{
		cfg: cfg, conn: conn,
		free:     make(chan *slot, 16),
		inFlight: newBudget(int64(cfg.InFlightBytes)),
		parts:    map[topicPartition]*partition{},
		stop:     make(chan struct{}),
		quit:     quit, quitCancel: quitCancel,
		failed:     make(chan struct{}),
		log:        cfg.Log,
		fetchWarn:  kafkaconn.Every{Interval: 10 * time.Second},
		groupWarn:  kafkaconn.Every{Interval: 10 * time.Second},
		commitWarn: kafkaconn.Every{Interval: 10 * time.Second},
		watchWarn:  kafkaconn.Every{Interval: 10 * time.Second},
	}
	if cfg.CommitInterval < 0 {
		s.kick = make(chan struct{}, 1)
	}
	opts := append(conn.Opts(), group.Opts(cfg.Log)...)
	opts = append(opts,
		kgo.DisableAutoCommit(),
		// A poll's records are counted against their partitions before
		// the group may revoke any (see the package comment); Next
		// allows rebalances again after every poll.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.AdjustFetchOffsetsFn(s.starting),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		// Cooperative rebalancing moves only the partitions that change
		// hands; range is what members of earlier versions (kafka-go)
		// offer, so that a rolling upgrade shares the partitions out
		// rather than waiting for the last of them to stop.
		kgo.Balancers(kgo.CooperativeStickyBalancer(), kgo.RangeBalancer()),
	)
	opts = append(opts, s.fetchOpts()...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		quitCancel()
		return nil, fmt.Errorf("kafka input: %w", err)
	}
	s.cl = cl
	s.inFlight.buffered = cl.BufferedFetchBytes
	runCtx, cancel := context.WithCancel(context.Background())
	s.background.Go(func() { s.commitLoop(runCtx) })
	s.background.Go(func() { s.watchTopics(runCtx) })
	s.stopBackground = cancel
	return s, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// fail stops the source with err: Next returns it from now on.
func (s *Source) fail(err error) {
	s.failOnce.Do(func() {
		s.err = err
		close(s.failed)
		s.quitCancel()
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

// Close stops fetching, commits what was acknowledged, and leaves the
// group. Records handed out but never acknowledged are not committed.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.quitCancel()
		s.next.Lock() // Next, woken by quit, has returned
		s.dropPending()
		s.next.Unlock()
		s.stopBackground()
		s.background.Wait()
		// Leaving the group revokes every partition: they drain (not
		// waiting, now that the source is closed), commit, and are
		// given up.
		s.cl.Close()
		s.checks.Wait()
	})
	return nil
}
