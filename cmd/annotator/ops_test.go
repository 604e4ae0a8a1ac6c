package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// replaceFile swaps content in by rename, as editors and config managers do.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// The example documents every key the binary accepts, and loads cleanly.
func TestConfigExample(t *testing.T) {
	example, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var core coreFlags
	var ops opsFlags
	core.register(fs)
	ops.register(fs)
	for _, in := range inputs() {
		in.register(fs)
	}
	for _, out := range outputs() {
		out.register(fs)
	}
	for _, k := range configSchema(fs) {
		name := strings.ReplaceAll(k.Name, "[]", "")
		dot := strings.LastIndexByte(name, '.')
		table, key := name[:dot], name[dot+1:]
		if !bytes.Contains(example, []byte("["+table+"]")) || !regexp.MustCompile(`(?m)^#? ?`+key+` = `).Match(example) {
			t.Errorf("config.example.toml does not document %s", name)
		}
	}
	res := runBin(t, nil, "check", "-c", "../../config.example.toml")
	if res.code != 0 || !bytes.Contains(res.stdout, []byte(": ok;")) {
		t.Fatalf("check of the example: exit %d, %s%s", res.code, res.stdout, res.stderr)
	}
	// A run with it behaves like a run without it.
	in := "a 898001\nb\n"
	with := runBin(t, strings.NewReader(in), "-c", "../../config.example.toml")
	without := runBin(t, strings.NewReader(in))
	if with.code != 0 || string(with.stdout) != string(without.stdout) {
		t.Fatalf("with the example: exit %d, %q; without: %q", with.code, with.stdout, without.stdout)
	}
}

// Each problem in a config file stops start-up with file, line and key.
func TestConfigErrorsOnTheBinary(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ doc, want string }{
		{"[[inputs.file]]\npth = \"/var/log/a.log\"\n", `:2: unknown key "inputs.file.pth"`},
		{"[output]\nformat = \"xml\"\n", `:2: key "output.format": bad value "xml": want text, json, merge or html`},
		{"[pipeline]\n\nworkers = \"4\"\n", `:3: key "pipeline.workers": want an integer, got a string`},
		{"[pipeline]\nworkers = 0\n", `:2: key "pipeline.workers": bad value "0": want a whole number from 1 to 256`},
		{"[log]\nlevel = \"loud\"\n", `:2: key "log.level": bad value "loud": want debug, info, warn or error`},
		{"[metrics]\naddr = \"nowhere\"\n", `:2: key "metrics.addr": bad value "nowhere"`},
		{"[catalog]\nfiles = \"a.tsv\"\n", `:2: key "catalog.files": want an array of strings, got a string`},
		{"[inputs.follow]\npoll_interval = \"often\"\n", `:2: key "inputs.follow.poll_interval": bad duration "often"`},
		{"[ouput]\nformat = \"json\"\n", `:1: unknown table "ouput"`},
		{"[output\n", `:1: syntax error`},
	}
	for i, c := range cases {
		p := writeFile(t, dir, fmt.Sprintf("c%d.toml", i), c.doc)
		for _, args := range [][]string{{"-c", p}, {"check", "-c", p}} {
			res := runBin(t, strings.NewReader("898001\n"), args...)
			if res.code != 2 || len(res.stdout) != 0 || !bytes.Contains(res.stderr, []byte(p+c.want)) {
				t.Errorf("%v %q: exit %d, stdout %q, stderr %q; want %s", args, c.doc, res.code, res.stdout, res.stderr, p+c.want)
			}
		}
	}
	res := runBin(t, nil, "-c", filepath.Join(dir, "missing.toml"))
	if res.code != 2 || !bytes.Contains(res.stderr, []byte("missing.toml")) {
		t.Errorf("missing config: exit %d, %s", res.code, res.stderr)
	}
}

