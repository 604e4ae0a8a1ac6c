//go:build !amd64

package annotate

func indexEscape(b []byte) int { return indexEscapeGeneric(b) }

func escapeQuotes(dst, src []byte) (w, r int) { return escapeQuotesGeneric(dst, src) }
