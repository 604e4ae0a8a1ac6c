package annotate

import (
	"fmt"

	"github.com/annotator-dev/annotator/catalog"
	"github.com/annotator-dev/annotator/matcher"
)

// FromCatalog builds an annotator for every code of c, each annotated with
// the variant the preference order picks (nil order: the default). With
// opts.Count, the numbers the catalog lacks are counted too.
func FromCatalog(c *catalog.Catalog, prefer []string, engine matcher.Engine, opts Options) (*Annotator, error) {
	if prefer == nil {
		prefer = catalog.DefaultPreference()
	}
	choices, err := c.Choose(prefer)
	if err != nil {
		return nil, fmt.Errorf("preference order: %w", err)
	}
	keys := make([]string, len(choices))
	notes := make([]Note, len(choices))
	for i, ch := range choices {
		keys[i] = ch.Code
		notes[i] = Note{Code: ch.Code, Message: ch.Message, Meaning: ch.Meaning, Source: ch.Source}
	}
	build := matcher.New
	if opts.Count {
		build = matcher.NewWithUnknown
	}
	m, err := build(keys, engine)
	if err != nil {
		return nil, fmt.Errorf("matcher: %w", err)
	}
	return New(m, notes, opts)
}
