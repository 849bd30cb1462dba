/*
 * The `hashmap` keyed state backend: every state is an open-addressing
 * hash table of (key group, key, namespace) entries held in memory, with
 * copy-on-write versioning so a snapshot is O(pages) to take and can be
 * written by another thread while the task thread keeps writing (the idea
 * of Flink's CopyOnWriteStateMap, with paged slot arrays instead of one
 * bucket array so the synchronous copy stays tiny).
 *
 * Versioning: the backend has a version counter.  Taking a snapshot
 * records the current version v as held and bumps the counter; `required`
 * is the highest held version.  Pages and entries carry the version they
 * were created at; one with version <= required may be read by a
 * snapshot, so a writer copies it (new object at the current version),
 * swaps the copy in and retires the old one.  A retired object is freed
 * once every held snapshot is newer than its retirement (see reclaim).
 * Small FLAT entries live inline in their slot (hashmap.h) and so are
 * versioned with their page: writing one makes the page writable first.
 * Rehashing copies slots into fresh pages; out-of-line entries stay put.
 *
 * Hot paths: `hm_get` and `hm_put` first look for an inline 8-byte key of
 * the default namespace in the one cache line holding its home (two
 * slots) and only then run the general probe, so the common lookup is one
 * cache miss and a few dozen instructions.
 *
 * This file owns the tables and the backend methods; nested.c the user
 * maps of MAP states; snapshot.c the frozen views.
 */
#include <stdlib.h>
#include <string.h>

#include "state/hashmap/hashmap.h"
#include "util/alloc.h"
#include "util/error.h"

#if defined(__GNUC__)
#define SLUICE_HM_NOINLINE __attribute__((noinline))
#else
#define SLUICE_HM_NOINLINE
#endif

#define LOAD_NUM 3 /* grow beyond 3/4 full */
#define LOAD_DEN 4

static int visible(hm_backend *b, uint32_t version)
{
	return version <=
	       atomic_load_explicit(&b->required, memory_order_acquire);
}

static uint32_t tag_of(uint32_t hash)
{
	return hash ? hash : 1;
}

/*
 * Home slot of a tag: the first slot of a cache line (slots 2j, 2j+1 share
 * one), so that an entry displaced by one collision is still found in the
 * line the lookup already loaded.
 */
static inline size_t home_of(uint32_t tag, size_t mask)
{
	return tag & mask & ~(size_t)1;
}

static inline hm_slot *slot_at(const hm_table *t, size_t i)
{
	return &t->pages[i >> HM_PAGE_BITS]->s[i & (HM_PAGE_SLOTS - 1)];
}

static void entry_free(hm_entry *e, sluice_backend_shape shape)
{
	if (e && shape == SLUICE_SHAPE_MAP)
		sluice__hm_map_free(hm_entry_map(e));
	sluice__free(e);
}

