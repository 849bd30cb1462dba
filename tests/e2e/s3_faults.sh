#!/bin/sh
# Faults of a real S3 server under `sluice` (label s3), on OpenStack
# Swift's s3api started by scripts/s3-server.sh:
#  1. wrong credentials: `sluice checkpoint list s3://...` and `sluice run`
#     (with and without --restore latest) fail with a message naming the
#     endpoint and the bucket, never the secret;
#  2. the server killed (SIGKILL of the proxy, by PID) while a checkpoint's
#     state (about 20 MiB, a multipart upload) is being uploaded: that
#     checkpoint fails with CHECKPOINT_ASYNC_EXCEPTION after bounded
#     retries whose error names the endpoint, the job goes on (tolerable
#     failures) and completes checkpoints once the proxy is back; no
#     _metadata of the failed checkpoint is discoverable; the multipart
#     upload the dead server kept is aborted by the next run of the job
#     before its first checkpoint, which restores from the newest complete
#     checkpoint.
# Exits 77 when Swift is not installed.
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}" "${SLUICE_BUILD_DIR:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
s3_test_init

job_pid=""
tail_pid=""
# before the server stops: the job and the log follower go, and a failed
# run shows the job logs
faults_exit() {
	[ -z "$job_pid" ] || kill -9 "$job_pid" 2>/dev/null || true
	[ -z "$tail_pid" ] || kill "$tail_pid" 2>/dev/null || true
	[ "$rc" -eq 0 ] && return 0
	for f in "$tmp"/*.log; do
		[ -f "$f" ] && { echo "--- $f ---" >&2; tail -n 15 "$f" >&2; }
	done
	return 0
}
s3_on_exit=faults_exit
s3_session sluice-s3fault
ep=$SLUICE_TEST_S3_ENDPOINT
bucket=faults-$$
$tool mkbucket "$bucket"

# ---- 1. wrong credentials ----------------------------------------------
secret=not-the-secret-42
expect_clear() { # WHAT OUTPUT
	echo "$2" | grep -q "access denied" || fail "$1: no 'access denied' in: $2"
	echo "$2" | grep -q "$ep" || fail "$1: endpoint missing in: $2"
	echo "$2" | grep -q "s3://$bucket" || fail "$1: bucket missing in: $2"
	echo "$2" | grep -q "$secret" && fail "$1: the secret leaked: $2"
	echo "$1: $(echo "$2" | grep "access denied" | head -n 1)"
}
if out=$("$SLUICE" checkpoint list "s3://$bucket/ck" -D s3.endpoint="$ep" \
	-D s3.access-key=test:tester -D s3.secret-key="$secret" \
	-D s3.path.style.access=true 2>&1); then
	fail "checkpoint list with a wrong secret succeeded"
fi
expect_clear "checkpoint list" "$out"

cat >"$tmp/wrong.yaml" <<YAML
job:
  name: wrong-credentials
  parallelism: 1
pipeline:
  - source: sequence
    count: 20000
    keys: 100
    rate: 40000
  - key-by: key
  - operator: count
  - sink: null
config:
  execution.checkpointing.interval: 100ms
  execution.checkpointing.dir: s3://$bucket/wrong
  restart-strategy.type: none
  s3.endpoint: $ep
  s3.access-key: test:tester
  s3.secret-key: $secret
  s3.path.style.access: true
YAML
if out=$("$SLUICE" run "$tmp/wrong.yaml" --restore latest 2>&1); then
	fail "run --restore latest with a wrong secret succeeded"
fi
expect_clear "run --restore latest" "$out"
if out=$("$SLUICE" run "$tmp/wrong.yaml" 2>&1); then
	fail "run with a wrong secret succeeded"
fi
expect_clear "run" "$out"

# ---- 2. the server killed in the middle of a multipart upload ----------
export AWS_ACCESS_KEY_ID="$SLUICE_TEST_S3_ACCESS_KEY"
export AWS_SECRET_ACCESS_KEY="$SLUICE_TEST_S3_SECRET_KEY"
cat >"$tmp/big.yaml" <<YAML
job:
  name: s3-server-killed
  parallelism: 1
pipeline:
  - source: sequence
    keys: 800000
    rate: 400000
  - key-by: key
  - operator: count
  - sink: null
config:
  state.backend.type: hashmap
  execution.checkpointing.interval: 1s
  execution.checkpointing.dir: s3://$bucket/mid
  execution.checkpointing.tolerable-failed-checkpoints: 10
  s3.attempts.maximum: 3
  s3.retry.interval: 100ms
  execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
  s3.endpoint: $ep
  s3.path.style.access: true
YAML
proxy_pid=$(awk '$2 == "proxy" { print $1 }' "$tmp/s3/pids")
stats=$tmp/stats.json

# json_has FILE PATTERN: the statistics document mentions PATTERN
json_has() { [ -f "$1" ] && grep -q "$2" "$1"; }
wait_for() { # SECONDS COMMAND...: poll every 0.1 s
	n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# the proxy logs each request when it is answered: the answer to
# CreateMultipartUpload ("?uploads") is the moment to pull the plug
: >"$tmp/uploads.seen"
tail -n 0 -F "$tmp/s3/log/proxy.log" 2>/dev/null |
	grep --line-buffered -m 1 "POST /$bucket/mid/.*%3Fuploads" >"$tmp/uploads.seen" &
tail_pid=$!
"$SLUICE" run "$tmp/big.yaml" --stats-json "$stats" >"$tmp/run1.log" 2>&1 &
job_pid=$!
wait_for 60 test -s "$tmp/uploads.seen" || fail "no multipart upload started"
kill -9 "$proxy_pid"
echo "proxy killed during: $(awk '{ print $5, $6 }' "$tmp/uploads.seen")"
t0=$(date +%s)
wait_for 60 json_has "$stats" '"failure_reason":"CHECKPOINT_ASYNC_EXCEPTION"' ||
	fail "no checkpoint failed with CHECKPOINT_ASYNC_EXCEPTION"
echo "checkpoint failed after $(($(date +%s) - t0)) s of retries"
kill -0 "$job_pid" 2>/dev/null || fail "the job did not go on"
grep -q "$ep" "$tmp/run1.log" || fail "the failure does not name the endpoint"
grep -q "attempts" "$tmp/run1.log" || fail "the failure does not say it retried"

# the proxy again, same config and port; its PID replaces the old one
swift-proxy-server "$tmp/s3/proxy-server.conf" -v >>"$tmp/s3/log/proxy.log" 2>&1 &
awk -v p="$!" '$2 == "proxy" { $1 = p } { print }' "$tmp/s3/pids" >"$tmp/pids"
mv "$tmp/pids" "$tmp/s3/pids"
failed=$(tr '{' '\n' <"$stats" | grep '"status":"FAILED"' | head -n 1 |
	sed 's/.*"id":\([0-9]*\).*/\1/')
done_after() { # a checkpoint newer than the failed one completed
	tr '{' '\n' <"$stats" | grep '"status":"COMPLETED"' |
		sed 's/.*"id":\([0-9]*\).*/\1/' |
		awk -v f="$failed" '$1 > f { ok = 1 } END { exit !ok }'
}
wait_for 60 done_after || fail "no checkpoint completed after the server came back"
kill -TERM "$job_pid"
wait "$job_pid" || true
job_pid=""
kill "$tail_pid" 2>/dev/null || true
tail_pid=""

job=$(sed -n 's/.*external_path":"s3:\/\/[^/]*\/mid\/\([0-9a-f]*\)\/.*/\1/p' "$stats" | head -n 1)
[ -n "$job" ] || fail "no completed checkpoint path in the statistics"
set -- $($tool keys "$bucket" "mid/$job/chk-$failed/")
[ "$2" = 0 ] || fail "the failed checkpoint $failed has a _metadata"
"$SLUICE" checkpoint list "s3://$bucket/mid/$job" -D s3.endpoint="$ep" \
	-D s3.path.style.access=true >"$tmp/list.log" 2>&1 ||
	fail "checkpoint list failed"
grep -q "chk-$failed\b" "$tmp/list.log" && fail "checkpoint $failed is listed"
$tool upload-keys "$bucket" "mid/" >"$tmp/stale"
echo "failed checkpoint $failed: no _metadata; $(wc -l <"$tmp/stale") multipart upload(s) left by the dead server"

# the next run aborts those before its first checkpoint and restores
rm -f "$stats"
"$SLUICE" run "$tmp/big.yaml" --restore latest --stats-json "$stats" >"$tmp/run2.log" 2>&1 &
job_pid=$!
wait_for 60 json_has "$stats" '"status":"COMPLETED"' ||
	fail "the restored run completed no checkpoint"
kill -TERM "$job_pid"
wait "$job_pid" || true
job_pid=""
grep -q "restored checkpoint" "$tmp/run2.log" || fail "run 2 did not restore"
$tool upload-keys "$bucket" "mid/" >"$tmp/after"
while read -r key id; do
	grep -q " $id\$" "$tmp/after" && fail "stale upload of $key was not aborted"
done <"$tmp/stale"
echo "restored: $(grep "restored checkpoint" "$tmp/run2.log"); stale uploads aborted"
echo ok
