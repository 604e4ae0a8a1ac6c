package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The file-following scenarios of the best-known log shippers' own test
// suites (Vector's file source and file-source library, Fluent Bit's
// in_tail runtime and integration tests, Filebeat's filestream input,
// nxadm/tail), ported to the built binary on real files, for the
// scenario classes the other follow tests do not have. Each test names
// the upstream test it ports; where the peer accepts a loss we do not
// (a limitation it documents), the test says so and asserts what
// `tail -F` with checkpoints owes: every line once.

// peerTap passes the annotator's JSON output on to the collector and
// records, per path, the sequence numbers in the order they came, and
// the lines longer than peerLongLine whole.
type peerTap struct {
	br      *bufio.Reader
	pending []byte
	mu      sync.Mutex
	order   map[string][]int
	long    map[int]string
}

const peerLongLine = 1000

func (p *peerTap) Read(b []byte) (int, error) {
	for len(p.pending) == 0 {
		line, err := p.br.ReadBytes('\n')
		if err != nil {
			return 0, err // a line cut short is not delivered
		}
		var rec struct {
			Path string `json:"path"`
			Line string `json:"line"`
		}
		if json.Unmarshal(line, &rec) == nil && strings.HasPrefix(rec.Line, "seq=") && len(rec.Line) >= 13 {
			if n, err := strconv.Atoi(rec.Line[4:13]); err == nil {
				p.mu.Lock()
				p.order[rec.Path] = append(p.order[rec.Path], n)
				if len(rec.Line) > peerLongLine {
					p.long[n] = rec.Line
				}
				p.mu.Unlock()
			}
		}
		p.pending = line
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}

// peerStart runs the binary as identCase.start does, its output going
// through tap on the way to x's collector.
func peerStart(x *identCase, tap *peerTap, args ...string) *annRun {
	x.t.Helper()
	cmd := exec.Command(binary, append([]string{"--format", "json", "--poll-interval", "10ms"}, args...)...)
	return startRun(x.t, x.c, cmd, func(r io.Reader) io.Reader {
		tap.br = bufio.NewReaderSize(r, 1<<20)
		return tap
	})
}

func newPeerTap() *peerTap {
	return &peerTap{order: map[string][]int{}, long: map[int]string{}}
}

// peerStopText stops a textFollow run with SIGTERM and returns all it
// wrote; it must exit 0.
func peerStopText(t *testing.T, tf *textFollow) string {
	t.Helper()
	if err := tf.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-tf.done
	if err := tf.cmd.Wait(); err != nil {
		t.Fatalf("annotator after SIGTERM: %v\n%s", err, tf.errb.String())
	}
	return tf.output()
}

// peerWaitText waits until a textFollow run has written at least as many
// bytes as want, lets it run on identQuiet (what it would write twice
// comes out meanwhile), and checks that it wrote exactly want.
func peerWaitText(t *testing.T, tf *textFollow, want string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); len(tf.output()) < len(want) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // polling the collected output
	}
	time.Sleep(identQuiet)
	if got := tf.output(); got != want {
		t.Fatalf("output\n got %q\nwant %q\nlog:\n%s", got, want, tf.errb.String())
	}
}

// peerHolds tells whether process pid has path open.
func peerHolds(pid int, path string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err == nil && (link == path || link == path+" (deleted)") {
			return true
		}
	}
	return false
}

// peerReleaseWait bounds how long a file quiet for --close-inactive
// 100ms may stay open: 30 times that.
const peerReleaseWait = 3 * time.Second

// peerWaitReleased waits until the run no longer holds path open; false
// if it still does after peerReleaseWait.
func peerWaitReleased(t *testing.T, a *annRun, path string) bool {
	t.Helper()
	start := time.Now()
	for peerHolds(a.cmd.Process.Pid, path) {
		if time.Since(start) > peerReleaseWait {
			t.Logf("%s still open %v after the wait began", filepath.Base(path), peerReleaseWait)
			return false
		}
		time.Sleep(5 * time.Millisecond) // polling /proc
	}
	t.Logf("%s let go %v after the wait began", filepath.Base(path), time.Since(start).Round(time.Millisecond))
	return true
}

