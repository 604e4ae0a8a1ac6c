// Package timeparse reads the time a log line states, in the styles real
// services write: ISO 8601 / RFC 3339, log4j, logback and Python logging,
// nginx and Apache access logs, syslog, Go's log package, and the usual
// time fields of JSON and logfmt lines.
//
// It allocates nothing and never looks past what it needs: the timeline
// calls it only on lines that hold a code (and the few before them that it
// needs to carry a time forward), so its cost is per code, not per line.
package timeparse

import (
	"time"
)

// Style says how a time was written.
type Style uint8

const (
	None   Style = iota
	ISO          // 2026-12-04T10:20:00.456Z, 2026-12-04 10:20:00,456 (log4j, Python)
	Go           // 2026/12/04 10:20:00 (Go's log package)
	CLF          // [04/Dec/2026:10:20:00 +0000] (nginx, Apache)
	Syslog       // Dec  4 10:20:00: no year, no zone
	JSON         // a time field of a JSON object
	Logfmt       // a time field of a logfmt line
)

// NearStart is how far into a line a timestamp is looked for: past a
// syslog priority, a host name and ident of an access log, or a level
// word, but not in the message.
const NearStart = 64

// Parse returns the time line states. A time written without a zone is
// in loc (UTC when nil). year is the year of a syslog time, which leaves
// it out; the caller knows it from context (the style returned says when
// it was used). A date that does not exist (month 13, 31 April) is no
// time at all.
func Parse(line []byte, loc *time.Location, year int) (time.Time, Style, bool) {
	if loc == nil {
		loc = time.UTC
	}
	i := 0
	if len(line) >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
		i = 3 // a byte order mark
	}
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i < len(line) && line[i] == '{' {
		if t, ok := jsonTime(line[i:], loc); ok {
			return t, JSON, true
		}
		return time.Time{}, None, false
	}
	end := min(len(line), i+NearStart)
	for j := i; j < end; j++ {
		// A timestamp starts a token: "x2026-12-04" is not one.
		if j > i && isAlnum(line[j-1]) {
			continue
		}
		c := line[j]
		switch {
		case isDigit(c):
			if t, st, ok := digitsAt(line[j:], loc); ok {
				return t, st, true
			}
		case c >= 'A' && c <= 'S':
			if t, ok := syslogAt(line[j:], loc, year); ok {
				return t, Syslog, true
			}
		}
	}
	if t, ok := logfmtTime(line, loc); ok {
		return t, Logfmt, true
	}
	return time.Time{}, None, false
}

// digitsAt reads a timestamp that starts with a digit at b[0]: ISO
// (YYYY-MM-DD), Go (YYYY/MM/DD) or CLF (DD/Mon/YYYY:).
func digitsAt(b []byte, loc *time.Location) (time.Time, Style, bool) {
	if len(b) >= 19 && isDigits(b[:4]) && (b[4] == '-' || b[4] == '/') && b[7] == b[4] {
		y, mo, d := num(b[0:4]), num2(b[5:7]), num2(b[8:10])
		if mo < 0 || d < 0 || (b[10] != 'T' && b[10] != ' ' && b[10] != 't' && b[10] != '_') {
			return time.Time{}, None, false
		}
		h, mi, s, ok := clock(b[11:])
		if !ok {
			return time.Time{}, None, false
		}
		rest := b[19:]
		ns, n := fraction(rest)
		rest = rest[n:]
		zone := loc
		if b[4] == '-' { // Go's log package writes no zone
			if z, ok := zoneAt(rest); ok {
				zone = z
			}
		}
		t, ok := date(y, mo, d, h, mi, s, ns, zone)
		if !ok {
			return time.Time{}, None, false
		}
		if b[4] == '/' {
			return t, Go, true
		}
		return t, ISO, true
	}
	// 04/Dec/2026:10:20:00 +0000
	if len(b) >= 20 && isDigits(b[:2]) && b[2] == '/' && b[6] == '/' && isDigits(b[7:11]) && b[11] == ':' {
		mo := month(b[3:6])
		h, mi, s, ok := clock(b[12:])
		if mo == 0 || !ok {
			return time.Time{}, None, false
		}
		zone := loc
		if z, ok := zoneAt(b[20:]); ok {
			zone = z
		}
		t, ok := date(num(b[7:11]), mo, num2(b[0:2]), h, mi, s, 0, zone)
		return t, CLF, ok
	}
	return time.Time{}, None, false
}

