#!/bin/sh
# Event-time tumbling windows across a scale-out and a scale-in: run at
# parallelism 1 and SIGKILL it, restore at parallelism 2 and SIGKILL it,
# restore at parallelism 1 and run to the end.  The open windows' keyed
# state moves with its key groups and so do the keys in the operator's
# list of open windows (a union list), so every window fires once, with
# its exact count.  The sequence source has one split (parallelism 1 at
# its first start), so records stay in timestamp order and none is late.
set -eu
: "${SLUICE:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
scratch_dir sluice-winscale

count=300000
keys=10
size=1000 # ms of event time = records: each key gets size/keys per window

job() { # PARALLELISM
	cat >"$tmp/job.yaml" <<YAML
job:
  name: winscale
  parallelism: $1
  max-parallelism: 128
pipeline:
  - source: sequence
    count: $count
    keys: $keys
    rate: 60000
  - key-by: key
  - operator: tumbling-window
    size: $size ms
    time: event
  - sink: file
    path: $tmp/out/
config:
  execution.checkpointing.interval: 100 ms
  execution.checkpointing.dir: $tmp/ck
  execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
YAML
}

# latest: the newest chk-<n> of the job with its _metadata written
latest() {
	for m in "$tmp"/ck/*/chk-*/_metadata; do
		[ -f "$m" ] || continue
		d=${m%/_metadata}
		echo "${d##*/chk-} $d"
	done | sort -n | tail -n 1 | cut -d' ' -f2
}

# run_and_kill PARALLELISM LOG: a run (restoring when a checkpoint exists)
# killed once a checkpoint newer than the one it started from completed
run_and_kill() {
	before=$(latest)
	job "$1"
	if [ -n "$before" ]; then
		"$SLUICE" run "$tmp/job.yaml" --restore latest >"$2" 2>&1 &
	else
		"$SLUICE" run "$tmp/job.yaml" >"$2" 2>&1 &
	fi
	pid=$!
	i=0
	while [ "$(latest)" = "$before" ] && [ $i -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill_after "$pid" 300 ||
		fail "the run at parallelism $1 ended before it was killed: $(cat "$2")"
	[ "$(latest)" != "$before" ] ||
		fail "no checkpoint at parallelism $1: $(cat "$2")"
	[ -z "$before" ] || grep -q "restored checkpoint" "$2" ||
		fail "parallelism $1 did not restore: $(cat "$2")"
}

kills=0
run_and_kill 1 "$tmp/run1.log"
run_and_kill 2 "$tmp/run2.log"
job 1
"$SLUICE" run "$tmp/job.yaml" --restore latest >"$tmp/run3.log" 2>&1 ||
	fail "restore at parallelism 1: $(cat "$tmp/run3.log")"
grep -q "restored checkpoint" "$tmp/run3.log" ||
	fail "parallelism 1 did not restore: $(cat "$tmp/run3.log")"

# "key,start,end,count": every (key, window) once, each with size/keys
cat "$tmp"/out/part-* | awk -F, -v n=$count -v k=$keys -v s=$size '
	{ seen[$1 "," $2]++; total += $4; if ($4 != s / k) bad++ }
	END {
		dup = 0
		for (w in seen) if (seen[w] > 1) dup++
		want = (n / s) * k
		if (length(seen) != want || dup || bad || total != n) {
			printf "windows %d (want %d), duplicates %d, wrong counts %d, records %d (want %d)\n", length(seen), want, dup, bad, total, n
			exit 1
		}
	}' || fail "1 -> 2 -> 1: windows are not exactly once"
echo "event-time windows 1 -> 2 -> 1: every window once, exact counts"
echo ok
