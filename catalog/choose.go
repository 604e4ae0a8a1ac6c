package catalog

import "fmt"

// DefaultPreference is the source order used when the configuration does not
// give one. The Server Error table comes first because it is the
// authoritative description of the codes the JMessage server returns, and
// those are the only codes the built-in documents disagree on. The IM
// document describes the same server codes, more tersely and sometimes
// differently, so it comes second. The Android and iOS tables hold codes
// raised only inside those SDKs, which no other table documents; they are
// listed so that the order is complete. A new slice is returned on every call
// so callers may modify it.
func DefaultPreference() []string {
	return []string{"sdk/server", "im/im", "sdk/android", "sdk/ios"}
}

// Choice is the single wording an annotator uses for a code, together with
// the source it is attributed to so that the annotation can say where the
// text came from.
type Choice struct {
	Code    string
	Message string
	Meaning string
	Source  string // best-ranked source ID of the chosen variant
}

// Choose resolves the catalog's disagreements once, up front, so that
// annotating a line is a plain map lookup and every occurrence of a code is
// annotated the same way.
//
// For every entry, in code order, it picks the variant cited by the source
// ranked best in order; when two variants share that source the earlier
// variant wins. Sources missing from order rank after all listed ones, in
// catalog order, so a partial preference still yields a choice for every
// code. An order naming an unknown source or naming one twice is rejected:
// both are almost certainly configuration mistakes that would otherwise
// silently change which text is used.
func (c *Catalog) Choose(order []string) ([]Choice, error) {
	rank := make(map[string]int, len(c.sources))
	for i, id := range order {
		if _, ok := c.sourceIndex[id]; !ok {
			return nil, fmt.Errorf("catalog: preference names unknown source %q", id)
		}
		if _, dup := rank[id]; dup {
			return nil, fmt.Errorf("catalog: preference names source %q twice", id)
		}
		rank[id] = i
	}
	next := len(order)
	for _, s := range c.sources {
		if _, ok := rank[s.ID]; !ok {
			rank[s.ID] = next
			next++
		}
	}
	if len(c.entries) == 0 {
		return nil, nil
	}
	out := make([]Choice, 0, len(c.entries))
	for _, e := range c.entries {
		best, bestRank, bestSource := -1, 0, ""
		for i, v := range e.Variants {
			for _, id := range v.Sources {
				if r := rank[id]; best < 0 || r < bestRank {
					best, bestRank, bestSource = i, r, id
				}
			}
		}
		v := e.Variants[best]
		out = append(out, Choice{Code: e.Code, Message: v.Message, Meaning: v.Meaning, Source: bestSource})
	}
	return out, nil
}