/* A page, 64-byte aligned, copied from `from` or zeroed. */
static hm_page *page_new(const hm_page *from)
{
	void *raw = sluice__malloc(sizeof(hm_page) + 63);
	hm_page *p;

	if (!raw)
		return NULL;
	p = (hm_page *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
	if (from)
		memcpy(p, from, sizeof(*p));
	else
		memset(p, 0, sizeof(*p));
	p->raw = raw;
	return p;
}

static void page_release(hm_page *p)
{
	if (p)
		sluice__free(p->raw);
}

void sluice__hm_page_free(hm_page *p, sluice_backend_shape shape, int deep)
{
	size_t i;

	if (p && deep)
		for (i = 0; i < HM_PAGE_SLOTS; i++)
			if (p->s[i].tag && !p->s[i].inl)
				entry_free(p->s[i].u.e, shape);
	page_release(p);
}

static void retired_free(hm_retired *r)
{
	if (r->kind == HM_RET_PAGE)
		page_release(r->p);
	else
		entry_free(
			r->p, r->kind == HM_RET_MAP_ENTRY ? SLUICE_SHAPE_MAP
							  : SLUICE_SHAPE_FLAT);
}

void sluice__hm_reclaim_locked(hm_backend *b)
{
	uint32_t min = UINT32_MAX;
	size_t i, n = 0;

	for (i = 0; i < b->nheld; i++)
		if (b->held[i] < min)
			min = b->held[i];
	while (n < b->rlen && b->retired[n].tag <= min)
		retired_free(&b->retired[n++]);
	if (n) {
		memmove(b->retired, b->retired + n,
			(b->rlen - n) * sizeof(*b->retired));
		b->rlen -= n;
	}
}

static int reserve_locked(hm_backend *b, size_t n)
{
	size_t cap = b->rcap ? b->rcap : 64;
	hm_retired *r;

	while (cap - b->rlen < n)
		cap *= 2;
	if (cap == b->rcap)
		return 0;
	if (!(r = sluice__reallocarray(b->retired, cap, sizeof(*r))))
		return sluice__error_oom();
	b->retired = r;
	b->rcap = cap;
	return 0;
}

/*
 * Make room to retire `n` objects, so that an operation that has begun
 * to modify the table cannot fail half-way.  Free when no snapshot is held.
 */
static int reserve(hm_backend *b, size_t n)
{
	int rc;

	if (!atomic_load_explicit(&b->required, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&b->lock);
	rc = reserve_locked(b, n);
	pthread_mutex_unlock(&b->lock);
	return rc;
}

/* Hand an object a snapshot may read to the reclaimer. */
static int retire(hm_backend *b, void *p, int kind)
{
	int rc = 0;

	pthread_mutex_lock(&b->lock);
	if ((rc = reserve_locked(b, 1)) < 0)
		goto done;
	b->retired[b->rlen].p = p;
	b->retired[b->rlen].tag = b->version;
	b->retired[b->rlen].kind = kind;
	b->rlen++;
done:
	pthread_mutex_unlock(&b->lock);
	return rc;
}

/* Drop an out-of-line entry no longer referenced by the live table. */
static int entry_drop(hm_backend *b, hm_table *t, hm_entry *e)
{
	if (!visible(b, e->version)) {
		entry_free(e, t->shape);
		return 0;
	}
	return retire(
		b, e,
		t->shape == SLUICE_SHAPE_MAP ? HM_RET_MAP_ENTRY : HM_RET_ENTRY);
}

/* Drop what a slot removed from the live table owned (inline: nothing). */
static int slot_drop(hm_backend *b, hm_table *t, const hm_slot *old)
{
	return old->tag && !old->inl ? entry_drop(b, t, old->u.e) : 0;
}

/* Make page `pi` writable: copy it if a snapshot may read it. */
static int page_writable(hm_backend *b, hm_table *t, size_t pi)
{
	hm_page *old = t->pages[pi], *p;

	if (!visible(b, old->version))
		return 0;
	if (!(p = page_new(old)))
		return sluice__error_oom();
	p->version = b->version;
	if (retire(b, old, HM_RET_PAGE) < 0) {
		page_release(p);
		return SLUICE_ENOMEM;
	}
	t->pages[pi] = p;
	return 0;
}

/* The writable slot i (its page copied first when a snapshot reads it). */
static int slot_writable(hm_backend *b, hm_table *t, size_t i, hm_slot **out)
{
	SLUICE_ERRCHECK(page_writable(b, t, i >> HM_PAGE_BITS));
	*out = slot_at(t, i);
	return 0;
}

/* Store a copy of `src` (NULL: empty) in slot i. */
static int slot_store(hm_backend *b, hm_table *t, size_t i, const hm_slot *src)
{
	hm_slot copy, *s;

	if (src)
		copy = *src;
	else
		memset(&copy, 0, sizeof(copy));
	SLUICE_ERRCHECK(slot_writable(b, t, i, &s));
	*s = copy;
	return 0;
}

static int pages_alloc(hm_backend *b, hm_page ***out, size_t npages)
{
	hm_page **pages = sluice__calloc(npages, sizeof(*pages));
	size_t i;

	if (!pages)
		return sluice__error_oom();
	for (i = 0; i < npages; i++) {
		if (!(pages[i] = page_new(NULL))) {
			while (i--)
				page_release(pages[i]);
			sluice__free(pages);
			return sluice__error_oom();
		}
		pages[i]->version = b->version;
	}
	*out = pages;
	return 0;
}

static int match_entry(const hm_entry *e, const sluice_state_key *k)
{
	return e->key_len == k->key.len && e->ns_len == k->ns.len &&
	       hm_bytes_eq(e->data, k->key.data, k->key.len) &&
	       hm_bytes_eq(e->data + e->key_len, k->ns.data, k->ns.len);
}

static inline int match(const hm_slot *s, const sluice_state_key *k)
{
	if (__builtin_expect(!s->inl, 0))
		return match_entry(s->u.e, k);
	if (s->klen != k->key.len || s->nlen != k->ns.len)
		return 0;
	if (k->key.len == 8 && !k->ns.len) { /* the common case: one load */
		uint64_t a, b;

		__builtin_memcpy(&a, s->u.i.d, 8);
		__builtin_memcpy(&b, k->key.data, 8);
		return a == b;
	}
	return hm_bytes_eq(s->u.i.d, k->key.data, k->key.len) &&
	       hm_bytes_eq(s->u.i.d + s->klen, k->ns.data, k->ns.len);
}

/* Slot holding k, or the empty slot that ends its probe sequence. */
static inline __attribute__((always_inline)) size_t
find(const hm_table *t, const sluice_state_key *k)
{
	uint32_t tag = tag_of(k->hash);
	size_t i = home_of(tag, t->mask);

	for (;; i = (i + 1) & t->mask) {
		const hm_slot *s = slot_at(t, i);

		if (!s->tag || (s->tag == tag && match(s, k)))
			return i;
	}
}

/* The out-of-line entry of k (MAP states), or NULL. */
static hm_entry *lookup_entry(const hm_table *t, const sluice_state_key *k)
{
	const hm_slot *s = slot_at(t, find(t, k));

	return s->tag ? s->u.e : NULL;
}

static int rehash(hm_backend *b, hm_table *t)
{
	size_t npages = t->npages * 2, mask = npages * HM_PAGE_SLOTS - 1, i;
	hm_page **pages = NULL, **old = t->pages;
	SLUICE_ERRCHECK(reserve(b, t->npages));
	SLUICE_ERRCHECK(pages_alloc(b, &pages, npages));
	for (i = 0; i <= t->mask; i++) {
		const hm_slot *s = slot_at(t, i);
		size_t j;

		if (!s->tag)
			continue;
		for (j = home_of(s->tag, mask);
		     pages[j >> HM_PAGE_BITS]->s[j & (HM_PAGE_SLOTS - 1)].tag;
		     j = (j + 1) & mask)
			;
		pages[j >> HM_PAGE_BITS]->s[j & (HM_PAGE_SLOTS - 1)] = *s;
	}
	for (i = 0; i < t->npages; i++) {
		if (!visible(b, old[i]->version))
			page_release(old[i]);
		else
			retire(b, old[i], HM_RET_PAGE); /* reserved: no fail */
	}
	sluice__free(old);
	t->pages = pages;
	t->npages = npages;
	t->mask = mask;
	t->cursor = 0;
	return 0;
}

static hm_entry *entry_new(
	hm_backend *b,
	const sluice_state_key *k,
	const void *val,
	size_t vlen,
	size_t vcap)
{
	hm_entry *e =
		sluice__malloc(sizeof(*e) + k->key.len + k->ns.len + vcap);

	if (!e)
		return NULL;
	e->version = b->version;
	e->hash = tag_of(k->hash);
	e->kg = k->key_group;
	e->key_len = (uint32_t)k->key.len;
	e->ns_len = (uint32_t)k->ns.len;
	e->val_len = (uint32_t)vlen;
	e->val_cap = (uint32_t)vcap;
	if (k->key.len)
		memcpy(e->data, k->key.data, k->key.len);
	if (k->ns.len)
		memcpy(e->data + k->key.len, k->ns.data, k->ns.len);
	if (vlen)
		memcpy(e->data + k->key.len + k->ns.len, val, vlen);
	return e;
}

/* Whether k with a FLAT value of vlen bytes is stored in its slot. */
static int fits_inline(const sluice_state_key *k, size_t vlen)
{
	return k->key.len + k->ns.len + vlen <= HM_INLINE &&
	       k->key_group >= 0 && k->key_group <= 0xffff;
}

/* An inline slot for k holding value bytes `v` (fits_inline). */
static void slot_inline(hm_slot *s, const sluice_state_key *k, sluice_slice v)
{
	memset(s, 0, sizeof(*s));
	s->tag = tag_of(k->hash);
	s->inl = 1;
	s->klen = (uint8_t)k->key.len;
	s->nlen = (uint8_t)k->ns.len;
	s->vlen = (uint8_t)v.len;
	s->u.i.kg = (uint16_t)k->key_group;
	if (k->key.len)
		memcpy(s->u.i.d, k->key.data, k->key.len);
	if (k->ns.len)
		memcpy(s->u.i.d + k->key.len, k->ns.data, k->ns.len);
	if (v.len)
		memcpy(s->u.i.d + k->key.len + k->ns.len, v.data, v.len);
}

static void slot_ref(hm_slot *s, hm_entry *e)
{
	memset(s, 0, sizeof(*s));
	s->tag = e->hash;
	s->u.e = e;
}

/* Whether the slot of MAP entry k keeps its key and map (hm_slot.u.m). */
static inline int map_cacheable(const sluice_state_key *k)
{
	return k->key.len == 8 && !k->ns.len;
}

/* slot_ref for a MAP entry, with the slot's copy of key and map. */
static void slot_ref_map(hm_slot *s, hm_entry *e, const sluice_state_key *k)
{
	slot_ref(s, e);
	if (!map_cacheable(k))
		return;
	s->klen = 8;
	s->u.m.map = hm_entry_map(e);
	memcpy(s->u.m.key, k->key.data, 8);
}

/*
 * The user map of MAP entry k from its home line's slot copy (either slot
 * of the line), or NULL when k is not there (absent, not cacheable, or
 * displaced: the caller then takes the general path).
 */
static inline hm_map *home_map(const hm_table *t, const sluice_state_key *k)
{
	uint32_t tag = tag_of(k->hash);
	const hm_slot *s = slot_at(t, home_of(tag, t->mask));
	uint64_t a, b;

	if (!map_cacheable(k))
		return NULL;
	if (s->tag != tag) {
		s++;
		if (s->tag != tag)
			return NULL;
	}
	if (s->inl || s->klen != 8)
		return NULL;
	__builtin_memcpy(&a, s->u.m.key, 8);
	__builtin_memcpy(&b, k->key.data, 8);
	return a == b ? s->u.m.map : NULL;
}

/*
 * Insert slot `src` for k (absent) at the end of k's probe sequence,
 * growing first.  Nothing is stored on failure.
 */
static int
insert(hm_backend *b,
       hm_table *t,
       const sluice_state_key *k,
       const hm_slot *src)
{
	if ((t->count + 1) * LOAD_DEN > (t->mask + 1) * LOAD_NUM)
		SLUICE_ERRCHECK(rehash(b, t));
	SLUICE_ERRCHECK(slot_store(b, t, find(t, k), src));
	t->count++;
	return 0;
}

/* Replace slot i by `src` and drop what the old one owned.  The caller
 * reserved room to retire (so only the page copy can fail, before the
 * store). */
static int replace(hm_backend *b, hm_table *t, size_t i, const hm_slot *src)
{
	hm_slot old = *slot_at(t, i);

	SLUICE_ERRCHECK(slot_store(b, t, i, src));
	return slot_drop(b, t, &old);
}

/* Store `src` for k: replacing slot i when used, else inserting. */
static int
place(hm_backend *b,
      hm_table *t,
      const sluice_state_key *k,
      size_t i,
      const hm_slot *src)
{
	if (slot_at(t, i)->tag)
		return replace(b, t, i, src);
	return insert(b, t, k, src);
}

/*
 * The inline slot of an 8-byte key in the default namespace when it is in
 * its home line (either slot) and holds that key, else NULL (the get/put
 * fast paths; a tag match with another key falls back to the probe).
 */
static inline hm_slot *home_inline(const hm_table *t, const sluice_state_key *k)
{
	uint32_t tag = tag_of(k->hash);
	hm_slot *s = slot_at(t, home_of(tag, t->mask));
	uint64_t a, b;

	if (k->key.len != 8 || k->ns.len)
		return NULL;
	__builtin_memcpy(&b, k->key.data, 8);
	if (s->tag != tag) {
		s++; /* the other slot of the line */
		if (s->tag != tag)
			return NULL;
	}
	if (!s->inl || s->klen != 8 || s->nlen)
		return NULL;
	__builtin_memcpy(&a, s->u.i.d, 8);
	return a == b ? s : NULL;
}

static SLUICE_HM_NOINLINE int
get_probe(const hm_table *t, const sluice_state_key *k, sluice_slice *out)
{
	const hm_slot *s = slot_at(t, find(t, k));

	if (!s->tag)
		return SLUICE_ENOTFOUND;
	*out = hm_slot_val(s);
	return 0;
}

/*
 * The hot lookup: an 8-byte key in the default (empty) namespace stored
 * inline in its home slot is answered from that one cache line with a few
 * instructions (so consecutive lookups overlap their misses); anything
 * else takes the general probe.
 */
static int
hm_get(sluice_backend *bb,
       sluice_backend_state *st,
       const sluice_state_key *k,
       sluice_slice *out)
{
	const hm_table *t = (const hm_table *)st;
	const hm_slot *s = home_inline(t, k);

	(void)bb;
	if (!s)
		return get_probe(t, k, out);
	*out = SLUICE_SLICE(s->u.i.d + 8, s->vlen);
	return 0;
}

/* Store a new FLAT value (val, vlen bytes, room for cap) for k at slot i. */
static int
put_new(hm_backend *b,
	hm_table *t,
	const sluice_state_key *k,
	size_t i,
	sluice_slice val,
	size_t cap)
{
	hm_slot ns;
	hm_entry *n = NULL;

	SLUICE_ERRCHECK(reserve(b, 4));
	if (cap == val.len && fits_inline(k, val.len)) {
		slot_inline(&ns, k, val);
	} else {
		if (!(n = entry_new(b, k, val.data, val.len, cap)))
			return sluice__error_oom();
		slot_ref(&ns, n);
	}
	if (place(b, t, k, i, &ns) < 0) {
		const hm_slot *s = slot_at(t, find(t, k));

		if (n && !(s->tag && !s->inl && s->u.e == n))
			sluice__free(n);
		return SLUICE_ENOMEM;
	}
	return 0;
}

static SLUICE_HM_NOINLINE int
put_probe(hm_backend *b, hm_table *t, const sluice_state_key *k, sluice_slice v)
{
	size_t i = find(t, k);
	hm_slot *s = slot_at(t, i);

	if (s->tag && s->inl && fits_inline(k, v.len)) {
		SLUICE_ERRCHECK(slot_writable(b, t, i, &s));
		if (v.len)
			memcpy(s->u.i.d + s->klen + s->nlen, v.data, v.len);
		s->vlen = (uint8_t)v.len;
		return 0;
	}
	if (s->tag && !s->inl && !visible(b, s->u.e->version) &&
	    s->u.e->val_cap >= v.len) {
		if (v.len)
			memcpy(hm_entry_val(s->u.e), v.data, v.len);
		s->u.e->val_len = (uint32_t)v.len;
		return 0;
	}
	return put_new(b, t, k, i, v, v.len);
}

/* Overwrite the value of an inline home slot in place when its page is
 * not visible to a snapshot (no copy needed); else the general path. */
static int
hm_put(sluice_backend *bb,
       sluice_backend_state *st,
       const sluice_state_key *k,
       sluice_slice v)
{
	hm_backend *b = (hm_backend *)bb;
	hm_table *t = (hm_table *)st;
	hm_slot *s = home_inline(t, k);

	if (!s || v.len > HM_INLINE - 8 ||
	    visible(b,
		    t->pages[home_of(tag_of(k->hash), t->mask) >> HM_PAGE_BITS]
			    ->version))
		return put_probe(b, t, k, v);
	if (v.len == 8)
		__builtin_memcpy(s->u.i.d + 8, v.data, 8);
	else if (v.len)
		memcpy(s->u.i.d + 8, v.data, v.len);
	s->vlen = (uint8_t)v.len;
	return 0;
}

static int hm_merge(
	sluice_backend *bb,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice v)
{
	hm_backend *b = (hm_backend *)bb;
	hm_table *t = (hm_table *)st;
	size_t i = find(t, k), cap;
	hm_slot *s = slot_at(t, i);
	sluice_slice cur;

	if (!s->tag)
		return hm_put(bb, st, k, v);
	cur = hm_slot_val(s);
	if (s->inl && fits_inline(k, cur.len + v.len)) {
		SLUICE_ERRCHECK(slot_writable(b, t, i, &s));
		memcpy(s->u.i.d + s->klen + s->nlen + s->vlen, v.data, v.len);
		s->vlen = (uint8_t)(s->vlen + v.len);
		return 0;
	}
	if (!s->inl && !visible(b, s->u.e->version) &&
	    s->u.e->val_cap - s->u.e->val_len >= v.len) {
		memcpy(hm_entry_val(s->u.e) + s->u.e->val_len, v.data, v.len);
		s->u.e->val_len += (uint32_t)v.len;
		return 0;
	}
	cap = cur.len + v.len;
	cap += cap / 2;
	if (cap > UINT32_MAX)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"value of state '%s' exceeds 4 GiB", t->name);
	SLUICE_ERRCHECK(put_new(b, t, k, i, cur, cap));
	s = slot_at(t, find(t, k)); /* now out-of-line with room for v */
	memcpy(hm_entry_val(s->u.e) + s->u.e->val_len, v.data, v.len);
	s->u.e->val_len += (uint32_t)v.len;
	return 0;
}

/* Remove slot i, shifting later entries of the cluster back. */
static int remove_at(hm_backend *b, hm_table *t, size_t i)
{
	hm_slot old = *slot_at(t, i);
	size_t j;

	SLUICE_ERRCHECK(reserve(b, 8));
	SLUICE_ERRCHECK(slot_store(b, t, i, NULL));
	t->count--;
	for (j = (i + 1) & t->mask; slot_at(t, j)->tag; j = (j + 1) & t->mask) {
		const hm_slot *s = slot_at(t, j);
		size_t home = home_of(s->tag, t->mask);

		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			SLUICE_ERRCHECK(slot_store(b, t, i, s));
			SLUICE_ERRCHECK(slot_store(b, t, j, NULL));
			i = j;
		}
	}
	return slot_drop(b, t, &old);
}

