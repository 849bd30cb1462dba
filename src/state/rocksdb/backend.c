/*
 * The `rocksdb` keyed state backend: sluice/sys/backend.h over the
 * RocksDB primitives of rdb.h.  FLAT states store one RocksDB entry per
 * (key, namespace); MAP states one entry per user key under the exact
 * (key, namespace) prefix; merge maps to the RocksDB merge operator
 * (concatenation).  A full snapshot is a RocksDB snapshot (sequence
 * number, O(1)) read key group by key group; because the RocksDB key
 * order is (key length, key, namespace length, namespace), entries of one
 * key group are sorted into the interface's (key, namespace) byte order
 * before they are handed out.  Incremental checkpoints and restore from
 * them are in sluice/sys/rocksdb.h.
 */
#include <stdlib.h>
#include <string.h>

#include "state/rocksdb/rdb_impl.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct rstate {
	sluice_rdb_cf *cf;
	sluice_backend_shape shape;
	char *name;
} rstate;

typedef struct rbackend {
	sluice_backend base;
	sluice_rdb *db;
	rstate **states;
	size_t n;
	sluice_buf key;                  /* key encoding scratch */
	rocksdb_pinnableslice_t *pinned; /* last get/map_get result */
	rocksdb_writebatch_t *batch;
} rbackend;

struct sluice_backend_snapshot {
	rbackend *b;
	const rocksdb_snapshot_t *snap;
	size_t n;
	sluice_rdb_cf **cfs; /* states at sync time */
	sluice_backend_shape *shapes;
};

#define RB(b)  ((rbackend *)(b))
#define RST(s) ((rstate *)(s))

static int
encode(rbackend *b, const sluice_state_key *k, const sluice_slice *ukey)
{
	SLUICE_ERRCHECK(sluice__rdb_key_encode(
		&b->key, b->db->kg_bytes, k->key_group, k->key, k->ns));
	if (ukey)
		return sluice_buf_put(&b->key, ukey->data, ukey->len);
	return 0;
}

static int b_register(
	sluice_backend *be,
	const char *name,
	sluice_backend_shape shape,
	sluice_backend_state **out)
{
	rbackend *b = RB(be);
	rstate *st, **n;
	size_t i;
	int error;

	for (i = 0; i < b->n; i++) {
		if (strcmp(b->states[i]->name, name))
			continue;
		if (b->states[i]->shape != shape)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
				"rocksdb: state '%s' exists with another shape",
				name);
		*out = (sluice_backend_state *)b->states[i];
		return 0;
	}
	if (!(n = sluice__reallocarray(b->states, b->n + 1, sizeof(*n))))
		return sluice__error_oom();
	b->states = n;
	if (!(st = sluice__calloc(1, sizeof(*st))) ||
	    !(st->name = sluice__strdup(name))) {
		sluice__free(st);
		return sluice__error_oom();
	}
	st->shape = shape;
	if ((error = sluice__rdb_cf(
		     &st->cf, b->db, name,
		     shape == SLUICE_SHAPE_MAP ? SLUICE_RDB_MAP
					       : SLUICE_RDB_VALUE,
		     0)) < 0) {
		sluice__free(st->name);
		sluice__free(st);
		return error;
	}
	b->states[b->n++] = st;
	*out = (sluice_backend_state *)st;
	return 0;
}

static int pinned_get(rbackend *b, sluice_rdb_cf *cf, sluice_slice *out)
{
	char *err = NULL;
	size_t n;
	const char *p;

	if (b->pinned) {
		rocksdb_pinnableslice_destroy(b->pinned);
		b->pinned = NULL;
	}
	b->pinned = rocksdb_get_pinned_cf(
		b->db->db, b->db->ro, cf->h, (const char *)b->key.ptr,
		b->key.len, &err);
	if (err)
		return sluice__rdb_err(err, "rocksdb: get from '%s'", cf->name);
	if (!b->pinned)
		return SLUICE_ENOTFOUND;
	p = rocksdb_pinnableslice_value(b->pinned, &n);
	*out = SLUICE_SLICE(p, n);
	return 0;
}

