//go:build !amd64

package matcher

func wordStart8(b []byte) int { return wordStart8Generic(b) }
