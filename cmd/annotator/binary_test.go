package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/internal/peakrss"
)

// binary is the annotator built once for the tests that run it on real
// pipes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "annotator-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "annotator")
	// The documented build: static, with no C library to find at run time.
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building annotator:", err)
		os.Exit(1)
	}
	// Most of these tests wait (for a rotation, a broker, a timeout) far
	// more than they compute: those marked parallel run 8 at a time on
	// any machine, unless -parallel says otherwise, so the package takes
	// about 2 minutes on 2 cores rather than 4.
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", "8")
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr []byte
	code           int
	maxRSS         int64 // bytes
}

// runBin runs the binary with stdin fed from in (through a real pipe).
func runBin(t *testing.T, in io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = in
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	r := result{stdout: out.Bytes(), stderr: errb.Bytes(), code: code}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss * 1024
	}
	return r
}

const note898001 = " [898001 User exists | 用户已存在]"

func TestPassThroughExactBytes(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	in := make([]byte, 3<<20)
	r.Read(in)
	for i, c := range in {
		if c == '8' {
			in[i] = '9' // no code can form
		}
	}
	res := runBin(t, bytes.NewReader(in))
	if res.code != 0 || len(res.stderr) != 0 {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	if !bytes.Equal(res.stdout, in) {
		t.Fatalf("output differs from input without codes (%d vs %d bytes)", len(res.stdout), len(in))
	}
}

func TestTextEdgeCases(t *testing.T) {
	in := "plain\r\n" +
		"crlf code=898001\r\n" +
		"nul\x00 and \xff\xfe 898001\n" +
		"decoys 1898001 8980012 0x898001 3.898001 898001.5 898001_\n" +
		"错误码898001，请重试\n" +
		"\n" +
		"no newline at the end 898001"
	want := "plain\r\n" +
		"crlf code=898001" + note898001 + "\r\n" +
		"nul\x00 and \xff\xfe 898001" + note898001 + "\n" +
		"decoys 1898001 8980012 0x898001 3.898001 898001.5 898001_\n" +
		"错误码898001，请重试" + note898001 + "\n" +
		"\n" +
		"no newline at the end 898001" + note898001
	res := runBin(t, strings.NewReader(in))
	if res.code != 0 || string(res.stdout) != want {
		t.Fatalf("exit %d\n got %q\nwant %q\nstderr %s", res.code, res.stdout, want, res.stderr)
	}
	// Files give the same, and "-" reads standard input among them; the
	// file's unended last line is ended before the next file's output.
	dir := t.TempDir()
	f := filepath.Join(dir, "a.log")
	os.WriteFile(f, []byte(in), 0o644)
	res = runBin(t, strings.NewReader("stdin 898001\n"), f, "-")
	if string(res.stdout) != want+"\nstdin 898001"+note898001+"\n" {
		t.Fatalf("files: got %q", res.stdout)
	}
}

func TestOnlyMatching(t *testing.T) {
	res := runBin(t, strings.NewReader("a\nb 898001\nc\n"), "--only-matching")
	if string(res.stdout) != "b 898001"+note898001+"\n" {
		t.Errorf("got %q", res.stdout)
	}
}

func TestJSONOutput(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "app.log")
	os.WriteFile(f, []byte("plain\nbad \xff 871310 and 898001\r\n"), 0o644)
	res := runBin(t, nil, "--format", "json", f)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var got []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(res.stdout))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Bytes(), err)
		}
		got = append(got, m)
	}
	if len(got) != 2 {
		t.Fatalf("want 2 objects, got %d: %s", len(got), res.stdout)
	}
	if got[0]["path"] != f || got[0]["line"] != "plain" || len(got[0]["codes"].([]any)) != 0 {
		t.Errorf("first object: %v", got[0])
	}
	codes := got[1]["codes"].([]any)
	if len(codes) != 2 || codes[0].(map[string]any)["code"] != "871310" || codes[1].(map[string]any)["message"] != "User exists" {
		t.Errorf("second object: %v", got[1])
	}
	// Invalid UTF-8 is kept recoverable: \udcff stands for the byte 0xff.
	if !bytes.Contains(res.stdout, []byte(`"line":"bad \udcff 871310 and 898001"`)) {
		t.Errorf("invalid byte not escaped as documented: %s", res.stdout)
	}
}

