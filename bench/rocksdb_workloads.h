/*
 * The raw RocksDB baseline of the rocksdb keyed-state benchmarks (W1-W3):
 * the same workloads as bench/state_workloads.h, run on the same library
 * with the same key layout (key group | u32 len | key | u32 len |
 * namespace [| user key]) and options, by direct calls of the thin RocksDB
 * primitives of src/state/rocksdb/rdb.h (one C API call each, no front
 * end, TTL or latency tracking).  bwr_run times the front end on a fresh
 * rocksdb backend, then the baseline on a fresh database, per round.
 *
 * Header-only (static functions) so that bench/bench_state_rocksdb.c and
 * `sluice bench state --backend rocksdb` share one implementation.
 */
#ifndef SLUICE_BENCH_ROCKSDB_WORKLOADS_H
#define SLUICE_BENCH_ROCKSDB_WORKLOADS_H

#include "state/rocksdb/rdb.h"
#include "state_workloads.h"

typedef struct raw {
	const bw_params *p;
	int op;
	sluice_rdb *db;
	sluice_rdb_cf *cf;
	sluice_buf k, v, elems;
	int64_t *order, *fresh;
	uint64_t sink;
} raw;

/* kg | key | "" like the front end with max parallelism 128 */
static inline int raw_key(raw *r, int64_t key, const uint8_t *ukey)
{
	uint8_t k[8];
	int32_t kg;

	bw_be64(k, (uint64_t)key);
	kg = sluice_keygroup_of(SLUICE_SLICE(k, 8), 128);
	if (sluice__rdb_key_encode(
		    &r->k, sluice__rdb_kg_width(r->db), kg, SLUICE_SLICE(k, 8),
		    SLUICE_SLICE(NULL, 0)) < 0)
		return -1;
	return ukey ? sluice_buf_put(&r->k, ukey, 8) : 0;
}

#define KEY(r) SLUICE_SLICE((r)->k.ptr, (r)->k.len)

static inline int raw_setup(raw *r)
{
	sluice_rdb_options o;
	int kind = !strcmp(r->p->state, "list")  ? SLUICE_RDB_LIST
		   : !strcmp(r->p->state, "map") ? SLUICE_RDB_MAP
						 : SLUICE_RDB_VALUE;
	int64_t i;
	int j;
	uint8_t v[8], u[8];

	sluice__rdb_options_init(&o);
	/* the front end's factory gets no max parallelism: 2-byte groups */
	if (sluice__rdb_open(&r->db, &o, "raw", 0) < 0 ||
	    sluice__rdb_cf(&r->cf, r->db, "bench", kind, 0) < 0)
		return -1;
	for (i = 0; i < r->p->keys; i++) {
		bw_be64(v, (uint64_t)i);
		if (kind != SLUICE_RDB_MAP) {
			if (raw_key(r, i, NULL) < 0)
				return -1;
			sluice_buf_clear(&r->v);
			if (kind == SLUICE_RDB_LIST &&
			    sluice__rdb_list_put(&r->v, SLUICE_SLICE(v, 8)) < 0)
				return -1;
			if (kind == SLUICE_RDB_VALUE &&
			    sluice_buf_put(&r->v, v, 8) < 0)
				return -1;
			if ((kind == SLUICE_RDB_LIST ? sluice__rdb_merge
						     : sluice__rdb_put)(
				    r->db, r->cf, KEY(r),
				    SLUICE_SLICE(r->v.ptr, r->v.len)) < 0)
				return -1;
			continue;
		}
		for (j = 0; j < BW_MAP_ENTRIES; j++) {
			bw_be64(u, (uint64_t)j);
			if (raw_key(r, i, u) < 0 ||
			    sluice__rdb_put(
				    r->db, r->cf, KEY(r), SLUICE_SLICE(v, 8)) <
				    0)
				return -1;
		}
	}
	return 0;
}

