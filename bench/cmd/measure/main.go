// Command measure runs a command several times and reports its best wall
// time, the throughput that gives over a known number of input bytes, and
// its peak resident set size (the kernel's ru_maxrss for the child, what
// /usr/bin/time reports), as one tab-separated line:
//
//	name  seconds  GB/s  peak-RSS-MiB
//
// Standard input and output of the command are files named by -in and
// -out, so the command line itself needs no shell.
//
//	measure -name grep -bytes 1073741824 -n 3 -- grep -c -w -F -f codes.txt corpus.log
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("measure", flag.ContinueOnError)
	name := fs.String("name", "", "label of the result line")
	n := fs.Int("n", 3, "runs; the best wall time and the least CPU time are reported, and the largest peak RSS")
	bytes := fs.Int64("bytes", 0, "input bytes, for the throughput column")
	in := fs.String("in", "", "file for the command's standard input (default: none)")
	out := fs.String("out", os.DevNull, "file for the command's standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmdline := fs.Args()
	if len(cmdline) == 0 {
		return errors.New("no command given")
	}
	if *name == "" {
		*name = cmdline[0]
	}
	best, bestCPU := time.Duration(-1), time.Duration(-1)
	var peak int64
	for i := 0; i < *n; i++ {
		d, cpu, rss, err := once(cmdline, *in, *out)
		if err != nil {
			return fmt.Errorf("%s: %w", *name, err)
		}
		if best < 0 || d < best {
			best = d
		}
		if bestCPU < 0 || cpu < bestCPU {
			bestCPU = cpu
		}
		peak = max(peak, rss)
	}
	gbps := 0.0
	if *bytes > 0 {
		gbps = float64(*bytes) / best.Seconds() / 1e9
	}
	_, err := fmt.Fprintf(stdout, "%s\t%.3f\t%.3f\t%.1f\t%.3f\n", *name, best.Seconds(), gbps, float64(peak)/1024, bestCPU.Seconds())
	return err
}

// once runs the command and returns its wall time, its CPU time (user
// and system: on a machine shared with other work, the steadier figure)
// and its peak RSS in KiB.
func once(cmdline []string, in, out string) (time.Duration, time.Duration, int64, error) {
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	cmd.Stderr = os.Stderr
	if in != "" {
		f, err := os.Open(in)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("open %s: %w", in, err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	o, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("open %s: %w", out, err)
	}
	defer o.Close()
	cmd.Stdout = o
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	var exit *exec.ExitError
	// grep -c exits 1 when it counts nothing: a result, not a failure.
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return 0, 0, 0, fmt.Errorf("run %v: %w", cmdline, err)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB on Linux
	}
	return d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rss, nil
}
