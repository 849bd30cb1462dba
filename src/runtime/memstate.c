/*
 * The in-memory state provider: a simple, complete implementation of the
 * runtime's state seam (sys/runtime.h), used by runtime tests and by jobs
 * until a real keyed backend is plugged in.
 *
 * Keyed value state lives in a chained hash map keyed by (state name, key)
 * and remembers each key's key group.  Operator list state is a small
 * table of named lists.  snapshot_sync deep-copies both (so the async
 * phase never touches live state); snapshot_async writes:
 *
 *   keyed stream: for each key group g of the subtask's range, at
 *     offsets[g - start]: u32 n, then n × (str16 state, bytes32 key,
 *     bytes32 value)
 *   operator stream: for each list, for each element at its offset:
 *     bytes32 element
 *
 * through memory output streams (INLINE handles carrying an xxh3-64
 * checksum).  Restore verifies each handle's checksum, reads only the key
 * groups of this subtask's range and checks that every key belongs to the
 * group it was stored under; violations are SLUICE_ECORRUPT naming the
 * operator, subtask and key group.
 */
#include <stdlib.h>
#include <string.h>

#include "sluice/sys/runtime.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

typedef struct kv {
	struct kv *next;
	uint64_t hash;
	int32_t kg;
	char *state;
	uint8_t *key;
	size_t klen;
	uint8_t *val;
	size_t vlen;
} kv;

typedef struct oplist {
	char *name;
	sluice_slice *elems; /* each element's bytes owned */
	size_t count;
} oplist;

typedef struct mem_provider {
	sluice_state_provider base;
	char *uid;
	int32_t subtask, maxp, kg_start, kg_end;
	kv **buckets;
	size_t num_buckets;
	size_t num_entries;
	oplist *lists;
	size_t num_lists;
} mem_provider;

typedef struct mem_snap {
	const sluice_stream_factory *streams; /* NULL: memory streams */
	int64_t id;
	kv *entries; /* flat copies */
	size_t num_entries;
	oplist *lists;
	size_t num_lists;
} mem_snap;

static uint64_t kv_hash(const char *state, sluice_slice key)
{
	uint64_t a = sluice__xxh3(state, strlen(state));

	return sluice__fmix64(a ^ sluice__xxh3(key.data, key.len));
}

