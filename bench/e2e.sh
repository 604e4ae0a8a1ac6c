#!/usr/bin/env bash
# End-to-end throughput of the built binary against the tools a user would
# otherwise reach for, on one generated corpus, in one run:
#
#   bench/e2e.sh            # 1 GiB corpus, best of 3 runs each
#   SIZE=256M REPEAT=1 bench/e2e.sh
#   PART=profiles SIZE=256M ROUNDS=3 bench/e2e.sh   # only the profile matrix
#   BEFORE=/tmp/annotator-old PART=profiles bench/e2e.sh  # and an older binary's rows
#
# Two parts (PART=classic, profiles or all, the default). The classic part
# times each command REPEAT times in a row and keeps the best. The profile
# part runs every deployed setting on each corpus profile (default; real:
# a third of the lines with an 8xxxxx number not in the catalog, plain,
# JSON and access-log lines mixed; long: the same with 4 KiB lines) and
# custom catalogs of each key shape (shared prefix, common words, 5-digit,
# mixed case, mixed), with GNU grep and ripgrep on the same keys beside
# them; it runs every row once per round, ROUNDS rounds, so that a change
# in the machine's load falls on all rows alike, and reports medians and
# each goal of issue 18 as met or missed.
#
# Needs Go; uses mawk (else awk) and rg when installed. Every command reads
# a file whose pages are already cached and writes to /dev/null. Reported:
# best wall time, GB/s (10^9 bytes), peak RSS (ru_maxrss), least CPU time
# (user + system, steadier than wall time when other work shares the
# machine), and the ratios the targets are stated in.
set -euo pipefail

SIZE=${SIZE:-1G}
REPEAT=${REPEAT:-3}
PART=${PART:-all}
ROUNDS=${ROUNDS:-3}
PROFILES=${PROFILES:-default real long}
SHAPES=${SHAPES:-prefix words digits case mixed}
CODES=${CODES:-0.02}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/annotator-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "# building into $work" >&2
(cd "$root" && go build -o "$work/annotator" ./cmd/annotator &&
	go build -o "$work/corpus" ./bench/cmd/corpus &&
	go build -o "$work/measure" ./bench/cmd/measure)

classic() {
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
}