// The file sets what the command line leaves alone; flags win.
func TestConfigFlagsOverride(t *testing.T) {
	dir := t.TempDir()
	cat := writeFile(t, dir, "c.tsv", "ECONNRESET\treset\tmeaning\n")
	p := writeFile(t, dir, "c.toml", fmt.Sprintf("[output]\nformat = \"json\"\nonly_matching = true\n[catalog]\nfiles = [%q]\n", cat))
	in := "x ECONNRESET\nplain\n"
	res := runBin(t, strings.NewReader(in), "-c", p)
	want := `{"line":"x ECONNRESET","codes":[{"code":"ECONNRESET","message":"reset","meaning":"meaning","source":"custom:` + cat + `"}]}` + "\n"
	if res.code != 0 || string(res.stdout) != want {
		t.Fatalf("from the file: exit %d, %q, want %q (%s)", res.code, res.stdout, want, res.stderr)
	}
	res = runBin(t, strings.NewReader(in), "-c", p, "--format", "text")
	if string(res.stdout) != "x ECONNRESET [ECONNRESET reset | meaning]\n" {
		t.Fatalf("flag over the file: %q", res.stdout)
	}
}

func TestCheckCatalogErrors(t *testing.T) {
	dir := t.TempDir()
	cat := writeFile(t, dir, "c.tsv", "E1\tone\nE1\tagain\n")
	p := writeFile(t, dir, "c.toml", fmt.Sprintf("[catalog]\nfiles = [%q]\n", cat))
	for _, args := range [][]string{{"check", "-c", p}, {"-c", p}} {
		res := runBin(t, strings.NewReader(""), args...)
		if res.code != 2 || !bytes.Contains(res.stderr, []byte(cat+`:2: code "E1" is already defined at line 1`)) {
			t.Errorf("%v: exit %d, %s", args, res.code, res.stderr)
		}
	}
	good := writeFile(t, dir, "g.csv", "code,message,meaning\nE1,one,一\n")
	res := runBin(t, nil, "check", "--catalog", good, "--catalog-replace")
	if res.code != 0 || !bytes.Contains(res.stdout, []byte("catalog of 1 codes")) {
		t.Errorf("good catalog: exit %d, %s%s", res.code, res.stdout, res.stderr)
	}
}

func TestSummaryKnownInput(t *testing.T) {
	dir := t.TempDir()
	log := writeFile(t, dir, "app.log", "start\n"+
		"send failed 898002\n"+
		"retry 898002 again 898002\n"+
		"login 898001\n"+
		"odd 899999\n"+
		"send failed 898002\n"+
		"end\n")
	head := "7 lines read, 4 with a code; 4 codes seen, 2 distinct\n" +
		"1 number shaped like a code that is not in the catalog, 1 distinct\n"
	res := runBin(t, nil, "stats", log)
	if res.code != 0 {
		t.Fatalf("stats: exit %d: %s", res.code, res.stderr)
	}
	lines := strings.Split(string(res.stdout), "\n")
	if len(lines) != 8 || !strings.HasPrefix(string(res.stdout), head) {
		t.Fatalf("stats output:\n%s", res.stdout)
	}
	fields := func(s string) []string { return strings.Fields(s) }
	if got := fields(lines[3]); strings.Join(got[:5], " ") != "CODE COUNT SHARE FIRST LAST" {
		t.Errorf("header %q", lines[3])
	}
	rows := [][]string{
		{"898002", "3", "75.0%", "2", "6"},
		{"898001", "1", "25.0%", "4", "4"},
		{"899999", "1", "100.0%", "5", "5", "(not", "in", "the", "catalog)"},
	}
	for i, r := range rows {
		got := fields(lines[4+i])
		if len(got) < len(r) || strings.Join(got[:len(r)], " ") != strings.Join(r, " ") {
			t.Errorf("row %d: %q, want it to start with %v", i, lines[4+i], r)
		}
	}
	if !strings.Contains(lines[5], "User exists") || !strings.Contains(lines[5], "用户已存在") {
		t.Errorf("row for 898001 lacks its message and meaning: %q", lines[5])
	}

	// --summary: annotated lines on stdout, the table on stderr, and no
	// progress since stderr is not a terminal.
	res = runBin(t, nil, "--summary", log)
	if res.code != 0 || !bytes.Contains(res.stdout, []byte("login 898001 [898001")) {
		t.Fatalf("--summary: exit %d, %s", res.code, res.stdout)
	}
	if !bytes.HasPrefix(res.stderr, []byte(head)) || bytes.ContainsAny(res.stderr, "\r\x1b") {
		t.Errorf("--summary stderr: %q", res.stderr)
	}
}

