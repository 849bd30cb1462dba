# `sluice bench state` prints one JSON object per result with the fields
# scripts read, and rejects unknown workloads with exit code 2.
set -eu
out=$("$SLUICE" bench state --state value --op get --keys 2000 --seconds 0.02 --rounds 1)
for field in '"backend":"hashmap"' '"state":"value"' '"op":"get"' '"keys":2000' \
	'"ops_per_sec":' '"baseline_ops_per_sec":' '"ratio":'; do
	case "$out" in
	*"$field"*) ;;
	*) echo "missing $field in: $out" >&2; exit 1 ;;
	esac
done
n=$("$SLUICE" bench state --state map --keys 500 --seconds 0.01 --rounds 1 | grep -c '"state":"map"')
[ "$n" -eq 6 ] || { echo "expected 6 map workloads, got $n" >&2; exit 1; }
"$SLUICE" bench state --sync-pause --keys 5000 --rounds 3 | grep -q '"sync_pause_ms_median":'
set +e
"$SLUICE" bench state --state value --op banana >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "expected exit 2 for an unknown op, got $rc" >&2; exit 1; }
echo ok
