package main

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
)

// eosArgs are the arguments of an exactly-once stage member with its own
// transactional id.
func eosArgs(b *kafkatest.Broker, in, out, group, txnID string) []string {
	return append(stageArgs(b, in, out, group), "--kafka-guarantee", "exactly-once", "--kafka-transactional-id", txnID)
}

// readExactlyOnce reads the input and, as a read_committed consumer, the
// output, and checks that the output holds one record for each input
// record (a key twice in the input, written twice by a producer's retry,
// is twice in the output), annotated, with its key and headers, in the
// partition its key hashes to (as Java's partitioner puts it).
func readExactlyOnce(t *testing.T, b *kafkatest.Broker, in, out string, outPartitions int, procs ...*syncBuffer) {
	t.Helper()
	n := b.Records(in)
	want := map[string]int{}
	for _, m := range b.ReadAll(in, n, 60*time.Second) {
		want[string(m.Key)]++
	}
	got := b.ReadCommitted(out, n, 30*time.Second)
	checkOutput(t, got)
	have := map[string]int{}
	for _, m := range got {
		have[string(m.Key)]++
	}
	lost, dups := 0, 0
	for k, w := range want {
		lost += max(w-have[k], 0)
		dups += max(have[k]-w, 0)
	}
	if lost != 0 || dups != 0 || len(got) != n {
		var logs []string
		for _, p := range procs {
			logs = append(logs, p.String())
		}
		t.Fatalf("read_committed output: %d records for %d input records: %d lost, %d duplicated; stderr:\n%s", len(got), n, lost, dups, strings.Join(logs, "\n---\n"))
	}
	ids := make([]int, outPartitions)
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

	const chunks, per = 80, 250
	produced := stream(b, in, chunks, per, 50*time.Millisecond)
	waitCommitted(t, b, out, 4*per, 60*time.Second, aErr, cErr)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(aErr.String(), "partitions assigned") {
		if time.Now().After(deadline) {
			t.Fatalf("the first instance never got partitions; stderr:\n%s", aErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-produced:
		t.Fatal("the stream ended before the kill: the test would prove nothing")
	default:
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
	readExactlyOnce(t, b, in, out, 4, aErr, a2Err, cErr)
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

// TestKafkaExactlyOnceFenced: a second instance given the first one's
// transactional id fences it: the first stops with exit 1 and an error
// saying so, the second goes on, and the output still holds every record
// exactly once.
func TestKafkaExactlyOnceFenced(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 2), b.CreateTopic("out", 2)
	group, id := b.Name("group"), b.Name("txn")
	a, aErr := startBin(t, eosArgs(b, in, out, group, id)...)
	b.Produce(in, records(0, 1000)...)
	waitCommitted(t, b, out, 1000, 60*time.Second, aErr)
	c, cErr := startBin(t, eosArgs(b, in, out, group, id)...)
	produced := streamFrom(b, in, 1000, 20, 100, 50*time.Millisecond)
	if code := exitWithin(t, a, 60*time.Second); code != 1 {
		t.Fatalf("fenced instance: exit status %d, want 1; stderr:\n%s", code, aErr)
	}
	if !strings.Contains(aErr.String(), "fenced: another producer with the transactional id "+id) {
		t.Errorf("fenced instance's stderr does not say it was fenced:\n%s", aErr)
	}
	<-produced
	const n = 1000 + 20*100
	waitCommitted(t, b, out, n, 90*time.Second, aErr, cErr)
	c.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, c, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, cErr)
	}
	readExactlyOnce(t, b, in, out, 2, aErr, cErr)
}

// TestKafkaExactlyOnceDeadLetter: with exactly-once and a dead-letter
// topic, the record the output refuses is set aside in the same
// transaction as the others' output and offsets: read_committed, the
// dead-letter topic holds it once and the output every other record once.
// The metrics count the transactions and show none open once idle.
func TestKafkaExactlyOnceDeadLetter(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	b := kafkatest.Start(t)
	const n, bad = 300, 120
	in, out, poison := poisonInput(t, b, n, bad)
	dlq := b.CreateTopic("dlq", 1)
	group := b.Name("group")
	cmd, stderr := startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", group,
		"--kafka-out-topic", out, "--kafka-dlq-topic", dlq, "--kafka-commit-interval", "100ms", "--metrics-addr", "127.0.0.1:0",
		"--kafka-guarantee", "exactly-once")
	base := metricsBase(t, stderr)
	waitCommitted(t, b, out, n-1, 60*time.Second, stderr)
	waitMetricsCond(t, stderr, "every offset committed", func() bool {
		return b.Committed(group, in, 1)[0] == n
	})
	dead := b.ReadCommitted(dlq, 1, 5*time.Second)
	if len(dead) != 1 || string(dead[0].Key) != string(poison.Key) || string(dead[0].Value) != string(poison.Value) {
		t.Fatalf("dead-letter topic holds %d records (want 1, the refused one as read); stderr:\n%s", len(dead), stderr)
	}
	h := map[string]string{}
	for _, x := range dead[0].Headers {
		h[x.Key] = string(x.Value)
	}
	if h[kafkasink.SourceTopicHeader] != in || h[kafkasink.SourceOffsetHeader] != fmt.Sprint(bad) || h[kafkasink.ErrorHeader] == "" {
		t.Errorf("dead letter headers %v: want the source topic, offset %d and the reason", h, bad)
	}
	got := b.ReadCommitted(out, n, 10*time.Second)
	distinct, dups := checkOutput(t, got)
	if distinct != n-1 || dups != 0 {
		t.Fatalf("read_committed output: %d distinct, %d duplicates; want %d once each", distinct, dups, n-1)
	}
	var page string
	waitMetricsCond(t, stderr, "the transactions counted", func() bool {
		page = scrape(t, base)
		v, _ := metricValue(page, `annotator_kafka_transactions_total{result="committed"}`)
		d, _ := metricValue(page, `annotator_kafka_dead_letters_total{topic="`+in+`"}`)
		return v >= 1 && d == 1
	})
	if v, ok := metricValue(page, `annotator_kafka_transaction_open_seconds`); !ok || v > 5 {
		t.Errorf("annotator_kafka_transaction_open_seconds = %v (found %v), want a small age", v, ok)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
}

// TestKafkaExactlyOncePoisonStops: without a dead-letter topic the
// refused record stops the stage with exit 1 naming it; its transaction
// aborts, so the committed output is exactly the output of the committed
// input offsets, none past the refused record.
func TestKafkaExactlyOncePoisonStops(t *testing.T) {
	b := kafkatest.Start(t)
	const n, bad = 300, 120
	in, out, _ := poisonInput(t, b, n, bad)
	group := b.Name("group")
	cmd, stderr := startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", group,
		"--kafka-out-topic", out, "--kafka-commit-interval", "0", "--kafka-guarantee", "exactly-once")
	if code := exitWithin(t, cmd, 60*time.Second); code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	want := fmt.Sprintf("refused the record at topic %s partition 0 offset %d", in, bad)
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr)
	}
	off := b.Committed(group, in, 1)[0]
	if off > bad {
		t.Errorf("committed offset %d is past the refused record at %d", off, bad)
	}
	got := b.ReadCommitted(out, n, 5*time.Second)
	distinct, dups := checkOutput(t, got)
	if committed := max(off, 0); int64(distinct) != committed || dups != 0 {
		t.Errorf("read_committed output: %d distinct, %d duplicates; want the %d records committed, once each", distinct, dups, committed)
	}
}

