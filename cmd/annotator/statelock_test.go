package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Two annotators on one state directory: the second is refused with exit
// status 2, naming the directory and the first one's PID, and the first
// goes on. Once the first is SIGKILLed, its lock file is left behind with
// its PID, and a new annotator starts on the directory all the same.
func TestStateDirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	state := filepath.Join(dir, "state")
	w := startWriter(t, path)
	w.do("w 300")
	c := newCollector()
	args := []string{"--follow", path, "--state", state}
	first := startFollow(t, c, false, args...)
	first.waitLog("following file")
	c.waitAll(t, w.seq)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, binary, args...)
	var out, errb bytes.Buffer
	second.Stdout, second.Stderr = &out, &errb
	err := second.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("second annotator on %s: %v, want exit status 2\nstderr: %s", state, err, errb.String())
	}
	want := fmt.Sprintf("annotator: --state %s: in use by another annotator (pid %d)\n", state, first.cmd.Process.Pid)
	if errb.String() != want {
		t.Errorf("second annotator said %q, want %q", errb.String(), want)
	}
	if out.Len() != 0 {
		t.Errorf("second annotator wrote %d bytes of output", out.Len())
	}

	// The first was not disturbed.
	w.do("w 100")
	c.waitAll(t, w.seq)
	first.stop(true)
	stale, err := os.ReadFile(filepath.Join(state, "lock"))
	if err != nil || string(stale) != strconv.Itoa(first.cmd.Process.Pid)+"\n" {
		t.Fatalf("lock file after SIGKILL holds %q (%v), want the killed process's PID", stale, err)
	}
	killedAt := c.distinct()

	w.do("w 100")
	third := startFollow(t, c, false, args...)
	third.waitLog("following file")
	c.waitAll(t, w.seq)
	third.stop(false)
	c.check(t, w.seq, killedAt)
	if lock, _ := os.ReadFile(filepath.Join(state, "lock")); len(lock) != 0 {
		t.Errorf("lock file holds %q after a clean stop, want it empty", lock)
	}
}

// A followed file whose name holds a byte that is not UTF-8, beside one
// whose name holds that byte's escape as text: the /metrics page stays
// valid UTF-8 and counts each file's lines under its own label.
func TestFollowMetricsHostileFileName(t *testing.T) {
	dir := t.TempDir()
	byteName := filepath.Join(dir, "app\xff.log")
	textName := filepath.Join(dir, `app\xff.log`)
	for name, n := range map[string]int{byteName: 300, textName: 200} {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "line %d of %d, code 898001\n", i, n)
		}
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newCollector()
	a := startFollow(t, c, false, "--follow", filepath.Join(dir, "*.log"), "--metrics-addr", "127.0.0.1:0")
	a.waitLog("metrics endpoint listening")
	m := regexp.MustCompile(`metrics endpoint listening.* addr=(\S+)`).FindStringSubmatch(a.stderr.String())
	if m == nil {
		t.Fatalf("no address in the log:\n%s", a.stderr.String())
	}
	// On the page, the text format doubles each backslash of the label.
	q := regexp.QuoteMeta(strings.ReplaceAll(dir, `\`, `\\`))
	want := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^annotator_lines_read_total\{source="` + q + `/app\\\\xff\.log"\} 300$`),
		regexp.MustCompile(`(?m)^annotator_lines_read_total\{source="` + q + `/app\\\\\\\\xff\.log"\} 200$`),
	}
	var body []byte
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get("http://" + m[1] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range bytes.Split(body, []byte("\n")) {
			if !utf8.Valid(line) {
				t.Fatalf("/metrics is not valid UTF-8: %q", line)
			}
		}
		if want[0].Match(body) && want[1].Match(body) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never counted both files' lines:\n%s", body)
		}
		time.Sleep(10 * time.Millisecond) // polling an endpoint
	}
	a.stop(false)
}
