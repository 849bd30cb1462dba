/*
 * libFuzzer target for the `_metadata` reader.  The first input byte picks
 * a mode: even = the rest is a `_metadata` file as found on disk; odd = the
 * rest is re-sealed first (length field and trailing checksum fixed up) so
 * the fuzzer reaches the body parser behind the checksum.  Whatever
 * decodes must encode back to the same bytes, unless the writer picks an
 * older version for content that needs no newer one (a version-2 file
 * without incremental handles or channel state): then that encoding must
 * round-trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/sys/metadata.h"
#include "util/buf.h"
#include "util/hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* `data` decodes and encodes back to exactly the same bytes. */
static int stable(const uint8_t *data, size_t len)
{
	sluice_checkpoint_meta *m = NULL;
	uint8_t *again = NULL;
	size_t len2 = 0;
	int ok;

	if (sluice_metadata_decode(&m, data, len, "fuzz") < 0)
		return 0;
	ok = sluice_metadata_encode(&again, &len2, m) == 0 && len2 == len &&
	     !memcmp(again, data, len);
	sluice_free_bytes(again);
	sluice_checkpoint_meta_free(m);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sluice_checkpoint_meta *m = NULL;
	uint8_t *copy, *again = NULL;
	size_t len, len2 = 0;

	if (size < 1)
		return 0;
	len = size - 1;
	copy = malloc(len ? len : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, len);
	if ((data[0] & 1) && len >= 24) {
		sluice__be64(copy + 8, (uint64_t)len);
		sluice__be64(copy + len - 8, sluice__xxh3(copy, len - 8));
	}
	if (sluice_metadata_decode(&m, copy, len, "fuzz") == 0) {
		if (sluice_metadata_encode(&again, &len2, m) == 0) {
			if (sluice__rd32(again + 4) == sluice__rd32(copy + 4)) {
				/* decode/encode must round-trip exactly */
				if (len2 != len || memcmp(again, copy, len))
					abort();
			} else if (
				sluice__rd32(again + 4) >
					sluice__rd32(copy + 4) ||
				!stable(again, len2)) {
				/* the writer picks the oldest version that
				 * holds the content: never a newer one, and
				 * that encoding round-trips */
				abort();
			}
		}
		sluice_free_bytes(again);
		sluice_checkpoint_meta_free(m);
	}
	free(copy);
	return 0;
}
