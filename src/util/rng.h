/*
 * A tiny seeded pseudo-random generator (splitmix64) for decisions that
 * must be reproducible in tests: the first periodic checkpoint delay and
 * restart-backoff jitter.  Not for anything security related.
 *
 * Threading: a generator is plain data; guard it like the object owning it.
 */
#ifndef SLUICE_UTIL_RNG_H
#define SLUICE_UTIL_RNG_H

#include <stdint.h>

typedef struct sluice__rng {
	uint64_t state;
} sluice__rng;

static inline void sluice__rng_seed(sluice__rng *r, uint64_t seed)
{
	r->state = seed;
}

static inline uint64_t sluice__rng_next(sluice__rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi], both inclusive; lo when hi <= lo. */
static inline int64_t sluice__rng_range(sluice__rng *r, int64_t lo, int64_t hi)
{
	uint64_t span;

	if (hi <= lo)
		return lo;
	span = (uint64_t)hi - (uint64_t)lo + 1u;
	if (span == 0) /* the full 64-bit range */
		return (int64_t)sluice__rng_next(r);
	return lo + (int64_t)(sluice__rng_next(r) % span);
}

#endif
