# Shell functions shared by the script tests in tests/e2e and tests/cli,
# sourced as `. "$SLUICE_SOURCE_DIR/tests/e2e/lib.sh"` (ctest sets
# SLUICE_SOURCE_DIR for every script test).  Defines: fail, scratch_dir,
# check_output (the exactly-once / at-least-once checker over part-*
# files), kill_after and wait_run (pieces of the SIGKILL / --restore
# latest loops), rc_of (an exit status under set -e), s3_test_init,
# s3_server_start and s3_session (the S3 tests' Swift server), count_job (the job
# file of the counting pipeline), latest and run_and_kill (the rescaling
# tests' steps).  Only functions: sourcing it runs nothing.

# fail MESSAGE...: print FAIL: MESSAGE (and the file $fail_log, when a
# script set it and it exists) to stderr, exit 1.
fail() {
	echo "FAIL: $*" >&2
	[ -z "${fail_log:-}" ] || [ ! -f "$fail_log" ] || cat "$fail_log" >&2
	exit 1
}

# scratch_dir [PREFIX]: a new temporary directory in $tmp (under $TMPDIR
# or /tmp, named PREFIX.XXXXXX when given), removed when the script exits.
scratch_dir() {
	if [ $# -gt 0 ]; then
		tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	else
		tmp=$(mktemp -d)
	fi
	trap 'rm -rf "$tmp"' EXIT
}

# check_output DIR COUNT KEYS [MODE]: the "key,count" lines of the part-*
# files under DIR.  MODE exact (default): exactly once, COUNT records over
# KEYS keys, each key's counts exactly 1..n, no line twice.  MODE least:
# nothing lost (replayed records may count twice): KEYS keys whose highest
# counts add up to at least COUNT.  Prints what is wrong, returns 1.
check_output() {
	cat "$1"/part-* 2>/dev/null | awk -F, -v want="$2" -v keys="$3" -v mode="${4:-exact}" '
		{ n[$1]++; if ($2 > max[$1]) max[$1] = $2; seen[$0]++ }
		END {
			total = 0; bad = 0; dup = 0
			for (k in n) { total += n[k]; if (n[k] != max[k]) bad++ }
			for (r in seen) if (seen[r] > 1) dup++
			if (mode == "exact" && (bad || dup || total != want || length(n) != keys)) {
				printf "records %d (want %d), keys %d (want %d), bad keys %d, duplicates %d\n", total, want, length(n), keys, bad, dup
				exit 1
			}
			if (mode == "least") {
				# replayed records may be counted twice, never lost:
				# the highest counts add up to at least every event
				sum = 0
				for (k in max) sum += max[k]
				if (sum < want || length(n) != keys) {
					printf "highest counts sum to %d (want at least %d), keys %d\n", sum, want, length(n)
					exit 1
				}
			}
		}'
}

# kill_after PID MS: sleep MS milliseconds, then SIGKILL PID.  If it was
# still running: reap it, add one to $kills, set restore to
# "--restore latest" and return 0; return 1 if it had already exited.
kill_after() {
	sleep "$(awk -v m="$2" 'BEGIN { printf "%.3f", m / 1000 }')"
	kill -9 "$1" 2>/dev/null || return 1
	wait "$1" 2>/dev/null || true
	kills=$((kills + 1))
	restore="--restore latest"
}

# wait_run PID LOG NAME: wait for a `sluice run` to finish; when it fails,
# print LOG and fail naming NAME.
wait_run() {
	wait "$1" || { cat "$2" >&2; fail "$3: run failed"; }
}

# s3_test_init: start of the scripts against a real S3 server: exit 77
# (skipped) when OpenStack Swift is not installed; else set $script (the
# server script, scripts/s3-server.sh) and $tool (test_s3_storage's tool
# mode, which needs SLUICE_BUILD_DIR).
s3_test_init() {
	script=$SLUICE_SOURCE_DIR/scripts/s3-server.sh
	tool="$SLUICE_BUILD_DIR/tests/test_s3_storage tool"
	if ! command -v swift-proxy-server >/dev/null 2>&1; then
		echo "skipped: OpenStack Swift is not installed (S3_PKGS in scripts/deps.sh)"
		exit 77
	fi
}

# rc_of COMMAND...: run COMMAND (redirections apply) without set -e
# stopping the script; its exit status in $rc.
rc_of() {
	rc=0
	"$@" || rc=$?
}

# s3_server_start DIR: start the Swift S3 server of scripts/s3-server.sh
# in DIR and export its SLUICE_TEST_S3_* variables (stop it with
# `sh "$SLUICE_SOURCE_DIR/scripts/s3-server.sh" stop DIR`).
s3_server_start() {
	sh "$SLUICE_SOURCE_DIR/scripts/s3-server.sh" start "$1"
	eval "$(sh "$SLUICE_SOURCE_DIR/scripts/s3-server.sh" env "$1" | sed 's/^/export /')"
}

# s3_session PREFIX: a scratch directory $tmp (PREFIX.XXXXXX) with the
# Swift S3 server started in $tmp/s3 (s3_server_start).  On exit the
# command in $s3_on_exit runs first when a script set one (it sees the
# exit status in $rc), then the server is stopped by PID, the proxy log's
# last lines are printed when the script failed, and $tmp is removed.
s3_session() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap s3_session_end EXIT
	trap 'exit 130' INT TERM
	s3_server_start "$tmp/s3"
}