static kv **
kv_find(mem_provider *m, const char *state, sluice_slice key, uint64_t h)
{
	kv **pp = &m->buckets[h & (m->num_buckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		kv *e = *pp;

		if (e->hash == h && e->klen == key.len &&
		    !strcmp(e->state, state) &&
		    (key.len == 0 || !memcmp(e->key, key.data, key.len)))
			return pp;
	}
	return pp;
}

static void kv_free(kv *e)
{
	sluice__free(e->state);
	sluice__free(e->key);
	sluice__free(e->val);
}

static int kv_grow(mem_provider *m)
{
	size_t n = m->num_buckets * 2, i;
	kv **b = sluice__calloc(n, sizeof(*b));

	if (!b)
		return sluice__error_oom();
	for (i = 0; i < m->num_buckets; i++) {
		kv *e = m->buckets[i];

		while (e) {
			kv *next = e->next;

			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	sluice__free(m->buckets);
	m->buckets = b;
	m->num_buckets = n;
	return 0;
}

static int mp_value_get(
	sluice_state_provider *p,
	const char *state,
	sluice_slice key,
	sluice_slice *out)
{
	mem_provider *m = (mem_provider *)p;
	kv *e = *kv_find(m, state, key, kv_hash(state, key));

	if (!e) {
		*out = SLUICE_SLICE(NULL, 0);
		return SLUICE_ENOTFOUND;
	}
	*out = SLUICE_SLICE(e->val ? (const void *)e->val : "", e->vlen);
	return 0;
}

static int kv_insert(
	mem_provider *m,
	const char *state,
	sluice_slice key,
	sluice_slice value,
	int32_t kg)
{
	uint64_t h = kv_hash(state, key);
	kv **pp = kv_find(m, state, key, h);
	uint8_t *v = value.len ? sluice__memdup(value.data, value.len) : NULL;
	kv *e;

	if (value.len && !v)
		return sluice__error_oom();
	if ((e = *pp) != NULL) {
		sluice__free(e->val);
		e->val = v;
		e->vlen = value.len;
		return 0;
	}
	if (!(e = sluice__calloc(1, sizeof(*e))) ||
	    !(e->state = sluice__strdup(state)) ||
	    (key.len && !(e->key = sluice__memdup(key.data, key.len)))) {
		if (e)
			kv_free(e);
		sluice__free(e);
		sluice__free(v);
		return sluice__error_oom();
	}
	e->hash = h;
	e->kg = kg;
	e->klen = key.len;
	e->val = v;
	e->vlen = value.len;
	*pp = e;
	if (++m->num_entries > m->num_buckets)
		return kv_grow(m);
	return 0;
}

static int mp_value_put(
	sluice_state_provider *p,
	const char *state,
	sluice_slice key,
	sluice_slice value)
{
	mem_provider *m = (mem_provider *)p;

	return kv_insert(m, state, key, value, sluice_key_group(key, m->maxp));
}

static int
mp_value_remove(sluice_state_provider *p, const char *state, sluice_slice key)
{
	mem_provider *m = (mem_provider *)p;
	kv **pp = kv_find(m, state, key, kv_hash(state, key));
	kv *e = *pp;

	if (!e)
		return 0;
	*pp = e->next;
	kv_free(e);
	sluice__free(e);
	m->num_entries--;
	return 0;
}

/* ---- operator lists -------------------------------------------------- */

static void oplist_clear(oplist *l)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		sluice__free((void *)l->elems[i].data);
	sluice__free(l->elems);
	l->elems = NULL;
	l->count = 0;
}

static void oplists_free(oplist *lists, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		oplist_clear(&lists[i]);
		sluice__free(lists[i].name);
	}
	sluice__free(lists);
}

static oplist *oplist_find(mem_provider *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->num_lists; i++)
		if (!strcmp(m->lists[i].name, name))
			return &m->lists[i];
	return NULL;
}

static oplist *oplist_get_or_add(mem_provider *m, const char *name)
{
	oplist *l = oplist_find(m, name), *grown;

	if (l)
		return l;
	grown = sluice__reallocarray(
		m->lists, m->num_lists + 1, sizeof(*grown));
	if (!grown)
		return NULL;
	m->lists = grown;
	l = &m->lists[m->num_lists];
	memset(l, 0, sizeof(*l));
	if (!(l->name = sluice__strdup(name)))
		return NULL;
	m->num_lists++;
	return l;
}

/* Append copies of `elems` to `l`. */
static int oplist_append(oplist *l, const sluice_slice *elems, size_t count)
{
	sluice_slice *grown;
	size_t i;

	if (count == 0)
		return 0;
	grown = sluice__reallocarray(
		l->elems, l->count + count, sizeof(*grown));
	if (!grown)
		return sluice__error_oom();
	l->elems = grown;
	for (i = 0; i < count; i++) {
		void *d = sluice__memdup(
			elems[i].len ? elems[i].data : "",
			elems[i].len ? elems[i].len : 1);

		if (!d)
			return sluice__error_oom();
		l->elems[l->count++] = SLUICE_SLICE(d, elems[i].len);
	}
	return 0;
}

static int mp_opstate_get(
	sluice_state_provider *p,
	const char *name,
	const sluice_slice **elems,
	size_t *count)
{
	oplist *l = oplist_find((mem_provider *)p, name);

	*elems = l ? l->elems : NULL;
	*count = l ? l->count : 0;
	return 0;
}

