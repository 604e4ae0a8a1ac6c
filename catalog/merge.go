package catalog

import (
	"errors"
	"fmt"
)

// Merge layers overlay on top of c and returns the result as a new catalog;
// neither input changes. It exists so that users can correct or extend the
// built-in catalog with their own entries without editing the generated
// file.
//
// An overlay entry replaces the whole entry of the same code, variants and
// all, rather than adding to it: an overlay is a statement of what the code
// means, and mixing its wording with the documents' would bring back the
// ambiguity the overlay was written to remove. Codes only the overlay knows
// are added.
//
// Sources are combined, c's first. The same ID with two different names is
// an error, because it would make an annotation's attribution ambiguous.
// Sources of c whose entries were all replaced are kept, so a preference
// order that worked for c keeps working for the result.
func (c *Catalog) Merge(overlay *Catalog) (*Catalog, error) {
	if overlay == nil {
		return nil, errors.New("catalog: merge with a nil overlay")
	}
	sources := append([]Source(nil), c.sources...)
	for _, s := range overlay.sources {
		if i, ok := c.sourceIndex[s.ID]; ok {
			if c.sources[i].Name != s.Name {
				return nil, fmt.Errorf("catalog: merge: source %q is named %q in the base catalog and %q in the overlay", s.ID, c.sources[i].Name, s.Name)
			}
			continue
		}
		sources = append(sources, s)
	}
	entries := make([]Entry, 0, len(c.entries)+len(overlay.entries))
	for _, e := range c.entries {
		if _, replaced := overlay.entryIndex[e.Code]; !replaced {
			entries = append(entries, e)
		}
	}
	entries = append(entries, overlay.entries...)
	m, err := build(sources, entries)
	if err != nil {
		return nil, fmt.Errorf("catalog: merge: %w", err)
	}
	return m, nil
}
