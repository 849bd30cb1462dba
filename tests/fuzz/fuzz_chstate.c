/*
 * libFuzzer target for the channel-state reader (src/runtime/chstate.c,
 * docs/format/channel-state.md).  The first input byte picks a mode:
 * 0 = the rest is a channel-state blob as stored; 1 = the same, re-sealed
 * first (trailing xxh3-64 fixed up) so the fuzzer reaches the entry
 * parser behind the checksum; 2 = the rest is a `_metadata` reference
 * (inline references resolve without storage).  A blob that parses must
 * encode back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/chstate.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const uint8_t *blob, size_t len)
{
	sluice__chs_entry *e = NULL;
	sluice__chs c;
	uint8_t *again = NULL;
	size_t n = 0, i, len2 = 0;

	if (sluice__chs_parse(blob, len, "fuzz", &e, &n) < 0)
		return;
	sluice__chs_init(&c);
	for (i = 0; i < n; i++)
		if (sluice__chs_add(
			    &c, e[i].kind, e[i].gate, e[i].channel, e[i].data,
			    e[i].len) < 0)
			abort();
	if (sluice__chs_finish(&c, &again, &len2) < 0)
		abort();
	/* an empty collection encodes as nothing */
	if (n > 0 && (len2 != len || memcmp(again, blob, len)))
		abort();
	sluice__free(again);
	sluice__chs_release(&c);
	sluice__free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy, *blob = NULL;
	size_t len, blob_len = 0;

	if (size < 1)
		return 0;
	len = size - 1;
	if (!(copy = malloc(len ? len : 1)))
		return 0;
	memcpy(copy, data + 1, len);
	switch (data[0] % 3) {
	case 1:
		if (len >= 8)
			sluice__be64(
				copy + len - 8, sluice__xxh3(copy, len - 8));
		/* fall through */
	case 0:
		round_trip(copy, len);
		break;
	default:
		if (sluice__chs_read(
			    &blob, &blob_len, copy, len, NULL, NULL, "fuzz") ==
		    0)
			round_trip(blob, blob_len);
		sluice__free(blob);
		break;
	}
	free(copy);
	return 0;
}
