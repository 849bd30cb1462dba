#!/bin/sh
# The sluice command itself: version, help, unknown commands.
set -eu
: "${SLUICE:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$SLUICE" --version | grep -Eq '^sluice [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
"$SLUICE" help | grep -q 'doctor' || fail "help lists commands"
"$SLUICE" help doctor | grep -q -- '--message' || fail "help doctor"
set +e
"$SLUICE" frobnicate >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "unknown command exit $rc"
"$SLUICE" help frobnicate >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "help unknown exit $rc"
"$SLUICE" >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "no command exit $rc"
set -e
echo ok
