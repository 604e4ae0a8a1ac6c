package catalog

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// Custom catalogs are files users write to add codes of their own or to
// override the built-in wording. Three formats are read, chosen by the
// file's extension:
//
//   - .tsv (or .tab, .txt): one entry per line, tab-separated columns
//     code, message, meaning; the meaning column may be left out.
//   - .csv: the same columns in RFC 4180 CSV, for files kept in a
//     spreadsheet; fields holding commas or quotes are quoted.
//   - .toml: one table per code, [codes."E11000"], with the string keys
//     message and meaning.
//
// In TSV and CSV, blank lines and lines starting with '#' are skipped, and a
// first row reading "code, message, meaning" is taken as a header. Fields
// are trimmed of surrounding spaces. Every entry needs a code and a message
// or a meaning, and a code may appear only once per file; a problem stops
// the load with the file and line ("codes.tsv:7: ..."), so a reload that
// meets a half-written file keeps the catalog it had.
//
// Every entry of a file cites one source, "custom:" followed by the path
// as given, so that an annotation says which file its text came from.

// SourceID is the source every entry of the custom catalog at path cites.
func SourceID(path string) string { return "custom:" + path }

// LoadFile reads the custom catalog at path, in the format its extension
// names.
func LoadFile(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a custom catalog already in memory, in the format the
// extension of path names.
func Parse(path string, data []byte) (*Catalog, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".tsv", ".tab", ".txt":
		return parseTSV(path, string(data))
	case ".csv":
		return ParseCSV(path, bytes.NewReader(data))
	case ".toml":
		return ParseTOML(path, data)
	}
	return nil, fmt.Errorf("catalog: %s: unknown format %q (want .tsv, .csv or .toml)", path, filepath.Ext(path))
}

// row is one entry as read, with the line it came from.
type row struct {
	line                   int
	code, message, meaning string
}

// fromRows checks rows and builds the catalog of the file called name.
func fromRows(name string, rows []row) (*Catalog, error) {
	first := make(map[string]int, len(rows))
	entries := make([]Entry, 0, len(rows))
	// Every entry has one variant citing the file: one backing array for
	// the variants and one source list shared by all, kept as they are
	// (fresh: nothing else holds them, and the codes are checked here).
	variants := make([]Variant, len(rows))
	sources := []string{SourceID(name)}
	for i, r := range rows {
		switch {
		case r.code == "":
			return nil, fmt.Errorf("catalog: %s:%d: empty code", name, r.line)
		case strings.IndexByte(r.code, '\r') >= 0 || strings.IndexByte(r.code, '\n') >= 0:
			return nil, fmt.Errorf("catalog: %s:%d: code %q holds a line break", name, r.line, r.code)
		case r.message == "" && r.meaning == "":
			return nil, fmt.Errorf("catalog: %s:%d: code %q has neither a message nor a meaning", name, r.line, r.code)
		}
		if prev, dup := first[r.code]; dup {
			return nil, fmt.Errorf("catalog: %s:%d: code %q is already defined at line %d", name, r.line, r.code, prev)
		}
		first[r.code] = r.line
		variants[i] = Variant{Message: r.message, Meaning: r.meaning, Sources: sources}
		entries = append(entries, Entry{Code: r.code, Variants: variants[i : i+1 : i+1]})
	}
	c, err := buildFrom([]Source{{ID: sources[0], Name: name}}, entries, true)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", name, err)
	}
	return c, nil
}

// tableRow turns one TSV or CSV record into a row; ok is false for rows to
// skip (a header).
func tableRow(name string, line int, fields []string, first bool) (row, bool, error) {
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	if first && len(fields) >= 2 && strings.EqualFold(fields[0], "code") && strings.EqualFold(fields[1], "message") {
		return row{}, false, nil
	}
	if len(fields) < 2 || len(fields) > 3 {
		return row{}, false, fmt.Errorf("catalog: %s:%d: %s, want code, message and an optional meaning", name, line, plural(len(fields), "column"))
	}
	r := row{line: line, code: fields[0], message: fields[1]}
	if len(fields) == 3 {
		r.meaning = fields[2]
	}
	return r, true, nil
}

// ParseTSV reads a tab-separated custom catalog; name is used in messages
// and in the entries' source.
func ParseTSV(name string, r io.Reader) (*Catalog, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", name, err)
	}
	return parseTSV(name, string(data))
}

// maxTSVLine is the longest line a TSV catalog may hold, as when it was
// read with a bufio.Scanner of that buffer.
const maxTSVLine = 1 << 20

