package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/config"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/metrics"
)

// opsFlags are the operability flags: the config file, custom catalogs
// and their reloading, metrics and the summary.
type opsFlags struct {
	configPath     string
	catalogs       listFlag
	catalogReplace bool
	catalogWatch   bool
	metricsAddr    string
	summary        bool

	rt *opsRun // set by start
}

func (o *opsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.configPath, "c", "", "read settings from this TOML `file`; flags given on the command line win")
	fs.StringVar(&o.configPath, "config", "", "same as -c")
	fs.Var(&o.catalogs, "catalog", "custom catalog `file` (.tsv, .csv or .toml) merged over the built-in one; repeatable, later files win")
	fs.BoolVar(&o.catalogReplace, "catalog-replace", false, "use only the custom catalogs, not the built-in JMessage one")
	fs.BoolVar(&o.catalogWatch, "catalog-watch", true, "reload the catalogs when a catalog file changes (SIGHUP always reloads)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics, /healthz and /readyz on this `address` (a bare port means 127.0.0.1:PORT); off by default")
	fs.BoolVar(&o.summary, "summary", false, "at the end, print a table of the codes seen on standard error")
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func oneOf(choices ...string) func(string) error {
	return func(v string) error {
		for _, c := range choices {
			if v == c {
				return nil
			}
		}
		return fmt.Errorf("want %s", strings.Join(choices, ", "))
	}
}

func atLeast(n int) func(string) error {
	return func(v string) error {
		i, err := strconv.Atoi(v)
		if err != nil || i < n {
			return fmt.Errorf("want at least %d", n)
		}
		return nil
	}
}

// configSchema maps every key of the config file onto the flag it sets,
// so that the file and the command line are one set of settings. Keys of
// flags a build does not register are left out, so the file cannot name
// an option the binary lacks. config.example.toml documents every key.
func configSchema(fs *flag.FlagSet) []config.Key {
	all := []config.Key{
		{Name: "output.format", Kind: config.String, Flag: "format", Check: func(v string) error {
			_, err := annotate.ParseFormat(v)
			return err
		}},
		{Name: "output.only_matching", Kind: config.Bool, Flag: "only-matching"},
		{Name: "catalog.files", Kind: config.List, Flag: "catalog"},
		{Name: "catalog.replace", Kind: config.Bool, Flag: "catalog-replace"},
		{Name: "catalog.watch", Kind: config.Bool, Flag: "catalog-watch"},
		{Name: "catalog.prefer", Kind: config.CSV, Flag: "prefer"},
		{Name: "catalog.engine", Kind: config.String, Flag: "engine",
			Check: oneOf(string(matcher.Auto), string(matcher.Numeric), string(matcher.AhoCorasick))},
		{Name: "pipeline.workers", Kind: config.Int, Flag: "workers", Check: atLeast(1)},
		{Name: "pipeline.buffer_size", Kind: config.Int, Flag: "buffer-size", Check: atLeast(64)},
		{Name: "log.level", Kind: config.String, Flag: "log-level", Check: oneOf("debug", "info", "warn", "error")},
		{Name: "log.format", Kind: config.String, Flag: "log-format", Check: oneOf("text", "json")},
		{Name: "metrics.addr", Kind: config.String, Flag: "metrics-addr", Check: func(v string) error {
			if v == "" {
				return nil
			}
			_, err := metrics.ListenAddr(v)
			return err
		}},
		{Name: "summary.enabled", Kind: config.Bool, Flag: "summary"},
	}
	all = append(all, inputSchema()...)
	var out []config.Key
	for _, k := range all {
		if fs.Lookup(k.Flag) != nil {
			out = append(out, k)
		}
	}
	return out
}