static int
b_get(sluice_backend *be,
      sluice_backend_state *st,
      const sluice_state_key *k,
      sluice_slice *out)
{
	SLUICE_ERRCHECK(encode(RB(be), k, NULL));
	return pinned_get(RB(be), RST(st)->cf, out);
}

static sluice_slice key_slice(rbackend *b)
{
	return SLUICE_SLICE(b->key.ptr, b->key.len);
}

static int
b_put(sluice_backend *be,
      sluice_backend_state *st,
      const sluice_state_key *k,
      sluice_slice value)
{
	SLUICE_ERRCHECK(encode(RB(be), k, NULL));
	return sluice__rdb_put(
		RB(be)->db, RST(st)->cf, key_slice(RB(be)), value);
}

static int
b_merge(sluice_backend *be,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice bytes)
{
	SLUICE_ERRCHECK(encode(RB(be), k, NULL));
	return sluice__rdb_merge(
		RB(be)->db, RST(st)->cf, key_slice(RB(be)), bytes);
}

/* Delete every user entry of a map: point deletes in one batch (range
 * tombstones would pile up and slow reads of a busy state). */
static int remove_map(rbackend *b, rstate *st)
{
	sluice_rdb_iter *it;
	char *err = NULL;
	int error;

	SLUICE_ERRCHECK(sluice__rdb_iter_new(&it, b->db, st->cf, key_slice(b)));
	rocksdb_writebatch_clear(b->batch);
	for (; sluice__rdb_iter_valid(it); sluice__rdb_iter_next(it)) {
		sluice_slice k = sluice__rdb_iter_key(it);

		rocksdb_writebatch_delete_cf(
			b->batch, st->cf->h, k.data, k.len);
	}
	error = sluice__rdb_iter_status(it);
	sluice__rdb_iter_free(it);
	if (error == 0 && rocksdb_writebatch_count(b->batch) > 0) {
		rocksdb_write(b->db->db, b->db->wo, b->batch, &err);
		if (err)
			error = sluice__rdb_err(
				err, "rocksdb: clear map in '%s'", st->name);
	}
	rocksdb_writebatch_clear(b->batch);
	return error;
}

static int b_remove(
	sluice_backend *be, sluice_backend_state *st, const sluice_state_key *k)
{
	SLUICE_ERRCHECK(encode(RB(be), k, NULL));
	if (RST(st)->shape == SLUICE_SHAPE_MAP)
		return remove_map(RB(be), RST(st));
	return sluice__rdb_delete(RB(be)->db, RST(st)->cf, key_slice(RB(be)));
}

static int b_map_get(
	sluice_backend *be,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice ukey,
	sluice_slice *out)
{
	SLUICE_ERRCHECK(encode(RB(be), k, &ukey));
	return pinned_get(RB(be), RST(st)->cf, out);
}

static int b_map_put(
	sluice_backend *be,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice ukey,
	sluice_slice value)
{
	SLUICE_ERRCHECK(encode(RB(be), k, &ukey));
	return sluice__rdb_put(
		RB(be)->db, RST(st)->cf, key_slice(RB(be)), value);
}

static int b_map_remove(
	sluice_backend *be,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice ukey)
{
	SLUICE_ERRCHECK(encode(RB(be), k, &ukey));
	return sluice__rdb_delete(RB(be)->db, RST(st)->cf, key_slice(RB(be)));
}

/* Call fn for every entry of `it`, decoded; ns filter optional. */
static int
walk(rbackend *b,
     sluice_rdb_iter *it,
     const char *name,
     const sluice_slice *ns,
     sluice_backend_entry_fn fn,
     void *ctx)
{
	int rc = 0;

	for (; sluice__rdb_iter_valid(it); sluice__rdb_iter_next(it)) {
		sluice_backend_entry e;
		sluice_slice k = sluice__rdb_iter_key(it);

		if (sluice__rdb_key_decode(
			    k.data, k.len, b->db->kg_bytes, &e.key_group,
			    &e.key, &e.ns, &e.ukey) < 0)
			return sluice__error_wrap("state '%s'", name);
		if (ns && (ns->len != e.ns.len ||
			   (ns->len && memcmp(ns->data, e.ns.data, ns->len))))
			continue;
		e.value = sluice__rdb_iter_value(it);
		if ((rc = fn(ctx, &e)) != 0)
			break;
	}
	if (rc == 0)
		rc = sluice__rdb_iter_status(it);
	return rc > 0 ? 0 : rc;
}