static int hm_remove(
	sluice_backend *bb, sluice_backend_state *st, const sluice_state_key *k)
{
	hm_table *t = (hm_table *)st;
	size_t i = find(t, k);

	if (!slot_at(t, i)->tag)
		return 0;
	return remove_at((hm_backend *)bb, t, i);
}

static int hm_map_get(
	sluice_backend *bb,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice ukey,
	sluice_slice *out)
{
	const hm_table *t = (const hm_table *)st;
	hm_map *m = home_map(t, k);
	hm_entry *e;
	const hm_item *it;

	(void)bb;
	if (!m && (e = lookup_entry(t, k)) != NULL)
		m = hm_entry_map(e);
	if (!m || !(it = sluice__hm_map_find(m, ukey)))
		return SLUICE_ENOTFOUND;
	*out = SLUICE_SLICE(it->data + it->klen, it->vlen);
	return 0;
}

/* The MAP entry of k made writable (copied if visible), created if asked
 * (NULL when absent and not created). */
static int map_entry(
	hm_backend *b,
	hm_table *t,
	const sluice_state_key *k,
	int create,
	hm_entry **out)
{
	size_t i = find(t, k);
	hm_entry *e = slot_at(t, i)->tag ? slot_at(t, i)->u.e : NULL, *n;
	hm_map *m = NULL;
	hm_slot ns;
	int rc;

	*out = NULL;
	if (e && !visible(b, e->version)) {
		*out = e;
		return 0;
	}
	if (!e && !create)
		return 0;
	SLUICE_ERRCHECK(reserve(b, 4));
	rc = e ? sluice__hm_map_dup(&m, hm_entry_map(e))
	       : sluice__hm_map_new(&m);
	if (rc < 0)
		return rc;
	if (!(n = entry_new(b, k, &m, sizeof(m), sizeof(m)))) {
		sluice__hm_map_free(m);
		return sluice__error_oom();
	}
	slot_ref_map(&ns, n, k);
	if ((rc = place(b, t, k, i, &ns)) < 0) {
		if (lookup_entry(t, k) != n)
			entry_free(n, SLUICE_SHAPE_MAP);
		return rc;
	}
	*out = n;
	return 0;
}