func TestUnreadableFilesReportedOthersProcessed(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.log")
	os.WriteFile(good, []byte("ok 898001\n"), 0o644)
	missing := filepath.Join(dir, "missing.log")
	res := runBin(t, nil, missing, dir, good)
	if res.code != 1 {
		t.Errorf("exit %d, want 1", res.code)
	}
	if string(res.stdout) != "ok 898001"+note898001+"\n" {
		t.Errorf("the readable file was not processed: %q", res.stdout)
	}
	for _, name := range []string{missing, dir} {
		if !bytes.Contains(res.stderr, []byte(name)) {
			t.Errorf("stderr does not name %s: %s", name, res.stderr)
		}
	}
	if !bytes.Contains(res.stderr, []byte("is a directory")) {
		t.Errorf("stderr does not say the directory is one: %s", res.stderr)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"--format", "xml"}, {"--engine", "regex"}, {"--prefer", "nope"}, {"--workers", "0"}} {
		res := runBin(t, strings.NewReader("898001\n"), args...)
		// One line naming the problem and where to find help, not the
		// list of every flag.
		lines := strings.Split(strings.TrimSuffix(string(res.stderr), "\n"), "\n")
		if res.code != 2 || len(res.stdout) != 0 || len(lines) != 2 || lines[1] != "Try 'annotator --help'." ||
			bytes.Contains(res.stderr, []byte("Usage")) || bytes.Contains(res.stderr, []byte(": usage")) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, res.code, res.stdout, res.stderr)
		}
	}
	res := runBin(t, strings.NewReader(""), "--format", "xml")
	if !bytes.Contains(res.stderr, []byte(`"xml"`)) {
		t.Errorf("error does not name the bad value: %s", res.stderr)
	}
}

func TestCodesAndLookup(t *testing.T) {
	res := runBin(t, nil, "codes", "--format", "json")
	var entries []struct {
		Code     string
		Variants []struct {
			Message, Meaning string
			Sources          []string
		}
	}
	if err := json.Unmarshal(res.stdout, &entries); err != nil || len(entries) != 146 {
		t.Fatalf("codes --format json: %d entries, %v", len(entries), err)
	}
	res = runBin(t, nil, "codes")
	if n := bytes.Count(res.stdout, []byte("\n")); n < 146 {
		t.Errorf("codes lists %d lines", n)
	}
	res = runBin(t, nil, "lookup", "800012", "898001")
	want := "800012\tuser logout\t发起的用户处于登出状态，账号注册以后从未登录过，需要先登录\tsdk/server\n" +
		"800012\tuser never login\t发起的用户从未登录过\tim/im\n" +
		"898001\tUser exists\t用户已存在\tsdk/server,im/im\n"
	if res.code != 0 || string(res.stdout) != want {
		t.Errorf("lookup: exit %d\n got %q\nwant %q", res.code, res.stdout, want)
	}
	res = runBin(t, nil, "lookup", "123456")
	if res.code != 1 || !bytes.Contains(res.stderr, []byte("123456")) {
		t.Errorf("lookup of an unknown code: exit %d, %s", res.code, res.stderr)
	}
}

func TestPreferenceOrder(t *testing.T) {
	res := runBin(t, strings.NewReader("800012\n"), "--prefer", "im/im,sdk/server")
	if string(res.stdout) != "800012 [800012 user never login | 发起的用户从未登录过]\n" {
		t.Errorf("got %q", res.stdout)
	}
}

// lineReader produces a single line of n bytes with a code at its end,
// without holding it in memory.
type lineReader struct {
	n    int64
	tail []byte
}

func (r *lineReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		k := min(int64(len(p)), r.n)
		for i := range p[:k] {
			p[i] = 'x'
		}
		r.n -= k
		return int(k), nil
	}
	if len(r.tail) == 0 {
		return 0, io.EOF
	}
	k := copy(p, r.tail)
	r.tail = r.tail[k:]
	return k, nil
}