# profiles: the matrix of settings × corpus profiles, alternating rounds.
profiles() {
	local rows="$work/rows.tsv" runs="$work/runs.tsv"
	: >"$rows"
	: >"$runs"
	"$work/corpus" -size 1K -o /dev/null -codes-file "$work/codes.txt"
	for shape in $SHAPES; do
		for n in 10000 100000; do
			[ "$shape" = digits ] && [ "$n" = 100000 ] && n=90000 # there are only 90,000 five-digit codes
			"$work/corpus" -size 1K -o /dev/null -keys "$n" -keys-shape "$shape" \
				-keys-file "$work/keys-$shape-$n.tsv" -keys-list "$work/keys-$shape-$n.txt"
		done
	done
	for n in 100 1000; do
		"$work/corpus" -size 1K -o /dev/null -keys "$n" -keys-shape prefix \
			-keys-file "$work/keys-prefix-$n.tsv" -keys-list "$work/keys-prefix-$n.txt"
	done
	# row name, input file (- for none: the command names it), output
	# file (- for /dev/null), command...
	row() {
		local name=$1 in=$2 out=$3
		shift 3
		[ "$out" = - ] && out=/dev/null
		printf '%s\t%s\t%s' "$name" "$in" "$out" >>"$rows"
		printf '\t%s' "$@" >>"$rows"
		printf '\n' >>"$rows"
	}
	local quiet=(sh -c 'exec "$0" "$@" 2>/dev/null')
	for p in $PROFILES; do
		local f="$work/$p.log"
		echo "# generating the $p profile, $SIZE" >&2
		"$work/corpus" -profile "$p" -size "$SIZE" -o "$f"
		cat "$f" >/dev/null
		row "$p/plain" "$f" - "$work/annotator"
		row "$p/metrics" "$f" - "$work/annotator" --metrics-addr 127.0.0.1:0 --log-level error
		row "$p/summary" "$f" - "${quiet[@]}" "$work/annotator" --summary
		row "$p/json" "$f" - "$work/annotator" --format json
		if [ -n "${BEFORE:-}" ]; then
			# An older binary on the same rows, for a before/after table
			# measured in one run.
			row "$p/before-plain" "$f" - "$BEFORE"
			row "$p/before-metrics" "$f" - "$BEFORE" --metrics-addr 127.0.0.1:0 --log-level error
			row "$p/before-summary" "$f" - "${quiet[@]}" "$BEFORE" --summary
			row "$p/before-json" "$f" - "$BEFORE" --format json
			for shape in prefix words; do
				[[ " $SHAPES " == *" $shape "* ]] &&
					row "$p/before-keys-$shape-10k" "$f" - "$BEFORE" --catalog-replace --catalog "$work/keys-$shape-10000.tsv"
			done
		fi
		# GNU grep stops at the first match when its output is /dev/null.
		row "$p/grep-codes" - "$work/grep.out" grep -c -w -F -f "$work/codes.txt" "$f"
		command -v rg >/dev/null && row "$p/rg-codes" - "$work/grep.out" rg -c -w -F -f "$work/codes.txt" "$f"
		for shape in $SHAPES; do
			local k="$work/keys-$shape-10000"
			row "$p/keys-$shape-10k" "$f" - "$work/annotator" --catalog-replace --catalog "$k.tsv"
			row "$p/grep-$shape-10k" - "$work/grep.out" grep -c -w -F -f "$k.txt" "$f"
			command -v rg >/dev/null && row "$p/rg-$shape-10k" - "$work/grep.out" rg -c -w -F -f "$k.txt" "$f"
		done
	done
	# Key-set sizes, on the real profile only.
	if [[ " $PROFILES " == *" real "* ]]; then
		local f="$work/real.log"
		for n in 100 1000; do
			row "real/keys-prefix-$n" "$f" - "$work/annotator" --catalog-replace --catalog "$work/keys-prefix-$n.tsv"
		done
		for shape in $SHAPES; do
			local n=100000
			[ "$shape" = digits ] && n=90000
			row "real/keys-$shape-100k" "$f" - "$work/annotator" --catalog-replace --catalog "$work/keys-$shape-$n.tsv"
			row "real/grep-$shape-100k" - "$work/grep.out" grep -c -w -F -f "$work/keys-$shape-$n.txt" "$f"
			row "startup-$shape-100k" /dev/null - "$work/annotator" --catalog-replace --catalog "$work/keys-$shape-$n.tsv"
		done
	fi
	for r in $(seq "$ROUNDS"); do
		echo "# round $r of $ROUNDS, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
		while IFS=$'\t' read -r -a f; do
			local name=${f[0]} in=${f[1]} out=${f[2]} b=1 inargs=()
			if [ "$in" = - ]; then
				b=$(wc -c <"${f[-1]}")
			else
				inargs=(-in "$in")
				[ "$in" != /dev/null ] && b=$(wc -c <"$in")
			fi
			"$work/measure" -name "$name" -n 1 -bytes "$b" "${inargs[@]}" -out "$out" -- "${f[@]:3}" >>"$runs"
		done <"$rows"
	done
	echo
	echo "# profile matrix: medians of $ROUNDS alternating rounds (load at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
	awk -F'\t' -v rounds="$ROUNDS" '
	function med(s,   a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 2; i <= k; i++)
			for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return a[int((k + 1) / 2)]
	}
	{
		if (!($1 in wall)) order[++n] = $1
		wall[$1] = wall[$1] " " $2; cpu[$1] = cpu[$1] " " $5; if ($4 > rss[$1]) rss[$1] = $4; gb[$1] = gb[$1] " " $3
	}
	function ratio(a, b) { lastc = (a in C && b in C && C[a] > 0) ? C[b] / C[a] : -1; return (a in W && b in W && W[a] > 0) ? W[b] / W[a] : -1 }
	# Judged by wall time, as the goals are stated; the ratio of CPU
	# times beside it shows how much of a miss is the load (two workers
	# and a writer need the two cores to themselves to be faster).
	function goal(what, r, want) {
		if (r < 0) return
		printf "%-44s %6.2fx  goal >= %.2fx  %-6s (by CPU time %.2fx)\n", what, r, want, (r >= want ? "met" : "MISSED"), lastc
	}
	END {
		printf "%-24s %8s %8s %8s %10s\n", "row", "seconds", "GB/s", "cpu-s", "peak-MiB"
		for (i = 1; i <= n; i++) {
			x = order[i]; W[x] = med(wall[x]); C[x] = med(cpu[x])
			printf "%-24s %8.3f %8.3f %8.3f %10.1f\n", x, W[x], med(gb[x]), C[x], rss[x]
		}
		print ""
		for (i = 1; i <= n; i++) {
			x = order[i]
			split(x, pp, "/"); p = pp[1]; s = pp[2]
			if (s ~ /^before-/) {
				if (s != "before-plain") printf "%-44s %6.2fx  (before)\n", x " / before-plain", ratio(x, p "/before-plain")
				if (s == "before-json") printf "%-44s %6.2fx  (before)\n", x " / grep -c", ratio(x, p "/grep-codes")
				if (s ~ /^before-keys/) { g = x; sub(/before-keys-/, "grep-", g); printf "%-44s %6.2fx  (before)\n", x " / grep -F -f", ratio(x, g) }
			}
			if (s == "metrics") goal(x " / plain", ratio(x, p "/plain"), 0.9)
			if (s == "summary") goal(x " / plain", ratio(x, p "/plain"), 0.8)
			if (s == "json") goal(x " / grep -c", ratio(x, p "/grep-codes"), 1.3)
			if (s ~ /^keys-(prefix|words)-10k$/) {
				goal(x " / plain", ratio(x, p "/plain"), 0.5)
				g = x; sub(/keys-/, "grep-", g)
				goal(x " / grep -F -f", ratio(x, g), 1.0)
			} else if (s ~ /^keys-/) {
				r = ratio(x, p "/plain")
				printf "%-44s %6.2fx  (by CPU time %.2fx)\n", x " / plain", r, lastc
				g = x; sub(/keys-/, "grep-", g)
				if (g in W) { r = ratio(x, g); printf "%-44s %6.2fx  (by CPU time %.2fx)\n", x " / grep -F -f", r, lastc }
			}
			if (x ~ /^startup-/) printf "%-44s %6.3f s (goal <= 0.5 s), %.1f MiB\n", x, W[x], rss[x]
			if (s ~ /^keys-.*-10k$/ && rss[x] > 64) printf "%-44s %.1f MiB > 64 MiB  MISSED\n", x " RSS", rss[x]
			if (s ~ /^keys-.*-100k$/ && rss[x] > 128) printf "%-44s %.1f MiB > 128 MiB  MISSED\n", x " RSS", rss[x]
		}
	}' "$runs"
}

case $PART in
classic) classic ;;
profiles) profiles ;;
all)
	classic
	profiles
	;;
*)
	echo "bench: PART=$PART: want classic, profiles or all" >&2
	exit 2
	;;
esac
echo
echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%d)"