/* Store the (possibly moved, see sluice__hm_map_put) map of entry e. */
static void entry_set_map(hm_entry *e, hm_map *m)
{
	__builtin_memcpy(hm_entry_val(e), &m, sizeof(m));
}

static int hm_map_put(
	sluice_backend *bb,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice ukey,
	sluice_slice v)
{
	hm_backend *b = (hm_backend *)bb;
	hm_table *t = (hm_table *)st;
	hm_entry *e;
	hm_slot *s = NULL;
	hm_map *m;
	int rc;

	SLUICE_ERRCHECK(map_entry(b, t, k, 1, &e));
	m = hm_entry_map(e);
	/* the map moves when it grows: make the slot holding its copy
	 * writable first, so that updating it cannot fail afterwards */
	if (map_cacheable(k) && (m->count + 1) * 4 > (m->mask + 1) * 3)
		SLUICE_ERRCHECK(slot_writable(b, t, find(t, k), &s));
	rc = sluice__hm_map_put(&m, ukey, v);
	entry_set_map(e, m);
	if (s)
		s->u.m.map = m;
	return rc;
}

static int hm_map_remove(
	sluice_backend *bb,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice ukey)
{
	hm_table *t = (hm_table *)st;
	hm_entry *e = lookup_entry(t, k);

	if (!e || !sluice__hm_map_find(hm_entry_map(e), ukey))
		return 0;
	if (hm_entry_map(e)->count == 1)
		return hm_remove(bb, st, k);
	SLUICE_ERRCHECK(map_entry((hm_backend *)bb, t, k, 0, &e));
	sluice__hm_map_remove(hm_entry_map(e), ukey);
	return 0;
}

