#!/bin/sh
# Run every libFuzzer target in a build directory for a few seconds each.
set -eu
dir=${1:-build/fuzz}
secs=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
found=0
for f in "$dir"/tests/fuzz_*; do
	[ -x "$f" ] || continue
	found=1
	name=$(basename "$f")
	corpus="$here/tests/fuzz/corpus/${name#fuzz_}"
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
	echo "fuzz: $name for ${secs}s"
	"$f" -max_total_time="$secs" -print_final_stats=0 "$work" >"$work.log" 2>&1 || {
		tail -n 40 "$work.log"
		echo "fuzz: $name FAILED" >&2
		exit 1
	}
	rm -rf "$work" "$work.log"
done
[ "$found" = 1 ] || { echo "fuzz: no targets in $dir" >&2; exit 1; }
