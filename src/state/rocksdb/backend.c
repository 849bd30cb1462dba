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
 *
 * A backend restored from several parts by rescaling keeps them as shards
 * (rdb.h): every state has a column family in each, point operations and
 * per-key-group reads go to the shard of the key group, whole-state
 * iteration walks the shards in key-group order, and an incremental
 * snapshot is one native checkpoint per shard, uploaded as the parts of
 * one handle.  A backend of one shard behaves and writes as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/rocksdb/rdb_impl.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct rstate {
	sluice_rdb_cf **cf; /* one per shard */
	sluice_backend_shape shape;
	char *name;
} rstate;

typedef struct rbackend {
	sluice_backend base;
	sluice_rdb_shard *shards; /* sorted, tiling the key-group range */
	size_t nshards;
	int kg_bytes;
	rstate **states;
	size_t n;
	sluice_buf key;                  /* key encoding scratch */
	rocksdb_pinnableslice_t *pinned; /* last get/map_get result */
	rocksdb_writebatch_t *batch;
} rbackend;

struct sluice_backend_snapshot {
	rbackend *b;
	const rocksdb_snapshot_t **snaps; /* one per shard */
	size_t n;
	rstate **states; /* states at sync time */
};

#define RB(b)  ((rbackend *)(b))
#define RST(s) ((rstate *)(s))

/* Index of the shard serving key group kg. */
static inline size_t shard_of(const rbackend *b, int32_t kg)
{
	size_t i = b->nshards - 1;

	while (i > 0 && kg < b->shards[i].lo)
		i--;
	return i;
}

static int
encode(rbackend *b, const sluice_state_key *k, const sluice_slice *ukey)
{
	SLUICE_ERRCHECK(sluice__rdb_key_encode(
		&b->key, b->kg_bytes, k->key_group, k->key, k->ns));
	if (ukey)
		return sluice_buf_put(&b->key, ukey->data, ukey->len);
	return 0;
}

static void rstate_free(rstate *st)
{
	if (!st)
		return;
	sluice__free(st->name);
	sluice__free(st->cf);
	sluice__free(st);
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
	    !(st->name = sluice__strdup(name)) ||
	    !(st->cf = sluice__calloc(b->nshards, sizeof(*st->cf)))) {
		rstate_free(st);
		return sluice__error_oom();
	}
	st->shape = shape;
	for (i = 0; i < b->nshards; i++)
		if ((error = sluice__rdb_cf(
			     &st->cf[i], b->shards[i].db, name,
			     shape == SLUICE_SHAPE_MAP ? SLUICE_RDB_MAP
						       : SLUICE_RDB_VALUE,
			     0)) < 0) {
			rstate_free(st);
			return error;
		}
	b->states[b->n++] = st;
	*out = (sluice_backend_state *)st;
	return 0;
}

static int
pinned_get(rbackend *b, sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice *out)
{
	char *err = NULL;
	size_t n;
	const char *p;

	if (b->pinned) {
		rocksdb_pinnableslice_destroy(b->pinned);
		b->pinned = NULL;
	}
	b->pinned = rocksdb_get_pinned_cf(
		db->db, db->ro, cf->h, (const char *)b->key.ptr, b->key.len,
		&err);
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
	rbackend *b = RB(be);
	size_t i = shard_of(b, k->key_group);

	SLUICE_ERRCHECK(encode(b, k, NULL));
	return pinned_get(b, b->shards[i].db, RST(st)->cf[i], out);
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
	rbackend *b = RB(be);
	size_t i = shard_of(b, k->key_group);

	SLUICE_ERRCHECK(encode(b, k, NULL));
	return sluice__rdb_put(
		b->shards[i].db, RST(st)->cf[i], key_slice(b), value);
}

static int
b_merge(sluice_backend *be,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice bytes)
{
	rbackend *b = RB(be);
	size_t i = shard_of(b, k->key_group);

	SLUICE_ERRCHECK(encode(b, k, NULL));
	return sluice__rdb_merge(
		b->shards[i].db, RST(st)->cf[i], key_slice(b), bytes);
}

