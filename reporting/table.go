package reporting

import (
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// table lays out columns by the width text takes on a terminal, not by
// bytes or runes: a Chinese character takes two columns, a combining mark
// none. text/tabwriter counts runes, which skews every column after one
// holding Chinese text.
type table struct {
	header []string
	right  []bool // per column: align to the right (numbers)
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(b *strings.Builder) {
	widths := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], Width(c))
		}
	}
	// The last column is never padded: no trailing blanks.
	last := len(widths) - 1
	for last > 0 && widths[last] == 0 {
		last--
	}
	var line strings.Builder
	for _, r := range append([][]string{t.header}, t.rows...) {
		line.Reset()
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-Width(c))
			if i < len(t.right) && t.right[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
			line.WriteString("  ")
		}
		// No blanks at the end of a row, whatever its last cells hold.
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
}

// Width is the number of terminal columns s takes: two for East Asian
// wide and full-width characters, none for combining marks and control
// characters, one otherwise.
func Width(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Me, r), unicode.IsControl(r), r == '\u200b':
		default:
			switch width.LookupRune(r).Kind() {
			case width.EastAsianWide, width.EastAsianFullwidth:
				n += 2
			default:
				n++
			}
		}
	}
	return n
}