// countWriter checks a long output without keeping it.
type countWriter struct {
	n    int64
	last []byte
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	w.last = append(w.last, p...)
	if len(w.last) > 256 {
		w.last = w.last[len(w.last)-256:]
	}
	return len(p), nil
}

// TestHugeLineBoundedMemory: a 256 MiB line with no newline at all passes
// through whole, annotated, in bounded memory.
func TestHugeLineBoundedMemory(t *testing.T) {
	const size = 256 << 20
	cmd := exec.Command(binary)
	cmd.Stdin = &lineReader{n: size, tail: []byte(" 898001")}
	out := &countWriter{}
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := peakrss.Watch(cmd.Process.Pid, 2*time.Millisecond)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, errb.Bytes())
	}
	if want := int64(size + len(" 898001") + len(note898001)); out.n != want {
		t.Errorf("wrote %d bytes, want %d", out.n, want)
	}
	if !bytes.HasSuffix(out.last, []byte("xx 898001"+note898001)) {
		t.Errorf("line end: %q", out.last)
	}
	rss := peak()
	if rss > 64<<20 {
		t.Errorf("peak RSS %d MiB for a %d MiB line: memory not bounded", rss>>20, size>>20)
	}
	t.Logf("%d MiB line: peak RSS %.1f MiB", size>>20, float64(rss)/(1<<20))
}

// TestClosedStdoutQuiet: annotator | head ends without a word.
func TestClosedStdoutQuiet(t *testing.T) {
	cmd := exec.Command(binary)
	cmd.Stdin = &lineReader{n: 0, tail: bytes.Repeat([]byte("line 898001\n"), 1<<20)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	io.ReadFull(stdout, buf)
	stdout.Close()
	err = cmd.Wait()
	if errb.Len() != 0 {
		t.Errorf("stderr after stdout closed: %s", errb.Bytes())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		ws := ee.Sys().(syscall.WaitStatus)
		if !(ws.Signaled() && ws.Signal() == syscall.SIGPIPE) {
			t.Errorf("exit: %v", err)
		}
	}
}

// TestSIGTERMOnQuietPipe: a stop request while standard input is quiet
// delivers what was read and exits 0 promptly.
func TestSIGTERMOnQuietPipe(t *testing.T) {
	cmd := exec.Command(binary)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	io.WriteString(stdin, "first 898001\n")
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "first 898001"+note898001+"\n" {
		t.Fatalf("line %q, %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no exit within 15 s of SIGTERM")
	}
}

// Each file is its own stream: a file whose last line lacks a newline
// gets one when another file's output follows (as grep does), so two
// files' lines never run together; the very last line of the output
// stays as it came.
func TestFilesWithoutFinalNewlineNotJoined(t *testing.T) {
	dir := t.TempDir()
	f1 := filepath.Join(dir, "f1.log")
	f2 := filepath.Join(dir, "f2.log")
	f3 := filepath.Join(dir, "f3.log")
	os.WriteFile(f1, []byte("a\npart 898001"), 0o644)
	os.WriteFile(f2, []byte("b"), 0o644)
	os.WriteFile(f3, []byte("c 898001\r\nlast"), 0o644)
	res := runBin(t, nil, f1, f2, f3)
	want := "a\npart 898001" + note898001 + "\nb\nc 898001" + note898001 + "\r\nlast"
	if res.code != 0 || string(res.stdout) != want {
		t.Errorf("exit %d, output %q, want %q", res.code, res.stdout, want)
	}
	// JSON objects end in '\n' whatever the input: nothing to add.
	res = runBin(t, nil, "--format", "json", f1, f2)
	if n := bytes.Count(res.stdout, []byte("\n")); n != 3 {
		t.Errorf("JSON output has %d lines, want 3: %s", n, res.stdout)
	}
	// One file alone is passed through byte for byte.
	res = runBin(t, nil, f2)
	if string(res.stdout) != "b" {
		t.Errorf("single file output %q, want %q", res.stdout, "b")
	}
}
