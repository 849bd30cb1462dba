#!/bin/sh
# sluice checkpoint list|inspect|verify|gc on demo checkpoints, healthy and
# damaged.
set -eu
: "${SLUICE:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
job=0123456789abcdef0123456789abcdef
jd="$tmp/ck/$job"

"$SLUICE" checkpoint demo "$tmp/ck" $job 4 >/dev/null

# list: the two retained checkpoints, oldest first, with sizes.
"$SLUICE" checkpoint list "$tmp/ck" >"$tmp/out"
[ "$(grep -c ' checkpoint ' "$tmp/out")" -eq 2 ] || fail "list should show 2 checkpoints"
sed -n 2p "$tmp/out" | grep -q '^3 .*85101 *3 *100 ' || fail "list row for chk-3: $(sed -n 2p "$tmp/out")"
sed -n 3p "$tmp/out" | grep -q "^4 .*$jd/chk-4\$" || fail "list row for chk-4"

# inspect: text and JSON, from the directory or the _metadata file.
"$SLUICE" checkpoint inspect "$jd/chk-4" >"$tmp/out"
grep -q '^checkpoint 4 (checkpoint, canonical format)' "$tmp/out" || fail "inspect header"
grep -q 'operator counter (Count per key) parallelism 2, max parallelism 128' "$tmp/out" || fail "inspect operator"
"$SLUICE" checkpoint inspect "$jd/chk-4/_metadata" --json >"$tmp/json"
grep -q '"checkpoint_id":[[:space:]]*4,' "$tmp/json" || fail "json id"
grep -q '"key":[[:space:]]*"sst-4"' "$tmp/json" || fail "json shared key"
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["operators"][0]["subtasks"][1]["keyed"][0]["stream"]["size"]==30001' "$tmp/json" ||
		fail "json does not parse or lacks fields"
fi

# verify: ok, then one line per problem and exit 1.
"$SLUICE" checkpoint verify "$jd/chk-4" >"$tmp/out" || fail "healthy checkpoint did not verify"
grep -q ': ok$' "$tmp/out" || fail "verify ok line"
"$SLUICE" checkpoint inspect "$jd/chk-4" >"$tmp/out"
keyed0=$(sed -n 's/.*keyed groups 0\.\.63: file \([^,]*\),.*/\1/p' "$tmp/out")
keyed1=$(sed -n 's/.*keyed groups 64\.\.127: file \([^,]*\),.*/\1/p' "$tmp/out")
[ -f "$keyed0" ] && [ -f "$keyed1" ] || fail "state files not found from inspect"
head -c 100 "$keyed0" >"$tmp/short" && cp "$tmp/short" "$keyed0"
rm "$keyed1"
set +e
"$SLUICE" checkpoint verify "$jd/chk-4" >"$tmp/out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "verify of damaged checkpoint should exit 1, got $rc"
[ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "expected 2 problem lines: $(cat "$tmp/out")"
grep -q "$keyed0: size 100, expected 30000" "$tmp/out" || fail "truncation not reported"
grep -q "$keyed1: missing" "$tmp/out" || fail "missing file not reported"

# A flipped byte in _metadata.
printf 'X' | dd of="$jd/chk-3/_metadata" bs=1 seek=40 conv=notrunc 2>/dev/null
set +e
"$SLUICE" checkpoint verify "$jd/chk-3" >"$tmp/out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "corrupt _metadata should exit 1"
grep -q '_metadata: checksum mismatch' "$tmp/out" || fail "metadata corruption: $(cat "$tmp/out")"
# The operator removes the damaged checkpoint by hand (gc never guesses).
rm -rf "$jd/chk-3"

# gc: stray files and a crashed checkpoint; taskowned/ and the job result
# record are never touched.
echo junk >"$jd/chk-4/stray"
mkdir -p "$jd/chk-9"
echo partial >"$jd/chk-9/data"
echo mine >"$jd/taskowned/x"
echo record >"$jd/_job_result"
"$SLUICE" checkpoint gc "$jd" --dry-run >"$tmp/out"
grep -q "would delete $jd/chk-4/stray" "$tmp/out" || fail "gc dry-run misses stray"
grep -q "would delete $jd/chk-9/data" "$tmp/out" || fail "gc dry-run misses crashed chk"
grep -q "taskowned" "$tmp/out" && fail "gc must not touch taskowned"
[ -f "$jd/chk-4/stray" ] || fail "dry run deleted"
"$SLUICE" checkpoint gc "$jd" >"$tmp/out" 2>/dev/null
[ ! -e "$jd/chk-4/stray" ] || fail "gc kept stray"
[ ! -e "$jd/chk-9" ] || fail "gc kept crashed chk dir"
[ -f "$jd/taskowned/x" ] || fail "gc deleted taskowned"
[ -f "$jd/_job_result" ] || fail "gc deleted the job result record"
rm "$jd/_job_result"
[ -f "$jd/chk-4/_metadata" ] || fail "gc deleted _metadata"

# An unreadable _metadata: gc deletes nothing, not even unrelated strays.
cp "$jd/chk-4/_metadata" "$tmp/meta.bak"
echo junk >"$jd/chk-4/stray2"
head -c 64 /dev/urandom >"$jd/chk-4/_metadata"
set +e
"$SLUICE" checkpoint gc "$jd" >"$tmp/out" 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "gc with unreadable _metadata should exit 1"
grep -q "unreadable _metadata; not deleting anything" "$tmp/err" || fail "gc refusal message"
[ -f "$jd/chk-4/stray2" ] || fail "gc deleted with an unreadable _metadata around"
cp "$tmp/meta.bak" "$jd/chk-4/_metadata"
rm "$jd/chk-4/stray2"

# Usage errors exit 2; a missing path exits 1 with Flink's message.
set +e
"$SLUICE" checkpoint bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown subcommand"
"$SLUICE" checkpoint inspect >/dev/null 2>&1; [ $? -eq 2 ] || fail "inspect without path"
"$SLUICE" checkpoint list "$tmp/nope" >/dev/null 2>&1; [ $? -eq 1 ] || fail "list of a missing dir"
"$SLUICE" checkpoint gc "$tmp/nope" >/dev/null 2>&1; [ $? -eq 1 ] || fail "gc of a missing dir"
"$SLUICE" checkpoint inspect "$tmp/nope" 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "missing path should exit 1"
grep -q "Cannot find checkpoint or savepoint file/directory '$tmp/nope' on file system 'file'." "$tmp/err" || fail "missing path message"
echo ok
