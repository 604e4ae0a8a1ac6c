// Package kafkatxn is the Kafka→Kafka stage that delivers exactly once:
// each member produces its output records and commits its input offsets
// in one Kafka transaction (consume-transform-produce), so that a reader
// of the output topic with isolation.level=read_committed sees the output
// of every input record exactly once, whatever is killed.
//
// It is built on franz-go's GroupTransactSession, which implements KIP-447:
// the offsets go into the transaction with the consumer group's member ID
// and generation, so a member that lost its partitions in a rebalance (a
// zombie) has its commit refused and its transaction aborted, and a member
// that was revoked anything mid-transaction aborts rather than commits.
//
// A Stage is a pipeline source and, through Sink, the pipeline sink that
// shares its transactional producer. The source opens a transaction, hands
// out batches, and, once the transaction is CommitInterval old, stops
// handing out, waits for every batch it handed out to be written to the
// transaction by the sink (Done), and ends the transaction, committing
// the offsets of exactly the records handed out. An aborted transaction
// (a rebalance, a produce failure) rewinds the consumer to the committed
// offsets, and the records are read and annotated again: the aborted
// output is invisible to read_committed readers.
//
// A batch is filled again only once the sink wrote it and the broker
// acknowledged each of its output records (see txnBatch): the producer
// holds the output past Write, which a pipeline sink otherwise must not.
package kafkatxn

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/annotator-dev/annotator/internal/kafkaconn"
	"github.com/annotator-dev/annotator/internal/kafkagroup"
	"github.com/annotator-dev/annotator/internal/kafkaout"
	"github.com/annotator-dev/annotator/metrics"
)

// Config says what to consume, where to produce, and how.
type Config struct {
	Brokers []string
	Topics  []string
	Group   string
	// OutTopic takes the annotated records; DeadLetterTopic, when set,
	// the records OutTopic refuses for themselves.
	OutTopic        string
	DeadLetterTopic string
	// TransactionalID identifies this member's producer: a new producer
	// with the same ID fences the old one. Empty means one made up for
	// this process (see DefaultTransactionalID).
	TransactionalID string
	// Start is where a partition without a committed offset begins:
	// "first" (the default) or "last".
	Start          string
	SessionTimeout time.Duration
	// CommitInterval is how long a transaction may stay open; 0 ends one
	// after every batch. It is the latency a read_committed reader sees
	// of a steady stream; when the input pauses for dryEnd (100 ms) the
	// transaction ends sooner, so a member ends at most ten transactions
	// a second (Kafka Streams' exactly_once_v2 commits every 100 ms by
	// default).
	CommitInterval time.Duration
	// TransactionTimeout is how long the coordinator keeps a transaction
	// of a member that went silent before aborting it; read_committed
	// readers of the partitions it wrote wait that long. 0 means 10 s,
	// or more when CommitInterval asks for it.
	TransactionTimeout time.Duration
	// StartTimeout bounds how long New keeps trying to reach the brokers.
	StartTimeout time.Duration
	// Compression: "none", "gzip", "snappy", "lz4" or "zstd".
	Compression string
	// ProduceTime stamps an output with the time it is produced rather
	// than the consumed record's timestamp.
	ProduceTime bool
	// BufferedBytes bounds the output held by the producer and not yet
	// acknowledged; 0 means 64 MiB.
	BufferedBytes int
	// TLS and SASL connect to the brokers.
	TLS  *tls.Config
	SASL sasl.Mechanism
	Log  *slog.Logger
	// Hooks, each optional.
	Txn        metrics.TxnHook
	Membership metrics.GroupHook
	Lag        metrics.LagHook
	Produce    metrics.ProduceHook
}

// maxTransactionTimeout is the brokers' default transaction.max.timeout.ms:
// a producer asking for more is refused outright.
const maxTransactionTimeout = 15 * time.Minute

// maxCommitInterval is the longest a transaction may stay open: a minute
// short of the longest timeout brokers grant by default.
const maxCommitInterval = maxTransactionTimeout - time.Minute