s3_session_end() {
	rc=$?
	[ -z "${s3_on_exit:-}" ] || $s3_on_exit || true
	sh "$SLUICE_SOURCE_DIR/scripts/s3-server.sh" stop "$tmp/s3" || true
	if [ "$rc" -ne 0 ] && [ -f "$tmp/s3/log/proxy.log" ]; then
		echo "--- proxy log (last lines) ---" >&2
		tail -n 20 "$tmp/s3/log/proxy.log" >&2 || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}

# count_job NAME PARALLELISM COUNT KEYS RATE OUT [THROTTLE]: print the job
# file of the counting pipeline (sequence source of COUNT records over
# KEYS keys at RATE records/s, optionally a throttle stage of THROTTLE per
# record, key-by, count, exactly-once file sink into OUT) up to and
# including its `config:` line, for the caller to add the options.  An
# empty PARALLELISM or RATE leaves its line out (the defaults).
count_job() {
	printf 'job:\n  name: %s\n' "$1"
	[ -z "$2" ] || printf '  parallelism: %s\n' "$2"
	printf 'pipeline:\n  - source: sequence\n    count: %s\n    keys: %s\n' "$3" "$4"
	[ -z "$5" ] || printf '    rate: %s\n' "$5"
	[ -z "${7:-}" ] || printf '  - operator: throttle\n    per-record: %s\n' "$7"
	printf '  - key-by: key\n  - operator: count\n  - sink: file\n    path: %s\nconfig:\n' "$6"
}

# latest: the newest chk-<n> directory under $tmp/ck/<job id>/ whose
# _metadata is written (nothing when there is none)
latest() {
	for m in "$tmp"/ck/*/chk-*/_metadata; do
		[ -f "$m" ] || continue
		d=${m%/_metadata}
		echo "${d##*/chk-} $d"
	done | sort -n | tail -n 1 | cut -d' ' -f2
}

# run_and_kill PARALLELISM LOG [MS]: write the job file with the script's
# `job PARALLELISM`, run it (with --restore latest when a checkpoint
# exists) and SIGKILL it MS (default 200) ms after a checkpoint newer than
# the one it started from completed.  Fails when the run ended first,
# completed no checkpoint, or did not restore.
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
	kill_after "$pid" "${3:-200}" ||
		fail "the run at parallelism $1 ended before it was killed: $(cat "$2")"
	[ "$(latest)" != "$before" ] ||
		fail "no checkpoint at parallelism $1: $(cat "$2")"
	[ -z "$before" ] || grep -q "restored checkpoint" "$2" ||
		fail "parallelism $1 did not restore: $(cat "$2")"
}
