package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/metrics"
)

// runCheck is `annotator check -c FILE [flags]`: it reads the settings a
// run with the same arguments would use and loads its catalogs, without
// reading any input, so a deployment can be validated before it starts.
// A problem exits 2 with its file and line.
func runCheck(args []string, stdout, stderr io.Writer) int {
	var core coreFlags
	var ops opsFlags
	fs := flag.NewFlagSet("annotator check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	core.register(fs)
	ops.register(fs)
	for _, in := range inputs() {
		in.register(fs)
	}
	for _, out := range outputs() {
		out.register(fs)
	}
	if _, err := parseInterspersed(fs, args); err != nil {
		return usageError(stderr, fs, err)
	}
	if err := ops.applyConfig(fs); err != nil {
		return configError(stderr, err)
	}
	if err := core.check(); err != nil {
		return configError(stderr, err)
	}
	if _, err := newLogger(io.Discard, core.logLevel, core.logFormat); err != nil {
		return configError(stderr, err)
	}
	if ops.metricsAddr != "" {
		if _, err := metrics.ListenAddr(ops.metricsAddr); err != nil {
			return configError(stderr, err)
		}
	}
	format, err := annotate.ParseFormat(core.format)
	if err != nil {
		return configError(stderr, fmt.Errorf("--format: %w", err))
	}
	l := &catalogLoader{files: ops.catalogs, replace: ops.catalogReplace, engine: matcher.Engine(core.engine),
		opts: annotate.Options{Format: format, OnlyMatching: core.onlyMatching}}
	l.prefer = splitList(core.prefer)
	ld, err := l.load()
	if err != nil {
		return configError(stderr, err)
	}
	where := "the command line"
	if ops.configPath != "" {
		where = ops.configPath
	}
	fmt.Fprintf(stdout, "%s: ok; catalog of %d codes (%d custom files)\n", where, ld.codes.Len(), len(ops.catalogs))
	return 0
}
