package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/annotator-dev/annotator/catalog"
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

func catalogFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "text", "output format: text (code, message, meaning, sources; tab-separated) or json")
	return fs, format
}

// catalogCommand runs a subcommand that prints catalog entries: check
// tells whether its arguments are right, pick chooses the entries and
// reports, on stderr, what it could not find (status 1).
func catalogCommand(name string, args []string, stdout, stderr io.Writer,
	check func(rest []string) error, pick func(c *catalog.Catalog, rest []string) ([]catalog.Entry, int)) int {
	fs, format := catalogFlags(name)
	rest, err := parseInterspersed(fs, args)
	if err == nil {
		err = check(rest)
	}
	if err == nil && *format != "text" && *format != "json" {
		err = fmt.Errorf("--format %q: want text or json", *format)
	}
	if err != nil {
		return usageError(stderr, fs, err)
	}
	c, err := catalog.Builtin()
	if err != nil {
		fmt.Fprintf(stderr, "annotator: %v\n", err)
		return 1
	}
	entries, status := pick(c, rest)
	if err := writeEntries(stdout, entries, *format); err != nil {
		fmt.Fprintf(stderr, "annotator: %v\n", err)
		return 1
	}
	return status
}

func runCodes(args []string, stdout, stderr io.Writer) int {
	return catalogCommand("codes", args, stdout, stderr,
		func(rest []string) error {
			if len(rest) > 0 {
				return fmt.Errorf("codes takes no arguments, got %q", rest)
			}
			return nil
		},
		func(c *catalog.Catalog, _ []string) ([]catalog.Entry, int) { return c.Entries(), 0 })
}

func runLookup(args []string, stdout, stderr io.Writer) int {
	return catalogCommand("lookup", args, stdout, stderr,
		func(rest []string) error {
			if len(rest) == 0 {
				return fmt.Errorf("lookup needs at least one code")
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
