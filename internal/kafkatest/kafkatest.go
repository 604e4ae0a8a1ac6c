// Package kafkatest gives tests a real Kafka-protocol broker over TCP: the
// 3-node cluster named by ANNOTATOR_KAFKA_CLUSTER (as .ci/kafka-cluster.sh
// starts), the broker named by ANNOTATOR_KAFKA_BROKERS (a real Apache
// Kafka, as .ci/kafka.sh starts), or else an in-process kfake cluster on a
// loopback port, so that `go test ./...` needs nothing installed.
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/twmb/franz-go/pkg/kfake"
)

// EnvBrokers names the environment variable that points the tests at an
// external broker ("host:port,host:port").
const EnvBrokers = "ANNOTATOR_KAFKA_BROKERS"

// Broker is one test's broker.
type Broker struct {
	// Addrs are the bootstrap addresses.
	Addrs []string
	// External is true when the broker came from EnvBrokers.
	External bool

	// replication is the replication factor of the topics created.
	replication int

	t       testing.TB
	cluster *kfake.Cluster
	port    int
	dataDir string
	opts    []kfake.Opt
}

// topicSeq makes topic and group names unique within a test process; the
// process id makes them unique across runs against one external broker.
var topicSeq atomic.Int64

// Start returns the external broker if EnvBrokers is set, or else starts a
// kfake cluster stopped when the test ends.
func Start(t testing.TB) *Broker {
	t.Helper()
	if os.Getenv(EnvCluster) != "" {
		return StartCluster(t).Broker
	}
	if env := os.Getenv(EnvBrokers); env != "" {
		return &Broker{Addrs: strings.Split(env, ","), External: true, t: t, replication: 1}
	}
	return StartLocal(t)
}

// StartLocal always starts an in-process kfake cluster, persisting to a
// temporary directory so that Restart keeps the data and the committed
// offsets (the tests of a broker going away need one they can stop).
func StartLocal(t testing.TB) *Broker {
	t.Helper()
	b := &Broker{t: t, dataDir: t.TempDir(), replication: 1}
	b.opts = []kfake.Opt{
		kfake.DataDir(b.dataDir),
		// Consumer group tests use short sessions so that a killed
		// member's partitions move quickly; Kafka's own floor is 6 s.
		kfake.GroupMinSessionTimeout(time.Second),
	}
	c, err := kfake.NewCluster(append(b.opts, kfake.NumBrokers(1))...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	b.cluster = c
	b.Addrs = c.ListenAddrs()
	_, port, _ := net.SplitHostPort(b.Addrs[0])
	fmt.Sscan(port, &b.port)
	t.Cleanup(b.Stop)
	return b
}

// Stop closes a local cluster (a no-op for an external broker).
func (b *Broker) Stop() {
	if b.cluster != nil {
		b.cluster.Close()
		b.cluster = nil
	}
}

// Restart starts the local cluster again on the same port with the data it
// persisted. The port may take a moment to be free again.
func (b *Broker) Restart() {
	b.t.Helper()
	if b.External {
		b.t.Fatal("Restart needs a local broker (StartLocal)")
	}
	b.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := kfake.NewCluster(append(b.opts, kfake.Ports(b.port))...)
		if err == nil {
			b.cluster = c
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("restart kfake on port %d: %v", b.port, err)
		}
		time.Sleep(50 * time.Millisecond) // polling for the port to be free
	}
}

// Name returns a name unique to this test run, for topics and groups.
func (b *Broker) Name(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), topicSeq.Add(1))
}

// Client returns a client with its own transport, closed when the test ends.
func (b *Broker) Client() *kafkago.Client {
	tr := &kafkago.Transport{DialTimeout: 5 * time.Second, MetadataTTL: time.Second}
	b.t.Cleanup(tr.CloseIdleConnections)
	return &kafkago.Client{Addr: kafkago.TCP(b.Addrs...), Transport: tr, Timeout: 20 * time.Second}
}

// CreateTopic creates a topic with a unique name and waits until its
// partitions have leaders.
func (b *Broker) CreateTopic(prefix string, partitions int) string {
	b.t.Helper()
	return b.CreateTopicWith(prefix, partitions, nil)
}

// CreateTopicWith creates a topic with the given topic settings (such as
// "max.message.bytes") and waits until its partitions have leaders.
func (b *Broker) CreateTopicWith(prefix string, partitions int, settings map[string]string) string {
	b.t.Helper()
	name := b.Name(prefix)
	b.CreateTopicNamed(name, partitions, settings)
	return name
}

