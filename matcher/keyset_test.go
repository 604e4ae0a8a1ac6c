package matcher

import (
	"fmt"
	"strings"
	"testing"
)

// TestKeysChecked: New rejects an empty key, a key holding a line
// terminator and a key given twice, naming both places, the first
// problem in key order.
func TestKeysChecked(t *testing.T) {
	for _, c := range []struct {
		keys []string
		want string
	}{
		{[]string{"a", "b", "c", "b"}, `key "b" given twice (at 1 and 3)`},
		{[]string{"ERR_1", "ERR_2", "ERR_1", "ERR_2"}, `key "ERR_1" given twice (at 0 and 2)`},
		{[]string{"a", "", "a"}, "key 1 is empty"},
		{[]string{"a", "a", "b\n"}, `key "a" given twice (at 0 and 1)`},
		{[]string{"a", "b\r", "a"}, `key "b\r" holds a line terminator`},
	} {
		for _, e := range []Engine{Auto, AhoCorasick} {
			_, err := New(c.keys, e)
			if err == nil || err.Error() != c.want {
				t.Errorf("%s %q: %v, want %s", e, c.keys, err, c.want)
			}
		}
	}
}

// TestKeySet finds each of 10,000 keys sharing a prefix, and none of the
// texts that are not keys: cut short, run on, one byte changed.
func TestKeySet(t *testing.T) {
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("ERR_%05d_AB", i*3)
	}
	s := newKeySet(keys)
	for i := range keys {
		if j, ok := s.add(i); !ok {
			t.Fatalf("key %d: a duplicate of %d", i, j)
		}
	}
	if j, ok := s.add(7); ok || j != 7 {
		t.Errorf("adding key 7 again: %d %v, want 7 false", j, ok)
	}
	for i, k := range keys {
		if got := s.index([]byte(k)); got != i {
			t.Fatalf("index(%q) = %d, want %d", k, got, i)
		}
		for _, miss := range []string{k[:len(k)-1], k + "C", strings.Replace(k, "AB", "AC", 1), fmt.Sprintf("ERR_%05d_AB", i*3+1)} {
			if got := s.index([]byte(miss)); got >= 0 {
				t.Fatalf("index(%q) = %d (%q), want -1", miss, got, keys[got])
			}
		}
	}
	if got := newKeySet(nil).index([]byte("x")); got != -1 {
		t.Errorf("empty set: index = %d", got)
	}
}
