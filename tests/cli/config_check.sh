#!/bin/sh
# sluice config check: effective values with sources, warnings, problems,
# exit codes, redaction, and the example configuration of `make demo`.
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
has() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$3"; }; }

# The example is valid and shows where each value came from.
"$SLUICE" config check "$SLUICE_SOURCE_DIR/examples/sluice.yaml" >"$tmp/out" 2>"$tmp/err" ||
	{ cat "$tmp/err" >&2; fail "example config rejected"; }
has "$tmp/out" "state.backend.type: rocksdb  # file" "backend from file"
has "$tmp/out" "execution.checkpointing.interval: 10 s  # file" "nested interval"
has "$tmp/out" "execution.checkpointing.mode: EXACTLY_ONCE  # file" "mode"
has "$tmp/out" "execution.checkpointing.write-buffer-size: 4096  # file" "write buffer"
has "$tmp/out" "state.backend.rocksdb.thread.num: 2  # default" "defaults listed"
has "$tmp/out" "configuration is valid" "valid line"

# No file: defaults only, valid.
"$SLUICE" config check >"$tmp/out" || fail "defaults rejected"
has "$tmp/out" "execution.checkpointing.timeout: 10 min  # default" "default timeout"

# -D overrides the file; aliases are named; unknown keys suggested.
cat >"$tmp/c.yaml" <<'YAML'
state.backend: hashmap
execution.checkpointing.timeout: 20 min
state.checkpoints.num-retained: 2
execution.checkpointing.intervall: 1 min
YAML
"$SLUICE" config check "$tmp/c.yaml" -D execution.checkpointing.timeout=25min \
	-Dstate.backend=rocksdb >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; fail "valid file rejected"; }
has "$tmp/out" "execution.checkpointing.timeout: 25min  # -D" "-D wins over file"
has "$tmp/out" "state.backend.type: rocksdb  # -D, via deprecated alias state.backend" "alias source"
has "$tmp/out" "execution.checkpointing.num-retained: 2  # file, via deprecated alias state.checkpoints.num-retained" "alias from file"
has "$tmp/out" "warning: Config uses deprecated configuration key 'state.backend' instead of proper key 'state.backend.type'" "deprecation warning"
has "$tmp/out" "warning: Unknown configuration key 'execution.checkpointing.intervall' (did you mean 'execution.checkpointing.interval'?)" "did you mean"

# Invalid values: exit 2, one line per problem naming key, value, expectation.
set +e
"$SLUICE" config check -D execution.checkpointing.timeout=banana \
	-D execution.checkpointing.interval=5 \
	-D state.storage.fs.write-buffer-size='4 * 1024' >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "invalid config exit $rc, want 2"
has "$tmp/err" "Could not parse value 'banana' for key 'execution.checkpointing.timeout'. text does not start with a number (expected a duration" "banana"
has "$tmp/err" "Invalid value '5' for key 'execution.checkpointing.interval': Checkpoint interval must be larger than or equal to 10 ms" "interval"
has "$tmp/err" "Could not parse value '4 * 1024' for key 'state.storage.fs.write-buffer-size'." "arithmetic"
has "$tmp/err" "configuration is invalid (3 problems)" "problem count"

# Unaligned with AT_LEAST_ONCE.
set +e
"$SLUICE" config check -D execution.checkpointing.interval=1min \
	-D execution.checkpointing.mode=AT_LEAST_ONCE \
	-D execution.checkpointing.unaligned.enabled=true >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "unaligned at-least-once exit $rc"
has "$tmp/err" "Cannot use unaligned checkpoints with AT_LEAST_ONCE checkpointing mode" "unaligned rule"

# Secrets are never printed, whichever spelling.
"$SLUICE" config check -D s3.secret-key=hunter2 -D fs.obs.secret.key=hunter3 \
	-D my.db.password=hunter4 >"$tmp/out" 2>&1 || fail "secrets rejected"
if grep -q hunter "$tmp/out"; then cat "$tmp/out" >&2; fail "secret printed"; fi
has "$tmp/out" "s3.secret-key: ******  # -D" "secret redacted"
has "$tmp/out" "my.db.password: ******  # -D, unknown key" "unknown secret redacted"

# Missing file, malformed YAML, bad usage: exit 2 with the file named.
set +e
"$SLUICE" config check "$tmp/nope.yaml" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "missing file exit $rc"
has "$tmp/err" "$tmp/nope.yaml" "missing file named"
printf 'a: 1\nb: c: d\n' >"$tmp/bad.yaml"
set +e
"$SLUICE" config check "$tmp/bad.yaml" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "malformed exit $rc"
has "$tmp/err" "$tmp/bad.yaml:2:5: malformed YAML" "line and column"
set +e
"$SLUICE" config check -D >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "-D without value exit $rc"
"$SLUICE" config check -D novalue >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "-D without = exit $rc"
"$SLUICE" config check a.yaml b.yaml >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "two files exit $rc"
"$SLUICE" config frob >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "unknown subcommand exit $rc"
set -e
echo ok
