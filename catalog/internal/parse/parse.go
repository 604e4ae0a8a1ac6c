// Package parse turns the published JMessage error-code documents into the
// JSON catalog that package catalog embeds.
//
// It lives apart from package catalog so that the generator never depends on
// the JSON it is about to write, and so that the tests can regenerate the
// catalog in memory and compare it with the committed file.
//
// The documents are markdown with hand-written HTML tables. A full HTML
// parser would be more forgiving than we want: the point of the generator is
// to notice when a document changes shape, so it accepts only the small
// subset of HTML the documents actually use and reports anything else with
// the document, table, row and line it found it in.
package parse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Document describes one source document and the tables expected in it, in
// the order they appear. Listing the tables explicitly means a table that is
// added, removed or renamed upstream stops the generator instead of silently
// changing which source a code is attributed to.
type Document struct {
	Path   string // slash-separated path inside the sources file system
	Tables []Table
}

// Table names one HTML table of a document.
type Table struct {
	Heading string // text of the nearest markdown heading above the table
	ID      string // source ID recorded in the catalog
	Name    string // human-readable source name recorded in the catalog
}

// Documents returns the documents the built-in catalog is generated from, in
// the order that decides the order of variants and of their sources.
func Documents() []Document {
	return []Document{
		{
			Path: "jmessage-sdk-errors.md",
			Tables: []Table{
				{Heading: "JMessage iOS", ID: "sdk/ios", Name: "JMessage SDK error codes — iOS table"},
				{Heading: "JMessage Android", ID: "sdk/android", Name: "JMessage SDK error codes — Android table"},
				{Heading: "Server Error", ID: "sdk/server", Name: "JMessage SDK error codes — Server Error table"},
			},
		},
		{
			Path: "im-errors.md",
			Tables: []Table{
				{Heading: "IM ErrorCode 定义", ID: "im/im", Name: "JMessage IM error codes — IM ErrorCode table"},
			},
		},
	}
}

// Row is one data row of a table after its cells have been cleaned.
type Row struct {
	Document string // Document.Path
	Source   string // Table.ID
	Index    int    // 1-based position among the table's data rows
	Line     int    // 1-based line of the row's <tr> in the document
	Code     string
	Message  string
	Meaning  string
}

// RowError reports a row (or the table structure around it) that the parser
// does not understand. It carries the location so that whoever updates a
// document can go straight to the offending line.
type RowError struct {
	Document string
	Table    string // heading of the table, empty if unknown
	Row      int    // 1-based data row index, 0 if the problem is not in a data row
	Line     int
	Text     string // the offending markup, shortened
	Reason   string
}

func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString(e.Document)
	if e.Table != "" {
		fmt.Fprintf(&b, ": table %q", e.Table)
	}
	if e.Row > 0 {
		fmt.Fprintf(&b, ": row %d", e.Row)
	}
	fmt.Fprintf(&b, " (line %d): %s", e.Line, e.Reason)
	if e.Text != "" {
		fmt.Fprintf(&b, ": %q", e.Text)
	}
	return b.String()
}

