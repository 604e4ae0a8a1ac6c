package main

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// Consuming Kafka, the timeline counts each record at its record
// timestamp, not at a time its text states.
func TestTimelineKafkaRecordTime(t *testing.T) {
	b := kafkatest.Start(t)
	in := b.CreateTopic("in", 1)
	when := time.Date(2026, 12, 4, 10, 20, 30, 0, time.UTC)
	b.Produce(in,
		kafkago.Message{Value: []byte("2020-01-01T00:00:00Z send failed 871310"), Time: when},
		kafkago.Message{Value: []byte("no code"), Time: when.Add(time.Minute)},
		kafkago.Message{Value: []byte("2020-01-01T00:00:00Z send failed 871310"), Time: when.Add(2 * time.Minute)})
	cmd := exec.Command(binary, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", b.Name("g"),
		"--summary", "--timeline", "--bucket", "1m")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := startCmd(t, cmd)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for n := 0; n < 3; n++ {
		select {
		case <-lines:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of 3 records out; stderr:\n%s", n, stderr)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for range lines {
		}
	}()
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "Timeline: 2026-12-04 10:20:00 to 2026-12-04 10:23:00 UTC, 1m per column (3)"
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "871310  @ @") {
		t.Errorf("stderr:\n%s\nwant %q and a row with the two records", stderr, want)
	}
}