static int b_map_iterate(
	sluice_backend *be,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_backend_entry_fn fn,
	void *ctx)
{
	rbackend *b = RB(be);
	sluice_rdb_iter *it;
	int rc;

	SLUICE_ERRCHECK(encode(b, k, NULL));
	SLUICE_ERRCHECK(
		sluice__rdb_iter_new(&it, b->db, RST(st)->cf, key_slice(b)));
	rc = walk(b, it, RST(st)->name, NULL, fn, ctx);
	sluice__rdb_iter_free(it);
	return rc;
}

static int b_iterate(
	sluice_backend *be,
	sluice_backend_state *st,
	const sluice_slice *ns,
	sluice_backend_entry_fn fn,
	void *ctx)
{
	rbackend *b = RB(be);
	sluice_rdb_iter *it;
	int rc;

	SLUICE_ERRCHECK(sluice__rdb_iter_new(
		&it, b->db, RST(st)->cf, SLUICE_SLICE(NULL, 0)));
	rc = walk(b, it, RST(st)->name, ns, fn, ctx);
	sluice__rdb_iter_free(it);
	return rc;
}

typedef struct count_ctx {
	sluice_buf last; /* key | ns of the previous MAP entry */
	size_t n;
	int map;
} count_ctx;

static int count_one(void *vctx, const sluice_backend_entry *e)
{
	count_ctx *c = vctx;
	size_t kn = e->key.len, nn = e->ns.len;

	if (!c->map) {
		c->n++;
		return 0;
	}
	/* user entries of one (key, ns) are adjacent in RocksDB order */
	if (c->n && c->last.len == kn + nn + 4 &&
	    sluice__rd32(c->last.ptr) == kn &&
	    !memcmp(c->last.ptr + 4, e->key.data, kn) &&
	    !memcmp(c->last.ptr + 4 + kn, e->ns.data, nn))
		return 0;
	sluice_buf_clear(&c->last);
	if (sluice_buf_put_u32(&c->last, (uint32_t)kn) < 0 ||
	    sluice_buf_put(&c->last, e->key.data, kn) < 0 ||
	    sluice_buf_put(&c->last, e->ns.data, nn) < 0)
		return SLUICE_ENOMEM;
	c->n++;
	return 0;
}

static size_t b_count(sluice_backend *be, sluice_backend_state *st)
{
	count_ctx c = {SLUICE_BUF_INIT, 0, RST(st)->shape == SLUICE_SHAPE_MAP};

	b_iterate(be, st, NULL, count_one, &c);
	sluice_buf_release(&c.last);
	return c.n;
}

static size_t b_memory(sluice_backend *be)
{
	rbackend *b = RB(be);
	uint64_t mem = 0;
	char *v = rocksdb_property_value(
		b->db->db, "rocksdb.cur-size-all-mem-tables");

	if (v)
		mem = strtoull(v, NULL, 10);
	rocksdb_free(v);
	return (size_t)(mem + rocksdb_cache_get_usage(b->db->cache));
}

/* ---- full snapshots ------------------------------------------------- */

