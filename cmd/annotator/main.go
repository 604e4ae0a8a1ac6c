// Command annotator enriches log lines with the meaning of the JMessage
// (JPush IM) error codes they hold.
//
//	cat app.log | annotator
//	annotator [flags] FILE...
//	annotator codes [--format json]
//	annotator lookup CODE...
//
// This package is the command line: flag parsing, help, error reporting
// and the wiring of sources, the pipeline and sinks.
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
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/annotator-dev/annotator/checkpoint"
	"github.com/annotator-dev/annotator/config"
)

// Exit statuses, as grep and rg use them.
const (
	exitOK      = 0
	exitFailure = 1 // a file could not be read, the output failed, start-up failed
	exitUsage   = 2 // bad flags, arguments or settings: the caller's to fix
)

func main() {
	// SIGHUP's default action ends the process. A service manager's
	// reload (systemd's ExecReload) may send it any time after exec,
	// before the catalog's reloader listens for it; ignored until then,
	// it reloads nothing, which is right: nothing is loaded yet. The
	// reloader's Notify takes it over.
	signal.Ignore(syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, budget := withStopBudget(ctx)
	os.Exit(runStoppable(ctx, stop, budget, func() int { return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr) }, os.Stderr))
}

// A command is one subcommand (or the filter, which has no name).
type command struct {
	name     string
	synopsis string // what follows "annotator " in the usage line
	summary  string // one line, for the list of commands
	about    string // a paragraph for the command's own help
	// flags returns the command's flag set, for its help.
	flags func() *flag.FlagSet
	// helpOmits: flags the command takes from a config file but makes no
	// use of, or refuses: its help leaves them out. helpNote ends it.
	helpOmits []string
	helpNote  string
	run       func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands lists the subcommands; the filter (commands[0]) runs when the
// first argument names none of them.
func commands() []*command {
	return []*command{
		{name: "", synopsis: "[flags] [FILE...]", summary: `annotate FILEs in order ("-" or none: standard input)`,
			about: "Annotate every line holding a known error code with the code's message and meaning.\n" +
				"With --follow, follow files through rotation like tail -F; with --kafka-topic, consume Kafka.",
			flags: allFlags, run: runFilter},
		{name: "codes", synopsis: "codes [flags]", summary: "list the catalog (code, message, meaning, sources)",
			about: "List every code of the catalog, one variant a line: code, message, meaning and sources, tab-separated.",
			flags: func() *flag.FlagSet { fs, _, _ := catalogFlags("codes"); return fs }, run: runCodes},
		{name: "lookup", synopsis: "lookup [flags] CODE...", summary: "show every documented variant of codes, with sources",
			about: "Show every documented variant of each CODE, with the sources citing it. Exit 1 if a CODE is not in the catalog.",
			flags: func() *flag.FlagSet { fs, _, _ := catalogFlags("lookup"); return fs }, run: runLookup},
		{name: "check", synopsis: "check [-c FILE] [flags]", summary: "validate settings and catalogs without reading input",
			about: "Read the settings a run with the same flags would use and load its catalogs, without reading any input.\n" +
				"Exit 0 if all is well, 2 with the file and line of each problem otherwise.",
			flags: allFlags, helpOmits: checkOmits(),
			helpNote: "check takes every flag of a run, and checks them as the run would: 'annotator help all' lists them.\n",
			run:      runCheck},
		{name: "stats", synopsis: "stats [flags] [FILE...]", summary: "print only the table of the codes seen",
			about: "Read the input like a run with --summary, but print only the table of the codes seen, on standard output.",
			flags: allFlags, helpOmits: statsOmits(), run: runStats},
		{name: "version", synopsis: "version", summary: "print the version, commit and Go version",
			about: "Print the version, the commit it was built from and the Go version, from the build information.",
			run:   runVersion},
		{name: "help", synopsis: "help [COMMAND | TOPIC]", summary: "print this help, or a command's",
			about: "Print the help of annotator, or of COMMAND, or of the flags about a TOPIC: follow, kafka, or all.",
			run:   runHelp},
	}
}

func findCommand(name string) *command {
	for _, c := range commands()[1:] {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run is the whole program with its surroundings passed in, so tests can
// drive it; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if c := findCommand(args[0]); c != nil {
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
		if err := notACommand(args[0]); err != nil {
			return fail(stderr, "", err)
		}
	}
	return runFilter(ctx, args, stdin, stdout, stderr)
}

func runHelp(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		writeHelp(stdout, findCommand("help"))
	case len(args) == 0:
		writeHelp(stdout, commands()[0])
	case len(args) > 1:
		return fail(stderr, "help", usagef("help takes one COMMAND, got %d arguments", len(args)))
	default:
		if slices.Contains(helpTopics(), args[0]) {
			writeTopicHelp(stdout, args[0])
			return exitOK
		}
		c := findCommand(args[0])
		if c == nil {
			return fail(stderr, "help", unknownCommand(args[0]))
		}
		writeHelp(stdout, c)
	}
	return exitOK
}

