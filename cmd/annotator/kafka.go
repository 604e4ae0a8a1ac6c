package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/annotator-dev/annotator/internal/flagvalue"
	"github.com/annotator-dev/annotator/pipeline"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
	kafkasrc "github.com/annotator-dev/annotator/sources/kafka"
	"github.com/annotator-dev/annotator/sources/kafkatxn"
)

// kafkaPasswordEnv holds the SASL password when --kafka-sasl-password is
// not given: a password on a command line is visible to every user.
const kafkaPasswordEnv = "ANNOTATOR_KAFKA_PASSWORD"

// kafkaConn holds the connection settings the Kafka input and output share.
type kafkaConn struct {
	brokers        kafkaList
	tls            bool
	tlsCA          string
	tlsCert        string
	tlsKey         string
	tlsServerName  string
	saslMechanism  string
	saslUser       string
	saslPassword   string
	connectTimeout time.Duration
	// out is the Kafka output's settings, which an exactly-once input
	// produces with (set when the output registers).
	out *kafkaOutput
}

// kafkaList is a repeatable flag taking comma-separated values.
type kafkaList []string

func (l *kafkaList) String() string { return strings.Join(*l, ",") }

func (l *kafkaList) Set(s string) error {
	*l = append(*l, splitList(s)...)
	return nil
}

// brokersFlag is --kafka-brokers; it also carries the connection settings
// so that whichever of the input and output registers second finds and
// shares them.
type brokersFlag struct{ conn *kafkaConn }

func (f *brokersFlag) String() string {
	if f.conn == nil {
		return ""
	}
	return f.conn.brokers.String()
}
func (f *brokersFlag) Set(s string) error { return f.conn.brokers.Set(s) }

// sharedKafkaConn returns the connection settings registered on fs,
// registering them first if nobody has.
func sharedKafkaConn(fs *flag.FlagSet) *kafkaConn {
	if f := fs.Lookup("kafka-brokers"); f != nil {
		if bf, ok := f.Value.(*brokersFlag); ok {
			return bf.conn
		}
	}
	c := &kafkaConn{}
	fs.Var(&brokersFlag{conn: c}, "kafka-brokers", "Kafka bootstrap brokers, host:port (repeatable, comma-separated)")
	fs.BoolVar(&c.tls, "kafka-tls", false, "connect to Kafka over TLS (implied by the other --kafka-tls-* flags)")
	fs.StringVar(&c.tlsCA, "kafka-tls-ca", "", "PEM file of the CA certificates that sign the brokers' certificates (default: the system's)")
	fs.StringVar(&c.tlsCert, "kafka-tls-cert", "", "PEM file of the client certificate, for brokers that ask for one")
	fs.StringVar(&c.tlsKey, "kafka-tls-key", "", "PEM file of the client certificate's private key")
	fs.StringVar(&c.tlsServerName, "kafka-tls-server-name", "", "name to verify the brokers' certificates against (default: the host dialled)")
	fs.Var(flagvalue.NewChoice(&c.saslMechanism, "", "", "plain", "scram-sha-256", "scram-sha-512"), "kafka-sasl", "SASL mechanism: plain, scram-sha-256 or scram-sha-512")
	fs.StringVar(&c.saslUser, "kafka-sasl-user", "", "SASL user name")
	fs.StringVar(&c.saslPassword, "kafka-sasl-password", "", "SASL password (better: the "+kafkaPasswordEnv+" environment variable)")
	fs.Var(flagvalue.NewDuration(&c.connectTimeout, 30*time.Second, time.Second, time.Hour), "kafka-connect-timeout",
		"how long start-up keeps trying to reach the brokers before giving up, 1s to 1h")
	return c
}

