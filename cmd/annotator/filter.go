package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/internal/flagvalue"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/metrics"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sinks"
	"github.com/annotator-dev/annotator/sources"
	"github.com/annotator-dev/annotator/sources/kafkatxn"
)

// coreFlags are the flags every run shares, whatever feeds it and
// wherever its output goes.
type coreFlags struct {
	format       string
	field        string
	onlyMatching bool
	prefer       string
	engine       string
	workers      int
	bufferSize   int
	logLevel     string
	logFormat    string
	drain        time.Duration
}

func (f *coreFlags) register(fs *flag.FlagSet) {
	fs.Var(flagvalue.NewChoice(&f.format, "text", "text", "json", "merge", "html"), "format", "output format: text, json or merge (notes inside JSON-object and logfmt lines); annotator stats also takes html, a report page")
	fs.StringVar(&f.field, "field", annotate.DefaultField, "merge format: the `name` of the field or logfmt key added")
	fs.BoolVar(&f.onlyMatching, "only-matching", false, "write only the lines that hold a code")
	fs.StringVar(&f.prefer, "prefer", "", "preference order of catalog sources, comma-separated (default "+strings.Join(catalog.DefaultPreference(), ",")+")")
	fs.Var(flagvalue.NewChoice(&f.engine, "auto", string(matcher.Auto), string(matcher.Numeric), string(matcher.AhoCorasick)), "engine", "matcher engine: auto, numeric or ahocorasick")
	fs.Var(flagvalue.NewInt(&f.workers, min(runtime.GOMAXPROCS(0), maxWorkers), 1, maxWorkers), "workers",
		"goroutines annotating in parallel, `n` from 1 to 256 (default: the number of cores)")
	fs.Var(flagvalue.NewSize(&f.bufferSize, sources.DefaultBufferSize, 64, maxBufferSize), "buffer-size",
		"`size` of a read batch, 64 to 64MiB (256K, 1M, 1MiB...); longer lines pass through in pieces")
	fs.Var(flagvalue.NewChoice(&f.logLevel, "info", "debug", "info", "warn", "error"), "log-level", "log level on stderr: debug, info, warn or error")
	fs.Var(flagvalue.NewChoice(&f.logFormat, "text", "text", "json"), "log-format", "log format on stderr: text or json")
	fs.Var(flagvalue.NewDuration(&f.drain, 10*time.Second, 100*time.Millisecond, 10*time.Minute), "drain-timeout",
		"after SIGTERM, how long what was read may take to reach the output, 100ms to 10m; past it annotator exits with status 1 without it (a stalled output)")
}

// Bounds of the numeric settings the run allocates by. Each batch buffer
// is allocated up front (2 per worker, plus 2), so the product is bounded
// too: a typo must not eat the host's memory.
const (
	maxWorkers       = 256
	maxBufferSize    = 64 << 20
	maxBufferedBytes = 1 << 30
)

// check validates what single flags cannot: the memory the buffers take.
func (f *coreFlags) check() error {
	if need := int64(2*f.workers+2) * int64(f.bufferSize); need > maxBufferedBytes {
		return usagef("--workers %d with --buffer-size %s needs %s of read buffers ((2×workers+2)×buffer-size); the most is %s",
			f.workers, flagvalue.FormatSize(int64(f.bufferSize)), humanSize(need), flagvalue.FormatSize(maxBufferedBytes))
	}
	return nil
}

func humanSize(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// runEnv is what inputs and outputs are built from.
type runEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
	core           *coreFlags
	ann            *annotate.Annotator
	// paths are the command's non-flag arguments.
	paths []string
	// metrics takes file offsets, checkpoints and Kafka lag; nil when
	// metrics are off, and safe to call then.
	metrics *metrics.Registry
	// txnStage is the exactly-once Kafka stage when the input built one:
	// the Kafka output produces into its transactions.
	txnStage *kafkatxn.Stage
}

// An input is one way of feeding the pipeline (files and stdin, followed
// files, a Kafka topic). It registers its own flags and builds its source
// only when they ask for it.
type input interface {
	register(fs *flag.FlagSet)
	// source returns nil, nil when this input was not asked for.
	source(ctx context.Context, env *runEnv) (pipeline.Source, error)
	// failures counts inputs that could not be read (for the exit status).
	failures() int
}

// An output is one place annotated batches can go.
type output interface {
	register(fs *flag.FlagSet)
	// sink returns nil, nil when this output was not asked for.
	sink(ctx context.Context, env *runEnv) (pipeline.Sink, error)
}

// inputs lists the ways in, most specific first: the first that builds a
// source serves the run. The files input always does.
func inputs() []input {
	return []input{&kafkaInput{}, &followInput{}, &filesInput{}}
}

// outputs lists the ways out, most specific first; stdout always serves.
func outputs() []output {
	return []output{&kafkaOutput{}, &stdoutOutput{}}
}

// runFlags are all the flags of a run (and of check and stats).
type runFlags struct {
	core    coreFlags
	ops     opsFlags
	ins     []input
	outs    []output
	version bool
	// given are the flags the command line set, before the config file.
	given map[string]bool
}

func newRunFlags(name string) (*flag.FlagSet, *runFlags) {
	r := &runFlags{ins: inputs(), outs: outputs()}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	r.core.register(fs)
	r.ops.register(fs)
	for _, in := range r.ins {
		in.register(fs)
	}
	for _, out := range r.outs {
		out.register(fs)
	}
	fs.BoolVar(&r.version, "version", false, "print the version, commit and Go version, then exit")
	return fs, r
}

// allFlags is every flag a run knows: the config file's schema and the
// run's help come from it.
func allFlags() *flag.FlagSet {
	fs, _ := newRunFlags("annotator")
	return fs
}

