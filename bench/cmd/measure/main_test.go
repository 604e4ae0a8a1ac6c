package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMeasuresARealProcess runs the test binary itself as the measured
// command (in a mode that copies stdin to stdout) and checks the report
// and the redirections.
func TestMeasuresARealProcess(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	out := filepath.Join(dir, "out")
	data := bytes.Repeat([]byte("line 898001\n"), 1000)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var report bytes.Buffer
	args := []string{"-name", "copy", "-n", "2", "-bytes", strconv.Itoa(len(data)), "-in", in, "-out", out,
		"--", self, "-test.run=TestHelperCopy"}
	t.Setenv("MEASURE_HELPER", "1")
	if err := run(args, &report); err != nil {
		t.Fatal(err)
	}
	f := strings.Split(strings.TrimSpace(report.String()), "\t")
	if len(f) != 5 || f[0] != "copy" {
		t.Fatalf("report %q", report.String())
	}
	for _, v := range f[1:4] {
		if x, err := strconv.ParseFloat(v, 64); err != nil || x <= 0 {
			t.Errorf("report field %q is not a positive number", v)
		}
	}
	// CPU time: a process that starts and copies a few KiB may round to 0.
	if x, err := strconv.ParseFloat(f[4], 64); err != nil || x < 0 {
		t.Errorf("CPU time %q is not a number of seconds", f[4])
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, data) {
		t.Errorf("the command's output file does not hold its input")
	}
}

func TestFailingCommandIsAnError(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEASURE_HELPER", "3")
	err = run([]string{"-n", "1", "--", self, "-test.run=TestHelperCopy"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v, want the exit status", err)
	}
}

// TestHelperCopy is the measured command when MEASURE_HELPER is set: it
// copies stdin to stdout (1) or exits with that status.
func TestHelperCopy(t *testing.T) {
	switch os.Getenv("MEASURE_HELPER") {
	case "":
		return
	case "1":
		buf, err := readAll(os.Stdin)
		if err != nil {
			os.Exit(2)
		}
		os.Stdout.Write(buf)
		os.Exit(0)
	case "3":
		os.Exit(3)
	}
}

func readAll(f *os.File) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(f)
	return b.Bytes(), err
}
