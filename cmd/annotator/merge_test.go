package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/annotator-dev/annotator/internal/kafkatest"
	"github.com/annotator-dev/annotator/internal/peakrss"
	kafkasink "github.com/annotator-dev/annotator/sinks/kafka"
)

const field898001 = `[{"code":"898001","message":"User exists","meaning":"用户已存在","source":"sdk/server"}]`

// A mergeCase is one input line (without terminator) and how merge mode
// treats it.
type mergeCase struct {
	name, line string
	// kind: 'j' a JSON object (field), 'c' one whose field name is taken
	// (second name), 'l' logfmt (pair), 't' text note, 'n' no code.
	kind byte
}

// mergeCases are lines as real logging libraries write them, and lines
// that look structured but are not.
func mergeCases(t *testing.T) []mergeCase {
	// log/slog writes its lines here for real.
	var jb, tb bytes.Buffer
	slog.New(slog.NewJSONHandler(&jb, nil)).Error("create user failed", "code", 898001, "user", "alice",
		"req", map[string]any{"path": "/v1/users", "ms": 1.25})
	slog.New(slog.NewTextHandler(&tb, nil)).Error("create user failed", "code", 898001, "user", "alice bob",
		"detail", `said "exists"`)
	return []mergeCase{
		{"slog JSONHandler", strings.TrimSuffix(jb.String(), "\n"), 'j'},
		{"slog TextHandler (logfmt)", strings.TrimSuffix(tb.String(), "\n"), 'l'},
		{"zap production JSON", `{"level":"error","ts":1764601200.1234567,"caller":"user/create.go:42","msg":"create user failed","code":898001,"stacktrace":"main.createUser\n\t/app/user/create.go:42\nmain.main\n\t/app/main.go:17"}`, 'j'},
		{"zap development console", "2026-12-01T15:00:00.123Z\tERROR\tuser/create.go:42\tcreate user failed\t{\"code\": 898001}", 't'},
		{"logrus JSONFormatter", `{"code":898001,"level":"error","msg":"create user failed","time":"2026-12-01T15:00:00Z"}`, 'j'},
		{"logrus TextFormatter", `time="2026-12-01T15:00:00Z" level=error msg="create user failed" code=898001`, 'l'},
		{"Docker json-file", `{"log":"2026/12/01 15:00:00 send failed code=898001\n","stream":"stderr","time":"2026-12-01T15:00:00.123456789Z"}`, 'j'},
		{"pino", `{"level":50,"time":1764601200123,"pid":7,"hostname":"web-1","err":{"type":"Error","message":"JMessage 898001","stack":"Error: JMessage 898001\n    at f (/app/x.js:1:1)"},"msg":"create user failed"}`, 'j'},
		{"spacing, escapes, numbers", ` { "msg" : "\u9519\u8bef \"898001\"" , "n" : [ -0.0, 1E+2, 3e-1 ] }  `, 'j'},
		{"name taken", `{"jmessage":"the app's own","code":898001}`, 'c'},
		{"invalid JSON", `{"code":898001,}`, 't'},
		{"truncated JSON with a code", `{"code":898001,"a":`, 't'},
		{"truncated JSON", `{"a":`, 'n'},
		{"JSON array", `[{"code":898001}]`, 't'},
		{"prose", "send failed code=898001", 't'},
		{"JSON without a code", `{"level":"info","msg":"ok"}`, 'n'},
		{"logfmt without a code", `level=info msg=ok`, 'n'},
	}
}

// mergedLine is what merge mode makes of c.line (field the field name).
func mergedLine(c mergeCase, field string) string {
	switch c.kind {
	case 'j', 'c':
		name := field
		if c.kind == 'c' && field == "jmessage" { // the line's own field is "jmessage"
			name += "_annotator"
		}
		cut := strings.LastIndexByte(c.line, '}')
		return c.line[:cut] + `,"` + name + `":` + field898001 + c.line[cut:]
	case 'l':
		return c.line + " " + field + `="898001 User exists | 用户已存在"`
	case 't':
		return c.line + note898001
	}
	return c.line
}

// mergeInput joins the cases into one input, alternating LF and CRLF, the
// last line without a terminator; want is the expected output.
func mergeInput(cases []mergeCase, field string) (in, want string) {
	var ib, wb strings.Builder
	for i, c := range cases {
		term := []string{"\n", "\r\n"}[i%2]
		if i == len(cases)-1 {
			term = ""
		}
		ib.WriteString(c.line + term)
		wb.WriteString(mergedLine(c, field) + term)
	}
	return ib.String(), wb.String()
}

