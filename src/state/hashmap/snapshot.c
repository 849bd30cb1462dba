/*
 * Snapshots of the hashmap backend.  The synchronous part records the
 * current version as held, bumps the version and copies each table's page
 * pointer array (a few KiB at a million keys): from then on the task
 * thread copies any page or entry at or below that version before writing
 * it, so the pages and entries the view points at never change.
 *
 * The asynchronous part (any one thread) reads the view: on first use of
 * a state it collects the view's entries and sorts them by (key group,
 * key, namespace), then serves them a key group at a time.  Releasing
 * removes the held version and frees retired objects nobody can see.
 */
#include <stdlib.h>
#include <string.h>

#include "state/hashmap/hashmap.h"
#include "util/alloc.h"
#include "util/error.h"

/* Sort record: key group and the first 8 key bytes decide most orderings
 * without touching the entry. */
typedef struct sort_rec {
	int32_t kg;
	uint64_t pfx;
	const hm_slot *s; /* in a page the view holds: never modified */
} sort_rec;

typedef struct hm_view {
	hm_page **pages;
	size_t npages;
	size_t count;
	sluice_backend_shape shape;
	sort_rec *sorted; /* built on first iterate */
} hm_view;

typedef struct hm_snapshot {
	hm_backend *b;
	uint32_t version;
	size_t nviews;
	hm_view *views;
} hm_snapshot;

static void snapshot_free(hm_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nviews; i++) {
		sluice__free(s->views[i].pages);
		sluice__free(s->views[i].sorted);
	}
	sluice__free(s->views);
	sluice__free(s);
}

static int hold(hm_backend *b, uint32_t version)
{
	int rc = 0;

	pthread_mutex_lock(&b->lock);
	if (b->nheld == b->heldcap) {
		size_t cap = b->heldcap ? b->heldcap * 2 : 4;
		uint32_t *h = sluice__reallocarray(b->held, cap, sizeof(*h));

		if (!h) {
			rc = sluice__error_oom();
			goto done;
		}
		b->held = h;
		b->heldcap = cap;
	}
	b->held[b->nheld++] = version;
	atomic_store_explicit(&b->required, version, memory_order_release);
done:
	pthread_mutex_unlock(&b->lock);
	return rc;
}

int sluice__hm_snapshot_sync(sluice_backend *bb, sluice_backend_snapshot **out)
{
	hm_backend *b = (hm_backend *)bb;
	hm_snapshot *s = sluice__calloc(1, sizeof(*s));
	size_t i;

	*out = NULL;
	if (!s || (b->ntables &&
		   !(s->views = sluice__calloc(b->ntables, sizeof(hm_view)))))
		goto oom;
	s->b = b;
	s->version = b->version;
	s->nviews = b->ntables;
	for (i = 0; i < b->ntables; i++) {
		hm_table *t = b->tables[i];
		hm_view *v = &s->views[i];

		v->pages =
			sluice__memdup(t->pages, t->npages * sizeof(hm_page *));
		if (!v->pages)
			goto oom;
		v->npages = t->npages;
		v->count = t->count;
		v->shape = t->shape;
	}
	if (hold(b, s->version) < 0)
		goto fail;
	b->version++;
	*out = (sluice_backend_snapshot *)s;
	return 0;
oom:
	sluice__error_oom();
fail:
	if (s)
		snapshot_free(s);
	return SLUICE_ENOMEM;
}

