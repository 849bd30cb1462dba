/*
 * Allocation wrappers.  One place to fail allocations on purpose: tests set
 * a countdown with sluice__alloc_fail_after() and every path that allocates
 * must then report SLUICE_ENOMEM and leak nothing.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static atomic_long fail_countdown = -1;

static int should_fail(void)
{
	long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

	if (n < 0)
		return 0;
	if (n == 0)
		return 1;
	return atomic_fetch_sub(&fail_countdown, 1) <= 0;
}

void sluice__alloc_fail_after(long n)
{
	atomic_store(&fail_countdown, n);
}

void *sluice__malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *sluice__calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *sluice__realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void *sluice__reallocarray(void *p, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	return sluice__realloc(p, count * size);
}

char *sluice__strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = sluice__malloc(len + 1);

	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *sluice__strdup(const char *s)
{
	return sluice__strndup(s, SIZE_MAX);
}

void *sluice__memdup(const void *p, size_t n)
{
	void *d = sluice__malloc(n);

	if (d && n)
		memcpy(d, p, n);
	return d;
}

void sluice__free(void *p)
{
	free(p);
}