// TestMergeLoggingLibraries runs the binary on real pipes and files over
// lines in the formats of zap, slog, logrus, pino and Docker: whole lines,
// lines in 64-byte pieces, and the settings from a config file.
func TestMergeLoggingLibraries(t *testing.T) {
	cases := mergeCases(t)
	in, want := mergeInput(cases, "jmessage")
	for _, args := range [][]string{
		{"--format", "merge"},
		{"--format", "merge", "--buffer-size", "64"},
		{"--format", "merge", "--workers", "1", "--buffer-size", "200"},
	} {
		r := runBin(t, strings.NewReader(in), args...)
		if r.code != 0 || len(r.stderr) != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		compareLines(t, fmt.Sprint(args), string(r.stdout), want)
	}
	for _, c := range cases {
		if c.kind == 'j' && !json.Valid([]byte(mergedLine(c, "jmessage"))) {
			t.Errorf("%s: merged line is not JSON", c.name)
		}
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "annotator.toml")
	if err := os.WriteFile(conf, []byte("[output]\nformat = \"merge\"\nfield = \"notes\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, want = mergeInput(cases, "notes")
	r := runBin(t, nil, "-c", conf, path)
	if r.code != 0 {
		t.Fatalf("config run: exit %d: %s", r.code, r.stderr)
	}
	compareLines(t, "config file, field notes", string(r.stdout), want)
}

func compareLines(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.SplitAfter(got, "\n"), strings.SplitAfter(want, "\n")
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			t.Fatalf("%s: line %d\n got %q\nwant %q", what, i+1, gl[i], wl[i])
		}
	}
	t.Fatalf("%s: %d lines, want %d", what, len(gl), len(wl))
}

