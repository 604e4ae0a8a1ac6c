package flagvalue

import (
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"262144": 262144, "1K": 1024, "256KiB": 256 << 10, "256kib": 256 << 10, "1M": 1 << 20,
		"1MiB": 1 << 20, "1MB": 1000000, "2G": 2 << 30, "1.5KiB": 1536, "64": 64, "1_024": 1024, "8 KiB": 8 << 10,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "K", "1T", "-1", "1.3B", "1e9", "99999999999999999999G", "0x10"} {
		if v, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, v)
		}
	}
}

func TestBounds(t *testing.T) {
	var n int
	i := NewInt(&n, 4, 1, 256)
	if n != 4 || i.String() != "4" {
		t.Fatalf("default: %d %s", n, i)
	}
	for _, bad := range []string{"0", "257", "100000000", "x", "99999999999999999999"} {
		if err := i.Set(bad); err == nil || !strings.Contains(err.Error(), "from 1 to 256") {
			t.Errorf("Int.Set(%q) = %v", bad, err)
		}
	}
	if err := i.Set("256"); err != nil || n != 256 {
		t.Errorf("Int.Set(256) = %v, n %d", err, n)
	}

	var b int
	s := NewSize(&b, 256<<10, 64, 64<<20)
	if s.String() != "256KiB" {
		t.Errorf("size default shows %s", s)
	}
	if err := s.Set("99999999999"); err == nil || err.Error() != "want a size from 64 to 64MiB" {
		t.Errorf("Size.Set(99999999999) = %v", err)
	}
	if err := s.Check("1M"); err != nil || b != 256<<10 {
		t.Errorf("Check changed the value or failed: %v %d", err, b)
	}
	if err := s.Set("1M"); err != nil || b != 1<<20 {
		t.Errorf("Size.Set(1M) = %v, %d", err, b)
	}

	var d time.Duration
	dv := NewDuration(&d, time.Second, time.Millisecond, time.Hour)
	if err := dv.Set("0s"); err == nil || err.Error() != "want a duration from 1ms to 1h" {
		t.Errorf("Duration.Set(0s) = %v", err)
	}
	if err := dv.Set("soon"); err == nil {
		t.Error("Duration.Set(soon) accepted")
	}
	if err := dv.Set("90m"); err == nil {
		t.Error("Duration.Set(90m) accepted")
	}
	if err := dv.Set("1m30s"); err != nil || d != 90*time.Second {
		t.Errorf("Duration.Set(1m30s) = %v, %s", err, d)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Hour: "1h", 30 * time.Minute: "30m", 90 * time.Second: "1m30s", time.Millisecond: "1ms", 0: "0s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %s, want %s", d, got, want)
		}
	}
}
