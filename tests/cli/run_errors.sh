#!/bin/sh
# sluice run on bad input: a clear message naming what is wrong, exit 2,
# and nothing run.
set -eu
: "${SLUICE:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect2() { # DESCRIPTION PATTERN ARGS...
	what=$1 pat=$2
	shift 2
	set +e
	"$SLUICE" run "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
	[ "$rc" = 2 ] || fail "$what: exit $rc, want 2 ($(cat "$tmp/err"))"
	grep -q -- "$pat" "$tmp/err" || fail "$what: message '$(cat "$tmp/err")' lacks '$pat'"
}

cat >"$tmp/ok.yaml" <<YAML
job:
  name: t
pipeline:
  - source: sequence
    count: 10
  - sink: null
YAML
printf 'job:\n  name: t\n  parralelism: 2\npipeline:\n  - source: sequence\n  - sink: null\n' >"$tmp/typo.yaml"

expect2 "no job file" "no job file given"
expect2 "missing job file" "nope.yaml" "$tmp/nope.yaml"
expect2 "typo in job file" "typo.yaml:3:3: unexpected key 'parralelism'" "$tmp/typo.yaml"
expect2 "bad -D value" "Could not parse value 'banana' for key 'execution.checkpointing.interval'" \
	"$tmp/ok.yaml" -D execution.checkpointing.interval=banana
expect2 "unknown option" "unknown option '--bogus'" "$tmp/ok.yaml" --bogus
expect2 "restore of a missing path" "Cannot find checkpoint or savepoint" \
	"$tmp/ok.yaml" --restore "$tmp/no-such-checkpoint"

# And a good one finishes with exit 0.
"$SLUICE" run "$tmp/ok.yaml" --stats-json "$tmp/stats.json" 2>"$tmp/err" ||
	fail "good job: $(cat "$tmp/err")"
grep -q "job 't' finished" "$tmp/err" || fail "no finish line"
# the statistics document: Flink's REST fields plus restarts
for field in '"counts":' '"history":' '"latest":' '"restarts":0}'; do
	grep -q "$field" "$tmp/stats.json" || fail "stats lack $field: $(cat "$tmp/stats.json")"
done
echo ok