static int mp_opstate_set(
	sluice_state_provider *p,
	const char *name,
	const sluice_slice *elems,
	size_t count)
{
	oplist *l = oplist_get_or_add((mem_provider *)p, name);

	if (!l)
		return sluice__error_oom();
	oplist_clear(l);
	return oplist_append(l, elems, count);
}

/* ---- snapshots ------------------------------------------------------- */

static void snap_free(mem_snap *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->num_entries; i++)
		kv_free(&s->entries[i]);
	sluice__free(s->entries);
	oplists_free(s->lists, s->num_lists);
	sluice__free(s);
}

static int snap_copy_entries(mem_provider *m, mem_snap *s)
{
	size_t b;

	if (m->num_entries &&
	    !(s->entries = sluice__calloc(m->num_entries, sizeof(kv))))
		return sluice__error_oom();
	for (b = 0; b < m->num_buckets; b++) {
		kv *e;

		for (e = m->buckets[b]; e; e = e->next) {
			kv *c = &s->entries[s->num_entries++];

			*c = *e;
			c->next = NULL;
			c->state = sluice__strdup(e->state);
			c->key = e->klen ? sluice__memdup(e->key, e->klen)
					 : NULL;
			c->val = e->vlen ? sluice__memdup(e->val, e->vlen)
					 : NULL;
			if (!c->state || (e->klen && !c->key) ||
			    (e->vlen && !c->val))
				return sluice__error_oom();
		}
	}
	return 0;
}

