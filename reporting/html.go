package reporting

import (
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/annotator-dev/annotator/internal/flagvalue"
)

// The HTML report is one page that stands alone: inline CSS and SVG, no
// script, nothing fetched, so that it can be attached to a ticket, opened
// offline or printed. Every string from the input or the catalog goes
// through html.EscapeString: it lands in element text or in a quoted
// attribute, where that escaping is all it needs.

// Chart geometry, in SVG user units.
const (
	chartW = 720
	chartH = 64
	axisH  = 16
)

type htmlRow struct {
	Code, Count, Share, First, Last, Message, Meaning string
}

type htmlBar struct {
	X, Y, W, H string
	Title      string
}

type htmlChart struct {
	Code, Message, Meaning, Peak string
	Bars                         []htmlBar
	Start, End                   string
}

type htmlPage struct {
	Totals   string
	Range    string
	Untimed  string
	Rows     []htmlRow
	Charts   []htmlChart
	More     []string
	Width    int
	Height   int
	AxisY    int
	AxisText int
}

// style is the page's CSS: no url(), no @import, nothing fetched.
const style = `body { font: 14px/1.4 system-ui, sans-serif; color: #111; margin: 2em; max-width: 60em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .2em .8em .2em 0; border-bottom: 1px solid #ddd; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, monospace; }
.chart { margin: 1em 0; break-inside: avoid; page-break-inside: avoid; }
.chart p { margin: 0 0 .2em 0; }
svg { display: block; width: 100%; max-width: 720px; height: auto; }
svg rect.bar { fill: #b8322a; }
svg line { stroke: #888; stroke-width: 1; }
svg text { font: 11px sans-serif; fill: #444; }
.muted { color: #555; }
@media print { body { margin: 0; } svg rect.bar { fill: #000; } }
`

// render writes the page. Every string of p goes through esc: html/template
// would do the same, but its reflection keeps every exported method of the
// binary alive, 4 MB more for every run, reports or not.
func (p *htmlPage) render(b *strings.Builder) {
	esc := html.EscapeString
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n" +
		"<title>annotator report</title>\n<style>\n" + style + "</style>\n</head>\n<body>\n<h1>Codes seen</h1>\n")
	fmt.Fprintf(b, "<p>%s</p>\n", esc(p.Totals))
	if len(p.Rows) > 0 {
		b.WriteString("<table>\n<tr><th>Code</th><th>Count</th><th>Share</th><th>First</th><th>Last</th><th>Message</th><th>Meaning</th></tr>\n")
		for _, r := range p.Rows {
			fmt.Fprintf(b, "<tr><td><code>%s</code></td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
				esc(r.Code), esc(r.Count), esc(r.Share), esc(r.First), esc(r.Last), esc(r.Message), esc(r.Meaning))
		}
		b.WriteString("</table>\n")
	}
	for _, m := range p.More {
		fmt.Fprintf(b, "<p class=\"muted\">%s</p>\n", esc(m))
	}
	fmt.Fprintf(b, "<h2>Over time</h2>\n<p>%s</p>\n", esc(p.Range))
	if p.Untimed != "" {
		fmt.Fprintf(b, "<p class=\"muted\">%s</p>\n", esc(p.Untimed))
	}
	for _, c := range p.Charts {
		fmt.Fprintf(b, "<div class=\"chart\">\n<p><code>%s</code> %s", esc(c.Code), esc(c.Message))
		if c.Meaning != "" {
			fmt.Fprintf(b, " | %s", esc(c.Meaning))
		}
		fmt.Fprintf(b, " <span class=\"muted\">— peak %s</span></p>\n", esc(c.Peak))
		fmt.Fprintf(b, "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s over time\">\n", p.Width, p.Height, esc(c.Code))
		for _, r := range c.Bars {
			fmt.Fprintf(b, "<rect class=\"bar\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"><title>%s</title></rect>\n",
				esc(r.X), esc(r.Y), esc(r.W), esc(r.H), esc(r.Title))
		}
		fmt.Fprintf(b, "<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\"></line>\n", p.AxisY, p.Width, p.AxisY)
		fmt.Fprintf(b, "<text x=\"0\" y=\"%d\">%s</text>\n", p.AxisText, esc(c.Start))
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n</svg>\n</div>\n", p.Width, p.AxisText, esc(c.End))
	}
	b.WriteString("</body>\n</html>\n")
}

