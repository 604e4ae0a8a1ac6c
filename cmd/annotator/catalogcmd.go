package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/catalog/reload"
	"github.com/annotator-dev/annotator/internal/flagvalue"
)

// variantJSON is the shape of one variant in `codes --format json` and
// `lookup --format json`.
type variantJSON struct {
	Message string   `json:"message"`
	Meaning string   `json:"meaning"`
	Sources []string `json:"sources"`
}

type entryJSON struct {
	Code     string        `json:"code"`
	Variants []variantJSON `json:"variants"`
}

func toJSON(e catalog.Entry) entryJSON {
	out := entryJSON{Code: e.Code}
	for _, v := range e.Variants {
		out.Variants = append(out.Variants, variantJSON{Message: v.Message, Meaning: v.Meaning, Sources: v.Sources})
	}
	return out
}

func writeEntries(w io.Writer, es []catalog.Entry, format string) error {
	if format == "json" {
		out := make([]entryJSON, 0, len(es))
		for _, e := range es {
			out = append(out, toJSON(e))
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	var b strings.Builder
	for _, e := range es {
		for _, v := range e.Variants {
			fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", e.Code, v.Message, v.Meaning, strings.Join(v.Sources, ","))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// catalogFlags are the flags of codes and lookup: the listing's format
// and the catalog settings, so users can list and look up their own codes.
func catalogFlags(name string) (*flag.FlagSet, *string, *opsFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	format := new(string)
	fs.Var(flagvalue.NewChoice(format, "text", "text", "json"), "format", "listing `format`: text (code, message, meaning, sources; tab-separated) or json")
	ops := &opsFlags{}
	fs.StringVar(&ops.configPath, "c", "", "read the [catalog] settings of this TOML config `file`; flags given on the command line win")
	fs.StringVar(&ops.configPath, "config", "", "same as -c")
	fs.Var(&ops.catalogs, "catalog", "custom catalog `file` (.tsv, .csv or .toml) merged over the built-in one; repeatable, later files win")
	fs.BoolVar(&ops.catalogReplace, "catalog-replace", false, "use only the custom catalogs, not the built-in JMessage one")
	return fs, format, ops
}

// catalogCommand runs a subcommand that prints catalog entries: check
// tells whether its arguments are right, pick chooses the entries and
// reports, on stderr, what it could not find (status 1).
func catalogCommand(name string, args []string, stdout, stderr io.Writer,
	check func(rest []string) error, pick func(c *catalog.Catalog, rest []string) ([]catalog.Entry, int)) int {
	fs, format, ops := catalogFlags(name)
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		writeHelp(stdout, findCommand(name))
		return exitOK
	}
	if err == nil {
		err = check(rest)
	}
	if err == nil {
		// The config file's catalog settings, and nothing else: its
		// output format is the annotation's, not the listing's.
		err = ops.applyConfig(fs, func(key string) bool { return strings.HasPrefix(key, "catalog.") })
	}
	if err != nil {
		return fail(stderr, name, err)
	}
	l := reload.Loader{Files: ops.catalogs, Replace: ops.catalogReplace}
	c, err := l.Catalog()
	if err != nil {
		return fail(stderr, name, ops.loadError(err))
	}
	entries, status := pick(c, rest)
	if err := writeEntries(stdout, entries, *format); err != nil {
		return fail(stderr, name, err)
	}
	return status
}

func runCodes(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return catalogCommand("codes", args, stdout, stderr,
		func(rest []string) error {
			if len(rest) > 0 {
				return usagef("codes takes no arguments, got %q", rest)
			}
			return nil
		},
		func(c *catalog.Catalog, _ []string) ([]catalog.Entry, int) { return c.Entries(), 0 })
}

func runLookup(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return catalogCommand("lookup", args, stdout, stderr,
		func(rest []string) error {
			if len(rest) == 0 {
				return usagef("lookup needs at least one CODE")
			}
			return nil
		},
		func(c *catalog.Catalog, codes []string) ([]catalog.Entry, int) {
			var found []catalog.Entry
			status := 0
			for _, code := range codes {
				e, ok := c.Lookup(code)
				if !ok {
					fmt.Fprintf(stderr, "annotator: %s: not in the catalog\n", code)
					status = 1
					continue
				}
				found = append(found, e)
			}
			return found, status
		})
}
