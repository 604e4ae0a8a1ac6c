package main

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// arrivals follows an output topic from its start and notes when each
// distinct record first arrives, until stopped.
type arrivals struct {
	mu    sync.Mutex
	first map[string]time.Time
	count map[string]int
	stop  context.CancelFunc
	done  chan struct{}
}

func watchOutput(t *testing.T, b *kafkatest.Broker, topic string, partitions int) *arrivals {
	ctx, cancel := context.WithCancel(context.Background())
	a := &arrivals{first: map[string]time.Time{}, count: map[string]int{}, stop: cancel, done: make(chan struct{})}
	c := b.Client()
	go func() { // ends on stop
		defer close(a.done)
		next := make([]int64, partitions)
		for ctx.Err() == nil {
			for p := range next {
				resp, err := c.Fetch(ctx, &kafkago.FetchRequest{Topic: topic, Partition: p, Offset: next[p],
					MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 50 * time.Millisecond})
				if err != nil || resp.Error != nil {
					continue // a broker down: the next round tries again
				}
				now := time.Now()
				for {
					r, err := resp.Records.ReadRecord()
					if err != nil {
						break
					}
					if r.Offset < next[p] {
						continue
					}
					var k string
					if r.Key != nil {
						kb, _ := protocol.ReadAll(r.Key)
						k = string(kb)
					}
					a.mu.Lock()
					if _, ok := a.first[k]; !ok {
						a.first[k] = now
					}
					a.count[k]++
					a.mu.Unlock()
					next[p] = r.Offset + 1
				}
			}
		}
	}()
	t.Cleanup(a.close)
	return a
}

func (a *arrivals) close() {
	a.stop()
	<-a.done
}

// wait waits until want distinct records arrived, and returns how many
// arrived more than once.
func (a *arrivals) wait(t *testing.T, want int, timeout time.Duration, procs ...*syncBuffer) (dups int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		a.mu.Lock()
		n := len(a.first)
		dups = 0
		for _, c := range a.count {
			dups += c - 1
		}
		a.mu.Unlock()
		if n >= want {
			return dups
		}
		if time.Now().After(deadline) {
			var logs []string
			for _, p := range procs {
				logs = append(logs, p.String())
			}
			t.Fatalf("output holds %d distinct records, want %d; stderr:\n%s", n, want, strings.Join(logs, "\n---\n"))
		}
		time.Sleep(50 * time.Millisecond) // polling the watcher
	}
}

// longestGap is the longest time between from and to during which no
// new record arrived, counted from from and up to the last arrival.
func (a *arrivals) longestGap(from, to time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ts []time.Time
	for _, at := range a.first {
		if !at.Before(from) && at.Before(to) {
			ts = append(ts, at)
		}
	}
	if len(ts) == 0 {
		return to.Sub(from) // nothing arrived at all
	}
	slices.SortFunc(ts, func(x, y time.Time) int { return x.Compare(y) })
	gap := ts[0].Sub(from)
	for i := 1; i < len(ts); i++ {
		gap = max(gap, ts[i].Sub(ts[i-1]))
	}
	return gap
}

// clusterStage starts n instances consuming in and producing to out.
func clusterStage(t *testing.T, c *kafkatest.Cluster, n int, in, out, group string) ([]*exec.Cmd, []*syncBuffer) {
	args := []string{"--kafka-brokers", strings.Join(c.Addrs, ","), "--kafka-topic", in, "--kafka-group", group,
		"--kafka-out-topic", out}
	var cmds []*exec.Cmd
	var errs []*syncBuffer
	for i := 0; i < n; i++ {
		cmd, e := startBin(t, args...)
		cmds = append(cmds, cmd)
		errs = append(errs, e)
	}
	for _, e := range errs {
		waitLog(t, e, "partitions assigned")
	}
	return cmds, errs
}

