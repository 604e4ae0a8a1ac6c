package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hupRun starts the filter on a pipe, calls ready with its pid to wait
// for the moment to send SIGHUP, sends it, and checks the process then
// annotates its input and exits 0, as if no SIGHUP had come.
func hupRun(t *testing.T, env []string, ready func(pid int)) {
	t.Helper()
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready(cmd.Process.Pid)
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, "request failed 898001")
	stdin.Close()
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "898001 ") {
		t.Fatalf("after SIGHUP: %v, output %q, stderr %q", err, out.String(), errb.String())
	}
}

// SIGHUP as soon as main has begun (a service manager's reload racing
// the start) neither ends the process nor changes what it writes: the
// first thing main does is to ignore it until the catalog's reloader
// listens. The moment is seen in /proc (SIGHUP among the ignored
// signals), or, should the reloader take SIGHUP over before a look
// catches it, by READY=1 on $NOTIFY_SOCKET. (Before main, while packages
// initialise, about 4 ms, the runtime's default still ends the process;
// the systemd unit waits for READY=1.)
func TestSIGHUPAsSoonAsMainRuns(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 64)
	for i := 0; i < 10; i++ {
		hupRun(t, []string{"NOTIFY_SOCKET=" + sock}, func(pid int) {
			for deadline := time.Now().Add(5 * time.Second); !hupIgnored(pid); {
				conn.SetReadDeadline(time.Now().Add(50 * time.Microsecond))
				if _, err := conn.Read(buf); err == nil {
					return // ready: the reloader has SIGHUP
				}
				if time.Now().After(deadline) {
					t.Fatal("SIGHUP never showed as ignored, and no READY=1 came")
				}
			}
		})
		// The run's READY=1, if not read above, is not the next run's.
		conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		conn.Read(buf)
	}
}

// hupIgnored reports whether process pid ignores SIGHUP (bit 0 of SigIgn
// in /proc/PID/status).
func hupIgnored(pid int) bool {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&1 != 0
		}
	}
	return false
}

// Run by systemd as Type=notify, the process says READY=1 on
// $NOTIFY_SOCKET once its signals are handled; a SIGHUP from then on
// (ExecReload) reloads and ends nothing.
func TestSystemdNotifyReady(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < 3; i++ {
		hupRun(t, []string{"NOTIFY_SOCKET=" + sock}, func(int) {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 256)
			n, err := conn.Read(buf)
			if err != nil || string(buf[:n]) != "READY=1" {
				t.Fatalf("notification %q, %v; want READY=1", buf[:n], err)
			}
		})
	}
}

// SIGTERM while the output takes no data (a pipe its reader stopped
// reading, a hung shipper): the process ends within --drain-timeout and
// the grace, with status 1 and a message saying why, instead of hanging
// in a write for ever.
func TestSIGTERMWithStalledOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "big.log")
	line := bytes.Repeat([]byte("x"), 100)
	var data bytes.Buffer
	for i := 0; data.Len() < 16<<20; i++ {
		fmt.Fprintf(&data, "%d 898001 %s\n", i, line)
	}
	if err := os.WriteFile(in, data.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe() // read by nobody
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(binary, "--drain-timeout", "500ms", in)
	cmd.Stdout = w
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	time.Sleep(300 * time.Millisecond) // the pipe fills: its 64 KiB take a moment
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	took := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(errb.String(), "stopping: not done") {
		t.Errorf("exit %v, stderr %q; want status 1 and the reason", err, errb.String())
	}
	// --drain-timeout and the grace of 2 s, and slack for a loaded machine.
	if took > 5*time.Second {
		t.Errorf("stopped %v after SIGTERM, want within about 2.5 s", took)
	}
}

// SIGTERM while the Kafka stage waits for its brokers at start-up is a
// stop like any other: exit 0, not "brokers unreachable" with status 1.
func TestSIGTERMWhileWaitingForBrokers(t *testing.T) {
	for _, args := range [][]string{
		{"--kafka-brokers", "127.0.0.1:1", "--kafka-topic", "in", "--kafka-group", "g"},
		{"--kafka-brokers", "127.0.0.1:1", "--kafka-out-topic", "out"},
	} {
		cmd := exec.Command(binary, args...)
		cmd.Stdin = strings.NewReader("")
		var errb syncBuffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errb.String(), "brokers not answering"); {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("%v: never waited for the brokers: %s", args, errb.String())
			}
			time.Sleep(10 * time.Millisecond) // polling the log
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("%v: SIGTERM while waiting for brokers: %v; stderr %s", args, err, errb.String())
		}
	}
}
