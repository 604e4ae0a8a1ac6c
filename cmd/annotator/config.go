package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/catalog/reload"
	"github.com/annotator-dev/annotator/config"
	"github.com/annotator-dev/annotator/internal/flagvalue"
	"github.com/annotator-dev/annotator/metrics"
)

// opsFlags are the operability flags: the config file, custom catalogs
// and their reloading, metrics and the summary.
type opsFlags struct {
	configPath     string
	catalogs       listFlag
	catalogReplace bool
	catalogWatch   bool
	catalogSettle  time.Duration
	metricsAddr    string
	summary        bool
	top            int
	timeline       timelineFlags

	origins map[string]origin // flag name -> config file line, set by applyConfig
	rt      *opsRun           // set by start
}

func (o *opsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.configPath, "c", "", "read settings from this TOML `file`; flags given on the command line win")
	fs.StringVar(&o.configPath, "config", "", "same as -c")
	fs.Var(&o.catalogs, "catalog", "custom catalog `file` (.tsv, .csv or .toml) merged over the built-in one; repeatable, later files win")
	fs.BoolVar(&o.catalogReplace, "catalog-replace", false, "use only the custom catalogs, not the built-in JMessage one")
	fs.BoolVar(&o.catalogWatch, "catalog-watch", true, "reload the catalogs when a catalog file changes (SIGHUP always reloads)")
	fs.Var(flagvalue.NewDuration(&o.catalogSettle, reload.DefaultSettle, 100*time.Millisecond, time.Minute), "catalog-settle",
		"how long a changed catalog file must be still before it is read again, 100ms to 1m (writing a new file and renaming it over the old one is the safe way)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics, /healthz and /readyz on this `address` (a bare port means 127.0.0.1:PORT); off by default")
	fs.BoolVar(&o.summary, "summary", false, "at the end, print a table of the codes seen on standard error")
	fs.Var(flagvalue.NewInt(&o.top, 0, 0, maxTop), "top", "list only the `N` most frequent codes in the summary, 0 to 1000000 (0: all)")
	o.timeline.register(fs)
}

// maxTop bounds --top: more rows than any terminal shows.
const maxTop = 1000000

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// pathFlags are the settings that name files: in a config file, a
// relative one is relative to the file's directory.
var pathFlags = map[string]bool{"follow": true, "catalog": true, "state": true,
	"kafka-tls-ca": true, "kafka-tls-cert": true, "kafka-tls-key": true}

