package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Every way of asking for help prints the command's usage with its flags
// grouped, on stdout, and exits 0.
func TestHelp(t *testing.T) {
	groups := []string{"\nOutput:\n", "\nMatching:\n", "\nCatalog:\n", "\nFollow (sidecar):\n", "\nKafka:\n", "\nOperations:\n"}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"help"}, {"app.log", "--help"}} {
		res := runBin(t, nil, args...)
		out := string(res.stdout)
		if res.code != 0 || len(res.stderr) != 0 || !strings.HasPrefix(out, "Usage:\n  annotator [flags] [FILE...]") {
			t.Fatalf("%v: exit %d, stderr %q, stdout %q", args, res.code, res.stderr, out)
		}
		for _, g := range groups {
			if !strings.Contains(out, g) {
				t.Errorf("%v: no group %q in\n%s", args, g, out)
			}
		}
		for _, f := range []string{"--format FORMAT", "--follow PATH", "--kafka-brokers HOST:PORT", "-c, --config FILE", "--workers N"} {
			if !strings.Contains(out, "  "+f+" ") {
				t.Errorf("%v: flag %q not listed", args, f)
			}
		}
		// The ways of running a few use are summed up, whole in their topic.
		for _, p := range []string{"(8 more: annotator help follow)", "(22 more: annotator help kafka)"} {
			if !strings.Contains(out, p) {
				t.Errorf("%v: no pointer %q", args, p)
			}
		}
		if strings.Contains(out, "--poll-interval") || strings.Count(out, "\n") > 60 {
			t.Errorf("%v: the main help lists every flag (%d lines)", args, strings.Count(out, "\n"))
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
		not  string
	}{
		{[]string{"help", "follow"}, []string{"--poll-interval DURATION", "--max-open-files"}, "--kafka-brokers"},
		{[]string{"help", "kafka"}, []string{"--kafka-sasl MECHANISM", "--kafka-drain-timeout"}, "--follow"},
		{[]string{"help", "all"}, []string{"--poll-interval DURATION", "--kafka-sasl MECHANISM", "--format FORMAT"}, "(8 more"},
		{[]string{"--help-all"}, []string{"--poll-interval DURATION", "--kafka-sasl MECHANISM", "--format FORMAT"}, "(8 more"},
	} {
		res := runBin(t, nil, tc.args...)
		out := string(res.stdout)
		for _, w := range tc.want {
			if res.code != 0 || !strings.Contains(out, w) || strings.Contains(out, tc.not) {
				t.Errorf("%v: exit %d; want %q and not %q in\n%s", tc.args, res.code, w, tc.not, out)
			}
		}
	}
	// Each subcommand's own help, however asked for.
	for _, sub := range []string{"codes", "lookup", "check", "stats", "version", "help"} {
		for _, args := range [][]string{{"help", sub}, {sub, "--help"}, {sub, "-h"}} {
			res := runBin(t, nil, args...)
			if res.code != 0 || !strings.HasPrefix(string(res.stdout), "Usage: annotator "+sub) {
				t.Errorf("%v: exit %d, stdout %q, stderr %q", args, res.code, res.stdout, res.stderr)
			}
		}
	}
	res := runBin(t, nil, "lookup", "--help")
	for _, f := range []string{"--catalog FILE", "--catalog-replace", "-c, --config FILE", "--format FORMAT"} {
		if !strings.Contains(string(res.stdout), "  "+f) {
			t.Errorf("lookup --help does not list %s:\n%s", f, res.stdout)
		}
	}
	if strings.Contains(string(res.stdout), "--follow") {
		t.Errorf("lookup --help lists flags lookup does not take:\n%s", res.stdout)
	}
	// stats lists what it takes, not the flags about lines it never
	// writes; check lists its own and points at a run's.
	res = runBin(t, nil, "stats", "--help")
	for _, f := range []string{"--top N", "--follow PATH", "--kafka-brokers HOST:PORT", "--catalog FILE"} {
		if !strings.Contains(string(res.stdout), "  "+f) {
			t.Errorf("stats --help does not list %s:\n%s", f, res.stdout)
		}
	}
	for _, f := range []string{"--only-matching", "--with-filename", "--field", "--summary", "--kafka-out-topic"} {
		if strings.Contains(string(res.stdout), "  "+f) {
			t.Errorf("stats --help lists %s, which stats does not use:\n%s", f, res.stdout)
		}
	}
	res = runBin(t, nil, "check", "--help")
	if out := string(res.stdout); !strings.Contains(out, "-c, --config FILE") || !strings.Contains(out, "'annotator help all'") ||
		strings.Contains(out, "--kafka-brokers") || strings.Count(out, "\n") > 20 {
		t.Errorf("check --help: want -c and a pointer to every flag, in under 20 lines:\n%s", out)
	}
	// What stats refuses is a usage error naming the flag.
	for _, f := range []string{"-H", "--only-matching", "--kafka-out-topic=t"} {
		res := runBin(t, strings.NewReader("x 898001\n"), "stats", f)
		name, _, _ := strings.Cut(f, "=")
		if res.code != 2 || !strings.Contains(string(res.stderr), "stats "+name+": stats writes no lines") {
			t.Errorf("stats %s: exit %d, stderr %q", f, res.code, res.stderr)
		}
	}
}

