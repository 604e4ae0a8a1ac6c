package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/kafkatest"
)

// TestKafkaFromConfigFile: the [kafka] and [sinks.kafka] sections of the
// config file drive a run exactly as the flags do.
func TestKafkaFromConfigFile(t *testing.T) {
	b := kafkatest.Start(t)
	out := b.CreateTopic("cfg-out", 1)
	brokers := `"` + strings.Join(b.Addrs, `", "`) + `"`
	cfg := filepath.Join(t.TempDir(), "annotator.toml")
	os.WriteFile(cfg, []byte("[kafka]\nbrokers = ["+brokers+"]\nconnect_timeout = \"20s\"\n\n[sinks.kafka]\ntopic = \""+out+"\"\ncompression = \"lz4\"\n"), 0o644)
	r := runBin(t, strings.NewReader("a 898001\nb\n"), "-c", cfg)
	if r.code != 0 || len(r.stdout) != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	got := b.ReadAll(out, 2, 20*time.Second)
	if len(got) != 2 || string(got[0].Value) != "a 898001"+note898001 || string(got[1].Value) != "b" {
		t.Fatalf("produced %d messages: %v", len(got), got)
	}
}

// TestKafkaConfigErrors: typos and bad values in the Kafka sections name
// the file, line and key.
func TestKafkaConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{"[sinks.kafka]\ntopik = \"x\"\n", `:2: unknown key "sinks.kafka.topik"`},
		{"[kafka]\nsasl = \"md5\"\n", `:2: key "kafka.sasl"`},
		{"[inputs.kafka]\ncommit_interval = \"soon\"\n", `:2: key "inputs.kafka.commit_interval"`},
		{"[inputs.kafka]\ncommit_interval = \"-1s\"\n", `:2: key "inputs.kafka.commit_interval"`},
		{"[sinks.kafka]\ndlq_topic = 5\n", `:2: key "sinks.kafka.dlq_topic"`},
		{"[kafka]\nbrokers = \"one\"\n", `:2: key "kafka.brokers"`},
		{"[sinks.kafka]\ntimestamp = \"now\"\n", `:2: key "sinks.kafka.timestamp"`},
	} {
		cfg := filepath.Join(dir, "c.toml")
		os.WriteFile(cfg, []byte(tc.body), 0o644)
		r := runBin(t, strings.NewReader(""), "-c", cfg)
		if r.code != 2 || !strings.Contains(string(r.stderr), cfg+tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", tc.body, r.code, r.stderr, cfg+tc.want)
		}
	}
}

// TestKafkaOutputSettingsNeedTopic: settings of the Kafka output given
// without an output topic are a usage error naming what is missing, not
// ignored.
func TestKafkaOutputSettingsNeedTopic(t *testing.T) {
	for _, args := range [][]string{
		{"--kafka-dlq-topic", "d"},
		{"--kafka-timestamp", "produce"},
		{"--kafka-compression", "lz4"},
	} {
		r := runBin(t, strings.NewReader("x\n"), args...)
		if want := args[0] + " needs --kafka-out-topic"; r.code != 2 || !strings.Contains(string(r.stderr), want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", args, r.code, r.stderr, want)
		}
	}
}
