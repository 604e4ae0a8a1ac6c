// Package reload keeps the catalog a run annotates with: it builds the
// annotator from the built-in catalog and the custom catalog files, and
// builds it again, whole, on SIGHUP or when a catalog file changes. The
// pipeline reads the current annotator at the start of every batch, so a
// swap takes effect between batches.
package reload

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/metrics"
)

// Loader builds the annotator from the built-in catalog and the custom
// files, all from scratch on every load, so that a key deleted from a file
// is really gone afterwards.
type Loader struct {
	Files   []string // custom catalog files, later ones win
	Replace bool     // leave the built-in catalog out
	Prefer  []string // nil: the default order, restricted to known sources
	Engine  matcher.Engine
	Opts    annotate.Options
}

// Loaded is one complete catalog: the annotator the pipeline uses.
type Loaded struct {
	Ann *annotate.Annotator
	sum [sha256.Size]byte // of the custom files' contents
}

// FileError is a custom catalog file that could not be read; the caller
// knows where the file was named.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("catalog file %s: %v", e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// PreferError is a preference order the catalog cannot follow (a source
// it does not have).
type PreferError struct{ Err error }

func (e *PreferError) Error() string { return e.Err.Error() }
func (e *PreferError) Unwrap() error { return e.Err }

// Catalog reads the built-in catalog and the custom files and combines
// them, without building a matcher: what `codes` and `lookup` list.
func (l *Loader) Catalog() (*catalog.Catalog, error) {
	c, _, err := l.combine()
	return c, err
}

func (l *Loader) combine() (*catalog.Catalog, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	var builtin *catalog.Catalog
	if !l.Replace {
		b, err := catalog.Builtin()
		if err != nil {
			return nil, sum, err
		}
		builtin = b
	}
	h := sha256.New()
	custom := make([]*catalog.Catalog, 0, len(l.Files))
	for _, f := range l.Files {
		data, err := readHashed(h, f)
		if err != nil {
			return nil, sum, err
		}
		c, err := catalog.Parse(f, data)
		if err != nil {
			return nil, sum, err // names the file and line already
		}
		custom = append(custom, c)
	}
	c, err := catalog.Combine(builtin, custom, l.Replace)
	if err != nil {
		return nil, sum, err
	}
	copy(sum[:], h.Sum(nil))
	return c, sum, nil
}

// readHashed reads the custom catalog file f and adds its name and
// contents to h.
func readHashed(h hash.Hash, f string) ([]byte, error) {
	data, err := os.ReadFile(f)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in FileError already
		}
		return nil, &FileError{Path: f, Err: err}
	}
	fmt.Fprintf(h, "%s\x00%d\x00", f, len(data))
	h.Write(data)
	return data, nil
}

// sum is the checksum of the custom files' contents, as a load would
// record it, read without building anything.
func (l *Loader) sum() ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	h := sha256.New()
	for _, f := range l.Files {
		if _, err := readHashed(h, f); err != nil {
			return sum, err
		}
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// Load builds a complete catalog.
func (l *Loader) Load() (*Loaded, error) {
	c, sum, err := l.combine()
	if err != nil {
		return nil, err
	}
	prefer := l.Prefer
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
		return nil, &PreferError{err}
	}
	keys := make([]string, len(choices))
	notes := make([]annotate.Note, len(choices))
	for i, ch := range choices {
		keys[i] = ch.Code
		notes[i] = annotate.Note{Code: ch.Code, Message: ch.Message, Meaning: ch.Meaning, Source: ch.Source}
	}
	build := matcher.New
	if l.Opts.Count {
		// The metrics and the summary also count the numbers shaped like
		// codes that the catalog lacks.
		build = matcher.NewWithUnknown
	}
	m, err := build(keys, l.Engine)
	if err != nil {
		return nil, fmt.Errorf("matcher: %w", err)
	}
	a, err := annotate.New(m, notes, l.Opts)
	if err != nil {
		return nil, err
	}
	return &Loaded{Ann: a, sum: sum}, nil
}

// Reloader keeps the current catalog and swaps it on SIGHUP or when a
// catalog file changes. The pipeline reads the annotator at the start of
// every batch, so a swap takes effect between batches and no line is ever
// annotated with a half-loaded catalog.
type Reloader struct {
	// Ann is the current annotator.
	Ann atomic.Pointer[annotate.Annotator]

	loader  *Loader
	log     *slog.Logger
	reg     *metrics.Registry
	sum     [sha256.Size]byte // owned by the Run goroutine after New
	version int64
	hup     chan os.Signal
	// watchFiles asks Run to watch the catalog files, from settle after
	// it starts; watcher is then the watch, owned by Run.
	watchFiles bool
	watcher    *fsnotify.Watcher
	settle     time.Duration
}