// Vector, src/sources/file.rs: file_start_position_server_restart_with_file_rotation.
// A glob matching every file in the directory; the file is read, the
// server stopped, the file renamed (Vector: to file.old) and a new file
// created under the old name; after the restart only the new file's
// lines come: the renamed file is the one read, not a new file to read
// from its start. Strengthened: lines written to the file while the
// server was stopped, before the rename, are read too, once; and the
// renamed name is either one the rotated patterns know (file.old) or a
// name nothing says is a rotation (archived).
func TestFollowPeerVectorStartPositionRestartWithRotation(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	for _, name := range []string{"file.old", "archived"} {
		t.Run(name, func(t *testing.T) {
			x := newIdent(t)
			path := x.path("file")
			args := []string{"--follow", filepath.Join(x.dir, "*"), "--state", x.state}
			x.write(path, 50)
			a := x.start(args...)
			x.wait()
			a.stop(false)
			x.write(path, 20) // not read before the rename
			mustRename(t, path, x.path(name))
			x.write(path, 30) // the new file
			a = x.start(args...)
			x.finish(a)
		})
	}
}

// Vector, src/sources/file.rs: file_multiple_paths and file_happy_path;
// Fluent Bit, tests/runtime/in_tail.c: flb_test_path_comma. Several
// patterns, one of the files (a.txt) matched by two globs and named
// outright too, files created after the start and written a line each in
// turn: each file's lines come once, in the order written, under that
// file's path; a file no pattern matches (Vector's excluded
// a.ignore.txt; here c.dat) is not read.
func TestFollowPeerVectorMultiplePaths(t *testing.T) {
	x := newIdent(t)
	tap := newPeerTap()
	files := []string{x.path("a.txt"), x.path("b.txt"), x.path("a.log")}
	other := x.path("c.dat")
	a := peerStart(x, tap,
		"--follow", filepath.Join(x.dir, "*.txt")+","+filepath.Join(x.dir, "a.*"),
		"--follow", x.path("a.txt"),
		"--state", x.state)
	a.waitLog("waiting for the file to appear")
	want := map[string][]int{}
	var unmatched []int
	for i := 0; i < 200; i++ {
		for _, f := range files {
			x.write(f, 1)
			want[f] = append(want[f], x.seq)
		}
		x.write(other, 1)
		unmatched = append(unmatched, x.seq)
	}
	x.c.waitFor(t, "every matched file's lines", func() bool {
		for _, f := range files {
			for _, n := range want[f] {
				if x.c.counts[n] == 0 {
					return false
				}
			}
		}
		return true
	})
	time.Sleep(identQuiet)
	a.stop(false)

	tap.mu.Lock()
	defer tap.mu.Unlock()
	for _, f := range files {
		got := tap.order[f]
		ok := len(got) == len(want[f])
		for i := 0; ok && i < len(got); i++ {
			ok = got[i] == want[f][i]
		}
		t.Logf("RESULT %s: %d lines, want %d", filepath.Base(f), len(got), len(want[f]))
		if !ok {
			t.Errorf("%s: lines %v..., want %v... (%d and %d lines)", filepath.Base(f), got[:min(len(got), 10)], want[f][:10], len(got), len(want[f]))
		}
	}
	if len(tap.order) != len(files) {
		paths := make([]string, 0, len(tap.order))
		for p := range tap.order {
			paths = append(paths, p)
		}
		t.Errorf("lines came under %d paths %q, want the %d files matched", len(paths), paths, len(files))
	}
	lost, _ := x.tally(unmatched[0], unmatched[len(unmatched)-1])
	if read := len(unmatched) - lost; read > 0 {
		t.Errorf("%d lines of %s, which no pattern matches, were read", read, other)
	}
}

