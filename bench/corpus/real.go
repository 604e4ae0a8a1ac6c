package corpus

import (
	"fmt"
	"sort"
	"strconv"
)

// Profiles name corpora shaped like different services, for bench/e2e.sh
// and the benchmarks:
//   - default: the corpus the figures before issue 18 were measured on;
//     numbers shaped like codes are rare in it.
//   - real: like the logs of an IM service: a third of the lines hold a
//     six-digit number beginning with 8 that is not in the catalog,
//     plain, JSON and access-log lines are mixed, and identifiers with
//     underscores (retry_count=3, ERR_CONN_RESET) are common.
//   - long: the real profile with lines of about 4 KiB (stack traces,
//     dumped payloads).
var Profiles = []string{"default", "real", "long"}

// Profile returns the Config of a named profile (see Profiles).
func Profile(name string) (Config, error) {
	c := Default()
	switch name {
	case "default":
	case "real":
		c.UnknownShare = 1.0 / 3
		c.JSONShare = 0.3
		c.AccessShare = 0.3
		c.IdentShare = 0.25
		c.LineLen = 200
	case "long":
		c.UnknownShare = 1.0 / 3
		c.JSONShare = 0.3
		c.AccessShare = 0.3
		c.IdentShare = 0.25
		c.LineLen = 4096
	default:
		return Config{}, fmt.Errorf("unknown corpus profile %q (want one of %v)", name, Profiles)
	}
	return c, nil
}

// notCodes returns, sorted, the six-digit numbers beginning with 8 that
// are none of codes.
func notCodes(codes []string) []int32 {
	in := make(map[int32]bool, len(codes))
	for _, c := range codes {
		if v, err := strconv.Atoi(c); err == nil {
			in[int32(v)] = true
		}
	}
	out := make([]int32, 0, 100000)
	for v := int32(800000); v < 900000; v++ {
		if !in[v] {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

var (
	unknownForms     = []string{"room=%d", "gid:%d", "size %d", "trace-%d", "seq=%d", "chatroom %d"}
	unknownJSONForms = []string{`"room_id":%d,`, `"group":"%d",`, `"size":%d,`, `"span":"%d-a1",`}
)

// appendUnknown appends a number shaped like a code that the catalog does
// not hold, in a form that passes the boundary rule. Values are drawn
// uniformly, so a long run sees most of the hundred thousand, as a real
// service's ids do.
func (g *gen) appendUnknown(b []byte, json bool) []byte {
	v := g.unknown[g.r.IntN(len(g.unknown))]
	if json {
		return fmt.Appendf(b, g.pick(unknownJSONForms), v)
	}
	b = fmt.Appendf(b, g.pick(unknownForms), v)
	return append(b, ' ')
}

var (
	months = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	agents = []string{"okhttp/4.9.3", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15", "JMessage-Android/2.9.2", "curl/8.5.0", "Go-http-client/2.0"}
	status = []string{"200", "200", "200", "200", "204", "304", "400", "401", "404", "500", "502"}
)

// appendAccessLine appends a web access-log line in combined log format,
// with the marks (code, decoy, unknown number) in the query string's
// tail, padded with words to about want bytes.
func (g *gen) appendAccessLine(b []byte, want int) []byte {
	start := len(b)
	b = g.appendIP(b)
	b = append(b, " - - ["...)
	sec := g.t / 1000
	g.t += int64(g.r.IntN(40))
	b = append2(b, int(23+sec/86400%7))
	b = append(b, '/')
	b = append(b, months[10]...)
	b = append(b, "/2026:"...)
	b = append2(b, int(sec/3600%24))
	b = append(b, ':')
	b = append2(b, int(sec/60%60))
	b = append(b, ':')
	b = append2(b, int(sec%60))
	b = append(b, ` +0000] "`...)
	b = append(b, g.pick(verbs)...)
	b = append(b, ' ')
	b = g.appendURL(b)
	b = append(b, ` HTTP/1.1" `...)
	b = append(b, g.pick(status)...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(g.r.IntN(200000)), 10)
	b = append(b, ` "-" "`...)
	b = append(b, g.pick(agents)...)
	b = append(b, `" `...)
	b = g.appendMarks(b, false)
	b = strconv.AppendFloat(b, g.r.Float64(), 'f', 3, 64)
	if rest := want - (len(b) - start) - 1; rest > 8 {
		b = append(b, ' ')
		b = g.appendWords(b, rest)
	}
	return append(b, '\n')
}

var upperWords = []string{"ERR", "ERROR", "WARN", "AUTH", "CONN", "TIMEOUT", "RESET", "USER", "GROUP", "MSG", "TOKEN", "EXPIRED", "INVALID", "RETRY", "LIMIT", "NOT", "FOUND"}

// appendIdent appends an identifier with underscores: a snake_case field
// with a value, or an upper-case constant of two or three words.
func (g *gen) appendIdent(b []byte) []byte {
	switch g.r.IntN(3) {
	case 0, 1:
		b = append(b, g.pick(words)...)
		b = append(b, '_')
		b = append(b, g.pick(words)...)
		b = append(b, '=')
		return strconv.AppendInt(b, int64(g.r.IntN(1000)), 10)
	default:
		b = append(b, g.pick(upperWords)...)
		for n := 1 + g.r.IntN(2); n > 0; n-- {
			b = append(b, '_')
			b = append(b, g.pick(upperWords)...)
		}
		return b
	}
}
