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

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/metrics"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sinks"
	"github.com/annotator-dev/annotator/sources"
)

// coreFlags are the flags every run shares, whatever feeds it and
// wherever its output goes.
type coreFlags struct {
	format       string
	onlyMatching bool
	prefer       string
	engine       string
	workers      int
	bufferSize   int
	logLevel     string
	logFormat    string
}

func (f *coreFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.format, "format", "text", "output format: text or json")
	fs.BoolVar(&f.onlyMatching, "only-matching", false, "write only the lines that hold a code")
	fs.StringVar(&f.prefer, "prefer", "", "preference order of catalog sources, comma-separated (default "+strings.Join(catalog.DefaultPreference(), ",")+")")
	fs.StringVar(&f.engine, "engine", "auto", "matcher engine: auto, numeric or ahocorasick")
	fs.IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "goroutines annotating in parallel")
	fs.IntVar(&f.bufferSize, "buffer-size", sources.DefaultBufferSize, "bytes read per batch; longer lines pass through in pieces")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level on stderr: debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text or json")
}

func (f *coreFlags) check() error {
	if f.bufferSize < 64 {
		return fmt.Errorf("--buffer-size %d: want at least 64", f.bufferSize)
	}
	if f.workers < 1 {
		return fmt.Errorf("--workers %d: want at least 1", f.workers)
	}
	return nil
}

// buildAnnotator makes the annotator the flags ask for.
func (f *coreFlags) buildAnnotator() (*annotate.Annotator, error) {
	format, err := annotate.ParseFormat(f.format)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	c, err := catalog.Builtin()
	if err != nil {
		return nil, err
	}
	return annotate.FromCatalog(c, splitList(f.prefer), matcher.Engine(f.engine),
		annotate.Options{Format: format, OnlyMatching: f.onlyMatching})
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

func runFilter(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var core coreFlags
	var ops opsFlags
	fs := flag.NewFlagSet("annotator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	core.register(fs)
	ops.register(fs)
	ins, outs := inputs(), outputs()
	for _, in := range ins {
		in.register(fs)
	}
	for _, out := range outs {
		out.register(fs)
	}
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return usageError(stderr, fs, err)
	}
	if err := ops.applyConfig(fs); err != nil {
		return configError(stderr, err)
	}
	if err := core.check(); err != nil {
		return usageError(stderr, fs, err)
	}
	log, err := newLogger(stderr, core.logLevel, core.logFormat)
	if err != nil {
		return usageError(stderr, fs, err)
	}
	a, err := ops.start(ctx, &core, paths, log, stdout, stderr)
	defer ops.finish(nil)
	if err != nil {
		return startFailure(stderr, fs, err)
	}
	env := &runEnv{stdin: stdin, stdout: stdout, stderr: stderr, log: log, core: &core, ann: a, paths: paths}
	env.metrics = ops.registry()

	var src pipeline.Source
	var in input
	for _, in = range ins {
		if src, err = in.source(ctx, env); err != nil || src != nil {
			break
		}
	}
	if err != nil {
		return startError(stderr, fs, err)
	}
	var sink pipeline.Sink
	for _, out := range outs {
		if sink, err = out.sink(ctx, env); err != nil || sink != nil {
			break
		}
	}
	if err != nil {
		return startError(stderr, fs, err)
	}
	ops.serving(in)
	stats, err := pipeline.Run(ctx, src, a, sink, pipeline.Options{Workers: core.workers, Current: ops.current(), Delivered: ops.delivered()})
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
		log.Error("annotator stopped", "err", err)
		return 1
	}
	if in.failures() > 0 {
		return 1
	}
	return 0
}

// errUsage marks start-up errors that are the caller's to fix (exit 2).
var errUsage = errors.New("usage")

func startError(stderr io.Writer, fs *flag.FlagSet, err error) int {
	if errors.Is(err, errUsage) {
		return usageError(stderr, fs, err)
	}
	fmt.Fprintf(stderr, "annotator: %v\n", err)
	return 1
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
	return i.files, nil
}

func (i *filesInput) failures() int {
	if i.files == nil {
		return 0
	}
	return i.files.Failed
}

// stdoutOutput writes to standard output.
type stdoutOutput struct{}

func (stdoutOutput) register(*flag.FlagSet) {}

func (stdoutOutput) sink(_ context.Context, env *runEnv) (pipeline.Sink, error) {
	return sinks.NewWriter(env.stdout, "standard output"), nil
}
