package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A lock file in the state directory that is a symbolic link is not
// written through: its target keeps its bytes, and the run is refused
// naming the link.
func TestStateLockSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("precious bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(state, "lock")); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "app.log")
	if err := os.WriteFile(log, []byte("one 898001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, strings.NewReader(""), "--follow", log, "--state", state)
	if r.code == 0 || !bytes.Contains(r.stderr, []byte("lock is a symbolic link")) {
		t.Errorf("exit %d, stderr %q; want a refusal naming the link", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(target); string(got) != "precious bytes\n" {
		t.Errorf("the link's target was written: %q", got)
	}
}

// A config file is read only up to 1 MiB: -c /dev/zero (or a log given
// by mistake) is refused with a message, not read until memory runs out.
func TestConfigFileTooLarge(t *testing.T) {
	r := runBin(t, strings.NewReader(""), "-c", "/dev/zero")
	if r.code != 2 || !bytes.Contains(r.stderr, []byte("/dev/zero: larger than 1024 KiB")) {
		t.Errorf("exit %d, stderr %q; want 2 and a message naming the file and the limit", r.code, r.stderr)
	}
	big := filepath.Join(t.TempDir(), "big.toml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# comment\n"), 200_000), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runBin(t, strings.NewReader(""), "-c", big)
	if r.code != 2 || !bytes.Contains(r.stderr, []byte("larger than 1024 KiB")) {
		t.Errorf("2 MB config: exit %d, stderr %q; want 2 and the limit named", r.code, r.stderr)
	}
}

// Two sources at once are refused, on the command line and in a config
// file, by a run and by check alike; check refuses a --state the run
// would refuse.
func TestTwoSourcesRefused(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	if err := os.WriteFile(log, []byte("one 898001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "two.toml")
	if err := os.WriteFile(conf, []byte("[[inputs.file]]\npath = \""+log+"\"\n[inputs.kafka]\ntopics = [\"in\"]\ngroup = \"g\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--follow", log, "--kafka-topic", "in", "--kafka-group", "g"},
		{"check", "--follow", log, "--kafka-topic", "in", "--kafka-group", "g"},
		{"-c", conf},
		{"check", "-c", conf},
	} {
		r := runBin(t, strings.NewReader(""), args...)
		if r.code != 2 || !bytes.Contains(r.stderr, []byte("one source at a time")) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and the reason", args, r.code, r.stderr)
		}
		if args[len(args)-1] == conf && !bytes.Contains(r.stderr, []byte(conf+":4:")) {
			t.Errorf("%v: the error does not name the config file's line: %q", args, r.stderr)
		}
	}
	for _, args := range [][]string{
		{"check", "--follow", log, "--state", filepath.Join(log, "state")},
		{"--follow", log, "--state", filepath.Join(log, "state")},
	} {
		r := runBin(t, strings.NewReader(""), args...)
		if r.code != 2 || !bytes.Contains(r.stderr, []byte("state directory")) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming the state directory", args, r.code, r.stderr)
		}
	}
}

// Flags that mean nothing in the mode chosen are refused, naming what
// they need, rather than ignored.
func TestFlagsWithoutEffectRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--start-at", "end"}, "--start-at needs --follow"},
		{[]string{"--poll-interval", "1s"}, "--poll-interval needs --follow"},
		{[]string{"--rotated", "{path}.old"}, "--rotated needs --follow"},
		{[]string{"--close-inactive", "1m"}, "--close-inactive needs --follow"},
		{[]string{"--max-open-files", "10"}, "--max-open-files needs --follow"},
		{[]string{"--top", "3"}, "--top needs --summary"},
		{[]string{"--field", "note"}, "--field needs --format merge"},
		{[]string{"--kafka-start", "last"}, "--kafka-start needs --kafka-topic"},
		{[]string{"--kafka-sasl", "plain"}, "--kafka-sasl needs --kafka-brokers"},
		{[]string{"--catalog-replace"}, "--catalog-replace needs --catalog"},
		{[]string{"--follow", ""}, "empty"},
		{[]string{"stats", "--format", "merge"}, "stats --format"},
		{[]string{"stats", "--only-matching"}, "stats --only-matching"},
		{[]string{"check", "--start-at", "end"}, "--start-at needs --follow"},
	} {
		r := runBin(t, strings.NewReader("a 898001\n"), tc.args...)
		if r.code != 2 || !bytes.Contains(r.stderr, []byte(tc.want)) || len(r.stdout) > 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, nothing out, and %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
	// What they need given, they run.
	for _, args := range [][]string{{"--top", "3", "--summary"}, {"--field", "note", "--format", "merge"}, {"stats", "--top", "3"}} {
		if r := runBin(t, strings.NewReader("a 898001\n"), args...); r.code != 0 {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

// A config file's relative paths are relative to the file, whatever the
// working directory (systemd's is /); a mistyped key gets a suggestion.
func TestConfigRelativePathsAndSuggestions(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logs", "app.log"), []byte("x 898001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "codes.tsv"), []byte("E42\tthe answer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "annotator.toml")
	if err := os.WriteFile(conf, []byte("[catalog]\nfiles = [\"codes.tsv\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "-c", conf, filepath.Join(dir, "logs", "app.log"))
	cmd.Dir = "/"
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("898001 [898001")) {
		t.Errorf("run from /: %v, %s", err, out)
	}
	cmd = exec.Command(binary, "lookup", "-c", conf, "E42")
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("the answer")) {
		t.Errorf("catalog relative to the config file: %v, %s", err, out)
	}
	typo := filepath.Join(dir, "typo.toml")
	if err := os.WriteFile(typo, []byte("[inputs.follow]\nstat = \"s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, strings.NewReader(""), "check", "-c", typo)
	if r.code != 2 || !bytes.Contains(r.stderr, []byte(`typo.toml:2: unknown key "inputs.follow.stat"; did you mean "inputs.follow.state"?`)) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// -H names each line's file, as grep does: once per line, also for a
// line longer than a read buffer that passes in pieces, and
// "(standard input)" for stdin; followed files alike.
func TestWithFilename(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	long := strings.Repeat("x", 5000)
	if err := os.WriteFile(a, []byte("one 898001\n"+long+" 898001\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("three\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, strings.NewReader("four 871310\n"), "-H", "--buffer-size", "1024", a, "-", b)
	lines := strings.Split(strings.TrimSuffix(string(r.stdout), "\n"), "\n")
	want := []string{a + ":one 898001 [898001", a + ":" + long + " 898001 [898001", a + ":two", "(standard input):four 871310 [871310", b + ":three"}
	if r.code != 0 || len(lines) != len(want) {
		t.Fatalf("exit %d, %d lines, want %d: %q", r.code, len(lines), len(want), r.stdout)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %.80q..., want it to start %.80q", i+1, lines[i], w)
		}
	}
	// Without -H (or with --no-filename after it), the bytes pass as they are.
	for _, args := range [][]string{{a}, {"-H", "--no-filename", a}} {
		if r := runBin(t, strings.NewReader(""), args...); bytes.Contains(r.stdout, []byte(a+":")) {
			t.Errorf("%q: file names in the output", args)
		}
	}
}

// Bad arguments exit 2 at once: a TLS CA file that is not there, a SASL
// user with no password (the brokers would refuse an empty one after
// the connection timeout); a one-letter typo gets no guess.
func TestKafkaSecurityArgumentsAndOneLetterTypos(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--kafka-brokers", "127.0.0.1:1", "--kafka-out-topic", "o", "--kafka-tls-ca", "/nonexistent/ca.pem"}, nil, "--kafka-tls-ca: open /nonexistent/ca.pem"},
		{[]string{"--kafka-brokers", "127.0.0.1:1", "--kafka-out-topic", "o", "--kafka-sasl", "plain", "--kafka-sasl-user", "u"}, []string{"ANNOTATOR_KAFKA_PASSWORD="}, "needs a password"},
		{[]string{"-x"}, nil, "unknown flag -x\n"},
	} {
		cmd := exec.Command(binary, tc.args...)
		cmd.Env = append(os.Environ(), tc.env...)
		cmd.Stdin = strings.NewReader("")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%q: %v, stderr %q; want status 2 and %q", tc.args, err, errb.String(), tc.want)
		}
	}
}

// A state directory set in a config file without files to follow is
// reported at its line, by a run and by check.
func TestConfigStateWithoutFollow(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "a.toml")
	if err := os.WriteFile(conf, []byte("[inputs.follow]\nstate = \"st\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-c", conf}, {"check", "-c", conf}} {
		r := runBin(t, strings.NewReader(""), args...)
		if r.code != 2 || !bytes.Contains(r.stderr, []byte(conf+`:2: key "inputs.follow.state": a state directory needs files to follow`)) {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