// parseTSV reads a TSV catalog held in one string. Its rows' fields are
// substrings of it: a catalog of 10,000 keys is read at every start, and
// copying each line, then each field, into strings of their own was
// 40,000 allocations and most of the time it took.
func parseTSV(name, data string) (*Catalog, error) {
	rows := make([]row, 0, strings.Count(data, "\n")+1)
	first := true
	var fields [3]string
	for line := 1; data != ""; line++ {
		text, rest, _ := strings.Cut(data, "\n")
		data = rest
		if len(text) >= maxTSVLine {
			return nil, fmt.Errorf("catalog: %s:%d: %w", name, line, bufio.ErrTooLong)
		}
		text = strings.TrimSuffix(text, "\r")
		if t := strings.TrimSpace(text); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		var f []string
		if n := strings.Count(text, "\t") + 1; n <= len(fields) {
			f = fields[:n]
			for i := range f {
				f[i], text, _ = strings.Cut(text, "\t")
			}
		} else {
			f = strings.Split(text, "\t") // an error, or a wide header
		}
		rw, ok, err := tableRow(name, line, f, first)
		first = false
		if err != nil {
			return nil, err
		}
		if ok {
			rows = append(rows, rw)
		}
	}
	return fromRows(name, rows)
}

// ParseCSV reads a comma-separated custom catalog.
func ParseCSV(name string, r io.Reader) (*Catalog, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // checked per row, for a clearer message
	var rows []row
	first := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("catalog: %s:%d: %v", name, pe.StartLine, pe.Err)
			}
			return nil, fmt.Errorf("catalog: %s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		rw, ok, err := tableRow(name, line, rec, first)
		first = false
		if err != nil {
			return nil, err
		}
		if ok {
			rows = append(rows, rw)
		}
	}
	return fromRows(name, rows)
}

// ParseTOML reads a TOML custom catalog:
//
//	[codes.ECONNRESET]
//	message = "Connection reset by peer"
//	meaning = "对端重置了连接"
func ParseTOML(name string, data []byte) (*Catalog, error) {
	var p unstable.Parser
	p.Reset(data)
	lineOf := func(n *unstable.Node) int { return p.Shape(n.Raw).Start.Line }
	var rows []row
	var cur *row
	set := map[string]bool{}
	for p.NextExpression() {
		e := p.Expression()
		var parts []string
		line := 0
		it := e.Key()
		for it.Next() {
			if line == 0 {
				line = lineOf(it.Node())
			}
			parts = append(parts, string(it.Node().Data))
		}
		switch e.Kind {
		case unstable.Table:
			if len(parts) != 2 || parts[0] != "codes" {
				return nil, fmt.Errorf("catalog: %s:%d: unexpected table [%s]: want [codes.\"CODE\"]", name, line, strings.Join(parts, "."))
			}
			rows = append(rows, row{line: line, code: parts[1]})
			cur = &rows[len(rows)-1]
			set = map[string]bool{}
		case unstable.KeyValue:
			key := strings.Join(parts, ".")
			if cur == nil {
				return nil, fmt.Errorf("catalog: %s:%d: key %q outside a [codes.\"CODE\"] table", name, line, key)
			}
			if key != "message" && key != "meaning" {
				return nil, fmt.Errorf("catalog: %s:%d: unknown key %q in [codes.%q]: want message or meaning", name, line, key, cur.code)
			}
			if set[key] {
				return nil, fmt.Errorf("catalog: %s:%d: key %q is set twice in [codes.%q]", name, line, key, cur.code)
			}
			set[key] = true
			v := e.Value()
			if v.Kind != unstable.String {
				return nil, fmt.Errorf("catalog: %s:%d: key %q in [codes.%q]: want a string", name, line, key, cur.code)
			}
			if key == "message" {
				cur.message = strings.TrimSpace(string(v.Data))
			} else {
				cur.meaning = strings.TrimSpace(string(v.Data))
			}
		default:
			return nil, fmt.Errorf("catalog: %s:%d: unexpected [[%s]]: want [codes.\"CODE\"]", name, line, strings.Join(parts, "."))
		}
	}
	if err := p.Error(); err != nil {
		line := 0
		var pe *unstable.ParserError
		if errors.As(err, &pe) && len(pe.Highlight) > 0 {
			line = p.Shape(p.Range(pe.Highlight)).Start.Line
		}
		return nil, fmt.Errorf("catalog: %s:%d: syntax error: %v", name, line, err)
	}
	return fromRows(name, rows)
}

// Combine builds the catalog a run uses from the built-in catalog and
// custom ones, later files overriding earlier ones code by code. With
// replace the built-in catalog is left out, so only the custom codes are
// annotated.
func Combine(builtin *Catalog, custom []*Catalog, replace bool) (*Catalog, error) {
	var c *Catalog
	if replace || builtin == nil {
		c = &Catalog{}
	} else {
		c = builtin
	}
	for _, o := range custom {
		if o != nil && len(c.entries) == 0 && len(c.sources) == 0 {
			// Layered onto nothing, an overlay is the result as it is
			// (catalogs do not change once built): with --catalog-replace
			// a 100,000-key file is checked and indexed once, not twice.
			c = o
			continue
		}
		m, err := c.Merge(o)
		if err != nil {
			return nil, err
		}
		c = m
	}
	return c, nil
}

// plural is "1 column", "4 columns".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
