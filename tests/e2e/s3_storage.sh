#!/bin/sh
# Checkpoint storage on a real S3 server (label s3): start OpenStack Swift
# with its s3api layer through scripts/s3-server.sh in a temporary
# directory, run tests/s3/test_s3_storage (the storage contract suite on
# s3:// and obs://, a checkpoint committed and discovered, wrong
# credentials), and stop the server by PID on every exit path.
# Exits 77 (skipped) when Swift is not installed.
set -eu
: "${SLUICE_SOURCE_DIR:?}" "${SLUICE_BUILD_DIR:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
s3_test_init
bin=$SLUICE_BUILD_DIR/tests/test_s3_storage
[ -x "$bin" ] || fail "$bin not built"

s3_session sluice-s3st
"$bin"
echo ok
