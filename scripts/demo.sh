#!/bin/sh
# What `make demo` runs: the counting job of examples/demo.yaml, killed
# with SIGKILL mid-run, restarted with --restore latest, run to the end,
# and its committed output checked for exactly-once results.
set -eu
SLUICE=$(cd "$(dirname "${1:-build/dev/sluice}")" && pwd)/$(basename "${1:-build/dev/sluice}")
cd "$(dirname "$0")/.."
rm -rf .sluice
echo "== sluice config check examples/sluice.yaml (the recommended settings)"
"$SLUICE" config check examples/sluice.yaml >/dev/null && echo "valid"
echo
echo "== sluice run examples/demo.yaml  (1,000,000 events, RocksDB, checkpoints every second)"
"$SLUICE" run examples/demo.yaml --stats-json .sluice/stats.json &
pid=$!
sleep 3
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -t 2 ] && echo >&2 # end its status line: a killed run cannot
echo "-- killed with SIGKILL after 3 s; on disk:"
"$SLUICE" checkpoint list .sluice/checkpoints/* || true
committed=$(cat .sluice/out/part-* 2>/dev/null | wc -l)
echo "-- $committed records committed before the kill"
echo
echo "== sluice run examples/demo.yaml --restore latest"
"$SLUICE" run examples/demo.yaml --restore latest --stats-json .sluice/stats.json
echo
echo "== checking .sluice/out: every key's counts must be exactly 1..n"
cat .sluice/out/part-* | awk -F, '
	{ n[$1]++; if ($2 > max[$1]) max[$1] = $2; seen[$0]++ }
	END {
		bad = 0; dup = 0; total = 0
		for (k in n) { total += n[k]; if (n[k] != max[k]) bad++ }
		for (r in seen) if (seen[r] > 1) dup++
		printf "%d records, %d keys, %d keys with gaps or extra counts, %d duplicate records\n", total, length(n), bad, dup
		exit (bad || dup || total != 1000000)
	}'
echo "exactly once: ok"
echo
echo "== checkpoint statistics (.sluice/stats.json)"
sed 's/,"summary".*//' .sluice/stats.json | tr -d '\n'; echo "}"