// WriteHTML prints the summary s and the timeline of its rows as one
// self-contained HTML page.
func (t *Timeline) WriteHTML(w io.Writer, s *Summary) error {
	shown, left, leftCount, unknownLeft, unknownLeftCount := s.rows()
	totals := fmt.Sprintf("%s read, %s with a code; %s seen, %s distinct.",
		Count(s.read, "line", "lines"), Thousands(s.annotated), Count(s.total, "code", "codes"), Thousands(int64(len(s.codes))))
	if s.unknown.seen > 0 {
		totals += fmt.Sprintf(" %s, %s distinct.", Count(s.unknown.seen, "number shaped like a code that is not in the catalog",
			"numbers shaped like codes that are not in the catalog"), Thousands(s.unknown.distinct))
	}
	p := htmlPage{Width: chartW, Height: chartH + axisH, AxisY: chartH, AxisText: chartH + axisH - 3, Totals: totals}
	for _, st := range shown {
		msg := st.message
		if !st.known {
			msg = "(not in the catalog)"
		}
		p.Rows = append(p.Rows, htmlRow{st.code, Thousands(st.count), fmt.Sprintf("%.1f%%", 100*s.share(st)),
			s.where(st.first), s.where(st.last), oneLine(msg), oneLine(st.meaning)})
	}
	if left > 0 {
		p.More = append(p.More, fmt.Sprintf("… and %s in the catalog, seen %s.", Count(left, "more code", "more codes"), Count(leftCount, "time", "times")))
	}
	if unknownLeft > 0 {
		p.More = append(p.More, fmt.Sprintf("… and %s not in the catalog, seen %s.", Count(unknownLeft, "more number", "more numbers"), Count(unknownLeftCount, "time", "times")))
	}
	if t.untimed > 0 {
		p.Untimed = fmt.Sprintf("%s on lines before any stated time are not shown.", Count(t.untimed, "code", "codes"))
	}
	if !t.any {
		p.Range = "No line with a code states a time that could be read."
	} else {
		v := t.fit(ReportBuckets)
		layout := t.layout(v)
		end := t.bucketTime(v, v.n)
		p.Range = fmt.Sprintf("From %s to %s %s, one bar per %s; each chart is scaled to its own peak.",
			t.bucketTime(v, 0).Format("2006-01-02 15:04:05"), end.Format("2006-01-02 15:04:05"), t.zoneName(),
			flagvalue.FormatDuration(time.Duration(v.bucket)*time.Second))
		drawn, notDrawn := t.drawn(s)
		if notDrawn > 0 {
			p.Range += fmt.Sprintf(" The %d most frequent codes are drawn (--top N for more).", len(drawn))
		}
		for _, st := range drawn {
			p.Charts = append(p.Charts, t.chart(v, st, layout))
		}
	}
	var b strings.Builder
	p.render(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("summary report: %w", err)
	}
	return nil
}

// chart draws one code's counts as bars, scaled to its peak.
func (t *Timeline) chart(v view, st *codeStat, layout string) htmlChart {
	counts := t.counts(v, st)
	peak, at := int64(0), 0
	for i, c := range counts {
		if c > peak {
			peak, at = c, i
		}
	}
	msg := st.message
	if !st.known {
		msg = "(not in the catalog)"
	}
	c := htmlChart{Code: st.code, Message: oneLine(msg), Meaning: oneLine(st.meaning), Peak: "none with a time",
		Start: t.bucketTime(v, 0).Format(layout), End: t.bucketTime(v, v.n).Format(layout)}
	if peak == 0 {
		return c
	}
	c.Peak = Thousands(peak) + " at " + t.bucketTime(v, at).Format(layout)
	w := float64(chartW) / float64(v.n)
	for i, n := range counts {
		if n == 0 {
			continue
		}
		// A bar at least one unit tall: one stray line must show.
		h := max(1, float64(chartH-2)*float64(n)/float64(peak))
		c.Bars = append(c.Bars, htmlBar{X: num(float64(i) * w), Y: num(chartH - h), W: num(max(w-0.5, 0.5)), H: num(h),
			Title: Thousands(n) + " at " + t.bucketTime(v, i).Format(layout)})
	}
	return c
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
