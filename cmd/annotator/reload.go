package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/metrics"
	"github.com/annotator-dev/annotator/pipeline"
)

// catalogLoader builds the annotator from the built-in catalog and the
// custom files, all from scratch on every load, so that a key deleted
// from a file is really gone afterwards.
type catalogLoader struct {
	files   []string
	replace bool
	prefer  []string // nil: the default order, restricted to known sources
	engine  matcher.Engine
	opts    annotate.Options
}

// loaded is one complete catalog: the annotator the pipeline uses and the
// scanner the metrics and summary use, built on the same matcher.
type loaded struct {
	ann   *annotate.Annotator
	codes *metrics.Codes
	sum   [sha256.Size]byte // of the custom files' contents
}

func (l *catalogLoader) load() (*loaded, error) {
	var builtin *catalog.Catalog
	if !l.replace {
		b, err := catalog.Builtin()
		if err != nil {
			return nil, err
		}
		builtin = b
	}
	h := sha256.New()
	custom := make([]*catalog.Catalog, 0, len(l.files))
	for _, f := range l.files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fileError{fmt.Errorf("catalog: %w", err)}
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(data))
		h.Write(data)
		c, err := catalog.Parse(f, data)
		if err != nil {
			return nil, fileError{err}
		}
		custom = append(custom, c)
	}
	c, err := catalog.Combine(builtin, custom, l.replace)
	if err != nil {
		return nil, fileError{err}
	}
	prefer := l.prefer
	if prefer == nil {
		// The default order names built-in sources, which a replacing
		// catalog lacks.
		known := map[string]bool{}
		for _, s := range c.Sources() {
			known[s.ID] = true
		}
		prefer = []string{}
		for _, id := range catalog.DefaultPreference() {
			if known[id] {
				prefer = append(prefer, id)
			}
		}
	}
	choices, err := c.Choose(prefer)
	if err != nil {
		return nil, fmt.Errorf("--prefer: %w", err)
	}
	keys := make([]string, len(choices))
	notes := make([]annotate.Note, len(choices))
	for i, ch := range choices {
		keys[i] = ch.Code
		notes[i] = annotate.Note{Code: ch.Code, Message: ch.Message, Meaning: ch.Meaning, Source: ch.Source}
	}
	m, err := matcher.New(keys, l.engine)
	if err != nil {
		return nil, fmt.Errorf("matcher: %w", err)
	}
	a, err := annotate.New(m, notes, l.opts)
	if err != nil {
		return nil, err
	}
	ld := &loaded{ann: a, codes: metrics.NewCodes(m, notes)}
	copy(ld.sum[:], h.Sum(nil))
	return ld, nil
}

// reloader keeps the current catalog and swaps it on SIGHUP or when a
// catalog file changes. The pipeline reads the annotator at the start of
// every batch, so a swap takes effect between batches and no line is ever
// annotated with a half-loaded catalog.
type reloader struct {
	loader  *catalogLoader
	log     *slog.Logger
	reg     *metrics.Registry
	ann     atomic.Pointer[annotate.Annotator]
	codes   atomic.Pointer[metrics.Codes]
	sum     [sha256.Size]byte // owned by the run goroutine after start
	version int64
	hup     chan os.Signal
	watcher *fsnotify.Watcher
}

func newReloader(l *catalogLoader, log *slog.Logger, reg *metrics.Registry, watch bool) (*reloader, error) {
	r := &reloader{loader: l, log: log, reg: reg}
	r.watch(watch)
	ld, err := l.load()
	if err != nil {
		r.close()
		return nil, err
	}
	r.swap(ld)
	return r, nil
}

func (r *reloader) swap(ld *loaded) {
	r.version++
	r.sum = ld.sum
	r.codes.Store(ld.codes)
	r.ann.Store(ld.ann)
	r.reg.CatalogLoaded(r.version, ld.codes.Len(), nil)
}

// reload loads the catalogs again; on failure the old catalog stays.
// Unless forced, an unchanged set of files is left alone (editors and
// config managers touch files without changing them).
func (r *reloader) reload(why string, force bool) {
	ld, err := r.loader.load()
	if err != nil {
		r.log.Error("catalog reload failed, keeping the previous catalog", "trigger", why, "version", r.version, "err", err)
		r.reg.CatalogLoaded(r.version, 0, err)
		return
	}
	if !force && ld.sum == r.sum {
		return
	}
	r.swap(ld)
	r.log.Info("catalog reloaded", "trigger", why, "version", r.version, "codes", ld.codes.Len())
}

