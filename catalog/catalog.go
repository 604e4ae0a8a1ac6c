// Package catalog holds the documented meaning of error codes, so that a log
// line carrying a bare code such as 898002 can be annotated with what the
// vendor says it means.
//
// The built-in catalog covers the JMessage (JPush IM) error codes. It is
// generated from copies of the published documents in sources/ rather than
// typed in by hand, so that every message can be traced back to the table it
// came from and re-checked when a document changes. The documents overlap and
// sometimes contradict each other; instead of deciding once and for all which
// one is right, the catalog keeps every distinct wording as a Variant together
// with the tables that use it, and leaves the decision to Choose, which the
// caller drives with an explicit source preference.
//
// A Catalog never changes after construction: every accessor hands out
// copies. That lets one catalog be shared by concurrent annotators without
// locking, and lets Merge build custom catalogs on top of the built-in one
// without affecting other users of it.
package catalog

//go:generate go run ./internal/gen

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// builtinJSON is a string rather than a []byte so that the embedded data is
// immutable and the package has no mutable global state.
//
//go:embed jmessage.json
var builtinJSON string

// Source identifies where a variant's text was documented. IDs are short and
// stable so that preference orders can name them in configuration; names are
// for people reading reports.
type Source struct {
	ID   string
	Name string
}

// Variant is one wording of a code's documentation. Sources lists every
// source that uses exactly this wording, so that agreement between documents
// stays visible and a preference order can still find the variant through
// any of them.
type Variant struct {
	Message string   // English error message as documented; may be empty
	Meaning string   // Chinese explanation as documented
	Sources []string // source IDs, in catalog source order
}

// Entry gathers every documented variant of one code.
type Entry struct {
	Code     string
	Variants []Variant
}

// Catalog is an immutable set of entries and the sources they cite. It is
// safe for concurrent use. The zero value is an empty catalog.
type Catalog struct {
	sources     []Source
	sourceIndex map[string]int // source ID -> position in sources
	entries     []Entry        // sorted by Code
	entryIndex  map[string]int // code -> position in entries
}

// Builtin returns the JMessage catalog generated from the documents in
// sources/. It decodes the embedded JSON on every call instead of caching the
// result: decoding takes well under a millisecond, callers normally do it
// once at start-up, and not caching keeps the package free of global state.
// An error means the embedded file is damaged, which the package tests
// catch before release.
func Builtin() (*Catalog, error) {
	return decode(strings.NewReader(builtinJSON))
}

