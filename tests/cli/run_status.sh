#!/bin/sh
# sluice run's live status line: on a terminal (a pty from script(1)) one
# line redrawn in place (\r ... ESC[K) with records in/out per second,
# backpressure, the last checkpoint and restarts, cleared before the final
# message; not on a terminal (stderr to a file) no status line, only the
# plain lines.  Both print the job dir for `sluice savepoint`.
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
scratch_dir

{
	count_job status-line 2 200000 50 100000 "$tmp/out/"
	cat <<YAML
  execution.checkpointing.interval: 200 ms
  execution.checkpointing.dir: $tmp/ck
YAML
} >"$tmp/job.yaml"

# not a terminal
"$SLUICE" run "$tmp/job.yaml" >"$tmp/out.txt" 2>"$tmp/err.txt" || fail "run failed: $(cat "$tmp/err.txt")"
grep -q "job dir $tmp/ck/" "$tmp/err.txt" || fail "no job dir line: $(cat "$tmp/err.txt")"
grep -q "finished" "$tmp/err.txt" || fail "no finished line"
if grep -q "backpressure" "$tmp/err.txt" || grep -q "$(printf '\r')" "$tmp/err.txt"; then
	fail "status line without a terminal: $(cat -v "$tmp/err.txt")"
fi

if ! command -v script >/dev/null 2>&1; then
	echo "script(1) missing: terminal part skipped"
	exit 0
fi
rm -rf "$tmp/out" "$tmp/ck"
# a 100-column terminal: the line is cut to 99 characters
TERM=xterm script -q -e -c "stty cols 100; '$SLUICE' run '$tmp/job.yaml' 2>&1" "$tmp/tty.txt" >/dev/null ||
	fail "run on a terminal failed: $(cat -v "$tmp/tty.txt")"
esc=$(printf '\033')
# split the redraws into lines
tr '\r' '\n' <"$tmp/tty.txt" >"$tmp/lines.txt"
n=$(grep -c "^in .*/s  out .*/s  backpressure [0-9]*%  ckpt #[0-9]* [0-9]*ms [0-9.]*[KMG]*i*B .* ago  restarts 0${esc}\[K" "$tmp/lines.txt" || true)
[ "$n" -ge 3 ] || fail "fewer than 3 status lines with a checkpoint: $(cat -v "$tmp/tty.txt")"
grep -q "^in [0-9.]*k/s" "$tmp/lines.txt" || fail "no thousands-per-second rate: $(cat -v "$tmp/tty.txt")"
long=$(sed "s/${esc}\[K\$//" "$tmp/lines.txt" | awk 'length($0) > 99' | grep -c "backpressure" || true)
[ "$long" = 0 ] || fail "$long status lines wider than the terminal"
# cleared first (or by a log line before it): it starts a line of its own
grep -q "^\(${esc}\[K\)\{0,1\}sluice: job 'status-line' finished" "$tmp/lines.txt" ||
	fail "status line not cleared before the final message: $(cat -v "$tmp/tty.txt")"
echo "ok: $n status lines"
