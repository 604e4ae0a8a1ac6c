// Command corpus writes a deterministic benchmark corpus (see package
// bench/corpus) and, on request, the files the comparison tools need: the
// code list for grep -F -f and the notes table for the awk script.
//
//	corpus -size 1G -codes 0.02 -o corpus.txt -codes-file codes.txt -notes-file notes.tsv
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/annotator-dev/annotator/bench/corpus"
	"github.com/annotator-dev/annotator/catalog"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	// -profile sets the knobs' defaults, so it is read before the rest.
	c, err := corpus.Profile(profileArg(args))
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("corpus", flag.ContinueOnError)
	fs.String("profile", "default", fmt.Sprintf("corpus shape, one of %v: sets the defaults of the knobs below", corpus.Profiles))
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed: the same seed and knobs give the same bytes")
	size := fs.String("size", "64M", "bytes to write (suffixes K, M, G are powers of 1024)")
	fs.Float64Var(&c.CodeShare, "codes", c.CodeShare, "share of lines holding a catalog code")
	fs.Float64Var(&c.DecoyShare, "decoys", c.DecoyShare, "share of lines holding a decoy (1898001, 0x898001, ...)")
	fs.Float64Var(&c.JSONShare, "json", c.JSONShare, "share of lines that are JSON log records")
	fs.Float64Var(&c.AccessShare, "access", c.AccessShare, "share of lines that are web access-log lines")
	fs.Float64Var(&c.UnknownShare, "unknown", c.UnknownShare, "share of lines holding a six-digit number beginning with 8 that is not in the catalog")
	fs.IntVar(&c.LineLen, "line-len", c.LineLen, "mean line length in bytes")
	fs.BoolVar(&c.SingleLine, "single-line", false, "write everything as one line")
	out := fs.String("o", "-", "output file (- for standard output)")
	codesFile := fs.String("codes-file", "", "also write the catalog's codes here, one a line (for grep -F -f)")
	keysN := fs.Int("keys", 0, "with -keys-file: how many custom catalog keys to generate")
	keysFile := fs.String("keys-file", "", "also write a custom catalog (.tsv) of -keys generated keys")
	keysShape := fs.String("keys-shape", "mixed", fmt.Sprintf("shape of the generated keys, one of %v (only digits keys occur in the corpus)", corpus.KeyShapes))
	keysList := fs.String("keys-list", "", "with -keys-file: also write the keys here, one a line (for grep -F -f)")
	notesFile := fs.String("notes-file", "", "also write code<TAB>message<TAB>meaning here, as the annotator chooses them (for the awk script)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	n, err := parseSize(*size)
	if err != nil {
		return err
	}
	c.Size = n
	if *codesFile != "" {
		if err := writeCodes(*codesFile); err != nil {
			return err
		}
	}
	if *notesFile != "" {
		if err := writeNotes(*notesFile); err != nil {
			return err
		}
	}
	if *keysFile != "" {
		if err := writeKeys(*keysFile, *keysList, *keysShape, *keysN, c.Seed); err != nil {
			return err
		}
	}
	if *out == "-" {
		return corpus.Write(stdout, c)
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	if err := corpus.Write(f, c); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", *out, err)
	}
	return nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes, optionally with K, M or G", s)
	}
	return n * mult, nil
}

func writeCodes(path string) error {
	codes, err := corpus.Codes()
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strings.Join(codes, "\n")+"\n"), 0o644)
}

func writeNotes(path string) error {
	c, err := catalog.Builtin()
	if err != nil {
		return fmt.Errorf("builtin catalog: %w", err)
	}
	choices, err := c.Choose(catalog.DefaultPreference())
	if err != nil {
		return fmt.Errorf("choose notes: %w", err)
	}
	var b strings.Builder
	for _, ch := range choices {
		if strings.ContainsAny(ch.Message+ch.Meaning, "\t\n\r") {
			return errors.New("a note holds a tab or line break: the table cannot carry it")
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\n", ch.Code, ch.Message, ch.Meaning)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeKeys writes a custom catalog of n generated keys of a shape, and
// when list is set the bare keys, one a line.
func writeKeys(path, list, shape string, n int, seed uint64) error {
	if n <= 0 {
		return fmt.Errorf("-keys %d: want at least 1 with -keys-file", n)
	}
	keys, err := corpus.ShapedKeys(shape, n, seed)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("code\tmessage\tmeaning\n")
	for i, k := range keys {
		fmt.Fprintf(&b, "%s\tgenerated key %d\t生成的键\n", k, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	if list == "" {
		return nil
	}
	if err := os.WriteFile(list, []byte(strings.Join(keys, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("write key list: %w", err)
	}
	return nil
}

// profileArg finds -profile's value in args ("default" without one).
func profileArg(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, f := range []string{"-profile", "--profile"} {
			if v, ok := strings.CutPrefix(a, f+"="); ok {
				return v
			}
			if a == f && i+1 < len(args) {
				return args[i+1]
			}
		}
	}
	return "default"
}
