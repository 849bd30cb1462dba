/*
 * libFuzzer target for the rocksdb backend's byte layouts (rdb.h):
 * composite keys (key group | u32 len | key | u32 len | namespace | rest)
 * and list values (plain or TTL elements).  Any bytes either decode or
 * fail with SLUICE_ECORRUPT -- never read out of bounds -- and what
 * decodes re-encodes to exactly the input.
 *
 * Input: u8 flags (bit 0: 2-byte key groups, bit 1: TTL list elements),
 * then the bytes, read both as a key and as a list value.
 */
#include <stdint.h>
#include <string.h>

#include "state/rocksdb/rdb.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void key(const uint8_t *p, size_t n, int kgb)
{
	sluice_buf b = SLUICE_BUF_INIT;
	sluice_slice k, ns, rest;
	int32_t kg;

	if (sluice__rdb_key_decode(p, n, kgb, &kg, &k, &ns, &rest) < 0)
		return;
	if (sluice__rdb_key_encode(&b, kgb, kg, k, ns) == 0 &&
	    sluice_buf_put(&b, rest.data, rest.len) == 0 &&
	    (b.len != n || memcmp(b.ptr, p, n)))
		__builtin_trap();
	sluice_buf_release(&b);
}

static void list(const uint8_t *p, size_t n, int ttl)
{
	sluice_buf b = SLUICE_BUF_INIT;
	sluice_slice e;
	size_t pos = 0;
	int64_t ts;
	int rc;

	while ((rc = sluice__rdb_list_next(p, n, ttl, &pos, &e, &ts)) == 1) {
		if ((const uint8_t *)e.data < p ||
		    (const uint8_t *)e.data + e.len > p + n)
			__builtin_trap();
		if (ttl)
			rc = sluice__rdb_list_put_ttl(&b, ts, e);
		else
			rc = sluice__rdb_list_put(&b, e);
		if (rc < 0)
			break;
	}
	if (rc == 0 && (b.len != n || (n && memcmp(b.ptr, p, n))))
		__builtin_trap();
	sluice_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	key(data + 1, size - 1, data[0] & 1 ? 2 : 1);
	list(data + 1, size - 1, (data[0] & 2) != 0);
	return 0;
}