static int b_snapshot_sync(sluice_backend *be, sluice_backend_snapshot **out)
{
	rbackend *b = RB(be);
	sluice_backend_snapshot *s = sluice__calloc(1, sizeof(*s));
	size_t i;

	*out = NULL;
	if (!s || !(s->cfs = sluice__calloc(b->n + 1, sizeof(*s->cfs))) ||
	    !(s->shapes = sluice__calloc(b->n + 1, sizeof(*s->shapes)))) {
		if (s)
			sluice__free(s->cfs);
		sluice__free(s);
		return sluice__error_oom();
	}
	for (i = 0; i < b->n; i++) {
		s->cfs[i] = b->states[i]->cf;
		s->shapes[i] = b->states[i]->shape;
	}
	s->n = b->n;
	s->b = b;
	s->snap = rocksdb_create_snapshot(b->db->db);
	*out = s;
	return 0;
}

typedef struct ent {
	size_t koff, klen, voff, vlen;
} ent;

typedef struct parts {
	sluice_slice key, ns, ukey;
} parts;

static void split(const uint8_t *arena, const ent *e, int kgb, parts *p)
{
	int32_t kg;

	/* keys were validated when collected */
	(void)sluice__rdb_key_decode(
		arena + e->koff, e->klen, kgb, &kg, &p->key, &p->ns, &p->ukey);
}

static int cmp_bytes(sluice_slice a, sluice_slice b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.data, b.data, n) : 0;

	if (c)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

typedef struct sort_ctx {
	const uint8_t *arena;
	int kgb;
} sort_ctx;

static int cmp_ent(const void *x, const void *y, void *vctx)
{
	const sort_ctx *c = vctx;
	parts a, b;
	int r;

	split(c->arena, x, c->kgb, &a);
	split(c->arena, y, c->kgb, &b);
	if ((r = cmp_bytes(a.key, b.key)) || (r = cmp_bytes(a.ns, b.ns)))
		return r;
	return cmp_bytes(a.ukey, b.ukey);
}

typedef struct collected {
	sluice_buf arena;
	ent *ents;
	size_t n, cap;
	int sorted;
} collected;

static int collect_one(collected *c, sluice_slice k, sluice_slice v, int kgb)
{
	ent *e;
	int32_t kg;
	parts p;

	if (sluice__rdb_key_decode(
		    k.data, k.len, kgb, &kg, &p.key, &p.ns, &p.ukey) < 0)
		return SLUICE_ECORRUPT;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		ent *ne = sluice__reallocarray(c->ents, ncap, sizeof(*ne));

		if (!ne)
			return sluice__error_oom();
		c->ents = ne;
		c->cap = ncap;
	}
	e = &c->ents[c->n];
	e->koff = c->arena.len;
	e->klen = k.len;
	SLUICE_ERRCHECK(sluice_buf_put(&c->arena, k.data, k.len));
	e->voff = c->arena.len;
	e->vlen = v.len;
	SLUICE_ERRCHECK(sluice_buf_put(&c->arena, v.data, v.len));
	if (c->n > 0) {
		sort_ctx sc = {c->arena.ptr, kgb};

		if (cmp_ent(&c->ents[c->n - 1], e, &sc) > 0)
			c->sorted = 0;
	}
	c->n++;
	return 0;
}

/* Every entry of one state in one key group of the view, RocksDB order. */
static int
collect_group(sluice_backend_snapshot *s, size_t idx, int32_t kg, collected *c)
{
	rbackend *b = s->b;
	sluice_buf lo = SLUICE_BUF_INIT, hi = SLUICE_BUF_INIT;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = NULL;
	char *err = NULL;
	int error;

	if (!ro)
		return sluice__error_oom();
	if ((error = sluice__rdb_put_kg(&lo, b->db->kg_bytes, kg)) < 0 ||
	    (error = sluice__rdb_put_kg(&hi, b->db->kg_bytes, kg + 1)) < 0)
		goto done;
	rocksdb_readoptions_set_snapshot(ro, s->snap);
	rocksdb_readoptions_set_iterate_upper_bound(
		ro, (const char *)hi.ptr, hi.len);
	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(b->db->db, ro, s->cfs[idx]->h);
	for (rocksdb_iter_seek(it, (const char *)lo.ptr, lo.len);
	     error == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t kn, vn;
		const char *k = rocksdb_iter_key(it, &kn);
		const char *v = rocksdb_iter_value(it, &vn);

		error = collect_one(
			c, SLUICE_SLICE(k, kn), SLUICE_SLICE(v, vn),
			b->db->kg_bytes);
		if (error == SLUICE_ECORRUPT)
			error = sluice__error_wrap(
				"rocksdb snapshot: state '%s' key group %d",
				s->cfs[idx]->name, (int)kg);
	}
	rocksdb_iter_get_error(it, &err);
	if (err && error == 0)
		error = sluice__rdb_err(
			err, "rocksdb snapshot: state '%s' key group %d",
			s->cfs[idx]->name, (int)kg);
	else
		rocksdb_free(err);
done:
	if (it)
		rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	sluice_buf_release(&lo);
	sluice_buf_release(&hi);
	return error;
}