// TestStatsLongLinesJSONTop: the codes in a line longer than the buffer
// (annotated in pieces) are counted like any other; --top limits the rows;
// stats --format json gives the summary as JSON.
func TestStatsLongLinesJSONTop(t *testing.T) {
	dir := t.TempDir()
	long := "long " + strings.Repeat("x", 300) + " 898001 " + strings.Repeat("y", 300) + " 899999 898002 898001\n"
	log := writeFile(t, dir, "app.log", "a 898002\n"+long+"b 898002\n")
	res := runBin(t, nil, "stats", "--buffer-size", "64", "--top", "1", log)
	want := "3 lines read, 3 with a code; 4 codes seen, 2 distinct\n" +
		"1 number shaped like a code that is not in the catalog, 1 distinct\n"
	if res.code != 0 || !strings.HasPrefix(string(res.stdout), want) {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	rows := strings.Split(strings.TrimSuffix(string(res.stdout), "\n"), "\n")[4:]
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "898002      3  75.0%  1      3") ||
		rows[1] != "... and 1 more code in the catalog, seen 1 time" ||
		rows[2] != "... and 1 more number not in the catalog, seen 1 time" {
		t.Errorf("rows:\n%s", strings.Join(rows, "\n"))
	}
	res = runBin(t, nil, "stats", "--buffer-size", "64", "--format", "json", log)
	var sum struct {
		Lines, Codes int
		Unknown      struct{ Seen, Distinct int }
		Rows         []struct {
			Code  string
			Count int
			First struct{ Line int }
		}
	}
	if err := json.Unmarshal(res.stdout, &sum); err != nil || res.code != 0 {
		t.Fatalf("exit %d, %v: %s%s", res.code, err, res.stdout, res.stderr)
	}
	if sum.Lines != 3 || sum.Codes != 4 || sum.Unknown.Seen != 1 || sum.Unknown.Distinct != 1 || len(sum.Rows) != 3 || sum.Rows[1].Code != "898001" || sum.Rows[1].First.Line != 2 {
		t.Errorf("%+v", sum)
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(io.Discard) {
		t.Error("io.Discard is not a terminal")
	}
}

// proc is the binary running with its pipes held by the test.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), done: make(chan struct{})}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errp, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	copyTo := func(dst *bytes.Buffer, r io.Reader) {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			p.mu.Lock()
			dst.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go copyTo(&p.stdout, out)
	go copyTo(&p.stderr, errp)
	go func() { wg.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		p.cmd.Wait()
	})
	return p
}

// waitStderr polls until stderr matches re at least n times.
func (p *proc) waitStderr(t *testing.T, re *regexp.Regexp, n int) [][]string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p.mu.Lock()
		ms := re.FindAllStringSubmatch(p.stderr.String(), -1)
		p.mu.Unlock()
		if len(ms) >= n {
			return ms
		}
		if time.Now().After(deadline) {
			p.mu.Lock()
			defer p.mu.Unlock()
			t.Fatalf("stderr never matched %s %d times (stdout %d bytes):\n%s", re, n, p.stdout.Len(), p.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *proc) finish(t *testing.T) (stdout, stderr string) {
	t.Helper()
	p.stdin.Close()
	<-p.done
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr.String())
	}
	return p.stdout.String(), p.stderr.String()
}

