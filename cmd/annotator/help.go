package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/annotator-dev/annotator/internal/flagvalue"
	"github.com/annotator-dev/annotator/internal/suggest"
)

// flagGroups orders the help's flags by what they are about. A flag in no
// group is listed under "Other flags" (and a test asks for a group).
//
// A group with a topic is about one way of running (following files, the
// Kafka stage): the main help shows its first flag and points at
// "annotator help TOPIC", which shows it whole, as does --help-all.
var flagGroups = []struct {
	title string
	names []string
	topic string
}{
	{"Output", []string{"format", "field", "only-matching", "H", "no-filename", "summary", "top", "timeline", "bucket", "timezone", "ascii"}, ""},
	{"Matching", []string{"engine", "workers", "buffer-size"}, ""},
	{"Catalog", []string{"catalog", "catalog-replace", "catalog-watch", "catalog-settle", "prefer"}, ""},
	{"Follow (sidecar)", []string{"follow", "state", "start-at", "poll-interval", "checkpoint-interval", "rotated", "poll-only", "close-inactive", "max-open-files"}, "follow"},
	{"Kafka", []string{"kafka-brokers", "kafka-topic", "kafka-group", "kafka-start", "kafka-out-topic",
		"kafka-guarantee", "kafka-transactional-id", "kafka-dlq-topic", "kafka-timestamp", "kafka-compression", "kafka-session-timeout", "kafka-commit-interval",
		"kafka-drain-timeout", "kafka-max-in-flight", "kafka-connect-timeout", "kafka-tls", "kafka-tls-ca", "kafka-tls-cert",
		"kafka-tls-key", "kafka-tls-server-name", "kafka-sasl", "kafka-sasl-user", "kafka-sasl-password"}, "kafka"},
	{"Operations", []string{"c", "metrics-addr", "log-level", "log-format", "drain-timeout", "version"}, ""},
}

// removedFlags are kept only so that an older config file's keys still
// load (with a warning); help does not show them, and the command line
// refuses them.
func removedFlags() []string { return []string{"kafka-batch-timeout"} }

// aliases are flags shown with another: -c with --config.
var aliases = map[string]string{"config": "c", "with-filename": "H"}

// argNames name the value of flags whose usage text does not.
var argNames = map[string]string{
	"format": "FORMAT", "engine": "ENGINE", "prefer": "SOURCES", "follow": "PATH", "state": "DIR",
	"start-at": "WHERE", "rotated": "PATTERNS", "log-level": "LEVEL", "log-format": "FORMAT",
	"kafka-brokers": "HOST:PORT", "kafka-topic": "TOPIC", "kafka-group": "GROUP", "kafka-start": "WHERE",
	"kafka-out-topic": "TOPIC", "kafka-dlq-topic": "TOPIC", "kafka-compression": "CODEC", "kafka-timestamp": "WHICH", "kafka-batch-timeout": "DURATION", "drain-timeout": "DURATION", "catalog-settle": "DURATION", "kafka-tls-ca": "FILE", "kafka-tls-cert": "FILE",
	"kafka-tls-key": "FILE", "kafka-tls-server-name": "NAME", "kafka-sasl": "MECHANISM",
	"kafka-sasl-user": "USER", "kafka-sasl-password": "PASSWORD", "kafka-max-in-flight": "SIZE",
	"kafka-guarantee": "GUARANTEE", "kafka-transactional-id": "ID",
}

// writeHelp prints c's usage: the usage line, what it does and its flags
// by group.
func writeHelp(w io.Writer, c *command) {
	var b strings.Builder
	if c.name == "" {
		b.WriteString("Usage:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, sc := range commands() {
			fmt.Fprintf(tw, "  annotator %s\t%s\n", sc.synopsis, sc.summary)
		}
		tw.Flush()
		b.WriteString("\n" + c.about + "\n\n")
		b.WriteString("Flags may come before or after FILEs; \"--\" ends them. Exit status: 0 all read and written,\n" +
			"1 a file could not be read or the output failed, 2 bad flags, arguments or settings.\n" +
			"'annotator help COMMAND' shows a command's help.\n")
	} else {
		fmt.Fprintf(&b, "Usage: annotator %s\n\n%s\n", c.synopsis, c.about)
	}
	if c.flags != nil {
		writeFlags(&b, without(c.flags(), c.helpOmits), "")
	}
	if c.helpNote != "" {
		b.WriteString("\n" + c.helpNote)
	}
	io.WriteString(w, b.String())
}