static int b_snapshot_iterate(
	sluice_backend_snapshot *s,
	size_t state_index,
	int32_t key_group,
	sluice_backend_entry_fn fn,
	void *ctx)
{
	collected c = {SLUICE_BUF_INIT, NULL, 0, 0, 1};
	int kgb = s->b->db->kg_bytes;
	size_t i;
	int rc;

	if (state_index >= s->n)
		return 0;
	if ((rc = collect_group(s, state_index, key_group, &c)) < 0)
		goto done;
	if (!c.sorted) {
		sort_ctx sc = {c.arena.ptr, kgb};

		qsort_r(c.ents, c.n, sizeof(*c.ents), cmp_ent, &sc);
	}
	for (i = 0; i < c.n && rc == 0; i++) {
		sluice_backend_entry e;
		parts p;

		split(c.arena.ptr, &c.ents[i], kgb, &p);
		e.key_group = key_group;
		e.key = p.key;
		e.ns = p.ns;
		e.ukey = p.ukey;
		e.value = SLUICE_SLICE(
			c.arena.ptr + c.ents[i].voff, c.ents[i].vlen);
		rc = fn(ctx, &e);
	}
	if (rc > 0)
		rc = 0;
done:
	sluice_buf_release(&c.arena);
	sluice__free(c.ents);
	return rc;
}

static void b_snapshot_release(sluice_backend_snapshot *s)
{
	if (!s)
		return;
	rocksdb_release_snapshot(s->b->db->db, s->snap);
	sluice__free(s->cfs);
	sluice__free(s->shapes);
	sluice__free(s);
}

static void b_free(sluice_backend *be)
{
	rbackend *b = RB(be);
	size_t i;

	if (!b)
		return;
	if (b->pinned)
		rocksdb_pinnableslice_destroy(b->pinned);
	if (b->batch)
		rocksdb_writebatch_destroy(b->batch);
	for (i = 0; i < b->n; i++) {
		sluice__free(b->states[i]->name);
		sluice__free(b->states[i]);
	}
	sluice__free(b->states);
	sluice_buf_release(&b->key);
	sluice__rdb_free(b->db);
	sluice__free(b);
}

static int b_configure_ttl(
	sluice_backend *be,
	sluice_backend_state *st,
	int64_t ttl_ms,
	int list,
	sluice_clock *clock)
{
	rstate *s = RST(st);

	(void)be;
	s->cf->kind = list                           ? SLUICE_RDB_LIST
		      : s->shape == SLUICE_SHAPE_MAP ? SLUICE_RDB_MAP
						     : SLUICE_RDB_VALUE;
	sluice__rdb_filter_set_clock(s->cf->filter, clock);
	sluice__rdb_filter_configure(s->cf->filter, s->cf->kind, ttl_ms);
	return 0;
}

static const sluice_backend rocksdb_backend = {
	.version = SLUICE_BACKEND_VERSION,
	.name = "rocksdb",
	.register_state = b_register,
	.get = b_get,
	.put = b_put,
	.merge = b_merge,
	.remove = b_remove,
	.map_get = b_map_get,
	.map_put = b_map_put,
	.map_remove = b_map_remove,
	.map_iterate = b_map_iterate,
	.iterate = b_iterate,
	.cleanup_step = NULL, /* the compaction filter cleans up */
	.snapshot_sync = b_snapshot_sync,
	.snapshot_iterate = b_snapshot_iterate,
	.snapshot_release = b_snapshot_release,
	.count = b_count,
	.memory = b_memory,
	.free = b_free,
	.configure_ttl = b_configure_ttl,
};

