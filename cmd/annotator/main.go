// Command annotator enriches log lines with the meaning of the JMessage
// (JPush IM) error codes they hold.
//
//	cat app.log | annotator
//	annotator [flags] FILE...
//	annotator codes [--format json]
//	annotator lookup CODE...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// exitUsage is the status for bad flags or arguments.
const exitUsage = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program with its surroundings passed in, so tests can
// drive it; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "codes":
			return runCodes(args[1:], stdout, stderr)
		case "lookup":
			return runLookup(args[1:], stdout, stderr)
		case "check":
			return runCheck(args[1:], stdout, stderr)
		case "stats":
			return runStats(ctx, args[1:], stdin, stdout, stderr)
		case "help":
			fmt.Fprint(stdout, usageText)
			return 0
		}
	}
	return runFilter(ctx, args, stdin, stdout, stderr)
}

const usageText = `Usage:
  annotator [flags] [FILE...]     annotate FILEs (or standard input; "-" is standard input)
  annotator codes [--format json] list the catalog
  annotator lookup CODE...        show every documented variant of codes
  annotator check -c FILE         validate a config file and its catalogs, then exit
  annotator stats [flags] FILE... print only the table of codes seen (see --summary)

Flags:
`

// parseInterspersed parses flags appearing anywhere among the arguments, as
// users expect from Unix tools ("annotator app.log --format json"); "--"
// ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, nil
		}
		// Parse stops at the first non-flag, or just after a "--".
		if used := len(args) - len(left); used > 0 && args[used-1] == "--" {
			return append(rest, left...), nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func usageError(stderr io.Writer, fs *flag.FlagSet, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "annotator: %v\n", err)
	fmt.Fprint(stderr, usageText)
	fs.SetOutput(stderr)
	fs.PrintDefaults()
	return exitUsage
}
