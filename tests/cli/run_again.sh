#!/bin/sh
# Running a job again after it finished: `--restore latest` finds the job
# result record (written before the checkpoints are discarded) and runs
# nothing, exit 0; a fresh run writes new part files beside the first
# run's (a per-run token in the name) instead of replacing them; a
# damaged record is an error naming the file, exit 1.
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
scratch_dir

{
	count_job again "" 500 5 "" "$tmp/out/"
	cat <<YAML
  execution.checkpointing.interval: 50ms
  execution.checkpointing.dir: $tmp/ck
YAML
} >"$tmp/job.yaml"
lines() { cat "$tmp"/out/part-* | wc -l | tr -d ' '; }

"$SLUICE" run "$tmp/job.yaml" 2>"$tmp/err" || fail "first run: $(cat "$tmp/err")"
[ "$(lines)" = 500 ] || fail "first run wrote $(lines) lines"
rec=$(ls "$tmp"/ck/*/_job_result) || fail "no job result record"
grep -q "^state FINISHED$" "$rec" || fail "record: $(cat "$rec")"

"$SLUICE" run "$tmp/job.yaml" --restore latest 2>"$tmp/err" ||
	fail "restore latest of a finished job: exit $? ($(cat "$tmp/err"))"
grep -q "already finished" "$tmp/err" || fail "no 'already finished': $(cat "$tmp/err")"
[ "$(lines)" = 500 ] || fail "restore latest of a finished job wrote output"

"$SLUICE" run "$tmp/job.yaml" 2>"$tmp/err" || fail "fresh rerun: $(cat "$tmp/err")"
[ "$(lines)" = 1000 ] || fail "fresh rerun: $(lines) lines, want both runs' 1000"
[ "$(ls "$tmp"/out/part-* | wc -l)" = 2 ] || fail "want two part files: $(ls "$tmp/out")"

echo "not a record" >"$rec"
rc_of "$SLUICE" run "$tmp/job.yaml" --restore latest 2>"$tmp/err"
[ "$rc" = 1 ] || fail "damaged record: exit $rc, want 1"
grep -q "_job_result' is not a sluice job result" "$tmp/err" ||
	fail "damaged record message: $(cat "$tmp/err")"
echo ok
