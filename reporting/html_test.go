package reporting

import (
	"encoding/xml"

	"github.com/annotator-dev/annotator/annotate"
	"io"
	"strings"
	"testing"
	"time"
)

func htmlReport(t *testing.T, in string) string {
	t.Helper()
	s := NewSummary(false, 0)
	tl := NewTimeline(TimelineOptions{})
	feedBoth(testAnnotator(t), s, tl, "", in, 2)
	var b strings.Builder
	if err := tl.WriteHTML(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The report is one page that parses (strictly, as XML: every element
// closed), holds an SVG chart per code and the summary table, escapes
// what the log wrote, and references nothing outside itself.
func TestHTMLReport(t *testing.T) {
	hostile := `2026-12-04T10:20:00Z ERROR <script>alert("x")</script> code=898001 "><img src=x onerror=alert(1)>` + "\n" +
		"2026-12-04T10:21:00Z ERROR code=898001\n2026-12-04T10:45:00Z code=898002 & more\n"
	page := htmlReport(t, hostile)
	d := xml.NewDecoder(strings.NewReader(page))
	d.Entity = xml.HTMLEntity
	var svgs, rects, rows int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v\n%s", err, page)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "svg":
				svgs++
			case "rect":
				rects++
			case "tr":
				rows++
			case "script", "img", "link", "iframe", "object", "embed":
				t.Errorf("the page holds a <%s> element", se.Name.Local)
			}
		}
	}
	if svgs != 2 || rects != 3 || rows != 3 {
		t.Errorf("%d svg, %d bars, %d table rows; want 2, 3, 3", svgs, rects, rows)
	}
	for _, ref := range []string{"http://", "https://", "src=", "@import", "url(", "<script"} {
		if strings.Contains(strings.ToLower(page), ref) {
			t.Errorf("the page holds %q", ref)
		}
	}
	for _, want := range []string{"User exists", "用户已存在", "898002"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// Text from a custom catalog and file names are escaped too: a message
// or a path is not markup.
func TestHTMLEscapesCatalogText(t *testing.T) {
	notes := []annotate.Note{{Code: "898001", Message: `</title><script>x</script>`, Meaning: `"'&<>`}}
	a := counting(t, []string{"898001"}, notes)
	s := NewSummary(true, 0)
	tl := NewTimeline(TimelineOptions{Bucket: time.Minute})
	feedBoth(a, s, tl, "<b>logs</b>/app.log", "2026-12-04T10:20:00Z code=898001\n", 1)
	var b strings.Builder
	if err := tl.WriteHTML(&b, s); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>") || !strings.Contains(b.String(), "&lt;script&gt;") ||
		strings.Contains(b.String(), "<b>") || !strings.Contains(b.String(), "&lt;b&gt;logs") {
		t.Errorf("catalog text not escaped:\n%s", b.String())
	}
}

// Without any time, the page still has the table and says why there is
// no chart.
func TestHTMLWithoutTimes(t *testing.T) {
	page := htmlReport(t, "code=898001\n")
	if strings.Contains(page, "<svg") || !strings.Contains(page, "No line with a code states a time") || !strings.Contains(page, "User exists") {
		t.Errorf("page:\n%s", page)
	}
}