static inline int raw_list_get(raw *r)
{
	sluice_slice e;
	size_t pos = 0;
	int64_t ts;
	int rc = sluice__rdb_get(r->db, r->cf, KEY(r), &r->v);

	if (rc < 0)
		return rc == SLUICE_ENOTFOUND ? 0 : -1;
	while (sluice__rdb_list_next(r->v.ptr, r->v.len, 0, &pos, &e, &ts) == 1)
		r->sink += e.len;
	return 0;
}

static inline int raw_iterate(raw *r)
{
	sluice_rdb_iter *it;

	if (sluice__rdb_iter_new(&it, r->db, r->cf, KEY(r)) < 0)
		return -1;
	for (; sluice__rdb_iter_valid(it); sluice__rdb_iter_next(it))
		r->sink += sluice__rdb_iter_value(it).len;
	sluice__rdb_iter_free(it);
	return 0;
}

BW_ALWAYS int
raw_map_op(raw *r, int64_t key, int64_t i, uint8_t *u, uint8_t *v, int op)
{
	int j, rc;

	switch (op) {
	case BW_MAP_GET:
	case BW_MAP_CONTAINS:
		if (op == BW_MAP_CONTAINS)
			bw_be64(u, (uint64_t)BW_MAP_ENTRIES + 1);
		if (raw_key(r, key, u) < 0)
			return -1;
		rc = sluice__rdb_get(r->db, r->cf, KEY(r), &r->v);
		r->sink += rc == 0 ? r->v.len : 0;
		return rc == SLUICE_ENOTFOUND ? 0 : rc;
	case BW_MAP_PUT:
		return raw_key(r, key, u) < 0 ? -1
					      : sluice__rdb_put(
							r->db, r->cf, KEY(r),
							SLUICE_SLICE(v, 8));
	case BW_MAP_REMOVE:
		return raw_key(r, key, u) < 0
			       ? -1
			       : sluice__rdb_delete(r->db, r->cf, KEY(r));
	case BW_MAP_PUT_ALL:
		for (j = 0; j < BW_MAP_ENTRIES; j++) {
			bw_be64(u, (uint64_t)j);
			if (raw_key(r, key, u) < 0 ||
			    sluice__rdb_put(
				    r->db, r->cf, KEY(r), SLUICE_SLICE(v, 8)) <
				    0)
				return -1;
		}
		return 0;
	default: /* iterate */
		(void)i;
		return raw_key(r, key, NULL) < 0 ? -1 : raw_iterate(r);
	}
}

/* Operation `op` on the raw side (a constant in raw_time's loops, as
 * bw_state_op_as is in bw_time's). */
BW_ALWAYS int raw_op_as(raw *r, int64_t i, int op)
{
	int64_t n = r->p->keys, key = r->order[i % n];
	uint8_t v[8], u[8];
	int j, rc;

	bw_be64(v, (uint64_t)i);
	bw_be64(u, (uint64_t)(i % BW_MAP_ENTRIES));
	if (op == BW_VALUE_ADD || op == BW_LIST_ADD)
		key = r->fresh[i % n];
	if (op >= BW_MAP_GET)
		return raw_map_op(r, key, i, u, v, op);
	if (raw_key(r, key, NULL) < 0)
		return -1;
	switch (op) {
	case BW_VALUE_GET:
		rc = sluice__rdb_get(r->db, r->cf, KEY(r), &r->v);
		r->sink += r->v.len;
		return rc;
	case BW_VALUE_UPDATE:
	case BW_VALUE_ADD:
		return sluice__rdb_put(
			r->db, r->cf, KEY(r), SLUICE_SLICE(v, 8));
	case BW_LIST_GET:
		return raw_list_get(r);
	default: /* list add, append, update, add-all: framed elements */
		sluice_buf_clear(&r->elems);
		for (j = 0; j < (op == BW_LIST_ADD_ALL ? BW_ADD_ALL : 1); j++)
			if (sluice__rdb_list_put(
				    &r->elems, SLUICE_SLICE(v, 8)) < 0)
				return -1;
		return (op == BW_LIST_UPDATE ? sluice__rdb_put
					     : sluice__rdb_merge)(
			r->db, r->cf, KEY(r),
			SLUICE_SLICE(r->elems.ptr, r->elems.len));
	}
}

