package main

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// TestKafkaLagMetrics: the lag of each partition shows on the metrics
// endpoint of the running binary. While standard output is not read the
// sink cannot take the records, so every partition lags; once the output
// is read, every lag falls to 0 and the committed offsets reach the end.
func TestKafkaLagMetrics(t *testing.T) {
	b := kafkatest.Start(t)
	topic := b.CreateTopic("lag", 2)
	group := b.Name("group")
	// About 1.5 MB of output: far more than a pipe holds, so the sink
	// stalls with records of both partitions undelivered.
	const n = 20000
	b.Produce(topic, records(0, n)...)

	cmd := exec.Command(binary, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", topic,
		"--kafka-group", group, "--kafka-commit-interval", "100ms", "--metrics-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := startCmd(t, cmd)

	addr := regexp.MustCompile(`metrics endpoint listening.* addr=(\S+)`)
	var base string
	waitMetricsCond(t, stderr, "the metrics endpoint", func() bool {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			base = "http://" + m[1]
			return true
		}
		return false
	})
	series := regexp.MustCompile(`(?m)^annotator_kafka_lag_messages\{topic="` + regexp.QuoteMeta(topic) + `",partition="(\d+)"\} (\S+)$`)
	lag := func() map[string]float64 {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, m := range series.FindAllStringSubmatch(string(body), -1) {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				t.Fatalf("lag of partition %s: %q", m[1], m[2])
			}
			out[m[1]] = v
		}
		return out
	}

	var stalled map[string]float64
	waitMetricsCond(t, stderr, "every partition lagging while the output is not read", func() bool {
		stalled = lag()
		return len(stalled) == 2 && stalled["0"] > 0 && stalled["1"] > 0
	})
	if sum := stalled["0"] + stalled["1"]; sum > n {
		t.Fatalf("lags %v add up to more than the %d records produced", stalled, n)
	}

	var lines atomic.Int64
	read := make(chan error, 1)
	go func() { // ends when the process closes its standard output
		buf := make([]byte, 64<<10)
		for {
			k, err := stdout.Read(buf)
			lines.Add(int64(bytes.Count(buf[:k], []byte{'\n'})))
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				read <- err
				return
			}
		}
	}()
	waitMetricsCond(t, stderr, "every record written", func() bool { return lines.Load() >= n })
	var last map[string]float64
	waitMetricsCond(t, stderr, "every lag falling to 0", func() bool {
		last = lag()
		return len(last) == 2 && last["0"] == 0 && last["1"] == 0
	})
	waitMetricsCond(t, stderr, "every offset committed", func() bool {
		var sum int64
		for _, off := range b.Committed(group, topic, 2) {
			sum += off
		}
		return sum == n
	})
	t.Logf("lag while stalled %v, after delivery %v", stalled, last)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The output is read to its end before Wait, which closes the pipe.
	select {
	case err := <-read:
		if err != nil {
			t.Fatalf("reading the output: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("standard output not closed within 30 s of SIGTERM; stderr:\n%s", stderr)
	}
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, stderr)
	}
	if got := lines.Load(); got != n {
		t.Errorf("%d lines out, want %d", got, n)
	}
}

// waitMetricsCond polls cond until it holds, failing with the process's stderr
// after a generous deadline.
func waitMetricsCond(t *testing.T, stderr *syncBuffer, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up; stderr:\n%s", what, stderr)
		}
		time.Sleep(20 * time.Millisecond) // polling the process
	}
}
