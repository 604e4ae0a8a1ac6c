package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// TestKafkaPartitionsAdded: partitions added to the input topic while the
// stage runs are picked up with a rebalance, from their first record:
// records produced to them before the stage noticed are delivered too.
func TestKafkaPartitionsAdded(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 2), b.CreateTopic("out", 2)
	group := b.Name("group")
	cmd, stderr := startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", group,
		"--kafka-out-topic", out, "--kafka-commit-interval", "100ms")
	b.Produce(in, records(0, 500)...)
	waitOutput(t, b, out, 500, 60*time.Second, stderr)
	b.AddPartitions(in, 4)
	b.Produce(in, records(500, 1500)...) // keyed: spread over all four
	final := waitOutput(t, b, out, 2000, 90*time.Second, stderr)
	distinct, dups := checkOutput(t, final)
	t.Logf("partitions added: %d distinct, %d duplicates", distinct, dups)
	committed := b.Committed(group, in, 4)
	waitMetricsCond(t, stderr, "the new partitions committed", func() bool {
		committed = b.Committed(group, in, 4)
		return committed[2] > 0 && committed[3] > 0
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
	var sum int64
	for _, off := range b.Committed(group, in, 4) {
		sum += off
	}
	if sum != 2000 {
		t.Errorf("committed offsets add up to %d, want 2000", sum)
	}
}

// TestKafkaTopicDeleted: deleting the input topic under the stage stops
// it with exit 1 and an error naming the topic, without rejoining the
// group in a loop meanwhile: each generation the group hands out logs
// "partitions assigned", and a deleted topic made kafka-go's group end
// and rejoin thousands of them a second.
func TestKafkaTopicDeleted(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 2), b.CreateTopic("out", 2)
	cmd, stderr := startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", b.Name("group"),
		"--kafka-out-topic", out, "--kafka-commit-interval", "100ms")
	b.Produce(in, records(0, 200)...)
	waitOutput(t, b, out, 200, 60*time.Second, stderr)
	before := len(stderr.String())
	b.DeleteTopic(in)
	if code := exitWithin(t, cmd, 60*time.Second); code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	e := stderr.String()
	if !strings.Contains(e, in) || !strings.Contains(e, "does not exist") || !strings.Contains(e, "deleted while consumed") {
		t.Errorf("stderr does not say that topic %s does not exist any more:\n%s", in, e)
	}
	// At most one generation a second while the deletion is confirmed
	// (about a second): 10 leaves room for a slow machine.
	if n := strings.Count(e[before:], "partitions assigned"); n > 10 {
		t.Errorf("%d generations after the topic was deleted, want a few; stderr:\n%s", n, e[before:])
	}
}

// TestKafkaTopicDeletedIdleMember: of two instances sharing a topic of
// one partition, the one without a partition learns of the topic's
// deletion only from the group (no fetch of its own fails): it stops too,
// with exit 1 and the same error, without rejoining in a loop meanwhile.
func TestKafkaTopicDeletedIdleMember(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 1), b.CreateTopic("out", 1)
	args := stageArgs(b, in, out, b.Name("group"))
	first, firstErr := startBin(t, args...)
	waitLog(t, firstErr, "partitions assigned")
	second, secondErr := startBin(t, args...)
	waitLog(t, secondErr, "partitions assigned")
	// Both in one generation: the first rejoined when the second came.
	waitMetricsCond(t, firstErr, "the first instance to rejoin", func() bool {
		return strings.Count(firstErr.String(), "partitions assigned") >= 2
	})
	b.Produce(in, records(0, 100)...)
	waitOutput(t, b, out, 100, 60*time.Second, firstErr, secondErr)
	before := []int{len(firstErr.String()), len(secondErr.String())}
	b.DeleteTopic(in)
	for i, c := range []struct {
		cmd    *exec.Cmd
		stderr *syncBuffer
	}{{first, firstErr}, {second, secondErr}} {
		if code := exitWithin(t, c.cmd, 60*time.Second); code != 1 {
			t.Fatalf("instance %d: exit status %d, want 1; stderr:\n%s", i+1, code, c.stderr)
		}
		e := c.stderr.String()
		if !strings.Contains(e, in) || !strings.Contains(e, "deleted while consumed") {
			t.Errorf("instance %d: stderr does not say that topic %s does not exist any more:\n%s", i+1, in, e)
		}
		if n := strings.Count(e[before[i]:], "partitions assigned"); n > 10 {
			t.Errorf("instance %d: %d generations after the topic was deleted, want a few; stderr:\n%s", i+1, n, e[before[i]:])
		}
	}
}

