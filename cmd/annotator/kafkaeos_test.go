package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// eosArgs are the arguments of an exactly-once stage member with its own
// transactional id.
func eosArgs(b *kafkatest.Broker, in, out, group, txnID string) []string {
	return append(stageArgs(b, in, out, group), "--kafka-guarantee", "exactly-once", "--kafka-transactional-id", txnID)
}

// readExactlyOnce reads the output as a read_committed consumer and
// checks that it holds every one of n records exactly once, annotated,
// with its key and headers, in the partition its key hashes to (as Java's
// partitioner puts it).
func readExactlyOnce(t *testing.T, b *kafkatest.Broker, out string, n, partitions int, procs ...*syncBuffer) {
	t.Helper()
	// One more than expected, so that duplicates are read too; the
	// timeout then ends the read.
	got := b.ReadCommitted(out, n+1, 30*time.Second)
	distinct, dups := checkOutput(t, got)
	if distinct != n || dups != 0 {
		var logs []string
		for _, p := range procs {
			logs = append(logs, p.String())
		}
		t.Fatalf("read_committed output: %d distinct records of %d, %d duplicates; stderr:\n%s", distinct, n, dups, strings.Join(logs, "\n---\n"))
	}
	ids := make([]int, partitions)
	for i := range ids {
		ids[i] = i
	}
	for _, m := range got {
		if want := (&kafkago.Murmur2Balancer{}).Balance(m, ids...); m.Partition != want {
			t.Fatalf("output %s in partition %d, want %d (murmur2 of its key)", m.Key, m.Partition, want)
		}
	}
}

// waitCommitted polls the output as a read_committed consumer until it
// holds want distinct records.
func waitCommitted(t *testing.T, b *kafkatest.Broker, out string, want int, timeout time.Duration, procs ...*syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := b.ReadCommitted(out, want, 3*time.Second)
		if n, _ := checkOutput(t, got); n >= want {
			return
		}
		if time.Now().After(deadline) {
			n, _ := checkOutput(t, got)
			var logs []string
			for _, p := range procs {
				logs = append(logs, p.String())
			}
			t.Fatalf("read_committed output holds %d distinct records, want %d; stderr:\n%s", n, want, strings.Join(logs, "\n---\n"))
		}
	}
}

// TestKafkaExactlyOnceKill: two members share a four-partition topic with
// exactly-once; one is SIGKILLed mid-stream, mid-transaction, and comes
// back with its transactional id, which aborts what it left open. Read
// with read_committed, the output holds every input record exactly once,
// with its key and headers; both members then stop on SIGTERM with every
// offset committed.
func TestKafkaExactlyOnceKill(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 4), b.CreateTopic("out", 4)
	group := b.Name("group")
	idA, idC := b.Name("txn-a"), b.Name("txn-c")
	a, aErr := startBin(t, eosArgs(b, in, out, group, idA)...)
	c, cErr := startBin(t, eosArgs(b, in, out, group, idC)...)

	const chunks, per = 40, 500
	produced := make(chan struct{})
	go func() { // the stream: ends by itself
		defer close(produced)
		for i := 0; i < chunks; i++ {
			b.Produce(in, records(i*per, per)...)
			time.Sleep(25 * time.Millisecond) // pacing the stream, not synchronising
		}
	}()
	waitCommitted(t, b, out, 4*per, 60*time.Second, aErr, cErr)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(aErr.String(), "partitions assigned") {
		if time.Now().After(deadline) {
			t.Fatalf("the first instance never got partitions; stderr:\n%s", aErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := a.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	a2, a2Err := startBin(t, eosArgs(b, in, out, group, idA)...)
	<-produced
	waitCommitted(t, b, out, chunks*per, 90*time.Second, aErr, a2Err, cErr)
	for _, p := range []struct {
		cmd    *exec.Cmd
		stderr *syncBuffer
	}{{a2, a2Err}, {c, cErr}} {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := exitWithin(t, p.cmd, 30*time.Second); code != 0 {
			t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, p.stderr)
		}
	}
	readExactlyOnce(t, b, out, chunks*per, 4, aErr, a2Err, cErr)
	var committed int64
	for _, off := range b.Committed(group, in, 4) {
		committed += off
	}
	if committed != chunks*per {
		t.Errorf("committed offsets add up to %d after SIGTERM, want %d", committed, chunks*per)
	}
	// The killed member's uncommitted output is in the topic, aborted:
	// a read_uncommitted reader sees it, a read_committed one does not.
	all := b.ReadAll(out, chunks*per+1, 5*time.Second)
	t.Logf("kill test: %d records in, %d in the output log (aborted ones included), exactly once read_committed",
		chunks*per, len(all))
}

// TestKafkaExactlyOnceUsage: the guarantee's settings are checked before
// anything is read, each error naming what to fix.
func TestKafkaExactlyOnceUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kafka-brokers", "127.0.0.1:1", "--kafka-topic", "in", "--kafka-group", "g", "--kafka-guarantee", "exactly-once"},
			"--kafka-guarantee exactly-once needs --kafka-out-topic"},
		{[]string{"--kafka-brokers", "127.0.0.1:1", "--kafka-out-topic", "out", "--kafka-guarantee", "exactly-once"},
			"--kafka-guarantee exactly-once needs --kafka-topic"},
		{[]string{"--kafka-brokers", "127.0.0.1:1", "--kafka-topic", "in", "--kafka-group", "g", "--kafka-out-topic", "out", "--kafka-guarantee", "exactly"},
			"exactly-once"},
		{[]string{"--kafka-brokers", "127.0.0.1:1", "--kafka-topic", "in", "--kafka-group", "g", "--kafka-out-topic", "out", "--kafka-transactional-id", "x"},
			"--kafka-transactional-id needs --kafka-guarantee exactly-once"},
	} {
		cmd, stderr := startBin(t, tc.args...)
		if code := exitWithin(t, cmd, 20*time.Second); code != 2 {
			t.Errorf("%v: exit status %d, want 2 (usage); stderr:\n%s", tc.args, code, stderr)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr does not say %q:\n%s", tc.args, tc.want, stderr)
		}
	}
}