static int emit_map(
	sluice_backend_entry *be,
	const hm_map *m,
	sluice_backend_entry_fn fn,
	void *ctx)
{
	uint32_t i;
	int rc;

	for (i = 0; i <= m->mask; i++) {
		const hm_item *it = m->slots[i];

		if (!it)
			continue;
		be->ukey = SLUICE_SLICE(it->data, it->klen);
		be->value = SLUICE_SLICE(it->data + it->klen, it->vlen);
		if ((rc = fn(ctx, be)) != 0)
			return rc;
	}
	return 0;
}

int sluice__hm_emit_slot(
	const hm_slot *s,
	sluice_backend_shape shape,
	sluice_backend_entry_fn fn,
	void *ctx)
{
	sluice_backend_entry be = {
		hm_slot_kg(s), hm_slot_key(s), hm_slot_ns(s),
		SLUICE_SLICE(NULL, 0), SLUICE_SLICE(NULL, 0)};

	if (shape == SLUICE_SHAPE_FLAT) {
		be.value = hm_slot_val(s);
		return fn(ctx, &be);
	}
	return emit_map(&be, hm_entry_map(s->u.e), fn, ctx);
}

static int hm_map_iterate(
	sluice_backend *bb,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_backend_entry_fn fn,
	void *ctx)
{
	const hm_table *t = (const hm_table *)st;
	const hm_slot *s = slot_at(t, find(t, k));
	int rc;

	(void)bb;
	if (!s->tag)
		return 0;
	rc = sluice__hm_emit_slot(s, SLUICE_SHAPE_MAP, fn, ctx);
	return rc > 0 ? 0 : rc;
}

