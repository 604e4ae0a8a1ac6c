package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
)

// syncBuffer is a stderr that tests read while the process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBin starts the binary in the background.
func startBin(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	return cmd, startCmd(t, cmd)
}

// startCmd starts cmd (its stdout already set up by the caller) with
// stderr kept, and kills it when the test ends if it is still running.
func startCmd(t *testing.T, cmd *exec.Cmd) *syncBuffer {
	t.Helper()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return stderr
}

func records(from, n int) []kafkago.Message {
	msgs := make([]kafkago.Message, n)
	for i := range msgs {
		id := from + i
		msgs[i] = kafkago.Message{
			Key:     []byte(fmt.Sprintf("k%d", id)),
			Value:   []byte(fmt.Sprintf("id=%d send failed: 898001", id)),
			Headers: []kafkago.Header{{Key: "trace", Value: []byte(fmt.Sprint(id))}},
		}
	}
	return msgs
}

// checkOutput checks every output message against the record it came from
// and returns how many distinct records arrived and how many duplicates.
func checkOutput(t *testing.T, out []kafkago.Message) (distinct, dups int) {
	t.Helper()
	seen := map[string]int{}
	for _, m := range out {
		var id int
		if _, err := fmt.Sscanf(string(m.Key), "k%d", &id); err != nil {
			t.Fatalf("output key %q is not a record's", m.Key)
		}
		want := fmt.Sprintf("id=%d send failed: 898001"+note898001, id)
		if string(m.Value) != want {
			t.Fatalf("output %q, want %q", m.Value, want)
		}
		if len(m.Headers) != 2 || m.Headers[0].Key != "trace" || string(m.Headers[0].Value) != fmt.Sprint(id) ||
			m.Headers[1].Key != kafkasink.CodesHeader || string(m.Headers[1].Value) != "898001" {
			t.Fatalf("output %q headers %v: want the trace header kept and the codes header", m.Key, m.Headers)
		}
		seen[string(m.Key)]++
	}
	return len(seen), len(out) - len(seen)
}

// waitOutput polls the output topic until it holds want distinct records.
func waitOutput(t *testing.T, b *kafkatest.Broker, topic string, want int, timeout time.Duration, procs ...*syncBuffer) []kafkago.Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := b.ReadAll(topic, want, 3*time.Second)
		if n, _ := checkOutput(t, out); n >= want {
			return out
		}
		if time.Now().After(deadline) {
			n, _ := checkOutput(t, out)
			var logs []string
			for _, p := range procs {
				logs = append(logs, p.String())
			}
			t.Fatalf("output holds %d distinct records, want %d; stderr:\n%s", n, want, strings.Join(logs, "\n---\n"))
		}
	}
}

func exitWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("no exit within %s", d)
		return -1
	}
}

// TestKafkaKillAtLeastOnce: two instances share a four-partition topic;
// one is SIGKILLed mid-stream. Every record still reaches the output
// topic, annotated, with its key and headers; the duplicates are those
// the killed instance had produced but not yet committed. The survivor
// then stops on SIGTERM with exit 0, every offset committed.
func TestKafkaKillAtLeastOnce(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 4), b.CreateTopic("out", 4)
	group := b.Name("group")
	args := stageArgs(b, in, out, group)
	a, aErr := startBin(t, args...)
	c, cErr := startBin(t, args...)

	const chunks, per = 40, 500
	produced := make(chan struct{})
	go func() { // the stream: ends by itself
		defer close(produced)
		for i := 0; i < chunks; i++ {
			b.Produce(in, records(i*per, per)...)
			time.Sleep(25 * time.Millisecond) // pacing the stream, not synchronising
		}
	}()
	waitOutput(t, b, out, 4*per, 60*time.Second, aErr, cErr)
	// Kill a only once it is a full member holding partitions: a member
	// killed halfway through joining is a different case, which the
	// in-process broker does not expire (the survivor then waits on it
	// for good).
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
	<-produced
	final := waitOutput(t, b, out, chunks*per, 90*time.Second, aErr, cErr)
	distinct, dups := checkOutput(t, final)
	t.Logf("kill test: %d records in, %d distinct out, %d duplicates", chunks*per, distinct, dups)

	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitWithin(t, c, 30*time.Second); code != 0 {
		t.Fatalf("survivor exit status %d after SIGTERM; stderr:\n%s", code, cErr)
	}
	var committed int64
	for _, off := range b.Committed(group, in, 4) {
		committed += off
	}
	if committed != chunks*per {
		t.Errorf("committed offsets add up to %d after SIGTERM, want %d", committed, chunks*per)
	}
}

