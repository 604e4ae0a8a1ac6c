package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/annotator-dev/annotator/checkpoint"
	"github.com/annotator-dev/annotator/follow"
	"github.com/annotator-dev/annotator/internal/flagvalue"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sources"
	"golang.org/x/sys/unix"
)

// followInput is the sidecar: files followed like `tail -F`, with
// checkpoints.
type followInput struct {
	paths    followList
	state    string
	startAt  string
	poll     time.Duration
	rotated  string
	pollOnly bool
	ckEvery  time.Duration
	inactive time.Duration
	maxOpen  int
}

// followList is a flag that may be repeated and takes comma-separated lists.
type followList []string

func (l *followList) String() string { return strings.Join(*l, ",") }

func (l *followList) Set(s string) error {
	paths := splitList(s)
	if len(paths) == 0 {
		// Nothing to follow would read standard input instead.
		return errors.New("empty: want a file path or glob")
	}
	*l = append(*l, paths...)
	return nil
}

func (i *followInput) register(fs *flag.FlagSet) {
	fs.Var(&i.paths, "follow", "follow files like tail -F through rotation (repeatable, comma-separated, globs allowed; further file arguments are followed too)")
	fs.StringVar(&i.state, "state", "", "directory keeping a checkpoint per followed file, so a restart resumes where delivery stopped")
	fs.Var(flagvalue.NewChoice(&i.startAt, "beginning", "beginning", "end"), "start-at", "where to start in a file already there with no checkpoint: beginning or end")
	fs.Var(flagvalue.NewDuration(&i.poll, 250*time.Millisecond, time.Millisecond, time.Hour), "poll-interval",
		"how often followed files are checked besides file system events, and globs matched again, 1ms to 1h")
	fs.StringVar(&i.rotated, "rotated", strings.Join(follow.DefaultRotated, ","), "glob patterns naming rotated files ({path} is the followed path), where copytruncate's copy and renamed files are looked for")
	fs.BoolVar(&i.pollOnly, "poll-only", false, "do not use file system notifications, only poll (network file systems)")
	fs.Var(flagvalue.NewDuration(&i.inactive, 5*time.Minute, 100*time.Millisecond, 24*time.Hour), "close-inactive",
		"how long a quiet file is kept open, 100ms to 24h: a file rotated away whose successor is still empty is read until quiet this long, and a quiet file's descriptor is closed (reopened when it changes)")
	fs.Var(flagvalue.NewInt(&i.maxOpen, 0, 0, 1<<20), "max-open-files",
		"most followed files open at once, 0 to 1048576; quiet files give their descriptor up to others (0: derived from the descriptor limit)")
	fs.Var(flagvalue.NewDuration(&i.ckEvery, 100*time.Millisecond, 0, time.Hour), "checkpoint-interval",
		"least time between two checkpoint writes, 0 to 1h; after a crash about this long's worth of delivered lines is repeated (0: write after every batch, slower)")
}

// check validates the flags' combination, for check and for a run.
func (i *followInput) check() error {
	if len(i.paths) == 0 && i.state != "" {
		return usagef("--state needs --follow")
	}
	if i.state != "" {
		if err := stateWritable(i.state); err != nil {
			return &settingsError{fmt.Errorf("--state: state directory %s cannot be made or written: %w", i.state, err)}
		}
	}
	return nil
}

// stateWritable checks, without creating anything, that a state
// directory can be made and written: the directory itself if it exists,
// else the nearest existing parent. check must refuse what the run will.
func stateWritable(dir string) error {
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("%s is not a directory", p)
		case err == nil:
			if err := unix.Access(p, unix.W_OK); err != nil {
				return fmt.Errorf("%s is not writable: %w", p, err)
			}
			return nil
		case errors.Is(err, unix.ENOTDIR):
			return fmt.Errorf("a part of the path is a file")
		case !errors.Is(err, os.ErrNotExist):
			return err
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func (i *followInput) source(_ context.Context, env *runEnv) (pipeline.Source, error) {
	if err := i.check(); err != nil {
		return nil, err
	}
	if len(i.paths) == 0 {
		return nil, nil
	}
	start, _ := follow.ParseStartAt(i.startAt)
	opt := follow.Options{
		Paths:           append(append([]string(nil), i.paths...), env.paths...),
		Rotated:         splitList(i.rotated),
		StartAt:         start,
		Pool:            sources.NewPool(env.core.bufferSize, 2*env.core.workers+2),
		Poll:            i.poll,
		NoWatch:         i.pollOnly,
		WithPath:        true,
		Log:             env.log,
		CheckpointEvery: i.ckEvery,
		CloseInactive:   i.inactive,
		MaxOpen:         i.maxOpen,
	}
	if env.metrics != nil {
		opt.Progress, opt.Checkpointed = env.metrics.FileProgress, env.metrics.Checkpointed
	}
	if i.state != "" {
		store, err := checkpoint.Open(i.state)
		var corrupt *checkpoint.CorruptError
		switch {
		case errors.As(err, &corrupt):
			env.log.Error("checkpoint file corrupt; files without a checkpoint are read from their beginning",
				"file", corrupt.Path, "kept_as", corrupt.SavedAs, "err", corrupt.Err)
			opt.UnknownFromStart = true
		case err != nil:
			return nil, err
		}
		opt.Store = store
	}
	src, err := follow.New(opt)
	if err != nil {
		if opt.Store != nil {
			opt.Store.Close() // release the directory: nothing was recorded
		}
		if nl := (*follow.NotLogError)(nil); errors.As(err, &nl) {
			return nil, &settingsError{err} // a directory or FIFO named: exit 2
		}
		return nil, err
	}
	return src, nil
}

func (*followInput) failures() int { return 0 }
