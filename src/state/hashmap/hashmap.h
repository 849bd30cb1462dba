/*
 * Private structures of the hashmap backend, shared by its files:
 * hashmap.c (tables, copy-on-write, the backend methods), nested.c (the
 * per-(key, namespace) user map of MAP states) and snapshot.c (frozen
 * views and their ordered iteration).
 */
#ifndef SLUICE_STATE_HASHMAP_H
#define SLUICE_STATE_HASHMAP_H

#include <pthread.h>
#include <stdatomic.h>

#include "sluice/sys/backend.h"

#define HM_PAGE_BITS  10
#define HM_PAGE_SLOTS (1u << HM_PAGE_BITS)

/*
 * One (key, namespace) entry: header, then key, namespace and value bytes
 * in one allocation.  A MAP state's value area holds an `hm_map *`.
 * Entries reachable from a held snapshot (version <= required) are never
 * modified: writers copy them first.
 */
typedef struct hm_entry {
	uint32_t version;
	uint32_t hash;
	int32_t kg;
	uint32_t key_len;
	uint32_t ns_len;
	uint32_t val_len;
	uint32_t val_cap;
	uint8_t data[];
} hm_entry;

/*
 * A page of open-addressing slots; tag 0 means empty, otherwise the tag is
 * the entry's hash (1 when the hash is 0) and `tag & mask` its home slot.
 *
 * Small FLAT entries live in the slot itself (`inl`): key, namespace and
 * value bytes (together at most HM_INLINE) and the key group, so a lookup
 * touches one cache line: the slot.  Larger FLAT entries and every MAP
 * entry are an `hm_entry` the slot points to.  A slot is 32 bytes, two per
 * cache line.  Inline entries are versioned with their page: a writer
 * makes the page writable (copies it when a snapshot may read it) before
 * touching the bytes.
 */
#define HM_INLINE 22

typedef struct hm_map hm_map;

typedef struct hm_slot {
	uint32_t tag;
	uint8_t inl;              /* 1: entry inline in u.i */
	uint8_t klen, nlen, vlen; /* inline lengths; see u.m */
	union {
		hm_entry *e;
		struct {
			uint16_t kg;
			uint8_t d[HM_INLINE];
		} i;
		/* A MAP entry of an 8-byte key in the default namespace (marked
		 * by klen 8 with inl 0): its key and user map are also kept in
		 * the slot, so reads skip the entry (e stays the owner; the
		 * map pointer is updated whenever the entry's changes). */
		struct {
			hm_entry *e;
			hm_map *map;
			uint8_t key[8];
		} m;
	} u;
} hm_slot;

/*
 * Slots start on a cache-line boundary so that each 32-byte slot lies in
 * one line and slots 2j, 2j+1 share one (pages are allocated 64-byte
 * aligned; `raw` is the allocation to free).
 */
typedef struct hm_page {
	void *raw;
	uint32_t version;
	_Alignas(64) hm_slot s[HM_PAGE_SLOTS];
} hm_page;

typedef struct hm_table {
	char *name;
	sluice_backend_shape shape;
	hm_page **pages;
	size_t npages;
	size_t mask; /* slots - 1 */
	size_t count;
	size_t cursor; /* incremental TTL cleanup position */
} hm_table;

/* Nested user map of a MAP entry: open addressing over items. */
typedef struct hm_item {
	uint32_t hash;
	uint32_t klen;
	uint32_t vlen;
	uint8_t data[];
} hm_item;

/* The slot array is part of the map's allocation (one dependent load
 * less per lookup); growing moves the map (sluice__hm_map_put). */
struct hm_map {
	uint32_t count;
	uint32_t mask;
	hm_item *slots[];
};

enum { HM_RET_PAGE = 0, HM_RET_ENTRY = 1, HM_RET_MAP_ENTRY = 2 };

typedef struct hm_retired {
	void *p;
	uint32_t tag; /* backend version when retired */
	int kind;
} hm_retired;

typedef struct hm_backend {
	sluice_backend base;
	hm_table **tables;
	size_t ntables;
	size_t tcap;
	uint32_t version;     /* task thread only */
	atomic_uint required; /* highest held snapshot version, 0 = none */
	pthread_mutex_t lock; /* guards held[] and retired[] */
	uint32_t *held;
	size_t nheld, heldcap;
	hm_retired *retired;
	size_t rlen, rcap;
} hm_backend;

