package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// incidentLog is a short incident: the network goes (871310), timeouts
// follow (898030), a stack trace's continuation holds a code.
const incidentLog = "2026-12-04T10:20:05Z INFO connected\n" +
	"2026-12-04T10:20:30Z ERROR send failed code=871310\n" +
	"2026-12-04T10:21:10Z ERROR send failed code=871310\n" +
	"java.io.IOException: code=871310\n" +
	"\tat com.example.Sender.send(Sender.java:42)\n" +
	"2026-12-04T10:22:40Z ERROR timeout code=898030\n" +
	"2026-12-04T10:22:50Z ERROR timeout code=898030 <script>alert(1)</script>\n"

func writeLog(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// stats --timeline prints the table, then a row per code over time, in
// ASCII on a pipe.
func TestTimelineStatsText(t *testing.T) {
	res := runBin(t, nil, "stats", "--timeline", "--bucket", "1m", writeLog(t, incidentLog))
	out := string(res.stdout)
	want := "Timeline: 2026-12-04 10:20:00 to 2026-12-04 10:23:00 UTC, 1m per column (3)\n\n" +
		"CODE    10:20  PEAK\n" +
		"871310  =@     2 at 10:21\n" +
		"898030    @    2 at 10:22\n"
	if res.code != 0 || !strings.HasSuffix(out, want) || !strings.Contains(out, "CODE    COUNT") {
		t.Errorf("exit %d, stdout:\n%s\nwant it to end with:\n%s\nstderr: %s", res.code, out, want, res.stderr)
	}
}

// --summary --timeline on standard input: the lines go out untouched, the
// table and the timeline to stderr; --timezone shows local times.
func TestTimelineSummaryStdin(t *testing.T) {
	plain := runBin(t, strings.NewReader(incidentLog))
	res := runBin(t, strings.NewReader(incidentLog), "--summary", "--timeline", "--bucket", "2m", "--timezone", "+08:00")
	if res.code != 0 || !bytes.Equal(res.stdout, plain.stdout) {
		t.Fatalf("exit %d; stdout differs from a plain run:\n%s", res.code, res.stdout)
	}
	if !strings.Contains(string(res.stderr), "Timeline: 2026-12-04 18:20:00 to 2026-12-04 18:24:00 +08:00, 2m per column (2)") ||
		!strings.Contains(string(res.stderr), "871310  @      3 at 18:20") {
		t.Errorf("stderr:\n%s", res.stderr)
	}
}

// stats --timeline --format json: one object whose "timeline" member has
// the documented shape, buckets aligned to multiples of their size.
func TestTimelineJSON(t *testing.T) {
	res := runBin(t, nil, "stats", "--timeline", "--bucket", "1m", "--format", "json", writeLog(t, incidentLog))
	var got struct {
		Rows     []json.RawMessage `json:"rows"`
		Timeline struct {
			Start         string             `json:"start"`
			BucketSeconds int64              `json:"bucket_seconds"`
			Codes         map[string][]int64 `json:"codes"`
		} `json:"timeline"`
	}
	if err := json.Unmarshal(res.stdout, &got); err != nil || res.code != 0 || bytes.Count(res.stdout, []byte("\n")) != 1 {
		t.Fatalf("exit %d, %v: %s", res.code, err, res.stdout)
	}
	tl := got.Timeline
	if tl.Start != "2026-12-04T10:20:00Z" || tl.BucketSeconds != 60 || len(got.Rows) != 2 {
		t.Errorf("timeline %+v", tl)
	}
	want := map[string][]int64{"871310": {1, 2, 0}, "898030": {0, 0, 2}}
	for code, w := range want {
		if g := tl.Codes[code]; len(g) != len(w) || g[0] != w[0] || g[1] != w[1] || g[2] != w[2] {
			t.Errorf("%s: %v, want %v", code, g, w)
		}
	}
	// Without --timeline the JSON keeps its old shape.
	plain := runBin(t, nil, "stats", "--format", "json", writeLog(t, incidentLog))
	if bytes.Contains(plain.stdout, []byte("timeline")) {
		t.Errorf("a timeline without --timeline: %s", plain.stdout)
	}
}

// stats --format html: one page that parses, with a chart per code,
// nothing external and the log's text escaped.
func TestTimelineHTML(t *testing.T) {
	res := runBin(t, nil, "stats", "--format", "html", writeLog(t, incidentLog))
	page := string(res.stdout)
	if res.code != 0 || !strings.HasPrefix(page, "<!DOCTYPE html>") {
		t.Fatalf("exit %d: %s%s", res.code, page, res.stderr)
	}
	d := xml.NewDecoder(strings.NewReader(page))
	d.Entity = xml.HTMLEntity
	svgs := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "svg" {
			svgs++
		}
	}
	if svgs != 2 {
		t.Errorf("%d charts, want 2", svgs)
	}
	for _, bad := range []string{"http://", "https://", "src=", "@import", "url(", "<script"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if !strings.Contains(page, "Network not available") {
		t.Errorf("the chart's code is not labelled with its message")
	}
}

// The timeline's flags where there is no timeline, and html outside
// stats, are usage mistakes: exit 2, naming what they need.
func TestTimelineFlagUse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--timeline"}, "--timeline needs --summary"},
		{[]string{"--summary", "--bucket", "1m"}, "--bucket needs --timeline"},
		{[]string{"stats", "--timezone", "UTC"}, "--timezone needs --timeline"},
		{[]string{"stats", "--ascii"}, "--ascii needs a timeline drawn in text"},
		{[]string{"stats", "--timeline", "--ascii", "--format", "json"}, "--ascii needs a timeline drawn in text"},
		{[]string{"--format", "html"}, "use annotator stats --format html"},
		{[]string{"--summary", "--format", "html"}, "use annotator stats --format html"},
		{[]string{"stats", "--timeline", "--bucket", "90ms"}, "--bucket"},
		{[]string{"stats", "--timeline", "--bucket", "1500ms"}, "want whole seconds"},
		{[]string{"stats", "--timeline", "--timezone", "Mars/Olympus"}, `--timezone "Mars/Olympus": want UTC, Local`},
	} {
		res := runBin(t, strings.NewReader("x 898001\n"), tc.args...)
		if res.code != 2 || !strings.Contains(string(res.stderr), tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, res.code, res.stderr, tc.want)
		}
	}
	// The HTML report alone may take --bucket and --timezone.
	if res := runBin(t, strings.NewReader("x 898001\n"), "stats", "--format", "html", "--bucket", "1m", "--timezone", "Asia/Shanghai"); res.code != 0 {
		t.Errorf("stats --format html --bucket --timezone: exit %d, %s", res.code, res.stderr)
	}
}

