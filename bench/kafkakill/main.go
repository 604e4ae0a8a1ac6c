// Command kafkakill measures how many records a SIGKILLed member of the
// Kafka stage makes the group write twice, for each commit cadence: two
// instances of the binary share a 4-partition topic fed at a steady rate,
// one is killed mid-stream, and once the survivor has written every
// record the output topic is counted.
//
//	go run ./bench/kafkakill                               # in-process kfake broker
//	go run ./bench/kafkakill -brokers 127.0.0.1:9092 -runs 5
//
// Each run prints its duplicates; the summary gives, per cadence, the
// fewest, the median and the most.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	brokers := flag.String("brokers", os.Getenv("ANNOTATOR_KAFKA_BROKERS"), "brokers (default: an in-process kfake broker)")
	runs := flag.Int("runs", 5, "kills per cadence")
	rate := flag.Int("rate", 20000, "records per second fed to the input topic")
	seconds := flag.Float64("seconds", 4, "how long the input is fed")
	cadences := flag.String("intervals", "1s,100ms,0", "--kafka-commit-interval values to compare")
	rf := flag.Int("replication", 1, "replication factor of the topics")
	flag.Parse()
	if err := run(*brokers, *runs, *rate, *seconds, strings.Split(*cadences, ","), *rf); err != nil {
		log.Fatal(err)
	}
}

func run(brokers string, runs, rate int, seconds float64, cadences []string, rf int) error {
	if brokers == "" {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
		if err != nil {
			return err
		}
		defer c.Close()
		brokers = strings.Join(c.ListenAddrs(), ",")
	}
	dir, err := os.MkdirTemp("", "kafkakill")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "annotator")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/annotator").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	addrs := strings.Split(brokers, ",")
	results := map[string][]int{}
	for _, cad := range cadences {
		for r := 0; r < runs; r++ {
			dups, err := once(bin, addrs, cad, rate, seconds, rf)
			if err != nil {
				return fmt.Errorf("interval %s, run %d: %w", cad, r+1, err)
			}
			fmt.Printf("interval %-6s run %d: %d duplicates\n", cad, r+1, dups)
			results[cad] = append(results[cad], dups)
		}
	}
	fmt.Printf("\n%d records/s for %.0f s, 4 partitions, 2 instances, one SIGKILLed mid-stream, %d runs each\n", rate, seconds, runs)
	fmt.Println("| --kafka-commit-interval | fewest | median | most |")
	fmt.Println("|---|---|---|---|")
	for _, cad := range cadences {
		d := slices.Sorted(slices.Values(results[cad]))
		fmt.Printf("| %s | %d | %d | %d |\n", cad, d[0], d[len(d)/2], d[len(d)-1])
	}
	return nil
}

type stderrBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *stderrBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *stderrBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// once runs one kill and returns the duplicates in the output.
func once(bin string, addrs []string, cadence string, rate int, seconds float64, rf int) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tr := &kafkago.Transport{DialTimeout: 5 * time.Second, MetadataTTL: time.Second}
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(addrs...), Transport: tr, Timeout: 30 * time.Second}
	suffix := fmt.Sprint(time.Now().UnixNano())
	in, out := "kill-in-"+suffix, "kill-out-"+suffix
	resp, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{
		{Topic: in, NumPartitions: 4, ReplicationFactor: rf},
		{Topic: out, NumPartitions: 4, ReplicationFactor: rf},
	}})
	if err != nil {
		return 0, fmt.Errorf("create topics: %w", err)
	}
	for _, e := range resp.Errors {
		if e != nil {
			return 0, fmt.Errorf("create topics: %w", e)
		}
	}
	time.Sleep(time.Second) // let the leaders settle before the stream starts

	args := []string{"--kafka-brokers", strings.Join(addrs, ","), "--kafka-topic", in, "--kafka-group", "kill-" + suffix,
		"--kafka-out-topic", out, "--kafka-session-timeout", "6s", "--kafka-commit-interval", cadence, "--log-level", "warn"}
	var procs []*exec.Cmd
	var logs []*stderrBuf
	for i := 0; i < 2; i++ {
		cmd := exec.Command(bin, args...)
		e := &stderrBuf{}
		cmd.Stderr = e
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		defer func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		}()
		procs = append(procs, cmd)
		logs = append(logs, e)
	}
	// Both join before the stream starts, so the kill hits a member in
	// full flow rather than one still joining.
	time.Sleep(4 * time.Second)

	total := int(float64(rate) * seconds)
	fed := make(chan error, 1)
	go func() { fed <- feed(ctx, addrs, in, rate, total) }()
	time.Sleep(time.Duration(seconds / 2 * float64(time.Second)))
	// How far the output is behind the input when the kill comes: what
	// a kill repeats grows with the records in flight.
	inEnd, err1 := endOffsets(ctx, client, in)
	outEnd, err2 := endOffsets(ctx, client, out)
	if err := procs[0].Process.Kill(); err != nil {
		return 0, err
	}
	if err1 == nil && err2 == nil {
		fmt.Printf("interval %-6s: at the kill the output was %d records behind the input (%d fed)\n", cadence, inEnd-outEnd, inEnd)
	}
	procs[0].Wait()
	if err := <-fed; err != nil {
		return 0, err
	}
	seen, err := drain(ctx, client, out, total)
	if err != nil {
		return 0, fmt.Errorf("%w; survivor's stderr:\n%s", err, logs[1])
	}
	procs[1].Process.Signal(syscall.SIGTERM)
	procs[1].Wait()
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{in, out}})
	return dups, nil
}

