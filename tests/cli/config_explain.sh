#!/bin/sh
# sluice config explain / list / docs; docs/configuration.md is docs output.
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
has() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$3"; }; }

"$SLUICE" config docs >"$tmp/conf.md"
cmp -s "$tmp/conf.md" "$SLUICE_SOURCE_DIR/docs/configuration.md" ||
	fail "docs/configuration.md is out of date: run 'sluice config docs > docs/configuration.md'"

"$SLUICE" config explain execution.checkpointing.timeout >"$tmp/out"
has "$tmp/out" "type:     duration" "type"
has "$tmp/out" "default:  10 min" "default"
has "$tmp/out" "bounds:   >= 10 ms" "bounds"
has "$tmp/out" "advice:   About 30 min is recommended." "advice"

"$SLUICE" config explain state.backend >"$tmp/out"
has "$tmp/out" "state.backend is a deprecated alias of state.backend.type" "alias"
has "$tmp/out" "one of hashmap, rocksdb" "enum values"
has "$tmp/out" "rocksdb is recommended" "backend advice"

"$SLUICE" config explain state.checkpoints.dir >"$tmp/out"
has "$tmp/out" "aliases:  state.checkpoints.dir, state.backend.fs.checkpointdir" "alias order"
"$SLUICE" config explain s3.secret-key >"$tmp/out"
has "$tmp/out" "secret:   yes" "secret flag"
"$SLUICE" config explain state.backend.async >"$tmp/out"
has "$tmp/out" "deprecated, no effect" "noop"

set +e
"$SLUICE" config explain execution.checkpointing.intervall >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "unknown key exit $rc"
has "$tmp/err" "did you mean 'execution.checkpointing.interval'?" "did you mean"
set +e
"$SLUICE" config explain >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "explain without key exit $rc"

"$SLUICE" config list >"$tmp/out"
n=$(wc -l <"$tmp/out")
[ "$n" -gt 60 ] || fail "list has $n keys"
grep -Eq '^state\.backend\.type +enum +hashmap$' "$tmp/out" || fail "list line"
grep -Eq '^table\.exec\.state\.ttl +duration +0 ms$' "$tmp/out" || fail "ttl line"
echo ok
