package annotate

// escapeQuotesGeneric copies src into dst's spare room (dst[:cap(dst)]),
// escaping '"' and '\\', while sixteen bytes or more of src are left and
// the room holds 32 bytes more, and stops at a byte that needs another
// escape. It returns the bytes written and read. The assembly does the
// same sixteen bytes a step, so it may stop a few bytes later: callers
// go on from wherever it stopped.
func escapeQuotesGeneric(dst, src []byte) (w, r int) {
	dst = dst[:cap(dst)]
	for r+16 <= len(src) && w+32 <= len(dst) {
		c := src[r]
		switch {
		case c == '"' || c == '\\':
			dst[w], dst[w+1] = '\\', c
			w += 2
		case c >= 0x20 && c < 0x80:
			dst[w] = c
			w++
		default:
			return w, r
		}
		r++
	}
	return w, r
}
