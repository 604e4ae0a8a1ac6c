package annotate

// indexEscape is indexEscapeGeneric in SSE2 assembly.
//
//go:noescape
func indexEscape(b []byte) int