/* Delete every user entry of a map: point deletes in one batch (range
 * tombstones would pile up and slow reads of a busy state). */
static int remove_map(rbackend *b, rstate *st, size_t sh)
{
	sluice_rdb *db = b->shards[sh].db;
	sluice_rdb_iter *it;
	char *err = NULL;
	int error;

	SLUICE_ERRCHECK(
		sluice__rdb_iter_new(&it, db, st->cf[sh], key_slice(b)));
	rocksdb_writebatch_clear(b->batch);
	for (; sluice__rdb_iter_valid(it); sluice__rdb_iter_next(it)) {
		sluice_slice k = sluice__rdb_iter_key(it);

		rocksdb_writebatch_delete_cf(
			b->batch, st->cf[sh]->h, k.data, k.len);
	}
	error = sluice__rdb_iter_status(it);
	sluice__rdb_iter_free(it);
	if (error == 0 && rocksdb_writebatch_count(b->batch) > 0) {
		rocksdb_write(db->db, db->wo, b->batch, &err);
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
	rbackend *b = RB(be);
	size_t i = shard_of(b, k->key_group);

	SLUICE_ERRCHECK(encode(b, k, NULL));
	if (RST(st)->shape == SLUICE_SHAPE_MAP)
		return remove_map(b, RST(st), i);
	return sluice__rdb_delete(
		b->shards[i].db, RST(st)->cf[i], key_slice(b));
}

static int b_map_get(
	sluice_backend *be,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice ukey,
	sluice_slice *out)
{
	rbackend *b = RB(be);
	size_t i = shard_of(b, k->key_group);

	SLUICE_ERRCHECK(encode(b, k, &ukey));
	return pinned_get(b, b->shards[i].db, RST(st)->cf[i], out);
}

static int b_map_put(
	sluice_backend *be,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice ukey,
	sluice_slice value)
{
	rbackend *b = RB(be);
	size_t i = shard_of(b, k->key_group);

	SLUICE_ERRCHECK(encode(b, k, &ukey));
	return sluice__rdb_put(
		b->shards[i].db, RST(st)->cf[i], key_slice(b), value);
}

static int b_map_remove(
	sluice_backend *be,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_slice ukey)
{
	rbackend *b = RB(be);
	size_t i = shard_of(b, k->key_group);

	SLUICE_ERRCHECK(encode(b, k, &ukey));
	return sluice__rdb_delete(
		b->shards[i].db, RST(st)->cf[i], key_slice(b));
}

/* Call fn for every entry of `it`, decoded; ns filter optional.  Returns
 * fn's positive stop code as it is. */
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
			    k.data, k.len, b->kg_bytes, &e.key_group, &e.key,
			    &e.ns, &e.ukey) < 0)
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
	return rc;
}

static int b_map_iterate(
	sluice_backend *be,
	sluice_backend_state *st,
	const sluice_state_key *k,
	sluice_backend_entry_fn fn,
	void *ctx)
{
	rbackend *b = RB(be);
	size_t i = shard_of(b, k->key_group);
	sluice_rdb_iter *it;
	int rc;

	SLUICE_ERRCHECK(encode(b, k, NULL));
	SLUICE_ERRCHECK(sluice__rdb_iter_new(
		&it, b->shards[i].db, RST(st)->cf[i], key_slice(b)));
	rc = walk(b, it, RST(st)->name, NULL, fn, ctx);
	sluice__rdb_iter_free(it);
	return rc > 0 ? 0 : rc;
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
	size_t i;
	int rc = 0;

	for (i = 0; i < b->nshards && rc == 0; i++) {
		SLUICE_ERRCHECK(sluice__rdb_iter_new(
			&it, b->shards[i].db, RST(st)->cf[i],
			SLUICE_SLICE(NULL, 0)));
		rc = walk(b, it, RST(st)->name, ns, fn, ctx);
		sluice__rdb_iter_free(it);
	}
	return rc > 0 ? 0 : rc;
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
	size_t i;

	for (i = 0; i < b->nshards; i++) {
		sluice_rdb *db = b->shards[i].db;
		char *v = rocksdb_property_value(
			db->db, "rocksdb.cur-size-all-mem-tables");

		if (v)
			mem += strtoull(v, NULL, 10);
		rocksdb_free(v);
		mem += rocksdb_cache_get_usage(db->cache);
	}
	return (size_t)mem;
}