// inputSchema holds the keys of the followed-file and Kafka inputs and
// outputs; each is kept only when its flag is registered.
func inputSchema() []config.Key {
	return []config.Key{
		// One [[inputs.file]] section per followed file (or glob).
		{Name: "inputs.file[].path", Kind: config.String, Flag: "follow"},
		{Name: "inputs.follow.state", Kind: config.String, Flag: "state"},
		{Name: "inputs.follow.start_at", Kind: config.String, Flag: "start-at", Check: oneOf("beginning", "end")},
		{Name: "inputs.follow.poll_interval", Kind: config.Duration, Flag: "poll-interval"},
		{Name: "inputs.follow.rotated", Kind: config.CSV, Flag: "rotated"},
		{Name: "inputs.follow.poll_only", Kind: config.Bool, Flag: "poll-only"},
		{Name: "inputs.follow.checkpoint_interval", Kind: config.Duration, Flag: "checkpoint-interval"},
		{Name: "inputs.follow.close_inactive", Kind: config.Duration, Flag: "close-inactive"},
		{Name: "inputs.follow.max_open_files", Kind: config.Int, Flag: "max-open-files"},

		// The connection, shared by the Kafka input and output.
		{Name: "kafka.brokers", Kind: config.CSV, Flag: "kafka-brokers"},
		{Name: "kafka.tls", Kind: config.Bool, Flag: "kafka-tls"},
		{Name: "kafka.tls_ca", Kind: config.String, Flag: "kafka-tls-ca"},
		{Name: "kafka.tls_cert", Kind: config.String, Flag: "kafka-tls-cert"},
		{Name: "kafka.tls_key", Kind: config.String, Flag: "kafka-tls-key"},
		{Name: "kafka.tls_server_name", Kind: config.String, Flag: "kafka-tls-server-name"},
		{Name: "kafka.sasl", Kind: config.String, Flag: "kafka-sasl", Check: oneOf("", "plain", "scram-sha-256", "scram-sha-512")},
		{Name: "kafka.sasl_user", Kind: config.String, Flag: "kafka-sasl-user"},
		{Name: "kafka.sasl_password", Kind: config.String, Flag: "kafka-sasl-password"},
		{Name: "kafka.connect_timeout", Kind: config.Duration, Flag: "kafka-connect-timeout"},
		{Name: "inputs.kafka.topics", Kind: config.CSV, Flag: "kafka-topic"},
		{Name: "inputs.kafka.group", Kind: config.String, Flag: "kafka-group"},
		{Name: "inputs.kafka.start", Kind: config.String, Flag: "kafka-start", Check: oneOf("first", "last")},
		{Name: "inputs.kafka.session_timeout", Kind: config.Duration, Flag: "kafka-session-timeout"},
		{Name: "inputs.kafka.commit_interval", Kind: config.Duration, Flag: "kafka-commit-interval"},
		{Name: "inputs.kafka.drain_timeout", Kind: config.Duration, Flag: "kafka-drain-timeout"},
		{Name: "sinks.kafka.topic", Kind: config.String, Flag: "kafka-out-topic"},
		{Name: "sinks.kafka.compression", Kind: config.String, Flag: "kafka-compression", Check: oneOf("none", "gzip", "snappy", "lz4", "zstd")},
		{Name: "sinks.kafka.batch_timeout", Kind: config.Duration, Flag: "kafka-batch-timeout"},
	}
}

// applyConfig reads the file named by -c, if any, and applies its values
// to the flags the command line did not give.
func (o *opsFlags) applyConfig(fs *flag.FlagSet) error {
	if o.configPath == "" {
		return nil
	}
	settings, err := config.Load(o.configPath, configSchema(fs))
	if err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs config.Errors
	for _, s := range settings {
		if given[s.Flag] {
			continue
		}
		for _, v := range s.Values {
			if err := fs.Set(s.Flag, v); err != nil {
				key := strings.ReplaceAll(s.Key, "[]", "")
				errs = append(errs, &config.Error{File: o.configPath, Line: s.Line, Key: key,
					Msg: fmt.Sprintf("key %q: bad value %q: %v", key, v, err)})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// configError reports a settings or catalog problem: exit 2, without the
// usage text, which would bury the message.
func configError(stderr io.Writer, err error) int {
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Fprintf(stderr, "annotator: %v\n", e)
		}
	} else {
		fmt.Fprintf(stderr, "annotator: %v\n", err)
	}
	return exitUsage
}

// fileError marks a problem in a file the run reads at start-up (a custom
// catalog): the message names the file and line, and the usage text would
// only bury it.
type fileError struct{ err error }

func (e fileError) Error() string { return e.err.Error() }
func (e fileError) Unwrap() error { return e.err }

// startFailure reports an error of ops.start: exit 2, since flags, files
// and addresses given are the caller's to fix.
func startFailure(stderr io.Writer, fs *flag.FlagSet, err error) int {
	var fe fileError
	if errors.As(err, &fe) {
		return configError(stderr, err)
	}
	return usageError(stderr, fs, err)
}

// isTerminal reports whether w is a terminal, for progress output that
// would only clutter a file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return termios(int(f.Fd()))
}
