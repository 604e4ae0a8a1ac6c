package reload

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/matcher"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // as editors and ConfigMaps do
		t.Fatal(err)
	}
}

func annotateLine(t *testing.T, a *annotate.Annotator, line string) string {
	t.Helper()
	var s annotate.Scratch
	var st annotate.Stats
	return string(a.AppendLines(nil, []byte(line), nil, &s, &st))
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.tsv")
	write(t, f, "E1\tone\t一\n898001\tmine\n")
	ld, err := (&Loader{Files: []string{f}, Engine: matcher.Auto}).Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := annotateLine(t, ld.Ann, "E1 898001 898002\n"); got != "E1 898001 898002 [E1 one | 一] [898001 mine] [898002 No sush user | 用户不存在]\n" {
		t.Errorf("got %q", got)
	}
	if ld.Ann.Len() <= 2 {
		t.Errorf("the built-in codes are missing: %d codes", ld.Ann.Len())
	}
	c, err := (&Loader{Files: []string{f}, Replace: true}).Catalog()
	if err != nil || len(c.Entries()) != 2 {
		t.Errorf("Catalog with Replace: %v, %v", c, err)
	}

	_, err = (&Loader{Files: []string{filepath.Join(dir, "nope.tsv")}}).Load()
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != filepath.Join(dir, "nope.tsv") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	_, err = (&Loader{Prefer: []string{"nowhere"}}).Load()
	var pe *PreferError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `"nowhere"`) {
		t.Errorf("unknown source: %v", err)
	}
	write(t, f, "E1\tone\nE1\ttwo\n")
	if _, err := (&Loader{Files: []string{f}}).Load(); err == nil || !strings.Contains(err.Error(), f+":2:") {
		t.Errorf("a duplicate key: %v", err)
	}
}

// A file replaced by rename is loaded again; a broken one keeps the
// previous catalog; a deleted key is gone.
func TestReloaderFollowsFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.tsv")
	write(t, f, "KA\tv1\nKB\tv1\n")
	r, err := New(&Loader{Files: []string{f}, Replace: true}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, true, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if annotateLine(t, r.Ann.Load(), "KA KB\n") == want {
				return
			}
		}
		t.Fatalf("never annotated as %q; last %q", want, annotateLine(t, r.Ann.Load(), "KA KB\n"))
	}
	waitFor("KA KB [KA v1] [KB v1]\n")
	write(t, f, "KA\tv2\nKB\tv2\n")
	waitFor("KA KB [KA v2] [KB v2]\n")
	broken := r.Ann.Load()
	write(t, f, "KA\tx\nKA\ty\n")
	time.Sleep(300 * time.Millisecond) // past the settling delay: nothing may change
	if r.Ann.Load() != broken {
		t.Error("a broken file replaced the catalog")
	}
	write(t, f, "KA\tv3\n")
	waitFor("KA KB [KA v3]\n")
	if r.Ann.Load().Len() != 1 {
		t.Errorf("the annotator has %d codes, want 1", r.Ann.Load().Len())
	}
}

// A catalog rewritten in place in pieces, with a pause shorter than the
// settle time between them, is read once whole, never half.
func TestReloaderWaitsForTheFileToSettle(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.tsv")
	write(t, f, "KA\tv1\nKB\tv1\n")
	r, err := New(&Loader{Files: []string{f}, Replace: true}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, true, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	seen := make(chan int, 1000)
	stopWatch := make(chan struct{})
	go func() { // records every catalog size the reloader publishes
		defer close(seen)
		last := r.Ann.Load()
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if a := r.Ann.Load(); a != last {
				last = a
				seen <- a.Len()
			}
		}
	}()
	file, err := os.OpenFile(f, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	file.WriteString("KA\tv2\n")
	time.Sleep(300 * time.Millisecond) // the writer pauses half-way
	file.WriteString("KB\tv2\nKC\tv2\n")
	file.Close()
	for deadline := time.Now().Add(10 * time.Second); r.Ann.Load().Len() != 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the whole catalog never loaded: %d codes", r.Ann.Load().Len())
		}
	}
	close(stopWatch)
	for n := range seen {
		if n != 3 {
			t.Errorf("a catalog of %d codes was loaded before the file was whole", n)
		}
	}
}

// The files are watched only from the settling time after Run starts: a
// run over sooner never makes the inotify instance whose end the kernel
// makes it wait for. A change made before the watch begins is still
// loaded (by checksum), and one made after it (by the watch).
func TestReloaderWatchesLate(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.tsv")
	write(t, f, "KA\tv1\n")
	r, err := New(&Loader{Files: []string{f}, Replace: true}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, true, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.watcher != nil {
		t.Fatal("watching before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	write(t, f, "KA\tv2\n") // before the watch
	start := time.Now()
	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if annotateLine(t, r.Ann.Load(), "KA\n") == want {
				return
			}
		}
		t.Fatalf("never annotated as %q", want)
	}
	waitFor("KA [KA v2]\n")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("reloaded after %v, before the watch began", d)
	}
	write(t, f, "KA\tv3\n") // watched
	waitFor("KA [KA v3]\n")
}
