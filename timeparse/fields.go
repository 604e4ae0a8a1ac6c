package timeparse

import (
	"bytes"
	"time"
)

// timeKeys are the fields structured loggers put the time in, in the
// order they are looked for: zap and log15 ("ts", "t"), logrus, zerolog
// and slog ("time"), Logstash and ECS ("@timestamp"), many others
// ("timestamp").
var timeKeys = []string{"ts", "time", "timestamp", "@timestamp", "t"}

// Epoch times outside these bounds are taken for some other number (a
// duration, a count) that happens to sit in a field named "t".
var (
	minEpoch = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEpoch = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// jsonTime reads the time field of a JSON object line: an ISO string or
// epoch seconds, milliseconds, microseconds or nanoseconds (a number or a
// string of digits). The object is not decoded: only the keys are looked
// for, wherever they sit (logrus writes "time" last).
func jsonTime(b []byte, loc *time.Location) (time.Time, bool) {
	for _, k := range timeKeys {
		for from := 0; from < len(b); {
			i := indexKey(b[from:], k)
			if i < 0 {
				break
			}
			at := from + i
			from = at + len(k) + 2
			// A key follows '{' or ','; the same word inside a string value
			// is not one.
			p := at - 1
			for p >= 0 && isSpace(b[p]) {
				p--
			}
			if p < 0 || (b[p] != '{' && b[p] != ',') {
				continue
			}
			v := b[from:]
			v = bytes.TrimLeft(v, " \t")
			if len(v) == 0 || v[0] != ':' {
				continue
			}
			v = bytes.TrimLeft(v[1:], " \t")
			if len(v) > 0 && v[0] == '"' {
				end := bytes.IndexByte(v[1:], '"')
				if end < 0 {
					continue
				}
				if t, ok := value(v[1:1+end], loc); ok {
					return t, true
				}
				continue
			}
			if t, ok := epoch(v); ok {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// indexKey finds `"k"` in b.
func indexKey(b []byte, k string) int {
	for from := 0; ; {
		i := bytes.Index(b[from:], []byte(k))
		if i < 0 {
			return -1
		}
		at := from + i
		if at > 0 && b[at-1] == '"' && at+len(k) < len(b) && b[at+len(k)] == '"' {
			return at - 1
		}
		from = at + 1
	}
}

// logfmtTime reads `ts=...`, `time="..."` and the like, anywhere in the
// line: a key starts the line or follows a blank.
func logfmtTime(b []byte, loc *time.Location) (time.Time, bool) {
	for _, k := range timeKeys {
		key := k + "="
		for from := 0; from < len(b); {
			i := bytes.Index(b[from:], []byte(key))
			if i < 0 {
				break
			}
			at := from + i
			from = at + len(key)
			if at > 0 && !isSpace(b[at-1]) {
				continue
			}
			v := b[from:]
			if len(v) > 0 && v[0] == '"' {
				end := bytes.IndexByte(v[1:], '"')
				if end < 0 {
					continue
				}
				v = v[1 : 1+end]
			} else if end := bytes.IndexAny(v, " \t\r\n"); end >= 0 {
				v = v[:end]
			}
			if t, ok := value(v, loc); ok {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// value reads a field's value: a timestamp that starts it, or digits of
// an epoch time.
func value(v []byte, loc *time.Location) (time.Time, bool) {
	if len(v) == 0 || !isDigit(v[0]) {
		return time.Time{}, false
	}
	if t, _, ok := digitsAt(v, loc); ok {
		return t, true
	}
	return epoch(v)
}

// epoch reads a number of seconds, milliseconds, microseconds or
// nanoseconds since 1970, told apart by their size (seconds reach 10^11
// only in the year 5138), with an optional fraction.
func epoch(v []byte) (time.Time, bool) {
	n, i := int64(0), 0
	for i < len(v) && isDigit(v[i]) {
		if i >= 19 {
			return time.Time{}, false
		}
		n = n*10 + int64(v[i]-'0')
		i++
	}
	if i == 0 {
		return time.Time{}, false
	}
	frac, _ := fraction(v[i:])
	if i < len(v) && v[i] == ',' {
		frac = 0 // a comma ends a JSON number, it starts no fraction
	}
	var t time.Time
	switch {
	case n >= 1e17:
		t = time.Unix(0, n)
	case n >= 1e14:
		t = time.UnixMicro(n).Add(time.Duration(frac / 1e6))
	case n >= 1e11:
		t = time.UnixMilli(n).Add(time.Duration(frac / 1e3))
	default:
		t = time.Unix(n, int64(frac))
	}
	t = t.UTC()
	if t.Before(minEpoch) || !t.Before(maxEpoch) {
		return time.Time{}, false
	}
	return t, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