// stream feeds chunks of per records to topic, paced, and closes the
// returned channel when done.
func stream(b *kafkatest.Broker, topic string, chunks, per int, pace time.Duration) <-chan struct{} {
	return streamFrom(b, topic, 0, chunks, per, pace)
}

// streamFrom is stream with the records' ids starting at from.
func streamFrom(b *kafkatest.Broker, topic string, from, chunks, per int, pace time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() { // the stream: ends by itself
		defer close(done)
		for i := 0; i < chunks; i++ {
			b.Produce(topic, records(from+i*per, per)...)
			time.Sleep(pace) // pacing the stream, not synchronising
		}
	}()
	return done
}

// feedUntil feeds chunks of 200 records to topic every 200 ms until stop
// is closed; the returned function waits for the feed to end and returns
// how many records it wrote.
func feedUntil(b *kafkatest.Broker, topic string, stop <-chan struct{}) func() int {
	done := make(chan int, 1)
	go func() { // the stream: until stop
		total := 0
		defer func() { done <- total }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b.Produce(topic, records(i*200, 200)...)
			total = (i + 1) * 200
			time.Sleep(200 * time.Millisecond) // pacing the stream, not synchronising
		}
	}()
	return func() int { return <-done }
}

// waitLog waits until the process's stderr holds s.
func waitLog(t *testing.T, stderr *syncBuffer, s string) {
	t.Helper()
	waitMetricsCond(t, stderr, "the log to say "+s, func() bool { return strings.Contains(stderr.String(), s) })
}

// TestKafkaMembersJoin: one instance runs, two more join mid-stream
// (1 → 3); the partitions are shared out and nothing is lost.
func TestKafkaMembersJoin(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 6), b.CreateTopic("out", 6)
	args := stageArgs(b, in, out, b.Name("group"))
	first, firstErr := startBin(t, args...)
	const chunks, per = 40, 500
	produced := stream(b, in, chunks, per, 50*time.Millisecond)
	waitOutput(t, b, out, 2*per, 60*time.Second, firstErr)
	second, secondErr := startBin(t, args...)
	third, thirdErr := startBin(t, args...)
	for _, e := range []*syncBuffer{secondErr, thirdErr} {
		waitLog(t, e, "partitions assigned")
	}
	<-produced
	final := waitOutput(t, b, out, chunks*per, 90*time.Second, firstErr, secondErr, thirdErr)
	distinct, dups := checkOutput(t, final)
	t.Logf("1 → 3 members: %d distinct, %d duplicates", distinct, dups)
	for i, c := range []*exec.Cmd{first, second, third} {
		c.Process.Signal(syscall.SIGTERM)
		if code := exitWithin(t, c, 30*time.Second); code != 0 {
			t.Errorf("instance %d: exit status %d after SIGTERM", i+1, code)
		}
	}
}

// TestKafkaMemberLeaves: of two instances, one stops with SIGTERM
// mid-stream. It commits what it delivered before leaving, so the other
// takes its partitions over without writing any record twice.
func TestKafkaMemberLeaves(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 4), b.CreateTopic("out", 4)
	args := []string{"--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", b.Name("group"),
		"--kafka-out-topic", out, "--kafka-session-timeout", "6s", "--kafka-commit-interval", "1s"}
	stay, stayErr := startBin(t, args...)
	leave, leaveErr := startBin(t, args...)
	waitLog(t, stayErr, "partitions assigned")
	waitLog(t, leaveErr, "partitions assigned")
	const chunks, per = 40, 500
	produced := stream(b, in, chunks, per, 50*time.Millisecond)
	waitOutput(t, b, out, 4*per, 60*time.Second, stayErr, leaveErr)
	leave.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, leave, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, leaveErr)
	}
	<-produced
	final := waitOutput(t, b, out, chunks*per, 90*time.Second, stayErr, leaveErr)
	distinct, dups := checkOutput(t, final)
	t.Logf("a member leaving: %d distinct, %d duplicates", distinct, dups)
	if dups != 0 {
		t.Errorf("%d records written twice after a member left with SIGTERM, want none; its stderr:\n%s", dups, leaveErr)
	}
	stay.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, stay, 30*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM; stderr:\n%s", code, stayErr)
	}
}
