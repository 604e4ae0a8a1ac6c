// Package follow is the sidecar's source: it follows log files the way
// `tail -F` does, through every common kind of rotation, and feeds their
// lines to the pipeline with offsets that are checkpointed only once the
// sink has taken them.
//
// The model: a file is an identity, not a name. An identity is a device
// and inode, a fingerprint of the file's first bytes and a marker of the
// bytes just before the offset read to; a path is only the name an
// identity was last seen under. The registry (registry.go) holds, for
// the whole Source, which follower holds each open file and how far each
// file let go was read, seeded from the checkpoints at start. So:
//
//   - a file is read by one follower only, whatever names it has (a glob
//     matching rotated names, a symlink beside its target), and a name
//     that resolves to a file read before goes on where it was left;
//   - a new file is read from its start even when its first bytes equal
//     another's; only a copytruncate copy of the file being read takes
//     over at that file's offset;
//   - a known inode whose first bytes or marker differ was reused by a
//     new file: read from its start, and logged.
//
// The files: discover.go matches the paths and starts the followers;
// follower.go reads one path's chain of generations; generations.go and
// rotated.go find the generations (successors, copies, files rotated
// while stopped or behind), copies.go the copies made while a file sat
// empty, resume.go where reading starts; linger.go reads late lines of
// files moved on from; park.go and openfiles.go give descriptors back.
//
// Each path is one perpetual stream of lines whatever rotation does to
// the files behind it:
//
//   - rename and create (logrotate's default): the renamed file is read
//     through the descriptor already open until its writer has moved on
//     to the new file (a daemon reopens its log only on postrotate's
//     HUP, often seconds later), then the new file from its start; late
//     lines from processes that reopen later still are read as they come;
//   - delete and create: the same, the open descriptor keeping the
//     deleted file readable until its end;
//   - copytruncate: the lines not read before the truncation are read
//     from the rotated copy (app.log.1, or what the Rotated patterns
//     name) at the same offset, then copies made meanwhile, then the file
//     from its start;
//   - compressed generations (app.log.2.gz) are read through gzip;
//   - truncate and rewrite: the file is read again from its start.
//
// A line is handed on only once its newline has arrived. Checkpoints
// (package checkpoint) record the offset just past the last line the sink
// has taken, so a restart resumes exactly there, also in a file that was
// rotated away while stopped.
//
// Acknowledgements are recorded in memory as the sink takes batches and
// written to disk by the Source's own goroutine at most once per
// Options.CheckpointEvery, so a slow disk (a contended fsync can take a
// second) never holds delivery back: a follower that waited for one fsync
// per batch fell behind the writer whenever the disk was busy. A clean
// stop (Close) writes the last acknowledged offsets, so nothing is
// repeated; after a crash the lines delivered since the last completed
// write are read again.
package follow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/annotator-dev/annotator/checkpoint"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sources"
)

// StartAt says where reading starts in a file with no checkpoint that was
// already there when following started. Files that appear later are
// always read from their start: all of their lines are new.
type StartAt uint8

const (
	// StartBeginning reads existing files whole: nothing is missed.
	StartBeginning StartAt = iota
	// StartEnd reads only what is written from now on (from the start of
	// a line still being written).
	StartEnd
)

// ParseStartAt reads "beginning" or "end".
func ParseStartAt(s string) (StartAt, error) {
	switch s {
	case "beginning":
		return StartBeginning, nil
	case "end":
		return StartEnd, nil
	}
	return 0, fmt.Errorf("start position %q: want beginning or end", s)
}

// DefaultRotated are the patterns rotated files are looked for with:
// logrotate's numbered (app.log.1, app.log.2.gz) and dated
// (app.log-20261204) names. A digit after the separator, so that a log
// of its own named like another plus a suffix (app.log.json, server-gc
// beside server) is not taken for a generation of it.
var DefaultRotated = []string{"{path}.[0-9]*", "{path}-[0-9]*"}

// Options configure a Source.
type Options struct {
	// Paths are file paths or glob patterns.
	Paths []string
	// Rotated are glob patterns, "{path}" standing for the followed path,
	// naming where rotation puts old files. Nil means DefaultRotated.
	Rotated []string
	StartAt StartAt
	// Store keeps checkpoints; nil keeps none. Close closes it.
	Store *checkpoint.Store
	// UnknownFromStart reads files without a checkpoint from their start
	// whatever StartAt says: set when the checkpoint file was corrupt.
	UnknownFromStart bool
	Pool             *sources.Pool
	// Poll is how often files are checked without a file system event,
	// and globs matched again. 0 means 250 ms.
	Poll time.Duration
	// CloseInactive is how long a file is kept open with nothing new in
	// it: a file rotated away whose successor is still empty (the writer
	// has not reopened its log yet) is read until it has been quiet this
	// long, and a quiet file the path still names has its descriptor
	// closed, to be reopened by its identity when it changes. 0 means
	// 5 minutes (Filebeat's close_inactive).
	CloseInactive time.Duration
	// MaxOpen bounds the followed files open at once; a follower whose
	// file is quiet gives its descriptor up when others wait for one.
	// 0 means DefaultMaxOpen().
	MaxOpen int
	// NoWatch disables file system notifications: polling only.
	NoWatch bool
	// WithPath puts the file's path into JSON output.
	WithPath bool
	// CheckpointEvery is the least time between two checkpoint writes;
	// acknowledgements in between are merged into the next write. After
	// a crash the lines delivered since the last completed write are
	// read again: about this long's worth, plus those delivered while
	// that write was under way. 0 writes after every delivered batch
	// before the next one is delivered: after a crash at most one batch
	// is repeated, but delivery waits for every fsync.
	CheckpointEvery time.Duration
	// Progress, if set, is told after each delivered batch how far into
	// its file delivery is and how large the file is.
	Progress func(path string, offset, size int64)
	// Checkpointed, if set, is told when a path's checkpoint was written.
	Checkpointed func(path string, at time.Time)
	Log          *slog.Logger
}

