package matcher

// wordStart8 is wordStart8Generic in SSE2 assembly.
//
//go:noescape
func wordStart8(b []byte) int
