#!/bin/sh
# HDFS checkpoint storage over WebHDFS (label hdfs).  No NameNode can run
# here, so this starts tests/hdfs/webhdfs_server.py -- a WebHDFS endpoint
# written for these tests that follows the published REST protocol; it is
# not Hadoop -- on 127.0.0.1, runs tests/hdfs/test_hdfs_storage against it
# and stops it by PID.  To test a real cluster instead, run the binary with
# SLUICE_TEST_WEBHDFS_URL=webhdfs://namenode:9870/some/dir (and
# HADOOP_USER_NAME) set.
set -eu
: "${SLUICE_SOURCE_DIR:?}" "${SLUICE_BUILD_DIR:?}"
bin=$SLUICE_BUILD_DIR/tests/test_hdfs_storage
py=$(command -v python3 || true)
[ -n "$py" ] || { echo "skipped: python3 is not installed"; exit 77; }
[ -x "$bin" ] || { echo "FAIL: $bin not built" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-webhdfs.XXXXXX")
pid=
cleanup() {
	rc=$?
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	if [ "$rc" -ne 0 ]; then
		echo "--- endpoint log (last lines) ---" >&2
		tail -n 20 "$dir/server.log" >&2 || true
	fi
	rm -rf "$dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$py" "$SLUICE_SOURCE_DIR/tests/hdfs/webhdfs_server.py" "$dir/root" \
	"$dir/port" sluice-test >"$dir/server.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$dir/port" ]; do
	i=$((i + 1))
	[ "$i" -le 100 ] || { echo "FAIL: endpoint did not start" >&2; exit 1; }
	kill -0 "$pid" 2>/dev/null || { echo "FAIL: endpoint exited" >&2; exit 1; }
	sleep 0.1
done
SLUICE_TEST_WEBHDFS_URL="webhdfs://127.0.0.1:$(cat "$dir/port")/checkpoints" \
	HADOOP_USER_NAME=sluice-test SLUICE_TEST_WEBHDFS_CHECKS_USER=1 "$bin"
echo ok
