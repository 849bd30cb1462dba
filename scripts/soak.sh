#!/bin/sh
# Long crash-recovery soak: the e2e crash test with many rounds.
#   scripts/soak.sh [ROUNDS] [SLUICE-BINARY]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
SLUICE_CRASH_ROUNDS=${1:-200} SLUICE=${2:-$here/build/dev/sluice} \
	SLUICE_SOURCE_DIR=$here \
	exec sh "$here/tests/e2e/crash_restore.sh"