// file mirrors the JSON layout written by the generator.
type file struct {
	Sources []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"sources"`
	Entries []struct {
		Code     string `json:"code"`
		Variants []struct {
			Message string   `json:"message"`
			Meaning string   `json:"meaning"`
			Sources []string `json:"sources"`
		} `json:"variants"`
	} `json:"entries"`
}

func decode(r io.Reader) (*Catalog, error) {
	dec := json.NewDecoder(r)
	// Unknown fields mean the generator and this decoder disagree about the
	// layout; failing is better than silently dropping data.
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("catalog: decoding built-in catalog: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("catalog: decoding built-in catalog: trailing data after the JSON object")
	}
	sources := make([]Source, len(f.Sources))
	for i, s := range f.Sources {
		sources[i] = Source{ID: s.ID, Name: s.Name}
	}
	entries := make([]Entry, len(f.Entries))
	for i, e := range f.Entries {
		vs := make([]Variant, len(e.Variants))
		for j, v := range e.Variants {
			vs[j] = Variant{Message: v.Message, Meaning: v.Meaning, Sources: v.Sources}
		}
		entries[i] = Entry{Code: e.Code, Variants: vs}
	}
	c, err := build(sources, entries)
	if err != nil {
		return nil, fmt.Errorf("catalog: built-in catalog: %w", err)
	}
	return c, nil
}

// New builds a catalog from caller-supplied data, copying it so that later
// changes to the arguments cannot reach the catalog.
//
// Codes are arbitrary non-empty strings, not only JMessage's six digits, so
// that custom catalogs can describe other kinds of error identifiers (for
// example "ECONNRESET"). What New insists on is what the rest of the package
// relies on: codes are unique, so Lookup is unambiguous; every variant cites
// at least one known source, so Choose can rank it and a report can say
// where the text came from; and source IDs are unique and non-empty, so a
// preference order means one thing. An entry also needs at least one
// variant, or Choose would have nothing to pick, and may not repeat a
// wording, since the sources of one wording belong in one variant.
//
// The order of sources and of each entry's variants is kept: it is the
// tie-breaker Choose falls back on. Variant sources are put in source order.
// Entries are sorted by code.
func New(sources []Source, entries []Entry) (*Catalog, error) {
	c, err := build(sources, entries)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return c, nil
}

func build(sources []Source, entries []Entry) (*Catalog, error) {
	return buildFrom(sources, entries, false)
}

// buildFrom is build. With fresh, the entries, their variants and the
// variants' source lists were made for this catalog alone and their codes
// are known to be distinct (a custom file's rows, checked with their line
// numbers): they are kept and sorted in place rather than copied, and
// the codes are not checked again. A custom catalog of 10,000 codes is
// built at every start; the copies and the second set of codes were a
// third of the time it took.
func buildFrom(sources []Source, entries []Entry, fresh bool) (*Catalog, error) {
	c := &Catalog{
		sources:     make([]Source, len(sources)),
		sourceIndex: make(map[string]int, len(sources)),
		entryIndex:  make(map[string]int, len(entries)),
	}
	for i, s := range sources {
		if s.ID == "" {
			return nil, fmt.Errorf("source %d has an empty ID", i)
		}
		if _, dup := c.sourceIndex[s.ID]; dup {
			return nil, fmt.Errorf("source ID %q is listed twice", s.ID)
		}
		c.sources[i] = s
		c.sourceIndex[s.ID] = i
	}
	// Copies of the variants and their sources are cut from one array
	// each rather than allocated entry by entry.
	var allVariants []Variant
	var allSources []string
	var seen map[string]bool
	if !fresh {
		nv, ns := 0, 0
		for _, e := range entries {
			nv += len(e.Variants)
			for _, v := range e.Variants {
				ns += len(v.Sources)
			}
		}
		allVariants, allSources = make([]Variant, 0, nv), make([]string, 0, ns)
		seen = make(map[string]bool, len(entries))
		c.entries = make([]Entry, 0, len(entries))
	}
	for i, e := range entries {
		if e.Code == "" {
			return nil, fmt.Errorf("entry %d has an empty code", i)
		}
		if seen != nil {
			if seen[e.Code] {
				return nil, fmt.Errorf("code %q is listed twice", e.Code)
			}
			seen[e.Code] = true
		}
		if len(e.Variants) == 0 {
			return nil, fmt.Errorf("code %q has no variants", e.Code)
		}
		// A custom catalog can hold 100,000 codes, nearly all with one
		// variant from one source: the checks across variants and sources
		// build their sets only when there are several.
		type wording struct{ message, meaning string }
		var wordings map[wording]bool
		if len(e.Variants) > 1 {
			wordings = make(map[wording]bool, len(e.Variants))
		}
		vs := e.Variants
		if !fresh {
			vs = allVariants[len(allVariants) : len(allVariants)+len(e.Variants) : len(allVariants)+len(e.Variants)]
			allVariants = allVariants[:len(allVariants)+len(e.Variants)]
		}
		for j, v := range e.Variants {
			if wordings != nil {
				w := wording{v.Message, v.Meaning}
				if wordings[w] {
					return nil, fmt.Errorf("code %q: variant %d repeats the wording of an earlier variant", e.Code, j+1)
				}
				wordings[w] = true
			}
			if len(v.Sources) == 0 {
				return nil, fmt.Errorf("code %q: variant %d cites no source", e.Code, j+1)
			}
			srcs := v.Sources
			if !fresh {
				srcs = allSources[len(allSources) : len(allSources)+len(v.Sources) : len(allSources)+len(v.Sources)]
				allSources = allSources[:len(allSources)+len(v.Sources)]
			}
			var cited map[string]bool
			if len(v.Sources) > 1 {
				cited = make(map[string]bool, len(v.Sources))
			}
			for k, id := range v.Sources {
				if _, ok := c.sourceIndex[id]; !ok {
					return nil, fmt.Errorf("code %q: variant %d cites unknown source %q", e.Code, j+1, id)
				}
				if cited != nil {
					if cited[id] {
						return nil, fmt.Errorf("code %q: variant %d cites source %q twice", e.Code, j+1, id)
					}
					cited[id] = true
				}
				srcs[k] = id
			}
			if len(srcs) > 1 {
				sort.SliceStable(srcs, func(a, b int) bool { return c.sourceIndex[srcs[a]] < c.sourceIndex[srcs[b]] })
			}
			vs[j] = Variant{Message: v.Message, Meaning: v.Meaning, Sources: srcs}
		}
		if !fresh {
			c.entries = append(c.entries, Entry{Code: e.Code, Variants: vs})
		}
	}
	if fresh {
		c.entries = entries
	}
	slices.SortFunc(c.entries, func(a, b Entry) int { return strings.Compare(a.Code, b.Code) })
	for i, e := range c.entries {
		c.entryIndex[e.Code] = i
	}
	return c, nil
}

// copyEntry deep-copies e so that callers can modify what they get without
// breaking the catalog's immutability.
func copyEntry(e Entry) Entry {
	vs := make([]Variant, len(e.Variants))
	for i, v := range e.Variants {
		v.Sources = append([]string(nil), v.Sources...)
		vs[i] = v
	}
	return Entry{Code: e.Code, Variants: vs}
}

// Entries returns a copy of every entry, sorted by code in byte order so that
// output built from it is reproducible.
func (c *Catalog) Entries() []Entry {
	if len(c.entries) == 0 {
		return nil
	}
	out := make([]Entry, len(c.entries))
	for i, e := range c.entries {
		out[i] = copyEntry(e)
	}
	return out
}

// Lookup returns a copy of the entry for code. Codes are matched exactly:
// normalising them is the caller's business, because what counts as the
// same code differs between catalogs.
func (c *Catalog) Lookup(code string) (Entry, bool) {
	i, ok := c.entryIndex[code]
	if !ok {
		return Entry{}, false
	}
	return copyEntry(c.entries[i]), true
}

// Sources returns a copy of the catalog's sources in catalog order, which is
// the order Choose falls back on for sources a preference does not mention.
func (c *Catalog) Sources() []Source {
	if len(c.sources) == 0 {
		return nil
	}
	return append([]Source(nil), c.sources...)
}
