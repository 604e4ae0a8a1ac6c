package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/catalog"
)

// Every edge case must reach the topic whole: a tail cut at 150 bytes
// would test a different case than its comment says.
func TestRecordCarriesEveryEdgeTail(t *testing.T) {
	for k := range edgeTails {
		i := k*1000 + 505
		r := record(i)
		if len(r) != 150 {
			t.Errorf("record %d is %d bytes, want 150", i, len(r))
		}
		if !bytes.Contains(r, []byte(" "+edgeTails[k]+".")) {
			t.Errorf("record %d lacks edge tail %q whole: %q", i, edgeTails[k], r)
		}
	}
	if !bytes.Contains(record(10), []byte(" error 898001.")) || bytes.Contains(record(11), []byte("898001")) {
		t.Errorf("one in ten records should hold code 898001: %q, %q", record(10), record(11))
	}
}

// The Streams app takes the first variant of a code as the one to show,
// as annotator's text output does; writeCodes must list it first.
func TestWriteCodesListsPreferredVariantFirst(t *testing.T) {
	cat, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/codes.tsv"
	if err := writeCodes(path, cat); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("line %q has %d fields, want 4", line, len(f))
		}
		if _, ok := first[f[0]]; !ok {
			first[f[0]] = f[1] + "|" + f[2]
		}
	}
	// README "Text output": 803001 has no English message and reads
	// " [803001 | 发送消息失败…]" with the sdk/server meaning.
	if got := first["803001"]; got != "|发送消息失败，状态存储异常" {
		t.Errorf("803001 first variant %q", got)
	}
	if got := first["898001"]; got != "User exists|用户已存在" {
		t.Errorf("898001 first variant %q", got)
	}
}

func TestProcCPUCountsThisProcess(t *testing.T) {
	// The kernel counts CPU time in ticks (10 ms), and a busy machine
	// may give a short spin none: spin until it counts, or 10 s pass.
	var cpu time.Duration
	for end := time.Now().Add(10 * time.Second); cpu <= 0 && time.Now().Before(end); {
		for spin := time.Now().Add(10 * time.Millisecond); time.Now().Before(spin); {
		}
		var err error
		if cpu, err = procCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if cpu <= 0 {
		t.Errorf("procCPU(self) = %s after spinning 10 s, want > 0", cpu)
	}
	if _, err := procCPU(-1); err == nil {
		t.Error("procCPU(-1) gave no error")
	}
}

// Both guarantees move every record on the in-process broker (kfake has
// transactions), a read_committed reader finds the exactly-once output
// whole, without duplicates and the same record for record as the
// at-least-once one, and the paced latency stream comes through both.
func TestBothGuaranteesEndToEndOnKfake(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two stages and a latency measurement on kfake")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 5000
	rep, err := run(ctx, config{n: n, partitions: 2, replication: 1, compression: "none", format: "text",
		commit: 100 * time.Millisecond, guarantees: []string{atLeastOnce, exactlyOnce},
		latency: time.Second, latencyRate: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.rows) != 2 || rep.rows[1].guarantee != exactlyOnce {
		t.Fatalf("rows %+v, want at-least-once then exactly-once", rep.rows)
	}
	for _, r := range rep.rows {
		if r.n != n || r.elapsed <= 0 || r.steady <= 0 || r.steady > r.elapsed || r.cpu <= 0 {
			t.Errorf("%s: result %+v", r.name, r.result)
		}
	}
	if len(rep.outputs) != 2 || rep.differ != 0 {
		t.Fatalf("outputs %d, %d records differ", len(rep.outputs), rep.differ)
	}
	eos := rep.outputs[1]
	if eos.records != n || eos.duplicates != 0 || eos.annotated != rep.outputs[0].annotated || eos.annotated == 0 {
		t.Errorf("exactly-once output: %d records, %d duplicates, %d annotated (at-least-once: %d)",
			eos.records, eos.duplicates, eos.annotated, rep.outputs[0].annotated)
	}
	if len(rep.latency) != 2 {
		t.Fatalf("%d latency rows, want 2", len(rep.latency))
	}
	for _, l := range rep.latency {
		if l.sent != 200 || l.got != l.sent || l.p50 <= 0 || l.p99 < l.p50 || l.max < l.p99 {
			t.Errorf("latency of %s: %+v", l.name, l)
		}
	}
}

func TestReqNumber(t *testing.T) {
	for _, c := range []struct {
		v    string
		want int
	}{
		{string(record(1234567)), 1234567},
		{string(record(0)) + " [898001 User exists | 用户已存在]", 0},
		{"no number here", -1},
		{"req=12ab5678", -1},
		{"req=123", -1},
	} {
		if got := reqNumber([]byte(c.v)); got != c.want {
			t.Errorf("reqNumber(%q) = %d, want %d", c.v, got, c.want)
		}
	}
}
