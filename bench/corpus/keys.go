package corpus

import (
	"math/rand/v2"
	"strconv"
)

var (
	keyPrefixes = []string{"ERR", "E", "WARN", "DB", "AUTH", "HTTP", "KAFKA", "REDIS", "MQ", "IO", "NET", "SYS",
		"USR", "PAY", "ORD", "GRP", "MSG", "PUSH", "CACHE", "TLS", "DNS", "RPC", "S3", "FS"}
	keyWords = []string{"CONN", "REFUSED", "TIMEOUT", "RESET", "DENIED", "FORBIDDEN", "NOT_FOUND", "EXISTS",
		"INVALID", "EXPIRED", "LIMIT", "QUOTA", "BUSY", "CLOSED", "PARSE", "AUTH", "TOKEN", "USER", "GROUP",
		"RETRY", "FULL", "EMPTY", "LOCKED", "STALE", "CORRUPT", "OFFSET", "LAG", "SHARD"}
)

// Keys returns n distinct keys shaped like the codes of a custom catalog,
// deterministic for a seed: upper-case names such as ERR_TIMEOUT_4031 and
// E11000-style codes, and lower-case snake-case names built from the
// corpus's own words (request_timeout_17), which run deep into the
// automaton before failing on the corpus text. None of them occurs in a
// corpus: its words never join with underscores and digits like this.
func Keys(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 0x6b657973))
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for len(out) < n {
		var k string
		switch r.IntN(10) {
		case 0, 1, 2, 3, 4:
			k = keyPrefixes[r.IntN(len(keyPrefixes))] + "_" + keyWords[r.IntN(len(keyWords))] + "_" + strconv.Itoa(r.IntN(100000))
		case 5, 6:
			k = "E" + strconv.Itoa(10000+r.IntN(9990000))
		default:
			k = words[r.IntN(len(words))] + "_" + words[r.IntN(len(words))] + "_" + strconv.Itoa(r.IntN(100000))
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