func TestMergeBadField(t *testing.T) {
	r := runBin(t, strings.NewReader(""), "--format", "merge", "--field", "a=b")
	if r.code != 2 || !strings.Contains(string(r.stderr), `--field: field name "a=b"`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.toml")
	os.WriteFile(conf, []byte("[output]\nformat = \"merge\"\nfield = \"\"\n"), 0o644)
	r = runBin(t, strings.NewReader(""), "-c", conf)
	if r.code != 2 || !strings.Contains(string(r.stderr), `c.toml:3: key "output.field"`) {
		t.Errorf("empty field in a config file: exit %d, stderr %q", r.code, r.stderr)
	}
}

// jsonLineReader produces one JSON object line of about n bytes, a code
// near its start and the insertion point at its very end, without holding
// it in memory.
func jsonLineReader(n int64) io.Reader {
	return io.MultiReader(strings.NewReader(`{"code":898001,"blob":"`), &lineReader{n: n}, strings.NewReader("\"} \r\n"))
}

// TestMergeHugeJSONLine: a 100 MiB JSON line gets its field at the end
// while its pieces stream through in bounded memory.
func TestMergeHugeJSONLine(t *testing.T) {
	const size = 100 << 20
	cmd := exec.Command(binary, "--format", "merge")
	cmd.Stdin = jsonLineReader(size)
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
	tail := `xx","jmessage":` + field898001 + "} \r\n"
	if !bytes.HasSuffix(out.last, []byte(tail)) {
		t.Errorf("line end: %q, want …%q", out.last, tail)
	}
	if want := int64(len(`{"code":898001,"blob":"`) + size + len("\"} \r\n") + len(`,"jmessage":`+field898001)); out.n != want {
		t.Errorf("wrote %d bytes, want %d", out.n, want)
	}
	rss := peak()
	if rss > 64<<20 {
		t.Errorf("peak RSS %d MiB for a %d MiB line: memory not bounded", rss>>20, size>>20)
	}
	t.Logf("%d MiB JSON line: peak RSS %.1f MiB", size>>20, float64(rss)/(1<<20))
}

// TestMergeFollow: followed files get merge mode too.
func TestMergeFollow(t *testing.T) {
	cases := mergeCases(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(binary, "--format", "merge", "--follow", path, "--poll-interval", "10ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := startCmd(t, cmd)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for _, c := range cases {
		if _, err := f.WriteString(c.line + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	timeout := time.After(30 * time.Second)
	for i, c := range cases {
		select {
		case got := <-lines:
			if want := mergedLine(c, "jmessage"); got != want {
				t.Errorf("line %d (%s):\n got %q\nwant %q", i+1, c.name, got, want)
			}
		case <-timeout:
			t.Fatalf("line %d not delivered; stderr:\n%s", i+1, stderr)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	for range lines {
	}
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Errorf("exit %d; stderr:\n%s", code, stderr)
	}
}

// TestMergeKafka: Kafka to Kafka in merge mode, records whose values are
// JSON objects (one pretty-printed over several lines), logfmt and text;
// keys, headers and the codes header stay.
func TestMergeKafka(t *testing.T) {
	b := kafkatest.Start(t)
	in, out := b.CreateTopic("in", 1), b.CreateTopic("out", 1)
	cases := mergeCases(t)
	cases = append(cases, mergeCase{"pretty-printed JSON record", "{\n  \"code\": 898001,\n  \"msg\": \"x\"\n}\n", 'j'})
	var msgs []kafkago.Message
	for i, c := range cases {
		msgs = append(msgs, kafkago.Message{Key: []byte(fmt.Sprint("k", i)), Value: []byte(c.line),
			Headers: []kafkago.Header{{Key: "trace", Value: []byte(fmt.Sprint(i))}}})
	}
	b.Produce(in, msgs...)
	cmd, stderr := startBin(t, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", b.Name("g"),
		"--kafka-out-topic", out, "--format", "merge", "--kafka-commit-interval", "100ms")
	got := b.ReadAll(out, len(cases), 60*time.Second)
	if len(got) != len(cases) {
		t.Fatalf("%d records out, want %d; stderr:\n%s", len(got), len(cases), stderr)
	}
	for i, c := range cases {
		m := got[i]
		if want := mergedLine(c, "jmessage"); string(m.Value) != want {
			t.Errorf("record %d (%s):\n got %q\nwant %q", i, c.name, m.Value, want)
		}
		if string(m.Key) != fmt.Sprint("k", i) || len(m.Headers) == 0 || string(m.Headers[0].Value) != fmt.Sprint(i) {
			t.Errorf("record %d: key %q headers %v: key and headers not kept", i, m.Key, m.Headers)
		}
		codes := ""
		for _, h := range m.Headers {
			if h.Key == kafkasink.CodesHeader {
				codes = string(h.Value)
			}
		}
		if want := map[bool]string{true: "", false: "898001"}[c.kind == 'n']; codes != want {
			t.Errorf("record %d (%s): codes header %q, want %q", i, c.name, codes, want)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
		t.Errorf("exit %d; stderr:\n%s", code, stderr)
	}

	// Kafka to standard output.
	stdout := &syncBuffer{}
	cmd = exec.Command(binary, "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-topic", in, "--kafka-group", b.Name("g"),
		"--format", "merge")
	cmd.Stdout = stdout
	stderr = startCmd(t, cmd)
	var want strings.Builder
	for _, c := range cases {
		want.WriteString(mergedLine(c, "jmessage") + "\n")
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(stdout.String()) < want.Len() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling the output
	}
	cmd.Process.Signal(syscall.SIGTERM)
	exitWithin(t, cmd, 30*time.Second)
	compareLines(t, "Kafka to stdout", stdout.String(), want.String())

	// Standard input to Kafka, lines longer than the buffer included.
	out2 := b.CreateTopic("out", 1)
	lines, _ := mergeInput(cases[:len(cases)-1], "jmessage")
	r := runBin(t, strings.NewReader(lines), "--kafka-brokers", strings.Join(b.Addrs, ","), "--kafka-out-topic", out2,
		"--format", "merge", "--buffer-size", "64")
	if r.code != 0 {
		t.Fatalf("stdin to Kafka: exit %d: %s", r.code, r.stderr)
	}
	got = b.ReadAll(out2, len(cases)-1, 30*time.Second)
	if len(got) != len(cases)-1 {
		t.Fatalf("stdin to Kafka: %d records, want %d", len(got), len(cases)-1)
	}
	for i, c := range cases[:len(cases)-1] {
		if want := mergedLine(c, "jmessage"); string(got[i].Value) != want {
			t.Errorf("stdin to Kafka, record %d (%s):\n got %q\nwant %q", i, c.name, got[i].Value, want)
		}
	}
}
