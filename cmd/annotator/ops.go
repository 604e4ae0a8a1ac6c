package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync/atomic"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog/reload"
	"github.com/annotator-dev/annotator/internal/sdnotify"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/metrics"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/reporting"
)

// The run-time side of opsFlags: what start builds and stop releases.
type opsRun struct {
	rel    *reload.Reloader
	reg    *metrics.Registry
	srv    *metrics.Server
	sum    *reporting.Summary
	sumFmt annotate.Format
	prog   *reporting.Progress
	cancel context.CancelFunc
	done   chan struct{}
	source string
	sumOut io.Writer
	stderr io.Writer
	log    *slog.Logger

	timeline *timelineRun // nil without a timeline
}

// start loads the catalogs and starts the reloader, the metrics endpoint
// and the progress display, as the flags ask. It returns the first
// annotator; the pipeline then follows o.current().
func (o *opsFlags) start(ctx context.Context, core *coreFlags, paths []string, log *slog.Logger, stdout, stderr io.Writer) (*annotate.Annotator, error) {
	l, err := o.loader(core)
	if err != nil {
		return nil, err
	}
	so, statsRun := stdout.(*statsOutput)
	rt := &opsRun{stderr: stderr, sumFmt: annotate.Text, log: log}
	if statsRun {
		// --format shapes the table; the annotated lines are dropped.
		rt.sumFmt, l.Opts.Format = l.Opts.Format, annotate.Text
	}
	// The metrics and the summary take the codes the annotation finds.
	l.Opts.Count = o.metricsAddr != "" || o.summary || statsRun
	// Only the summary shows on which lines numbers not in the catalog
	// were.
	l.Opts.NoUnknownLines = !o.summary && !statsRun
	o.rt = rt
	if o.metricsAddr != "" {
		addr, err := metrics.ListenAddr(o.metricsAddr)
		if err != nil {
			return nil, o.blame("metrics-addr", err)
		}
		rt.reg = metrics.New()
		// Not the caller's usage mistake (the address is taken, say):
		// exit 1, like any other failure to start.
		if rt.srv, err = metrics.Serve(addr, rt.reg, log); err != nil {
			return nil, err
		}
	}
	rel, err := reload.New(l, log, rt.reg, o.catalogWatch, o.catalogSettle)
	if err != nil {
		return nil, o.loadError(err)
	}
	rt.rel = rel
	if statsRun {
		rt.sum, rt.sumOut = reporting.NewSummary(len(paths) > 1, o.top), so.w
	} else if o.summary {
		rt.sum, rt.sumOut = reporting.NewSummary(len(paths) > 1, o.top), stderr
	}
	if rt.sum != nil {
		rt.timeline = o.timeline.newTimeline(rt.sumOut, statsRun && core.format == "html")
	}
	rctx, cancel := context.WithCancel(ctx)
	rt.cancel, rt.done = cancel, make(chan struct{})
	// Progress only where it garbles nothing: stderr is a terminal that
	// annotated lines are not also being written to.
	if rt.sum != nil && isTerminal(stderr) && (statsRun || !isTerminal(stdout)) {
		rt.prog = reporting.NewProgress(paths, stderr)
	}
	go func() {
		defer close(rt.done)
		if rt.prog != nil {
			go rt.prog.Run(rctx)
		}
		rel.Run(rctx)
		if rt.prog != nil {
			rt.prog.Wait()
		}
	}()
	return rel.Ann.Load(), nil
}

// loader is the catalog loader the flags ask for.
func (o *opsFlags) loader(core *coreFlags) (*reload.Loader, error) {
	format, err := annotate.ParseFormat(lineFormat(core.format))
	if err != nil {
		return nil, o.blame("format", err)
	}
	return &reload.Loader{Files: o.catalogs, Replace: o.catalogReplace, Engine: matcher.Engine(core.engine),
		Prefer: splitList(core.prefer), Opts: annotate.Options{Format: format, OnlyMatching: core.onlyMatching, Field: core.field}}, nil
}

// loadError puts a catalog load error where the user can find its cause:
// the config file's line or the flag that named the missing file or the
// unknown source. A catalog file's own errors name their file and line.
func (o *opsFlags) loadError(err error) error {
	var fe *reload.FileError
	var pe *reload.PreferError
	switch {
	case errors.As(err, &fe):
		return o.blame("catalog", err)
	case errors.As(err, &pe):
		return o.blame("prefer", pe.Err)
	}
	return &settingsError{err}
}

// current is the annotator the pipeline reads per batch.
func (o *opsFlags) current() *atomic.Pointer[annotate.Annotator] { return &o.rt.rel.Ann }

// registry is the run's metrics, nil when they are off.
func (o *opsFlags) registry() *metrics.Registry { return o.rt.reg }

// serving marks the run ready once its input and output are open.
func (o *opsFlags) serving(in input) {
	o.rt.source = "stdin"
	if _, files := in.(*filesInput); !files {
		o.rt.source = inputName(in)
	}
	o.rt.reg.SetReady(true)
	// Signals are handled by now (SIGHUP by the reloader, or ignored):
	// a Type=notify unit may send its reload from here on.
	if err := sdnotify.Ready(); err != nil {
		o.rt.log.Warn("cannot tell systemd the service is ready", "err", err)
	}
}

// inputName names an input for metric labels: kafkaInput is "kafka".
func inputName(in input) string {
	t := reflect.TypeOf(in)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return string(bytes.TrimSuffix([]byte(t.Name()), []byte("Input")))
}

// delivered is the pipeline's per-batch hook, or nil when nothing needs
// it, so that a plain run does no extra work at all.
func (o *opsFlags) delivered() func(*pipeline.Batch) {
	rt := o.rt
	if rt.reg == nil && rt.sum == nil && rt.prog == nil {
		return nil
	}
	return func(b *pipeline.Batch) {
		rt.reg.Delivered(rt.source, b)
		if rt.sum != nil {
			rt.sum.Add(b)
		}
		if rt.timeline != nil {
			rt.timeline.tl.Add(b)
		}
		if rt.prog != nil {
			rt.prog.Add(b)
		}
	}
}

// finish ends the run's helpers and prints the summary. err is the run's
// outcome, counted in the metrics.
func (o *opsFlags) finish(err error) {
	rt := o.rt
	if rt == nil {
		return
	}
	o.rt = nil
	rt.reg.SetReady(false)
	if err != nil {
		rt.reg.Error("run")
	}
	if rt.cancel != nil {
		rt.cancel()
		<-rt.done
	}
	if rt.srv != nil {
		_ = rt.srv.Close()
	}
	if rt.sum != nil {
		if err := rt.writeSummary(); err != nil {
			fmt.Fprintf(rt.stderr, "annotator: %v\n", err)
		}
	}
}
