package reporting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// ReportBuckets is how many buckets the JSON and HTML reports hold at
// most when no bucket was asked for: enough to see a spike within an
// hour of a day's log, few enough for a chart and a script.
const ReportBuckets = 240

// jsonTimeline is the "timeline" member of the JSON summary; scripts rely
// on its shape.
type jsonTimeline struct {
	Start         string             `json:"start"` // RFC 3339, of the first bucket
	BucketSeconds int64              `json:"bucket_seconds"`
	Codes         map[string][]int64 `json:"codes"`
}

func (t *Timeline) jsonView(s *Summary) jsonTimeline {
	shown, _ := t.drawn(s)
	v := t.fit(ReportBuckets)
	out := jsonTimeline{BucketSeconds: v.bucket, Codes: map[string][]int64{}}
	if t.any {
		out.Start = t.bucketTime(v, 0).Format(time.RFC3339)
	}
	for _, st := range shown {
		out.Codes[st.code] = t.counts(v, st)
	}
	return out
}

// WriteJSON prints the summary s as one JSON object, as Summary.WriteJSON
// does, with the timeline of its rows as the member "timeline":
// {"start": "<RFC 3339>", "bucket_seconds": N, "codes": {"<code>": [count
// per bucket, ...]}}, every array as long as the others.
func (t *Timeline) WriteJSON(w io.Writer, s *Summary) error {
	// The summary's own members are Summary's to shape; the timeline is
	// put in as its last member.
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		return err
	}
	obj := bytes.TrimRight(buf.Bytes(), "\n")
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return fmt.Errorf("summary: not a JSON object: %.40q", obj)
	}
	tl, err := json.Marshal(t.jsonView(s))
	if err != nil {
		return fmt.Errorf("summary timeline: %w", err)
	}
	var out bytes.Buffer
	out.Write(obj[:len(obj)-1])
	if len(obj) > 2 {
		out.WriteByte(',')
	}
	out.WriteString(`"timeline":`)
	out.Write(tl)
	out.WriteString("}\n")
	_, err = w.Write(out.Bytes())
	return err
}
