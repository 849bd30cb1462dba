/*
 * A read-only stream over a remote file read by ranges (S3 ranged GETs,
 * WebHDFS OPEN with offset and length): one buffered chunk, refetched when
 * the position leaves it.  Sequential reading doubles the range from `min`
 * up to `max` (fewer round trips for big state files); a seek elsewhere
 * starts again at `min`.  A fetch that returns nothing before the known
 * size is a truncated file (SLUICE_ECORRUPT naming it); seeking past the
 * end is SLUICE_ECORRUPT too.  Not thread-safe: one reader per stream.
 */
#ifndef SLUICE_STORAGE_RANGED_H
#define SLUICE_STORAGE_RANGED_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Append bytes [off, off + len) of the file to `out` (empty on entry,
 * room for `len` reserved). */
typedef int (*sluice__range_fetch)(
	void *ctx, uint64_t off, uint64_t len, sluice_buf *out);

typedef struct sluice__ranged {
	uint64_t size, pos;
	sluice_buf chunk; /* bytes [chunk_off, chunk_off + chunk.len) */
	uint64_t chunk_off;
	uint64_t next, min, max; /* range of the next fetch */
	sluice__range_fetch fetch;
	void *ctx;
	const char *name; /* for messages; borrowed */
} sluice__ranged;

void sluice__ranged_init(
	sluice__ranged *r,
	uint64_t size,
	uint64_t min,
	uint64_t max,
	sluice__range_fetch fetch,
	void *ctx,
	const char *name);
void sluice__ranged_release(sluice__ranged *r);
int sluice__ranged_read(sluice__ranged *r, void *buf, size_t len, size_t *got);
int sluice__ranged_seek(sluice__ranged *r, uint64_t off);

#endif
