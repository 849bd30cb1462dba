#!/bin/sh
# The `file` source across a scale-out and a scale-in, the way a user does
# it: count the lines of a directory of files at parallelism 2 and SIGKILL
# the run, restore the latest checkpoint at parallelism 3 and SIGKILL it
# again, restore at parallelism 1 and run to the end.  Every file moves to
# the subtask that owns it at the new parallelism and continues after its
# checkpointed line (the offsets are a union list): the committed output
# is exactly once.  Small network buffers (taskmanager.* keys) keep little
# data in flight, so barriers pass the throttle quickly.
set -eu
: "${SLUICE:?}"
. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"
scratch_dir sluice-filescale

files=12
lines=600
keys=89

mkdir "$tmp/in"
f=0
while [ $f -lt $files ]; do
	awk -v f=$f -v n=$lines -v k=$keys \
		'BEGIN { for (i = 0; i < n; i++) printf "k%d\n", (f * n + i) % k }' \
		>"$tmp/in/part-$f.txt"
	f=$((f + 1))
done
count=$((files * lines))

job() { # PARALLELISM
	cat >"$tmp/job.yaml" <<YAML
job:
  name: filescale
  parallelism: $1
pipeline:
  - source: file
    path: $tmp/in
  - operator: throttle
    per-record: 1 ms
  - key-by: key
  - operator: count
  - sink: file
    path: $tmp/out/
config:
  execution.checkpointing.interval: 100 ms
  execution.checkpointing.dir: $tmp/ck
  execution.checkpointing.externalized-checkpoint-retention: RETAIN_ON_CANCELLATION
  taskmanager.memory.segment-size: 4kb
  taskmanager.network.memory.buffers-per-channel: 1
  taskmanager.network.memory.floating-buffers-per-gate: 0
YAML
}

kills=0
run_and_kill 2 "$tmp/run1.log"
run_and_kill 3 "$tmp/run2.log"
job 1
"$SLUICE" run "$tmp/job.yaml" --restore latest >"$tmp/run3.log" 2>&1 ||
	fail "restore at parallelism 1: $(cat "$tmp/run3.log")"
grep -q "restored checkpoint" "$tmp/run3.log" ||
	fail "parallelism 1 did not restore: $(cat "$tmp/run3.log")"
check_output "$tmp/out" "$count" "$keys" || fail "2 -> 3 -> 1: output is not exactly once"
echo "file source 2 -> 3 -> 1 over $files files: exactly once"
echo ok