/* ---- full snapshots ------------------------------------------------- */

static int b_snapshot_sync(sluice_backend *be, sluice_backend_snapshot **out)
{
	rbackend *b = RB(be);
	sluice_backend_snapshot *s = sluice__calloc(1, sizeof(*s));
	size_t i;

	*out = NULL;
	if (!s || !(s->states = sluice__calloc(b->n + 1, sizeof(*s->states))) ||
	    !(s->snaps = sluice__calloc(b->nshards, sizeof(*s->snaps)))) {
		if (s)
			sluice__free(s->states);
		sluice__free(s);
		return sluice__error_oom();
	}
	for (i = 0; i < b->n; i++)
		s->states[i] = b->states[i];
	s->n = b->n;
	s->b = b;
	for (i = 0; i < b->nshards; i++)
		s->snaps[i] = rocksdb_create_snapshot(b->shards[i].db->db);
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
	size_t sh = shard_of(b, kg);
	sluice_rdb *db = b->shards[sh].db;
	sluice_rdb_cf *cf = s->states[idx]->cf[sh];
	sluice_buf lo = SLUICE_BUF_INIT, hi = SLUICE_BUF_INIT;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = NULL;
	char *err = NULL;
	int error;

	if (!ro)
		return sluice__error_oom();
	if ((error = sluice__rdb_put_kg(&lo, b->kg_bytes, kg)) < 0 ||
	    (error = sluice__rdb_put_kg(&hi, b->kg_bytes, kg + 1)) < 0)
		goto done;
	rocksdb_readoptions_set_snapshot(ro, s->snaps[sh]);
	rocksdb_readoptions_set_iterate_upper_bound(
		ro, (const char *)hi.ptr, hi.len);
	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(db->db, ro, cf->h);
	for (rocksdb_iter_seek(it, (const char *)lo.ptr, lo.len);
	     error == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t kn, vn;
		const char *k = rocksdb_iter_key(it, &kn);
		const char *v = rocksdb_iter_value(it, &vn);

		error = collect_one(
			c, SLUICE_SLICE(k, kn), SLUICE_SLICE(v, vn),
			b->kg_bytes);
		if (error == SLUICE_ECORRUPT)
			error = sluice__error_wrap(
				"rocksdb snapshot: state '%s' key group %d",
				cf->name, (int)kg);
	}
	rocksdb_iter_get_error(it, &err);
	if (err && error == 0)
		error = sluice__rdb_err(
			err, "rocksdb snapshot: state '%s' key group %d",
			cf->name, (int)kg);
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
	int kgb = s->b->kg_bytes;
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
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->b->nshards; i++)
		rocksdb_release_snapshot(s->b->shards[i].db->db, s->snaps[i]);
	sluice__free(s->snaps);
	sluice__free(s->states);
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
	for (i = 0; i < b->n; i++)
		rstate_free(b->states[i]);
	sluice__free(b->states);
	sluice_buf_release(&b->key);
	sluice__rdb_shards_free(b->shards, b->nshards);
	sluice__free(b);
}

static int b_configure_ttl(
	sluice_backend *be,
	sluice_backend_state *st,
	int64_t ttl_ms,
	int list,
	sluice_clock *clock)
{
	sluice_rdb_kind kind = list ? SLUICE_RDB_LIST
			       : RST(st)->shape == SLUICE_SHAPE_MAP
				       ? SLUICE_RDB_MAP
				       : SLUICE_RDB_VALUE;
	size_t i;

	for (i = 0; i < RB(be)->nshards; i++) {
		sluice_rdb_cf *cf = RST(st)->cf[i];

		cf->kind = kind;
		sluice__rdb_filter_set_clock(cf->filter, clock);
		sluice__rdb_filter_configure(cf->filter, kind, ttl_ms);
	}
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
	error = sluice__rdb_restore_shards(
		&b->shards, &b->nshards, o, o->label ? o->label : "backend",
		o->max_parallelism, o->restore_start, o->restore_end,
		o->restore, o->num_restore, o->transfer);
	if (error < 0) {
		b_free(&b->base);
		return error;
	}
	b->kg_bytes = b->shards[0].db->kg_bytes;
	*out = &b->base;
	return 0;
}