// Source follows files and multiplexes their lines into one pipeline
// source; each path is its own stream (Batch.Stream), its lines in order.
type Source struct {
	opt   Options
	store *checkpoint.Store
	// unknownFromStart: see Options.UnknownFromStart.
	unknownFromStart bool

	out   chan *pipeline.Batch
	fatal chan error
	// kick wakes the checkpoint writer after an acknowledgement.
	kick chan struct{}
	// open bounds the followed files open at once.
	open *openBudget
	// listing makes listings of rotated files one at a time.
	listing sync.Mutex
	// reg knows files by identity: who holds each, how far each let go
	// was read.
	reg *registry
	// lastWarn is when a failed checkpoint write was last logged (unix
	// nanoseconds), so a full disk does not flood the log.
	lastWarn atomic.Int64

	startOnce sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	failOnce  sync.Once
	closeOnce sync.Once
	closeErr  error
}

// New checks the paths and prepares to follow them; following starts with
// the first Next. A path named literally that is a directory or cannot be
// read is an error now; one that does not exist yet is waited for.
func New(opt Options) (*Source, error) {
	if len(opt.Paths) == 0 {
		return nil, errors.New("follow: no paths")
	}
	if opt.Rotated == nil {
		opt.Rotated = DefaultRotated
	}
	if opt.Poll <= 0 {
		opt.Poll = 250 * time.Millisecond
	}
	if opt.CloseInactive <= 0 {
		opt.CloseInactive = 5 * time.Minute
	}
	if opt.MaxOpen <= 0 {
		opt.MaxOpen = DefaultMaxOpen()
	}
	if opt.Pool == nil {
		opt.Pool = sources.NewPool(0, 0)
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	for _, p := range opt.Paths {
		if isGlob(p) {
			if _, err := filepath.Match(p, ""); err != nil {
				return nil, fmt.Errorf("follow %s: bad pattern: %w", p, err)
			}
			continue
		}
		if err := checkReadable(p); err != nil {
			return nil, err
		}
	}
	reg := newRegistry()
	if opt.Store != nil {
		reg.seed(opt.Store.Entries())
	}
	return &Source{
		reg:              reg,
		opt:              opt,
		store:            opt.Store,
		unknownFromStart: opt.UnknownFromStart,
		out:              make(chan *pipeline.Batch),
		fatal:            make(chan error, 1),
		kick:             make(chan struct{}, 1),
		open:             newOpenBudget(opt.MaxOpen),
	}, nil
}

func isGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

// checkReadable fails for a directory, a FIFO or a file that cannot be
// opened; a missing file is fine (it is waited for).
func checkReadable(p string) error {
	f, err := openLog(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	return f.Close()
}

// Next implements pipeline.Source. It returns batches from every
// followed file as they come; it ends only with ctx, or with an error
// when a checkpoint cannot be written.
func (s *Source) Next(ctx context.Context) (*pipeline.Batch, error) {
	s.startOnce.Do(s.start)
	select {
	case b := <-s.out:
		return b, nil
	case err := <-s.fatal:
		s.fatal <- err
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops following, waits for every goroutine to end and writes the
// offsets acknowledged last, so that a restart repeats nothing. Call it
// once the pipeline has returned: acknowledgements after it are lost.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.startOnce.Do(func() {}) // never start after Close
		if s.cancel != nil {
			s.cancel()
			s.wg.Wait()
		}
		if s.store != nil {
			s.closeErr = errors.Join(s.flush(), s.store.Close())
		}
	})
	return s.closeErr
}

func (s *Source) start() {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.manage(s.ctx)
	}()
	if s.store != nil && s.opt.CheckpointEvery > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.writeCheckpoints(s.ctx)
		}()
	}
}

func (s *Source) newFollower(path string, explicit, initial bool) *follower {
	f := &follower{
		src:      s,
		path:     path,
		dir:      filepath.Dir(path),
		log:      s.opt.Log,
		explicit: explicit,
		heldAt:   -1,
		initial:  initial,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if _, err := os.Stat(path); err == nil {
		f.existed = initial
	}
	if s.opt.WithPath {
		f.meta = jsonPath(path)
	}
	return f
}

var _ io.Closer = (*Source)(nil)
