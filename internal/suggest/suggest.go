// Package suggest finds the name a mistyped word most likely meant, for
// "did you mean" in the command line's and the config file's errors.
package suggest

// Nearest returns the candidate closest to word, or "" when none is
// close: at most one edit for words of up to four letters, two for
// longer ones, and no guess for a single letter.
func Nearest(word string, candidates []string) string {
	if len(word) <= 1 {
		return "" // one letter is one edit from every other letter
	}
	limit := 1
	if len(word) > 4 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		if d := Distance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Distance is the Levenshtein distance, with a swap of two adjacent
// letters counting as one edit ("lokoup", "stast").
func Distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