int sluice__rdb_backend_compact(sluice_backend *be)
{
	rbackend *b = RB(be);
	size_t i;

	for (i = 0; i < b->nshards; i++)
		SLUICE_ERRCHECK(sluice__rdb_compact(b->shards[i].db));
	return 0;
}

int sluice__rdb_backend_busy(sluice_backend *be)
{
	rbackend *b = RB(be);
	size_t i;

	for (i = 0; i < b->nshards; i++)
		if (sluice__rdb_busy(b->shards[i].db))
			return 1;
	return 0;
}

size_t sluice__rdb_backend_shards(sluice_backend *be)
{
	return RB(be)->nshards;
}

/* ---- incremental checkpoints ----------------------------------------- */

/* One native snapshot per shard; kg_start/kg_num: the handle's range. */
struct sluice_rocksdb_snapshot {
	sluice_rdb_snapshot **s;
	size_t n;
	int32_t *lo, *hi; /* the shards' ranges (several shards only) */
	int32_t kg_start, kg_num;
};

static int rocksdb_of(rbackend **out, sluice_backend *b)
{
	if (!b || b->free != b_free)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_ROCKSDB,
			"backend '%s' is not a rocksdb backend",
			b && b->name ? b->name : "(null)");
	*out = RB(b);
	return 0;
}

void sluice_rocksdb_snapshot_free(sluice_rocksdb_snapshot *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; s->s && i < s->n; i++)
		sluice__rdb_snapshot_free(s->s[i]);
	sluice__free(s->s);
	sluice__free(s->lo);
	sluice__free(s->hi);
	sluice__free(s);
}

int sluice_rocksdb_snapshot_sync(
	sluice_rocksdb_snapshot **out,
	sluice_backend *be,
	int64_t checkpoint_id,
	sluice_rocksdb_sharing sharing,
	int32_t kg_start,
	int32_t kg_num)
{
	sluice_rocksdb_snapshot *s;
	rbackend *b = NULL;
	size_t i;
	int error = 0;

	*out = NULL;
	SLUICE_ERRCHECK(rocksdb_of(&b, be));
	if (!(s = sluice__calloc(1, sizeof(*s))) ||
	    !(s->s = sluice__calloc(b->nshards, sizeof(*s->s))) ||
	    !(s->lo = sluice__calloc(b->nshards, sizeof(*s->lo))) ||
	    !(s->hi = sluice__calloc(b->nshards, sizeof(*s->hi)))) {
		sluice_rocksdb_snapshot_free(s);
		return sluice__error_oom();
	}
	s->n = b->nshards;
	s->kg_start = kg_start;
	s->kg_num = kg_num;
	for (i = 0; i < b->nshards && error == 0; i++) {
		/* one shard: the handle's range; several: each its own */
		int32_t lo = b->nshards == 1 ? kg_start : b->shards[i].lo;
		int32_t num = b->nshards == 1
				      ? kg_num
				      : b->shards[i].hi - b->shards[i].lo + 1;

		s->lo[i] = lo;
		s->hi[i] = lo + num - 1;
		error = sluice__rdb_snapshot_sync(
			&s->s[i], b->shards[i].db, checkpoint_id,
			(sluice_rdb_sharing)sharing, lo, num);
	}
	if (error < 0) {
		sluice_rocksdb_snapshot_free(s);
		return error;
	}
	*out = s;
	return 0;
}

