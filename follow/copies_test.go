package follow

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/sources"
)

// The tests below put a follower through one interleaving of a
// copytruncate rotation with its own steps at a time, driving its reading
// by hand (drive) instead of its goroutine, so that the interleaving is
// the same on every run. A storm of rotations under load (the follow
// tests of cmd/annotator) met each of them now and then.

// drive reads what the follower has to read now, as its goroutine does,
// until it would wait for news, and returns the sequence numbers of the
// lines handed on.
func drive(t *testing.T, f *follower) []int {
	t.Helper()
	var got []int
	for range 1000 {
		if f.fr == nil && !f.openNext() {
			return got
		}
		ctx, cancel := context.WithCancel(context.Background())
		f.rd.cancel = cancel
		b, err := f.fr.Next(ctx)
		cancel()
		switch {
		case err == nil:
			for line := range bytes.Lines(b.Data) {
				got = append(got, seqOf(t, line))
			}
			b.Done()
		case errors.Is(err, context.Canceled):
			return got // nothing new: the follower would sleep
		case errors.Is(err, sources.ErrLineUnfinished):
			t.Fatalf("no line here is longer than the buffer: %v", err)
		default:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("read: %v", err)
			}
			f.endSegment()
		}
	}
	t.Fatal("the follower never ran out of lines to read")
	return nil
}

// seqOf is the sequence number of a line made by lines.
func seqOf(t *testing.T, line []byte) int {
	t.Helper()
	s, ok := bytes.CutPrefix(line, []byte("seq="))
	if !ok || len(s) < 9 {
		t.Fatalf("line %q is none of the test's", line)
	}
	n, err := strconv.Atoi(string(s[:9]))
	if err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return n
}

// wantSeq checks that got is from..to, each once, in order.
func wantSeq(t *testing.T, got []int, from, to int) {
	t.Helper()
	ok := len(got) == to-from+1
	for i := 0; ok && i < len(got); i++ {
		ok = got[i] == from+i
	}
	if !ok {
		t.Errorf("lines read %v, want %d..%d each once, in order", got, from, to)
	}
}

func appendTo(t *testing.T, path string, data []byte) {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
}

func openTest(t *testing.T, path string) *os.File {
	t.Helper()
	file, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// noteEmpty creates path empty and has the follower note it as the
// successor of the file it reads, as a look at the path does.
func noteEmpty(t *testing.T, f *follower, path string) {
	t.Helper()
	appendTo(t, path, nil)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f.noteSuccessor(fi)
	if len(f.succ) != 1 || len(f.succ[0].fp) != 0 {
		t.Fatal("the new file was not queued as the successor, empty")
	}
}

// copyOnly is the first half of copytruncate: the copy.
func copyOnly(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".1", data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A new file seen empty when the path was found to name it (the reader
// queued as a successor), then written to, copied and truncated by a
// copytruncate before its reading starts: the copy holds its first lines.
// The rotated files it is compared with must be those from before the
// file was seen empty; taken when reading starts, they hold the copy
// already, and its lines were never read.
func TestCopytruncateBeforeQueuedSuccessorStarts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	f := testFollower(t, path)
	noteEmpty(t, f, path)
	r := f.succ[0]
	f.succ = nil

	appendTo(t, path, lines(1, 20))
	copyOnly(t, path)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, lines(21, 30))

	f.start(r) // the file before it has ended
	got := drive(t, f)
	f.closeAll()
	wantSeq(t, got, 1, 30)
}

// statWithIno is a file's information with another inode number: the
// file as it would be had the file system given it the number of a file
// deleted just before, as ext4 does at once.
type statWithIno struct {
	os.FileInfo
	st syscall.Stat_t
}

func (s *statWithIno) Sys() any { return &s.st }

// A copytruncate copy made after the rotated files were looked at is
// made since, even when the file system gave it the inode of a file
// deleted meanwhile (the oldest generation, deleted by the same
// rotation): the snapshot knows a file by more than its inode. Taken for
// the deleted file, the copy was never read.
func TestSnapshotTellsCopyFromDeletedFileWithItsInode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	f := testFollower(t, path)
	old := path + ".5"
	writeFile(t, old, lines(1, 10), time.Now().Add(-time.Minute))
	ofi, err := os.Stat(old)
	if err != nil {
		t.Fatal(err)
	}
	snap := f.snapshotRotated()

	if err := os.Remove(old); err != nil {
		t.Fatal(err)
	}
	cp := writeFile(t, path+".1", lines(11, 30), time.Time{})
	cfi, err := cp.Stat()
	if err != nil {
		t.Fatal(err)
	}
	reused := &statWithIno{FileInfo: cfi, st: *cfi.Sys().(*syscall.Stat_t)}
	reused.st.Ino = ofi.Sys().(*syscall.Stat_t).Ino
	if snap.had(rotatedFile{f: cp, fi: reused}) {
		t.Error("a copy given the inode of a file deleted since the snapshot is taken for that file: its lines would never be read")
	}
	// The file the snapshot saw, renamed since, is still the same file.
	writeFile(t, path+".2", lines(31, 40), time.Now().Add(-time.Minute))
	snap = f.snapshotRotated()
	if err := os.Rename(path+".2", path+".3"); err != nil {
		t.Fatal(err)
	}
	same := openTest(t, path+".3")
	defer same.Close()
	sfi, err := same.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if !snap.had(rotatedFile{f: same, fi: sfi}) {
		t.Error("a rotated file renamed since the snapshot is taken for a copy made since")
	}
}

// A successor seen empty, then written to and copied (copytruncate's
// first half) before the file before it ended: the copy is queued as a
// generation the follower fell behind on, after the successor, which is
// read from the file itself. The truncation, found there, has the rest
// read from the copy; the copy must then not be read again whole when
// the file is rotated away.
func TestTruncatedFileTakesItsQueuedCopy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	f := testFollower(t, path)
	prevPath := path + ".1"
	writeFile(t, prevPath, lines(1, 10), time.Now().Add(-time.Minute))
	prev := openTest(t, prevPath)
	done := newReader(f, prev, int64(len(lines(1, 10)))) // read to its end

	noteEmpty(t, f, path)
	appendTo(t, path, lines(11, 30))
	written := time.Now().Add(-2 * time.Second)
	if err := os.Chtimes(path, written, written); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(prevPath, path+".2"); err != nil {
		t.Fatal(err)
	}
	copyOnly(t, path)
	f.succ = f.withMissed(done, f.succ)
	prev.Close()
	if len(f.succ) != 2 {
		t.Fatalf("%d files queued, want the successor and its copy", len(f.succ))
	}

	next := f.succ[0]
	f.succ = f.succ[1:]
	f.start(next)
	got := drive(t, f)
	if err := os.Truncate(path, 0); err != nil { // copytruncate's second half
		t.Fatal(err)
	}
	appendTo(t, path, lines(31, 35))
	got = append(got, drive(t, f)...)

	// Rotated away (rename and create): the file is read to its end, then
	// what follows it.
	if err := os.Rename(path+".1", path+".3"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, lines(36, 40))
	got = append(got, drive(t, f)...)
	f.closeAll()
	wantSeq(t, got, 11, 40)
}