// usageErr is a mistake in the command line: exit 2, with one line naming
// it and a pointer to the help rather than the whole list of flags.
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageErr{fmt.Sprintf(format, args...)}
}

// settingsError is a problem with settings or catalogs that names its
// own file (and line): exit 2, without the pointer to the help, which
// would not help.
type settingsError struct{ err error }

func (e *settingsError) Error() string { return e.err.Error() }
func (e *settingsError) Unwrap() error { return e.err }

// fail reports err in the one style of the command, "annotator: what:
// why", and returns the exit status: 2 for the caller's mistakes in flags,
// arguments and settings, 1 for everything else. cmd names the subcommand,
// for the pointer to its help.
func fail(stderr io.Writer, cmd string, err error) int {
	var ue *usageErr
	var es config.Errors
	var ce *config.Error
	var se *settingsError
	var inUse *checkpoint.InUseError
	switch {
	case errors.As(err, &ue):
		help := "annotator --help"
		if cmd != "" {
			help = "annotator " + cmd + " --help"
		}
		fmt.Fprintf(stderr, "annotator: %s\nTry '%s'.\n", ue.msg, help)
		return exitUsage
	case errors.As(err, &es):
		for _, e := range es {
			fmt.Fprintf(stderr, "annotator: %v\n", e)
		}
		return exitUsage
	case errors.As(err, &ce), errors.As(err, &se):
		fmt.Fprintf(stderr, "annotator: %v\n", err)
		return exitUsage
	case errors.As(err, &inUse):
		// Another instance on the same state directory is a set-up
		// mistake, not a failure of this run.
		fmt.Fprintf(stderr, "annotator: --state %s: in use by another annotator (%s)\n", inUse.Dir, inUse.Holder())
		return exitUsage
	}
	fmt.Fprintf(stderr, "annotator: %v\n", err)
	return exitFailure
}

// parseInterspersed parses flags appearing anywhere among the arguments, as
// users expect from Unix tools ("annotator app.log --format json"); "--"
// ends the flags. It returns flag.ErrHelp for -h, -help and --help, and
// usage errors in the command's own words.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(fs, err)
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

// flagError rewrites the flag package's messages, which show flags with
// one dash, into the command's style.
func flagError(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := err.Error()
	var name, value, why string
	switch {
	case cut(msg, "flag provided but not defined: -", &name):
		if best := nearestFlag(fs, strings.TrimPrefix(name, "-")); best != "" {
			return usagef("unknown flag %s; did you mean %s?", dashed(name), dashed(best))
		}
		return usagef("unknown flag %s", dashed(name))
	case cut(msg, "flag needs an argument: -", &name):
		return usagef("flag %s needs a value", dashed(name))
	case scanInvalid(msg, &value, &name, &why):
		if strings.HasPrefix(why, "parse error") {
			why = "want true or false"
		}
		return usagef("%s %q: %s", dashed(name), value, why)
	}
	return usagef("%s", msg)
}

func cut(s, prefix string, rest *string) bool {
	r, ok := strings.CutPrefix(s, prefix)
	*rest = r
	return ok
}

// scanInvalid reads `invalid value "V" for flag -N: WHY` and `invalid
// boolean value "V" for -N: WHY`.
func scanInvalid(msg string, value, name, why *string) bool {
	rest, ok := strings.CutPrefix(msg, "invalid value ")
	if !ok {
		if rest, ok = strings.CutPrefix(msg, "invalid boolean value "); !ok {
			return false
		}
	}
	v, after, ok := strings.Cut(rest, " for ")
	if !ok {
		return false
	}
	after = strings.TrimPrefix(after, "flag ")
	n, w, ok := strings.Cut(strings.TrimPrefix(after, "-"), ": ")
	if !ok {
		return false
	}
	if uv, err := strconv.Unquote(v); err == nil {
		v = uv
	}
	*value, *name, *why = v, n, w
	return true
}

// dashed writes a flag as users type it: -c, --format.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
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