// TestKafkaBrokerRestart: the broker goes away mid-stream and comes back
// on the same port; the stage retries, loses nothing and resumes.
func TestKafkaBrokerRestart(t *testing.T) {
	b := kafkatest.StartLocal(t)
	in, out := b.CreateTopic("in", 2), b.CreateTopic("out", 2)
	group := b.Name("group")
	cmd, stderr := startBin(t, stageArgs(b, in, out, group)...)
	b.Produce(in, records(0, 1000)...)
	waitOutput(t, b, out, 1000, 60*time.Second, stderr)
	b.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "retrying") {
		if time.Now().After(deadline) {
			t.Fatalf("no retry logged while the broker was down; stderr:\n%s", stderr)
		}
		time.Sleep(50 * time.Millisecond) // polling the log
	}
	b.Restart()
	b.Produce(in, records(1000, 1000)...)
	final := waitOutput(t, b, out, 2000, 90*time.Second, stderr)
	distinct, dups := checkOutput(t, final)
	t.Logf("broker restart: %d distinct, %d duplicates", distinct, dups)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
}

// TestKafkaFromStdin: lines from a pipe become one message each, a line
// longer than the read buffer included, with the codes header.
func TestKafkaFromStdin(t *testing.T) {
	b := kafkatest.Start(t)
	out := b.CreateTopic("out", 1)
	long := strings.Repeat("x", 5000) + " 898001 " + strings.Repeat("y", 3000)
	in := "first 898001\nplain\n" + long + "\r\nlast 871310"
	r := runBin(t, strings.NewReader(in), "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-out-topic", out, "--buffer-size", "64")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if len(r.stdout) != 0 {
		t.Errorf("stdout %q, want nothing: the output went to Kafka", r.stdout)
	}
	got := b.ReadAll(out, 4, 20*time.Second)
	if len(got) != 4 {
		t.Fatalf("%d messages, want 4", len(got))
	}
	want := []string{"first 898001" + note898001, "plain", long + note898001}
	for i, w := range want {
		if string(got[i].Value) != w {
			t.Errorf("message %d = %.60q…, want %.60q…", i, got[i].Value, w)
		}
	}
	if !strings.HasPrefix(string(got[3].Value), "last 871310 [871310") {
		t.Errorf("last message %q", got[3].Value)
	}
	if len(got[2].Headers) != 1 || string(got[2].Headers[0].Value) != "898001" || len(got[1].Headers) != 0 {
		t.Errorf("headers %v / %v", got[2].Headers, got[1].Headers)
	}

	// --kafka-batch-timeout was removed: the command line refuses it; an
	// older config file's key still loads, with a warning saying so.
	old := b.CreateTopic("old", 1)
	r = runBin(t, strings.NewReader("again 898001\n"), "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-out-topic", old, "--kafka-batch-timeout", "5ms")
	if r.code != 2 || !strings.Contains(string(r.stderr), "--kafka-batch-timeout was removed") {
		t.Fatalf("with --kafka-batch-timeout: exit %d, stderr %s", r.code, r.stderr)
	}
	cfg := writeFile(t, t.TempDir(), "old.toml", "[sinks.kafka]\nbatch_timeout = \"5ms\"\n")
	r = runBin(t, strings.NewReader("again 898001\n"), "-c", cfg, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-out-topic", old)
	if r.code != 0 || !strings.Contains(string(r.stderr), "sinks.kafka batch_timeout has no effect") {
		t.Fatalf("with batch_timeout in a config file: exit %d, stderr %s", r.code, r.stderr)
	}
	if got := b.ReadAll(old, 1, 20*time.Second); len(got) != 1 || string(got[0].Value) != "again 898001"+note898001 {
		t.Errorf("with --kafka-batch-timeout: %d messages %v", len(got), got)
	}
}

// TestKafkaStartErrors: each start-up problem gets an error naming it.
func TestKafkaStartErrors(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	b := kafkatest.Start(t)
	brokers := strings.Join(b.Addrs, ",")
	dead := kafkatest.FreePort(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kafka-brokers", brokers, "--kafka-topic", "no-such-topic", "--kafka-group", "g"}, `topic "no-such-topic" does not exist`},
		{[]string{"--kafka-brokers", brokers, "--kafka-out-topic", "no-such-out"}, `topic "no-such-out" does not exist`},
		{[]string{"--kafka-brokers", dead, "--kafka-out-topic", "t", "--kafka-connect-timeout", "1s"}, "brokers " + dead + " unreachable"},
		{[]string{"--kafka-out-topic", "t"}, "no Kafka brokers"},
		{[]string{"--kafka-brokers", brokers, "--kafka-out-topic", "t", "--kafka-sasl", "gssapi", "--kafka-sasl-user", "u"}, `--kafka-sasl "gssapi"`},
	} {
		r := runBin(t, strings.NewReader(""), tc.args...)
		if r.code == 0 || !strings.Contains(string(r.stderr), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestKafkaSASL: PLAIN and SCRAM credentials are accepted when right and
// refused with a clear error when wrong (kfake with SASL enabled).
func TestKafkaSASL(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "alice", "right"),
		kfake.Superuser("SCRAM-SHA-256", "bob", "right"),
		kfake.Superuser("SCRAM-SHA-512", "carol", "right"),
		kfake.SeedTopics(1, "sasl-out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	for _, tc := range []struct{ mech, user string }{{"plain", "alice"}, {"scram-sha-256", "bob"}, {"scram-sha-512", "carol"}} {
		args := []string{"--kafka-brokers", brokers, "--kafka-out-topic", "sasl-out", "--kafka-sasl", tc.mech, "--kafka-sasl-user", tc.user}
		r := runBin(t, strings.NewReader("x 898001\n"), append(args, "--kafka-sasl-password", "right")...)
		if r.code != 0 {
			t.Errorf("%s with the right password: exit %d: %s", tc.mech, r.code, r.stderr)
		}
		r = runBin(t, strings.NewReader("x 898001\n"), append(args, "--kafka-sasl-password", "wrong")...)
		if r.code == 0 || !strings.Contains(string(r.stderr), "refused the credentials") {
			t.Errorf("%s with a wrong password: exit %d, stderr %q", tc.mech, r.code, r.stderr)
		}
	}
}

// TestKafkaKeepsRecordTime: a record's output keeps the record's
// timestamp (event time, as a Kafka Streams app's output does), unless
// --kafka-timestamp produce asks for the time of producing; a line from
// standard input gets the time it was produced.
func TestKafkaKeepsRecordTime(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 1), b.CreateTopic("out", 1)
	when := time.Date(2021, 3, 4, 5, 6, 7, 89e6, time.UTC)
	b.Produce(in, kafkago.Message{Value: []byte("old 898001"), Time: when}, kafkago.Message{Value: []byte("older"), Time: when.Add(-time.Hour)})
	cmd, stderr := startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", b.Name("g"),
		"--kafka-out-topic", out)
	got := b.ReadAll(out, 2, 30*time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	exitWithin(t, cmd, 30*time.Second)
	if len(got) != 2 || !got[0].Time.Equal(when) || !got[1].Time.Equal(when.Add(-time.Hour)) {
		t.Fatalf("outputs %v, want the input records' times %s and an hour before; stderr:\n%s", got, when, stderr)
	}

	// --kafka-timestamp produce stamps the time of producing instead.
	stamped := b.CreateTopic("stamped", 1)
	before := time.Now().Add(-time.Minute)
	cmd, stderr = startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", b.Name("g"),
		"--kafka-out-topic", stamped, "--kafka-timestamp", "produce")
	got = b.ReadAll(stamped, 2, 30*time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	exitWithin(t, cmd, 30*time.Second)
	if len(got) != 2 || got[0].Time.Before(before) || got[1].Time.Before(before) {
		t.Fatalf("with --kafka-timestamp produce: outputs %v, want the time they were produced; stderr:\n%s", got, stderr)
	}
	r := runBin(t, nil, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-out-topic", stamped, "--kafka-timestamp", "now")
	if r.code != 2 || !strings.Contains(string(r.stderr), `--kafka-timestamp "now": want input or produce`) {
		t.Errorf("--kafka-timestamp now: exit %d, stderr %s", r.code, r.stderr)
	}

	lines := b.CreateTopic("lines", 1)
	if r := runBin(t, strings.NewReader("a line 898001\n"), "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-out-topic", lines); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := b.ReadAll(lines, 1, 30*time.Second); len(got) != 1 || got[0].Time.Before(before) {
		t.Fatalf("line output %v: want the time it was produced", got)
	}
}

// TestKafkaLineLimitFollowsTopic: a line from standard input may be as
// long as the output topic's max.message.bytes allows: 2 MiB goes to a
// topic taking 3 MiB, and stops the run with an error naming the line
// for a topic at Kafka's default of 1 MiB.
func TestKafkaLineLimitFollowsTopic(t *testing.T) {
	b := kafkatest.Start(t)
	large := b.CreateTopicWith("large", 1, map[string]string{"max.message.bytes": fmt.Sprint(3 << 20)})
	line := strings.Repeat("z", 2<<20) + " 898001"
	r := runBin(t, strings.NewReader("short\n"+line+"\n"), "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-out-topic", large)
	if r.code != 0 {
		t.Fatalf("a 2 MiB line to a topic taking 3 MiB: exit %d: %s", r.code, r.stderr)
	}
	got := b.ReadAll(large, 2, 30*time.Second)
	if len(got) != 2 || string(got[1].Value) != line+note898001 {
		t.Fatalf("%d messages; want the short line and the 2 MiB one annotated", len(got))
	}

	def := b.CreateTopic("default", 1)
	r = runBin(t, strings.NewReader("short\n"+line+"\n"), "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-out-topic", def)
	if r.code != 1 || !strings.Contains(string(r.stderr), "line 2 of standard input is longer than") {
		t.Fatalf("a 2 MiB line to a topic at the default limit: exit %d, stderr %s", r.code, r.stderr)
	}
}

// stageArgs are the arguments of a Kafka→Kafka stage in group, with a
// short session and commit interval so that tests of members coming and
// going run quickly.
func stageArgs(b *kafkatest.Broker, in, out, group string) []string {
	return []string{"--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", group,
		"--kafka-out-topic", out, "--kafka-session-timeout", "6s", "--kafka-commit-interval", "100ms"}
}