func (c *kafkaConn) tlsConfig() (*tls.Config, error) {
	if !c.tls && c.tlsCA == "" && c.tlsCert == "" && c.tlsKey == "" && c.tlsServerName == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.tlsServerName}
	if c.tlsCA != "" {
		pem, err := os.ReadFile(c.tlsCA)
		if err != nil {
			// A file named on the command line: the caller's to fix.
			return nil, &settingsError{fmt.Errorf("--kafka-tls-ca: %w", err)}
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &settingsError{fmt.Errorf("--kafka-tls-ca %s: no PEM certificate in it", c.tlsCA)}
		}
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, usagef("--kafka-tls-cert and --kafka-tls-key go together")
	}
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, &settingsError{fmt.Errorf("--kafka-tls-cert %s, --kafka-tls-key %s: %w", c.tlsCert, c.tlsKey, err)}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// sasl checks the SASL settings and returns the mechanism, as franz-go
// (which the Kafka input and output are built on) takes it; nil without
// --kafka-sasl.
func (c *kafkaConn) sasl() (sasl.Mechanism, error) {
	if c.saslMechanism == "" {
		if c.saslUser != "" {
			return nil, usagef("--kafka-sasl-user needs --kafka-sasl")
		}
		return nil, nil
	}
	password := c.saslPassword
	if password == "" {
		password = os.Getenv(kafkaPasswordEnv)
	}
	if c.saslUser == "" {
		return nil, usagef("--kafka-sasl %s needs --kafka-sasl-user", c.saslMechanism)
	}
	mech := strings.ToLower(c.saslMechanism)
	if mech != "plain" && mech != "scram-sha-256" && mech != "scram-sha-512" {
		return nil, usagef("--kafka-sasl %q: want plain, scram-sha-256 or scram-sha-512", c.saslMechanism)
	}
	if password == "" {
		// An empty password is never the one meant: the brokers would
		// refuse it after the connection timeout.
		return nil, usagef("--kafka-sasl-user %s needs a password: set %s (or --kafka-sasl-password)", c.saslUser, kafkaPasswordEnv)
	}
	switch mech {
	case "plain":
		return plain.Auth{User: c.saslUser, Pass: password}.AsMechanism(), nil
	case "scram-sha-256":
		return scram.Auth{User: c.saslUser, Pass: password}.AsSha256Mechanism(), nil
	default: // scram-sha-512
		return scram.Auth{User: c.saslUser, Pass: password}.AsSha512Mechanism(), nil
	}
}

// security returns the TLS and SASL settings, or a usage error.
func (c *kafkaConn) security() (*tls.Config, sasl.Mechanism, error) {
	if len(c.brokers) == 0 {
		return nil, nil, usagef("no Kafka brokers: give --kafka-brokers")
	}
	t, err := c.tlsConfig()
	if err != nil {
		return nil, nil, err
	}
	m, err := c.sasl()
	if err != nil {
		return nil, nil, err
	}
	return t, m, nil
}

// kafkaInput consumes topics as a member of a consumer group.
type kafkaInput struct {
	conn           *kafkaConn
	topics         kafkaList
	group          string
	start          string
	sessionTimeout time.Duration
	commitInterval time.Duration
	drainTimeout   time.Duration
	maxInFlight    int
	guarantee      string
	txnID          string
}

// The delivery guarantees of the Kafka stage (--kafka-guarantee).
const (
	atLeastOnce = "at-least-once"
	exactlyOnce = "exactly-once"
)

