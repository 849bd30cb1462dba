#!/bin/sh
# Checkpoints under backpressure (spec §4.2, §4.4, §4.5): a slow
# `throttle` stage (1 ms per record) keeps every channel full.
#  - aligned: barriers queue behind the in-flight buffers, so checkpoints
#    take longer than the 400 ms checkpoint timeout and expire;
#  - unaligned: barriers overtake the buffers, checkpoints complete
#    (90 % within 250 ms, at most one in ten expires) and persist
#    in-flight data (persisted_data > 0);
#  - aligned-checkpoint-timeout 20 ms: checkpoints start aligned, switch
#    to unaligned and complete quickly too;
#  - a checkpoint holding in-flight data cannot be restored at another
#    parallelism: the run is refused with a message naming the checkpoint
#    and saying to take an aligned savepoint, or the key that restores it
#    without its in-flight data, which then works.
set -eu
: "${SLUICE:?}" "${SLUICE_SOURCE_DIR:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
scratch_dir sluice-e2e

job() { # NAME PARALLELISM COUNT UNALIGNED TIMEOUT
	d=$tmp/$1
	mkdir -p "$d"
	{
		count_job "backpressure-$1" "$2" "$3" 17 "" "$d/out/" 1ms
		cat <<YAML
  execution.checkpointing.interval: 100ms
  execution.checkpointing.timeout: 400ms
  execution.checkpointing.tolerable-failed-checkpoints: 1000
  execution.checkpointing.unaligned.enabled: $4
  execution.checkpointing.aligned-checkpoint-timeout: $5
  execution.checkpointing.dir: $d/ck
  execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
YAML
	} >"$d/job.yaml"
}

# summary field of a statistics document: FILE FIELD STAT (min, max)
summary() {
	tr -d '\n' <"$1" | grep -o "\"summary\": *{.*" |
		grep -o "\"$2\": *{[^}]*}" | grep -o "\"$3\": *[0-9.]*" |
		head -1 | awk -F: '{ printf "%d\n", $2 }'
}

# checkpoints completed / failed, from the counts
count() {
	tr -d '\n' <"$1" | grep -o "\"$2\": *[0-9]*" | head -1 |
		awk -F: '{ print $2 + 0 }'
}

run() { # NAME RECORDS: run to the end, with statistics
	"$SLUICE" run "$tmp/$1/job.yaml" --stats-json "$tmp/$1/stats.json" \
		>"$tmp/$1/log" 2>&1 || { cat "$tmp/$1/log" >&2; fail "$1: run failed"; }
	n=$(cat "$tmp/$1"/out/part-* | wc -l)
	[ "$n" -eq "$2" ] || fail "$1: $n output records, want $2"
}

# aligned: checkpoints expire behind the buffers
job aligned 2 3000 false 0ms
run aligned 3000
grep -q "Checkpoint expired before completing" "$tmp/aligned/log" ||
	fail "aligned checkpoints did not expire under backpressure"
echo "aligned: checkpoints expire under backpressure"

# fast NAME LABEL MAX_MS WHAT: the run of NAME completed at least 5
# checkpoints, 90 % of them within MAX_MS, expired at most one in ten
# (the aligned run expires nearly all: this holds on a loaded machine,
# where a single checkpoint may miss the 400 ms timeout), and some
# persisted in-flight data (else "LABEL: WHAT")
fast() {
	n=$(count "$tmp/$1/stats.json" completed)
	[ "$n" -ge 5 ] || fail "$2: only $n checkpoints completed"
	max=$(summary "$tmp/$1/stats.json" end_to_end_duration p90)
	[ "$max" -le "$3" ] || fail "$2: checkpoints took up to $max ms (90th percentile)"
	[ "$(summary "$tmp/$1/stats.json" persisted_data max)" -gt 0 ] ||
		fail "$2: $4"
	expired=$(grep -c "Checkpoint expired" "$tmp/$1/log" || true)
	[ $((expired * 10)) -le "$n" ] ||
		fail "$2: $expired checkpoints expired, $n completed"
	return 0
}

# unaligned: fast, with persisted in-flight data
job unaligned 2 3000 true 0ms
run unaligned 3000
fast unaligned unaligned 250 "no checkpoint persisted in-flight data"
echo "unaligned: $n checkpoints, 90 % within $max ms"

# aligned timeout: switches to unaligned
job switch 2 3000 true 20ms
run switch 3000
fast switch "aligned timeout" 300 "no checkpoint switched to unaligned"
echo "aligned timeout 20ms: $n checkpoints, 90 % within $max ms"

# rescaling a checkpoint with in-flight data is refused
job rescale 2 20000 true 0ms
"$SLUICE" run "$tmp/rescale/job.yaml" >"$tmp/rescale/log" 2>&1 &
pid=$!
sleep 1.5
kill -9 "$pid" 2>/dev/null || fail "rescale: the run ended too early"
wait "$pid" 2>/dev/null || true
sed 's/parallelism: 2/parallelism: 1/' "$tmp/rescale/job.yaml" >"$tmp/rescale/p1.yaml"
if "$SLUICE" run "$tmp/rescale/p1.yaml" --restore latest >"$tmp/rescale/log2" 2>&1; then
	fail "rescale: a checkpoint with in-flight data was restored at another parallelism"
fi
grep -q "holds in-flight data of an unaligned checkpoint" "$tmp/rescale/log2" &&
	grep -q "take an aligned savepoint" "$tmp/rescale/log2" &&
	grep -q "chk-" "$tmp/rescale/log2" ||
	{ cat "$tmp/rescale/log2" >&2; fail "rescale: unclear error"; }
echo "rescale: refused with a clear message"
# the escape hatch the message names: restore without the in-flight data
id=$(sed -n 's/.*without-channel-state.checkpoint-id: \([0-9]*\).*/\1/p' "$tmp/rescale/log2" | head -n 1)
[ -n "$id" ] || { cat "$tmp/rescale/log2" >&2; fail "rescale: the message names no checkpoint id"; }
"$SLUICE" run "$tmp/rescale/p1.yaml" --restore latest \
	-D execution.state-recovery.without-channel-state.checkpoint-id="$id" \
	>"$tmp/rescale/log3" 2>&1 ||
	{ cat "$tmp/rescale/log3" >&2; fail "rescale: restore without channel state failed"; }
grep -q "without its channel state" "$tmp/rescale/log3" &&
	grep -q "restored checkpoint $id" "$tmp/rescale/log3" ||
	{ cat "$tmp/rescale/log3" >&2; fail "rescale: no word on the dropped channel state"; }
echo "rescale: restored checkpoint $id at parallelism 1 without its channel state"
echo ok