// parse reads the command line and the config file, and checks what the
// flags alone cannot; help is flag.ErrHelp.
func (r *runFlags) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if r.version {
		return paths, nil
	}
	r.given = commandLineFlags(fs)
	if err := r.ops.applyConfig(fs, nil); err != nil {
		return nil, err
	}
	if err := r.core.check(); err != nil {
		return nil, err
	}
	if name, err := r.ops.timeline.check(); err != nil {
		return nil, r.ops.blame(name, err)
	}
	if err := annotate.CheckField(r.core.field); err != nil {
		return nil, r.ops.blame("field", err)
	}
	return paths, nil
}

func runFilter(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, "", args, stdin, stdout, stderr)
}

// runWith is a run of the filter, or of stats (cmd names it, for help).
func runWith(ctx context.Context, cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, rf := newRunFlags("annotator")
	core, ops := &rf.core, &rf.ops
	ins, outs := rf.ins, rf.outs
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--help-all" || a == "-help-all" {
			writeTopicHelp(stdout, "all")
			return exitOK
		}
	}
	paths, err := rf.parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c := commands()[0]
		if cmd != "" {
			c = findCommand(cmd)
		}
		if so, ok := stdout.(*statsOutput); ok {
			stdout = so.w // a stats run's help goes out, not into the table
		}
		writeHelp(stdout, c)
		return exitOK
	}
	if err != nil {
		return fail(stderr, cmd, err)
	}
	if rf.version {
		io.WriteString(stdout, versionText())
		return exitOK
	}
	if err := checkSources(rf); err != nil {
		return fail(stderr, cmd, err)
	}
	if err := checkFlagUse(fs, rf.given, cmd); err != nil {
		return fail(stderr, cmd, err)
	}
	if cmd == "stats" {
		core.onlyMatching = true // the table only: lines without a code need no annotating
	}
	log, err := newLogger(stderr, core.logLevel, core.logFormat)
	if err != nil {
		return fail(stderr, cmd, usagef("%v", err))
	}
	a, err := ops.start(ctx, core, paths, log, stdout, stderr)
	defer ops.finish(nil)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	env := &runEnv{stdin: stdin, stdout: stdout, stderr: stderr, log: log, core: core, ann: a, paths: paths}
	env.metrics = ops.registry()

	var src pipeline.Source
	var in input
	for _, in = range ins {
		if src, err = in.source(ctx, env); err != nil || src != nil {
			break
		}
	}
	if stoppedStarting(ctx, err) {
		log.Info("stopped while starting")
		return exitOK
	}
	if err != nil {
		return fail(stderr, cmd, err)
	}
	var sink pipeline.Sink
	for _, out := range outs {
		if sink, err = out.sink(ctx, env); err != nil || sink != nil {
			break
		}
	}
	if err != nil {
		if c, ok := src.(io.Closer); ok {
			c.Close() // release what the source holds (a state directory's lock)
		}
		if stoppedStarting(ctx, err) {
			log.Info("stopped while starting")
			return exitOK
		}
		return fail(stderr, cmd, err)
	}
	ops.serving(in)
	opt := pipeline.Options{Workers: core.workers, Current: ops.current(), Delivered: ops.delivered(), DrainTimeout: core.drain}
	budget := core.drain + stopGrace
	if k, ok := in.(*kafkaInput); ok {
		// The consumer's partitions drained and their offsets committed
		// after the pipeline, then the group left: a coordinator being
		// elected can take some seconds more.
		budget += k.drainTimeout + 10*time.Second
	}
	setStopBudget(ctx, budget)
	if m, ok := sink.(interface{ MaxRecord() int }); ok {
		// A line gathered into one record may be as long as the output
		// topic takes.
		opt.MaxRecord = m.MaxRecord()
	}
	stats, err := pipeline.Run(ctx, src, a, sink, opt)
	if cerr := sink.Close(); err == nil {
		err = cerr
	}
	if c, ok := src.(io.Closer); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	log.Debug("done", "lines", stats.Lines, "annotated", stats.Annotated, "codes", stats.Codes)
	ops.finish(err)
	if err != nil {
		fmt.Fprintf(stderr, "annotator: %v\n", err)
		return exitFailure
	}
	if in.failures() > 0 {
		return exitFailure
	}
	return exitOK
}

// filesInput reads the named files in order, or standard input.
type filesInput struct {
	files *sources.Files
}

func (*filesInput) register(*flag.FlagSet) {}

func (i *filesInput) source(_ context.Context, env *runEnv) (pipeline.Source, error) {
	paths := env.paths
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	withPath := len(paths) > 1 || paths[0] != "-"
	pool := sources.NewPool(env.core.bufferSize, 2*env.core.workers+2)
	i.files = sources.NewFiles(paths, env.stdin, pool, withPath, env.log)
	i.files.Report = func(err error) { fmt.Fprintf(env.stderr, "annotator: %v\n", err) }
	return i.files, nil
}

func (i *filesInput) failures() int {
	if i.files == nil {
		return 0
	}
	return i.files.Failed
}

// stdoutOutput writes to standard output.
type stdoutOutput struct {
	withFilename, noFilename bool
}

func (o *stdoutOutput) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.withFilename, "H", false, "text and merge output: put the file's name and ':' before each line, as grep -H does (JSON has \"path\")")
	fs.BoolVar(&o.withFilename, "with-filename", false, "same as -H")
	fs.BoolVar(&o.noFilename, "no-filename", false, "no file names before lines (the default; undoes --with-filename from a config file)")
}

func (o *stdoutOutput) sink(_ context.Context, env *runEnv) (pipeline.Sink, error) {
	w := sinks.NewWriter(env.stdout, "standard output")
	if o.withFilename && !o.noFilename && env.core.format != "json" {
		w.WithFilename()
	}
	return w, nil
}