// Every flag of a run is in a help group, so none ends up under "Other".
func TestEveryFlagGrouped(t *testing.T) {
	grouped := map[string]bool{}
	for alias := range aliases {
		grouped[alias] = true // shown with the flag it stands for
	}
	for _, g := range flagGroups {
		for _, n := range g.names {
			grouped[n] = true
		}
	}
	for _, n := range removedFlags() {
		grouped[n] = true // not shown
		if out := runBin(t, nil, "--help-all").stdout; strings.Contains(string(out), n) {
			t.Errorf("--help-all shows the removed --%s", n)
		}
	}
	allFlags().VisitAll(func(f *flag.Flag) {
		if !grouped[f.Name] {
			t.Errorf("--%s is in no help group", f.Name)
		}
	})
}

// A usage error is one line naming the problem and a pointer to the help,
// on stderr, exit 2; no internal marker words.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "f.toml", "[output]\nformat = \"json\"\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unknown flag --bogus"},
		{[]string{"--folow", "app.log"}, "unknown flag --folow; did you mean --follow?"},
		{[]string{"--kafka-broker", "k:9092"}, "unknown flag --kafka-broker; did you mean --kafka-brokers?"},
		{[]string{"stats", "--tpo", "3"}, "unknown flag --tpo; did you mean --top?"},
		{[]string{"--format"}, "flag --format needs a value"},
		{[]string{"--summary=maybe"}, `--summary "maybe": want true or false`},
		{[]string{"--state", dir}, "--state needs --follow"},
		{[]string{"--kafka-group", "g"}, "--kafka-group needs --kafka-topic"},
		// Every word-valued setting says what is wrong the same way.
		{[]string{"--engine", "regex"}, `--engine "regex": want auto, numeric or ahocorasick`},
		{[]string{"--format", "xml"}, `--format "xml": want text, json, merge or html`},
		{[]string{"--log-level", "loud"}, `--log-level "loud": want debug, info, warn or error`},
		{[]string{"--log-format", "yaml"}, `--log-format "yaml": want text or json`},
		{[]string{"--follow", "x.log", "--start-at", "mid"}, `--start-at "mid": want beginning or end`},
		{[]string{"--kafka-start", "now"}, `--kafka-start "now": want first or last`},
		{[]string{"--kafka-compression", "brotli"}, `--kafka-compression "brotli": want none, gzip, snappy, lz4 or zstd`},
		{[]string{"--kafka-sasl", "md5"}, `--kafka-sasl "md5": want plain, scram-sha-256 or scram-sha-512`},
		{[]string{"--kafka-timestamp", "now"}, `--kafka-timestamp "now": want input or produce`},
		{[]string{"codes", "--format", "csv"}, `--format "csv": want text or json`},
		{[]string{"lokup", "898001"}, `unknown command "lokup"; did you mean "lookup"?`},
		{[]string{"stat", "app.log"}, `unknown command "stat"; did you mean "stats"?`},
		{[]string{"chekc"}, `unknown command "chekc"; did you mean "check"?`},
		{[]string{"898001"}, "898001: no such file; to look the code up: annotator lookup 898001"},
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"check", "-c", cfg, "extra.log"}, `check reads no input; got the arguments ["extra.log"]`},
		{[]string{"codes", "extra"}, `codes takes no arguments, got ["extra"]`},
		{[]string{"lookup"}, "lookup needs at least one CODE"},
		{[]string{"version", "x"}, `version takes no arguments, got ["x"]`},
		// check finds what a run would find before it reads anything.
		{[]string{"check", "--state", dir}, "--state needs --follow"},
		{[]string{"check", "--kafka-topic", "t"}, "--kafka-topic needs --kafka-group"},
	}
	for _, c := range cases {
		res := runBin(t, strings.NewReader(""), c.args...)
		lines := strings.Split(strings.TrimSuffix(string(res.stderr), "\n"), "\n")
		if res.code != 2 || len(res.stdout) != 0 || len(lines) != 2 || lines[0] != "annotator: "+c.want ||
			!strings.HasPrefix(lines[1], "Try 'annotator ") || !strings.HasSuffix(lines[1], "--help'.") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", c.args, res.code, res.stdout, res.stderr, c.want)
		}
		if bytes.Contains(res.stderr, []byte(": usage")) {
			t.Errorf("%v: internal marker in %q", c.args, res.stderr)
		}
	}
	// A word that is a file is read as one, whatever it looks like.
	if err := os.WriteFile(filepath.Join(dir, "lokup"), []byte("x 898001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "lokup")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil || string(out) != "x 898001"+note898001+"\n" {
		t.Errorf("a file named lokup: %v, %q", err, out)
	}
}

