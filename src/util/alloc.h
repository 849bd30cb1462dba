/*
 * All allocation goes through these wrappers so a test can make the k-th
 * allocation fail and check that every failure path cleans up.  They do not
 * set the last error: callers turn NULL into sluice__error_oom().
 */
#ifndef SLUICE_UTIL_ALLOC_H
#define SLUICE_UTIL_ALLOC_H

#include <stddef.h>

void *sluice__malloc(size_t n);
void *sluice__calloc(size_t count, size_t size);
void *sluice__realloc(void *p, size_t n);
/* realloc of count*size with overflow check */
void *sluice__reallocarray(void *p, size_t count, size_t size);
char *sluice__strdup(const char *s);
char *sluice__strndup(const char *s, size_t n);
void *sluice__memdup(const void *p, size_t n);
void sluice__free(void *p);

/*
 * Test hook: after `n` more successful allocations, every allocation fails
 * (n < 0 turns failing off).  Process-wide.
 */
void sluice__alloc_fail_after(long n);

#endif
