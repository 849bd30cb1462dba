/*
 * Hashing and checksums.  xxh3-64 is the checksum of every file and block
 * sluice writes; sluice__hash32 is the documented key hash that places a key
 * in its key group (docs/format.md): the murmur3 64-bit finaliser applied to
 * xxh3-64 of the key bytes with seed 0, folded to 32 bits by taking the low
 * half; the key group is (hash32 & 0x7fffffff) % max parallelism
 * (src/state/keygroup.c).
 */
#ifndef SLUICE_UTIL_HASH_H
#define SLUICE_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t sluice__xxh3(const void *data, size_t len);

/* Streaming xxh3-64: init, update any number of times, digest. */
typedef struct sluice_xxh3_state sluice_xxh3_state;
sluice_xxh3_state *sluice__xxh3_new(void);
void sluice__xxh3_update(sluice_xxh3_state *s, const void *data, size_t len);
uint64_t sluice__xxh3_digest(sluice_xxh3_state *s);
void sluice__xxh3_reset(sluice_xxh3_state *s);
void sluice__xxh3_free(sluice_xxh3_state *s);

/* murmur3 fmix64 finaliser */
uint64_t sluice__fmix64(uint64_t k);
/* 32-bit key hash as documented above */
uint32_t sluice__hash32(const void *data, size_t len);

#endif
