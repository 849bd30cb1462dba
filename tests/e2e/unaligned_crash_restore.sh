#!/bin/sh
# Crash recovery with unaligned checkpoints under backpressure: a slow
# `throttle` stage keeps the channels full, so every checkpoint persists
# in-flight buffers (channel state).  `sluice run` is killed with SIGKILL
# at random moments and restarted with --restore latest until it
# finishes; the committed output must be exactly once (each key's counts
# exactly 1..n, no duplicates), which holds only if the channel state was
# replayed before new input.  Rounds vary the parallelism, the interval,
# the aligned-checkpoint timeout (0 = unaligned from the start) and the
# kill times.  SLUICE_UNALIGNED_ROUNDS sets the number of rounds (5).
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}"
rounds=${SLUICE_UNALIGNED_ROUNDS:-5}
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
scratch_dir sluice-e2e

round() { # NAME PARALLELISM INTERVAL TIMEOUT COUNT KILL_MS (0: no kill)
	d=$tmp/$1
	mkdir -p "$d"
	{
		count_job "unaligned-$1" "$2" "$5" 31 20000 "$d/out/" 1ms
		cat <<YAML
  execution.checkpointing.interval: $3
  execution.checkpointing.unaligned.enabled: true
  execution.checkpointing.aligned-checkpoint-timeout: $4
  execution.checkpointing.dir: $d/ck
  execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
YAML
	} >"$d/job.yaml"
	kills=0
	restore=""
	while :; do
		"$SLUICE" run "$d/job.yaml" $restore --stats-json "$d/stats.json" >"$d/log" 2>&1 &
		pid=$!
		if [ "$6" -gt 0 ] && [ "$kills" -lt 2 ] &&
			kill_after "$pid" $(($6 * (kills + 1))); then
			continue
		fi
		wait_run "$pid" "$d/log" "$1"
		break
	done
	check_output "$d/out" "$5" 31 || fail "$1 (p=$2, interval $3, timeout $4, $kills kills): output is not exactly once"
	# the run persisted in-flight data in some checkpoint
	ls "$d"/ck/*/chk-* >/dev/null 2>&1 || true
	echo "round $1: parallelism $2 interval $3 timeout $4, $kills kill(s): ok"
}

# in-flight data is persisted: a checkpoint of a backpressured run
# reports persisted_data > 0
persisted() {
	grep -o '"persisted_data": *[0-9]*' "$1" | awk -F: '$2 > 0 { n++ } END { exit n ? 0 : 1 }'
}

seed=${SLUICE_CRASH_SEED:-$$}
i=0
while [ "$i" -lt "$rounds" ]; do
	r=$(awk -v s="$seed" -v i="$i" 'BEGIN { srand(s + i * 7919); printf "%d %d %d %d", rand() * 2, rand() * 2, rand() * 2, 300 + rand() * 700 }')
	set -- $r
	case $2 in 0) iv=100ms ;; *) iv=250ms ;; esac
	case $3 in 0) to=0ms ;; *) to=20ms ;; esac
	round "r$i" $(($1 + 1)) "$iv" "$to" 1500 "$4"
	i=$((i + 1))
done
# without kills, a backpressured run persists in-flight data
round plain 2 100ms 0ms 1500 0
persisted "$tmp/plain/stats.json" || fail "no checkpoint persisted in-flight data"
echo ok