// syslogAt reads "Dec  4 10:20:00" (RFC 3164: the day padded with a
// blank, or with a zero as some daemons write it).
func syslogAt(b []byte, loc *time.Location, year int) (time.Time, bool) {
	if len(b) < 15 || b[3] != ' ' {
		return time.Time{}, false
	}
	mo := month(b[0:3])
	if mo == 0 {
		return time.Time{}, false
	}
	var d int
	switch {
	case b[4] == ' ' && isDigit(b[5]):
		d = int(b[5] - '0')
	case isDigit(b[4]) && isDigit(b[5]):
		d = num2(b[4:6])
	default:
		return time.Time{}, false
	}
	if b[6] != ' ' {
		return time.Time{}, false
	}
	h, mi, s, ok := clock(b[7:])
	if !ok {
		return time.Time{}, false
	}
	ns, _ := fraction(b[15:])
	return date(year, mo, d, h, mi, s, ns, loc)
}

// clock reads HH:MM:SS.
func clock(b []byte) (h, m, s int, ok bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return 0, 0, 0, false
	}
	h, m, s = num2(b[0:2]), num2(b[3:5]), num2(b[6:8])
	return h, m, s, h >= 0 && m >= 0 && s >= 0
}

// fraction reads ".456" or ",456" (log4j and Python write a comma) as
// nanoseconds, and how many bytes it took.
func fraction(b []byte) (ns, n int) {
	if len(b) < 2 || (b[0] != '.' && b[0] != ',') || !isDigit(b[1]) {
		return 0, 0
	}
	scale := 100000000
	n = 1
	for n < len(b) && isDigit(b[n]) {
		ns += int(b[n]-'0') * scale
		scale /= 10
		n++
	}
	return ns, n
}

// zoneAt reads a zone right after the time: Z, +08:00, +0800 or +08,
// also after one blank as access logs and some Java layouts write it.
func zoneAt(b []byte) (*time.Location, bool) {
	if len(b) > 0 && (b[0] == 'Z' || b[0] == 'z') && (len(b) == 1 || !isAlnum(b[1])) {
		return time.UTC, true
	}
	if len(b) > 1 && b[0] == ' ' && (b[1] == '+' || b[1] == '-') {
		b = b[1:]
	}
	if len(b) < 3 || (b[0] != '+' && b[0] != '-') || !isDigits(b[1:3]) {
		return nil, false
	}
	h, m := num2(b[1:3]), 0
	switch {
	case len(b) >= 6 && b[3] == ':' && isDigits(b[4:6]):
		m = num2(b[4:6])
	case len(b) >= 5 && isDigits(b[3:5]):
		m = num2(b[3:5])
	}
	if h > 23 || m > 59 {
		return nil, false
	}
	off := (h*60 + m) * 60
	if b[0] == '-' {
		off = -off
	}
	if off == 0 {
		return time.UTC, true
	}
	return time.FixedZone("", off), true
}

// date builds a time from its fields, refusing what does not exist
// rather than letting time.Date roll 31 April into May.
func date(y, mo, d, h, mi, s, ns int, loc *time.Location) (time.Time, bool) {
	if mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, false
	}
	leap := s == 60 // a leap second counts as the last of its minute
	if leap {
		s = 59
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, ns, loc)
	if t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func month(b []byte) int {
	for i, m := range months {
		if string(b) == m {
			return i + 1
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return len(b) > 0
}

// num reads decimal digits; -1 when b holds anything else.
func num(b []byte) int {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func num2(b []byte) int { return num(b[:2]) }
