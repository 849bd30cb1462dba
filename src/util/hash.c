/*
 * xxh3-64 (Debian's libxxhash) for checksums, and the key hash that maps a
 * key to its key group.  The key hash is part of the on-disk contract: a
 * checkpoint's key groups only mean something if every version of sluice
 * computes the same group for the same key bytes.
 */
#include <xxhash.h>

#include "alloc.h"
#include "hash.h"

struct sluice_xxh3_state {
	XXH3_state_t *st;
};

uint64_t sluice__xxh3(const void *data, size_t len)
{
	return XXH3_64bits(data, len);
}

sluice_xxh3_state *sluice__xxh3_new(void)
{
	sluice_xxh3_state *s = sluice__malloc(sizeof(*s));

	if (!s)
		return NULL;
	s->st = XXH3_createState();
	if (!s->st) {
		sluice__free(s);
		return NULL;
	}
	XXH3_64bits_reset(s->st);
	return s;
}

void sluice__xxh3_update(sluice_xxh3_state *s, const void *data, size_t len)
{
	XXH3_64bits_update(s->st, data, len);
}

uint64_t sluice__xxh3_digest(sluice_xxh3_state *s)
{
	return XXH3_64bits_digest(s->st);
}

void sluice__xxh3_reset(sluice_xxh3_state *s)
{
	XXH3_64bits_reset(s->st);
}

void sluice__xxh3_free(sluice_xxh3_state *s)
{
	if (!s)
		return;
	XXH3_freeState(s->st);
	sluice__free(s);
}

uint64_t sluice__fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

uint32_t sluice__hash32(const void *data, size_t len)
{
	return (uint32_t)sluice__fmix64(XXH3_64bits(data, len));
}
