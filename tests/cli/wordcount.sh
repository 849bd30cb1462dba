#!/bin/sh
# examples/wordcount.c, the public-API example: the counts it commits
# match `tr | sort | uniq -c` over the same input, every word's lines are
# exactly 1..n (exactly once), and a run killed with SIGKILL mid-way and
# started again with the same arguments resumes from its latest
# checkpoint and still commits everything exactly once.
set -eu
: "${SLUICE_BUILD_DIR:?}"
wc=$SLUICE_BUILD_DIR/examples/wordcount
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# words FILE LINES SEED: lines of 0-8 words from a small vocabulary
words() {
	awk -v lines="$2" -v seed="$3" 'BEGIN {
		split("the quick Brown fox jumps over a lazy dog, sluice keeps STATE", w, " ")
		srand(seed)
		for (l = 0; l < lines; l++) {
			n = int(rand() * 9); s = ""
			for (i = 0; i < n; i++) s = s (i ? " " : "") w[1 + int(rand() * 12)]
			print s "."
		}
	}' >"$1"
}

# check INPUT-DIR OUTPUT-DIR: final counts as expected, exactly once
check() {
	cat "$1"/* | tr -cs 'A-Za-z0-9' '\n' | tr 'A-Z' 'a-z' | grep -v '^$' |
		sort | uniq -c | awk '{ print $2, $1 }' >"$tmp/want"
	cat "$2"/part-* | awk -F, '
		{ n[$1]++; if ($2 > m[$1]) m[$1] = $2; seen[$0]++ }
		END {
			for (r in seen) if (seen[r] > 1) { print "duplicate " r; exit 1 }
			for (k in n) if (n[k] != m[k]) { print "gap in " k; exit 1 }
			for (k in m) print k, m[k]
		}' | sort >"$tmp/got" || fail "not exactly once: $(cat "$tmp/got")"
	diff "$tmp/want" "$tmp/got" >&2 || fail "counts differ from uniq -c"
}

[ -x "$wc" ] || fail "$wc not built"
set +e
"$wc" 2>"$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "usage: wordcount" "$tmp/err" || fail "usage: exit $rc"

mkdir -p "$tmp/a/in"
words "$tmp/a/in/one.txt" 3000 1
words "$tmp/a/in/two.txt" 2000 2
"$wc" "$tmp/a/in" "$tmp/a/out" "$tmp/a/ck" 2 2>"$tmp/a/log" || fail "run failed: $(cat "$tmp/a/log")"
grep -q "wordcount: job dir $tmp/a/ck/" "$tmp/a/log" || fail "no job dir: $(cat "$tmp/a/log")"
check "$tmp/a/in" "$tmp/a/out"

# killed mid-way, started again: resumes, exactly once
mkdir -p "$tmp/b/in"
for i in 1 2 3 4; do words "$tmp/b/in/f$i.txt" 40000 "$i"; done
"$wc" "$tmp/b/in" "$tmp/b/out" "$tmp/b/ck" 3 2>"$tmp/b/log1" &
pid=$!
sleep 0.3
if kill -9 "$pid" 2>/dev/null; then
	wait "$pid" 2>/dev/null || true
	"$wc" "$tmp/b/in" "$tmp/b/out" "$tmp/b/ck" 3 2>"$tmp/b/log2" ||
		fail "second run failed: $(cat "$tmp/b/log2")"
	grep -q "resumed from checkpoint" "$tmp/b/log2" ||
		echo "note: killed before the first checkpoint; started fresh"
else
	wait "$pid" || fail "run failed: $(cat "$tmp/b/log1")"
	echo "note: finished before the kill"
fi
check "$tmp/b/in" "$tmp/b/out"
echo "ok"
