package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/annotator-dev/annotator/catalog"
)

// streamsRun runs the Kafka Streams app as a separate JVM and measures it
// from outside: wall time from starting the process until the output
// topic's end offsets add up to every record, and the process's CPU time
// at that moment, read from /proc.
type streamsRun struct {
	script  string
	threads int
}

func (s *streamsRun) run(ctx context.Context, client *kafkago.Client, addrs []string, in, out, appID string, cat *catalog.Catalog, partitions, n int) (result, error) {
	dir, err := os.MkdirTemp("", "bench-streams-")
	if err != nil {
		return result{}, fmt.Errorf("streams work directory: %w", err)
	}
	defer os.RemoveAll(dir)
	codes := filepath.Join(dir, "codes.tsv")
	if err := writeCodes(codes, cat); err != nil {
		return result{}, err
	}
	// Build (and fetch) before timing, so that only the app's own start-up
	// counts: the script compiles only when the source changed.
	build := exec.CommandContext(ctx, "bash", s.script, "build")
	if outb, err := build.CombinedOutput(); err != nil {
		return result{}, fmt.Errorf("build the Streams app with %s: %w\n%s", s.script, err, outb)
	}

	cmd := exec.Command("bash", s.script, strings.Join(addrs, ","), in, out, appID, codes, strconv.Itoa(s.threads), filepath.Join(dir, "state"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	fmt.Printf("running the Kafka Streams app on %s → %s…\n", in, out)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start %s: %w", s.script, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}

	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{out: nil}}
	for p := 0; p < partitions; p++ {
		req.Topics[out] = append(req.Topics[out], kafkago.LastOffsetOf(p))
	}
	var first time.Time
	deadline := time.Now().Add(10 * time.Minute)
	for {
		select {
		case err := <-exited:
			return result{}, fmt.Errorf("the Streams app exited before producing %d records: %v", n, err)
		case <-time.After(20 * time.Millisecond):
		}
		cpu, cpuErr := procCPU(cmd.Process.Pid)
		now := time.Now()
		resp, err := client.ListOffsets(ctx, req)
		if err != nil {
			stop()
			return result{}, fmt.Errorf("list offsets of %s: %w", out, err)
		}
		var total int64
		for _, po := range resp.Topics[out] {
			total += po.LastOffset
		}
		if total > 0 && first.IsZero() {
			first = now
		}
		if total >= int64(n) {
			stop()
			if cpuErr != nil {
				return result{}, cpuErr
			}
			return result{n: n, elapsed: now.Sub(t0), steady: now.Sub(first), cpu: cpu}, nil
		}
		if now.After(deadline) {
			stop()
			return result{}, fmt.Errorf("the Streams app produced %d of %d records in 10 minutes", total, n)
		}
	}
}

// writeCodes writes the catalog as `annotator codes` lists it: code,
// message, meaning and sources, tab-separated, one variant a line, the
// preferred variant first.
func writeCodes(path string, cat *catalog.Catalog) error {
	var b strings.Builder
	for _, e := range cat.Entries() {
		for _, v := range e.Variants {
			fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", e.Code, v.Message, v.Meaning, strings.Join(v.Sources, ","))
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// procCPU is the user and system CPU time of process pid so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("CPU time of the Streams app: %w", err)
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("CPU time of the Streams app: unexpected /proc/%d/stat %q", pid, b)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("CPU time of the Streams app: /proc/%d/stat: %w", pid, err)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

var reqID = regexp.MustCompile(`req=(\d{8})`)

// compareOutputs reads both output topics and checks that every input
// record came out of both with the same value (duplicates, which
// at-least-once allows, must agree too), and that both annotated the same
// number of records.
func compareOutputs(ctx context.Context, addrs []string, a, b string, n int) error {
	ha, annA, err := readOutput(ctx, addrs, a, n)
	if err != nil {
		return err
	}
	hb, annB, err := readOutput(ctx, addrs, b, n)
	if err != nil {
		return err
	}
	differ := 0
	var sample string
	for id, v := range ha {
		if hb[id] != v {
			if differ == 0 {
				sample = id
			}
			differ++
		}
	}
	fmt.Printf("outputs compared: %d records each, %d and %d annotated, %d differ\n", len(ha), annA, annB, differ)
	if differ > 0 || annA != annB {
		return fmt.Errorf("annotator's and the Streams app's outputs differ (%d records, req=%s first)", differ, sample)
	}
	return nil
}

// readOutput reads topic until every one of the n records has been seen,
// and returns a hash of each record's value by its req= number and how
// many distinct records were annotated.
func readOutput(ctx context.Context, addrs []string, topic string, n int) (map[string]uint64, int, error) {
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: addrs, GroupID: "bench-compare-" + topic, Topic: topic,
		StartOffset: kafkago.FirstOffset, MaxBytes: 4 << 20})
	defer r.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	seen := make(map[string]uint64, n)
	annotated := 0
	for len(seen) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("read %s after %d of %d records: %w", topic, len(seen), n, err)
		}
		id := reqID.FindSubmatch(m.Value)
		if id == nil {
			return nil, 0, fmt.Errorf("%s: a record without req=: %q", topic, m.Value)
		}
		h := fnv.New64a()
		h.Write(m.Value)
		sum := h.Sum64()
		if old, ok := seen[string(id[1])]; ok {
			if old != sum {
				return nil, 0, fmt.Errorf("%s: req=%s came out twice with different values", topic, id[1])
			}
			continue
		}
		seen[string(id[1])] = sum
		if len(m.Value) > 150 {
			annotated++
		}
	}
	return seen, annotated, nil
}
