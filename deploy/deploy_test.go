// Package deploy holds what the three deployments need: the container
// image (Dockerfile), the Kubernetes examples (kubernetes/, a module of
// its own with its own test) and the systemd unit (systemd/). This test
// checks the Dockerfile and the unit against the built binary.
package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"go/version"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// binary is annotator built the documented way, once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "annotator-deploy")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "annotator")
	build := exec.Command("go", "build", "-o", binary, "./cmd/annotator")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building annotator:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	return out
}

// The image is built in stages; the last holds only the static binary on
// a base without a shell, and runs as a numeric non-root user. The build
// stage's Go is new enough for go.mod, and its build command, run here,
// gives a static binary that works.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, "Dockerfile")
	var froms []instruction
	var user, entry, buildCmd string
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in)
			user = "" // USER applies to its stage
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "RUN":
			if strings.Contains(in.args, "go build") {
				buildCmd = in.args
			}
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got %d FROM lines", len(froms))
	}
	final := strings.Fields(froms[len(froms)-1].args)[0]
	if final != "scratch" && !strings.HasPrefix(final, "gcr.io/distroless/static") {
		t.Errorf("final stage is based on %s, want scratch or distroless/static", final)
	}
	if !regexp.MustCompile(`^[1-9][0-9]*(:[0-9]+)?$`).MatchString(user) {
		t.Errorf("final stage runs as %q, want a numeric non-root user", user)
	}
	if !strings.Contains(entry, "/usr/local/bin/annotator") {
		t.Errorf("ENTRYPOINT %s does not run the binary", entry)
	}

	// The Go of the build stage is at least go.mod's.
	m := regexp.MustCompile(`^golang:(\d+\.\d+(\.\d+)?)`).FindStringSubmatch(froms[0].args)
	if m == nil {
		t.Fatalf("the build stage %q is not a golang image", froms[0].args)
	}
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if goLine == nil {
		t.Fatal("no go line in go.mod")
	}
	if version.Compare(version.Lang("go"+m[1]), version.Lang("go"+string(goLine[1]))) < 0 {
		t.Errorf("golang:%s is older than go.mod's go %s", m[1], goLine[1])
	}

	// The build stage's command, run from the repository root.
	if !strings.Contains(buildCmd, "CGO_ENABLED=0") {
		t.Errorf("the build command %q does not turn cgo off", buildCmd)
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(buildCmd, "/out/", out+"/"))
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", buildCmd, err, b)
	}
	bin := filepath.Join(out, "annotator")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the image's binary names an ELF interpreter: it needs a C library the base lacks")
		}
	}
	res, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(res), "annotator ") {
		t.Errorf("the image's binary: %v, %q", err, res)
	}
}

// The unit passes systemd's own checks, its exposure score is low, and its
// command lines and settings are accepted by the binary.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("systemd/annotator.service")
	if err != nil {
		t.Fatal(err)
	}
	// The binary's settings check: ExecStartPre's and ExecStart's.
	cfg, err := filepath.Abs("systemd/sidecar.toml")
	if err != nil {
		t.Fatal(err)
	}
	var execs int
	for _, l := range strings.Split(string(unit), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok || (k != "ExecStart" && k != "ExecStartPre") {
			continue
		}
		execs++
		args := strings.Fields(v)
		if args[0] != "/usr/local/bin/annotator" {
			t.Errorf("%s runs %s", k, args[0])
		}
		args = args[1:]
		if len(args) == 0 || args[0] != "check" {
			args = append([]string{"check"}, args...)
		}
		for i, a := range args {
			if a == "/etc/annotator/annotator.toml" {
				args[i] = cfg
			}
		}
		if out, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
			t.Errorf("%s: annotator %s: %v\n%s", k, strings.Join(args, " "), err, out)
		}
	}
	if execs != 2 {
		t.Errorf("want ExecStartPre and ExecStart, found %d", execs)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit's syntax and hardening are not checked")
	}
	dir := t.TempDir()
	local := filepath.Join(dir, "annotator.service")
	// verify wants the binary it names to exist.
	if err := os.WriteFile(local, bytes.ReplaceAll(unit, []byte("/usr/local/bin/annotator"), []byte(binary)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(analyze, "verify", local)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}
	// 0 is fully locked down, 10 not at all; systemd calls below 2 "OK".
	out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", local).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.0 (%v):\n%s", err, out)
	}
}

// The output's rotation config parses, and rotating with it keeps every
// line in the copy or the file, the file staying the one the unit
// appends to (copytruncate).
func TestSystemdOutputRotation(t *testing.T) {
	bin, err := exec.LookPath("logrotate")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/logrotate"); err != nil {
			t.Skip("logrotate is not installed (.ci/run installs it): the output's rotation config is not checked")
		}
	}
	conf, err := os.ReadFile("systemd/annotator.logrotate")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "annotated.log")
	local := bytes.Replace(conf, []byte("/var/log/annotator/annotated.log"), []byte(out), 1)
	if bytes.Equal(local, conf) {
		t.Fatal("the config does not name /var/log/annotator/annotated.log")
	}
	cfg := filepath.Join(dir, "annotator.logrotate")
	if err := os.WriteFile(cfg, local, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644) // as systemd's append:
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, "before the rotation 898001")
	if b, err := exec.Command(bin, "-f", "-s", filepath.Join(dir, "state"), cfg).CombinedOutput(); err != nil {
		t.Fatalf("logrotate: %v\n%s", err, b)
	}
	fmt.Fprintln(f, "after the rotation 898001")
	rotated, _ := os.ReadFile(out + ".1")
	current, _ := os.ReadFile(out)
	if string(rotated) != "before the rotation 898001\n" || string(current) != "after the rotation 898001\n" {
		t.Errorf("rotated %q, current %q", rotated, current)
	}
}