static int hm_iterate(
	sluice_backend *bb,
	sluice_backend_state *st,
	const sluice_slice *ns,
	sluice_backend_entry_fn fn,
	void *ctx)
{
	hm_table *t = (hm_table *)st;
	size_t i;
	int rc;

	(void)bb;
	for (i = 0; i <= t->mask; i++) {
		const hm_slot *s = slot_at(t, i);
		sluice_slice sn;

		if (!s->tag)
			continue;
		sn = hm_slot_ns(s);
		if (ns && (sn.len != ns->len ||
			   !hm_bytes_eq(sn.data, ns->data, ns->len)))
			continue;
		if ((rc = sluice__hm_emit_slot(s, t->shape, fn, ctx)) != 0)
			return rc > 0 ? 0 : rc;
	}
	return 0;
}

/* The address of the entry in used slot s (hash: its tag). */
static sluice_state_key slot_key(const hm_slot *s)
{
	sluice_state_key k;

	k.key_group = hm_slot_kg(s);
	k.hash = s->tag;
	k.key = hm_slot_key(s);
	k.ns = hm_slot_ns(s);
	return k;
}

/* Apply the TTL filter to one MAP entry's user values. */
static int cleanup_map(
	hm_backend *b,
	hm_table *t,
	size_t i,
	sluice_backend_filter_fn filter,
	void *ctx,
	int *removed)
{
	hm_map *m = hm_entry_map(slot_at(t, i)->u.e);
	hm_entry *e;
	sluice_state_key k = slot_key(slot_at(t, i));
	sluice_slice rep;
	uint32_t s, drops = 0;

	*removed = 0;
	for (s = 0; s <= m->mask; s++)
		if (m->slots[s] &&
		    filter(ctx,
			   SLUICE_SLICE(
				   m->slots[s]->data + m->slots[s]->klen,
				   m->slots[s]->vlen),
			   &rep) == SLUICE_FILTER_DROP)
			drops++;
	if (!drops)
		return 0;
	if (drops == m->count) {
		*removed = 1;
		return remove_at(b, t, i);
	}
	SLUICE_ERRCHECK(map_entry(b, t, &k, 0, &e));
	m = hm_entry_map(e);
	for (s = 0; s <= m->mask;) {
		hm_item *it = m->slots[s];

		if (it &&
		    filter(ctx, SLUICE_SLICE(it->data + it->klen, it->vlen),
			   &rep) == SLUICE_FILTER_DROP)
			sluice__hm_map_remove(
				m, SLUICE_SLICE(it->data, it->klen));
		else
			s++; /* a removal may shift a later item into s */
	}
	return 0;
}

