package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/annotator-dev/annotator/config"
	"github.com/annotator-dev/annotator/metrics"
)

// runCheck is `annotator check -c FILE [flags]`: it reads the settings a
// run with the same arguments would use, checks them as the run does and
// loads its catalogs, without reading any input, so a deployment can be
// validated before it starts. A problem exits 2 with its file and line.
func runCheck(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, rf := newRunFlags("annotator check")
	rest, err := rf.parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		writeHelp(stdout, findCommand("check"))
		return exitOK
	}
	if err == nil && len(rest) > 0 {
		err = usagef("check reads no input; got the arguments %q", rest)
	}
	if err != nil {
		return fail(stderr, "check", err)
	}
	if err := checkRun(rf); err != nil {
		return fail(stderr, "check", err)
	}
	if err := checkFlagUse(fs, rf.given, ""); err != nil {
		return fail(stderr, "check", err)
	}
	where := "the command line"
	if rf.ops.configPath != "" {
		where = rf.ops.configPath
	}
	l, err := rf.ops.loader(&rf.core)
	if err != nil {
		return fail(stderr, "check", err)
	}
	ld, err := l.Load()
	if err != nil {
		return fail(stderr, "check", rf.ops.loadError(err))
	}
	fmt.Fprintf(stdout, "%s: ok; catalog of %d codes (%d custom files)\n", where, ld.Ann.Len(), len(rf.ops.catalogs))
	return exitOK
}

// checkRun checks the settings a run checks only once it builds its
// parts: the logger, the metrics address, the inputs' and outputs' flag
// combinations.
func checkRun(rf *runFlags) error {
	if _, err := newLogger(io.Discard, rf.core.logLevel, rf.core.logFormat); err != nil {
		return rf.ops.blame("log-level", err)
	}
	if rf.ops.metricsAddr != "" {
		if _, err := metrics.ListenAddr(rf.ops.metricsAddr); err != nil {
			return rf.ops.blame("metrics-addr", err)
		}
	}
	if err := checkSources(rf); err != nil {
		return err
	}
	for _, in := range rf.ins {
		if c, ok := in.(interface{ check() error }); ok {
			if err := c.check(); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSources refuses two sources at once: a run reads one (followed
// files, or a Kafka topic), and reading the first while ignoring the
// other without a word would lose the other's lines.
func checkSources(rf *runFlags) error {
	var asked []string // flag names
	for _, in := range rf.ins {
		switch in := in.(type) {
		case *followInput:
			if len(in.paths) > 0 {
				asked = append(asked, "follow")
			} else if at, ok := rf.ops.origins["state"]; ok && in.state != "" {
				// Set in a config file: name its line, not a flag.
				return &config.Error{File: at.file, Line: at.line, Key: at.key,
					Msg: fmt.Sprintf("key %q: a state directory needs files to follow ([[inputs.file]] path, or --follow)", at.key)}
			}
		case *kafkaInput:
			if len(in.topics) > 0 {
				asked = append(asked, "kafka-topic")
			}
		}
	}
	if len(asked) < 2 {
		return nil
	}
	msg := fmt.Sprintf("--%s and --%s: one source at a time; run one annotator per source (they can share an output topic)", asked[0], asked[1])
	for _, name := range asked {
		if at, ok := rf.ops.origins[name]; ok {
			return &config.Error{File: at.file, Line: at.line, Key: at.key, Msg: fmt.Sprintf("key %q: %s", at.key, msg)}
		}
	}
	return usagef("%s", msg)
}
