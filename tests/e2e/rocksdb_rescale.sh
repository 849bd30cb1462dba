#!/bin/sh
# Incremental rocksdb checkpoints across a scale-in and a scale-out, the
# way a user does it: run at parallelism 2 and SIGKILL it, restore the
# latest checkpoint at parallelism 1 (the subtask keeps both old databases
# as shards: its checkpoints name their files kg-<lo>-<hi>/...) and SIGKILL
# it again, verify that checkpoint, restore it at parallelism 2 and run to
# the end.  The committed output is exactly once.
set -eu
: "${SLUICE:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
scratch_dir sluice-rdbscale

count=2000000
keys=997

job() { # PARALLELISM
	count_job rdbscale "$1" "$count" "$keys" 400000 "$tmp/out/" >"$tmp/job.yaml"
	cat >>"$tmp/job.yaml" <<YAML
  state.backend.type: rocksdb
  execution.checkpointing.incremental: true
  execution.checkpointing.interval: 100 ms
  execution.checkpointing.dir: $tmp/ck
  execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
  state.backend.rocksdb.localdir: $tmp/local
YAML
}

kills=0
run_and_kill 2 "$tmp/run1.log" 1000
run_and_kill 1 "$tmp/run2.log" 300
second=$(latest)
"$SLUICE" checkpoint verify "$second" >/dev/null || fail "$second does not verify"
"$SLUICE" checkpoint inspect "$second" >"$tmp/inspect" ||
	fail "$second does not inspect"
grep -q "shared kg-0-63/" "$tmp/inspect" && grep -q "shared kg-64-127/" "$tmp/inspect" ||
	fail "the parallelism-1 checkpoint does not carry both parts: $(cat "$tmp/inspect")"

job 2
"$SLUICE" run "$tmp/job.yaml" --restore latest >"$tmp/run3.log" 2>&1 ||
	fail "restore at parallelism 2: $(cat "$tmp/run3.log")"
check_output "$tmp/out" "$count" "$keys" || fail "2 -> 1 -> 2: output is not exactly once"
echo "2 -> 1 -> 2 with incremental rocksdb checkpoints: exactly once"
echo ok
