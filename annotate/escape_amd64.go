package annotate

// indexEscape is indexEscapeGeneric in SSE2 assembly.
//
//go:noescape
func indexEscape(b []byte) int

// escapeQuotes is escapeQuotesGeneric in SSE2 assembly, sixteen bytes a
// step.
//
//go:noescape
func escapeQuotes(dst, src []byte) (w, r int)