// TestKafkaExactlyOnceBrokerRestart: the broker goes away mid-stream and
// comes back on the same port; the stage's transactions resume, and the
// output holds every record exactly once.
func TestKafkaExactlyOnceBrokerRestart(t *testing.T) {
	b := kafkatest.StartLocal(t)
	in, out := b.CreateTopic("in", 2), b.CreateTopic("out", 2)
	group := b.Name("group")
	cmd, stderr := startBin(t, eosArgs(b, in, out, group, b.Name("txn"))...)
	b.Produce(in, records(0, 1000)...)
	waitCommitted(t, b, out, 1000, 60*time.Second, stderr)
	b.Stop()
	time.Sleep(3 * time.Second) // the stage meets a broker that is gone
	b.Restart()
	b.Produce(in, records(1000, 1000)...)
	waitCommitted(t, b, out, 2000, 90*time.Second, stderr)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
	readExactlyOnce(t, b, in, out, 2, stderr)
}

// TestKafkaExactlyOncePartitionsAdded: partitions added to the input topic
// while the stage runs are picked up, from their first record, and their
// records reach the output exactly once.
func TestKafkaExactlyOncePartitionsAdded(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 2), b.CreateTopic("out", 2)
	group := b.Name("group")
	cmd, stderr := startBin(t, eosArgs(b, in, out, group, b.Name("txn"))...)
	b.Produce(in, records(0, 500)...)
	waitCommitted(t, b, out, 500, 60*time.Second, stderr)
	b.AddPartitions(in, 4)
	b.Produce(in, records(500, 1500)...) // keyed: spread over all four
	waitCommitted(t, b, out, 2000, 90*time.Second, stderr)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
	readExactlyOnce(t, b, in, out, 2, stderr)
	committed := b.Committed(group, in, 4)
	if committed[2] <= 0 || committed[3] <= 0 {
		t.Errorf("committed offsets %v: want the added partitions committed", committed)
	}
}

// TestKafkaExactlyOnceDryInputCommits: with a commit interval of ten
// minutes (whose transactions the brokers' default timeout allows), a burst of records still becomes visible to read_committed
// readers once the input runs dry, burst after burst (the second one
// fills batches the first one spent), each record once.
func TestKafkaExactlyOnceDryInputCommits(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 2), b.CreateTopic("out", 2)
	args := append(eosArgs(b, in, out, b.Name("group"), b.Name("txn")), "--kafka-commit-interval", "10m")
	cmd, stderr := startBin(t, args...)
	const per = 3000
	for burst := range 3 {
		b.Produce(in, records(burst*per, per)...)
		waitCommitted(t, b, out, (burst+1)*per, 60*time.Second, stderr)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, stderr)
	}
	readExactlyOnce(t, b, in, out, 2, stderr)
}

// TestKafkaExactlyOnceTopicDeleted: an input topic deleted under the
// exactly-once stage stops it with exit 1 and an error naming the topic,
// as at-least-once; what it committed before stays, once.
func TestKafkaExactlyOnceTopicDeleted(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 2), b.CreateTopic("out", 2)
	cmd, stderr := startBin(t, eosArgs(b, in, out, b.Name("group"), b.Name("txn"))...)
	b.Produce(in, records(0, 200)...)
	waitCommitted(t, b, out, 200, 60*time.Second, stderr)
	b.DeleteTopic(in)
	if code := exitWithin(t, cmd, 60*time.Second); code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	e := stderr.String()
	if !strings.Contains(e, in) || !strings.Contains(e, "does not exist") || !strings.Contains(e, "deleted while consumed") {
		t.Errorf("stderr does not say that topic %s does not exist any more:\n%s", in, e)
	}
	if got := b.ReadCommitted(out, 200, 10*time.Second); len(got) != 200 {
		t.Errorf("read_committed output holds %d records after the stop, want the 200 committed before", len(got))
	}
}
