# The enrichment annotator does, written in awk, as the baseline a shell
# user would reach for. Same rule: a code is six digits starting with 8,
# not touching a letter, digit or underscore, not part of a decimal number
# (3.898001, 898001.5); each distinct code of a line is appended once as
# " [CODE message | meaning]", leaving out a message or meaning the
# catalog does not give, as annotator does.
#
#   mawk -F'\t' -f annotate.awk notes.tsv input.log
#
# notes.tsv is code<TAB>message<TAB>meaning (bench/cmd/corpus -notes-file).
FNR == NR {
	n = " [" $1
	if ($2 != "") n = n " " $2
	if ($3 != "") n = n " | " $3
	note[$1] = n "]"
	next
}
# Most lines hold no candidate at all: print them untouched.
!/8[0-9][0-9][0-9][0-9][0-9]/ { print; next }
{
	line = $0
	rest = line
	off = 0
	out = ""
	split("", seen)
	while (match(rest, /8[0-9][0-9][0-9][0-9][0-9]/)) {
		s = off + RSTART
		code = substr(line, s, 6)
		b = substr(line, s - 1, 1)
		bb = substr(line, s - 2, 1)
		a = substr(line, s + 6, 1)
		aa = substr(line, s + 7, 1)
		ok = 1
		if (s > 1 && b ~ /[0-9A-Za-z_]/) ok = 0
		if (s > 2 && b == "." && bb ~ /[0-9]/) ok = 0
		if (a ~ /[0-9A-Za-z_]/) ok = 0
		if (a == "." && aa ~ /[0-9]/) ok = 0
		if (ok && (code in note) && !(code in seen)) {
			seen[code] = 1
			out = out note[code]
		}
		off += RSTART
		rest = substr(line, off + 1)
	}
	print line out
}