static int cleanup_flat(
	hm_backend *b,
	hm_table *t,
	size_t i,
	sluice_backend_filter_fn filter,
	void *ctx,
	int *removed)
{
	const hm_slot *s = slot_at(t, i);
	sluice_slice rep = {NULL, 0};
	sluice_state_key k = slot_key(s);
	int verdict = filter(ctx, hm_slot_val(s), &rep);

	*removed = 0;
	if (verdict == SLUICE_FILTER_DROP) {
		*removed = 1;
		return remove_at(b, t, i);
	}
	if (verdict == SLUICE_FILTER_REPLACE)
		return hm_put(&b->base, (sluice_backend_state *)t, &k, rep);
	return 0;
}

static int hm_cleanup_step(
	sluice_backend *bb,
	sluice_backend_state *st,
	size_t n,
	sluice_backend_filter_fn filter,
	void *ctx)
{
	hm_backend *b = (hm_backend *)bb;
	hm_table *t = (hm_table *)st;
	size_t scanned = 0;
	int removed, rc;

	while (n && t->count && scanned <= t->mask) {
		size_t i = t->cursor & t->mask;

		if (!slot_at(t, i)->tag) {
			t->cursor = (i + 1) & t->mask;
			scanned++;
			continue;
		}
		rc = t->shape == SLUICE_SHAPE_MAP
			     ? cleanup_map(b, t, i, filter, ctx, &removed)
			     : cleanup_flat(b, t, i, filter, ctx, &removed);
		if (rc < 0)
			return rc;
		n--;
		if (!removed) { /* else a shifted entry now sits in i */
			t->cursor = (i + 1) & t->mask;
			scanned++;
		}
	}
	return 0;
}