static int mp_snapshot_sync(
	sluice_state_provider *p,
	int64_t id,
	const sluice_checkpoint_options *opts,
	void **out)
{
	mem_provider *m = (mem_provider *)p;
	mem_snap *s = sluice__calloc(1, sizeof(*s));
	size_t i;
	int rc;

	(void)id;
	*out = NULL;
	if (!s)
		return sluice__error_oom();
	s->streams = opts ? opts->streams : NULL;
	s->id = id;
	if ((rc = snap_copy_entries(m, s)) < 0)
		goto fail;
	if (m->num_lists &&
	    !(s->lists = sluice__calloc(m->num_lists, sizeof(oplist)))) {
		rc = sluice__error_oom();
		goto fail;
	}
	for (i = 0; i < m->num_lists; i++) {
		oplist *l = &s->lists[s->num_lists++];

		if (!(l->name = sluice__strdup(m->lists[i].name)) ||
		    (rc = oplist_append(
			     l, m->lists[i].elems, m->lists[i].count)) < 0) {
			rc = rc < 0 ? rc : sluice__error_oom();
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	snap_free(s);
	return rc;
}

static int kv_cmp(const void *a, const void *b)
{
	const kv *x = a, *y = b;

	return x->kg < y->kg ? -1 : x->kg > y->kg;
}

/* A state stream from the job's factory, or in memory. */
static int open_ostream(mem_snap *s, const char *name, sluice_ostream **os)
{
	if (s->streams)
		return s->streams->open(
			s->streams->ctx, s->id, SLUICE_SCOPE_EXCLUSIVE, os);
	return sluice_mem_ostream_new(os, name);
}

/* Write `b` as one state stream; the handle carries the checksum. */
static int write_stream(
	sluice_buf *b,
	mem_snap *s,
	const char *name,
	sluice_stream_handle **out)
{
	sluice_ostream *os;
	int rc;

	if ((rc = open_ostream(s, name, &os)) < 0)
		return rc;
	if ((rc = sluice_ostream_write(os, b->ptr, b->len)) < 0) {
		sluice_ostream_abort(os);
		return rc;
	}
	return sluice_ostream_close(os, out);
}

static int write_keyed(mem_provider *m, mem_snap *s, sluice_keyed_handle **out)
{
	int32_t n = m->kg_end - m->kg_start + 1, g;
	sluice_keyed_handle *h = sluice__calloc(1, sizeof(*h));
	sluice_buf b = SLUICE_BUF_INIT;
	size_t i = 0;
	int rc = 0;

	if (!h || !(h->offsets = sluice__calloc((size_t)n, sizeof(uint64_t)))) {
		rc = sluice__error_oom();
		goto done;
	}
	h->start_key_group = m->kg_start;
	h->num_key_groups = n;
	if (s->num_entries)
		qsort(s->entries, s->num_entries, sizeof(kv), kv_cmp);
	for (g = m->kg_start; g <= m->kg_end && rc >= 0; g++) {
		size_t j = i;

		h->offsets[g - m->kg_start] = b.len;
		while (j < s->num_entries && s->entries[j].kg == g)
			j++;
		rc = sluice_buf_put_u32(&b, (uint32_t)(j - i));
		for (; i < j && rc >= 0; i++) {
			kv *e = &s->entries[i];

			if ((rc = sluice_buf_put_str16(&b, e->state)) >= 0 &&
			    (rc = sluice_buf_put_bytes32(
				     &b, e->key, e->klen)) >= 0)
				rc = sluice_buf_put_bytes32(
					&b, e->val, e->vlen);
		}
	}
	if (rc >= 0)
		rc = write_stream(&b, s, "keyed", &h->stream);
done:
	sluice_buf_release(&b);
	if (rc < 0) {
		sluice_keyed_handle_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

static int write_opstate(mem_snap *s, sluice_opstate_handle **out)
{
	sluice_opstate_handle *h = sluice__calloc(1, sizeof(*h));
	sluice_ostream *os = NULL;
	size_t i, j;
	int rc;

	if (!h ||
	    !(h->states = sluice__calloc(s->num_lists, sizeof(*h->states))))
		goto oom;
	if ((rc = open_ostream(s, "opstate", &os)) < 0)
		goto fail;
	for (i = 0; i < s->num_lists; i++) {
		sluice_opstate_entry *en = &h->states[h->num_states++];
		oplist *l = &s->lists[i];

		en->mode = SLUICE_OPSTATE_SPLIT;
		if (!(en->name = sluice__strdup(l->name)) ||
		    (l->count && !(en->offsets = sluice__calloc(
					   l->count, sizeof(uint64_t)))))
			goto oom;
		for (j = 0; j < l->count; j++) {
			uint8_t len[4];

			en->offsets[en->count++] = os->pos(os);
			sluice__be32(len, (uint32_t)l->elems[j].len);
			if ((rc = sluice_ostream_write(os, len, 4)) < 0 ||
			    (rc = sluice_ostream_write(
				     os, l->elems[j].data, l->elems[j].len)) <
				    0)
				goto fail;
		}
	}
	rc = sluice_ostream_close(os, &h->stream);
	os = NULL;
	if (rc < 0)
		goto fail;
	*out = h;
	return 0;
oom:
	rc = sluice__error_oom();
fail:
	sluice_ostream_abort(os);
	sluice_opstate_handle_free(h);
	return rc;
}

static int mp_snapshot_async(
	sluice_state_provider *p,
	void *snap,
	sluice_keyed_handle **keyed,
	sluice_opstate_handle **opstate)
{
	mem_provider *m = (mem_provider *)p;
	mem_snap *s = snap;
	int rc = 0;

	*keyed = NULL;
	*opstate = NULL;
	if (s->num_entries)
		rc = write_keyed(m, s, keyed);
	if (rc >= 0 && s->num_lists)
		rc = write_opstate(s, opstate);
	if (rc < 0) {
		sluice_keyed_handle_free(*keyed);
		*keyed = NULL;
	}
	snap_free(s);
	return rc;
}

static void mp_snapshot_discard(sluice_state_provider *p, void *snap)
{
	(void)p;
	snap_free(snap);
}

static void mp_notify(sluice_state_provider *p, int64_t id)
{
	(void)p;
	(void)id;
}

/* ---- restore --------------------------------------------------------- */

/* The verified bytes of a state handle. */
typedef struct loaded {
	const uint8_t *data;
	size_t len;
	uint8_t *owned; /* free with sluice_free_bytes */
} loaded;

static int load_handle(
	mem_provider *m,
	const sluice_subtask_restore *r,
	const sluice_stream_handle *h,
	const char *what,
	loaded *out)
{
	memset(out, 0, sizeof(*out));
	if (!h)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"%s state of '%s' subtask %d: handle without stream",
			what, m->uid, (int)m->subtask);
	if (h->kind == SLUICE_HANDLE_INLINE) {
		if (sluice__xxh3(h->data, (size_t)h->size) != h->checksum)
			return sluice__error_set(
				SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
				"%s state of '%s' subtask %d: checksum "
				"mismatch in '%s'",
				what, m->uid, (int)m->subtask,
				h->path ? h->path : "inline");
		out->data = h->data;
		out->len = (size_t)h->size;
		return 0;
	}
	if (!r->storage)
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_STATE,
			"%s state of '%s' subtask %d: no storage to read '%s'",
			what, m->uid, (int)m->subtask, h->path ? h->path : "?");
	if (sluice_handle_read(&out->owned, &out->len, r->storage, r->dir, h) <
	    0)
		return sluice__error_wrap(
			"%s state of '%s' subtask %d", what, m->uid,
			(int)m->subtask);
	out->data = out->owned;
	return 0;
}

static int restore_group(mem_provider *m, sluice_reader *r, int32_t g)
{
	uint32_t n = sluice_reader_u32(r), i;
	char *name;
	int rc;

	for (i = 0; i < n && !r->failed; i++) {
		sluice_slice st = sluice_reader_str16(r);
		sluice_slice key = sluice_reader_bytes32(r);
		sluice_slice val = sluice_reader_bytes32(r);

		if (r->failed)
			break;
		if (sluice_key_group(key, m->maxp) != g)
			return sluice__error_set(
				SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
				"keyed state of '%s' subtask %d: key group %d "
				"holds a key of group %d",
				m->uid, (int)m->subtask, (int)g,
				(int)sluice_key_group(key, m->maxp));
		if (!(name = sluice__strndup(st.len ? st.data : "", st.len)))
			return sluice__error_oom();
		rc = kv_insert(m, name, key, val, g);
		sluice__free(name);
		if (rc < 0)
			return rc;
	}
	if (r->failed)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"keyed state of '%s' subtask %d: key group %d is "
			"truncated",
			m->uid, (int)m->subtask, (int)g);
	return 0;
}

static int
restore_keyed(mem_provider *m, const sluice_keyed_handle *h, const loaded *ld)
{
	int32_t g, lo, hi;
	sluice_reader r;
	int rc;

	lo = h->start_key_group > m->kg_start ? h->start_key_group
					      : m->kg_start;
	hi = h->start_key_group + h->num_key_groups - 1;
	hi = hi < m->kg_end ? hi : m->kg_end;
	for (g = lo; g <= hi; g++) {
		uint64_t off = h->offsets[g - h->start_key_group];

		if (off > ld->len)
			return sluice__error_set(
				SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
				"keyed state of '%s' subtask %d: key group %d "
				"offset %llu beyond %llu bytes",
				m->uid, (int)m->subtask, (int)g,
				(unsigned long long)off,
				(unsigned long long)ld->len);
		sluice_reader_init(&r, ld->data + off, ld->len - (size_t)off);
		if ((rc = restore_group(m, &r, g)) < 0)
			return rc;
	}
	return 0;
}

static int restore_opstate(
	mem_provider *m, const sluice_opstate_handle *h, const loaded *ld)
{
	uint32_t i, j;
	sluice_reader r;

	for (i = 0; i < h->num_states; i++) {
		const sluice_opstate_entry *en = &h->states[i];
		oplist *l = oplist_get_or_add(m, en->name);

		if (!l)
			return sluice__error_oom();
		for (j = 0; j < en->count; j++) {
			sluice_slice el;

			sluice_reader_init(&r, ld->data, ld->len);
			r.pos = en->offsets[j] <= ld->len
					? (size_t)en->offsets[j]
					: r.len;
			el = sluice_reader_bytes32(&r);
			if (r.failed)
				return sluice__error_set(
					SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
					"operator state '%s' of '%s' subtask "
					"%d: element %u is truncated",
					en->name, m->uid, (int)m->subtask, j);
			SLUICE_ERRCHECK(oplist_append(l, &el, 1));
		}
	}
	return 0;
}

static int mp_restore(sluice_state_provider *p, const sluice_subtask_restore *r)
{
	mem_provider *m = (mem_provider *)p;
	loaded ld;
	size_t i;
	int rc = 0;

	if (r->num_incremental)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"the in-memory state provider cannot restore "
			"incremental rocksdb snapshots");
	for (i = 0; i < r->num_keyed && rc >= 0; i++) {
		if ((rc = load_handle(
			     m, r, r->keyed[i]->stream, "keyed", &ld)) < 0)
			break;
		rc = restore_keyed(m, r->keyed[i], &ld);
		sluice_free_bytes(ld.owned);
	}
	for (i = 0; i < r->num_opstate && rc >= 0; i++) {
		if (!r->opstate[i]->stream) {
			/* only empty lists: no bytes, so no stream was
			 * written; any element would read as truncated */
			memset(&ld, 0, sizeof(ld));
			rc = restore_opstate(m, r->opstate[i], &ld);
			continue;
		}
		if ((rc = load_handle(
			     m, r, r->opstate[i]->stream, "operator", &ld)) < 0)
			break;
		rc = restore_opstate(m, r->opstate[i], &ld);
		sluice_free_bytes(ld.owned);
	}
	return rc;
}

