// Command stagerss measures the peak memory of the annotator binary as a
// Kafka stage, for the resource requests of deploy/kubernetes: it fills an
// input topic on an in-process broker, runs the binary until every record
// is in the output topic, stops it with SIGTERM and reports its peak RSS
// and CPU time.
//
//	CGO_ENABLED=0 go build -o /tmp/annotator ./cmd/annotator
//	go run ./bench/stagerss -bin /tmp/annotator [-records 500000] [-size 150] [-format json]
//	        [-gctrace] [-stage-args '--kafka-max-in-flight 8MiB'] [-stage-env GOMEMLIMIT=64MiB]
//
// The peak RSS is the stage's own high-water mark (VmHWM), read while it
// runs. ru_maxrss, which wait4 gives, is reported beside it but is not the
// stage's: Go starts the stage with vfork, and Linux counts this process's
// RSS at that moment (the broker holding the whole backlog) into the
// child's maximum. -gctrace runs the stage with GODEBUG=gctrace=1 and
// reports the largest heap its garbage collector saw, and the largest
// heap left live after a collection.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/annotator-dev/annotator/internal/peakrss"
)

func main() {
	bin := flag.String("bin", "annotator", "the annotator binary")
	n := flag.Int("records", 500_000, "records to move")
	partitions := flag.Int("partitions", 4, "partitions of each topic")
	size := flag.Int("size", 150, "bytes per record")
	format := flag.String("format", "text", "output format")
	gctrace := flag.Bool("gctrace", false, "run the stage with GODEBUG=gctrace=1 and report its largest heap")
	stageArgs := flag.String("stage-args", "", "more flags for the stage, space-separated (-stage-args '--kafka-max-in-flight 8MiB')")
	stageEnv := flag.String("stage-env", "", "environment variables for the stage, space-separated (-stage-env GOMEMLIMIT=64MiB)")
	flag.Parse()
	env := append(os.Environ(), strings.Fields(*stageEnv)...)
	if *gctrace {
		env = append(env, "GODEBUG=gctrace=1")
	}
	if err := run(*bin, *n, *partitions, *size, *format, strings.Fields(*stageArgs), env, *gctrace); err != nil {
		log.Fatal(err)
	}
}

func run(bin string, n, partitions, size int, format string, stageArgs, env []string, gctrace bool) error {
	ctx := context.Background()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return err
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(addrs...), Transport: tr, Timeout: 30 * time.Second}
	if _, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{
		{Topic: "in", NumPartitions: partitions, ReplicationFactor: 1},
		{Topic: "out", NumPartitions: partitions, ReplicationFactor: 1},
	}}); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	time.Sleep(time.Second)
	w := &kafkago.Writer{Addr: kafkago.TCP(addrs...), Topic: "in", Transport: tr, Balancer: &kafkago.RoundRobin{},
		BatchSize: 10000, BatchTimeout: time.Millisecond}
	msgs := make([]kafkago.Message, 0, 20000)
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("2024-05-01T12:00:00.000Z INFO im-gateway req=%08d user=alice%06d action=send_message", i, i%1000)
		if i%10 == 0 {
			v += " error 898001"
		}
		v += strings.Repeat(".", max(0, size-len(v)))
		msgs = append(msgs, kafkago.Message{Value: []byte(v[:size])})
		if len(msgs) == cap(msgs) || len(msgs)*size >= 16<<20 || i == n-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return fmt.Errorf("fill: %w", err)
			}
			msgs = msgs[:0]
		}
	}
	w.Close()

	cmd := exec.Command(bin, append([]string{"--kafka-brokers", strings.Join(addrs, ","), "--kafka-topic", "in",
		"--kafka-group", "stage", "--kafka-out-topic", "out", "--format", format, "--log-level", "warn"}, stageArgs...)...)
	cmd.Stderr = os.Stderr
	cmd.Env = env
	var heap chan gcPeak
	if gctrace {
		r, w := io.Pipe()
		cmd.Stderr = w
		heap = make(chan gcPeak, 1)
		go func() { // ends when the stage's stderr closes
			heap <- readGCTrace(r, os.Stderr)
		}()
		defer w.Close()
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	peak := peakrss.Watch(cmd.Process.Pid, 20*time.Millisecond)
	for {
		time.Sleep(200 * time.Millisecond)
		got, err := produced(ctx, client, partitions)
		if err != nil {
			return err
		}
		if got >= int64(n) {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("only %d of %d records after 5 minutes", got, n)
		}
	}
	elapsed := time.Since(start)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("annotator: %w", err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("%d records of %d bytes (%s) in %s: peak RSS %.1f MiB (ru_maxrss, with this process's memory: %.1f MiB), CPU %s (%.0f%% of one core)\n",
		n, size, format, elapsed.Round(time.Millisecond), float64(peak())/(1<<20), float64(ru.Maxrss)/1024, cpu.Round(time.Millisecond),
		100*cpu.Seconds()/elapsed.Seconds())
	if heap != nil {
		cmd.Stderr.(*io.PipeWriter).Close()
		h := <-heap
		fmt.Printf("garbage collections: %d; largest heap at a collection %d MB, largest live heap after one %d MB\n", h.gcs, h.total, h.live)
	}
	return nil
}

// gcPeak is what the stage's gctrace lines said.
type gcPeak struct {
	gcs         int
	total, live int // MB
}

// gcLine matches "gc 12 @1.2s 3%: … 41->43->20 MB, 42 MB goal, …".
var gcLine = regexp.MustCompile(`^gc \d+ .* (\d+)->(\d+)->(\d+) MB`)

// readGCTrace passes the stage's stderr on to out, keeping the largest
// heap of its gctrace lines.
func readGCTrace(r io.Reader, out io.Writer) gcPeak {
	var p gcPeak
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := gcLine.FindStringSubmatch(sc.Text())
		if m == nil {
			fmt.Fprintln(out, sc.Text())
			continue
		}
		p.gcs++
		for _, s := range m[1:3] {
			if v, _ := strconv.Atoi(s); v > p.total {
				p.total = v
			}
		}
		if v, _ := strconv.Atoi(m[3]); v > p.live {
			p.live = v
		}
	}
	io.Copy(io.Discard, r)
	return p
}

// produced is the number of records in the output topic.
func produced(ctx context.Context, client *kafkago.Client, partitions int) (int64, error) {
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for p := 0; p < partitions; p++ {
		req.Topics["out"] = append(req.Topics["out"], kafkago.LastOffsetOf(p))
	}
	res, err := client.ListOffsets(ctx, req)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, po := range res.Topics["out"] {
		if po.Error != nil {
			return 0, po.Error
		}
		total += po.LastOffset
	}
	return total, nil
}
