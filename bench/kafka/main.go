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
// -guarantee exactly-once runs the exactly-once stage (sources/kafkatxn)
// instead, and -guarantee both runs the two, one after the other, on the
// same input. An exactly-once run ends when a read_committed reader can
// see every record: the group's committed input offsets (read with
// require_stable) reach every record and no transaction is open on the
// output (its last stable offsets are its end offsets).
//
// With -streams (a real broker only) the same input topic then goes
// through the Kafka Streams app of bench/kafka/streams (built and run by
// bench/kafka/streams.sh) into another output topic, once per guarantee
// asked for (at_least_once, exactly_once_v2), measured the same way from
// outside. Every output is then read back with read_committed and
// compared record by record with the first.
//
// With -latency D each of those stages then moves a paced stream
// (-latency-rate records/s for D, on topics of its own) and the bench
// reports, per stage, the time from producing an input record until a
// read_committed reader holds its output: median, p99 and maximum.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
)

// The delivery guarantees, as --kafka-guarantee spells them.
const (
	atLeastOnce = "at-least-once"
	exactlyOnce = "exactly-once"
)

// config is one invocation of the bench.
type config struct {
	brokers     string
	n           int
	partitions  int
	replication int
	compression string
	format      string
	// commit is the offset commit interval (at-least-once) or the
	// longest a transaction stays open (exactly-once); 0: every batch.
	commit     time.Duration
	cpuprofile string
	guarantees []string // atLeastOnce, exactlyOnce, in the order run
	streams    *streamsRun
	// latency, when positive, is how long each stage moves a paced
	// stream of latencyRate records/s for the latency measurement.
	latency     time.Duration
	latencyRate int
	// brokerPid, when positive, is the local broker's process, whose CPU
	// time each stage's row reports.
	brokerPid int
}

