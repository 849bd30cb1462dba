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

int sluice__hm_emit_entry(
	hm_entry *e,
	sluice_backend_shape shape,
	sluice_backend_entry_fn fn,
	void *ctx);

/* Sort record: key group and the first 8 key bytes decide most orderings
 * without touching the entry. */
typedef struct sort_rec {
	int32_t kg;
	uint64_t pfx;
	hm_entry *e;
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

static int entry_cmp(const void *pa, const void *pb)
{
	const hm_entry *a = *(hm_entry *const *)pa, *b = *(hm_entry *const *)pb;
	size_t la = (size_t)a->key_len + a->ns_len;
	size_t lb = (size_t)b->key_len + b->ns_len;
	int c;

	if (a->kg != b->kg)
		return a->kg < b->kg ? -1 : 1;
	if (a->key_len != b->key_len) {
		size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;

		if ((c = hm_bytes_cmp(a->data, b->data, n)))
			return c;
		return a->key_len < b->key_len ? -1 : 1;
	}
	if ((c = hm_bytes_cmp(a->data, b->data, a->key_len)))
		return c;
	c = hm_bytes_cmp(
		a->data + a->key_len, b->data + b->key_len,
		(la < lb ? la : lb) - a->key_len);
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

static int rec_cmp(const void *pa, const void *pb)
{
	const sort_rec *a = pa, *b = pb;

	if (a->kg != b->kg)
		return a->kg < b->kg ? -1 : 1;
	if (a->pfx != b->pfx)
		return a->pfx < b->pfx ? -1 : 1;
	return entry_cmp(&a->e, &b->e);
}

static uint64_t prefix_of(const hm_entry *e)
{
	uint8_t b[8] = {0};
	uint64_t v;

	memcpy(b, e->data, e->key_len < 8 ? e->key_len : 8);
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
			hm_entry *e = v->pages[i]->s[j].e;

			if (e && n < v->count) {
				recs[n].kg = e->kg;
				recs[n].pfx = prefix_of(e);
				recs[n++].e = e;
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
		if (lo + 8 < v->count)
			__builtin_prefetch(v->sorted[lo + 8].e);
		if ((rc = sluice__hm_emit_entry(
			     v->sorted[lo].e, v->shape, fn, ctx)) != 0)
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
