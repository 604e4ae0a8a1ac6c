package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/annotator-dev/annotator/checkpoint"
	"github.com/annotator-dev/annotator/follow"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sources"
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
	*l = append(*l, splitList(s)...)
	return nil
}

func (i *followInput) register(fs *flag.FlagSet) {
	fs.Var(&i.paths, "follow", "follow files like tail -F through rotation (repeatable, comma-separated, globs allowed; further file arguments are followed too)")
	fs.StringVar(&i.state, "state", "", "directory keeping a checkpoint per followed file, so a restart resumes where delivery stopped")
	fs.StringVar(&i.startAt, "start-at", "beginning", "where to start in a file already there with no checkpoint: beginning or end")
	fs.DurationVar(&i.poll, "poll-interval", 250*time.Millisecond, "how often followed files are checked besides file system events, and globs matched again")
	fs.StringVar(&i.rotated, "rotated", strings.Join(follow.DefaultRotated, ","), "glob patterns naming rotated files ({path} is the followed path), where copytruncate's copy and renamed files are looked for")
	fs.BoolVar(&i.pollOnly, "poll-only", false, "do not use file system notifications, only poll (network file systems)")
	fs.DurationVar(&i.inactive, "close-inactive", 5*time.Minute, "how long a quiet file is kept open: a file rotated away whose successor is still empty is read until quiet this long, and a quiet file's descriptor is closed (reopened when it changes)")
	fs.IntVar(&i.maxOpen, "max-open-files", 0, "most followed files open at once; quiet files give their descriptor up to others (0: derived from the descriptor limit)")
	fs.DurationVar(&i.ckEvery, "checkpoint-interval", 100*time.Millisecond, "least time between two checkpoint writes; after a crash about this long's worth of delivered lines is repeated (0: write after every batch, slower)")
}

func (i *followInput) source(_ context.Context, env *runEnv) (pipeline.Source, error) {
	if len(i.paths) == 0 {
		if i.state != "" {
			return nil, fmt.Errorf("--state needs --follow: %w", errUsage)
		}
		return nil, nil
	}
	start, err := follow.ParseStartAt(i.startAt)
	if err != nil {
		return nil, fmt.Errorf("--start-at: %v: %w", err, errUsage)
	}
	if i.poll <= 0 {
		return nil, fmt.Errorf("--poll-interval %s: want a positive duration: %w", i.poll, errUsage)
	}
	if i.ckEvery < 0 {
		return nil, fmt.Errorf("--checkpoint-interval %s: want 0 or a positive duration: %w", i.ckEvery, errUsage)
	}
	if i.inactive <= 0 {
		return nil, fmt.Errorf("--close-inactive %s: want a positive duration: %w", i.inactive, errUsage)
	}
	if i.maxOpen < 0 {
		return nil, fmt.Errorf("--max-open-files %d: want 0 (derived from the descriptor limit) or a positive number: %w", i.maxOpen, errUsage)
	}
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
	return follow.New(opt)
}

func (*followInput) failures() int { return 0 }
