// Command hupapp is an application that logs the way a daemon under
// logrotate does, for the follower's logrotate tests and soak: it appends
// numbered lines to a file at a steady rate, one write per line (every
// seventh line in two writes, so a reader sees partial lines), and reopens
// the file's path only when it receives SIGHUP; until then it keeps writing
// into the descriptor it has, whatever was renamed meanwhile.
//
//	hupapp -rate 20000 -pidfile app.pid app.log
//
// The pid file is written once the log is open. On SIGTERM or SIGINT it
// stops writing between two lines and prints the last sequence number
// written on standard output, so the caller knows exactly which lines
// exist; a summary (lines, rate reached, reopens) goes to standard error.
//
// Lines look like "seq=000000042 err 803001 user 42 did a thing\n", as
// follow/internal/logwriter writes them (with -timestamps,
// "seq=000000042 ts=1764601200000000000 err ..."): the sequence number
// counts every line written, from 1.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	rate := flag.Int("rate", 20000, "lines written per second")
	pidfile := flag.String("pidfile", "", "file to write the process id to once the log is open")
	stamp := flag.Bool("timestamps", false, "put the write time (ts=UNIX_NANOSECONDS) after the sequence number, to measure delivery lag")
	flag.Parse()
	if flag.NArg() != 1 || *rate < 1 {
		fmt.Fprintln(os.Stderr, "usage: hupapp [-rate N] [-pidfile FILE] LOGFILE")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *pidfile, *rate, *stamp); err != nil {
		fmt.Fprintln(os.Stderr, "hupapp:", err)
		os.Exit(1)
	}
}

func run(path, pidfile string, rate int, stamp bool) error {
	// Signals first: a HUP arriving right after the pid file is written
	// must reopen the log, not kill the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	w := &writer{path: path, stamp: stamp}
	if err := w.open(); err != nil {
		return err
	}
	defer w.f.Close()
	if pidfile != "" {
		if err := os.WriteFile(pidfile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
			return fmt.Errorf("write pid file: %w", err)
		}
	}

	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	reopens := 0
	for {
		select {
		case <-stop:
			took := time.Since(start)
			fmt.Println(w.seq)
			fmt.Fprintf(os.Stderr, "hupapp: %d lines in %.1fs (%.0f lines/s), reopened %d times\n",
				w.seq, took.Seconds(), float64(w.seq)/took.Seconds(), reopens)
			return nil
		case <-hup:
			if err := w.f.Close(); err != nil {
				return fmt.Errorf("close %s: %w", path, err)
			}
			if err := w.open(); err != nil {
				return err
			}
			reopens++
		case <-tick.C:
			// Catch up to the rate, a burst at most 10 ms long so that
			// signals are seen promptly.
			due := int(time.Since(start).Seconds() * float64(rate))
			for n := 0; w.seq < due && n < rate/100+1; n++ {
				if err := w.line(); err != nil {
					return err
				}
			}
		}
	}
}

type writer struct {
	path  string
	stamp bool
	f     *os.File
	seq   int
	buf   []byte
}

func (w *writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	w.f = f
	return nil
}

func (w *writer) line() error {
	w.seq++
	w.buf = fmt.Appendf(w.buf[:0], "seq=%09d ", w.seq)
	if w.stamp {
		w.buf = fmt.Appendf(w.buf, "ts=%d ", time.Now().UnixNano())
	}
	w.buf = fmt.Appendf(w.buf, "err 803001 user %d did a thing\n", w.seq%97)
	parts := [][]byte{w.buf}
	if w.seq%7 == 0 {
		half := len(w.buf) / 2
		parts = [][]byte{w.buf[:half], w.buf[half:]}
	}
	for _, p := range parts {
		if _, err := w.f.Write(p); err != nil {
			return fmt.Errorf("write %s: %w", w.path, err)
		}
	}
	return nil
}
