// Package flagvalue holds the bounded numeric settings of the command: an
// integer, a byte size and a duration, each with the range the program can
// really run with. The same value type parses the command-line flag and
// checks the config file's value, so `check`, a run with flags and a run
// with a config file accept and reject exactly the same values with the
// same words.
package flagvalue

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Int is an integer flag bounded to [Min, Max].
type Int struct {
	V        *int
	Min, Max int
}

// NewInt sets *p to def and returns the flag value bounding it.
func NewInt(p *int, def, lo, hi int) *Int {
	*p = def
	return &Int{V: p, Min: lo, Max: hi}
}

func (f *Int) String() string {
	if f == nil || f.V == nil {
		return "0"
	}
	return strconv.Itoa(*f.V)
}

// Set implements flag.Value.
func (f *Int) Set(s string) error {
	v, err := f.parse(s)
	if err != nil {
		return err
	}
	*f.V = v
	return nil
}

// Check validates s without setting anything.
func (f *Int) Check(s string) error {
	_, err := f.parse(s)
	return err
}

func (f *Int) parse(s string) (int, error) {
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil || v < int64(f.Min) || v > int64(f.Max) {
		return 0, fmt.Errorf("want a whole number from %d to %d", f.Min, f.Max)
	}
	return int(v), nil
}

// Size is a byte count bounded to [Min, Max]. It accepts a plain number of
// bytes or a number with a unit, read as GNU coreutils read them (`head
// -c`, `sort -S`): K, M, G and KiB, MiB, GiB are powers of 1024; KB, MB, GB
// powers of 1000. Case does not matter.
type Size struct {
	V        *int
	Min, Max int
}

// NewSize sets *p to def and returns the flag value bounding it.
func NewSize(p *int, def, lo, hi int) *Size {
	*p = def
	return &Size{V: p, Min: lo, Max: hi}
}

func (f *Size) String() string {
	if f == nil || f.V == nil {
		return "0"
	}
	return FormatSize(int64(*f.V))
}

// Set implements flag.Value.
func (f *Size) Set(s string) error {
	v, err := f.parse(s)
	if err != nil {
		return err
	}
	*f.V = v
	return nil
}

// Check validates s without setting anything.
func (f *Size) Check(s string) error {
	_, err := f.parse(s)
	return err
}

func (f *Size) parse(s string) (int, error) {
	v, err := ParseSize(s)
	if err != nil {
		return 0, err
	}
	if v < int64(f.Min) || v > int64(f.Max) {
		return 0, fmt.Errorf("want a size from %s to %s", FormatSize(int64(f.Min)), FormatSize(int64(f.Max)))
	}
	return int(v), nil
}

var units = map[string]int64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"k": 1 << 10, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gi": 1 << 30, "gib": 1 << 30,
}

// ParseSize reads "262144", "256KiB", "1M" or "1.5MiB" as a number of
// bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.' || t[i] == '_') {
		i++
	}
	num, unit := strings.ReplaceAll(t[:i], "_", ""), strings.ToLower(strings.TrimSpace(t[i:]))
	mul, ok := units[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("want a size such as 262144, 256KiB or 1M")
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(n*float64(mul), 0) || n*float64(mul) >= math.MaxInt64 {
		return 0, fmt.Errorf("want a size such as 262144, 256KiB or 1M")
	}
	v := n * float64(mul)
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("want a whole number of bytes")
	}
	return int64(v), nil
}

// FormatSize writes n in the largest binary unit that divides it.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.FormatInt(n, 10)
}

// Duration is a duration flag bounded to [Min, Max].
type Duration struct {
	V        *time.Duration
	Min, Max time.Duration
}

// NewDuration sets *p to def and returns the flag value bounding it.
func NewDuration(p *time.Duration, def, lo, hi time.Duration) *Duration {
	*p = def
	return &Duration{V: p, Min: lo, Max: hi}
}

func (f *Duration) String() string {
	if f == nil || f.V == nil {
		return "0s"
	}
	return f.V.String()
}

// Set implements flag.Value.
func (f *Duration) Set(s string) error {
	v, err := f.parse(s)
	if err != nil {
		return err
	}
	*f.V = v
	return nil
}

// Check validates s without setting anything.
func (f *Duration) Check(s string) error {
	_, err := f.parse(s)
	return err
}

func (f *Duration) parse(s string) (time.Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 500ms, 5s or 1m")
	}
	if v < f.Min || v > f.Max {
		return 0, fmt.Errorf("want a duration from %s to %s", FormatDuration(f.Min), FormatDuration(f.Max))
	}
	return v, nil
}

// FormatDuration writes d without the zero parts time.Duration.String
// keeps ("1h", not "1h0m0s").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