func main() {
	var c config
	flag.StringVar(&c.brokers, "brokers", os.Getenv("ANNOTATOR_KAFKA_BROKERS"), "brokers (default: an in-process kfake broker)")
	flag.IntVar(&c.n, "records", 1_000_000, "records to move")
	flag.IntVar(&c.partitions, "partitions", 4, "partitions of each topic")
	flag.IntVar(&c.replication, "replication", 1, "replication factor of each topic (3 on a 3-node cluster)")
	flag.StringVar(&c.compression, "compression", "none", "produce compression")
	flag.StringVar(&c.format, "format", "text", "output format: text, json or merge")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the stage (not of filling the input) here; with -guarantee both, one per guarantee, the guarantee's name appended")
	flag.DurationVar(&c.commit, "commit-interval", time.Second, "offset commit interval (at-least-once), how long a transaction stays open (exactly-once); 0 commits after every batch")
	guarantee := flag.String("guarantee", atLeastOnce, "the stage's delivery guarantee: at-least-once, exactly-once, or both (one after the other on the same input); the Streams app runs with the same")
	streams := flag.Bool("streams", false, "also run the Kafka Streams app on the same input and compare (needs -brokers, Java 17+ and Maven)")
	streamsScript := flag.String("streams-script", "bench/kafka/streams.sh", "the script that builds and runs the Kafka Streams app")
	streamsThreads := flag.Int("streams-threads", 2, "the Kafka Streams app's stream threads")
	flag.DurationVar(&c.latency, "latency", 0, "then measure end-to-end latency: each stage moves a paced stream this long (0: no latency measurement)")
	flag.IntVar(&c.latencyRate, "latency-rate", 1000, "records per second of the paced stream of -latency")
	flag.IntVar(&c.brokerPid, "broker-pid", 0, "the process ID of a broker on this machine: report the CPU it uses while each stage runs")
	flag.Parse()
	switch *guarantee {
	case atLeastOnce, exactlyOnce:
		c.guarantees = []string{*guarantee}
	case "both":
		c.guarantees = []string{atLeastOnce, exactlyOnce}
	default:
		log.Fatalf("-guarantee %q: want at-least-once, exactly-once or both", *guarantee)
	}
	if *streams && (c.brokers == "" || c.format != "text" || c.compression != "none") {
		log.Fatal("-streams needs -brokers, text format and no compression: the Streams app is measured on a real broker with the same output")
	}
	if c.latency > 0 && c.latencyRate <= 0 {
		log.Fatal("-latency-rate must be positive")
	}
	if *streams {
		c.streams = &streamsRun{script: *streamsScript, threads: *streamsThreads}
	}
	if _, err := run(context.Background(), c); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// row is one stage's throughput measurement.
type row struct {
	name      string // "annotator at-least-once", "Kafka Streams exactly_once_v2", …
	guarantee string
	streams   bool
	out       string // its output topic
	result
}

// report is what run measured, for the tests.
type report struct {
	rows     []row
	outputs  []outputRead // in the order of rows
	latency  []latencyRow
	differ   int
	loadavgs []string
}

func run(ctx context.Context, c config) (*report, error) {
	note := ", broker apart"
	if c.brokers == "" {
		note = ", broker included"
		cl, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return nil, fmt.Errorf("start kfake: %w", err)
		}
		defer cl.Close()
		c.brokers = strings.Join(cl.ListenAddrs(), ",")
	}
	addrs := strings.Split(c.brokers, ",")
	suffix := fmt.Sprint(time.Now().UnixNano())
	in := "bench-in-" + suffix
	var rows []row
	for _, g := range c.guarantees {
		rows = append(rows, row{name: "annotator " + g, guarantee: g, out: outTopic("bench-out-", g, suffix)})
	}
	if c.streams != nil {
		for _, g := range c.guarantees {
			rows = append(rows, row{name: "Kafka Streams " + streamsGuarantee(g), guarantee: g, streams: true,
				out: outTopic("bench-out-", g, suffix) + "-streams"})
		}
	}
	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(addrs...), Transport: tr, Timeout: 30 * time.Second}
	topics := []string{in}
	for _, r := range rows {
		topics = append(topics, r.out)
	}
	if err := createTopics(ctx, client, topics, c.partitions, c.replication); err != nil {
		return nil, err
	}
	adm, err := newAdmin(addrs)
	if err != nil {
		return nil, err
	}
	defer adm.close()

	fmt.Printf("filling %s with %d records of 150 bytes…\n", in, c.n)
	w := &kafkago.Writer{Addr: kafkago.TCP(addrs...), Topic: in, Transport: tr, Balancer: &kafkago.RoundRobin{},
		RequiredAcks: kafkago.RequireAll, BatchSize: 10000, BatchTimeout: time.Millisecond}
	msgs := make([]kafkago.Message, 0, 20000)
	for i := 0; i < c.n; i++ {
		msgs = append(msgs, kafkago.Message{Value: record(i)})
		if len(msgs) == cap(msgs) || i == c.n-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return nil, fmt.Errorf("fill: %w", err)
			}
			msgs = msgs[:0]
		}
	}
	w.Close()

	f, err := annotate.ParseFormat(c.format)
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Builtin()
	if err != nil {
		return nil, err
	}
	a, err := annotate.FromCatalog(cat, nil, matcher.Auto, annotate.Options{Format: f})
	if err != nil {
		return nil, err
	}
	if c.streams != nil {
		if err := c.streams.prepare(ctx, cat); err != nil {
			return nil, err
		}
		defer c.streams.cleanup()
	}

	rep := &report{}
	for i := range rows {
		r := &rows[i]
		broker0, err := brokerCPU(c.brokerPid)
		if err != nil {
			return nil, err
		}
		if r.streams {
			r.result, err = c.streams.run(ctx, adm, addrs, in, r.out, "bench-streams-"+r.guarantee+"-"+suffix, c.partitions, c.n, r.guarantee)
			if err != nil {
				return nil, err
			}
			fmt.Printf("Kafka Streams app, %s (%d stream threads, JVM started by the bench) moved %d records in %s: %.0f records/s (%.0f from the first output), %.1f s CPU per million records (the JVM, start-up included); load average %s\n",
				streamsGuarantee(r.guarantee), c.streams.threads, c.n, r.elapsed.Round(time.Millisecond), float64(c.n)/r.elapsed.Seconds(),
				float64(c.n)/r.steady.Seconds(), r.cpu.Seconds()*1e6/float64(c.n), loadAverage())
		} else {
			r.result, err = runStage(ctx, c, adm, a, r.guarantee, addrs, in, r.out, "bench-"+r.guarantee+"-"+suffix)
			if err != nil {
				return nil, err
			}
			fmt.Printf("moved %d records %s (%s, compression %s, %d partitions, replication %d, commit interval %s, GOMAXPROCS %d) in %s: %.0f records/s (%.0f from the first delivery), %.1f s CPU per million records (this process%s); load average %s\n",
				c.n, r.guarantee, c.format, c.compression, c.partitions, c.replication, commitName(c.commit), runtime.GOMAXPROCS(0), r.elapsed.Round(time.Millisecond),
				float64(c.n)/r.elapsed.Seconds(), float64(c.n)/r.steady.Seconds(), r.cpu.Seconds()*1e6/float64(c.n), note, loadAverage())
		}
		if c.brokerPid > 0 {
			broker1, err := brokerCPU(c.brokerPid)
			if err != nil {
				return nil, err
			}
			r.broker = broker1 - broker0
			fmt.Printf("  the broker meanwhile: %.1f s CPU per million records\n", r.broker.Seconds()*1e6/float64(c.n))
		}
		rep.loadavgs = append(rep.loadavgs, loadAverage())
	}
	rep.rows = rows
	printRatios(rows)

	if len(rows) > 1 {
		rep.outputs, rep.differ, err = compareOutputs(ctx, addrs, rows, c.n)
		if err != nil {
			return rep, err
		}
	}
	if c.latency > 0 {
		rep.latency, err = measureLatency(ctx, c, client, adm, a, addrs, rows, suffix)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func outTopic(prefix, guarantee, suffix string) string {
	if guarantee == exactlyOnce {
		return prefix + "eos-" + suffix
	}
	return prefix + suffix
}

// streamsGuarantee is Kafka Streams' processing.guarantee for g.
func streamsGuarantee(g string) string {
	if g == exactlyOnce {
		return "exactly_once_v2"
	}
	return "at_least_once"
}

func createTopics(ctx context.Context, client *kafkago.Client, names []string, partitions, replication int) error {
	req := &kafkago.CreateTopicsRequest{}
	for _, t := range names {
		req.Topics = append(req.Topics, kafkago.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replication})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for t, err := range resp.Errors {
		if err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	time.Sleep(time.Second) // let the topics' leaders settle before producing
	return nil
}

// printRatios compares the rows of one run: each guarantee of the stage
// against the other, and the stage against the Streams app with the same
// guarantee.
func printRatios(rows []row) {
	find := func(streams bool, g string) *row {
		for i := range rows {
			if rows[i].streams == streams && rows[i].guarantee == g {
				return &rows[i]
			}
		}
		return nil
	}
	ratio := func(what string, a, b *row) {
		if a == nil || b == nil {
			return
		}
		fmt.Printf("%s: %.2f× records/s (%.2f× from the first output), %.2f× the CPU per record (%.2f× less)\n",
			what, b.elapsed.Seconds()/a.elapsed.Seconds(), b.steady.Seconds()/a.steady.Seconds(), a.cpu.Seconds()/b.cpu.Seconds(), b.cpu.Seconds()/a.cpu.Seconds())
	}
	ratio("annotator exactly-once ÷ annotator at-least-once", find(false, exactlyOnce), find(false, atLeastOnce))
	if e, a := find(false, exactlyOnce), find(false, atLeastOnce); e != nil && a != nil && e.written > 0 {
		// Without the wait for the last transaction's commit interval,
		// which a stream that goes on does not pay.
		fmt.Printf("annotator exactly-once ÷ annotator at-least-once until the last record was written: %.2f× records/s\n",
			a.written.Seconds()/e.written.Seconds())
	}
	ratio("annotator ÷ Streams, at-least-once", find(false, atLeastOnce), find(true, atLeastOnce))
	ratio("annotator ÷ Streams, exactly-once", find(false, exactlyOnce), find(true, exactlyOnce))
	ratio("annotator exactly-once ÷ Streams at-least-once", find(false, exactlyOnce), find(true, atLeastOnce))
	ratio("Streams exactly_once_v2 ÷ Streams at_least_once", find(true, exactlyOnce), find(true, atLeastOnce))
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
	// written is, for annotator's stage, from start until the sink took
	// the last record: acknowledged (at-least-once), or written into a
	// transaction still open (exactly-once).
	written time.Duration
	cpu     time.Duration
	// broker is the CPU time the broker used meanwhile (with -broker-pid).
	broker time.Duration
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

// brokerCPU is the CPU time the broker's process has used so far; 0
// without a broker process to read.
func brokerCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	return procCPU(pid)
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func commitName(d time.Duration) string {
	if d <= 0 {
		return "every batch"
	}
	return d.String()
}
