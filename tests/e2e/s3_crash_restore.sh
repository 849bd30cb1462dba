#!/bin/sh
# Whole-process crash recovery with checkpoints on a real S3 server (label
# s3): OpenStack Swift's s3api started by scripts/s3-server.sh, a job
# (sequence source -> key-by -> count -> exactly-once file sink) with
# execution.checkpointing.dir s3://bucket/..., killed with SIGKILL twice at
# growing delays (the second once a checkpoint is on S3) and restarted
# with --restore latest until it finishes;
# the output must be exactly once.  Rounds: hashmap, rocksdb (full and
# incremental checkpoints: shared SST files), each plain and with entropy
# injection (s3.entropy.key in the path: state
# objects under random prefixes, _metadata without the marker, which the
# round checks by listing the bucket).  Exits 77 when Swift is not
# installed.  SLUICE_S3_CRASH_ROUNDS=N repeats the six rounds N times.
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}" "${SLUICE_BUILD_DIR:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
s3_test_init

s3_session sluice-s3crash
export AWS_ACCESS_KEY_ID="$SLUICE_TEST_S3_ACCESS_KEY"
export AWS_SECRET_ACCESS_KEY="$SLUICE_TEST_S3_SECRET_KEY"
export SLUICE_TEST_ENTROPY_KEY=_entropy_
bucket=crash-$$
$tool mkbucket "$bucket"

round() { # NAME BACKEND ENTROPY(0|1) COUNT KILL_MS RATE [INCREMENTAL]
	t0=$(date +%s.%N)
	inc=${7:-false}
	d=$tmp/$1
	mkdir -p "$d"
	if [ "$3" = 1 ]; then
		ckdir="s3://$bucket/_entropy_/$1"
		extra="  s3.entropy.key: _entropy_
  s3.entropy.length: 4"
	else
		ckdir="s3://$bucket/$1"
		extra=""
	fi
	{
		count_job "s3-crash-$1" 2 "$4" 53 "$6" "$d/out/"
		cat <<YAML
  state.backend.type: $2
  execution.checkpointing.interval: 150ms
  execution.checkpointing.dir: $ckdir
  execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
  execution.checkpointing.data-inline-threshold: 0
  execution.checkpointing.incremental: $inc
  s3.endpoint: $SLUICE_TEST_S3_ENDPOINT
  s3.path.style.access: true
$extra
YAML
	} >"$d/job.yaml"
	kills=0
	restore=""
	seen=0
	while :; do
		"$SLUICE" run "$d/job.yaml" $restore >"$d/log.$kills" 2>&1 &
		pid=$!
		if [ "$kills" -lt 2 ]; then
			# the second kill only once some checkpoint is on S3, so
			# every round restores from one
			[ "$kills" = 1 ] && wait_checkpoint "$1"
			if kill_after "$pid" $(($5 * (kills + 1))); then
				layout "$1" "$3" "$inc"
				continue
			fi
		fi
		wait_run "$pid" "$d/log.$kills" "$1"
		break
	done
	check_output "$d/out" "$4" 53 || fail "$1 ($2, entropy $3, $kills kills): output is not exactly once"
	[ "$seen" -ge 1 ] || fail "$1: no checkpoint on S3 at either kill"
	cat "$d"/log.* | grep -q "restored checkpoint" ||
		fail "$1: no run restored a checkpoint from S3"
	echo "round $1: $2, entropy $3, incremental $inc, $kills kill(s): exactly once ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)"
}

wait_checkpoint() { # NAME: until a _metadata is under NAME/ (20 s)
	w=0
	while [ "$w" -lt 200 ]; do
		set -- "$1" $($tool keys "$bucket" "$1/")
		[ "$3" -ge 1 ] && return 0
		sleep 0.1
		w=$((w + 1))
	done
}

# layout NAME ENTROPY INCREMENTAL: what a killed run left in the bucket.
# Plain: state objects next to _metadata under NAME/ (incremental: shared
# SST files in shared/).  Entropy: only _metadata under NAME/ (state
# objects went to random prefixes), no key with the marker.
layout() {
	set -- "$1" "$2" "$3" $($tool keys "$bucket" "$1/")
	[ "$5" -ge 1 ] || return 0 # killed before its first checkpoint
	seen=$((seen + 1))
	if [ "$2" = 1 ]; then
		[ "$4" = "$5" ] || fail "$1: $4 objects under $1/, only _metadata expected ($5)"
		set -- "$1" "$2" "$3" $($tool keys "$bucket" "")
		[ "$6" = 0 ] || fail "$1: $6 object keys contain the entropy marker"
	else
		[ "$4" -gt "$5" ] || fail "$1: no state objects under $1/"
		[ "$3" = false ] || [ "$7" -ge 1 ] ||
			fail "$1: incremental, but no shared/ objects under $1/"
	fi
}

n=${SLUICE_S3_CRASH_ROUNDS:-1}
i=0
while [ "$i" -lt "$n" ]; do
	round "h$i" hashmap 0 200000 300 100000
	round "r$i" rocksdb 0 150000 300 75000
	round "he$i" hashmap 1 200000 300 100000
	round "re$i" rocksdb 1 150000 300 75000
	round "ri$i" rocksdb 0 150000 300 75000 true
	round "rie$i" rocksdb 1 150000 300 75000 true
	i=$((i + 1))
done
echo ok
