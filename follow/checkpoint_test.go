package follow

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/checkpoint"
	"github.com/annotator-dev/annotator/pipeline"
	"github.com/annotator-dev/annotator/sources"
)

// savedOffset reads the offset the state file on disk holds for path
// (-1: none).
func savedOffset(t *testing.T, state, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, checkpoint.FileName))
	if os.IsNotExist(err) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Files []checkpoint.Entry `json:"files"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state file %q: %v", data, err)
	}
	for _, e := range st.Files {
		if e.Path == path {
			return e.Offset
		}
	}
	return -1
}

// waitSaved polls the state file until it holds want for path.
func waitSaved(t *testing.T, state, path string, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := savedOffset(t, state, path)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state file holds offset %d for %s, want %d", got, path, want)
		}
		time.Sleep(5 * time.Millisecond) // polling a file another goroutine writes
	}
}

type fixture struct {
	dir, path, state string
	src              *Source
	mu               sync.Mutex
	progress         []int64
	checkpointed     int
}

// newFixture follows a file of n lines of 10 bytes, in batches of at
// most 64 bytes (six lines).
func newFixture(t *testing.T, n int, every time.Duration) *fixture {
	t.Helper()
	fx := &fixture{dir: t.TempDir()}
	fx.path = filepath.Join(fx.dir, "app.log")
	fx.state = filepath.Join(fx.dir, "state")
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %04d\n", i)
	}
	if err := os.WriteFile(fx.path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.Open(fx.state)
	if err != nil {
		t.Fatal(err)
	}
	fx.src, err = New(Options{
		Paths:           []string{fx.path},
		Store:           store,
		Pool:            sources.NewPool(64, 4),
		Poll:            10 * time.Millisecond,
		NoWatch:         true,
		CheckpointEvery: every,
		Progress: func(path string, off, size int64) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			if path == fx.path && size == int64(10*n) {
				fx.progress = append(fx.progress, off)
			}
		},
		Checkpointed: func(path string, at time.Time) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.checkpointed++
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fx.src.Close() })
	return fx
}

func (fx *fixture) next(t *testing.T) *pipeline.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := fx.src.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Acknowledgements between two writes are merged: the disk sees the first
// at once, the rest only when the interval is over or at Close, which
// writes the last one so that a clean restart repeats nothing.
func TestCheckpointsCoalescedAndFlushedAtClose(t *testing.T) {
	fx := newFixture(t, 30, time.Hour)
	b := fx.next(t)
	// Where reading starts is on disk before the first line is handed on.
	if got := savedOffset(t, fx.state, fx.path); got != 0 {
		t.Errorf("state file holds %d before any delivery, want 0", got)
	}
	first := int64(len(b.Data))
	b.Done()
	waitSaved(t, fx.state, fx.path, first)
	var last int64 = first
	for i := 0; i < 3; i++ {
		b := fx.next(t)
		last += int64(len(b.Data))
		b.Done()
	}
	// The writer waits out its hour: the later acknowledgements are only
	// in memory.
	if got := savedOffset(t, fx.state, fx.path); got != first {
		t.Errorf("state file holds %d before the interval is over, want %d", got, first)
	}
	if err := fx.src.Close(); err != nil {
		t.Fatal(err)
	}
	if got := savedOffset(t, fx.state, fx.path); got != last {
		t.Errorf("state file holds %d after Close, want %d (the last acknowledged)", got, last)
	}
	fx.mu.Lock()
	defer fx.mu.Unlock()
	if len(fx.progress) != 4 || fx.progress[3] != last {
		t.Errorf("progress reported %v, want four offsets ending at %d", fx.progress, last)
	}
	if fx.checkpointed != 3 {
		t.Errorf("checkpoint writes reported %d times, want 3 (start, first acknowledgement, Close)", fx.checkpointed)
	}
}

// With no interval every acknowledgement is on disk before Done returns.
func TestCheckpointEveryBatch(t *testing.T) {
	fx := newFixture(t, 30, 0)
	var off int64
	for i := 0; i < 4; i++ {
		b := fx.next(t)
		off += int64(len(b.Data))
		b.Done()
		if got := savedOffset(t, fx.state, fx.path); got != off {
			t.Fatalf("batch %d: state file holds %d after Done, want %d", i, got, off)
		}
	}
}

// A batch not acknowledged is never checkpointed, however long it waits.
func TestCheckpointNeverAheadOfDelivery(t *testing.T) {
	fx := newFixture(t, 30, time.Millisecond)
	b1 := fx.next(t)
	b2 := fx.next(t)
	b1.Done()
	waitSaved(t, fx.state, fx.path, int64(len(b1.Data)))
	// b2 was read but not delivered: the writer, running every
	// millisecond meanwhile, must not record it.
	fx.next(t)
	if got := savedOffset(t, fx.state, fx.path); got != int64(len(b1.Data)) {
		t.Errorf("state file holds %d, want %d: ahead of delivery", got, len(b1.Data))
	}
	b2.Done()
	waitSaved(t, fx.state, fx.path, int64(len(b1.Data)+len(b2.Data)))
}

// A checkpoint that cannot be written stops the source with an error.
func TestCheckpointWriteFailureStops(t *testing.T) {
	fx := newFixture(t, 30, time.Millisecond)
	if err := os.RemoveAll(fx.state); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b, err := fx.src.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal("no error after a failed checkpoint write")
			}
			if !strings.Contains(err.Error(), fx.state) {
				t.Errorf("error %q does not name the state directory", err)
			}
			return
		}
		b.Done()
	}
}
