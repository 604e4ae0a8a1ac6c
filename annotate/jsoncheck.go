package annotate

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// maxDepth is the deepest nesting a JSON object line may have and still
// count as JSON; it is encoding/json's limit, so a line classified as one
// object is one that Go's decoder (and json.Valid) accepts.
const maxDepth = 10000

type jsonState uint8

const (
	jStart     jsonState = iota // before the object: white space, then '{'
	jValue                      // a value is due
	jObjFirst                   // after '{': a key or '}'
	jArrFirst                   // after '[': a value or ']'
	jKey                        // after ',' in an object: a key
	jColon                      // after a key
	jAfter                      // after a value: ',' or the container's close
	jStr                        // inside a string
	jStrEsc                     // after a backslash in a string
	jStrHex                     // inside \uXXXX
	jNeg                        // after '-': a digit is due
	jZero                       // a number's leading 0
	jInt                        // a number's integer digits
	jDot                        // after '.': a digit is due
	jFrac                       // fraction digits
	jExp                        // after 'e': a sign or digit is due
	jExpSign                    // after the exponent's sign: a digit is due
	jExpDigits                  // exponent digits
	jLit                        // inside true, false or null
	jDone                       // the object has closed: only white space may follow
	jBad                        // not one JSON object
)

// jsonObject decides, a piece at a time, whether a line is exactly one
// JSON object with nothing but white space around it, so that a line of
// any length can be judged with a few bytes of state while its pieces
// stream out. It also notes which of the candidate field names the
// object already has at its top level, and whether it has any member.
type jsonObject struct {
	state   jsonState
	inKey   bool // the string being read is an object key
	lit     string
	hex     uint8
	depth   int
	objects [maxDepth/64 + 1]uint64 // bit per level: an object (1) or an array (0)
	members bool                    // the top-level object has a member

	// The raw bytes of the top-level key being read, while short enough
	// to be one of the names.
	names   [][]byte
	keyCap  int
	key     []byte
	keyOver bool
	taken   uint8 // bit i: names[i] is a top-level key
}

// reset prepares for a new line, keeping buffers.
func (j *jsonObject) reset() {
	j.state = jStart
	j.inKey = false
	j.depth = 0
	j.members = false
	j.key = j.key[:0]
	j.keyOver = false
	j.taken = 0
}

// ok reports whether everything fed so far is one complete JSON object.
func (j *jsonObject) ok() bool { return j.state == jDone }

// fail gives up on the line: it is not to be treated as an object.
func (j *jsonObject) fail() { j.state = jBad }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// feed reads the next bytes of the line.
func (j *jsonObject) feed(b []byte) {
	st := j.state
	if st == jBad {
		return
	}
	i := 0
	for i < len(b) {
		c := b[i]
		switch st {
		case jStr:
			// Plain bytes are skipped eight at a time; a top-level key's are
			// kept, as far as one of the names could reach.
			k := skipStringBody(b, i)
			top := j.inKey && j.depth == 1
			if top {
				j.keyBytes(b[i:k])
			}
			if i = k; i == len(b) {
				continue
			}
			switch c = b[i]; {
			case c == '"' && j.inKey:
				if top {
					j.endKey()
				}
				st = jColon
			case c == '"':
				st = jAfter
			case c == '\\':
				if top {
					j.keyByte(c)
				}
				st = jStrEsc
			default: // a control byte
				st = jBad
			}
		case jStrEsc:
			j.keyByteIfTop(c)
			switch c {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				st = jStr
			case 'u':
				st, j.hex = jStrHex, 4
			default:
				st = jBad
			}
		case jStrHex:
			j.keyByteIfTop(c)
			if !isHex(c) {
				st = jBad
				break
			}
			if j.hex--; j.hex == 0 {
				st = jStr
			}
		case jStart:
			switch {
			case c == '{':
				st = j.push(true, jObjFirst)
			case !isSpace(c):
				st = jBad
			}
		case jValue:
			st = j.value(c)
		case jArrFirst:
			switch {
			case c == ']':
				st = j.pop()
			case !isSpace(c):
				st = j.value(c)
			}
		case jObjFirst:
			switch {
			case c == '"':
				st = j.startKey()
			case c == '}':
				st = j.pop()
			case !isSpace(c):
				st = jBad
			}
		case jKey:
			switch {
			case c == '"':
				st = j.startKey()
			case !isSpace(c):
				st = jBad
			}
		case jColon:
			switch {
			case c == ':':
				st = jValue
			case !isSpace(c):
				st = jBad
			}
		case jAfter:
			st = j.after(c)
		case jNeg:
			switch {
			case c == '0':
				st = jZero
			case '1' <= c && c <= '9':
				st = jInt
			default:
				st = jBad
			}
		case jZero, jInt, jFrac, jExpDigits:
			switch {
			case '0' <= c && c <= '9' && st != jZero:
			case c == '.' && (st == jZero || st == jInt):
				st = jDot
			case (c == 'e' || c == 'E') && st != jExpDigits:
				st = jExp
			default:
				// The number has ended: this byte follows a value.
				st = j.after(c)
			}
		case jDot:
			if '0' <= c && c <= '9' {
				st = jFrac
			} else {
				st = jBad
			}
		case jExp:
			switch {
			case c == '+' || c == '-':
				st = jExpSign
			case '0' <= c && c <= '9':
				st = jExpDigits
			default:
				st = jBad
			}
		case jExpSign:
			if '0' <= c && c <= '9' {
				st = jExpDigits
			} else {
				st = jBad
			}
		case jLit:
			if c != j.lit[0] {
				st = jBad
				break
			}
			if j.lit = j.lit[1:]; j.lit == "" {
				st = jAfter
			}
		case jDone:
			if !isSpace(c) {
				st = jBad
			}
		}
		if st == jBad {
			break
		}
		i++
	}
	j.state = st
}