// without is fs less the flags named in omit, with their defaults as
// registered (not as parsed so far: help may come after other flags).
func without(fs *flag.FlagSet, omit []string) *flag.FlagSet {
	if len(omit) == 0 {
		return fs
	}
	out := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(omit, f.Name) {
			out.Var(f.Value, f.Name, f.Usage)
			out.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	return out
}

// helpTopics are the topics "annotator help TOPIC" takes besides the
// commands: a flag group's topic, or "all".
func helpTopics() []string {
	var t []string
	for _, g := range flagGroups {
		if g.topic != "" {
			t = append(t, g.topic)
		}
	}
	return append(t, "all")
}

// writeTopicHelp shows the flags of one topic, or all of them.
func writeTopicHelp(w io.Writer, topic string) {
	var b strings.Builder
	if topic == "all" {
		b.WriteString("Usage:\n  annotator [flags] [FILE...]\n\nEvery flag of a run:\n")
	} else {
		fmt.Fprintf(&b, "Usage:\n  annotator [flags] [FILE...]\n\nThe flags about %s:\n", topic)
	}
	writeFlags(&b, allFlags(), topic)
	io.WriteString(w, b.String())
}

// writeFlags lists fs's flags by group. topic "" shows the groups with a
// topic by their first flag and a pointer; "all" shows every group whole;
// another topic shows that group alone.
func writeFlags(b *strings.Builder, fs *flag.FlagSet, topic string) {
	grouped := map[string]bool{"help": true}
	for _, n := range removedFlags() {
		grouped[n] = true
	}
	for alias := range aliases {
		grouped[alias] = true
	}
	section := func(title string, names []string) {
		var lines []*flag.Flag
		for _, n := range names {
			if f := fs.Lookup(n); f != nil {
				lines = append(lines, f)
			}
		}
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(b, "\n%s:\n", title)
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		for _, f := range lines {
			fmt.Fprintf(tw, "  %s\t%s\n", flagSynopsis(f), flagUsage(f))
		}
		tw.Flush()
	}
	for _, g := range flagGroups {
		for _, n := range g.names {
			grouped[n] = true
		}
		switch {
		case topic == "all":
			section(g.title, g.names)
		case topic != "":
			if g.topic == topic {
				section(g.title, g.names)
			}
		case g.topic == "":
			section(g.title, g.names)
		default:
			section(g.title, g.names[:1])
			if more := len(g.names) - 1; more > 0 && fs.Lookup(g.names[0]) != nil {
				fmt.Fprintf(b, "  (%d more: annotator help %s)\n", more, g.topic)
			}
		}
	}
	if topic != "" && topic != "all" {
		return
	}
	var other []string
	fs.VisitAll(func(f *flag.Flag) {
		if !grouped[f.Name] {
			other = append(other, f.Name)
		}
	})
	section("Other flags", other)
	b.WriteString("\n  -h, --help  print this help (--help-all: every flag)\n")
}

// flagSynopsis is "--name ARG", with the aliases: "-c, --config FILE".
func flagSynopsis(f *flag.Flag) string {
	arg, _ := flag.UnquoteUsage(f)
	_, isDuration := f.Value.(*flagvalue.Duration)
	switch {
	case arg == "":
	case strings.Contains(f.Usage, "`"):
		arg = " " + strings.ToUpper(arg)
	case argNames[f.Name] != "":
		arg = " " + argNames[f.Name]
	case isDuration:
		arg = " DURATION"
	default:
		arg = " " + strings.ToUpper(arg)
	}
	name := dashed(f.Name)
	for long, short := range aliases {
		if short == f.Name {
			name += ", " + dashed(long)
		}
	}
	return name + arg
}

func flagUsage(f *flag.Flag) string {
	_, usage := flag.UnquoteUsage(f)
	switch f.DefValue {
	case "", "0", "false", "0s", "[]":
	default:
		if !strings.Contains(usage, "(default") {
			usage += " (default " + f.DefValue + ")"
		}
	}
	return usage
}

// notACommand tells a first argument that is a mistyped subcommand, or a
// code given where a file belongs, from a file name: only a word that is
// not a file gets a suggestion; anything else is left to be read as a file.
func notACommand(word string) error {
	if word == "" || word == "-" || strings.HasPrefix(word, "-") {
		return nil
	}
	if _, err := os.Lstat(word); err == nil || !os.IsNotExist(err) {
		return nil
	}
	if isDigits(word) {
		return usagef("%s: no such file; to look the code up: annotator lookup %s", word, word)
	}
	if best := nearestCommand(word); best != "" {
		return usagef("unknown command %q; did you mean %q?", word, best)
	}
	return nil
}

func unknownCommand(word string) error {
	if best := nearestCommand(word); best != "" {
		return usagef("unknown command %q; did you mean %q?", word, best)
	}
	return usagef("unknown command %q", word)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// nearestCommand returns the subcommand a lower-case word is most likely
// a typo of, or "".
func nearestCommand(word string) string {
	for i := 0; i < len(word); i++ {
		if c := word[i]; (c < 'a' || c > 'z') && c != '-' {
			return ""
		}
	}
	var names []string
	for _, c := range commands()[1:] {
		names = append(names, c.name)
	}
	return suggest.Nearest(word, names)
}

// nearestFlag returns the flag of fs a name is most likely a typo of
// ("folow", "kafka-broker"), or "".
func nearestFlag(fs *flag.FlagSet, name string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return suggest.Nearest(name, names)
}
