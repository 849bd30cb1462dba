/*
 * Byte layouts of the rocksdb backend: composite keys (key group | key |
 * namespace), list values (length-prefixed elements) and TTL values
 * (timestamp | value).  Pure codecs with no RocksDB dependency, shared by
 * the backend, its merge operator and its compaction filter.  The layouts
 * are documented in rdb.h.
 */
#include <string.h>

#include "state/rocksdb/rdb.h"
#include "util/error.h"

int sluice__rdb_kg_bytes(int32_t max_parallelism)
{
	return max_parallelism > 0 && max_parallelism <= 128 ? 1 : 2;
}

int sluice__rdb_put_kg(sluice_buf *b, int kg_bytes, int32_t kg)
{
	if (kg_bytes == 1)
		return sluice_buf_put_u8(b, (uint8_t)kg);
	return sluice_buf_put_u16(b, (uint16_t)kg);
}

int sluice__rdb_key_prefix(
	sluice_buf *b, int kg_bytes, int32_t kg, sluice_slice key)
{
	int error;

	sluice_buf_clear(b);
	if ((error = sluice__rdb_put_kg(b, kg_bytes, kg)) < 0 ||
	    (error = sluice_buf_put_bytes32(b, key.data, key.len)) < 0)
		return error;
	return 0;
}

int sluice__rdb_key_encode(
	sluice_buf *b,
	int kg_bytes,
	int32_t kg,
	sluice_slice key,
	sluice_slice ns)
{
	SLUICE_ERRCHECK(sluice__rdb_key_prefix(b, kg_bytes, kg, key));
	return sluice_buf_put_bytes32(b, ns.data, ns.len);
}

int sluice__rdb_key_decode(
	const void *data,
	size_t len,
	int kg_bytes,
	int32_t *kg,
	sluice_slice *key,
	sluice_slice *ns,
	sluice_slice *rest)
{
	sluice_reader r;

	sluice_reader_init(&r, data, len);
	*kg = kg_bytes == 1 ? sluice_reader_u8(&r) : sluice_reader_u16(&r);
	*key = sluice_reader_bytes32(&r);
	*ns = sluice_reader_bytes32(&r);
	if (r.failed)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_ROCKSDB,
			"rocksdb key of %zu bytes: lengths exceed the key",
			len);
	rest->data = (const uint8_t *)data + r.pos;
	rest->len = len - r.pos;
	return 0;
}

int sluice__rdb_list_put(sluice_buf *b, sluice_slice elem)
{
	return sluice_buf_put_bytes32(b, elem.data, elem.len);
}

int sluice__rdb_list_put_ttl(sluice_buf *b, int64_t ts_ms, sluice_slice elem)
{
	SLUICE_ERRCHECK(sluice_buf_put_u32(b, (uint32_t)elem.len));
	SLUICE_ERRCHECK(sluice_buf_put_u64(b, (uint64_t)ts_ms));
	return sluice_buf_put(b, elem.data, elem.len);
}

int sluice__rdb_list_next(
	const void *data,
	size_t len,
	int ttl,
	size_t *pos,
	sluice_slice *elem,
	int64_t *ts_ms)
{
	const uint8_t *p = data;
	size_t hdr = ttl ? 12 : 4;
	uint32_t n;

	if (*pos >= len)
		return 0;
	if (len - *pos < hdr)
		goto corrupt;
	n = sluice__rd32(p + *pos);
	if (len - *pos - hdr < n)
		goto corrupt;
	*ts_ms = ttl ? (int64_t)sluice__rd64(p + *pos + 4) : 0;
	elem->data = p + *pos + hdr;
	elem->len = n;
	*pos += hdr + (size_t)n;
	return 1;
corrupt:
	return sluice__error_set(
		SLUICE_ECORRUPT, SLUICE_ERRCLS_ROCKSDB,
		"rocksdb list value of %zu bytes: element at offset %zu is "
		"truncated",
		len, *pos);
}

int sluice__rdb_ttl_wrap(sluice_buf *b, int64_t ts_ms, sluice_slice value)
{
	SLUICE_ERRCHECK(sluice_buf_put_u64(b, (uint64_t)ts_ms));
	return sluice_buf_put(b, value.data, value.len);
}

int sluice__rdb_ttl_unwrap(
	sluice_slice wrapped, int64_t *ts_ms, sluice_slice *value)
{
	if (wrapped.len < 8)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_ROCKSDB,
			"rocksdb TTL value of %zu bytes: shorter than its "
			"8-byte timestamp",
			wrapped.len);
	*ts_ms = (int64_t)sluice__rd64(wrapped.data);
	value->data = (const uint8_t *)wrapped.data + 8;
	value->len = wrapped.len - 8;
	return 0;
}

int sluice__rdb_ttl_expired(int64_t ts_ms, int64_t ttl_ms, int64_t now_ms)
{
	int64_t room = ts_ms > 0 ? INT64_MAX - ts_ms : INT64_MAX;
	int64_t add = ttl_ms < room ? ttl_ms : room;

	return ts_ms + add <= now_ms;
}