// Under a steady stream of lines, the catalog file is replaced again and
// again, by rename and with SIGHUP: every line is written, and every line
// is annotated wholly by one version of the catalog. A file that does not
// parse keeps the old catalog; a deleted key disappears.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	version := func(v int) string {
		return fmt.Sprintf("KEYA\tA is v%d\nKEYB\tB is v%d\n", v, v)
	}
	cat := writeFile(t, dir, "codes.tsv", version(0))
	p := start(t, "--catalog", cat, "--catalog-replace", "--buffer-size", "4096", "--workers", "2")

	reloaded := regexp.MustCompile(`msg="catalog reloaded".* version=(\d+)`)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	written := 0
	wg.Add(1)
	go func() { // load: lines until told to stop
		defer wg.Done()
		w := bufio.NewWriterSize(p.stdin, 8192)
		defer w.Flush()
		for {
			select {
			case <-stop:
				return
			default:
			}
			fmt.Fprintf(w, "%d KEYA KEYB\n", written)
			written++
			if written%1000 == 0 {
				// Steady load rather than a flood the test must buffer.
				w.Flush()
				time.Sleep(time.Millisecond)
			}
		}
	}()
	// The catalog is loaded once output flows.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		p.mu.Lock()
		n := p.stdout.Len()
		p.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no output")
		}
	}
	for v := 1; v <= 6; v++ {
		replaceFile(t, cat, version(v))
		if v%2 == 0 {
			p.cmd.Process.Signal(syscall.SIGHUP)
		}
		p.waitStderr(t, reloaded, v)
	}
	// A broken file keeps version 6.
	replaceFile(t, cat, "KEYA\tonly\nKEYA\ttwice\n")
	p.waitStderr(t, regexp.MustCompile(`catalog reload failed, keeping the previous catalog.*already defined at line 1`), 1)
	close(stop)
	wg.Wait()
	// Every line written so far is out before KEYB goes: lines still in
	// the pipe would otherwise meet the next catalog.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		p.mu.Lock()
		n := bytes.Count(p.stdout.Bytes(), []byte("\n"))
		p.mu.Unlock()
		if n >= written {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines out", n, written)
		}
	}

	// KEYB deleted: lines read from now on have no note for it.
	replaceFile(t, cat, "KEYA\tA is v7\n")
	p.waitStderr(t, reloaded, 7)
	fmt.Fprintf(p.stdin, "after KEYA KEYB\n")
	stdout, _ := p.finish(t)

	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != written+1 {
		t.Fatalf("%d lines out, %d in", len(lines), written+1)
	}
	note := regexp.MustCompile(`^(\d+) KEYA KEYB \[KEYA A is v(\d)\] \[KEYB B is v(\d)\]$`)
	versions := map[string]int{}
	for i, l := range lines[:written] {
		m := note.FindStringSubmatch(l)
		if m == nil || m[1] != strconv.Itoa(i) {
			t.Fatalf("line %d: %q", i, l)
		}
		if m[2] != m[3] {
			t.Fatalf("line %d annotated by two catalog versions: %q", i, l)
		}
		versions[m[2]]++
	}
	if len(versions) < 2 {
		t.Errorf("load too short to see a reload: versions %v", versions)
	}
	if got := lines[written]; got != "after KEYA KEYB [KEYA A is v7]" {
		t.Errorf("after deleting KEYB: %q", got)
	}
}

// The metrics endpoint of a running binary, scraped and parsed.
func TestMetricsEndpoint(t *testing.T) {
	// A 64-byte buffer: the last line arrives in pieces, and the codes
	// in them count as well.
	p := start(t, "--metrics-addr", "127.0.0.1:0", "--buffer-size", "64")
	m := p.waitStderr(t, regexp.MustCompile(`metrics endpoint listening.* addr=(\S+)`), 1)
	base := "http://" + m[0][1]
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	fmt.Fprint(p.stdin, "a 898001\nb 898001 898002\nc 899999\nd\n"+
		"long "+strings.Repeat("x", 100)+" 898001 "+strings.Repeat("y", 100)+" 899999 871310 "+strings.Repeat("z", 60)+"\n")
	sample := regexp.MustCompile(`(?m)^annotator_lines_read_total\{source="stdin"\} (\d+)$`)
	deadline := time.Now().Add(20 * time.Second)
	var body string
	for {
		_, body = get("/metrics")
		if m := sample.FindStringSubmatch(body); m != nil && m[1] == "5" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lines never counted:\n%s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	values := map[string]string{}
	line := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$`)
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("malformed metrics line %q", l)
		}
		if _, err := strconv.ParseFloat(m[2], 64); err != nil {
			t.Fatalf("bad value in %q", l)
		}
		values[m[1]] = m[2]
	}
	for k, want := range map[string]string{
		`annotator_annotations_total{code="898001"}`:      "3",
		`annotator_annotations_total{code="898002"}`:      "1",
		`annotator_annotations_total{code="871310"}`:      "1",
		`annotator_unknown_codes_total`:                   "2",
		`annotator_lines_annotated_total{source="stdin"}`: "3",
		`annotator_catalog_version`:                       "1",
		`annotator_catalog_last_reload_success`:           "1",
		`annotator_ready`:                                 "1",
	} {
		if values[k] != want {
			t.Errorf("%s = %q, want %s", k, values[k], want)
		}
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz %d", code)
	}
	p.finish(t)
}