static void mp_free(sluice_state_provider *p)
{
	mem_provider *m = (mem_provider *)p;
	size_t b;

	if (!m)
		return;
	for (b = 0; b < m->num_buckets; b++) {
		kv *e = m->buckets[b];

		while (e) {
			kv *next = e->next;

			kv_free(e);
			sluice__free(e);
			e = next;
		}
	}
	sluice__free(m->buckets);
	oplists_free(m->lists, m->num_lists);
	sluice__free(m->uid);
	sluice__free(m);
}

int sluice_mem_state_provider_new(
	sluice_state_provider **out,
	const sluice_state_provider_info *info,
	void *arg)
{
	mem_provider *m = sluice__calloc(1, sizeof(*m));

	(void)arg;
	*out = NULL;
	if (!m || !(m->uid = sluice__strdup(info->uid)) ||
	    !(m->buckets = sluice__calloc(64, sizeof(kv *)))) {
		if (m)
			mp_free(&m->base);
		return sluice__error_oom();
	}
	m->num_buckets = 64;
	m->subtask = info->subtask;
	m->maxp = info->max_parallelism;
	m->kg_start = info->key_group_start;
	m->kg_end = info->key_group_end;
	m->base.version = SLUICE_STATE_PROVIDER_VERSION;
	m->base.value_get = mp_value_get;
	m->base.value_put = mp_value_put;
	m->base.value_remove = mp_value_remove;
	m->base.opstate_get = mp_opstate_get;
	m->base.opstate_set = mp_opstate_set;
	m->base.restore = mp_restore;
	m->base.snapshot_sync = mp_snapshot_sync;
	m->base.snapshot_async = mp_snapshot_async;
	m->base.snapshot_discard = mp_snapshot_discard;
	m->base.notify_complete = mp_notify;
	m->base.notify_aborted = mp_notify;
	m->base.free = mp_free;
	*out = &m->base;
	return 0;
}