// CreateTopicNamed creates the topic name (see Name) and waits until its
// partitions have leaders.
func (b *Broker) CreateTopicNamed(name string, partitions int, settings map[string]string) {
	b.t.Helper()
	c := b.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := kafkago.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: b.replication}
	for k, v := range settings {
		tc.ConfigEntries = append(tc.ConfigEntries, kafkago.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	resp, err := c.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{tc}})
	if err != nil {
		b.t.Fatalf("create topic %s: %v", name, err)
	}
	if err := resp.Errors[name]; err != nil {
		b.t.Fatalf("create topic %s: %v", name, err)
	}
	b.waitLeaders(ctx, c, name, partitions)
}

// waitLeaders waits until topic has partitions partitions, each with a
// leader.
func (b *Broker) waitLeaders(ctx context.Context, c *kafkago.Client, name string, partitions int) {
	b.t.Helper()
	for {
		md, err := c.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{name}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) == partitions {
			ready := true
			for _, p := range md.Topics[0].Partitions {
				ready = ready && p.Leader.Host != ""
			}
			if ready {
				return
			}
		}
		if ctx.Err() != nil {
			b.t.Fatalf("topic %s has no leaders: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the metadata
	}
}

// Produce writes messages to topic, acknowledged by the broker, spreading
// messages without a key over the partitions. Messages that fail (a
// broker of a cluster being down) are sent again for up to 60 s.
func (b *Broker) Produce(topic string, msgs ...kafkago.Message) {
	b.t.Helper()
	tr := &kafkago.Transport{DialTimeout: 5 * time.Second, MetadataTTL: time.Second}
	defer tr.CloseIdleConnections()
	w := &kafkago.Writer{
		Addr: kafkago.TCP(b.Addrs...), Topic: topic, Transport: tr,
		Balancer: &kafkago.Hash{}, RequiredAcks: kafkago.RequireAll,
		BatchSize: 10000, BatchTimeout: time.Millisecond, BatchBytes: 1 << 20,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return
		}
		var werrs kafkago.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(msgs) {
			var failed []kafkago.Message
			for i, e := range werrs {
				if e != nil {
					failed = append(failed, msgs[i])
				}
			}
			msgs = failed
		}
		if ctx.Err() != nil {
			b.t.Errorf("produce %d messages to %s: %v", len(msgs), topic, err)
			return
		}
		time.Sleep(200 * time.Millisecond) // backing off while a broker is down
	}
}

// ReadAll reads every partition of topic from the start until want
// messages were read or the deadline passed, and returns them.
func (b *Broker) ReadAll(topic string, want int, timeout time.Duration) []kafkago.Message {
	b.t.Helper()
	c := b.Client()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	md, err := c.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 {
		b.t.Fatalf("metadata of %s: %v", topic, err)
	}
	parts := md.Topics[0].Partitions
	next := make([]int64, len(parts))
	var out []kafkago.Message
	for len(out) < want && ctx.Err() == nil {
		for i, p := range parts {
			resp, err := c.Fetch(ctx, &kafkago.FetchRequest{
				Topic: topic, Partition: p.ID, Offset: next[i],
				MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond,
			})
			if err != nil || resp.Error != nil {
				continue // the deadline ends the loop
			}
			for {
				r, err := resp.Records.ReadRecord()
				if err != nil {
					break
				}
				if r.Offset < next[i] {
					continue
				}
				m := kafkago.Message{Topic: topic, Partition: p.ID, Offset: r.Offset, Time: r.Time}
				m.Key, _ = readBytes(r.Key)
				m.Value, _ = readBytes(r.Value)
				for _, h := range r.Headers {
					m.Headers = append(m.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
				}
				out = append(out, m)
				next[i] = r.Offset + 1
			}
		}
	}
	return out
}

// Committed returns the group's committed offset per partition of topic
// (-1 where none).
func (b *Broker) Committed(group, topic string, partitions int) map[int]int64 {
	b.t.Helper()
	c := b.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ids := make([]int, partitions)
	for i := range ids {
		ids[i] = i
	}
	resp, err := c.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err != nil {
		b.t.Fatalf("committed offsets of %s: %v", group, err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// FreePort returns a loopback port nothing listens on (for the tests of
// an unreachable broker).
func FreePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func readBytes(b protocol.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	defer b.Close()
	return protocol.ReadAll(b)
}

// AddPartitions grows topic to count partitions and waits until the new
// ones have leaders.
func (b *Broker) AddPartitions(topic string, count int) {
	b.t.Helper()
	c := b.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.CreatePartitions(ctx, &kafkago.CreatePartitionsRequest{Topics: []kafkago.TopicPartitionsConfig{{Name: topic, Count: int32(count)}}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		b.t.Fatalf("grow %s to %d partitions: %v", topic, count, err)
	}
	b.waitLeaders(ctx, c, topic, count)
}

// DeleteTopic deletes topic.
func (b *Broker) DeleteTopic(topic string) {
	b.t.Helper()
	c := b.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{topic}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		b.t.Fatalf("delete %s: %v", topic, err)
	}
}
