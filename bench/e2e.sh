#!/usr/bin/env bash
# End-to-end throughput of the built binary against the tools a user would
# otherwise reach for, on one generated corpus, in one run:
#
#   bench/e2e.sh            # 1 GiB corpus, best of 3 runs each
#   SIZE=256M REPEAT=1 bench/e2e.sh
#
# Needs Go; uses mawk (else awk) and rg when installed. Every command reads
# a file whose pages are already cached and writes to /dev/null. Reported:
# best wall time, GB/s (10^9 bytes), peak RSS (ru_maxrss), least CPU time
# (user + system, steadier than wall time when other work shares the
# machine), and the ratios the targets are stated in.
set -euo pipefail

SIZE=${SIZE:-1G}
REPEAT=${REPEAT:-3}
CODES=${CODES:-0.02}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/annotator-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "# building into $work" >&2
(cd "$root" && go build -o "$work/annotator" ./cmd/annotator &&
	go build -o "$work/corpus" ./bench/cmd/corpus &&
	go build -o "$work/measure" ./bench/cmd/measure)

echo "# generating a $SIZE corpus (seed 1, $CODES of lines with a code), a $SIZE single line and a $SIZE JSON-Lines corpus" >&2
"$work/corpus" -size "$SIZE" -codes "$CODES" -o "$work/text.log" \
	-codes-file "$work/codes.txt" -notes-file "$work/notes.tsv"
"$work/corpus" -size "$SIZE" -codes "$CODES" -single-line -o "$work/line.log"
"$work/corpus" -size "$SIZE" -codes "$CODES" -json 1 -o "$work/jsonl.log"
echo "# generating custom catalogs of 10,000 and 100,000 keys that the corpus does not hold" >&2
"$work/corpus" -size 1K -o /dev/null -keys 10000 -keys-file "$work/keys10k.tsv"
"$work/corpus" -size 1K -o /dev/null -keys 100000 -keys-file "$work/keys100k.tsv"
bytes=$(wc -c <"$work/text.log")
cat "$work/text.log" "$work/line.log" "$work/jsonl.log" >/dev/null # warm the page cache

awk=awk
command -v mawk >/dev/null && awk=mawk

echo "# checking that the awk script and annotator write the same bytes" >&2
if cmp -s <("$work/annotator" <"$work/text.log") <("$awk" -F'\t' -f "$root/bench/annotate.awk" "$work/notes.tsv" "$work/text.log"); then
	echo "# same output" >&2
else
	echo "bench: annotator and $awk disagree on the corpus" >&2
	exit 1
fi

results="$work/results.tsv"
m() { # name, [-in file], -- command...
	local name=$1
	shift
	echo "# $name" >&2
	"$work/measure" -name "$name" -n "$REPEAT" -bytes "$bytes" "$@" | tee -a "$results"
}

printf 'name\tseconds\tGB/s\tpeak-RSS-MiB\tcpu-seconds\n'
m cat -- cat "$work/text.log"
# GNU grep stops at the first match when its output is /dev/null: give it
# a file.
m grep-c-w-F -out "$work/grep.count" -- grep -c -w -F -f "$work/codes.txt" "$work/text.log"
if command -v rg >/dev/null; then
	m rg-passthru -- rg --passthru -w -F -f "$work/codes.txt" "$work/text.log"
