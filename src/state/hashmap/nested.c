/*
 * The user map of one (key, namespace) of a MAP state in the hashmap
 * backend: a small open-addressing table of items (hash, user key, value
 * in one allocation) with backward-shift deletion.  It has no versioning
 * of its own: the owning entry is copied (with a deep copy of this map)
 * before a write when a snapshot may still read it.
 */
#include <string.h>

#include "state/hashmap/hashmap.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"

#define MAP_MIN_SLOTS 8u

static uint32_t ukey_hash(sluice_slice k)
{
	return (uint32_t)sluice__xxh3(k.data, k.len);
}

/* An empty map with `slots` (a power of two) slots. */
static hm_map *map_alloc(uint32_t slots)
{
	hm_map *m = sluice__calloc(
		1, sizeof(*m) + (size_t)slots * sizeof(hm_item *));

	if (m)
		m->mask = slots - 1;
	return m;
}

int sluice__hm_map_new(hm_map **out)
{
	if (!(*out = map_alloc(MAP_MIN_SLOTS)))
		return sluice__error_oom();
	return 0;
}

void sluice__hm_map_free(hm_map *m)
{
	uint32_t i;

	if (!m)
		return;
	for (i = 0; i <= m->mask; i++)
		sluice__free(m->slots[i]);
	sluice__free(m);
}

int sluice__hm_map_dup(hm_map **out, const hm_map *m)
{
	hm_map *c = map_alloc(m->mask + 1);
	uint32_t i;

	*out = NULL;
	if (!c)
		return sluice__error_oom();
	c->count = m->count;
	for (i = 0; i <= m->mask; i++) {
		const hm_item *it = m->slots[i];

		if (it && !(c->slots[i] = sluice__memdup(
				    it, sizeof(*it) + it->klen + it->vlen)))
			goto oom;
	}
	*out = c;
	return 0;
oom:
	sluice__hm_map_free(c);
	return sluice__error_oom();
}

static size_t find_slot(const hm_map *m, sluice_slice k, uint32_t h)
{
	size_t i = h & m->mask;

	for (;; i = (i + 1) & m->mask) {
		const hm_item *it = m->slots[i];

		if (!it || (it->hash == h && it->klen == k.len &&
			    hm_bytes_eq(it->data, k.data, k.len)))
			return i;
	}
}

const hm_item *sluice__hm_map_find(const hm_map *m, sluice_slice ukey)
{
	return m->slots[find_slot(m, ukey, ukey_hash(ukey))];
}

/* Move the items into a map twice the size; *mp is replaced. */
static int grow(hm_map **mp)
{
	hm_map *m = *mp, *g = map_alloc((m->mask + 1) * 2);
	uint32_t i;

	if (!g)
		return sluice__error_oom();
	for (i = 0; i <= m->mask; i++) {
		hm_item *it = m->slots[i];
		size_t j;

		if (!it)
			continue;
		for (j = it->hash & g->mask; g->slots[j]; j = (j + 1) & g->mask)
			;
		g->slots[j] = it;
	}
	g->count = m->count;
	sluice__free(m);
	*mp = g;
	return 0;
}

int sluice__hm_map_put(hm_map **mp, sluice_slice ukey, sluice_slice value)
{
	uint32_t h = ukey_hash(ukey);
	size_t i;
	hm_item *it, *old;
	hm_map *m;

	if (((*mp)->count + 1) * 4 > ((*mp)->mask + 1) * 3)
		SLUICE_ERRCHECK(grow(mp));
	m = *mp;
	i = find_slot(m, ukey, h);
	old = m->slots[i];
	if (old && old->vlen == value.len) {
		if (value.len)
			memcpy(old->data + old->klen, value.data, value.len);
		return 0;
	}
	it = sluice__malloc(sizeof(*it) + ukey.len + value.len);
	if (!it)
		return sluice__error_oom();
	it->hash = h;
	it->klen = (uint32_t)ukey.len;
	it->vlen = (uint32_t)value.len;
	if (ukey.len)
		memcpy(it->data, ukey.data, ukey.len);
	if (value.len)
		memcpy(it->data + ukey.len, value.data, value.len);
	if (!old)
		m->count++;
	sluice__free(old);
	m->slots[i] = it;
	return 0;
}

int sluice__hm_map_remove(hm_map *m, sluice_slice ukey)
{
	size_t i = find_slot(m, ukey, ukey_hash(ukey)), j;

	if (!m->slots[i])
		return 0;
	sluice__free(m->slots[i]);
	m->slots[i] = NULL;
	m->count--;
	for (j = (i + 1) & m->mask; m->slots[j]; j = (j + 1) & m->mask) {
		size_t home = m->slots[j]->hash & m->mask;

		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			m->slots[j] = NULL;
			i = j;
		}
	}
	return 1;
}

size_t sluice__hm_map_memory(const hm_map *m)
{
	size_t n = sizeof(*m) + ((size_t)m->mask + 1) * sizeof(hm_item *);
	uint32_t i;

	for (i = 0; i <= m->mask; i++)
		if (m->slots[i])
			n += sizeof(hm_item) + m->slots[i]->klen +
			     m->slots[i]->vlen;
	return n;
}
