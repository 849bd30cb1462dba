#!/bin/sh
# Stop with a savepoint (SIGINT) at parallelism 2, restore the savepoint at
# parallelism 3 and at 1, run to the end: the committed output is exactly
# once (the sequence source deals its splits out to the new subtasks; keyed
# counts move with their key groups).
set -eu
: "${SLUICE:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-sp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

job() { # PARALLELISM OUT
	cat >"$tmp/job.yaml" <<YAML
job:
  name: rescale
  parallelism: $1
pipeline:
  - source: sequence
    count: 400000
    keys: 101
    rate: 200000
  - key-by: key
  - operator: count
  - sink: file
    path: $2
config:
  execution.checkpointing.interval: 200ms
  execution.checkpointing.dir: $tmp/ck
  execution.checkpointing.savepoint-dir: $tmp/sp
YAML
}

exactly_once() { # DIR
	cat "$1"/part-* | awk -F, '
		{ n[$1]++; if ($2 > max[$1]) max[$1] = $2; seen[$0]++ }
		END {
			total = 0; bad = 0; dup = 0
			for (k in n) { total += n[k]; if (n[k] != max[k]) bad++ }
			for (r in seen) if (seen[r] > 1) dup++
			if (total != 400000 || length(n) != 101 || bad || dup) {
				printf "records %d, keys %d, bad %d, duplicates %d\n", total, length(n), bad, dup
				exit 1
			}
		}'
}

for p in 3 1; do
	rm -rf "$tmp/ck" "$tmp/sp" "$tmp/out"
	job 2 "$tmp/out/"
	"$SLUICE" run "$tmp/job.yaml" >"$tmp/stdout" 2>"$tmp/stderr" &
	pid=$!
	sleep 0.8
	kill -INT "$pid"
	wait "$pid" || fail "stop-with-savepoint run failed: $(cat "$tmp/stderr")"
	sp=$(sed -n 's/^savepoint: //p' "$tmp/stdout")
	[ -n "$sp" ] && [ -f "$sp/_metadata" ] || fail "no savepoint printed: $(cat "$tmp/stdout" "$tmp/stderr")"
	"$SLUICE" checkpoint verify "$sp" >/dev/null || fail "savepoint does not verify"
	job "$p" "$tmp/out/"
	"$SLUICE" run "$tmp/job.yaml" --restore "$sp" 2>"$tmp/stderr" ||
		fail "restore at parallelism $p failed: $(cat "$tmp/stderr")"
	exactly_once "$tmp/out" || fail "2 -> $p: output is not exactly once"
	echo "savepoint at parallelism 2 restored at $p: exactly once"
done
echo ok