// Vector, src/sources/file.rs: file_read_empty_lines (a line, then five
// empty lines: six events); Fluent Bit, tests/runtime/in_tail.c:
// flb_test_in_tail_issue_3943 ("bbb\r\n\n": two lines); Filebeat,
// input_integration_test.go: TestFilestreamEmptyLinesOnly (a file of
// empty lines only, then the input stopped: Filebeat persists no offset
// for empty lines). Empty lines are lines: they pass through, each once,
// and are checkpointed like any other, so after a restart neither the
// empty lines read before it nor those written while stopped are
// repeated or lost.
func TestFollowPeerVectorReadEmptyLines(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	dir := t.TempDir()
	path := filepath.Join(dir, "file")
	state := filepath.Join(dir, "state")
	first := "line for checkpointing\n" + strings.Repeat("\n", 5)
	appendFile(t, path, first)
	tf := startTextFollow(t, "--follow", path, "--state", state)
	peerWaitText(t, tf, first)
	appendFile(t, path, "bbb\r\n\n")
	peerWaitText(t, tf, first+"bbb\r\n\n")
	peerStopText(t, tf)

	// Empty lines only, written while stopped, then after the restart.
	appendFile(t, path, "\n\n\n")
	tf = startTextFollow(t, "--follow", path, "--state", state)
	peerWaitText(t, tf, "\n\n\n")
	appendFile(t, path, "after an empty line\n")
	peerWaitText(t, tf, "\n\n\nafter an empty line\n")
	peerStopText(t, tf)
}

// Vector, src/sources/file.rs: test_split_reads; nxadm/tail,
// tail_test.go: TestIncompleteLines. A line written without its newline
// is held, for longer than the read back-off and many poll and
// checkpoint intervals (nothing comes out), and handed on whole once its
// end arrives: "i am not a full line until now", never in two pieces.
func TestFollowPeerVectorSplitReads(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	dir := t.TempDir()
	path := filepath.Join(dir, "file")
	appendFile(t, path, "hello i am a normal line\n")
	tf := startTextFollow(t, "--follow", path, "--state", filepath.Join(dir, "state"), "--checkpoint-interval", "0")
	peerWaitText(t, tf, "hello i am a normal line\n")
	appendFile(t, path, "i am not a full line")
	// peerWaitText lets it run on identQuiet: 50 poll intervals to
	// (wrongly) hand the piece on.
	peerWaitText(t, tf, "hello i am a normal line\n")
	appendFile(t, path, " until now\n")
	peerWaitText(t, tf, "hello i am a normal line\ni am not a full line until now\n")
	peerStopText(t, tf)
}

// Fluent Bit, tests/integration/scenarios/in_tail: test_in_tail_partial_line_across_restart_is_completed_once.
// The file ends in a line without its newline when the follower is
// stopped; the line is completed while it is stopped; after the restart
// the whole line comes once: the first run handed nothing of it on (not
// even at its stop) and checkpointed only up to its start.
func TestFollowPeerFluentBitPartialLineAcrossRestart(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	dir := t.TempDir()
	path := filepath.Join(dir, "partial-restart.log")
	state := filepath.Join(dir, "state")
	appendFile(t, path, "l1\nl2\npartial")
	tf := startTextFollow(t, "--follow", path, "--state", state)
	peerWaitText(t, tf, "l1\nl2\n")
	if out := peerStopText(t, tf); out != "l1\nl2\n" {
		t.Errorf("first run wrote %q, want %q: the unended line handed on at the stop", out, "l1\nl2\n")
	}
	appendFile(t, path, " line\n")
	tf = startTextFollow(t, "--follow", path, "--state", state)
	peerWaitText(t, tf, "partial line\n")
	peerStopText(t, tf)
}

