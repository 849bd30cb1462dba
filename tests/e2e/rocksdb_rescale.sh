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

# latest: the newest chk-<n> of the job with its _metadata written
latest() {
	for m in "$tmp"/ck/*/chk-*/_metadata; do
		[ -f "$m" ] || continue
		d=${m%/_metadata}
		echo "${d##*/chk-} $d"
	done | sort -n | tail -n 1 | cut -d' ' -f2
}

job 2
"$SLUICE" run "$tmp/job.yaml" >"$tmp/run1.log" 2>&1 &
kills=0
kill_after $! 1200 || fail "the first run ended before it was killed"
first=$(latest)
[ -n "$first" ] || fail "no checkpoint after the first run: $(cat "$tmp/run1.log")"

job 1
"$SLUICE" run "$tmp/job.yaml" --restore latest >"$tmp/run2.log" 2>&1 &
pid=$!
# wait for a checkpoint newer than the restored one, then kill
i=0
while [ "$(latest)" = "$first" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill_after "$pid" 300 || fail "the run at parallelism 1 ended before it was killed"
grep -q "restored checkpoint" "$tmp/run2.log" || fail "parallelism 1 did not restore: $(cat "$tmp/run2.log")"
second=$(latest)
[ "$second" != "$first" ] || fail "no checkpoint at parallelism 1: $(cat "$tmp/run2.log")"
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