var (
	codeRE    = regexp.MustCompile(`^8[0-9]{5}$`)
	headingRE = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.*)$`)
)

// expectedHeader is the header row every table must have; checking it guards
// against a column being added or reordered, which would otherwise shift
// messages into the meaning column without any error.
var expectedHeader = [3]string{"Code", "Error Message", "说明"}

// ParseDocument extracts the data rows of every table in data. tables must
// list the document's tables in order; name is used in error messages.
// Rows whose code is 0 ("Success") are not error codes and are dropped.
func ParseDocument(name string, data []byte, tables []Table) ([]Row, error) {
	p := &parser{name: name, src: string(data)}
	return p.parse(tables)
}

type parser struct {
	name string
	src  string
	pos  int
}

// token is either a tag or a run of text between tags.
type token struct {
	start, end int
	tag        string // lower-case tag name, "" for text
	closing    bool
	text       string // raw source of the token
}

func (p *parser) line(off int) int {
	return strings.Count(p.src[:off], "\n") + 1
}

func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:117]) + "..."
	}
	return s
}

// next returns the token at p.pos, or ok=false at the end of the input.
func (p *parser) next() (token, bool, error) {
	if p.pos >= len(p.src) {
		return token{}, false, nil
	}
	start := p.pos
	if isTagStart(p.src[start:]) {
		end := strings.IndexByte(p.src[start:], '>')
		if end < 0 {
			return token{}, false, fmt.Errorf("unterminated tag at offset %d", start)
		}
		end += start + 1
		raw := p.src[start:end]
		body := strings.TrimPrefix(raw[1:len(raw)-1], "/")
		name := body
		if i := strings.IndexAny(body, " \t\r\n/"); i >= 0 {
			name = body[:i]
		}
		p.pos = end
		return token{start: start, end: end, tag: strings.ToLower(name), closing: raw[1] == '/', text: raw}, true, nil
	}
	end := len(p.src)
	for i := start + 1; i < len(p.src); i++ {
		if p.src[i] == '<' && isTagStart(p.src[i:]) {
			end = i
			break
		}
	}
	p.pos = end
	return token{start: start, end: end, text: p.src[start:end]}, true, nil
}

// isTagStart reports whether s starts with something that looks like an HTML
// tag, as opposed to a literal "<" in text.
func isTagStart(s string) bool {
	if len(s) < 2 || s[0] != '<' {
		return false
	}
	c := s[1]
	if c == '/' && len(s) > 2 {
		c = s[2]
	}
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (p *parser) parse(tables []Table) ([]Row, error) {
	headings := headingRE.FindAllStringSubmatchIndex(p.src, -1)
	var rows []Row
	seen := 0
	for {
		tok, ok, err := p.next()
		if err != nil {
			return nil, &RowError{Document: p.name, Line: p.line(p.pos), Reason: err.Error()}
		}
		if !ok {
			break
		}
		if tok.tag != "table" {
			if tok.tag == "tr" || tok.tag == "td" || tok.tag == "th" {
				return nil, &RowError{Document: p.name, Line: p.line(tok.start), Text: shorten(tok.text), Reason: "table markup outside a table"}
			}
			continue
		}
		if tok.closing {
			return nil, &RowError{Document: p.name, Line: p.line(tok.start), Text: tok.text, Reason: "</table> without <table>"}
		}
		heading := ""
		for _, h := range headings {
			if h[0] < tok.start {
				heading = strings.TrimSpace(p.src[h[2]:h[3]])
			}
		}
		if seen >= len(tables) {
			return nil, &RowError{Document: p.name, Table: heading, Line: p.line(tok.start), Reason: fmt.Sprintf("unexpected table: the document is expected to have %d table(s)", len(tables))}
		}
		t := tables[seen]
		seen++
		if heading != t.Heading {
			return nil, &RowError{Document: p.name, Table: heading, Line: p.line(tok.start), Reason: fmt.Sprintf("table %d is expected under the heading %q", seen, t.Heading)}
		}
		tr, err := p.table(t)
		if err != nil {
			return nil, err
		}
		rows = append(rows, tr...)
	}
	if seen != len(tables) {
		return nil, &RowError{Document: p.name, Line: p.line(len(p.src)), Reason: fmt.Sprintf("found %d table(s), expected %d (next expected: %q)", seen, len(tables), tables[seen].Heading)}
	}
	return rows, nil
}

type cell struct {
	header bool
	text   string // raw inner text with tags removed
}

// table consumes tokens up to and including </table>.
func (p *parser) table(t Table) ([]Row, error) {
	var (
		rows      []Row
		inRow     bool
		rowStart  int
		cells     []cell
		headerSet bool
		dataIndex int
	)
	fail := func(row, off int, text, reason string) error {
		return &RowError{Document: p.name, Table: t.Heading, Row: row, Line: p.line(off), Text: shorten(text), Reason: reason}
	}
	for {
		tok, ok, err := p.next()
		if err != nil {
			return nil, fail(0, p.pos, "", err.Error())
		}
		if !ok {
			return nil, fail(0, len(p.src), "", "document ends inside the table")
		}
		switch {
		case tok.tag == "":
			if trimmed := strings.TrimLeftFunc(tok.text, unicode.IsSpace); trimmed != "" {
				return nil, fail(0, tok.end-len(trimmed), trimmed, "text outside a table cell")
			}
		case tok.tag == "table" && tok.closing:
			if inRow {
				return nil, fail(dataIndex+1, rowStart, p.src[rowStart:tok.start], "row is not closed with </tr>")
			}
			if !headerSet {
				return nil, fail(0, tok.start, "", "table has no header row")
			}
			return rows, nil
		case tok.tag == "tr" && !tok.closing:
			if inRow {
				return nil, fail(dataIndex+1, rowStart, p.src[rowStart:tok.start], "row is not closed with </tr>")
			}
			inRow, rowStart, cells = true, tok.start, nil
		case tok.tag == "tr" && tok.closing:
			if !inRow {
				return nil, fail(0, tok.start, tok.text, "</tr> without <tr>")
			}
			inRow = false
			raw := p.src[rowStart:tok.end]
			if len(cells) > 0 && cells[0].header {
				if headerSet {
					return nil, fail(0, rowStart, raw, "second header row")
				}
				if err := checkHeader(cells); err != nil {
					return nil, fail(0, rowStart, raw, err.Error())
				}
				headerSet = true
				continue
			}
			dataIndex++
			if !headerSet {
				return nil, fail(dataIndex, rowStart, raw, "data row before the header row")
			}
			row, skip, err := dataRow(cells)
			if err != nil {
				return nil, fail(dataIndex, rowStart, raw, err.Error())
			}
			if skip {
				continue
			}
			row.Document, row.Source, row.Index, row.Line = p.name, t.ID, dataIndex, p.line(rowStart)
			rows = append(rows, row)
		case (tok.tag == "td" || tok.tag == "th") && !tok.closing:
			if !inRow {
				return nil, fail(0, tok.start, tok.text, "cell outside a row")
			}
			c, err := p.cell(tok)
			if err != nil {
				return nil, fail(dataIndex+1, rowStart, p.src[rowStart:p.pos], err.Error())
			}
			cells = append(cells, c)
		default:
			return nil, fail(0, tok.start, tok.text, "unexpected tag in table")
		}
	}
}

// cell consumes a cell's content up to its closing tag. Tags inside the cell
// other than table structure are dropped: the documents contain stray
// closing </a> tags left over from removed links.
func (p *parser) cell(open token) (cell, error) {
	var b strings.Builder
	for {
		tok, ok, err := p.next()
		if err != nil {
			return cell{}, err
		}
		if !ok {
			return cell{}, fmt.Errorf("document ends inside a <%s> cell", open.tag)
		}
		switch tok.tag {
		case "":
			b.WriteString(tok.text)
		case "td", "th":
			if tok.closing && tok.tag == open.tag {
				return cell{header: open.tag == "th", text: b.String()}, nil
			}
			return cell{}, fmt.Errorf("<%s> cell is not closed with </%s>", open.tag, open.tag)
		case "tr", "table":
			return cell{}, fmt.Errorf("<%s> cell is not closed with </%s>", open.tag, open.tag)
		}
	}
}

// clean removes what the HTML would not have shown a reader: entities become
// the characters they stand for and surrounding whitespace goes. Inner
// whitespace and wording are kept exactly, typos included, so that the
// catalog quotes the documents rather than paraphrasing them.
func clean(s string) string {
	return strings.TrimSpace(html.UnescapeString(s))
}

func checkHeader(cells []cell) error {
	if len(cells) != len(expectedHeader) {
		return fmt.Errorf("header row has %d cells, expected %d", len(cells), len(expectedHeader))
	}
	for i, c := range cells {
		if !c.header {
			return errors.New("header row mixes <th> and <td> cells")
		}
		if got := clean(c.text); got != expectedHeader[i] {
			return fmt.Errorf("header cell %d is %q, expected %q", i+1, got, expectedHeader[i])
		}
	}
	return nil
}

func dataRow(cells []cell) (row Row, skip bool, err error) {
	if len(cells) != 3 {
		return Row{}, false, fmt.Errorf("row has %d cells, expected 3", len(cells))
	}
	for _, c := range cells {
		if c.header {
			return Row{}, false, errors.New("data row contains a <th> cell")
		}
	}
	code, msg, meaning := clean(cells[0].text), clean(cells[1].text), clean(cells[2].text)
	if code == "0" {
		if !strings.EqualFold(msg, "success") {
			return Row{}, false, fmt.Errorf("code 0 is expected to mean success, got message %q", msg)
		}
		return Row{}, true, nil
	}
	if !codeRE.MatchString(code) {
		return Row{}, false, fmt.Errorf("code %q is not a six-digit code starting with 8", code)
	}
	if meaning == "" {
		return Row{}, false, fmt.Errorf("code %s has no meaning", code)
	}
	for _, s := range []string{msg, meaning} {
		if strings.ContainsAny(s, "<>") {
			return Row{}, false, fmt.Errorf("cell text %q still contains markup", s)
		}
	}
	return Row{Code: code, Message: msg, Meaning: meaning}, false, nil
}

// File is the JSON layout of the generated catalog. Package catalog decodes
// the same layout; the up-to-date test keeps the two in step.
type File struct {
	Sources []FileSource `json:"sources"`
	Entries []FileEntry  `json:"entries"`
}

type FileSource struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type FileEntry struct {
	Code     string        `json:"code"`
	Variants []FileVariant `json:"variants"`
}

type FileVariant struct {
	Message string   `json:"message"`
	Meaning string   `json:"meaning"`
	Sources []string `json:"sources"`
}

// Build parses every document from fsys and merges the rows into one
// catalog. Rows with the same code and the same cleaned text become one
// variant that lists every table documenting it, so agreement between the
// documents is visible; differing text becomes a further variant, so
// disagreement is never resolved silently here.
func Build(fsys fs.FS, docs []Document) (*File, error) {
	f := &File{}
	ids := map[string]bool{}
	for _, d := range docs {
		for _, t := range d.Tables {
			if t.ID == "" || ids[t.ID] {
				return nil, fmt.Errorf("%s: table %q: source ID %q is empty or used twice", d.Path, t.Heading, t.ID)
			}
			ids[t.ID] = true
			f.Sources = append(f.Sources, FileSource{ID: t.ID, Name: t.Name})
		}
	}
	byCode := map[string]*FileEntry{}
	for _, d := range docs {
		data, err := fs.ReadFile(fsys, d.Path)
		if err != nil {
			return nil, err
		}
		rows, err := ParseDocument(d.Path, data, d.Tables)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			e := byCode[r.Code]
			if e == nil {
				e = &FileEntry{Code: r.Code}
				byCode[r.Code] = e
			}
			addRow(e, r)
		}
	}
	for _, e := range byCode {
		f.Entries = append(f.Entries, *e)
	}
	sort.Slice(f.Entries, func(i, j int) bool { return f.Entries[i].Code < f.Entries[j].Code })
	return f, nil
}

func addRow(e *FileEntry, r Row) {
	for i := range e.Variants {
		v := &e.Variants[i]
		// Rows that differ only in letter case ("Appkey not register" in
		// the server table, "appkey not register" in the IM document) say
		// the same thing: one variant, spelled as its first source has it.
		if !strings.EqualFold(v.Message, r.Message) || !strings.EqualFold(v.Meaning, r.Meaning) {
			continue
		}
		for _, s := range v.Sources {
			if s == r.Source {
				return
			}
		}
		v.Sources = append(v.Sources, r.Source)
		return
	}
	e.Variants = append(e.Variants, FileVariant{Message: r.Message, Meaning: r.Meaning, Sources: []string{r.Source}})
}

// Render encodes f as the committed JSON file. The output depends only on f,
// so regenerating from unchanged documents reproduces the file byte for
// byte. HTML escaping is off because the file is read by people too.
func Render(f *File) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Generate builds and renders the catalog of the built-in documents.
func Generate(fsys fs.FS) ([]byte, error) {
	f, err := Build(fsys, Documents())
	if err != nil {
		return nil, err
	}
	return Render(f)
}
