package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lrStyles are logrotate's directives for each -logrotate style, besides
// "rotate N"; hup styles send the application SIGHUP a second after the
// rotation, as a daemon's postrotate script does.
var lrStyles = map[string]struct {
	directives []string
	hup        bool
}{
	"create":        {[]string{"create"}, true},
	"delaycompress": {[]string{"create", "compress", "delaycompress"}, true},
	"copytruncate":  {[]string{"copytruncate"}, false},
	// Seconds in the name, so that rotations a second or more apart
	// never collide.
	"dateext": {[]string{"create", "dateext", "dateformat -%Y%m%d-%H%M%S"}, true},
}

func lrStyleNames() []string {
	var names []string
	for n := range lrStyles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type lrOptions struct {
	style, bin, dir, path string
	extra                 []string
	duration, rotateEvery time.Duration
	restartEvery          time.Duration
	rate, keep            int
	glob                  bool
}

func soakLogrotate(o lrOptions, st *stats) {
	style, ok := lrStyles[o.style]
	if !ok {
		log.Fatalf("-logrotate %q: want one of %s", o.style, strings.Join(lrStyleNames(), ", "))
	}
	rotateBin, err := exec.LookPath("logrotate")
	if err != nil {
		if rotateBin, err = exec.LookPath("/usr/sbin/logrotate"); err != nil {
			log.Fatal("-logrotate: logrotate is not installed (apt-get install logrotate)")
		}
	}
	appBin := filepath.Join(o.dir, "hupapp")
	build := exec.Command("go", "build", "-o", appBin, "github.com/annotator-dev/annotator/follow/internal/hupapp")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		log.Fatalf("build hupapp: %v", err)
	}
	logDir := filepath.Join(o.dir, "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(logDir, filepath.Base(o.path))
	pidfile := filepath.Join(o.dir, "app.pid")
	conf := filepath.Join(o.dir, "logrotate.conf")
	var c strings.Builder
	fmt.Fprintf(&c, "%s {\n    rotate %d\n    missingok\n", path, o.keep)
	for _, d := range style.directives {
		fmt.Fprintf(&c, "    %s\n", d)
	}
	if style.hup {
		fmt.Fprintf(&c, "    postrotate\n        sleep 1; kill -HUP $(cat %s)\n    endscript\n", pidfile)
	}
	c.WriteString("}\n")
	if err := os.WriteFile(conf, []byte(c.String()), 0o644); err != nil {
		log.Fatal(err)
	}
	rotate := func() {
		out, err := exec.Command(rotateBin, "-f", "-s", filepath.Join(o.dir, "logrotate.state"), conf).CombinedOutput()
		if err != nil || len(out) > 0 {
			log.Fatalf("logrotate: %v\n%s", err, out)
		}
	}

	app := exec.Command(appBin, "-rate", strconv.Itoa(o.rate), "-timestamps", "-pidfile", pidfile, path)
	var appOut strings.Builder
	app.Stdout = &appOut
	app.Stderr = os.Stderr
	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
	// The follower starts on a file with its first line in it.
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}

	args := []string{"--follow", followed(path, o.glob), "--state", filepath.Join(o.dir, "state"), "--format", "json", "--poll-interval", "50ms"}
	args = append(args, o.extra...)
	var cpu time.Duration
	run := start(o.bin, args, st)
	var load loadSampler
	begin := time.Now()
	nextRotate := begin.Add(o.rotateEvery)
	nextRestart := begin.Add(o.restartEvery)
	rotations, restarts, kills := 0, 0, 0
	tick := time.NewTicker(10 * time.Millisecond)
	for now := range tick.C {
		if now.Sub(begin) >= o.duration {
			break
		}
		load.sample(now)
		if now.After(nextRotate) {
			rotate() // with a HUP, a second long: the application writes on
			rotations++
			nextRotate = time.Now().Add(o.rotateEvery)
		}
		if o.restartEvery > 0 && now.After(nextRestart) {
			restarts++
			kill := restarts%3 == 0
			if kill {
				kills++
			}
			cpu += run.stop(kill)
			st.restarted(kill)
			run = start(o.bin, args, st)
			nextRestart = time.Now().Add(o.restartEvery)
		}
	}
	tick.Stop()
	if err := app.Process.Signal(syscall.SIGTERM); err != nil {
		log.Fatal(err)
	}
	if err := app.Wait(); err != nil {
		log.Fatalf("hupapp: %v", err)
	}
	wrote := time.Since(begin)
	written, err := strconv.Atoi(strings.TrimSpace(appOut.String()))
	if err != nil {
		log.Fatalf("hupapp printed %q, want its last line number", appOut.String())
	}
	onDisk, err := linesOnDisk(logDir)
	if err != nil {
		log.Fatal(err)
	}
	// Wait for the follower to deliver what is on disk, or to stop making
	// progress: lines it lost never come.
	for last, since := -1, time.Now(); time.Since(since) < 10*time.Second; {
		have := st.distinct()
		if have >= written {
			break
		}
		if have != last {
			last, since = have, time.Now()
		}
		st.waitChange(time.Second)
		load.sample(time.Now())
	}
	caughtUp := time.Since(begin)
	cpu += run.stop(false)

	lost, _, dup := st.result(written)
	byFollower := 0
	for seq := range onDisk {
		if !st.delivered(seq) {
			byFollower++
		}
	}
	fmt.Printf("soak: logrotate %s, %s writing, %d lines (%.0f lines/s), %d rotations (rotate %d), %d restarts (%d SIGKILL)\n",
		o.style, wrote.Round(time.Second), written, float64(written)/wrote.Seconds(), rotations, o.keep, restarts, kills)
	fmt.Printf("lines lost: %d\n", lost)
	if lost > 0 {
		fmt.Printf("  of which on no file at the end (lost to the rotator: copytruncate's window, or deleted by rotate %d): %d\n", o.keep, lost-byFollower)
		fmt.Printf("  of which still on a file, never delivered (lost by the follower): %d\n", byFollower)
	}
	st.printRest(dup, cpu, caughtUp, &load)
	if byFollower > 0 {
		os.Exit(1)
	}
}

// delivered tells whether line seq was delivered.
func (s *stats) delivered(seq int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return seq < len(s.counts) && s.counts[seq] > 0
}

// linesOnDisk returns the line numbers the files in dir hold, gzipped
// ones read back.
func linesOnDisk(dir string) (map[int]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	seqs := map[int]bool{}
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		if err := scanSeqs(name, seqs); err != nil {
			return nil, err
		}
	}
	return seqs, nil
}

func scanSeqs(name string, seqs map[int]bool) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("gunzip %s: %w", name, err)
		}
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if len(line) >= 13 && strings.HasPrefix(line, "seq=") {
			if n, err := strconv.Atoi(line[4:13]); err == nil {
				seqs[n] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}
