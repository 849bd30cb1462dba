#!/bin/sh
# `sluice savepoint JOB-DIR` against a running `sluice run`: the job prints
# its job dir at start; the savepoint command prints a savepoint path that
# verifies while the job keeps running; two concurrent requests both get
# one; then the job is canceled (SIGTERM), restored from the printed
# savepoint and run to the end: the committed output is exactly once.
# The first run checkpoints only every hour, so nothing after the
# savepoint is committed before the cancel.  Also: nobody serving the
# directory (never, or after the job ended) exits 1 naming it; bad usage
# exits 2.
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
scratch_dir sluice-sp
tmp=$(cd "$tmp" && pwd -P) # paths come back resolved
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail_log=$tmp/log # fail prints the job's log

count=400000
keys=53
{
	count_job savepoint-cli 2 "$count" "$keys" 100000 "$tmp/out/"
	cat <<YAML
  execution.checkpointing.interval: 1 h
  execution.checkpointing.dir: $tmp/ck
  execution.checkpointing.savepoint-dir: sp
YAML
} >"$tmp/job.yaml"
mkdir "$tmp/run" "$tmp/elsewhere"

# usage and nobody serving
rc_of "$SLUICE" savepoint >/dev/null 2>"$tmp/err"
[ "$rc" = 2 ] || fail "no JOB-DIR: exit $rc, want 2"
rc_of "$SLUICE" savepoint "$tmp" >/dev/null 2>"$tmp/err"
[ "$rc" = 1 ] || fail "nobody serving: exit $rc, want 1"
grep -q "no running job serves $tmp" "$tmp/err" || fail "message: $(cat "$tmp/err")"

# the job runs in $tmp/run (savepoint-dir "sp" is relative to it), the
# requests come from elsewhere: paths must be absolute to mean the same
(cd "$tmp/run" && exec "$SLUICE" run "$tmp/job.yaml") >"$tmp/stdout" 2>"$tmp/log" &
pid=$!
i=0
until grep -q "job dir " "$tmp/log"; do
	i=$((i + 1))
	[ "$i" -lt 200 ] || fail "no job dir printed"
	sleep 0.05
done
dir=$(sed -n 's/.* job dir \(.*\)$/\1/p' "$tmp/log" | head -1)
[ -d "$dir" ] || fail "job dir '$dir' does not exist"
case $dir in "$tmp/ck/"*) ;; *) fail "job dir '$dir' not under $tmp/ck" ;; esac
sleep 0.5

sp=$(cd "$tmp/elsewhere" && "$SLUICE" savepoint "$dir") || fail "savepoint failed"
case $sp in "$tmp/run/sp/savepoint-"*) ;; *) fail "savepoint path '$sp'" ;; esac
"$SLUICE" checkpoint verify "$sp" >/dev/null || fail "savepoint $sp does not verify"
kill -0 "$pid" || fail "the job stopped after the savepoint"

# two at once: two different savepoints; the job still runs; a relative
# --dir is relative to the requesting command
(cd "$tmp/elsewhere" && exec "$SLUICE" savepoint "$dir" --dir sp2) >"$tmp/a" &
a=$!
(cd "$tmp/elsewhere" && exec "$SLUICE" savepoint "$dir" --dir sp2) >"$tmp/b" || fail "second concurrent request"
wait "$a" || fail "first concurrent request"
[ "$(cat "$tmp/a")" != "$(cat "$tmp/b")" ] || fail "concurrent requests share a savepoint"
for f in "$tmp/a" "$tmp/b"; do
	case $(cat "$f") in "$tmp/elsewhere/sp2/savepoint-"*) ;; *) fail "relative --dir: $(cat "$f")" ;; esac
	"$SLUICE" checkpoint verify "$(cat "$f")" >/dev/null || fail "$(cat "$f") does not verify"
done
kill -0 "$pid" || fail "the job stopped after the savepoints"

# cancel; the control files go with the process
kill -TERM "$pid"
rc_of wait "$pid"
pid=
[ "$rc" = 1 ] || fail "canceled run: exit $rc, want 1"
rc_of "$SLUICE" savepoint "$dir" >/dev/null 2>"$tmp/err"
[ "$rc" = 1 ] || fail "after the end: exit $rc, want 1"
grep -q "no running job serves $dir" "$tmp/err" || fail "message: $(cat "$tmp/err")"

# restore from the first savepoint and finish: exactly once
"$SLUICE" run "$tmp/job.yaml" --restore "$sp" \
	-D execution.checkpointing.interval=200ms >"$tmp/stdout" 2>"$tmp/log" ||
	fail "restored run failed"
grep -q "restored checkpoint" "$tmp/log" || fail "nothing restored"
check_output "$tmp/out" "$count" "$keys" || fail "output not exactly once"
echo "ok: savepoint $sp, restored, exactly once"
