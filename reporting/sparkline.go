package reporting

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/annotator-dev/annotator/internal/flagvalue"
)

// Levels of a sparkline column, from the smallest count above zero to the
// peak; a bucket without the code is a blank, so that one stray line
// shows apart from a steady trickle.
var (
	blocks = []rune("▁▂▃▄▅▆▇█")
	ramp   = []rune(".:-=+*#@") // for output that is not a UTF-8 terminal
)

// WriteText prints the timeline of the codes the summary s lists (--top),
// one sparkline row each, in at most width columns unless a bucket was
// asked for; ascii draws it in plain ASCII.
func (t *Timeline) WriteText(w io.Writer, s *Summary, width int, ascii bool) error {
	shown, notDrawn := t.drawn(s)
	var b strings.Builder
	b.WriteByte('\n')
	if !t.any {
		b.WriteString("Timeline: no line with a code states a time that could be read\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	codeW, peakW := len("CODE"), len("PEAK")
	for _, st := range shown {
		codeW = max(codeW, Width(st.code))
	}
	// A peak reads "1,234 at 12-04 10:20"; room for the widest before
	// the bucket is known.
	peakW = max(peakW, len(Thousands(s.total))+len(" at 2006-01-02 15:04"))
	v := t.fit(max(8, width-codeW-2-2-peakW))
	levels := blocks
	if ascii {
		levels = ramp
	}
	layout := t.layout(v)
	end := t.bucketTime(v, v.n)
	fmt.Fprintf(&b, "Timeline: %s to %s %s, %s per column (%d)", t.bucketTime(v, 0).Format("2006-01-02 15:04:05"),
		end.Format("2006-01-02 15:04:05"), t.zoneName(), flagvalue.FormatDuration(time.Duration(v.bucket)*time.Second), v.n)
	if t.coarsened {
		fmt.Fprintf(&b, "; widened from --bucket %s to keep %d buckets", flagvalue.FormatDuration(t.opt.Bucket), MaxBuckets)
	}
	b.WriteByte('\n')
	if t.untimed > 0 {
		fmt.Fprintf(&b, "%s on lines before any stated time not shown\n", Count(t.untimed, "code", "codes"))
	}
	if notDrawn > 0 {
		fmt.Fprintf(&b, "the %d most frequent codes; --top N for more\n", len(shown))
	}
	b.WriteByte('\n')
	startL, endL := t.bucketTime(v, 0).Format(layout), end.Format(layout)
	axis := startL
	if gap := v.n - len(startL) - len(endL); gap >= 1 {
		axis += strings.Repeat(" ", gap) + endL
	}
	axis += strings.Repeat(" ", max(0, v.n-len(axis)))
	// A few wide buckets may be narrower than the axis's label: the
	// rows are padded to it, so that the peaks line up under PEAK.
	pad := strings.Repeat(" ", max(0, len(axis)-v.n))
	fmt.Fprintf(&b, "%-*s  %s  %s\n", codeW, "CODE", axis, "PEAK")
	for _, st := range shown {
		counts := t.counts(v, st)
		peak, at := int64(0), 0
		for i, c := range counts {
			if c > peak {
				peak, at = c, i
			}
		}
		var line strings.Builder
		for _, c := range counts {
			switch {
			case c == 0:
				line.WriteByte(' ')
			default:
				// Any count above zero shows, however small beside the peak.
				line.WriteRune(levels[(c*int64(len(levels))-1)/peak])
			}
		}
		peakText := "-"
		if peak > 0 {
			peakText = Thousands(peak) + " at " + t.bucketTime(v, at).Format(layout)
		}
		fmt.Fprintf(&b, "%s%s  %s%s  %s\n", st.code, strings.Repeat(" ", codeW-Width(st.code)), line.String(), pad, peakText)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// layout is how times on the axis and at peaks are written: the clock
// alone within one day, with the date across days.
func (t *Timeline) layout(v view) string {
	first, last := t.bucketTime(v, 0), t.bucketTime(v, v.n)
	oneDay := first.YearDay() == last.Add(-time.Second).YearDay() && first.Year() == last.Year()
	switch {
	case v.bucket >= 86400:
		return "2006-01-02"
	case oneDay && v.bucket < 60:
		return "15:04:05"
	case oneDay:
		return "15:04"
	}
	return "01-02 15:04"
}

func (t *Timeline) zoneName() string {
	if n := t.opt.Loc.String(); n != "" {
		return n
	}
	return "UTC"
}
