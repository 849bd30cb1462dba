#!/bin/sh
# cmake --install gives headers, libraries, sluice.pc and the CLI, and a C
# program builds against the installed library through pkg-config alone.
set -eu
: "${SLUICE_BUILD_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$SLUICE_BUILD_DIR" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name sluice.pc | head -n 1)
[ -n "$pc" ] || fail "no sluice.pc installed"
[ -x "$tmp/prefix/bin/sluice" ] || fail "no CLI installed"
"$tmp/prefix/bin/sluice" --version >/dev/null || fail "installed CLI does not run"
cat >"$tmp/use.c" <<'C'
#include <sluice/sluice.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	const sluice_failure_info *fi =
		sluice_failure_info_match("Checkpoint expired before completing");
	return !(fi && fi->reason == SLUICE_CFR_CHECKPOINT_EXPIRED &&
		 strlen(sluice_version()) > 0);
}
C
PKG_CONFIG_PATH=$(dirname "$pc") 
export PKG_CONFIG_PATH
libdir=$(pkg-config --variable=libdir sluice)
cc -std=c11 -o "$tmp/use" "$tmp/use.c" $(pkg-config --cflags --libs sluice) \
	-Wl,-rpath,"$libdir" || fail "cannot build against the installed library"
"$tmp/use" || fail "program linked against libsluice misbehaves"
echo ok