static void
discard_one(const sluice_rocksdb_transfer *t, sluice_stream_handle *fh)
{
	if (fh && t->discard && fh->kind != SLUICE_HANDLE_PLACEHOLDER)
		t->discard(t->ctx, fh);
}

/* Ask the transfer to delete the files `h` uploaded (not the reused). */
static void discard_uploads(
	const sluice_rocksdb_transfer *t, const sluice_incremental_handle *h)
{
	uint32_t i;

	for (i = 0; i < h->num_shared; i++)
		discard_one(t, h->shared_files[i].handle);
	for (i = 0; i < h->num_private; i++)
		discard_one(t, h->private_files[i].handle);
	discard_one(t, h->metadata);
}

/* Move the files of `part` into `h` as "<prefix><name>". */
static int take_files(
	sluice_incremental_handle *h,
	sluice_incremental_handle *part,
	int32_t lo,
	int32_t hi)
{
	char prefix[SLUICE_RDB_PREFIX_MAX], name[512];
	uint32_t i;

	sluice__rdb_part_prefix(prefix, lo, hi);
	for (i = 0; i < part->num_shared + part->num_private; i++) {
		int shared = i < part->num_shared;
		sluice_incremental_file *f =
			shared ? &part->shared_files[i]
			       : &part->private_files[i - part->num_shared];
		sluice_stream_handle *fh = f->handle;

		snprintf(name, sizeof(name), "%s%s", prefix, f->name);
		f->handle = NULL;
		SLUICE_ERRCHECK(
			sluice_incremental_handle_add(h, shared, name, fh));
	}
	return 0;
}

/* Several shards: upload each, then make their handles the parts of one. */
static int upload_parts(
	sluice_incremental_handle **out,
	sluice_rocksdb_snapshot *s,
	const sluice_rocksdb_transfer *t,
	sluice_slice meta)
{
	sluice_incremental_handle *h = NULL, *part = NULL;
	size_t i;
	int error = 0;

	for (i = 0; i < s->n && error == 0; i++) {
		/* the meta data once, with the first part */
		error = sluice__rdb_snapshot_async(
			&part, s->s[i], t, i == 0 ? &meta : NULL);
		if (error < 0)
			break;
		if (i == 0 && !(h = sluice_incremental_handle_new(
					part->backend_id, part->checkpoint_id,
					s->kg_start, s->kg_num))) {
			error = sluice__error_oom();
		} else if (i == 0) {
			h->metadata = part->metadata;
			part->metadata = NULL;
		}
		if (error == 0) {
			h->checkpointed_size += part->checkpointed_size;
			error = take_files(h, part, s->lo[i], s->hi[i]);
		}
		if (error < 0) /* a failed part's own uploads */
			discard_uploads(t, part);
		sluice_incremental_handle_free(part);
		part = NULL;
	}
	if (error < 0) {
		if (h)
			discard_uploads(t, h);
		sluice_incremental_handle_free(h);
		return error;
	}
	*out = h;
	return 0;
}

int sluice_rocksdb_snapshot_upload(
	sluice_incremental_handle **out,
	sluice_rocksdb_snapshot *s,
	const sluice_rocksdb_transfer *t,
	sluice_slice meta)
{
	*out = NULL;
	if (s->n == 1)
		return sluice__rdb_snapshot_async(out, s->s[0], t, &meta);
	return upload_parts(out, s, t, meta);
}

/* Tell every shard's file tracker about checkpoint `id`. */
static void
notify_shards(sluice_backend *be, int64_t id, void (*fn)(sluice_rdb *, int64_t))
{
	rbackend *b = NULL;
	size_t i;

	if (rocksdb_of(&b, be) == 0)
		for (i = 0; i < b->nshards; i++)
			fn(b->shards[i].db, id);
}

void sluice_rocksdb_notify_complete(sluice_backend *be, int64_t checkpoint_id)
{
	notify_shards(be, checkpoint_id, sluice__rdb_notify_complete);
}

void sluice_rocksdb_notify_aborted(sluice_backend *be, int64_t checkpoint_id)
{
	notify_shards(be, checkpoint_id, sluice__rdb_notify_aborted);
}
