package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/annotator-dev/annotator/catalog"
)

// streamsRun runs the Kafka Streams app as a separate JVM and measures it
// from outside: wall time from starting the process until its output is
// all there, and the process's CPU time at that moment, read from /proc.
// All there is, with at_least_once, the output topic's end offsets adding
// up to every record; with exactly_once_v2, the app's group having
// committed every input offset and no transaction open on the output.
type streamsRun struct {
	script  string
	threads int
	dir     string // codes.tsv and the apps' state directories
}

// prepare builds the app (fetching its jars the first time) and writes
// the codes table it reads, so that only the app's own start-up is timed:
// the script compiles only when the source changed.
func (s *streamsRun) prepare(ctx context.Context, cat *catalog.Catalog) error {
	dir, err := os.MkdirTemp("", "bench-streams-")
	if err != nil {
		return fmt.Errorf("streams work directory: %w", err)
	}
	s.dir = dir
	if err := writeCodes(filepath.Join(dir, "codes.tsv"), cat); err != nil {
		return err
	}
	build := exec.CommandContext(ctx, "bash", s.script, "build")
	if outb, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the Streams app with %s: %w\n%s", s.script, err, outb)
	}
	return nil
}

func (s *streamsRun) cleanup() {
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// streamsProc is a running Streams app.
type streamsProc struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	waitErr error         // how it exited, once exited is closed
}

// start starts the app on in → out with guarantee g (at-least-once or
// exactly-once).
func (s *streamsRun) start(addrs []string, in, out, appID, g string) (*streamsProc, error) {
	cmd := exec.Command("bash", s.script, strings.Join(addrs, ","), in, out, appID, filepath.Join(s.dir, "codes.tsv"),
		strconv.Itoa(s.threads), filepath.Join(s.dir, "state-"+appID), streamsGuarantee(g))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.script, err)
	}
	p := &streamsProc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop asks the app to stop, and kills it if it takes over 30 s.
func (p *streamsProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// untilExit is ctx, cancelled too when the app exits.
func (p *streamsProc) untilExit(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-p.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (s *streamsRun) run(ctx context.Context, adm *admin, addrs []string, in, out, appID string, partitions, n int, g string) (result, error) {
	fmt.Printf("running the Kafka Streams app (%s) on %s → %s…\n", streamsGuarantee(g), in, out)
	t0 := time.Now()
	p, err := s.start(addrs, in, out, appID, g)
	if err != nil {
		return result{}, err
	}
	defer p.stop()
	wctx, cancel := p.untilExit(ctx)
	defer cancel()
	var end, first time.Time
	if g == exactlyOnce {
		// The app's consumer group is its application.id.
		end, first, err = adm.waitCommitted(wctx, appID, in, out, partitions, n, 10*time.Minute)
	} else {
		end, first, err = adm.waitProduced(wctx, out, partitions, n, 10*time.Minute)
	}
	cpu, cpuErr := procCPU(p.cmd.Process.Pid)
	if err != nil {
		select {
		case <-p.exited:
			return result{}, fmt.Errorf("the Streams app (%s) exited before producing %d records: %v", streamsGuarantee(g), n, p.waitErr)
		default:
		}
		return result{}, fmt.Errorf("the Streams app (%s): %w", streamsGuarantee(g), err)
	}
	if cpuErr != nil {
		return result{}, cpuErr
	}
	return result{n: n, elapsed: end.Sub(t0), steady: end.Sub(first), cpu: cpu}, nil
}

// writeCodes writes the catalog as `annotator codes` lists it: code,
// message, meaning and sources, tab-separated, one variant a line, the
// preferred variant first.
func writeCodes(path string, cat *catalog.Catalog) error {
	var b strings.Builder
	for _, e := range cat.Entries() {
		for _, v := range e.Variants {
			fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", e.Code, v.Message, v.Meaning, strings.Join(v.Sources, ","))
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// procCPU is the user and system CPU time of process pid so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("CPU time of process %d: unexpected /proc/%d/stat %q", pid, pid, b)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("CPU time of process %d: /proc/%d/stat: %w", pid, pid, err)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}
