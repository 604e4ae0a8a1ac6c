package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	// A static binary on a scratch image has no zoneinfo to load
	// --timezone Asia/Shanghai from.
	_ "time/tzdata"

	"golang.org/x/sys/unix"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/internal/flagvalue"
	"github.com/annotator-dev/annotator/reporting"
)

// timelineFlags ask for the codes over time with the summary.
type timelineFlags struct {
	on       bool
	bucket   time.Duration
	timezone string
	ascii    bool

	loc *time.Location // set by check
}

// maxBucket bounds --bucket: one bucket a year is as coarse as a chart of
// codes over time gets.
const maxBucket = 366 * 24 * time.Hour

func (f *timelineFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.on, "timeline", false, "with the summary: a sparkline per code over time, from the time each line states (a Kafka record's own time)")
	fs.Var(flagvalue.NewDuration(&f.bucket, 0, time.Second, maxBucket), "bucket",
		"timeline bucket size in whole seconds, 1s to 8784h (default: to fit the terminal, or 240 buckets in JSON and HTML)")
	f.timezone = "UTC"
	fs.Var((*zoneFlag)(&f.timezone), "timezone", "timeline: the `zone` of times written without one, and of the times shown: UTC, Local, a name (Asia/Shanghai) or an offset (+08:00)")
	fs.BoolVar(&f.ascii, "ascii", false, "draw the timeline in plain ASCII (the default when its output is not a UTF-8 terminal)")
}

// check validates what the flag values alone cannot; it returns the
// flag at fault with the error.
func (f *timelineFlags) check() (string, error) {
	if f.bucket%time.Second != 0 {
		return "bucket", fmt.Errorf("%s: want whole seconds (buckets are aligned to multiples of their size)", f.bucket)
	}
	loc, err := parseZone(f.timezone)
	if err != nil {
		return "timezone", err
	}
	f.loc = loc
	return "", nil
}

// zoneFlag is --timezone: checked as it is parsed, so that a wrong zone
// is worded as every other wrong value is (--timezone "Mars": want ...).
type zoneFlag string

func (z *zoneFlag) String() string { return string(*z) }

// Set implements flag.Value.
func (z *zoneFlag) Set(s string) error {
	if err := z.Check(s); err != nil {
		return err
	}
	*z = zoneFlag(s)
	return nil
}

// Check validates s without setting anything (a config file's value).
func (z *zoneFlag) Check(s string) error {
	_, err := parseZone(s)
	return err
}

// parseZone reads UTC, Local, an IANA name or an offset: +08:00, +0800,
// -05.
func parseZone(s string) (*time.Location, error) {
	switch s {
	case "", "UTC", "utc", "Z":
		return time.UTC, nil
	case "Local", "local":
		return time.Local, nil
	}
	if s[0] == '+' || s[0] == '-' {
		h, m, ok := strings.Cut(s[1:], ":")
		if !ok && len(h) == 4 {
			h, m = h[:2], h[2:]
		}
		hh, err1 := strconv.Atoi(h)
		mm := 0
		var err2 error
		if m != "" {
			mm, err2 = strconv.Atoi(m)
		}
		if err1 != nil || err2 != nil || len(h) != 2 || hh > 23 || mm < 0 || mm > 59 {
			return nil, errors.New("want an offset such as +08:00 or -0530")
		}
		off := (hh*60 + mm) * 60
		if s[0] == '-' {
			off = -off
		}
		return time.FixedZone(s, off), nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, errors.New("want UTC, Local, a zone name such as Asia/Shanghai or an offset such as +08:00")
	}
	return loc, nil
}

// lineFormat is the format of the annotated lines: a stats run writing an
// HTML report drops them anyway.
func lineFormat(s string) string {
	if s == "html" {
		return "text"
	}
	return s
}

// timelineFlagUse refuses the timeline's flags where there is no timeline,
// and the HTML report outside stats; v reads a flag's value.
func timelineFlagUse(v func(string) string, cmd string) error {
	if v("format") == "html" && cmd != "stats" {
		return usagef("--format html writes a report page, not lines: use annotator stats --format html")
	}
	return nil
}

// timelineNeeds are the flagNeeds of the timeline's flags.
func timelineNeeds() map[string]flagNeed {
	summary := func(v func(string) string, cmd string) bool { return v("summary") == "true" || cmd == "stats" }
	timeline := func(v func(string) string, cmd string) bool {
		return summary(v, cmd) && v("timeline") == "true" || cmd == "stats" && v("format") == "html"
	}
	return map[string]flagNeed{
		"timeline": {"--summary (or annotator stats)", summary},
		"bucket":   {"--timeline (or annotator stats --format html)", timeline},
		"timezone": {"--timeline (or annotator stats --format html)", timeline},
		"ascii": {"a timeline drawn in text (--timeline, not stats --format json or html)", func(v func(string) string, cmd string) bool {
			return timeline(v, cmd) && !(cmd == "stats" && (v("format") == "json" || v("format") == "html"))
		}},
	}
}

// timelineRun is the timeline a run keeps, and how it is written.
type timelineRun struct {
	tl    *reporting.Timeline
	html  bool
	width int
	ascii bool
}

// newTimeline returns the timeline the flags ask for, written to out, or
// nil. html is a stats run writing the report page, which always has one.
func (f *timelineFlags) newTimeline(out io.Writer, html bool) *timelineRun {
	if !f.on && !html {
		return nil
	}
	ref := func(stream string) time.Time {
		// The year of syslog times: the file was written around its
		// modification time.
		if st, err := os.Stat(stream); err == nil && stream != "" && stream != "-" && st.Mode().IsRegular() {
			return st.ModTime()
		}
		return time.Now()
	}
	return &timelineRun{
		tl:    reporting.NewTimeline(reporting.TimelineOptions{Bucket: f.bucket, Loc: f.loc, Reference: ref}),
		html:  html,
		width: columns(out),
		ascii: f.ascii || !utf8Terminal(out),
	}
}

// writeSummary writes the summary, with the timeline when there is one,
// in the format asked for.
func (rt *opsRun) writeSummary() error {
	t := rt.timeline
	switch {
	case t != nil && t.html:
		return t.tl.WriteHTML(rt.sumOut, rt.sum)
	case rt.sumFmt == annotate.JSON && t != nil:
		return t.tl.WriteJSON(rt.sumOut, rt.sum)
	case rt.sumFmt == annotate.JSON:
		return rt.sum.WriteJSON(rt.sumOut)
	}
	if err := rt.sum.Write(rt.sumOut); err != nil {
		return err
	}
	if t != nil {
		return t.tl.WriteText(rt.sumOut, rt.sum, t.width, t.ascii)
	}
	return nil
}

// columns is the width of the terminal w writes to; $COLUMNS or 80 when
// it is not one.
func columns(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

// utf8Terminal reports whether w is a terminal whose locale is UTF-8, so
// that block characters show as blocks.
func utf8Terminal(w io.Writer) bool {
	if !isTerminal(w) {
		return false
	}
	for _, name := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v := os.Getenv(name); v != "" {
			v = strings.ToLower(v)
			return strings.Contains(v, "utf-8") || strings.Contains(v, "utf8")
		}
	}
	return false
}