static void table_free(hm_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; t->pages && i < t->npages; i++)
		sluice__hm_page_free(t->pages[i], t->shape, 1);
	sluice__free(t->pages);
	sluice__free(t->name);
	sluice__free(t);
}

static int hm_register(
	sluice_backend *bb,
	const char *name,
	sluice_backend_shape shape,
	sluice_backend_state **out)
{
	hm_backend *b = (hm_backend *)bb;
	hm_table *t;
	size_t i;

	for (i = 0; i < b->ntables; i++) {
		if (strcmp(b->tables[i]->name, name))
			continue;
		if (b->tables[i]->shape != shape)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
				"state '%s' exists with another shape", name);
		*out = (sluice_backend_state *)b->tables[i];
		return 0;
	}
	if (b->ntables == b->tcap) {
		size_t cap = b->tcap ? b->tcap * 2 : 8;
		hm_table **tables =
			sluice__reallocarray(b->tables, cap, sizeof(*tables));

		if (!tables)
			return sluice__error_oom();
		b->tables = tables;
		b->tcap = cap;
	}
	if (!(t = sluice__calloc(1, sizeof(*t))) ||
	    !(t->name = sluice__strdup(name)) ||
	    pages_alloc(b, &t->pages, 1) < 0) {
		table_free(t);
		return sluice__error_oom();
	}
	t->npages = 1;
	t->mask = HM_PAGE_SLOTS - 1;
	t->shape = shape;
	b->tables[b->ntables++] = t;
	*out = (sluice_backend_state *)t;
	return 0;
}

static size_t hm_count(sluice_backend *bb, sluice_backend_state *st)
{
	(void)bb;
	return ((hm_table *)st)->count;
}

static size_t hm_memory(sluice_backend *bb)
{
	hm_backend *b = (hm_backend *)bb;
	size_t n = sizeof(*b), i, j;

	for (i = 0; i < b->ntables; i++) {
		hm_table *t = b->tables[i];

		n += sizeof(*t) +
		     t->npages * (sizeof(hm_page) + 63 + sizeof(void *));
		for (j = 0; j <= t->mask; j++) {
			const hm_slot *s = slot_at(t, j);
			const hm_entry *e = s->u.e;

			if (!s->tag || s->inl)
				continue;
			n += sizeof(*e) + e->key_len + e->ns_len + e->val_cap;
			if (t->shape == SLUICE_SHAPE_MAP)
				n += sluice__hm_map_memory(hm_entry_map(e));
		}
	}
	return n;
}

static void hm_free(sluice_backend *bb)
{
	hm_backend *b = (hm_backend *)bb;
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->rlen; i++)
		retired_free(&b->retired[i]);
	for (i = 0; i < b->ntables; i++)
		table_free(b->tables[i]);
	sluice__free(b->retired);
	sluice__free(b->held);
	sluice__free(b->tables);
	pthread_mutex_destroy(&b->lock);
	sluice__free(b);
}

int sluice_backend_hashmap_new(sluice_backend **out, void *ctx)
{
	hm_backend *b = sluice__calloc(1, sizeof(*b));

	(void)ctx;
	*out = NULL;
	if (!b)
		return sluice__error_oom();
	if (pthread_mutex_init(&b->lock, NULL)) {
		sluice__free(b);
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_OS,
			"hashmap backend: mutex init failed");
	}
	b->version = 1;
	atomic_init(&b->required, 0);
	b->base.version = SLUICE_BACKEND_VERSION;
	b->base.name = "hashmap";
	b->base.register_state = hm_register;
	b->base.get = hm_get;
	b->base.put = hm_put;
	b->base.merge = hm_merge;
	b->base.remove = hm_remove;
	b->base.map_get = hm_map_get;
	b->base.map_put = hm_map_put;
	b->base.map_remove = hm_map_remove;
	b->base.map_iterate = hm_map_iterate;
	b->base.iterate = hm_iterate;
	b->base.cleanup_step = hm_cleanup_step;
	b->base.snapshot_sync = sluice__hm_snapshot_sync;
	b->base.snapshot_iterate = sluice__hm_snapshot_iterate;
	b->base.snapshot_release = sluice__hm_snapshot_release;
	b->base.count = hm_count;
	b->base.memory = hm_memory;
	b->base.free = hm_free;
	*out = &b->base;
	return 0;
}
