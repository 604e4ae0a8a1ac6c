// Package corpus generates deterministic, realistic log text for
// benchmarks: a seeded mix of plain and JSON log lines with timestamps,
// request ids, IPs, URLs and numbers that are not codes, a chosen share of
// lines holding a catalog code, and decoys that look like codes but must
// not match (1898001, 8980012, 0x898001, 3.898001).
//
// The same Config always yields the same bytes, so figures measured on
// different days or machines are measured on the same text.
package corpus

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"

	"github.com/annotator-dev/annotator/catalog"
)

// Config shapes a corpus.
type Config struct {
	Seed uint64
	// Size is the number of bytes to write; the last line is cut short
	// (and ended with '\n') so the total is exact.
	Size int64
	// CodeShare is the fraction of lines that hold a catalog code (0.02
	// for 2%).
	CodeShare float64
	// DecoyShare is the fraction of lines that hold a decoy.
	DecoyShare float64
	// JSONShare is the fraction of lines written as JSON log records.
	JSONShare float64
	// AccessShare is the fraction of lines written as web access-log
	// lines (combined log format); the rest are plain application lines.
	AccessShare float64
	// UnknownShare is the fraction of lines holding a number shaped like a
	// code (six digits beginning with 8, standing on its own) that is not
	// in the catalog: chatroom and group ids, sizes, trace fragments. Real
	// logs are full of them, and counting them is what --summary and
	// --metrics-addr pay for.
	UnknownShare float64
	// IdentShare is the fraction of filler words written as identifiers
	// with underscores, as application logs are full of: snake_case
	// fields (retry_count=3), upper-case constants (ERR_CONN_RESET) and
	// JSON keys. They make underscores and key-like words common, as they
	// are in real text, where a prefilter betting on them being rare
	// loses.
	IdentShare float64
	// LineLen is the mean line length in bytes; lengths vary from about
	// half to one and a half times it.
	LineLen int
	// SingleLine writes Size bytes as one line (with codes and decoys
	// spread through it at the same shares per LineLen bytes), ended by one
	// '\n'.
	SingleLine bool
}

// Default is the corpus the benchmarks use unless told otherwise: 2% of
// lines with a code, 5% with a decoy, a quarter JSON, lines of about 160
// bytes.
func Default() Config {
	return Config{Seed: 1, Size: 64 << 20, CodeShare: 0.02, DecoyShare: 0.05, JSONShare: 0.25, LineLen: 160}
}

func (c Config) check() error {
	switch {
	case c.Size < 0:
		return fmt.Errorf("size %d: want at least 0", c.Size)
	case c.LineLen < 40:
		return fmt.Errorf("line length %d: want at least 40", c.LineLen)
	case c.CodeShare < 0 || c.CodeShare > 1, c.DecoyShare < 0 || c.DecoyShare > 1, c.JSONShare < 0 || c.JSONShare > 1,
		c.AccessShare < 0 || c.AccessShare > 1, c.UnknownShare < 0 || c.UnknownShare > 1:
		return errors.New("shares must lie between 0 and 1")
	case c.JSONShare+c.AccessShare > 1:
		return fmt.Errorf("JSON share %v and access-log share %v add up to more than 1", c.JSONShare, c.AccessShare)
	}
	return nil
}

// Codes returns the catalog's codes, the ones a corpus draws from.
func Codes() ([]string, error) {
	c, err := catalog.Builtin()
	if err != nil {
		return nil, fmt.Errorf("builtin catalog: %w", err)
	}
	var out []string
	for _, e := range c.Entries() {
		out = append(out, e.Code)
	}
	return out, nil
}

// Decoys are strings holding a code's digits that the boundary rule
// rejects.
var Decoys = []string{"1898001", "8980012", "0x898001", "3.898001", "id=871310x", "v2.871310", "800012.5", "_898006"}

var (
	levels   = []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
	services = []string{"im-gateway", "msg-router", "push-worker", "auth", "group-svc", "media-upload", "presence"}
	verbs    = []string{"GET", "POST", "PUT", "DELETE"}
	paths    = []string{"/v1/messages", "/v1/users", "/v1/groups", "/v2/push", "/v1/resource/upload", "/v1/chatroom/members", "/health"}
	words    = []string{
		"request", "completed", "started", "message", "delivered", "to", "user", "group", "retry",
		"queue", "depth", "latency", "ms", "bytes", "sent", "received", "session", "token", "refreshed",
		"cache", "hit", "miss", "connection", "closed", "opened", "upstream", "timeout", "after", "attempt",
		"payload", "size", "ok", "status", "shard", "partition", "offset", "lag", "batch",
	}
	codeForms = []string{"code=%s", "error %s", "errcode:%s", "错误码%s，", "(%s)", "code %s:"}
)

// gen writes lines; it owns its random source.
type gen struct {
	c     Config
	r     *rand.Rand
	codes []string
	// unknown lists the six-digit numbers beginning with 8 that are not
	// in the catalog, for UnknownShare.
	unknown []int32
	line    []byte
	t       int64 // milliseconds since the epoch, advancing per line
}

