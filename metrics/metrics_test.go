package metrics

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/annotator-dev/annotator/annotate"
	"github.com/annotator-dev/annotator/matcher"
	"github.com/annotator-dev/annotator/pipeline"
)

// testAnnotator counts codes as a run with metrics does.
func testAnnotator(t *testing.T) *annotate.Annotator {
	t.Helper()
	keys := []string{"898001", "898002", "ECONNRESET"}
	m, err := matcher.NewWithUnknown(keys, matcher.Auto)
	if err != nil {
		t.Fatal(err)
	}
	notes := make([]annotate.Note, len(keys))
	for i, k := range keys {
		notes[i] = annotate.Note{Code: k, Message: "m" + k}
	}
	a, err := annotate.New(m, notes, annotate.Options{Count: true})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// annotated is a batch of data as the pipeline hands it on.
func annotated(a *annotate.Annotator, stream, data string) *pipeline.Batch {
	b := &pipeline.Batch{Kind: pipeline.Lines, Data: []byte(data), Stream: stream, Annotator: a}
	var s annotate.Scratch
	b.Out = a.AppendLines(nil, b.Data, nil, &s, &b.Stats)
	return b
}

// sample is one line of the text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$`)
var labelRE = regexp.MustCompile(`\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*`)

// parseText parses the Prometheus text format strictly enough to catch a
// malformed line.
func parseText(t *testing.T, body string) []sample {
	t.Helper()
	var out []sample
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("malformed line %q", line)
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			t.Fatalf("line %q: value: %v", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		rest := m[3]
		for rest != "" {
			lm := labelRE.FindStringSubmatchIndex(rest)
			if lm == nil || lm[0] != 0 {
				t.Fatalf("line %q: bad labels %q", line, rest)
			}
			val := rest[lm[4]:lm[5]]
			val = strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n").Replace(val)
			s.labels[rest[lm[2]:lm[3]]] = val
			rest = rest[lm[1]:]
		}
		out = append(out, s)
	}
	return out
}

func find(t *testing.T, ss []sample, name string, labels ...string) float64 {
	t.Helper()
next:
	for _, s := range ss {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return s.value
	}
	t.Fatalf("no sample %s%v", name, labels)
	return 0
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestEndpointScraped(t *testing.T) {
	r := New()
	srv, err := Serve("127.0.0.1:0", r, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	base := "http://" + srv.Addr()

	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, _ := get(t, base+"/readyz"); code != 503 {
		t.Errorf("readyz before ready: %d, want 503", code)
	}
	r.SetReady(true)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("readyz when ready: %d", code)
	}

	a := testAnnotator(t)
	r.CatalogLoaded(1, 3, nil)
	r.CatalogLoaded(2, 0, errors.New("bad file"))
	data := "x 898001\ny 898001 898002 898001\nz 899999 899999 1899999\nplain\n"
	b := annotated(a, `/var/log/"a".log`, data)
	r.Delivered("stdin", b)
	r.Delivered("stdin", annotated(a, "", "ECONNRESET\n"))
	r.Error("read")
	r.FileProgress("/var/log/app.log", 100, 250)
	r.Checkpointed("/var/log/app.log", time.Now().Add(-3*time.Second))
	r.PartitionLag("logs", 3, 42)

	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("metrics %d", code)
	}
	ss := parseText(t, body)
	src := `/var/log/"a".log`
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"annotator_lines_read_total", []string{"source", src}, 4},
		{"annotator_bytes_read_total", []string{"source", src}, float64(len(data))},
		{"annotator_lines_written_total", []string{"source", src}, 4},
		{"annotator_bytes_written_total", []string{"source", src}, float64(len(b.Out))},
		{"annotator_lines_annotated_total", []string{"source", src}, 2},
		{"annotator_lines_read_total", []string{"source", "stdin"}, 1},
		{"annotator_annotations_total", []string{"code", "898001"}, 2},
		{"annotator_annotations_total", []string{"code", "898002"}, 1},
		{"annotator_annotations_total", []string{"code", "ECONNRESET"}, 1},
		{"annotator_unknown_codes_total", nil, 2},
		{"annotator_unknown_codes_distinct", nil, 1},
		{"annotator_errors_total", []string{"kind", "read"}, 1},
		{"annotator_errors_total", []string{"kind", "catalog"}, 1},
		{"annotator_catalog_version", nil, 1},
		{"annotator_catalog_codes", nil, 3},
		{"annotator_catalog_last_reload_success", nil, 0},
		{"annotator_catalog_loads_total", []string{"result", "success"}, 1},
		{"annotator_catalog_loads_total", []string{"result", "failure"}, 1},
		{"annotator_file_offset_bytes", []string{"path", "/var/log/app.log"}, 100},
		{"annotator_file_size_bytes", []string{"path", "/var/log/app.log"}, 250},
		{"annotator_kafka_lag_messages", []string{"topic", "logs", "partition", "3"}, 42},
		{"annotator_ready", nil, 1},
	}
	for _, c := range checks {
		if got := find(t, ss, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if age := find(t, ss, "annotator_checkpoint_age_seconds", "path", "/var/log/app.log"); age < 3 || age > 3600 {
		t.Errorf("checkpoint age %v, want about 3 s", age)
	}
	if find(t, ss, "process_resident_memory_bytes") <= 0 {
		t.Error("no process metrics")
	}
}

func TestLabelValuesBounded(t *testing.T) {
	r := New()
	for i := 0; i < maxLabelValues+50; i++ {
		r.FileProgress(fmt.Sprintf("/f%d", i), 1, 2)
	}
	var sb strings.Builder
	r.WritePrometheus(&sb)
	ss := parseText(t, sb.String())
	n := 0
	for _, s := range ss {
		if s.name == "annotator_file_offset_bytes" {
			n++
		}
	}
	if n != maxLabelValues+1 {
		t.Errorf("%d series, want %d (the rest as other)", n, maxLabelValues+1)
	}
}

func TestNilRegistry(t *testing.T) {
	var r *Registry
	r.SetReady(true)
	r.Delivered("x", &pipeline.Batch{})
	r.Error("x")
	r.CatalogLoaded(1, 1, nil)
	r.FileProgress("p", 1, 2)
	r.Checkpointed("p", time.Now())
	r.PartitionLag("t", 0, 1)
}

func TestListenAddr(t *testing.T) {
	cases := map[string]string{
		"9464":         "127.0.0.1:9464",
		":9464":        "127.0.0.1:9464",
		"0.0.0.0:9464": "0.0.0.0:9464",
		"[::1]:80":     "[::1]:80",
	}
	for in, want := range cases {
		if got, err := ListenAddr(in); err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "host", "1.2.3.4:port", "99999"} {
		if _, err := ListenAddr(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
