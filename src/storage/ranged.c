/*
 * Ranged reads of remote files (ranged.h): the chunk buffer and range
 * sizing shared by the S3 and WebHDFS storages.
 */
#include <string.h>

#include "storage/ranged.h"
#include "util/error.h"

void sluice__ranged_init(
	sluice__ranged *r,
	uint64_t size,
	uint64_t min,
	uint64_t max,
	sluice__range_fetch fetch,
	void *ctx,
	const char *name)
{
	memset(r, 0, sizeof(*r));
	sluice_buf_init(&r->chunk);
	r->size = size;
	r->min = r->next = min;
	r->max = max;
	r->fetch = fetch;
	r->ctx = ctx;
	r->name = name;
}

void sluice__ranged_release(sluice__ranged *r)
{
	sluice_buf_release(&r->chunk);
}

/* Fill the chunk with the range starting at the position. */
static int refill(sluice__ranged *r)
{
	uint64_t want;
	int rc;

	/* sequential: right after the chunk just read */
	if (r->chunk.len && r->pos == r->chunk_off + r->chunk.len)
		r->next = r->next * 2 > r->max ? r->max : r->next * 2;
	else
		r->next = r->min;
	want = r->size - r->pos < r->next ? r->size - r->pos : r->next;
	sluice_buf_clear(&r->chunk);
	r->chunk_off = r->pos;
	if ((rc = sluice_buf_grow(&r->chunk, (size_t)want)) < 0 ||
	    (rc = r->fetch(r->ctx, r->pos, want, &r->chunk)) < 0)
		return rc;
	if (r->chunk.len == 0)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STORAGE,
			"%s: shorter than its %llu bytes", r->name,
			(unsigned long long)r->size);
	return 0;
}

int sluice__ranged_read(sluice__ranged *r, void *buf, size_t len, size_t *got)
{
	size_t n;
	int rc;

	*got = 0;
	if (r->pos >= r->size || len == 0)
		return 0;
	if ((r->pos < r->chunk_off || r->pos >= r->chunk_off + r->chunk.len) &&
	    (rc = refill(r)) < 0)
		return rc;
	n = (size_t)(r->chunk_off + r->chunk.len - r->pos);
	if (n > len)
		n = len;
	memcpy(buf, r->chunk.ptr + (r->pos - r->chunk_off), n);
	r->pos += n;
	*got = n;
	return 0;
}

int sluice__ranged_seek(sluice__ranged *r, uint64_t off)
{
	if (off > r->size)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STORAGE,
			"seek to %llu past the end of %s (%llu bytes)",
			(unsigned long long)off, r->name,
			(unsigned long long)r->size);
	r->pos = off;
	return 0;
}