// configSchema maps every key of the config file onto the flag it sets,
// so that the file and the command line are one set of settings. Keys of
// flags a build does not register are left out, so the file cannot name
// an option the binary lacks. config.example.toml documents every key.
func configSchema(fs *flag.FlagSet) []config.Key {
	all := []config.Key{
		{Name: "output.format", Kind: config.String, Flag: "format"},
		{Name: "output.field", Kind: config.String, Flag: "field", Check: annotate.CheckField},
		{Name: "output.only_matching", Kind: config.Bool, Flag: "only-matching"},
		{Name: "output.with_filename", Kind: config.Bool, Flag: "with-filename"},
		{Name: "catalog.files", Kind: config.List, Flag: "catalog"},
		{Name: "catalog.replace", Kind: config.Bool, Flag: "catalog-replace"},
		{Name: "catalog.watch", Kind: config.Bool, Flag: "catalog-watch"},
		{Name: "catalog.settle", Kind: config.Duration, Flag: "catalog-settle"},
		{Name: "catalog.prefer", Kind: config.CSV, Flag: "prefer"},
		{Name: "catalog.engine", Kind: config.String, Flag: "engine"},
		{Name: "pipeline.workers", Kind: config.Int, Flag: "workers"},
		{Name: "pipeline.buffer_size", Kind: config.Size, Flag: "buffer-size"},
		{Name: "pipeline.drain_timeout", Kind: config.Duration, Flag: "drain-timeout"},
		{Name: "log.level", Kind: config.String, Flag: "log-level"},
		{Name: "log.format", Kind: config.String, Flag: "log-format"},
		{Name: "metrics.addr", Kind: config.String, Flag: "metrics-addr", Check: func(v string) error {
			if v == "" {
				return nil
			}
			_, err := metrics.ListenAddr(v)
			return err
		}},
		{Name: "summary.enabled", Kind: config.Bool, Flag: "summary"},
		{Name: "summary.top", Kind: config.Int, Flag: "top"},
		{Name: "summary.timeline", Kind: config.Bool, Flag: "timeline"},
		{Name: "summary.bucket", Kind: config.Duration, Flag: "bucket"},
		{Name: "summary.timezone", Kind: config.String, Flag: "timezone"},
		{Name: "summary.ascii", Kind: config.Bool, Flag: "ascii"},
	}
	all = append(all, inputSchema()...)
	var out []config.Key
	for _, k := range all {
		f := fs.Lookup(k.Flag)
		if f == nil {
			continue
		}
		// A bounded flag checks the file's value exactly as it checks
		// the command line's, so `check` and a run agree.
		if c, ok := f.Value.(interface{ Check(string) error }); ok && k.Check == nil {
			k.Check = c.Check
		}
		out = append(out, k)
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
		{Name: "inputs.follow.start_at", Kind: config.String, Flag: "start-at"},
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
		{Name: "kafka.sasl", Kind: config.String, Flag: "kafka-sasl"},
		{Name: "kafka.sasl_user", Kind: config.String, Flag: "kafka-sasl-user"},
		{Name: "kafka.sasl_password", Kind: config.String, Flag: "kafka-sasl-password"},
		{Name: "kafka.connect_timeout", Kind: config.Duration, Flag: "kafka-connect-timeout"},
		{Name: "inputs.kafka.topics", Kind: config.CSV, Flag: "kafka-topic"},
		{Name: "inputs.kafka.group", Kind: config.String, Flag: "kafka-group"},
		{Name: "inputs.kafka.start", Kind: config.String, Flag: "kafka-start"},
		{Name: "inputs.kafka.session_timeout", Kind: config.Duration, Flag: "kafka-session-timeout"},
		{Name: "inputs.kafka.commit_interval", Kind: config.Duration, Flag: "kafka-commit-interval"},
		{Name: "inputs.kafka.drain_timeout", Kind: config.Duration, Flag: "kafka-drain-timeout"},
		{Name: "inputs.kafka.max_in_flight", Kind: config.Size, Flag: "kafka-max-in-flight"},
		{Name: "inputs.kafka.guarantee", Kind: config.String, Flag: "kafka-guarantee"},
		{Name: "inputs.kafka.transactional_id", Kind: config.String, Flag: "kafka-transactional-id"},
		{Name: "sinks.kafka.topic", Kind: config.String, Flag: "kafka-out-topic"},
		{Name: "sinks.kafka.compression", Kind: config.String, Flag: "kafka-compression"},
		{Name: "sinks.kafka.batch_timeout", Kind: config.Duration, Flag: "kafka-batch-timeout"},
		{Name: "sinks.kafka.dlq_topic", Kind: config.String, Flag: "kafka-dlq-topic"},
		{Name: "sinks.kafka.timestamp", Kind: config.String, Flag: "kafka-timestamp"},
	}
}

// origin is where a setting came from in the config file, so that a
// problem found only later (an unknown source in "prefer", a missing
// catalog file) still points at its line.
type origin struct {
	file string
	line int
	key  string
}

// applyConfig reads the file named by -c, if any, and applies its values
// to the flags the command line did not give. Keys whose flag fs lacks
// are valid in the file but not this command's business (`codes` reads
// only the catalog settings); only keys that keep(key) accepts are applied.
func (o *opsFlags) applyConfig(fs *flag.FlagSet, keep func(key string) bool) error {
	if o.configPath == "" {
		return nil
	}
	settings, err := config.Load(o.configPath, configSchema(allFlags()))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return &settingsError{fmt.Errorf("%s: %v", o.configPath, pe.Err)}
		}
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs config.Errors
	for _, s := range settings {
		key := strings.ReplaceAll(s.Key, "[]", "")
		if given[s.Flag] || fs.Lookup(s.Flag) == nil || (keep != nil && !keep(key)) {
			continue
		}
		if o.origins == nil {
			o.origins = map[string]origin{}
		}
		o.origins[s.Flag] = origin{file: o.configPath, line: s.Line, key: key}
		for _, v := range s.Values {
			if pathFlags[s.Flag] && v != "" && !filepath.IsAbs(v) {
				// Relative to the file, not to the working directory
				// (systemd's is /).
				v = filepath.Join(filepath.Dir(o.configPath), v)
			}
			if err := fs.Set(s.Flag, v); err != nil {
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

// blame turns a problem with a setting into an error that says where the
// setting came from: the config file's line, or the flag.
func (o *opsFlags) blame(flagName string, err error) error {
	if at, ok := o.origins[flagName]; ok {
		return &config.Error{File: at.file, Line: at.line, Key: at.key, Msg: fmt.Sprintf("key %q: %v", at.key, err)}
	}
	var fe *reload.FileError
	if errors.As(err, &fe) {
		return &settingsError{fmt.Errorf("%s: %v", fe.Path, fe.Err)}
	}
	return usagef("--%s: %v", flagName, err)
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