func stopStage(t *testing.T, cmds []*exec.Cmd, errs []*syncBuffer) {
	t.Helper()
	for i, cmd := range cmds {
		cmd.Process.Signal(syscall.SIGTERM)
		if code := exitWithin(t, cmd, 60*time.Second); code != 0 {
			t.Errorf("instance %d: exit status %d after SIGTERM; stderr:\n%s", i+1, code, errs[i])
		}
	}
}

// TestKafkaClusterBrokerKill: on a 3-node cluster (replication 3,
// min.insync.replicas 2), two brokers are SIGKILLed in turn mid-stream,
// each started again 8 s later: first the one that coordinates the group
// (and leads a third of the partitions), then another, which only leads
// partitions. Nothing is lost, and the output resumes: the test logs the
// longest pause after each kill, and fails only on a stall (20 s, far
// above the few seconds measured), not on speed. The instances run with
// the default session timeout (30 s), as in production: a member ID the
// group kept after the coordinator died used to hold the rebalance for
// that long.
func TestKafkaClusterBrokerKill(t *testing.T) {
	c := kafkatest.StartCluster(t)
	in, out := c.CreateTopic("in", 6), c.CreateTopic("out", 6)
	group := c.Name("group")
	cmds, errs := clusterStage(t, c, 2, in, out, group)
	seen := watchOutput(t, c.Broker, out, 6)
	const chunks, per = 150, 200
	produced := stream(c.Broker, in, chunks, per, 200*time.Millisecond)
	seen.wait(t, 10*per, 60*time.Second, errs...)
	coordinator := c.Coordinator(group)
	var other *kafkatest.Node
	for _, n := range c.Nodes {
		if n != coordinator {
			other = n
		}
	}
	var kills []time.Time
	for i, victim := range []*kafkatest.Node{coordinator, other} {
		kills = append(kills, time.Now())
		c.Stop(victim, syscall.SIGKILL)
		t.Logf("kill %d: node %d at %s", i+1, victim.ID, kills[i].Format("15:04:05.000"))
		time.Sleep(8 * time.Second) // the cluster runs on two nodes meanwhile
		c.Start(victim)
		c.WaitWhole()
	}
	<-produced
	dups := seen.wait(t, chunks*per, 120*time.Second, errs...)
	coordGap, otherGap := seen.longestGap(kills[0], kills[1]), seen.longestGap(kills[1], time.Now())
	t.Logf("broker kills: %d records, 0 lost, %d duplicates; longest pause in the output after killing the coordinator %s, a partition leader %s",
		chunks*per, dups, coordGap.Round(10*time.Millisecond), otherGap.Round(10*time.Millisecond))
	if max(coordGap, otherGap) >= 20*time.Second {
		t.Errorf("the output stalled for %s / %s after a broker was killed", coordGap, otherGap)
	}
	stopStage(t, cmds, errs)
}

// TestKafkaClusterRollingRestart: each broker of three is restarted in
// turn (controlled shutdown, start, back in sync) while records stream
// through two instances; nothing is lost.
func TestKafkaClusterRollingRestart(t *testing.T) {
	c := kafkatest.StartCluster(t)
	in, out := c.CreateTopic("in", 6), c.CreateTopic("out", 6)
	group := c.Name("group")
	cmds, errs := clusterStage(t, c, 2, in, out, group)
	seen := watchOutput(t, c.Broker, out, 6)
	stop := make(chan struct{})
	fed := feedUntil(c.Broker, in, stop)
	seen.wait(t, 2000, 60*time.Second, errs...)
	start := time.Now()
	for _, n := range c.Nodes {
		c.Stop(n, syscall.SIGTERM)
		c.Start(n)
		c.WaitWhole()
		t.Logf("node %d restarted and back in sync", n.ID)
	}
	close(stop)
	total := fed()
	dups := seen.wait(t, total, 120*time.Second, errs...)
	t.Logf("rolling restart: %d records, 0 lost, %d duplicates; longest pause in the output %s",
		total, dups, seen.longestGap(start, time.Now()).Round(10*time.Millisecond))
	stopStage(t, cmds, errs)
}