func (i *kafkaInput) register(fs *flag.FlagSet) {
	i.conn = sharedKafkaConn(fs)
	fs.Var(&i.topics, "kafka-topic", "consume these Kafka topics (repeatable, comma-separated); needs --kafka-group")
	fs.StringVar(&i.group, "kafka-group", "", "Kafka consumer group: instances in one group share the partitions")
	fs.Var(flagvalue.NewChoice(&i.start, "first", "first", "last"), "kafka-start", "where a partition with no committed offset starts: first or last")
	fs.Var(flagvalue.NewDuration(&i.sessionTimeout, 30*time.Second, time.Second, 30*time.Minute), "kafka-session-timeout",
		"a group member silent this long is dropped and its partitions move, 1s to 30m (a default broker wants 6s to 30m)")
	fs.Var(flagvalue.NewDuration(&i.commitInterval, time.Second, 0, time.Hour), "kafka-commit-interval",
		"how often the offsets of delivered records are committed, 0 (after every delivered batch) to 1h")
	fs.Var(flagvalue.NewDuration(&i.drainTimeout, 10*time.Second, 100*time.Millisecond, 10*time.Minute), "kafka-drain-timeout",
		"how long a partition being given up waits for its records in flight, 100ms to 10m")
	fs.Var(flagvalue.NewSize(&i.maxInFlight, kafkasrc.DefaultInFlightBytes, 1<<20, 1<<30), "kafka-max-in-flight",
		"bytes of consumed records fetched and not yet delivered, which bounds the stage's memory, 1MiB to 1GiB")
	fs.Var(flagvalue.NewChoice(&i.guarantee, atLeastOnce, atLeastOnce, exactlyOnce), "kafka-guarantee",
		"at-least-once, or exactly-once: output records and input offsets committed in one Kafka transaction every --kafka-commit-interval (needs --kafka-out-topic; readers use isolation.level=read_committed)")
	fs.StringVar(&i.txnID, "kafka-transactional-id", "",
		"with exactly-once, this instance's transactional id, unique per instance and kept across its restarts (a pod's name) so that a restart aborts what it left open (default: one per process)")
}

// check validates the flags' combination, for check and for a run.
func (i *kafkaInput) check() error {
	switch {
	case len(i.topics) == 0 && i.group != "":
		return usagef("--kafka-group needs --kafka-topic")
	case len(i.topics) > 0 && i.group == "":
		return usagef("--kafka-topic needs --kafka-group")
	case i.guarantee == exactlyOnce && len(i.topics) == 0:
		return usagef("--kafka-guarantee exactly-once needs --kafka-topic: only a Kafka input is read in transactions")
	case i.txnID != "" && i.guarantee != exactlyOnce:
		return usagef("--kafka-transactional-id needs --kafka-guarantee exactly-once")
	case i.guarantee == exactlyOnce && (i.conn.out == nil || i.conn.out.topic == ""):
		return usagef("--kafka-guarantee exactly-once needs --kafka-out-topic: only a Kafka topic takes output in a transaction")
	}
	return nil
}

func (i *kafkaInput) source(ctx context.Context, env *runEnv) (pipeline.Source, error) {
	if err := i.check(); err != nil {
		return nil, err
	}
	if len(i.topics) == 0 {
		return nil, nil
	}
	if len(env.paths) > 0 {
		return nil, usagef("--kafka-topic reads Kafka, not the files %s", strings.Join(env.paths, " "))
	}
	t, m, err := i.conn.security()
	if err != nil {
		return nil, err
	}
	if i.guarantee == exactlyOnce {
		return i.transactional(ctx, env, t, m)
	}
	commit := i.commitInterval
	if commit == 0 {
		commit = kafkasrc.CommitEachBatch
	}
	cfg := kafkasrc.Config{
		Brokers: i.conn.brokers, Topics: i.topics, Group: i.group, TLS: t, SASL: m,
		Start: i.start, SessionTimeout: i.sessionTimeout, CommitInterval: commit,
		DrainTimeout: i.drainTimeout, StartTimeout: i.conn.connectTimeout, Log: env.log,
		InFlightBytes: i.maxInFlight,
	}
	if env.metrics != nil { // a nil registry in the interface would still be called
		cfg.Lag = env.metrics
		cfg.Membership = env.metrics
	}
	return kafkasrc.New(ctx, cfg)
}