// value starts the value whose first byte is c (or skips white space).
func (j *jsonObject) value(c byte) jsonState {
	switch {
	case c == '{':
		return j.push(true, jObjFirst)
	case c == '[':
		return j.push(false, jArrFirst)
	case c == '"':
		j.inKey = false
		return jStr
	case c == '-':
		return jNeg
	case c == '0':
		return jZero
	case '1' <= c && c <= '9':
		return jInt
	case c == 't':
		j.lit = "rue"
		return jLit
	case c == 'f':
		j.lit = "alse"
		return jLit
	case c == 'n':
		j.lit = "ull"
		return jLit
	case isSpace(c):
		return jValue
	}
	return jBad
}

// after handles byte c following a complete value.
func (j *jsonObject) after(c byte) jsonState {
	if isSpace(c) {
		return jAfter
	}
	inObject := j.objects[(j.depth-1)/64]&(1<<((j.depth-1)%64)) != 0
	switch {
	case c == ',' && inObject:
		return jKey
	case c == ',':
		return jValue
	case c == '}' && inObject, c == ']' && !inObject:
		return j.pop()
	}
	return jBad
}

func (j *jsonObject) push(object bool, next jsonState) jsonState {
	if j.depth == maxDepth {
		return jBad
	}
	w, bit := j.depth/64, uint64(1)<<(j.depth%64)
	if object {
		j.objects[w] |= bit
	} else {
		j.objects[w] &^= bit
	}
	j.depth++
	return next
}

func (j *jsonObject) pop() jsonState {
	j.depth--
	if j.depth == 0 {
		return jDone
	}
	return jAfter
}

func (j *jsonObject) startKey() jsonState {
	j.inKey = true
	if j.depth == 1 {
		j.members = true
		j.key = j.key[:0]
		j.keyOver = false
	}
	return jStr
}

func (j *jsonObject) keyByteIfTop(c byte) {
	if j.inKey && j.depth == 1 {
		j.keyByte(c)
	}
}

func (j *jsonObject) keyBytes(b []byte) {
	if j.keyOver {
		return
	}
	if len(j.key)+len(b) > j.keyCap {
		j.keyOver = true
		return
	}
	j.key = append(j.key, b...)
}

func (j *jsonObject) keyByte(c byte) {
	if j.keyOver {
		return
	}
	if len(j.key) >= j.keyCap {
		j.keyOver = true
		return
	}
	j.key = append(j.key, c)
}

// endKey notes a top-level key that is one of the names. Keys are
// compared as a decoder reads them, escapes resolved.
func (j *jsonObject) endKey() {
	if j.keyOver {
		return
	}
	key := j.key
	if bytes.IndexByte(key, '\\') >= 0 {
		var s string
		quoted := append(append([]byte{'"'}, key...), '"')
		if json.Unmarshal(quoted, &s) != nil {
			return // the state machine rejects the escape itself
		}
		key = []byte(s)
	}
	for i, name := range j.names {
		if bytes.Equal(key, name) {
			j.taken |= 1 << i
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipStringBody returns the index of the first byte at or after i that
// ends a run of plain string bytes: '"', a backslash or a control byte
// (len(b) if none). Plain bytes are skipped eight at a time.
func skipStringBody(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := stringSpecial(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return i
}

// stringSpecial sets the high bit of each byte of w that is '"', a
// backslash or below 0x20; bytes of 0x80 and above are plain: what
// needsEscape marks, less the bytes with their own high bit set.
func stringSpecial(w uint64) uint64 {
	return needsEscape(w) &^ w
}
