package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
)

// poisonInput fills a one-partition topic with n records, the one at
// offset bad holding a value that, annotated, is over the output topic's
// max.message.bytes (out is made with that limit).
func poisonInput(t *testing.T, b *kafkatest.Broker, n, bad int) (in, out string, poison kafkago.Message) {
	t.Helper()
	in = b.CreateTopic("in", 1)
	out = b.CreateTopicWith("out", 2, map[string]string{"max.message.bytes": "20000"})
	msgs := records(0, n)
	msgs[bad].Value = append(msgs[bad].Value, strings.Repeat(" p", 15000)...)
	b.Produce(in, msgs[:bad]...)
	b.Produce(in, msgs[bad])
	b.Produce(in, msgs[bad+1:]...)
	return in, out, msgs[bad]
}

// TestKafkaDeadLetter: with --kafka-dlq-topic, a record the output topic
// refuses goes to the dead-letter topic as it was read, with its origin
// and the reason in headers; every other record reaches the output, the
// stage goes on to the end and commits every offset, and the metrics
// count the dead letter.
func TestKafkaDeadLetter(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	b := kafkatest.Start(t)
	const n, bad = 300, 120
	in, out, poison := poisonInput(t, b, n, bad)
	dlq := b.CreateTopic("dlq", 1)
	group := b.Name("group")
	cmd, stderr := startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", group,
		"--kafka-out-topic", out, "--kafka-dlq-topic", dlq, "--kafka-commit-interval", "100ms", "--metrics-addr", "127.0.0.1:0")
	base := metricsBase(t, stderr)
	final := waitOutput(t, b, out, n-1, 60*time.Second, stderr)
	if distinct, _ := checkOutput(t, final); distinct != n-1 {
		t.Fatalf("%d distinct records out, want %d", distinct, n-1)
	}
	for _, m := range final {
		if string(m.Key) == string(poison.Key) {
			t.Fatalf("the refused record %s reached the output", m.Key)
		}
	}
	dead := b.ReadAll(dlq, 1, 20*time.Second)
	if len(dead) != 1 {
		t.Fatalf("dead-letter topic holds %d records, want 1; stderr:\n%s", len(dead), stderr)
	}
	d := dead[0]
	h := map[string]string{}
	for _, x := range d.Headers {
		h[x.Key] = string(x.Value)
	}
	if string(d.Key) != string(poison.Key) || string(d.Value) != string(poison.Value) || h["trace"] != fmt.Sprint(bad) {
		t.Errorf("dead letter key %q, %d value bytes, headers %v: want the record as read", d.Key, len(d.Value), h)
	}
	if h[kafkasink.SourceTopicHeader] != in || h[kafkasink.SourcePartitionHeader] != "0" || h[kafkasink.SourceOffsetHeader] != fmt.Sprint(bad) ||
		!strings.Contains(h[kafkasink.ErrorHeader], "Message Size Too Large") {
		t.Errorf("dead letter headers %v: want the source topic, partition 0, offset %d and the reason", h, bad)
	}
	waitMetricsCond(t, stderr, "the dead letter counted", func() bool {
		v, _ := metricValue(scrape(t, base), `annotator_kafka_dead_letters_total{topic="`+in+`"}`)
		return v == 1
	})
	waitMetricsCond(t, stderr, "every offset committed", func() bool {
		return b.Committed(group, in, 1)[0] == n
	})
	// What an on-call engineer reads: the committed offset, the group's
	// generations and this member's share, the refusals.
	var page string
	waitMetricsCond(t, stderr, "the committed offset on the metrics page", func() bool {
		page = scrape(t, base)
		v, _ := metricValue(page, `annotator_kafka_committed_offset{topic="`+in+`",partition="0"}`)
		return v == n
	})
	for series, want := range map[string]float64{
		`annotator_kafka_rebalances_total`:                               1,
		`annotator_kafka_assigned_partitions`:                            1,
		`annotator_kafka_lag_messages{topic="` + in + `",partition="0"}`: 0,
	} {
		if v, ok := metricValue(page, series); !ok || v != want {
			t.Errorf("%s = %v (found %v), want %v", series, v, ok, want)
		}
	}
	if v, _ := metricValue(page, `annotator_kafka_produce_errors_total{topic="`+out+`",kind="record"}`); v < 1 {
		t.Errorf("produce errors of kind record = %v, want the refusals counted", v)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr)
	}
}

// TestKafkaPoisonStops: without a dead-letter topic the refused record
// stops the stage with exit 1 and an error naming its topic, partition
// and offset, and no offset past it is committed.
func TestKafkaPoisonStops(t *testing.T) {
	b := kafkatest.Start(t)
	const n, bad = 300, 120
	in, out, _ := poisonInput(t, b, n, bad)
	group := b.Name("group")
	cmd, stderr := startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", group,
		"--kafka-out-topic", out, "--kafka-commit-interval", "0")
	if code := exitWithin(t, cmd, 60*time.Second); code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	want := fmt.Sprintf("refused the record at topic %s partition 0 offset %d", in, bad)
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr)
	}
	if off := b.Committed(group, in, 1)[0]; off > bad {
		t.Errorf("committed offset %d is past the refused record at %d", off, bad)
	}
}

// metricsBase waits for the process to log its metrics address.
func metricsBase(t *testing.T, stderr *syncBuffer) string {
	t.Helper()
	addr := regexp.MustCompile(`metrics endpoint listening.* addr=(\S+)`)
	var base string
	waitMetricsCond(t, stderr, "the metrics endpoint", func() bool {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			base = "http://" + m[1]
			return true
		}
		return false
	})
	return base
}

// scrape returns the metrics page.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// metricValue returns the value of one series (name with its labels) on
// a metrics page.
func metricValue(page, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}
