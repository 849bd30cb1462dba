#!/bin/sh
# sluice doctor --stats: a throttled job whose checkpoints time out (10 ms
# timeout) records CHECKPOINT_EXPIRED failures in its statistics document;
# doctor explains each with the reason's entry and the keys involved.
set -eu
: "${SLUICE:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$tmp/slow.yaml" <<YAML
job:
  name: slow
pipeline:
  - source: sequence
    count: 1500
    keys: 10
  - operator: throttle
    per-record: 1ms
  - sink: null
config:
  execution.checkpointing.interval: 100ms
  execution.checkpointing.timeout: 10ms
  execution.checkpointing.tolerable-failed-checkpoints: 1000
  execution.checkpointing.dir: $tmp/ck
YAML
"$SLUICE" run "$tmp/slow.yaml" --stats-json "$tmp/stats.json" 2>"$tmp/err" ||
	fail "run: $(tail -n 3 "$tmp/err")"
grep -q '"status":"FAILED"' "$tmp/stats.json" || fail "no failed checkpoint recorded"
"$SLUICE" doctor --stats "$tmp/stats.json" -D execution.checkpointing.timeout=10ms >"$tmp/out"
grep -q '^checkpoint [0-9]* failed: Checkpoint expired before completing.$' "$tmp/out" ||
	fail "no failed checkpoint line: $(head -n 3 "$tmp/out")"
grep -q '^CHECKPOINT_EXPIRED' "$tmp/out" || fail "reason not explained"
grep -q 'execution.checkpointing.timeout: 10ms  # -D' "$tmp/out" || fail "keys not shown"
# the same document as a table
"$SLUICE" stats "$tmp/stats.json" >"$tmp/table"
grep -q '^checkpoints: [0-9]* triggered, 0 in progress, [0-9]* completed, [1-9][0-9]* failed' "$tmp/table" ||
	fail "stats counts: $(head -n 1 "$tmp/table")"
grep -q 'FAILED .*CHECKPOINT_EXPIRED$' "$tmp/table" || fail "stats rows lack the failure reason"
set +e
"$SLUICE" stats "$tmp/slow.yaml" >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "stats of a non-statistics file: exit $rc, want 2"
set +e
"$SLUICE" doctor --stats "$tmp/slow.yaml" >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "a non-statistics file: exit $rc, want 2"
echo ok
