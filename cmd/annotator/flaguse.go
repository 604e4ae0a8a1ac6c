package main

import (
	"flag"
	"sort"
)

// Flags that mean nothing in the mode chosen are refused rather than
// ignored: `--start-at end` without --follow, `--field` without merge
// output, `--catalog-replace` without a catalog (an empty catalog that
// annotates nothing). Only flags given on the command line are checked:
// a config file may well set defaults for parts it does not use.

// flagNeeds lists, per flag, what it needs and whether the run has it.
type flagNeed struct {
	needs string
	has   func(v func(string) string, cmd string) bool
}

var followFlags = []string{"start-at", "poll-interval", "rotated", "close-inactive", "max-open-files", "checkpoint-interval", "poll-only"}

var kafkaConnFlags = []string{"kafka-tls", "kafka-tls-ca", "kafka-tls-cert", "kafka-tls-key", "kafka-tls-server-name",
	"kafka-sasl", "kafka-sasl-user", "kafka-sasl-password", "kafka-connect-timeout"}

func flagNeeds() map[string]flagNeed {
	has := func(name string) func(v func(string) string, _ string) bool {
		return func(v func(string) string, _ string) bool { return v(name) != "" }
	}
	m := map[string]flagNeed{
		"top": {"--summary (or annotator stats)", func(v func(string) string, cmd string) bool {
			return v("summary") == "true" || cmd == "stats"
		}},
		"field":           {"--format merge", func(v func(string) string, _ string) bool { return v("format") == "merge" }},
		"kafka-start":     {"--kafka-topic", has("kafka-topic")},
		"catalog-replace": {"--catalog (alone it leaves an empty catalog: nothing would be annotated)", has("catalog")},
	}
	for f, n := range timelineNeeds() {
		m[f] = n
	}
	for _, f := range followFlags {
		m[f] = flagNeed{"--follow (it is about followed files)", has("follow")}
	}
	for _, f := range kafkaConnFlags {
		m[f] = flagNeed{"--kafka-brokers", has("kafka-brokers")}
	}
	return m
}

// checkFlagUse refuses the flags given on the command line (given) that
// the run would not use; cmd is "" for the filter, or "stats".
func checkFlagUse(fs *flag.FlagSet, given map[string]bool, cmd string) error {
	v := func(name string) string {
		if f := fs.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	needs := flagNeeds()
	var names []string
	for name := range given {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n, ok := needs[name]
		if ok && !n.has(v, cmd) {
			return usagef("--%s needs %s", name, n.needs)
		}
	}
	if given["kafka-batch-timeout"] {
		return usagef("--kafka-batch-timeout was removed: each batch is produced as soon as it is annotated")
	}
	if err := timelineFlagUse(v, cmd); err != nil {
		return err
	}
	if cmd == "stats" {
		if v("format") == "merge" {
			return usagef(`stats --format "merge": want text, json or html (merge writes lines; stats writes a table)`)
		}
		for _, name := range statsRefuses() {
			if given[name] {
				return usagef("stats %s: stats writes no lines, only the table of codes", dashed(name))
			}
		}
	}
	return nil
}

// commandLineFlags is the set of flags the command line gave.
func commandLineFlags(fs *flag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// statsRefuses are the flags about the lines written, which stats does
// not write: given on its command line, they are usage errors.
func statsRefuses() []string {
	return []string{"only-matching", "H", "with-filename", "field", "kafka-out-topic"}
}

// statsOmits are the flags stats's help leaves out: those it refuses, and
// those it takes (from a config file shared with runs) to no effect.
func statsOmits() []string {
	return append(statsRefuses(), "no-filename", "summary", "kafka-dlq-topic", "kafka-timestamp",
		"kafka-compression", "kafka-batch-timeout", "kafka-max-in-flight")
}

// checkOmits: check's help shows the flags about itself (the config file,
// its log); the rest, every flag of a run, it points to.
func checkOmits() []string {
	var omit []string
	allFlags().VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "c", "config", "log-level", "log-format":
		default:
			omit = append(omit, f.Name)
		}
	})
	return omit
}