// A failure that is not the caller's usage mistake exits 1 with one line
// and no pointer to the help.
func TestStartFailureIsNotUsage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	res := runBin(t, strings.NewReader("x\n"), "--metrics-addr", ln.Addr().String())
	lines := strings.Split(strings.TrimSuffix(string(res.stderr), "\n"), "\n")
	if res.code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "annotator: ") ||
		!strings.Contains(lines[0], "address already in use") {
		t.Errorf("metrics address in use: exit %d, stderr %q", res.code, res.stderr)
	}
}

// An unreadable input file is reported as "annotator: FILE: reason", not
// as a log record.
func TestUnreadableFileStyle(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.log")
	res := runBin(t, nil, missing, dir)
	want := "annotator: " + missing + ": no such file or directory\nannotator: " + dir + ": is a directory\n"
	if res.code != 1 || string(res.stderr) != want {
		t.Errorf("exit %d, stderr %q, want %q", res.code, res.stderr, want)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"app.log", "--version"}} {
		res := runBin(t, nil, args...)
		lines := strings.Split(string(res.stdout), "\n")
		if res.code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "annotator ") || !strings.HasPrefix(lines[1], "commit ") {
			t.Fatalf("%v: exit %d, %q, stderr %q", args, res.code, res.stdout, res.stderr)
		}
		if !strings.Contains(lines[2], runtime.Version()) {
			t.Errorf("%v: Go version %s not in %q", args, runtime.Version(), lines[2])
		}
	}
	// The version and commit are the build information's, as the Go
	// toolchain reads it (a build outside a git checkout, or with
	// -buildvcs=false, has no commit).
	info, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	version, commit := "", "unknown"
	for _, l := range strings.Split(string(info), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[0] == "mod":
			version = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			commit = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	res := runBin(t, nil, "version")
	if !strings.HasPrefix(string(res.stdout), "annotator "+version+"\ncommit "+commit) {
		t.Errorf("version says %q; the build information has version %s, commit %s", res.stdout, version, commit)
	}
}