// --follow --summary --timeline prints the timeline at exit.
func TestTimelineFollow(t *testing.T) {
	path := writeLog(t, incidentLog)
	cmd := exec.Command(binary, "--follow", path, "--summary", "--timeline", "--bucket", "1m")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for n := 0; n < strings.Count(incidentLog, "\n") && sc.Scan(); n++ {
	}
	// Lines written after the start count as well.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("2026-12-04T10:25:00Z ERROR send failed code=871310\n")
	f.Close()
	if !sc.Scan() {
		t.Fatalf("the appended line did not come out: %s", stderr.Bytes())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, out); done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.Bytes())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no exit after SIGTERM: %s", stderr.Bytes())
	}
	if !strings.Contains(stderr.String(), "871310  =@   =  2 at 10:21") {
		t.Errorf("stderr:\n%s", stderr.Bytes())
	}
}

// On a UTF-8 terminal the sparkline is drawn in blocks.
func TestTimelineOnTerminal(t *testing.T) {
	master, slave := openPTY(t)
	cmd := exec.Command(binary, "stats", "--timeline", "--bucket", "1m", writeLog(t, incidentLog))
	cmd.Env = append(os.Environ(), "LC_ALL=", "LC_CTYPE=", "LANG=C.UTF-8")
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var term bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&term, master); close(copied) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, term.Bytes())
	}
	master.SetReadDeadline(time.Now().Add(5 * time.Second))
	<-copied
	if !strings.Contains(term.String(), "871310  ▄█     2 at 10:21") {
		t.Errorf("terminal:\n%s", term.String())
	}
}

// README's timeline is what the binary prints on an 80-column UTF-8
// terminal.
func TestTimelineREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const cmdLine = "$ annotator stats --timeline --top 3 testdata/incident.log\n"
	_, block, ok := strings.Cut(string(readme), cmdLine)
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatalf("README shows no %q block", cmdLine)
	}
	master, slave := openPTY(t)
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 80}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "stats", "--timeline", "--top", "3", "testdata/incident.log")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "LC_ALL=", "LC_CTYPE=", "LANG=C.UTF-8", "COLUMNS=")
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var term bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&term, master); close(copied) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, term.Bytes())
	}
	master.SetReadDeadline(time.Now().Add(5 * time.Second))
	<-copied
	if got := strings.ReplaceAll(term.String(), "\r\n", "\n"); got != block {
		t.Errorf("README shows:\n%s\nthe binary prints:\n%s", block, got)
	}
}