/* Order of (key group, key, namespace): shorter first on a common prefix. */
static int slot_cmp(const hm_slot *a, const hm_slot *b)
{
	sluice_slice ka = hm_slot_key(a), kb = hm_slot_key(b);
	sluice_slice na = hm_slot_ns(a), nb = hm_slot_ns(b);
	int c;

	if (hm_slot_kg(a) != hm_slot_kg(b))
		return hm_slot_kg(a) < hm_slot_kg(b) ? -1 : 1;
	if (ka.len != kb.len) {
		size_t n = ka.len < kb.len ? ka.len : kb.len;

		if ((c = hm_bytes_cmp(ka.data, kb.data, n)))
			return c;
		return ka.len < kb.len ? -1 : 1;
	}
	if ((c = hm_bytes_cmp(ka.data, kb.data, ka.len)))
		return c;
	c = hm_bytes_cmp(na.data, nb.data, na.len < nb.len ? na.len : nb.len);
	if (c)
		return c;
	return na.len < nb.len ? -1 : na.len > nb.len;
}

static int rec_cmp(const void *pa, const void *pb)
{
	const sort_rec *a = pa, *b = pb;

	if (a->kg != b->kg)
		return a->kg < b->kg ? -1 : 1;
	if (a->pfx != b->pfx)
		return a->pfx < b->pfx ? -1 : 1;
	return slot_cmp(a->s, b->s);
}

static uint64_t prefix_of(const hm_slot *s)
{
	sluice_slice k = hm_slot_key(s);
	uint8_t b[8] = {0};
	uint64_t v;

	if (k.len)
		memcpy(b, k.data, k.len < 8 ? k.len : 8);
	memcpy(&v, b, 8);
	return __builtin_bswap64(v);
}

static int build(hm_view *v)
{
	size_t n = 0, i, j;
	sort_rec *recs;

	if (!(recs = sluice__malloc((v->count ? v->count : 1) * sizeof(*recs))))
		return sluice__error_oom();
	for (i = 0; i < v->npages; i++)
		for (j = 0; j < HM_PAGE_SLOTS; j++) {
			const hm_slot *s = &v->pages[i]->s[j];

			if (s->tag && n < v->count) {
				recs[n].kg = hm_slot_kg(s);
				recs[n].pfx = prefix_of(s);
				recs[n++].s = s;
			}
		}
	v->count = n;
	qsort(recs, n, sizeof(*recs), rec_cmp);
	v->sorted = recs;
	return 0;
}

int sluice__hm_snapshot_iterate(
	sluice_backend_snapshot *ss,
	size_t state_index,
	int32_t key_group,
	sluice_backend_entry_fn fn,
	void *ctx)
{
	hm_snapshot *s = (hm_snapshot *)ss;
	hm_view *v;
	size_t lo = 0, hi;
	int rc;

	if (state_index >= s->nviews)
		return 0;
	v = &s->views[state_index];
	if (!v->sorted)
		SLUICE_ERRCHECK(build(v));
	hi = v->count;
	while (lo < hi) { /* first entry with kg >= key_group */
		size_t mid = lo + (hi - lo) / 2;

		if (v->sorted[mid].kg < key_group)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < v->count && v->sorted[lo].kg == key_group; lo++) {
		const hm_slot *sl = v->sorted[lo].s;

		if (lo + 8 < v->count && !v->sorted[lo + 8].s->inl)
			__builtin_prefetch(v->sorted[lo + 8].s->u.e);
		if ((rc = sluice__hm_emit_slot(sl, v->shape, fn, ctx)) != 0)
			return rc > 0 ? 0 : rc;
	}
	return 0;
}

void sluice__hm_snapshot_release(sluice_backend_snapshot *ss)
{
	hm_snapshot *s = (hm_snapshot *)ss;
	hm_backend *b;
	uint32_t max = 0;
	size_t i;

	if (!s)
		return;
	b = s->b;
	pthread_mutex_lock(&b->lock);
	for (i = 0; i < b->nheld; i++)
		if (b->held[i] == s->version) {
			b->held[i] = b->held[--b->nheld];
			break;
		}
	for (i = 0; i < b->nheld; i++)
		if (b->held[i] > max)
			max = b->held[i];
	atomic_store_explicit(&b->required, max, memory_order_release);
	sluice__hm_reclaim_locked(b);
	pthread_mutex_unlock(&b->lock);
	snapshot_free(s);
}
