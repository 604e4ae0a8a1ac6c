// Command kafka measures the Kafka→Kafka stage on loopback: it fills an
// input topic with 150-byte records (one in ten holding a code), then runs
// source → annotator → sink in process and reports records per second
// from the first fetch to the last acknowledged produce.
//
//	go run ./bench/kafka                       # in-process kfake broker
//	go run ./bench/kafka -brokers 127.0.0.1:9092   # a real broker
//
// With kfake the broker runs in the same process and shares the CPU.
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
	compression := flag.String("compression", "none", "produce compression")
	format := flag.String("format", "text", "output format: text, json or merge")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run here")
	commit := flag.Duration("commit-interval", time.Second, "offset commit interval; 0 commits after every batch")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*brokers, *n, *partitions, *compression, *format, *commit); err != nil {
		log.Print(err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(brokers string, n, partitions int, compression, format string, commit time.Duration) error {
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
		{Topic: in, NumPartitions: partitions, ReplicationFactor: 1},
		{Topic: out, NumPartitions: partitions, ReplicationFactor: 1},
	}}); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	time.Sleep(time.Second) // let the topics' leaders settle before producing

	fmt.Printf("filling %s with %d records of 150 bytes…\n", in, n)
	w := &kafkago.Writer{Addr: kafkago.TCP(addrs...), Topic: in, Transport: tr, Balancer: &kafkago.RoundRobin{},
		RequiredAcks: kafkago.RequireAll, BatchSize: 10000, BatchTimeout: time.Millisecond}
	msgs := make([]kafkago.Message, 0, 20000)
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("2024-05-01T12:00:00.000Z INFO im-gateway req=%08d user=alice%06d action=send_message", i, i%1000)
		if i%10 == 0 {
			v += " error 898001"
		}
		v += strings.Repeat(".", max(0, 150-len(v)))
		msgs = append(msgs, kafkago.Message{Value: []byte(v[:150])})
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
	t0 := time.Now()
	cpu0 := cpuTime()
	if _, err := pipeline.Run(runCtx, src, a, sink, opt); err != nil {
		return err
	}
	end := <-done
	cpu := cpuTime() - cpu0
	sink.Close()
	src.Close()
	elapsed := end.Sub(t0)
	fmt.Printf("moved %d records (%s, compression %s, %d partitions, commit interval %s, GOMAXPROCS %d) in %s: %.0f records/s (%.0f from the first delivery), %.1f s CPU per million records (this process%s)\n",
		n, format, compression, partitions, commitName(commit), runtime.GOMAXPROCS(0), elapsed.Round(time.Millisecond),
		float64(n)/elapsed.Seconds(), float64(n)/end.Sub(start).Seconds(), cpu.Seconds()*1e6/float64(n), note)
	return nil
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