// Write writes the corpus c describes to w.
func Write(w io.Writer, c Config) error {
	if err := c.check(); err != nil {
		return err
	}
	codes, err := Codes()
	if err != nil {
		return err
	}
	g := &gen{c: c, r: rand.New(rand.NewPCG(c.Seed, 0x616e6e6f7461746f)), codes: codes, unknown: notCodes(codes), t: 1795435200000}
	bw := bufio.NewWriterSize(w, 1<<20)
	left := c.Size
	for left > 0 {
		if c.SingleLine {
			g.line = g.appendMarks(g.line[:0], false)
			g.line = g.appendWords(g.line, c.LineLen)
			g.line = append(g.line, ' ')
		} else {
			g.line = g.appendLine(g.line[:0])
		}
		if int64(len(g.line)) >= left {
			g.line = g.line[:left-1]
			g.line = append(g.line, '\n')
		}
		if _, err := bw.Write(g.line); err != nil {
			return fmt.Errorf("write corpus: %w", err)
		}
		left -= int64(len(g.line))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write corpus: %w", err)
	}
	return nil
}

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *gen) appendTime(b []byte) []byte {
	g.t += int64(g.r.IntN(40))
	sec := g.t / 1000
	day := sec / 86400
	// A fixed month is enough: the digits, not the calendar, matter here.
	b = append(b, "2026-11-"...)
	b = append2(b, int(23+day%7))
	b = append(b, 'T')
	b = append2(b, int(sec/3600%24))
	b = append(b, ':')
	b = append2(b, int(sec/60%60))
	b = append(b, ':')
	b = append2(b, int(sec%60))
	b = append(b, '.')
	ms := int(g.t % 1000)
	b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, 'Z')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func (g *gen) appendHex(b []byte, n int) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < n; i++ {
		b = append(b, hex[g.r.IntN(16)])
	}
	return b
}

func (g *gen) appendIP(b []byte) []byte {
	b = strconv.AppendInt(b, int64(10+g.r.IntN(200)), 10)
	for i := 0; i < 3; i++ {
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(g.r.IntN(256)), 10)
	}
	return b
}

func (g *gen) appendURL(b []byte) []byte {
	b = append(b, g.pick(paths)...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(10000000+g.r.IntN(90000000)), 10)
	b = append(b, "?appkey="...)
	return g.appendHex(b, 24)
}

// appendWords appends filler of about n bytes: words, numbers that are not
// codes, ids.
func (g *gen) appendWords(b []byte, n int) []byte {
	end := len(b) + n
	for len(b) < end {
		// Drawn only when asked for, as UnknownShare.
		if g.c.IdentShare > 0 && g.r.Float64() < g.c.IdentShare {
			b = g.appendIdent(b)
			b = append(b, ' ')
			continue
		}
		switch g.r.IntN(8) {
		case 0:
			v := g.r.IntN(1000000)
			if v >= 800000 && v < 900000 {
				v -= 300000 // a number shaped like a code would be an unplanned code line
			}
			b = strconv.AppendInt(b, int64(v), 10)
		case 1:
			b = append(b, "uid="...)
			b = strconv.AppendInt(b, int64(10000000+g.r.IntN(90000000)), 10)
		case 2:
			b = strconv.AppendFloat(b, g.r.Float64()*1000, 'f', 3, 64)
		default:
			b = append(b, g.pick(words)...)
		}
		b = append(b, ' ')
	}
	return b[:len(b)-1]
}

func (g *gen) appendMarks(b []byte, json bool) []byte {
	if g.r.Float64() < g.c.CodeShare {
		code := g.pick(g.codes)
		if json {
			if g.r.IntN(2) == 0 {
				b = append(b, `"code":`...)
				b = append(b, code...)
				b = append(b, ',')
			} else {
				b = append(b, `"error":"send failed, code `...)
				b = append(b, code...)
				b = append(b, `",`...)
			}
		} else {
			b = fmt.Appendf(b, g.pick(codeForms), code)
			b = append(b, ' ')
		}
	}
	if g.r.Float64() < g.c.DecoyShare {
		d := g.pick(Decoys)
		if json {
			b = append(b, `"ref":"`...)
			b = append(b, d...)
			b = append(b, `",`...)
		} else {
			b = append(b, "ref="...)
			b = append(b, d...)
			b = append(b, ' ')
		}
	}
	// Drawn only when asked for, so that corpora without unknown numbers
	// keep the bytes they had before the share existed.
	if g.c.UnknownShare > 0 && g.r.Float64() < g.c.UnknownShare {
		b = g.appendUnknown(b, json)
	}
	return b
}

func (g *gen) lineLen() int {
	return g.c.LineLen/2 + g.r.IntN(g.c.LineLen+1)
}

func (g *gen) appendLine(b []byte) []byte {
	start := len(b)
	want := g.lineLen()
	kind := g.r.Float64()
	if kind >= g.c.JSONShare && kind < g.c.JSONShare+g.c.AccessShare {
		return g.appendAccessLine(b, want)
	}
	if kind < g.c.JSONShare {
		b = append(b, `{"ts":"`...)
		b = g.appendTime(b)
		b = append(b, `","level":"`...)
		b = append(b, g.pick(levels)...)
		b = append(b, `","svc":"`...)
		b = append(b, g.pick(services)...)
		b = append(b, `","trace":"`...)
		b = g.appendHex(b, 16)
		b = append(b, `","ip":"`...)
		b = g.appendIP(b)
		b = append(b, `",`...)
		b = g.appendMarks(b, true)
		b = append(b, `"url":"`...)
		b = g.appendURL(b)
		b = append(b, `","msg":"`...)
		b = g.appendWords(b, max(8, want-(len(b)-start)-3))
		return append(b, "\"}\n"...)
	}
	b = g.appendTime(b)
	b = append(b, ' ')
	b = append(b, g.pick(levels)...)
	b = append(b, " ["...)
	b = append(b, g.pick(services)...)
	b = append(b, "] trace="...)
	b = g.appendHex(b, 16)
	b = append(b, ' ')
	b = g.appendMarks(b, false)
	b = append(b, g.pick(verbs)...)
	b = append(b, ' ')
	b = g.appendURL(b)
	b = append(b, " from "...)
	b = g.appendIP(b)
	b = append(b, ' ')
	b = g.appendWords(b, max(8, want-(len(b)-start)-1))
	return append(b, '\n')
}