// DefaultTransactionalID is the transactional ID of a member not given
// one: unique to this process, so that members on one host do not fence
// each other. A member killed mid-transaction then leaves that transaction
// to the coordinator's timeout (TransactionTimeout), as Kafka Streams'
// exactly_once_v2 does; a stable ID per instance (a pod's name) aborts it
// at once when the instance comes back.
func DefaultTransactionalID(group string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on Linux
	return fmt.Sprintf("annotator-%s-%s-%d-%s", group, host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Stage is the source of the exactly-once stage; Sink returns its sink.
type Stage struct {
	cfg  Config
	sess *kgo.GroupTransactSession
	log  *slog.Logger
	out  *producer

	// The transaction this source has open, owned by whoever holds
	// nextMu (Next, or Close).
	inTxn    bool
	txnStart time.Time
	handed   int // records handed out in the open transaction
	// next is, per partition, the offset just past the last record
	// handed out in the open transaction.
	next map[partitionKey]int64
	// hwm is each partition's high watermark from its latest fetch.
	hwm map[partitionKey]int64
	// aborts counts transactions aborted in a row, for the backoff.
	aborts int

	// batches handed out and not yet written (Done not yet called).
	mu          sync.Mutex
	outstanding int
	idle        chan struct{} // closed when outstanding reaches 0; nil when nobody waits

	// batches are filled again once spent (see txnBatch).
	batches *batchPool

	// nextMu is held by Next, and by Close once quit has ended a Next
	// under way: the transaction is the goroutine's that holds it.
	nextMu sync.Mutex
	quit   context.Context
	stop   context.CancelFunc
	// failed is an error a poll brought with records: the records are
	// handed out first, and Next returns it from then on.
	failed error

	assign    assignment
	closeOnce sync.Once
	txnHook   metrics.TxnHook
}

type partitionKey struct {
	topic     string
	partition int32
}

// New checks that the brokers answer and the topics exist, and joins the
// group with a transactional producer.
func New(ctx context.Context, cfg Config) (*Stage, error) {
	group := kafkagroup.Settings{Brokers: cfg.Brokers, Topics: cfg.Topics, Group: cfg.Group, Start: cfg.Start,
		SessionTimeout: cfg.SessionTimeout}
	if err := group.Check(); err != nil {
		return nil, fmt.Errorf("kafka exactly-once: %w", err)
	}
	cfg.Start, cfg.SessionTimeout = group.Start, group.SessionTimeout
	switch {
	case cfg.OutTopic == "":
		return nil, errors.New("kafka exactly-once: no output topic (--kafka-out-topic)")
	case cfg.DeadLetterTopic != "" && cfg.DeadLetterTopic == cfg.OutTopic:
		return nil, fmt.Errorf("kafka exactly-once: the dead-letter topic %s is the output topic", cfg.OutTopic)
	}
	for _, t := range cfg.Topics {
		if t == cfg.OutTopic || t == cfg.DeadLetterTopic {
			return nil, fmt.Errorf("kafka exactly-once: topic %s is both read and written", t)
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.CommitInterval < 0 {
		cfg.CommitInterval = 0
	}
	if cfg.CommitInterval > maxCommitInterval {
		return nil, fmt.Errorf("kafka exactly-once: commit interval %s: a transaction may stay open at most %s, so that it ends before the brokers' transaction.max.timeout.ms (15 minutes unless set) aborts it",
			cfg.CommitInterval, maxCommitInterval)
	}
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = min(max(10*time.Second, 2*cfg.CommitInterval+5*time.Second), maxTransactionTimeout)
	}
	if cfg.BufferedBytes <= 0 {
		cfg.BufferedBytes = 64 << 20
	}
	if cfg.TransactionalID == "" {
		cfg.TransactionalID = DefaultTransactionalID(cfg.Group)
	}
	if cfg.Txn == nil {
		cfg.Txn = noHooks{}
	}
	if cfg.Membership == nil {
		cfg.Membership = noHooks{}
	}
	if cfg.Lag == nil {
		cfg.Lag = noHooks{}
	}
	if cfg.Produce == nil {
		cfg.Produce = noHooks{}
	}
	comp, err := kafkaout.Compression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	// The start-up checks are the at-least-once stage's: the same errors
	// for unreachable brokers, refused credentials and missing topics.
	conn := kafkaconn.Conn{Brokers: cfg.Brokers, TLS: cfg.TLS, SASL: cfg.SASL}
	topics := append(append([]string(nil), cfg.Topics...), cfg.OutTopic)
	if cfg.DeadLetterTopic != "" {
		topics = append(topics, cfg.DeadLetterTopic)
	}
	if err := kafkaconn.Check(ctx, conn, topics, cfg.StartTimeout, cfg.Log); err != nil {
		return nil, fmt.Errorf("kafka exactly-once: %w", err)
	}
	limits, err := recordLimits(ctx, conn, cfg)
	if err != nil {
		return nil, err
	}
	limit := int(limits[cfg.OutTopic])

	s := &Stage{cfg: cfg, log: cfg.Log, next: map[partitionKey]int64{}, hwm: map[partitionKey]int64{}, txnHook: cfg.Txn,
		batches: newBatchPool()}
	s.quit, s.stop = context.WithCancel(context.Background())
	s.assign.hook = cfg.Membership
	s.assign.log = cfg.Log
	s.assign.group = cfg.Group
	// The rebalance timeout is the longest a member may take to end its
	// transaction and rejoin.
	group.RebalanceTimeout = max(kafkagroup.DefaultRebalanceTimeout, cfg.TransactionTimeout)
	opts := append(append(conn.Opts(), group.Opts(cfg.Log)...),
		kgo.RequireStableFetchOffsets(),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.TransactionTimeout(cfg.TransactionTimeout),
		kgo.ProducerBatchMaxBytesFn(func(topic string) int32 {
			if l, ok := limits[topic]; ok {
				return l
			}
			return int32(limit) // the client's own check of an empty topic
		}),
		kgo.MaxBufferedBytes(cfg.BufferedBytes),
		// Fetched and not yet handed out: a quarter of the bound, as the
		// at-least-once stage's batches (a larger record still comes).
		kgo.FetchMaxBytes(int32(max(cfg.BufferedBytes/4, 1<<20))),
		kgo.MaxBufferedRecords(1<<20),
		kgo.ProducerBatchCompression(comp),
		// Records with a key go where Java's partitioner puts them
		// (murmur2), the others to one partition per batch.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerLinger(0),
		kgo.OnPartitionsAssigned(s.assign.assigned),
		kgo.OnPartitionsRevoked(s.assign.revoked),
		kgo.OnPartitionsLost(s.assign.revoked),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka exactly-once: %w", err)
	}
	s.sess = sess
	s.out = &producer{stage: s, limit: limit}
	cfg.Log.Info("kafka exactly-once: transactional producer", "transactional_id", cfg.TransactionalID,
		"group", cfg.Group, "commit_interval", cfg.CommitInterval, "transaction_timeout", cfg.TransactionTimeout)
	return s, nil
}

// TransactionalID is the ID this member's producer uses.
func (s *Stage) TransactionalID() string { return s.cfg.TransactionalID }

// Sink is the pipeline sink producing into this stage's transactions.
func (s *Stage) Sink() *Sink { return &Sink{p: s.out} }

// recordLimits reads, for the output and dead-letter topics, the most
// bytes of records one record batch may hold. A record batch over the
// topic's limit would be refused whole, good records with the bad:
// batches stay under it, and a record over it alone is refused by the
// client, for itself.
func recordLimits(ctx context.Context, conn kafkaconn.Conn, cfg Config) (map[string]int32, error) {
	cl, err := kgo.NewClient(conn.Opts()...)
	if err != nil {
		return nil, fmt.Errorf("kafka exactly-once: %w", err)
	}
	defer cl.Close()
	limits := map[string]int32{cfg.OutTopic: int32(kafkaout.RecordLimit(ctx, cl, cfg.OutTopic, cfg.Log))}
	if cfg.DeadLetterTopic != "" {
		limits[cfg.DeadLetterTopic] = int32(kafkaout.RecordLimit(ctx, cl, cfg.DeadLetterTopic, cfg.Log))
	}
	return limits, nil
}

type noHooks struct{}

func (noHooks) TransactionOpened(time.Time)             {}
func (noHooks) TransactionEnded(bool, time.Duration)    {}
func (noHooks) Fenced()                                 {}
func (noHooks) Assigned(int)                            {}
func (noHooks) PartitionCommitted(string, int32, int64) {}
func (noHooks) CommitFailed()                           {}
func (noHooks) PartitionLag(string, int32, int64)       {}
func (noHooks) ProduceFailed(string, string, int)       {}
func (noHooks) DeadLettered(string)                     {}
