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

func runCodes(args []string, stdout, stderr io.Writer) int {
	fs, format := catalogFlags("codes")
	rest, err := parseInterspersed(fs, args)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("codes takes no arguments, got %q", rest)
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
	if err := writeEntries(stdout, c.Entries(), *format); err != nil {
		fmt.Fprintf(stderr, "annotator: %v\n", err)
		return 1
	}
	return 0
}

func runLookup(args []string, stdout, stderr io.Writer) int {
	fs, format := catalogFlags("lookup")
	codes, err := parseInterspersed(fs, args)
	if err == nil && len(codes) == 0 {
		err = fmt.Errorf("lookup needs at least one code")
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
	if err := writeEntries(stdout, found, *format); err != nil {
		fmt.Fprintf(stderr, "annotator: %v\n", err)
		return 1
	}
	return status
}