// Fluent Bit, tests/integration/scenarios/in_tail: test_in_tail_handles_symlink_target_rotation;
// Filebeat, input_integration_test.go: TestFilestreamSymlinkRotated. The
// followed path is a symlink; it is pointed at another file, which
// already holds lines (Filebeat), by renaming a new symlink over it
// (Fluent Bit: current.log.next), and the old target's writer, still
// holding it, writes once more after the switch (Fluent Bit). Every line
// of both targets comes once: the new target from its start, the old
// target's late lines too.
func TestFollowPeerFluentBitSymlinkTargetRotation(t *testing.T) {
	x := newIdent(t)
	one, two, link := x.path("target-one.log"), x.path("target-two.log"), x.path("current.log")
	x.write(one, 30)
	if err := os.Symlink("target-one.log", link); err != nil {
		t.Fatal(err)
	}
	old, err := os.OpenFile(one, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	a := x.start("--follow", link, "--state", x.state)
	x.wait()
	x.write(two, 20) // the new target's lines, there before the switch
	if err := os.Symlink("target-two.log", link+".next"); err != nil {
		t.Fatal(err)
	}
	mustRename(t, link+".next", link)
	if _, err := old.Write(x.lines(5)); err != nil { // late, into the old target
		t.Fatal(err)
	}
	x.write(two, 30)
	x.finish(a)
}

// Fluent Bit, tests/integration/scenarios/in_tail: test_in_tail_existing_file_can_start_from_tail_on_startup
// and test_in_tail_discovers_new_files_from_head; nxadm/tail,
// tail_test.go: TestLocationEnd. With --start-at end, a file already
// there is read from its end only, while a file that appears later,
// found by the glob, is read from its start. Then the restart Fluent
// Bit's db tests do: lines written to both files while stopped are read
// from their checkpoints, --start-at end notwithstanding, which is only
// for files with no checkpoint.
func TestFollowPeerFluentBitNewFileFromHeadWithStartAtEnd(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	x := newIdent(t)
	old, discovered := x.path("startup-tail.log"), x.path("discovered.log")
	x.write(old, 100) // 1..100: never read
	args := []string{"--follow", filepath.Join(x.dir, "*.log"), "--start-at", "end", "--state", x.state}
	a := x.start(args...)
	a.waitLog(fmt.Sprintf("msg=\"following file\" file=%s ", old))
	x.write(old, 20)
	x.write(discovered, 30) // appears after the start: all of it is new
	x.write(old, 10)
	x.waitRange(101, x.seq, 0)
	time.Sleep(identQuiet)
	a.stop(false)
	x.write(old, 15)
	x.write(discovered, 15)
	a = x.start(args...)
	x.waitRange(101, x.seq, 0)
	time.Sleep(identQuiet)
	a.stop(false)

	skipped, _ := x.tally(1, 100)
	lost, repeated := x.tally(101, x.seq)
	t.Logf("RESULT lines 101..%d: lost %d, repeated %d; of the 100 lines there before the start, %d read", x.seq, lost, repeated, 100-skipped)
	if skipped != 100 {
		t.Errorf("%d of the 100 lines there before the start were read with --start-at end", 100-skipped)
	}
	if lost > 0 || repeated > 0 {
		t.Errorf("lines 101..%d: %d lost, %d repeated", x.seq, lost, repeated)
	}
}

// Filebeat, input_integration_test.go: TestFilestreamTruncateBigScannerInterval
// (truncated and written again before the scanner looks: Filebeat
// accepts missing the new lines), TestFilestreamTruncatedFileOpen;
// nxadm/tail, tail_test.go: TestReSeekInotify/TestReSeekPolling; the
// truncation model of Vector's file_watcher tests (a file truncated and
// filled back to the same size "before a read could occur"). The file,
// read to its end, is truncated and rewritten with other lines: fewer
// bytes while followed (nxadm), or, while the follower is stopped
// (SIGSTOP) and cannot look, as many bytes exactly or more than it had
// read. The rewritten file is read from its start, every line once:
// neither its size nor its growth tells it is a new file, its bytes do.
func TestFollowPeerFilebeatTruncateRewrittenUnseen(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	for _, tc := range []struct {
		name   string
		frozen bool
		size   func(old int64) int64 // bytes rewritten; 0: 10 lines
	}{
		{"shorter", false, nil},
		{"same-size-frozen", true, func(old int64) int64 { return old }},
		{"longer-frozen", true, func(old int64) int64 { return 3 * old }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newIdent(t)
			path := x.path("test.log")
			x.write(path, 100)
			a := x.start("--follow", path, "--state", x.state)
			x.wait()
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.frozen {
				freeze(t, a)
			}
			var next []byte
			if tc.size == nil {
				next = x.lines(10)
			} else {
				next = peerLinesOfSize(x, tc.size(fi.Size()))
				if int64(len(next)) != tc.size(fi.Size()) {
					t.Fatalf("rewritten %d bytes, want %d", len(next), tc.size(fi.Size()))
				}
			}
			// As nxadm's TruncateFile: opened with O_TRUNC and written.
			if err := os.WriteFile(path, next, 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.frozen {
				thaw(t, a)
			}
			x.write(path, 10)
			x.finish(a)
		})
	}
}

// peerLinesOfSize returns numbered lines of exactly size bytes.
func peerLinesOfSize(x *identCase, size int64) []byte {
	var b bytes.Buffer
	for int64(b.Len())+2*40 < size {
		x.seq++
		fmt.Fprintf(&b, "seq=%09d rewritten after the truncation\n", x.seq)
	}
	x.seq++
	last := fmt.Sprintf("seq=%09d last ", x.seq)
	pad := int(size) - b.Len() - len(last) - 1
	b.WriteString(last + strings.Repeat("x", pad) + "\n")
	return b.Bytes()
}

// Filebeat, input_integration_test.go: TestDataAddedAfterCloseInactive,
// TestFilestreamCloseAfterIntervalRenamed and
// TestFilestreamCloseAfterIntervalRotatedAndNewRemoved. A file read to
// its end goes quiet and its descriptor is closed (--close-inactive
// 100ms; the test waits until the process no longer holds it); lines
// added then are read once. Closed again, it gets lines and is renamed
// away at once, and a new file takes its name: the lines of both come
// once. The rotated file, let go in turn, is then removed, and the new
// file written on.
func TestFollowPeerFilebeatDataAddedAfterCloseInactive(t *testing.T) {
	x := newIdent(t)
	path := x.path("log.log")
	x.write(path, 50)
	a := x.start("--follow", path, "--state", x.state, "--close-inactive", "100ms")
	x.wait()
	if !peerWaitReleased(t, a, path) {
		t.Fatalf("the quiet file is still open %v after its last line (--close-inactive 100ms)", peerReleaseWait)
	}
	x.write(path, 5)
	x.wait()
	if !peerWaitReleased(t, a, path) {
		t.Fatalf("the quiet file is still open %v after its last line (--close-inactive 100ms)", peerReleaseWait)
	}
	x.write(path, 10) // perhaps not read before the rename
	mustRename(t, path, path+".1")
	x.write(path, 30)
	x.wait()
	if !peerWaitReleased(t, a, path+".1") {
		t.Errorf("the rotated file, its successor written, is still open %v later (--close-inactive 100ms)", peerReleaseWait)
	}
	if err := os.Remove(path + ".1"); err != nil {
		t.Fatal(err)
	}
	x.write(path, 20)
	x.finish(a)
}

// Filebeat, input_integration_test.go: TestRotatingCloseInactiveLowWriteRate.
// One line, then the file renamed to .1 and no file at the path for
// longer than --close-inactive (the test waits until the follower has let
// the renamed file go); then a new file with a line: it is read from its
// start, and nothing of the old one again. Filebeat only asserts "at
// least" its lines; here each comes once, and a late line written into
// the closed file is found again by its identity and read.
func TestFollowPeerFilebeatRotatingCloseInactiveLowWriteRate(t *testing.T) {
	x := newIdent(t)
	path := x.path("test.log")
	a := x.start("--follow", path, "--state", x.state, "--close-inactive", "100ms")
	a.waitLog("waiting for the file to appear")
	x.write(path, 1)
	x.wait()
	mustRename(t, path, path+".1")
	if !peerWaitReleased(t, a, path+".1") {
		// The lines are still checked below.
		t.Errorf("the file renamed away, quiet, no file at the path, is still open %v later (--close-inactive 100ms): Filebeat's harvester is done after close.on_state_change.inactive", peerReleaseWait)
	}
	// A late line into the closed file: it is found again by identity.
	x.write(path+".1", 1)
	x.wait()
	x.write(path, 1)
	x.wait()
	x.write(path, 10)
	x.finish(a)
}

// Vector, src/sources/file.rs: test_non_utf8_encoded_file; Fluent Bit,
// tests/runtime/in_tail.c: flb_test_in_tail_generic_enc_* (Shift-JIS,
// GBK, Big5, Windows-1251, Windows-1252) and flb_test_in_tail_utf16le_*;
// Filebeat, input_integration_test.go: TestFilestreamBOMUTF8 and
// TestFilestreamUTF16BOMs. The peers decode these encodings when told
// to; we are told nothing, so the bytes pass through exactly: what comes
// out of the text output, over a rename rotation and a restart, is what
// was written, byte for byte, a multi-byte character split between two
// writes included.
func TestFollowPeerVectorNonUTF8PassThrough(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	dir := t.TempDir()
	path := filepath.Join(dir, "encoded.log")
	state := filepath.Join(dir, "state")
	chunks := []string{
		"\xef\xbb\xbf#Software: Microsoft Exchange Server\r\n", // UTF-8 with BOM
		"shift_jis \x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\x90\xa2\x8a\x45\n",
		"gbk \xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7\n",
		"big5 \xc1\x63\xc5\xe9\xa4\xa4\xa4\xe5\xb4\xfa\xb8\xd5\n",
		"windows-1252 caf\xe9 na\xefve \x96 \x80\n",
		"windows-1251 \xcf\xf0\xe8\xe2\xe5\xf2 \xec\xe8\xf0\n",
		"\xff\xfeu\x00t\x00f\x00-\x001\x006\x00l\x00e\x00\n\x00", // UTF-16LE with BOM: its newline is 0a 00
		"invalid \xff\xfe\xfd, a cut sequence \xe6\x97, lone continuations \x80\x81\n",
		"nul \x00\x00 bytes\n",
		"split character \xe4\xb8", "\xad\xe6\x96\x87 joined\n", // 中文, its first character in two writes
	}
	var want strings.Builder
	put := func(chunks ...string) {
		for _, c := range chunks {
			appendFile(t, path, c)
			want.WriteString(c)
		}
	}
	put(chunks...)
	tf := startTextFollow(t, "--follow", path, "--state", state)
	peerWaitText(t, tf, want.String())
	put(chunks[:5]...)
	mustRename(t, path, path+".1")
	put(chunks[5:]...)
	peerWaitText(t, tf, want.String())
	first := peerStopText(t, tf)

	put(chunks...) // while stopped
	tf = startTextFollow(t, "--follow", path, "--state", state)
	put(chunks...)
	// peerWaitText fails on the first byte that differs.
	peerWaitText(t, tf, want.String()[len(first):])
	peerStopText(t, tf)
}

// nxadm/tail, tail_test.go: TestIncompleteLinesWithReopens. "hello
// world\nhi" is written, then the file truncated and rewritten with
// "rewriting\n": "hi", never completed, is never joined to the next
// line. nxadm drops it; handing it on as a line of its own, as the file
// let go ended with it, is as good. Either way "hello world" and
// "rewriting" come once each.
func TestFollowPeerNxadmIncompleteLineThenTruncate(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	dir := t.TempDir()
	path := filepath.Join(dir, "test.txt")
	tf := startTextFollow(t, "--follow", path, "--state", filepath.Join(dir, "state"))
	appendFile(t, path, "hello world\nhi")
	peerWaitText(t, tf, "hello world\n")
	if err := os.WriteFile(path, []byte("rewriting\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tf.waitOutput(t, "rewriting\n")
	time.Sleep(identQuiet)
	out := peerStopText(t, tf)
	switch out {
	case "hello world\nrewriting\n":
		t.Log("RESULT the unended line was dropped (as nxadm/tail does)")
	case "hello world\nhi\nrewriting\n":
		t.Log("RESULT the unended line was handed on alone")
	default:
		t.Errorf("output %q, want %q or %q", out, "hello world\nrewriting\n", "hello world\nhi\nrewriting\n")
	}
}

// Fluent Bit, tests/integration/scenarios/in_tail:
// test_in_tail_skip_long_lines_keeps_surrounding_records and
// test_in_tail_truncate_long_lines_emits_truncated_record_and_continues;
// Vector, src/sources/file.rs: file_max_line_bytes (a line "longer than
// BufReader's internal buffer ... when multiple read calls are
// involved"); nxadm/tail, tail_test.go: TestIncompleteLongLines and
// TestOver4096ByteLine. The peers cut or skip such lines when told to;
// here a line of 256 KiB, 64 times the read buffer, written in 4 KiB
// pieces so that the follower reaches its end again and again before
// the newline, comes out whole, once, between the lines around it, and
// the file is then rotated and followed on.
func TestFollowPeerFluentBitLongLineInPieces(t *testing.T) {
	x := newIdent(t)
	tap := newPeerTap()
	path := x.path("skip-long.log")
	x.write(path, 1) // before-long-line
	a := peerStart(x, tap, "--follow", path, "--state", x.state, "--buffer-size", "4096")
	x.wait()
	x.seq++
	long := fmt.Sprintf("seq=%09d long ", x.seq)
	var b strings.Builder
	b.WriteString(long)
	for b.Len() < 256<<10 {
		b.WriteString("0123456789abcdef0123456789abcdef")
	}
	long = b.String()
	for i := 0; i < len(long); i += 4096 {
		appendFile(t, path, long[i:min(i+4096, len(long))])
		time.Sleep(2 * time.Millisecond) // pacing the writer, not a synchronisation
	}
	appendFile(t, path, "\n")
	x.write(path, 1) // after-long-line
	renameRotate(t, path)
	x.write(path, 5)
	x.finish(a)
	tap.mu.Lock()
	defer tap.mu.Unlock()
	if got := tap.long[2]; got != long {
		t.Errorf("the long line came out as %d bytes, want %d, whole (same bytes: %v)", len(got), len(long), got == long)
	}
}

// Fluent Bit, tests/integration/scenarios/in_tail:
// test_in_tail_discovers_file_after_permissions_are_restored. A file the
// glob matches cannot be read (mode 0) when the follower starts; once its
// mode allows reading, it is read, from its start, once. Fluent Bit skips
// the test as root; as root here, the binary runs without the
// capabilities that let root read any file (setpriv).
func TestFollowPeerFluentBitPermissionsRestored(t *testing.T) {
	x := newIdent(t)
	path := x.path("delayed.log")
	x.write(path, 20)
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	args := []string{"--format", "json", "--poll-interval", "10ms", "--follow", filepath.Join(x.dir, "*.log"), "--state", x.state}
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("running as root without setpriv: a mode-0 file cannot be made unreadable to the binary")
		}
		cmd = exec.Command(setpriv, append([]string{"--bounding-set=-dac_override,-dac_read_search", binary}, args...)...)
	} else {
		cmd = exec.Command(binary, args...)
	}
	a := startRun(t, x.c, cmd, func(r io.Reader) io.Reader { return r })
	a.allowErrors = true // the file it cannot open yet is an error
	a.waitLog("cannot follow file")
	if n := x.c.distinct(); n != 0 {
		t.Fatalf("%d lines read from a file of mode 0: the binary can read it anyway, so the test proves nothing", n)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	x.write(path, 10)
	x.finish(a)
}