// endOffsets is the sum of the end offsets of topic's 4 partitions.
func endOffsets(ctx context.Context, c *kafkago.Client, topic string) (int64, error) {
	var reqs []kafkago.OffsetRequest
	for p := 0; p < 4; p++ {
		reqs = append(reqs, kafkago.LastOffsetOf(p))
	}
	resp, err := c.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	var sum int64
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return 0, fmt.Errorf("end offsets of %s: %w", topic, po.Error)
		}
		sum += po.LastOffset
	}
	return sum, nil
}

// feed writes total records to topic at rate records per second.
func feed(ctx context.Context, addrs []string, topic string, rate, total int) error {
	tr := &kafkago.Transport{DialTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	w := &kafkago.Writer{Addr: kafkago.TCP(addrs...), Topic: topic, Transport: tr, Balancer: &kafkago.RoundRobin{},
		RequiredAcks: kafkago.RequireAll, BatchSize: 10000, BatchTimeout: time.Millisecond}
	defer w.Close()
	const tick = 50 * time.Millisecond
	per := max(1, rate*int(tick/time.Millisecond)/1000)
	start := time.Now()
	for i := 0; i < total; i += per {
		msgs := make([]kafkago.Message, 0, per)
		for j := i; j < min(i+per, total); j++ {
			v := fmt.Sprintf("2024-05-01T12:00:00.000Z INFO im-gateway req=%08d action=send_message", j)
			if j%10 == 0 {
				v += " error 898001"
			}
			msgs = append(msgs, kafkago.Message{Key: fmt.Appendf(nil, "k%d", j), Value: []byte(v)})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("feed: %w", err)
		}
		// Pacing the stream to the rate, not synchronising.
		time.Sleep(time.Until(start.Add(time.Duration(i/per+1) * tick)))
	}
	return nil
}

// drain reads the output topic until it holds want distinct keys and
// returns how often each arrived.
func drain(ctx context.Context, c *kafkago.Client, topic string, want int) (map[string]int, error) {
	seen := map[string]int{}
	next := make([]int64, 4)
	deadline := time.Now().Add(2 * time.Minute)
	for len(seen) < want {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("output holds %d distinct records of %d after 2 minutes", len(seen), want)
		}
		for p := range next {
			resp, err := c.Fetch(ctx, &kafkago.FetchRequest{Topic: topic, Partition: p, Offset: next[p],
				MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
			if err != nil || resp.Error != nil {
				continue
			}
			for {
				r, err := resp.Records.ReadRecord()
				if err != nil {
					break
				}
				if r.Offset < next[p] {
					continue
				}
				var k bytes.Buffer
				k.ReadFrom(r.Key)
				seen[k.String()]++
				next[p] = r.Offset + 1
			}
		}
	}
	return seen, nil
}
