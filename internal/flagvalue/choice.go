package flagvalue

import (
	"fmt"
	"slices"
	"strings"
)

// Choice is a word from a fixed list (a format, a log level, a codec).
// Every such setting is one Choice, so a wrong word gets the same message
// whichever it is: `--format "xml": want text, json or merge` on the
// command line, and the same words for the config file's key.
type Choice struct {
	V     *string
	Words []string // "" among them: the setting may be left empty
}

// NewChoice sets *p to def and returns the flag value taking one of words.
func NewChoice(p *string, def string, words ...string) *Choice {
	*p = def
	return &Choice{V: p, Words: words}
}

func (f *Choice) String() string {
	if f == nil || f.V == nil {
		return ""
	}
	return *f.V
}

// Set implements flag.Value.
func (f *Choice) Set(s string) error {
	if err := f.Check(s); err != nil {
		return err
	}
	*f.V = s
	return nil
}

// Check validates s without setting anything.
func (f *Choice) Check(s string) error {
	if slices.Contains(f.Words, s) {
		return nil
	}
	return fmt.Errorf("want %s", Words(f.Words))
}

// Words lists words as a sentence does: "a, b or c" (an empty word,
// meaning "not set", is left out).
func Words(words []string) string {
	var w []string
	for _, s := range words {
		if s != "" {
			w = append(w, s)
		}
	}
	switch len(w) {
	case 0:
		return ""
	case 1:
		return w[0]
	}
	return strings.Join(w[:len(w)-1], ", ") + " or " + w[len(w)-1]
}
