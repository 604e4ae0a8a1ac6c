// Command kafka measures the Kafka→Kafka stage on loopback: it fills an
// input topic with 150-byte records (one in ten holding a code), then runs
// source → annotator → sink in process and reports records per second
// from the first fetch to the last acknowledged produce.
//
//	go run ./bench/kafka                       # in-process kfake broker
//	go run ./bench/kafka -brokers 127.0.0.1:9092   # a real broker
//	go run ./bench/kafka -brokers h1:9092,h2:9092,h3:9092 -replication 3
//
// With kfake the broker runs in the same process and shares the CPU.
//
// With -streams (a real broker only) the same input topic then goes
// through the Kafka Streams app of bench/kafka/streams (built and run by
// bench/kafka/streams.sh) into a second output topic, measured the same
// way from outside; the two outputs are then compared record by record.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
	kafkasrc "github.com/annotator-dev/annotator/sources/kafka"
)

func main() {
	brokers := flag.String("brokers", os.Getenv("ANNOTATOR_KAFKA_BROKERS"), "brokers (default: an in-process kfake broker)")
	n := flag.Int("records", 1_000_000, "records to move")
	partitions := flag.Int("partitions", 4, "partitions of each topic")
	replication := flag.Int("replication", 1, "replication factor of each topic (3 on a 3-node cluster)")
	compression := flag.String("compression", "none", "produce compression")
	format := flag.String("format", "text", "output format: text, json or merge")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the stage (not of filling the input) here")
	commit := flag.Duration("commit-interval", time.Second, "offset commit interval; 0 commits after every batch")
	streams := flag.Bool("streams", false, "also run the Kafka Streams app on the same input and compare (needs -brokers, Java 17+ and Maven)")
	streamsScript := flag.String("streams-script", "bench/kafka/streams.sh", "the script that builds and runs the Kafka Streams app")
	streamsThreads := flag.Int("streams-threads", 2, "the Kafka Streams app's stream threads")
	flag.Parse()
	if *streams && (*brokers == "" || *format != "text" || *compression != "none") {
		log.Fatal("-streams needs -brokers, text format and no compression: the Streams app is measured on a real broker with the same output")
	}
	var st *streamsRun
	if *streams {
		st = &streamsRun{script: *streamsScript, threads: *streamsThreads}
	}
	if err := run(*brokers, *n, *partitions, *replication, *compression, *format, *commit, *cpuprofile, st); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run(brokers string, n, partitions, replication int, compression, format string, commit time.Duration, cpuprofile string, st *streamsRun) error {
	ctx := context.Background()
	note := ", broker apart"
	if brokers == "" {
		note = ", broker included"
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return err
		}
		defer c.Close()
		brokers = strings.Join(c.ListenAddrs(), ",")
	}
	addrs := strings.Split(brokers, ",")
	suffix := fmt.Sprint(time.Now().UnixNano())
	in, out := "bench-in-"+suffix, "bench-out-"+suffix
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(addrs...), Transport: tr, Timeout: 30 * time.Second}
	if _, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{
		{Topic: in, NumPartitions: partitions, ReplicationFactor: replication},
		{Topic: out, NumPartitions: partitions, ReplicationFactor: replication},
		{Topic: out + "-streams", NumPartitions: partitions, ReplicationFactor: replication},
	}}); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	time.Sleep(time.Second) // let the topics' leaders settle before producing

	fmt.Printf("filling %s with %d records of 150 bytes…\n", in, n)
	w := &kafkago.Writer{Addr: kafkago.TCP(addrs...), Topic: in, Transport: tr, Balancer: &kafkago.RoundRobin{},
		RequiredAcks: kafkago.RequireAll, BatchSize: 10000, BatchTimeout: time.Millisecond}
	msgs := make([]kafkago.Message, 0, 20000)
	for i := 0; i < n; i++ {
		msgs = append(msgs, kafkago.Message{Value: record(i)})
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return fmt.Errorf("fill: %w", err)
			}
			msgs = msgs[:0]
		}
	}
	w.Close()

	f, err := annotate.ParseFormat(format)
	if err != nil {
		return err
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return err
	}
	a, err := annotate.FromCatalog(cat, nil, matcher.Auto, annotate.Options{Format: f})
	if err != nil {
		return err
	}
	if commit == 0 {
		commit = kafkasrc.CommitEachBatch
	}
	src, err := kafkasrc.New(ctx, kafkasrc.Config{Brokers: addrs, Topics: []string{in}, Group: "bench-" + suffix,
		SessionTimeout: 10 * time.Second, CommitInterval: commit})
	if err != nil {
		return err
	}
	sink, err := kafkasink.New(ctx, kafkasink.Config{Brokers: addrs, Topic: out, Compression: compression})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	var start time.Time
	done := make(chan time.Time, 1)
	opt := pipeline.Options{Delivered: func(b *pipeline.Batch) {
		if start.IsZero() {
			start = time.Now()
		}
		if sink.Produced.Load() >= int64(n) {
			select {
			case done <- time.Now():
				stop()
			default:
			}
		}
	}}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
	}
	t0 := time.Now()
	cpu0 := cpuTime()
	if _, err := pipeline.Run(runCtx, src, a, sink, opt); err != nil {
		pprof.StopCPUProfile()
		return err
	}
	end := <-done
	pprof.StopCPUProfile()
	cpu := cpuTime() - cpu0
	sink.Close()
	src.Close()
	elapsed := end.Sub(t0)
	ann := result{n: n, elapsed: elapsed, steady: end.Sub(start), cpu: cpu}
	fmt.Printf("moved %d records (%s, compression %s, %d partitions, replication %d, commit interval %s, GOMAXPROCS %d) in %s: %.0f records/s (%.0f from the first delivery), %.1f s CPU per million records (this process%s)\n",
		n, format, compression, partitions, replication, commitName(commit), runtime.GOMAXPROCS(0), elapsed.Round(time.Millisecond),
		float64(n)/elapsed.Seconds(), float64(n)/end.Sub(start).Seconds(), cpu.Seconds()*1e6/float64(n), note)
	if st == nil {
		return nil
	}
	ks, err := st.run(ctx, client, addrs, in, out+"-streams", "bench-streams-"+suffix, cat, partitions, n)
	if err != nil {
		return err
	}
	fmt.Printf("Kafka Streams app (%d stream threads, JVM started by the bench) moved %d records in %s: %.0f records/s (%.0f from the first output), %.1f s CPU per million records (the JVM, start-up included)\n",
		st.threads, n, ks.elapsed.Round(time.Millisecond), float64(n)/ks.elapsed.Seconds(), float64(n)/ks.steady.Seconds(), ks.cpu.Seconds()*1e6/float64(n))
	fmt.Printf("annotator / Streams: %.2f× records/s (%.2f× from the first output), %.2f× less CPU per record; load average %s\n",
		ks.elapsed.Seconds()/ann.elapsed.Seconds(), ks.steady.Seconds()/ann.steady.Seconds(), ks.cpu.Seconds()/ann.cpu.Seconds(), loadAverage())
	return compareOutputs(ctx, addrs, out, out+"-streams", n)
}