int sluice_backend_rocksdb_new(sluice_backend **out, void *ctx)
{
	const sluice_rocksdb_options *given = ctx;
	sluice_rocksdb_options defaults;
	const sluice_rocksdb_options *o = given;
	rbackend *b;
	int error;

	*out = NULL;
	if (!o) {
		sluice_rocksdb_options_init(&defaults);
		o = &defaults;
	}
	if (o->version != SLUICE_ROCKSDB_OPTIONS_VERSION)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_ROCKSDB,
			"rocksdb options: unknown version %d", o->version);
	if (o->num_restore && !o->transfer)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_ROCKSDB,
			"rocksdb options: restore handles given without a "
			"transfer to read them");
	if (!(b = sluice__calloc(1, sizeof(*b))) ||
	    !(b->batch = rocksdb_writebatch_create())) {
		sluice__free(b);
		return sluice__error_oom();
	}
	b->base = rocksdb_backend;
	error = sluice__rdb_restore(
		&b->db, o, o->label ? o->label : "backend", o->max_parallelism,
		o->restore_start, o->restore_end, o->restore, o->num_restore,
		o->transfer);
	if (error < 0) {
		b_free(&b->base);
		return error;
	}
	*out = &b->base;
	return 0;
}

int sluice__rdb_backend_compact(sluice_backend *b)
{
	return sluice__rdb_compact(RB(b)->db);
}

/* ---- incremental checkpoints ----------------------------------------- */

struct sluice_rocksdb_snapshot {
	sluice_rdb_snapshot *s;
};

static int rocksdb_of(sluice_rdb **out, sluice_backend *b)
{
	if (!b || b->free != b_free)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_ROCKSDB,
			"backend '%s' is not a rocksdb backend",
			b && b->name ? b->name : "(null)");
	*out = RB(b)->db;
	return 0;
}

int sluice_rocksdb_snapshot_sync(
	sluice_rocksdb_snapshot **out,
	sluice_backend *b,
	int64_t checkpoint_id,
	sluice_rocksdb_sharing sharing,
	int32_t kg_start,
	int32_t kg_num)
{
	sluice_rocksdb_snapshot *s;
	sluice_rdb *db = NULL;
	int error;

	*out = NULL;
	SLUICE_ERRCHECK(rocksdb_of(&db, b));
	if (!(s = sluice__calloc(1, sizeof(*s))))
		return sluice__error_oom();
	if ((error = sluice__rdb_snapshot_sync(
		     &s->s, db, checkpoint_id, (sluice_rdb_sharing)sharing,
		     kg_start, kg_num)) < 0) {
		sluice__free(s);
		return error;
	}
	*out = s;
	return 0;
}

int sluice_rocksdb_snapshot_upload(
	sluice_incremental_handle **out,
	sluice_rocksdb_snapshot *s,
	const sluice_rocksdb_transfer *t,
	sluice_slice meta)
{
	return sluice__rdb_snapshot_async(out, s->s, t, meta);
}

void sluice_rocksdb_snapshot_free(sluice_rocksdb_snapshot *s)
{
	if (!s)
		return;
	sluice__rdb_snapshot_free(s->s);
	sluice__free(s);
}

void sluice_rocksdb_notify_complete(sluice_backend *b, int64_t checkpoint_id)
{
	sluice_rdb *db = NULL;

	if (rocksdb_of(&db, b) == 0)
		sluice__rdb_notify_complete(db, checkpoint_id);
}

void sluice_rocksdb_notify_aborted(sluice_backend *b, int64_t checkpoint_id)
{
	sluice_rdb *db = NULL;

	if (rocksdb_of(&db, b) == 0)
		sluice__rdb_notify_aborted(db, checkpoint_id);
}