// DefaultSettle is how long a changed catalog file must be still before it
// is read again: a file rewritten in place in pieces (truncate, part,
// pause, rest) read too early would load a part of the catalog.
const DefaultSettle = time.Second

// New loads the catalog once and listens for reload triggers: SIGHUP
// always, changes to the catalog files when watch is set, each read once
// the file has been still for settle (0: DefaultSettle). reg, which may
// be nil, takes the catalog's version and load outcomes. The caller runs
// Run, which stops listening when its context ends; Close stops
// listening when Run is never started.
//
// Run watches the files only from settle after it starts, and then
// compares their checksum with the loaded catalog's, so a change made
// before is not missed. Ending a watch (an inotify instance) waits in the
// kernel for a grace period, 10-15 ms on a shared two-core machine, also
// when the process exits without closing it: a run that reads a file and
// exits sooner than settle should not pay that. With a custom catalog it
// was a fifth of annotating 256 MiB.
func New(l *Loader, log *slog.Logger, reg *metrics.Registry, watch bool, settle time.Duration) (*Reloader, error) {
	if settle <= 0 {
		settle = DefaultSettle
	}
	r := &Reloader{loader: l, log: log, reg: reg, settle: settle, watchFiles: watch && len(l.Files) > 0}
	// SIGHUP is heard from before the first load, so that one sent
	// while the catalogs load is not missed.
	r.hup = make(chan os.Signal, 1)
	signal.Notify(r.hup, syscall.SIGHUP)
	ld, err := l.Load()
	if err != nil {
		r.Close()
		return nil, err
	}
	r.swap(ld)
	return r, nil
}

func (r *Reloader) swap(ld *Loaded) {
	r.version++
	r.sum = ld.sum
	r.Ann.Store(ld.Ann)
	r.reg.CatalogLoaded(r.version, ld.Ann.Len(), nil)
}

// reload loads the catalogs again; on failure the old catalog stays.
// Unless forced, an unchanged set of files is left alone (editors and
// config managers touch files without changing them).
func (r *Reloader) reload(why string, force bool) {
	ld, err := r.loader.Load()
	if err != nil {
		r.log.Error("catalog reload failed, keeping the previous catalog", "trigger", why, "version", r.version, "err", err)
		r.reg.CatalogLoaded(r.version, 0, err)
		return
	}
	if !force && ld.sum == r.sum {
		return
	}
	r.swap(ld)
	r.log.Info("catalog reloaded", "trigger", why, "version", r.version, "codes", ld.Ann.Len())
}

// watch starts watching the catalog files' directories.
func (r *Reloader) watch() {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		r.log.Error("cannot watch catalog files; SIGHUP still reloads", "err", err)
		return
	}
	// Watching the directories, not the files, survives a file replaced
	// by rename (editors, config managers, Kubernetes ConfigMaps), which
	// would end a watch on the file itself.
	dirs := map[string]bool{}
	for _, f := range r.loader.Files {
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

// Close stops listening for triggers.
func (r *Reloader) Close() {
	signal.Stop(r.hup)
	if r.watcher != nil {
		r.watcher.Close()
	}
}

// Run serves reload triggers until ctx is done.
func (r *Reloader) Run(ctx context.Context) {
	defer r.Close()
	hup := r.hup
	var events <-chan fsnotify.Event
	var errs <-chan error
	if r.watcher != nil {
		events, errs = r.watcher.Events, r.watcher.Errors
	}
	watched := map[string]bool{}
	for _, f := range r.loader.Files {
		watched[filepath.Clean(f)] = true
	}
	// Changes come in bursts (truncate, write, pause, write, chmod); one
	// reload once the file has been still for r.settle reads the finished
	// file. Writing a new file and renaming it over the old one is the
	// safe way: the rename is one event, and the content complete.
	settle := r.settle
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	var watchFrom <-chan time.Time
	if r.watchFiles {
		t := time.NewTimer(settle)
		defer t.Stop()
		watchFrom = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-watchFrom:
			watchFrom = nil
			r.watch()
			if r.watcher != nil {
				events, errs = r.watcher.Events, r.watcher.Errors
			}
			// A change made before the watch began: read once the
			// file is still, as for a change seen.
			if sum, err := r.loader.sum(); err != nil || sum != r.sum {
				debounce.Reset(settle)
			}
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
