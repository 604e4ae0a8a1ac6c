// Command gen regenerates catalog/jmessage.json from the documents in
// catalog/sources. It is run by "go generate ./catalog", which starts it in
// the catalog directory; the defaults below are relative to that directory.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/annotator-dev/annotator/catalog/internal/parse"
)

func main() {
	sources := flag.String("sources", "sources", "directory holding the source documents")
	out := flag.String("out", "jmessage.json", "catalog file to write")
	flag.Parse()
	if err := run(*sources, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(sources, out string) error {
	data, err := parse.Generate(os.DirFS(sources))
	if err != nil {
		return err
	}
	// Leaving an unchanged file alone keeps its timestamp, so repeated
	// generation does not make build tools think something changed.
	if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, data) {
		return nil
	}
	// Write through a temporary file so that a failed run never leaves a
	// truncated catalog behind for the embed to pick up.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".jmessage-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
