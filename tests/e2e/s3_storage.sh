#!/bin/sh
# Checkpoint storage on a real S3 server (label s3): start OpenStack Swift
# with its s3api layer through scripts/s3-server.sh in a temporary
# directory, run tests/s3/test_s3_storage (the storage contract suite on
# s3:// and obs://, a checkpoint committed and discovered, wrong
# credentials), and stop the server by PID on every exit path.
# Exits 77 (skipped) when Swift is not installed.
set -eu
: "${SLUICE_SOURCE_DIR:?}" "${SLUICE_BUILD_DIR:?}"
script=$SLUICE_SOURCE_DIR/scripts/s3-server.sh
bin=$SLUICE_BUILD_DIR/tests/test_s3_storage

if ! command -v swift-proxy-server >/dev/null 2>&1; then
	echo "skipped: OpenStack Swift is not installed (S3_PKGS in scripts/deps.sh)"
	exit 77
fi
[ -x "$bin" ] || { echo "FAIL: $bin not built" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-s3st.XXXXXX")
cleanup() {
	rc=$?
	sh "$script" stop "$dir" || true
	if [ "$rc" -ne 0 ] && [ -d "$dir/log" ]; then
		echo "--- proxy log (last lines) ---" >&2
		tail -n 20 "$dir/log/proxy.log" >&2 || true
	fi
	rm -rf "$dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sh "$script" start "$dir"
eval "$(sh "$script" env "$dir" | sed 's/^/export /')"
"$bin"
echo ok