// Numeric settings are bounded the same way on the command line, in the
// config file and by check, with file:line for the file.
func TestNumericBounds(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		flag, value, key, toml, want string
	}{
		{"--workers", "100000000", "pipeline.workers", "[pipeline]\nworkers = 100000000\n", "want a whole number from 1 to 256"},
		{"--buffer-size", "99999999999", "pipeline.buffer_size", "[pipeline]\nbuffer_size = 99999999999\n", "want a size from 64 to 64MiB"},
		{"--buffer-size", "1T", "pipeline.buffer_size", "[pipeline]\nbuffer_size = \"1T\"\n", "want a size such as 262144, 256KiB or 1M"},
		{"--poll-interval", "0s", "inputs.follow.poll_interval", "[inputs.follow]\npoll_interval = \"0s\"\n", "want a duration from 1ms to 1h"},
		{"--checkpoint-interval", "-1s", "inputs.follow.checkpoint_interval", "[inputs.follow]\ncheckpoint_interval = \"-1s\"\n", "want a duration from 0s to 1h"},
		{"--kafka-commit-interval", "-1s", "inputs.kafka.commit_interval", "[inputs.kafka]\ncommit_interval = \"-1s\"\n", "want a duration from 0s to 1h"},
		{"--kafka-session-timeout", "2h", "inputs.kafka.session_timeout", "[inputs.kafka]\nsession_timeout = \"2h\"\n", "want a duration from 1s to 30m"},
		{"--kafka-max-in-flight", "512KiB", "inputs.kafka.max_in_flight", "[inputs.kafka]\nmax_in_flight = \"512KiB\"\n", "want a size from 1MiB to 1GiB"},
		{"--kafka-connect-timeout", "0s", "kafka.connect_timeout", "[kafka]\nconnect_timeout = \"0s\"\n", "want a duration from 1s to 1h"},
		{"--close-inactive", "0s", "inputs.follow.close_inactive", "[inputs.follow]\nclose_inactive = \"0s\"\n", "want a duration from 100ms to 24h"},
		{"--max-open-files", "-1", "inputs.follow.max_open_files", "[inputs.follow]\nmax_open_files = -1\n", "want a whole number from 0 to 1048576"},
	}
	for i, c := range cases {
		res := runBin(t, strings.NewReader(""), c.flag, c.value)
		want := fmt.Sprintf("annotator: %s %q: %s\nTry 'annotator --help'.\n", c.flag, c.value, c.want)
		if res.code != 2 || string(res.stderr) != want {
			t.Errorf("%s %s: exit %d, stderr %q; want %q", c.flag, c.value, res.code, res.stderr, want)
		}
		p := writeFile(t, dir, fmt.Sprintf("b%d.toml", i), c.toml)
		for _, args := range [][]string{{"-c", p}, {"check", "-c", p}} {
			res := runBin(t, strings.NewReader(""), args...)
			if res.code != 2 || !strings.Contains(string(res.stderr), fmt.Sprintf("%s:2: key %q: bad value", p, c.key)) ||
				!strings.Contains(string(res.stderr), c.want) {
				t.Errorf("%v (%q): exit %d, stderr %q", args, c.toml, res.code, res.stderr)
			}
		}
	}
	// Together, workers and buffers are bounded by the memory they take.
	res := runBin(t, strings.NewReader(""), "--workers", "256", "--buffer-size", "64M")
	if res.code != 2 || !strings.Contains(string(res.stderr), "needs 32.1 GiB") && !strings.Contains(string(res.stderr), "of read buffers") {
		t.Errorf("workers × buffers: exit %d, %q", res.code, res.stderr)
	}
	// Sizes take units, on the command line and in the file.
	res = runBin(t, strings.NewReader("a 898001\n"), "--buffer-size", "1M")
	if res.code != 0 || string(res.stdout) != "a 898001"+note898001+"\n" {
		t.Errorf("--buffer-size 1M: exit %d, %q, %q", res.code, res.stdout, res.stderr)
	}
	p := writeFile(t, dir, "units.toml", "[pipeline]\nbuffer_size = \"256KiB\"\nworkers = 2\n")
	res = runBin(t, nil, "check", "-c", p)
	if res.code != 0 {
		t.Errorf("buffer_size = \"256KiB\": exit %d, %q", res.code, res.stderr)
	}
}

