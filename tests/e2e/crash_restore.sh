#!/bin/sh
# Whole-process crash recovery: `sluice run` killed with SIGKILL at random
# moments, restarted with --restore latest until it finishes; the committed
# output must then be exactly once (each key's counts exactly 1..n, no
# duplicates).  Rounds vary the backend (hashmap, rocksdb), the checkpoint
# interval (50 ms .. 1 s), the parallelism (1..4) and the kill time; an
# AT_LEAST_ONCE round checks that nothing is lost; rocksdb rounds with
# incremental checkpoints (two fixed ones besides the random choice) also
# verify and inspect the newest checkpoint a kill left behind (shared SST
# files checked by checksum).  SLUICE_CRASH_ROUNDS
# sets the number of exactly-once rounds (default 20; scripts/soak.sh runs
# hundreds).
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}"
rounds=${SLUICE_CRASH_ROUNDS:-20}
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
scratch_dir sluice-e2e

# newest complete checkpoint under DIR (empty when none)
newest() {
	ls -d "$1"/*/chk-*/_metadata 2>/dev/null |
		awk -F/ '{ n = $(NF - 1); sub("chk-", "", n); print n, $0 }' |
		sort -n | tail -1 | cut -d' ' -f2 | sed 's|/_metadata$||'
}

# after a kill: an incremental checkpoint verifies and shows its files
inspect_incremental() { # DIR NAME
	c=$(newest "$1/ck")
	[ -n "$c" ] || return 0
	"$SLUICE" checkpoint verify "$c" >"$1/verify" 2>&1 ||
		{ cat "$1/verify" >&2; fail "$2: checkpoint verify $c"; }
	"$SLUICE" checkpoint inspect "$c" >"$1/inspect" 2>&1 ||
		fail "$2: checkpoint inspect $c"
	# the final checkpoint of a job killed while exiting holds no keyed
	# state: every subtask had finished
	grep -q "incremental (rocksdb" "$1/inspect" ||
		awk '/^  operator /{ c = ($2 ~ /count/) }
			c && /^    subtask / && !/finished/ { live = 1 }
			END { exit live }' "$1/inspect" ||
		{ cat "$1/inspect" >&2; fail "$2: no incremental handle in $c"; }
	inspected=1
}

round() { # NAME BACKEND INTERVAL PARALLELISM COUNT KILL_MS MODE [INCREMENTAL]
	d=$tmp/$1
	inc=${8:-false}
	inspected=0
	mkdir -p "$d"
	{
		count_job "crash-$1" "$4" "$5" 97 250000 "$d/out/"
		cat <<YAML
  state.backend.type: $2
  execution.checkpointing.interval: $3
  execution.checkpointing.mode: $7
  execution.checkpointing.dir: $d/ck
  execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
  execution.checkpointing.incremental: $inc
YAML
	} >"$d/job.yaml"
	kills=0
	restore=""
	while :; do
		"$SLUICE" run "$d/job.yaml" $restore >"$d/log" 2>&1 &
		pid=$!
		# two kills at random moments (the second one later into the
		# restored run), then the run is left to finish
		if [ "$kills" -lt 2 ] &&
			kill_after "$pid" $(($6 * (kills + 1))); then
			[ "$inc" = false ] || inspect_incremental "$d" "$1"
			continue
		fi
		wait_run "$pid" "$d/log" "$1"
		break
	done
	mode=exact
	[ "$7" = AT_LEAST_ONCE ] && mode=least
	check_output "$d/out" "$5" 97 "$mode" || fail "$1 ($2, $3, p=$4, $kills kills): output is not $mode"
	[ "$inc" = false ] || [ "$kills" = 0 ] || [ "$inspected" = 1 ] ||
		echo "round $1: no checkpoint before the kills to inspect"
	echo "round $1: $2 interval $3 parallelism $4, incremental $inc, $kills kill(s): ok"
}

seed=${SLUICE_CRASH_SEED:-$$}
i=0
while [ "$i" -lt "$rounds" ]; do
	r=$(awk -v s="$seed" -v i="$i" 'BEGIN { srand(s + i * 7919); printf "%d %d %d %d %d", rand() * 2, rand() * 4, rand() * 4, 100 + rand() * 500, rand() * 2 }')
	set -- $r
	backend=hashmap
	[ "$1" = 1 ] && backend=rocksdb
	inc=false
	[ "$backend" = rocksdb ] && [ "$5" = 1 ] && inc=true
	case $2 in 0) iv=50ms ;; 1) iv=200ms ;; 2) iv=500ms ;; *) iv=1s ;; esac
	count=300000
	[ "$backend" = rocksdb ] && count=150000
	round "r$i" "$backend" "$iv" $(($3 + 1)) "$count" "$4" EXACTLY_ONCE "$inc"
	i=$((i + 1))
done
round inc1 rocksdb 100ms 2 150000 500 EXACTLY_ONCE true
round inc2 rocksdb 50ms 3 150000 700 EXACTLY_ONCE true
round least hashmap 100ms 2 300000 400 AT_LEAST_ONCE
echo ok