fi
m "$awk" -- "$awk" -F'\t' -f "$root/bench/annotate.awk" "$work/notes.tsv" "$work/text.log"
m text-2-workers -in "$work/text.log" -- "$work/annotator" --workers 2
m text-1-worker -in "$work/text.log" -- "$work/annotator" --workers 1
m json-2-workers -in "$work/text.log" -- "$work/annotator" --format json --workers 2
m json-1-worker -in "$work/text.log" -- "$work/annotator" --format json --workers 1
m single-line-text -in "$work/line.log" -- "$work/annotator"
m single-line-json -in "$work/line.log" -- "$work/annotator" --format json
# JSON Lines: text mode appends the note after the brace; merge mode puts a
# field into every object with a code.
m jsonl-text -in "$work/jsonl.log" -- "$work/annotator" --workers 2
m jsonl-merge -in "$work/jsonl.log" -- "$work/annotator" --format merge --workers 2
m jsonl-merge-1-worker -in "$work/jsonl.log" -- "$work/annotator" --format merge --workers 1
# The settings deployments use. The summary goes to stderr, dropped here.
quiet=(sh -c 'exec "$0" "$@" 2>/dev/null')
m text-metrics -in "$work/text.log" -- "$work/annotator" --metrics-addr 127.0.0.1:0 --log-level error
m text-summary -in "$work/text.log" -- "${quiet[@]}" "$work/annotator" --summary
m stats -in "$work/text.log" -- "$work/annotator" stats
# The timeline reads the time of the lines with a code, on the writer.
m text-summary-timeline -in "$work/text.log" -- "${quiet[@]}" "$work/annotator" --summary --timeline
m stats-timeline -in "$work/text.log" -- "$work/annotator" stats --timeline
m stats-html -in "$work/text.log" -- "$work/annotator" stats --format html
m keys-10k -in "$work/text.log" -- "$work/annotator" --catalog-replace --catalog "$work/keys10k.tsv"
m keys-100k -in "$work/text.log" -- "$work/annotator" --catalog-replace --catalog "$work/keys100k.tsv"
# Start-up alone: load the 100,000 keys, read nothing.
bytes_saved=$bytes
bytes=1
m startup-100k -in /dev/null -- "$work/annotator" --catalog-replace --catalog "$work/keys100k.tsv"
bytes=$bytes_saved

echo
echo "# ratios (throughput of annotator over the other)"
awk -F'\t' '
	{ gbps[$1] = $3; cpu[$1] = $5 }
	function cratio(a, b) {
		if (!(a in cpu) || !(b in cpu) || cpu[a] == 0) return
		printf "%-16s / %-12s %6.2fx  (by CPU time)\n", a, b, cpu[b] / cpu[a]
	}
	function ratio(a, b) {
		if (!(a in gbps) || !(b in gbps) || gbps[b] == 0) return
		printf "%-16s / %-12s %6.2fx\n", a, b, gbps[a] / gbps[b]
	}
	END {
		ratio("text-2-workers", "grep-c-w-F")
		ratio("text-2-workers", "mawk")
		ratio("text-2-workers", "awk")
		ratio("text-2-workers", "rg-passthru")
		ratio("text-2-workers", "cat")
		ratio("text-1-worker", "grep-c-w-F")
		ratio("text-2-workers", "text-1-worker")
		ratio("json-2-workers", "json-1-worker")
		ratio("jsonl-merge", "jsonl-text")
		if (("jsonl-merge" in gbps) && ("jsonl-text" in gbps) && gbps["jsonl-merge"] > 0)
			printf "%-31s %6.2fx (goal: at most 1.5x)\n", "jsonl-merge time / jsonl-text", gbps["jsonl-text"] / gbps["jsonl-merge"]
		ratio("text-metrics", "text-2-workers")
		ratio("text-summary", "text-2-workers")
		ratio("stats", "text-2-workers")
		ratio("text-summary-timeline", "text-summary")
		ratio("stats-timeline", "stats")
		ratio("stats-html", "stats")
		ratio("keys-10k", "text-2-workers")
		ratio("keys-100k", "text-2-workers")
		ratio("json-2-workers", "text-2-workers")
		cratio("text-metrics", "text-2-workers")
		cratio("text-summary", "text-2-workers")
		cratio("stats", "text-2-workers")
		cratio("text-summary-timeline", "text-summary")
		cratio("stats-timeline", "stats")
		cratio("keys-10k", "text-2-workers")
		cratio("keys-100k", "text-2-workers")
		cratio("json-2-workers", "text-2-workers")
		for (n in gbps) {
			if (n == "startup-100k" || n == "cat" || n == "grep-c-w-F" || n == "mawk" || n == "awk" || n == "rg-passthru") continue
			ratio(n, "cat"); ratio(n, "grep-c-w-F"); ratio(n, "mawk")
		}
	}' "$results"
echo
echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%d)"
