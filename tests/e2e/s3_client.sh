#!/bin/sh
# The S3 client against a real S3 server (label s3): start OpenStack Swift
# with its s3api layer through scripts/s3-server.sh in a temporary
# directory, run tests/s3/test_s3_client (objects, ranges, listing pages,
# batched deletes, multipart, abort, virtual-hosted addressing, wrong
# secret), then its "stop" group, which stops the server in the middle of
# a multipart upload.  The server is stopped by PID on every exit path.
# Exits 77 (skipped) when Swift is not installed.
set -eu
: "${SLUICE_SOURCE_DIR:?}" "${SLUICE_BUILD_DIR:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
s3_test_init
bin=$SLUICE_BUILD_DIR/tests/test_s3_client
[ -x "$bin" ] || fail "$bin not built"

s3_session sluice-s3
"$bin"
SLUICE_TEST_S3_STOP_CMD="sh '$SLUICE_SOURCE_DIR/scripts/s3-server.sh' stop '$tmp/s3'" "$bin" stop
echo ok