// transactional builds the exactly-once stage, whose sink the Kafka
// output then hands out.
func (i *kafkaInput) transactional(ctx context.Context, env *runEnv, t *tls.Config, m sasl.Mechanism) (pipeline.Source, error) {
	o := i.conn.out
	if err := o.check(); err != nil {
		return nil, err
	}
	cfg := kafkatxn.Config{
		Brokers: i.conn.brokers, Topics: i.topics, Group: i.group,
		OutTopic: o.topic, DeadLetterTopic: o.dlqTopic, TransactionalID: i.txnID,
		Start: i.start, SessionTimeout: i.sessionTimeout, CommitInterval: i.commitInterval,
		StartTimeout: i.conn.connectTimeout, Compression: o.compression, ProduceTime: o.timestamp == "produce",
		BufferedBytes: i.maxInFlight,
		TLS:           t, SASL: m, Log: env.log,
	}
	if env.metrics != nil { // a nil registry in the interface would still be called
		cfg.Txn, cfg.Membership, cfg.Lag, cfg.Produce = env.metrics, env.metrics, env.metrics, env.metrics
	}
	stage, err := kafkatxn.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	env.txnStage = stage
	return stage, nil
}

func (*kafkaInput) failures() int { return 0 }

// kafkaOutput produces annotated lines and records to a topic.
type kafkaOutput struct {
	conn         *kafkaConn
	topic        string
	compression  string
	batchTimeout setFlag
	dlqTopic     string
	timestamp    string
}

// setFlag is a flag.Value that remembers whether it was given (on the
// command line or through the config file).
type setFlag struct {
	flag.Value
	given bool
}

func (f *setFlag) Set(s string) error {
	f.given = true
	return f.Value.Set(s)
}

func (o *kafkaOutput) register(fs *flag.FlagSet) {
	o.conn = sharedKafkaConn(fs)
	o.conn.out = o
	fs.StringVar(&o.topic, "kafka-out-topic", "", "produce the annotated lines to this Kafka topic instead of standard output")
	fs.Var(flagvalue.NewChoice(&o.compression, "none", "none", "gzip", "snappy", "lz4", "zstd"), "kafka-compression", "compression of produced batches: none, gzip, snappy, lz4 or zstd")
	var unused time.Duration
	o.batchTimeout.Value = flagvalue.NewDuration(&unused, 2*time.Millisecond, time.Microsecond, 10*time.Second)
	fs.Var(&o.batchTimeout, "kafka-batch-timeout",
		"removed: each batch is produced as soon as it is annotated (a config file's sinks.kafka.batch_timeout is still accepted, with a warning)")
	fs.Var(flagvalue.NewChoice(&o.timestamp, "input", "input", "produce"), "kafka-timestamp", "timestamp of a record's output: input (the consumed record's, as Kafka Streams keeps it) or produce (the time it is produced)")
	fs.StringVar(&o.dlqTopic, "kafka-dlq-topic", "", "set records the output topic refuses (too large, invalid) aside in this topic and go on; without it they stop the run")
}

// check validates the output's settings without a topic.
func (o *kafkaOutput) check() error {
	if o.topic == "" {
		if o.dlqTopic != "" {
			return usagef("--kafka-dlq-topic needs --kafka-out-topic")
		}
		if o.timestamp != "input" {
			return usagef("--kafka-timestamp needs --kafka-out-topic")
		}
		if o.compression != "none" {
			return usagef("--kafka-compression needs --kafka-out-topic")
		}
	}
	return nil
}

func (o *kafkaOutput) sink(ctx context.Context, env *runEnv) (pipeline.Sink, error) {
	if err := o.check(); err != nil || o.topic == "" {
		return nil, err
	}
	if o.batchTimeout.given {
		env.log.Warn("sinks.kafka batch_timeout has no effect: each batch is produced as soon as it is annotated; remove the setting")
	}
	if env.txnStage != nil {
		// Exactly once: the output goes into the input's transactions.
		return env.txnStage.Sink(), nil
	}
	t, m, err := o.conn.security()
	if err != nil {
		return nil, err
	}
	cfg := kafkasink.Config{
		Brokers: o.conn.brokers, Topic: o.topic, TLS: t, SASL: m,
		Compression: o.compression, ProduceTime: o.timestamp == "produce",
		StartTimeout: o.conn.connectTimeout, DeadLetterTopic: o.dlqTopic, Log: env.log,
	}
	if env.metrics != nil { // a nil registry in the interface would still be called
		cfg.Hook = env.metrics
	}
	return kafkasink.New(ctx, cfg)
}