/*
 * Byte equality for short keys without calling memcmp: glibc's AVX-512
 * memcmp uses masked loads, which on some CPUs take a slow microcode
 * assist when the masked-off bytes touch an unmapped page (len 0 with a
 * NULL pointer, or a key near a page end): 150 ns per lookup.
 */
static inline int hm_bytes_eq(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	uint64_t u, v;

	if (n == 8) {
		__builtin_memcpy(&u, x, 8);
		__builtin_memcpy(&v, y, 8);
		return u == v;
	}
	while (n >= 8) {
		__builtin_memcpy(&u, x, 8);
		__builtin_memcpy(&v, y, 8);
		if (u != v)
			return 0;
		x += 8;
		y += 8;
		n -= 8;
	}
	while (n--)
		if (*x++ != *y++)
			return 0;
	return 1;
}

/* memcmp-like ordering without glibc's masked loads (see hm_bytes_eq). */
static inline int hm_bytes_cmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	uint64_t u, v;

	while (n >= 8) {
		__builtin_memcpy(&u, x, 8);
		__builtin_memcpy(&v, y, 8);
		if (u != v) {
			u = __builtin_bswap64(u);
			v = __builtin_bswap64(v);
			return u < v ? -1 : 1;
		}
		x += 8;
		y += 8;
		n -= 8;
	}
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

static inline sluice_slice hm_entry_key(const hm_entry *e)
{
	return SLUICE_SLICE(e->data, e->key_len);
}

static inline sluice_slice hm_entry_ns(const hm_entry *e)
{
	return SLUICE_SLICE(e->data + e->key_len, e->ns_len);
}

static inline uint8_t *hm_entry_val(const hm_entry *e)
{
	return (uint8_t *)(uintptr_t)(e->data + e->key_len + e->ns_len);
}

static inline hm_map *hm_entry_map(const hm_entry *e)
{
	hm_map *m;

	__builtin_memcpy(&m, e->data + e->key_len + e->ns_len, sizeof(m));
	return m;
}

static inline int32_t hm_slot_kg(const hm_slot *s)
{
	return s->inl ? (int32_t)s->u.i.kg : s->u.e->kg;
}

static inline sluice_slice hm_slot_key(const hm_slot *s)
{
	return s->inl ? SLUICE_SLICE(s->u.i.d, s->klen) : hm_entry_key(s->u.e);
}

static inline sluice_slice hm_slot_ns(const hm_slot *s)
{
	return s->inl ? SLUICE_SLICE(s->u.i.d + s->klen, s->nlen)
		      : hm_entry_ns(s->u.e);
}

/* The FLAT value of a used slot (borrowed). */
static inline sluice_slice hm_slot_val(const hm_slot *s)
{
	return s->inl ? SLUICE_SLICE(s->u.i.d + s->klen + s->nlen, s->vlen)
		      : SLUICE_SLICE(hm_entry_val(s->u.e), s->u.e->val_len);
}

/* hashmap.c: emit one used slot to an iteration callback */
int sluice__hm_emit_slot(
	const hm_slot *s,
	sluice_backend_shape shape,
	sluice_backend_entry_fn fn,
	void *ctx);

/* nested.c */
int sluice__hm_map_new(hm_map **out);
void sluice__hm_map_free(hm_map *m);
int sluice__hm_map_dup(hm_map **out, const hm_map *m);
/* Borrowed value, or NULL. */
const hm_item *sluice__hm_map_find(const hm_map *m, sluice_slice ukey);
/* May move the map when it grows: *m is updated (also on failure). */
int sluice__hm_map_put(hm_map **m, sluice_slice ukey, sluice_slice value);
/* 1 removed, 0 absent */
int sluice__hm_map_remove(hm_map *m, sluice_slice ukey);
size_t sluice__hm_map_memory(const hm_map *m);

/* snapshot.c */
int sluice__hm_snapshot_sync(sluice_backend *b, sluice_backend_snapshot **out);
int sluice__hm_snapshot_iterate(
	sluice_backend_snapshot *s,
	size_t state_index,
	int32_t key_group,
	sluice_backend_entry_fn fn,
	void *ctx);
void sluice__hm_snapshot_release(sluice_backend_snapshot *s);
/* hashmap.c: free retired objects no held snapshot can see (lock held) */
void sluice__hm_reclaim_locked(hm_backend *b);
void sluice__hm_page_free(hm_page *p, sluice_backend_shape shape, int deep);

#endif