// watch starts listening for reload triggers. It runs before the first
// load, so that a change made while the catalogs load is not missed.
func (r *reloader) watch(files bool) {
	r.hup = make(chan os.Signal, 1)
	signal.Notify(r.hup, syscall.SIGHUP)
	if !files || len(r.loader.files) == 0 {
		return
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		r.log.Error("cannot watch catalog files; SIGHUP still reloads", "err", err)
		return
	}
	// Watching the directories, not the files, survives a file replaced
	// by rename (editors, config managers, Kubernetes ConfigMaps), which
	// would end a watch on the file itself.
	dirs := map[string]bool{}
	for _, f := range r.loader.files {
		d := filepath.Dir(f)
		if dirs[d] {
			continue
		}
		dirs[d] = true
		if err := w.Add(d); err != nil {
			r.log.Error("cannot watch catalog directory; SIGHUP still reloads", "dir", d, "err", err)
		}
	}
	r.watcher = w
}

// close stops listening for triggers.
func (r *reloader) close() {
	signal.Stop(r.hup)
	if r.watcher != nil {
		r.watcher.Close()
	}
}

// run serves reload triggers until ctx is done.
func (r *reloader) run(ctx context.Context) {
	defer r.close()
	hup := r.hup
	var events <-chan fsnotify.Event
	var errs <-chan error
	if r.watcher != nil {
		events, errs = r.watcher.Events, r.watcher.Errors
	}
	watched := map[string]bool{}
	for _, f := range r.loader.files {
		watched[filepath.Clean(f)] = true
	}
	// Changes come in bursts (truncate, write, write, chmod); one reload
	// once the burst settles reads the finished file.
	const settle = 100 * time.Millisecond
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload("SIGHUP", true)
		case ev := <-events:
			// A Kubernetes ConfigMap swaps its files in by renaming its
			// "..data" symlink; the content check in reload ignores
			// events that change nothing.
			if watched[filepath.Clean(ev.Name)] || filepath.Base(ev.Name) == "..data" {
				debounce.Reset(settle)
			}
		case err := <-errs:
			r.log.Warn("catalog watch", "err", err)
		case <-debounce.C:
			r.reload("file change", false)
		}
	}
}

// The run-time side of opsFlags: what start builds and stop releases.
type opsRun struct {
	rel    *reloader
	reg    *metrics.Registry
	srv    *metrics.Server
	sum    *summary
	prog   *progress
	cancel context.CancelFunc
	done   chan struct{}
	source string
	sumOut io.Writer
	stderr io.Writer
}

// start loads the catalogs and starts the reloader, the metrics endpoint
// and the progress display, as the flags ask. It returns the first
// annotator; the pipeline then follows o.current().
func (o *opsFlags) start(ctx context.Context, core *coreFlags, paths []string, log *slog.Logger, stdout, stderr io.Writer) (*annotate.Annotator, error) {
	format, err := annotate.ParseFormat(core.format)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	l := &catalogLoader{files: o.catalogs, replace: o.catalogReplace, engine: matcher.Engine(core.engine),
		opts: annotate.Options{Format: format, OnlyMatching: core.onlyMatching}}
	l.prefer = splitList(core.prefer)
	rt := &opsRun{stderr: stderr}
	o.rt = rt
	if o.metricsAddr != "" {
		addr, err := metrics.ListenAddr(o.metricsAddr)
		if err != nil {
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
		rt.reg = metrics.New()
		if rt.srv, err = metrics.Serve(addr, rt.reg, log); err != nil {
			return nil, err
		}
	}
	rel, err := newReloader(l, log, rt.reg, o.catalogWatch)
	if err != nil {
		return nil, err
	}
	rt.rel = rel
	so, statsRun := stdout.(*statsOutput)
	if statsRun {
		rt.sum, rt.sumOut = newSummary(len(paths) > 1), so.w
	} else if o.summary {
		rt.sum, rt.sumOut = newSummary(len(paths) > 1), stderr
	}
	rctx, cancel := context.WithCancel(ctx)
	rt.cancel, rt.done = cancel, make(chan struct{})
	// Progress only where it garbles nothing: stderr is a terminal that
	// annotated lines are not also being written to.
	if rt.sum != nil && isTerminal(stderr) && (statsRun || !isTerminal(stdout)) {
		rt.prog = newProgress(paths, stderr)
	}
	go func() {
		defer close(rt.done)
		if rt.prog != nil {
			go rt.prog.run(rctx)
		}
		rel.run(rctx)
		if rt.prog != nil {
			rt.prog.wait()
		}
	}()
	return rel.ann.Load(), nil
}

// current is the annotator the pipeline reads per batch.
func (o *opsFlags) current() *atomic.Pointer[annotate.Annotator] { return &o.rt.rel.ann }

// registry is the run's metrics, nil when they are off.
func (o *opsFlags) registry() *metrics.Registry { return o.rt.reg }

// serving marks the run ready once its input and output are open.
func (o *opsFlags) serving(in input) {
	o.rt.source = "stdin"
	if _, files := in.(*filesInput); !files {
		o.rt.source = inputName(in)
	}
	o.rt.reg.SetReady(true)
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
		codes := rt.rel.codes.Load()
		rt.reg.Delivered(rt.source, b, codes)
		if rt.sum != nil {
			rt.sum.add(b, codes)
		}
		if rt.prog != nil {
			rt.prog.add(b)
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
		rt.sum.write(rt.sumOut)
	}
}