// record is the i-th input record: 150 bytes, one in ten holding a code.
// One in a thousand (none of those) ends with one of edgeTails instead, so
// that comparing two implementations' outputs covers the matching rule's
// edges and not only the one code of the bulk.
func record(i int) []byte {
	v := fmt.Sprintf("2024-05-01T12:00:00.000Z INFO im-gateway req=%08d user=alice%06d action=send_message", i, i%1000)
	switch {
	case i%10 == 0:
		v += " error 898001"
	case i%1000 == 505:
		v += " " + edgeTails[(i/1000)%len(edgeTails)]
	}
	v += strings.Repeat(".", max(0, 150-len(v)))
	return []byte(v[:150])
}

// edgeTails are the cases of README "What counts as a code", short enough
// to fit the 150 bytes.
var edgeTails = []string{
	"1898001 8980012 0x898001 898001_", // touched: no code
	"3.898001 898001.5",                // decimals: no code
	"错误码898001，",                       // non-ASCII around: a code
	"812345 898001",                    // unknown code left alone
	"898004,871310;898004",             // two codes, one repeated
	"(803001)",                         // no English message
	"x898001 898001x _898001 898001",   // only the last one
	"898001.x 1.898001",                // '.' without digit after; decimal
}

type result struct {
	n       int
	elapsed time.Duration // from start to the last record out
	steady  time.Duration // from the first record out to the last
	cpu     time.Duration
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func commitName(d time.Duration) string {
	if d < 0 {
		return "every batch"
	}
	return d.String()
}