// Settings that can only be checked against the catalog still point at
// the config file's line.
func TestCatalogSettingsNameTheirLine(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.tsv")
	cases := []struct{ doc, want string }{
		{"[catalog]\n\nprefer = [\"sdk/server\", \"nowhere\"]\n", `:3: key "catalog.prefer": catalog: preference names unknown source "nowhere"`},
		{fmt.Sprintf("[catalog]\nfiles = [%q]\n", missing), `:2: key "catalog.files": catalog file ` + missing + `: no such file or directory`},
	}
	for i, c := range cases {
		p := writeFile(t, dir, fmt.Sprintf("p%d.toml", i), c.doc)
		for _, args := range [][]string{{"-c", p}, {"check", "-c", p}} {
			res := runBin(t, strings.NewReader(""), args...)
			want := "annotator: " + p + c.want + "\n"
			if res.code != 2 || string(res.stderr) != want {
				t.Errorf("%v: exit %d, stderr %q; want %q", args, res.code, res.stderr, want)
			}
		}
	}
	// On the command line, the missing file is named the usual way.
	res := runBin(t, strings.NewReader(""), "--catalog", missing)
	if want := "annotator: " + missing + ": no such file or directory\n"; res.code != 2 || string(res.stderr) != want {
		t.Errorf("--catalog missing: exit %d, %q; want %q", res.code, res.stderr, want)
	}
}

// codes and lookup list and look up custom codes, from flags or from the
// config file's [catalog] section.
func TestCodesLookupCustomCatalog(t *testing.T) {
	dir := t.TempDir()
	cat := writeFile(t, dir, "c.tsv", "ERR_4031\tForbidden\n898001\tMine\t我的\n")
	res := runBin(t, nil, "codes", "--catalog", cat, "--catalog-replace")
	want := "898001\tMine\t我的\tcustom:" + cat + "\nERR_4031\tForbidden\t\tcustom:" + cat + "\n"
	if res.code != 0 || string(res.stdout) != want {
		t.Errorf("codes --catalog-replace: exit %d, %q, want %q (%s)", res.code, res.stdout, want, res.stderr)
	}
	cfg := writeFile(t, dir, "a.toml", fmt.Sprintf("[output]\nformat = \"json\"\n[catalog]\nfiles = [%q]\n[inputs.follow]\nstate = \"/nowhere\"\n", cat))
	res = runBin(t, nil, "lookup", "-c", cfg, "ERR_4031", "898001")
	if res.code != 0 || !strings.Contains(string(res.stdout), "ERR_4031\tForbidden\t\tcustom:"+cat+"\n") ||
		!strings.Contains(string(res.stdout), "898001\tMine\t我的\tcustom:"+cat+"\n") {
		t.Errorf("lookup -c: exit %d, %q, %q", res.code, res.stdout, res.stderr)
	}
	res = runBin(t, nil, "lookup", "--catalog", filepath.Join(dir, "nope.tsv"), "898001")
	if res.code != 2 || !strings.Contains(string(res.stderr), "nope.tsv: no such file or directory") {
		t.Errorf("lookup with a missing catalog: exit %d, %q", res.code, res.stderr)
	}
	res = runBin(t, nil, "codes", "--follow", "x")
	if res.code != 2 || !strings.Contains(string(res.stderr), "unknown flag --follow") {
		t.Errorf("codes --follow: exit %d, %q", res.code, res.stderr)
	}
}
