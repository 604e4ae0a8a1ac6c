//go:build !amd64

package annotate

func indexEscape(b []byte) int { return indexEscapeGeneric(b) }