/* Like bw_time_as: ops per second of the raw side over p->seconds. */
BW_ALWAYS double raw_time_as(raw *r, int op)
{
	int64_t i = 0, t0 = bw_now_ns();
	int64_t end = t0 + (int64_t)(r->p->seconds * 1e9);
	int64_t limit = (op == BW_VALUE_ADD || op == BW_LIST_ADD) ? r->p->keys
								  : INT64_MAX;

	for (;;) {
		int64_t k;

		for (k = 0; k < 1024 && i < limit; k++, i++)
			if (raw_op_as(r, i, op) < 0)
				return -1;
		if (i >= limit || bw_now_ns() >= end)
			break;
	}
	return (double)i * (op == BW_MAP_ITERATE ? BW_MAP_ENTRIES : 1) /
	       ((double)(bw_now_ns() - t0) / 1e9);
}

/* r->op, in a loop specialised for it (as bw_time). */
static inline double raw_time(raw *r)
{
	switch (r->op) {
#define RAW_TIME(op) \
	case op:     \
		return raw_time_as(r, op)
		RAW_TIME(BW_VALUE_GET);
		RAW_TIME(BW_VALUE_UPDATE);
		RAW_TIME(BW_VALUE_ADD);
		RAW_TIME(BW_LIST_ADD);
		RAW_TIME(BW_LIST_APPEND);
		RAW_TIME(BW_LIST_GET);
		RAW_TIME(BW_LIST_UPDATE);
		RAW_TIME(BW_LIST_ADD_ALL);
		RAW_TIME(BW_MAP_GET);
		RAW_TIME(BW_MAP_PUT);
		RAW_TIME(BW_MAP_CONTAINS);
		RAW_TIME(BW_MAP_REMOVE);
		RAW_TIME(BW_MAP_PUT_ALL);
		RAW_TIME(BW_MAP_ITERATE);
#undef RAW_TIME
	default:
		return -1;
	}
}

/* Rounds of: front end (fresh backend), then raw (fresh DB), same data. */
static inline int
bwr_run(const bw_params *p, double *ops, double *base, double *spread)
{
	double *st = calloc((size_t)p->rounds + 1, sizeof(double));
	double *bl = calloc((size_t)p->rounds + 1, sizeof(double));
	bw_ctx c;
	raw r;
	int i, rc = -1;

	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	c.p = r.p = p;
	c.op = r.op = bw_op_of(p);
	c.order = r.order = bw_shuffled(p->keys, 0, 42);
	c.fresh = r.fresh = bw_shuffled(p->keys, p->keys, 4242);
	c.values = calloc(BW_ADD_ALL, sizeof(uint64_t));
	if (!st || !bl || !c.order || !c.fresh || !c.values || c.op < 0)
		goto done;
	for (i = 0; i <= p->rounds; i++) {
		if (bw_setup(&c) < 0)
			goto done;
		st[i] = bw_time(&c, 1);
		bw_teardown(&c);
		if (raw_setup(&r) < 0)
			goto done;
		bl[i] = raw_time(&r);
		sluice__rdb_free(r.db);
		r.db = NULL;
		if (st[i] < 0 || bl[i] < 0)
			goto done;
	}
	qsort(st + 1, (size_t)p->rounds, sizeof(double), bw_cmp_double);
	qsort(bl + 1, (size_t)p->rounds, sizeof(double), bw_cmp_double);
	*ops = st[1 + p->rounds / 2];
	*base = bl[1 + p->rounds / 2];
	*spread = (st[p->rounds] - st[1]) / *ops;
	rc = 0;
done:
	sluice__rdb_free(r.db);
	sluice_buf_release(&r.k);
	sluice_buf_release(&r.v);
	sluice_buf_release(&r.elems);
	free(c.order);
	free(c.fresh);
	free(c.values);
	free(st);
	free(bl);
	return rc;
}

#endif
