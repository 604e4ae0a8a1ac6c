// Package config reads the TOML configuration file strictly against a
// schema: every key the file may hold is listed with its type and the
// command-line flag it stands for, so the file and the flags are one set of
// settings with one meaning, and the file cannot hold anything the flags
// cannot say.
//
// Every problem is reported with the file, the line and the key
// ("annotator.toml:12: unknown key \"inputs.file.pth\""): a typo in a file
// deployed to a hundred hosts must stop start-up with a message that says
// where to look, not be ignored.
//
// The document is walked with go-toml's position-keeping parser rather than
// decoded into a struct: that gives the line of every key and value, so an
// unknown key, a wrong type and a bad value all point at their line (the
// decoders report lines only for syntax errors, or for unknown keys only).
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/annotator-dev/annotator/internal/suggest"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Kind is the type a key's value must have.
type Kind int

const (
	// String is a TOML string.
	String Kind = iota
	// Int is a TOML integer.
	Int
	// Bool is a TOML boolean.
	Bool
	// Duration is a TOML string in Go duration syntax ("5s", "1m30s").
	Duration
	// List is an array of strings, each applied to a repeatable flag.
	List
	// CSV is an array of strings applied as one comma-separated value.
	CSV
	// Size is a byte count: a TOML integer, or a string with a unit
	// ("256KiB", "1M") that the key's Check reads.
	Size
)

func (k Kind) String() string {
	switch k {
	case String:
		return "a string"
	case Int:
		return "an integer"
	case Bool:
		return "a boolean"
	case Duration:
		return `a duration string such as "5s"`
	case List, CSV:
		return "an array of strings"
	case Size:
		return `an integer or a size string such as "256KiB"`
	}
	return "a value"
}

// Key describes one key the file may hold.
type Key struct {
	// Name is the dotted key. A segment ending in "[]" is an array of
	// tables: "inputs.file[].path" is the path key of a [[inputs.file]]
	// section.
	Name string
	Kind Kind
	// Flag is the command-line flag the value is applied to.
	Flag string
	// Check, when set, validates a value (in flag syntax) beyond its type.
	Check func(v string) error
}

// Setting is one value found in the file, in flag syntax.
type Setting struct {
	Key  string // the schema key's Name
	Flag string
	// Values holds one value, or one per element for a List.
	Values []string
	Line   int
}

// Error is one problem in a file.
type Error struct {
	File string
	Line int
	Key  string // may be empty for syntax errors
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in a file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// MaxFileSize is the largest config file read: a real one is a few
// kilobytes, and reading whatever a path names (-c /dev/zero, a log
// given by mistake) must not exhaust memory.
const MaxFileSize = 1 << 20

// Load reads and checks the file at path.
func Load(path string, schema []Key) ([]Setting, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %d KiB: not a config file?", MaxFileSize>>10)}
	}
	return Parse(path, data, schema)
}

// Parse checks data, named name in messages, against schema and returns its
// settings in file order. On problems it returns Errors listing all of
// them (a syntax error ends the list, since nothing after it can be read).
func Parse(name string, data []byte, schema []Key) ([]Setting, error) {
	byName := make(map[string]*Key, len(schema))
	tables := make(map[string]bool) // table names the schema implies
	arrays := make(map[string]bool) // names of arrays of tables
	for i := range schema {
		k := &schema[i]
		byName[k.Name] = k
		parts := strings.Split(k.Name, ".")
		for j := 1; j < len(parts); j++ {
			t := strings.Join(parts[:j], ".")
			if strings.HasSuffix(t, "[]") {
				arrays[strings.TrimSuffix(t, "[]")] = true
			} else {
				tables[t] = true
			}
		}
	}
	w := walker{name: name, byName: byName, tables: tables, arrays: arrays, seen: map[string]int{}, headers: map[string]int{}}
	var p unstable.Parser
	p.Reset(data)
	w.p = &p
	for p.NextExpression() {
		w.expression(p.Expression())
	}
	if err := p.Error(); err != nil {
		line := 0
		var pe *unstable.ParserError
		if errors.As(err, &pe) && len(pe.Highlight) > 0 {
			line = safeLine(&p, pe.Highlight)
		}
		w.errs = append(w.errs, &Error{File: name, Line: line, Msg: "syntax error: " + err.Error()})
	}
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	return w.out, nil
}

// safeLine finds the line of b, a slice of the parser's input.
func safeLine(p *unstable.Parser, b []byte) (line int) {
	defer func() {
		if recover() != nil {
			line = 0 // not a slice of the input: no line rather than a crash
		}
	}()
	return p.Shape(p.Range(b)).Start.Line
}

type walker struct {
	name    string
	p       *unstable.Parser
	byName  map[string]*Key
	tables  map[string]bool
	arrays  map[string]bool
	prefix  string         // schema name of the current table ("" at the top)
	elem    string         // instance name of the current table, for duplicates
	seen    map[string]int // key instance -> line, to reject duplicates
	headers map[string]int // [table] headers seen
	count   map[string]int // array of tables -> elements so far
	// badTable: the current table is unknown; its keys are not reported
	// one by one, the table's own error says it all.
	badTable bool
	out      []Setting
	errs     Errors
}

