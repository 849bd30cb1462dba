# `sluice bench state --backend rocksdb` measures against raw RocksDB with
# the same key layout and options, and prints the same JSON fields.
set -eu
export TMPDIR="${TMPDIR:-/tmp}"
out=$("$SLUICE" bench state --backend rocksdb --state map --op get --keys 1000 --seconds 0.02 --rounds 1)
for field in '"backend":"rocksdb"' '"state":"map"' '"op":"get"' '"keys":1000' \
	'"ops_per_sec":' '"baseline":"raw-rocksdb"' '"baseline_ops_per_sec":' '"ratio":'; do
	case "$out" in
	*"$field"*) ;;
	*) echo "missing $field in: $out" >&2; exit 1 ;;
	esac
done
set +e
"$SLUICE" bench state --backend rocksdb --sync-pause >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "expected exit 2 for --sync-pause on rocksdb, got $rc" >&2; exit 1; }
echo ok
