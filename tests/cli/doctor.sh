#!/bin/sh
# sluice doctor: explains failure reasons; docs/operations.md is its output.
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$SLUICE" doctor --markdown >"$tmp/ops.md"
cmp -s "$tmp/ops.md" "$SLUICE_SOURCE_DIR/docs/operations.md" ||
	fail "docs/operations.md is out of date: run 'sluice doctor --markdown > docs/operations.md'"

# The seed's spelling (no trailing dot) is recognised.
"$SLUICE" doctor --message "Checkpoint expired before completing" >"$tmp/out"
grep -q '^CHECKPOINT_EXPIRED' "$tmp/out" || fail "expired not recognised"
grep -q 'counted:   yes' "$tmp/out" || fail "expired should be counted"

# The keys to look at, with values from -D and their sources.
"$SLUICE" doctor --message "Checkpoint expired before completing" \
	-D execution.checkpointing.timeout=30min -D state.backend.incremental=true >"$tmp/out"
grep -q '^    execution.checkpointing.timeout: 30min  # -D$' "$tmp/out" || fail "timeout key not shown"
grep -q 'execution.checkpointing.incremental: true  # -D, via state.backend.incremental' "$tmp/out" ||
	fail "alias source not shown"
set +e
"$SLUICE" doctor --message "x" -D execution.checkpointing.timeout >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "bad -D exit $rc, want 2"

# A full log line with the Failure reason form.
"$SLUICE" doctor --message "Could not finalize the pending checkpoint 17. Failure reason: Failure to finalize checkpoint." >"$tmp/out"
grep -q '^FINALIZE_CHECKPOINT_FAILURE' "$tmp/out" || fail "finalize not recognised"

# The legacy message.
"$SLUICE" doctor --message "An Exception occurred while triggering the checkpoint." >"$tmp/out"
grep -q '^LEGACY_EXCEPTION' "$tmp/out" || fail "legacy exception not recognised"

# Unknown text: exit 1 with a message; bad usage: exit 2.
set +e
"$SLUICE" doctor --message "all good" >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "unknown message exit $rc, want 1"
grep -q "no checkpoint failure reason found in 'all good'" "$tmp/err" || fail "unclear error"
set +e
"$SLUICE" doctor --bogus >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "bad usage exit $rc, want 2"

n=$("$SLUICE" doctor --list | wc -l)
[ "$n" = 30 ] || fail "list has $n reasons, want 30"
echo ok