func (w *walker) fail(line int, key, format string, args ...any) {
	w.errs = append(w.errs, &Error{File: w.name, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (w *walker) line(n *unstable.Node) int {
	return w.p.Shape(n.Raw).Start.Line
}

// keyOf joins a node's (possibly dotted) key and returns it with the line
// of its first part.
func (w *walker) keyOf(n *unstable.Node) (string, int) {
	var parts []string
	line := 0
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = w.line(k)
		}
		parts = append(parts, string(k.Data))
	}
	return strings.Join(parts, "."), line
}

func (w *walker) expression(e *unstable.Node) {
	switch e.Kind {
	case unstable.Table:
		name, line := w.keyOf(e)
		w.prefix, w.elem = name, name
		w.badTable = false
		switch {
		case w.arrays[name]:
			w.fail(line, name, "%q is an array of tables: write [[%s]]", name, name)
		case !w.tables[name]:
			w.failTable(line, name)
		}
		if prev, dup := w.headers[name]; dup {
			w.fail(line, name, "table %q is defined twice (first at line %d)", name, prev)
		}
		w.headers[name] = line
	case unstable.ArrayTable:
		name, line := w.keyOf(e)
		w.badTable = false
		if !w.arrays[name] {
			if w.tables[name] {
				w.fail(line, name, "%q is a table: write [%s]", name, name)
			} else {
				w.failTable(line, name)
			}
		}
		if w.count == nil {
			w.count = map[string]int{}
		}
		w.count[name]++
		w.prefix = name + "[]"
		w.elem = fmt.Sprintf("%s[%d]", name, w.count[name])
	case unstable.KeyValue:
		key, line := w.keyOf(e)
		full, inst := key, key
		if w.prefix != "" {
			full, inst = w.prefix+"."+key, w.elem+"."+key
		}
		shown := strings.ReplaceAll(full, "[]", "")
		k, ok := w.byName[full]
		if !ok && w.badTable {
			return // the table's error covers its keys
		}
		if !ok {
			if near := w.nearestKey(full); near != "" {
				w.fail(line, shown, "unknown key %q; did you mean %q?", shown, near)
			} else {
				w.fail(line, shown, "unknown key %q", shown)
			}
			return
		}
		if prev, dup := w.seen[inst]; dup {
			w.fail(line, shown, "key %q is set twice (first at line %d)", shown, prev)
			return
		}
		w.seen[inst] = line
		vals, err := value(e.Value(), k.Kind)
		if err != nil {
			w.fail(line, shown, "key %q: %v", shown, err)
			return
		}
		if k.Check != nil {
			for _, v := range vals {
				if err := k.Check(v); err != nil {
					w.fail(line, shown, "key %q: bad value %q: %v", shown, v, err)
					return
				}
			}
		}
		w.out = append(w.out, Setting{Key: k.Name, Flag: k.Flag, Values: vals, Line: line})
	}
}

func kindName(n *unstable.Node) string {
	switch n.Kind {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return "a table"
	}
	return "a date or time"
}

// value converts a value node to flag syntax.
func value(n *unstable.Node, kind Kind) ([]string, error) {
	mismatch := func() error { return fmt.Errorf("want %s, got %s", kind, kindName(n)) }
	switch kind {
	case String, Duration:
		if n.Kind != unstable.String {
			return nil, mismatch()
		}
		s := string(n.Data)
		if kind == Duration {
			if _, err := time.ParseDuration(s); err != nil {
				return nil, fmt.Errorf("bad duration %q (want something like \"500ms\", \"5s\" or \"1m\")", s)
			}
		}
		return []string{s}, nil
	case Int:
		if n.Kind != unstable.Integer {
			return nil, mismatch()
		}
		// Base 0 reads TOML's 0x/0o/0b prefixes and '_' separators.
		v, err := strconv.ParseInt(string(n.Data), 0, 64)
		if err != nil {
			return nil, fmt.Errorf("bad integer %s", n.Data)
		}
		return []string{strconv.FormatInt(v, 10)}, nil
	case Bool:
		if n.Kind != unstable.Bool {
			return nil, mismatch()
		}
		return []string{string(n.Data)}, nil
	case Size:
		switch n.Kind {
		case unstable.Integer:
			return value(n, Int)
		case unstable.String:
			return []string{string(n.Data)}, nil
		}
		return nil, mismatch()
	case List, CSV:
		if n.Kind != unstable.Array {
			return nil, mismatch()
		}
		var out []string
		it := n.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind != unstable.String {
				return nil, fmt.Errorf("want an array of strings, got an element that is %s", kindName(c))
			}
			s := string(c.Data)
			if kind == CSV && strings.Contains(s, ",") {
				return nil, fmt.Errorf("element %q holds a comma", s)
			}
			out = append(out, s)
		}
		if kind == CSV {
			return []string{strings.Join(out, ",")}, nil
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported kind %d", kind)
}

// nearestKey is the known key a mistyped one most likely meant, or "".
func (w *walker) nearestKey(full string) string {
	var names []string
	for name := range w.byName {
		names = append(names, name)
	}
	sort.Strings(names) // the same answer every time
	if near := suggest.Nearest(full, names); near != "" {
		return strings.ReplaceAll(near, "[]", "")
	}
	// A key put in the wrong table ("state" at the top, meant for
	// inputs.follow): the one key of that name elsewhere.
	last := full[strings.LastIndexByte(full, '.')+1:]
	var same []string
	for _, name := range names {
		if name[strings.LastIndexByte(name, '.')+1:] == last {
			same = append(same, name)
		}
	}
	if len(same) == 1 {
		return strings.ReplaceAll(same[0], "[]", "")
	}
	return ""
}

// failTable reports an unknown table, with the known one it most likely
// meant, and marks its keys as covered by this one error.
func (w *walker) failTable(line int, name string) {
	w.badTable = true
	var names []string
	for t := range w.tables {
		names = append(names, t)
	}
	for t := range w.arrays {
		names = append(names, t)
	}
	sort.Strings(names)
	if near := suggest.Nearest(name, names); near != "" {
		w.fail(line, name, "unknown table %q; did you mean %q?", name, near)
		return
	}
	w.fail(line, name, "unknown table %q", name)
}
