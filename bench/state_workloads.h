/*
 * Keyed-state benchmark workloads (BENCHMARKS.md W1-W3, W5 sync pause),
 * ports of flink-benchmarks' ValueStateBenchmark, ListStateBenchmark and
 * MapStateBenchmark: single thread, keys 0..N-1 preloaded (8-byte keys,
 * 8-byte values), N new keys for inserts, shuffled access arrays built
 * up front with a fixed seed, 10 map entries per key, 100 values for
 * addAll.  Each workload also runs on a plain open-addressing hash map
 * over the same data in the same process: the baseline of the ratio.
 *
 * Header-only (static functions) so that bench/bench_state.c and the
 * `sluice bench state` command share one implementation.
 */
#ifndef SLUICE_BENCH_STATE_WORKLOADS_H
#define SLUICE_BENCH_STATE_WORKLOADS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/state.h"

#define BW_MAP_ENTRIES 10
#define BW_ADD_ALL     100

enum {
	BW_VALUE_GET,
	BW_VALUE_UPDATE,
	BW_VALUE_ADD,
	BW_LIST_ADD,
	BW_LIST_APPEND,
	BW_LIST_GET,
	BW_LIST_UPDATE,
	BW_LIST_ADD_ALL,
	BW_MAP_GET,
	BW_MAP_PUT,
	BW_MAP_CONTAINS,
	BW_MAP_REMOVE,
	BW_MAP_PUT_ALL,
	BW_MAP_ITERATE,
	BW_NOPS
};

static const char *const bw_names[BW_NOPS] = {
	"value:get",   "value:update", "value:add",    "list:add",
	"list:append", "list:get",     "list:update",  "list:add-all",
	"map:get",     "map:put",      "map:contains", "map:remove",
	"map:put-all", "map:iterate"};

typedef struct bw_params {
	const char *backend; /* "hashmap" */
	const char *state;   /* value | list | map */
	const char *op;
	int64_t keys;
	double seconds; /* per measured round */
	int rounds;
} bw_params;

typedef struct bw_result {
	double ops_per_sec;     /* median over rounds */
	double baseline_ops;    /* median over rounds */
	double spread;          /* (max - min) / median of the state runs */
	double bytes_per_entry; /* backend overhead beyond key and value */
} bw_result;

static inline int64_t bw_now_ns(void)
{
	return sluice_clock_mono_ns(sluice_clock_system());
}

static inline uint64_t bw_rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* shuffled 0..n-1 */
static inline int64_t *bw_shuffled(int64_t n, int64_t offset, uint64_t seed)
{
	int64_t *a = malloc((size_t)n * sizeof(*a)), i;

	if (!a)
		return NULL;
	for (i = 0; i < n; i++)
		a[i] = i + offset;
	for (i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)(bw_rng(&seed) % (uint64_t)(i + 1)),
			t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
	return a;
}

/* ---- the baseline: open addressing, 8-byte keys ---------------------- */

typedef struct bw_slot {
	uint64_t key; /* key + 1; 0 = empty */
	uint64_t val; /* value, or pointer to a vector for lists */
} bw_slot;

typedef struct bw_map {
	bw_slot *slots;
	uint64_t mask;
} bw_map;

static inline uint64_t bw_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	return k ^ (k >> 33);
}

static inline int bw_map_init(bw_map *m, int64_t n)
{
	uint64_t cap = 16;

	while (cap * 3 < (uint64_t)n * 4 + 4)
		cap <<= 1;
	m->slots = calloc(cap, sizeof(bw_slot));
	m->mask = cap - 1;
	return m->slots ? 0 : -1;
}

static inline bw_slot *bw_find(bw_map *m, uint64_t key)
{
	uint64_t i = bw_hash(key) & m->mask;

	for (;; i = (i + 1) & m->mask)
		if (m->slots[i].key == key + 1 || !m->slots[i].key)
			return &m->slots[i];
}

static inline void bw_put(bw_map *m, uint64_t key, uint64_t val)
{
	bw_slot *s = bw_find(m, key);

	s->key = key + 1;
	s->val = val;
}

/* backward-shift delete */
static inline void bw_del(bw_map *m, uint64_t key)
{
	bw_slot *s = bw_find(m, key);
	uint64_t i, j;

	if (!s->key)
		return;
	i = (uint64_t)(s - m->slots);
	m->slots[i].key = 0;
	for (j = (i + 1) & m->mask; m->slots[j].key; j = (j + 1) & m->mask) {
		uint64_t home = bw_hash(m->slots[j].key - 1) & m->mask;

		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			m->slots[j].key = 0;
			i = j;
		}
	}
}

typedef struct bw_vec {
	uint64_t n, cap;
	uint64_t v[];
} bw_vec;

static inline bw_vec *bw_vec_push(bw_vec *v, uint64_t x)
{
	if (!v || v->n == v->cap) {
		uint64_t cap = v ? v->cap * 2 : 4;
		bw_vec *nv = realloc(v, sizeof(*v) + cap * sizeof(uint64_t));

		if (!nv)
			return v;
		if (!v)
			nv->n = 0;
		nv->cap = cap;
		v = nv;
	}
	v->v[v->n++] = x;
	return v;
}

static inline void bw_map_free(bw_map *m, int vectors)
{
	uint64_t i;

	for (i = 0; vectors && i <= m->mask; i++)
		if (m->slots[i].key)
			free((void *)(uintptr_t)m->slots[i].val);
	free(m->slots);
}

/* ---- the state side ------------------------------------------------ */

typedef struct bw_ctx {
	const bw_params *p;
	sluice_keyed_backend *kb;
	sluice_state *st;
	bw_map base;
	int64_t *order;   /* shuffled existing keys */
	int64_t *fresh;   /* shuffled new keys */
	uint64_t *values; /* 100 values for add-all */
	uint64_t sink;
	int op; /* BW_* */
} bw_ctx;

/* Big-endian 8 bytes in one store (byte-wise stores read back as one
 * 8-byte load stall store forwarding and serialise the operations). */
static inline void bw_be64(uint8_t *b, uint64_t v)
{
	v = __builtin_bswap64(v);
	memcpy(b, &v, 8);
}

static inline int bw_set_key(bw_ctx *c, int64_t key)
{
	uint8_t k[8];

	bw_be64(k, (uint64_t)key);
	return sluice_keyed_backend_set_key(c->kb, SLUICE_SLICE(k, 8));
}

/* Create backend + baseline with the preloaded data. */
static inline int bw_setup(bw_ctx *c)
{
	sluice_keyed_options o;
	sluice_state_desc d;
	int64_t i;
	int j;
	uint8_t v[8];

	sluice_keyed_options_init(&o);
	o.backend = c->p->backend;
	memset(&d, 0, sizeof(d));
	d.name = "bench";
	d.kind = !strcmp(c->p->state, "list")  ? SLUICE_STATE_LIST
		 : !strcmp(c->p->state, "map") ? SLUICE_STATE_MAP
					       : SLUICE_STATE_VALUE;
	if (sluice_keyed_backend_new(&c->kb, &o) < 0 ||
	    sluice_keyed_backend_state(&c->st, c->kb, &d) < 0 ||
	    bw_map_init(
		    &c->base,
		    c->p->keys * (d.kind == SLUICE_STATE_MAP ? BW_MAP_ENTRIES
							     : 2)) < 0)
		return -1;
	for (i = 0; i < c->p->keys; i++) {
		if (bw_set_key(c, i) < 0)
			return -1;
		bw_be64(v, (uint64_t)i);
		if (d.kind == SLUICE_STATE_VALUE) {
			if (sluice_value_update(c->st, SLUICE_SLICE(v, 8)) < 0)
				return -1;
			bw_put(&c->base, (uint64_t)i, (uint64_t)i);
		} else if (d.kind == SLUICE_STATE_LIST) {
			if (sluice_list_add(c->st, SLUICE_SLICE(v, 8)) < 0)
				return -1;
			bw_put(&c->base, (uint64_t)i,
			       (uintptr_t)bw_vec_push(NULL, (uint64_t)i));
		} else {
			for (j = 0; j < BW_MAP_ENTRIES; j++) {
				uint8_t u[8];

				bw_be64(u, (uint64_t)j);
				if (sluice_map_put(
					    c->st, SLUICE_SLICE(u, 8),
					    SLUICE_SLICE(v, 8)) < 0)
					return -1;
				bw_put(&c->base,
				       (uint64_t)i * BW_MAP_ENTRIES +
					       (uint64_t)j,
				       (uint64_t)i);
			}
		}
	}
	return 0;
}

static inline void bw_teardown(bw_ctx *c)
{
	sluice_keyed_backend_free(c->kb);
	c->kb = NULL;
	bw_map_free(&c->base, !strcmp(c->p->state, "list"));
	memset(&c->base, 0, sizeof(c->base));
}

static inline int bw_iter_sum(void *ctx, sluice_slice k, sluice_slice v)
{
	(void)k;
	*(uint64_t *)ctx += v.len;
	return 0;
}

#define BW_ALWAYS static inline __attribute__((always_inline))

/*
 * One operation `op` on the state, for access number i.  Timing loops
 * call it with a constant op, so each loop holds only that operation's
 * code (bw_time): one function serving every operation would cost the
 * state side alone an out-of-line call with a frame for all of them.
 */
BW_ALWAYS int bw_state_op_as(bw_ctx *c, int64_t i, int op)
{
	int64_t n = c->p->keys, key = c->order[i % n];
	uint8_t v[8], u[8];
	sluice_slice s;

	bw_be64(v, (uint64_t)i);
	bw_be64(u, (uint64_t)(i % BW_MAP_ENTRIES));
	if (op == BW_VALUE_ADD || op == BW_LIST_ADD)
		key = c->fresh[i % n];
	if (bw_set_key(c, key) < 0)
		return -1;
	switch (op) {
	case BW_VALUE_GET:
		if (sluice_value_get(c->st, &s) < 0)
			return -1;
		c->sink += s.len;
		return 0;
	case BW_VALUE_UPDATE:
	case BW_VALUE_ADD:
		return sluice_value_update(c->st, SLUICE_SLICE(v, 8));
	case BW_LIST_ADD:
	case BW_LIST_APPEND:
		return sluice_list_add(c->st, SLUICE_SLICE(v, 8));
	case BW_LIST_GET: {
		sluice_list_iter it;

		if (sluice_list_get(c->st, &it) < 0)
			return -1;
		while (sluice_list_next(&it, &s))
			c->sink += s.len;
		return 0;
	}
	case BW_LIST_UPDATE:
		s = SLUICE_SLICE(v, 8);
		return sluice_list_update(c->st, &s, 1);
	case BW_LIST_ADD_ALL: {
		sluice_slice all[BW_ADD_ALL];
		int j;

		for (j = 0; j < BW_ADD_ALL; j++)
			all[j] = SLUICE_SLICE(&c->values[j], 8);
		return sluice_list_add_all(c->st, all, BW_ADD_ALL);
	}
	case BW_MAP_GET:
		if (sluice_map_get(c->st, SLUICE_SLICE(u, 8), &s) < 0)
			return -1;
		c->sink += s.len;
		return 0;
	case BW_MAP_PUT:
		return sluice_map_put(
			c->st, SLUICE_SLICE(u, 8), SLUICE_SLICE(v, 8));
	case BW_MAP_CONTAINS:
		bw_be64(u, (uint64_t)BW_MAP_ENTRIES + 1); /* a miss */
		c->sink += (uint64_t)sluice_map_contains(
			c->st, SLUICE_SLICE(u, 8));
		return 0;
	case BW_MAP_REMOVE:
		return sluice_map_remove(c->st, SLUICE_SLICE(u, 8));
	case BW_MAP_PUT_ALL: {
		sluice_slice ks[BW_MAP_ENTRIES], vs[BW_MAP_ENTRIES];
		uint8_t kb[BW_MAP_ENTRIES][8];
		int j;

		for (j = 0; j < BW_MAP_ENTRIES; j++) {
			bw_be64(kb[j], (uint64_t)j);
			ks[j] = SLUICE_SLICE(kb[j], 8);
			vs[j] = SLUICE_SLICE(v, 8);
		}
		return sluice_map_put_all(c->st, ks, vs, BW_MAP_ENTRIES);
	}
	default: /* BW_MAP_ITERATE */
		return sluice_map_foreach(c->st, bw_iter_sum, &c->sink);
	}
}

/* The operation the context is set up for (any op; not for timing). */
static inline int bw_state_op(bw_ctx *c, int64_t i)
{
	return bw_state_op_as(c, i, c->op);
}

/* The same operation on the baseline map. */
BW_ALWAYS void bw_base_op_as(bw_ctx *c, int64_t i, int op)
{
	int64_t n = c->p->keys;
	uint64_t key = (uint64_t)c->order[i % n], j;
	uint64_t base = key * BW_MAP_ENTRIES, u = (uint64_t)i % BW_MAP_ENTRIES;
	bw_slot *s;
	bw_vec *v;

	if (op == BW_VALUE_ADD || op == BW_LIST_ADD)
		key = (uint64_t)c->fresh[i % n];
	switch (op) {
	case BW_VALUE_GET:
		c->sink += bw_find(&c->base, key)->val;
		return;
	case BW_VALUE_UPDATE:
	case BW_VALUE_ADD:
		bw_put(&c->base, key, (uint64_t)i);
		return;
	case BW_LIST_ADD:
	case BW_LIST_APPEND:
	case BW_LIST_GET:
	case BW_LIST_UPDATE:
	case BW_LIST_ADD_ALL:
		s = bw_find(&c->base, key);
		v = s->key ? (bw_vec *)(uintptr_t)s->val : NULL;
		s->key = key + 1;
		if (op == BW_LIST_GET) {
			for (j = 0; v && j < v->n; j++)
				c->sink += v->v[j];
			s->val = (uintptr_t)v;
			return;
		}
		if (op == BW_LIST_UPDATE && v)
			v->n = 0;
		if (op == BW_LIST_ADD_ALL)
			for (j = 0; j < BW_ADD_ALL; j++)
				v = bw_vec_push(v, c->values[j]);
		else
			v = bw_vec_push(v, (uint64_t)i);
		s->val = (uintptr_t)v;
		return;
	case BW_MAP_GET:
		c->sink += bw_find(&c->base, base + u)->val;
		return;
	case BW_MAP_PUT:
		bw_put(&c->base, base + u, (uint64_t)i);
		return;
	case BW_MAP_CONTAINS:
		c->sink += bw_find(&c->base, (uint64_t)-1 - key)->key != 0;
		return;
	case BW_MAP_REMOVE:
		bw_del(&c->base, base + u);
		return;
	case BW_MAP_PUT_ALL:
		for (j = 0; j < BW_MAP_ENTRIES; j++)
			bw_put(&c->base, base + j, (uint64_t)i);
		return;
	default: /* iterate */
		for (j = 0; j < BW_MAP_ENTRIES; j++)
			c->sink += bw_find(&c->base, base + j)->val;
	}
}

/* Ops counted per call: iterate counts map entries (Flink: per entry). */
static inline double bw_weight(const bw_ctx *c)
{
	return c->op == BW_MAP_ITERATE ? BW_MAP_ENTRIES : 1;
}

/* Operation `op` on one side for p->seconds (at most n ops for inserts);
 * ops per second.  Both sides get the same loop around their operation. */
BW_ALWAYS double bw_time_as(bw_ctx *c, int state_side, int op)
{
	int64_t end, i = 0, t0 = bw_now_ns(), t1;
	int64_t limit = (op == BW_VALUE_ADD || op == BW_LIST_ADD) ? c->p->keys
								  : INT64_MAX;

	end = t0 + (int64_t)(c->p->seconds * 1e9);
	for (;;) {
		int64_t k;

		for (k = 0; k < 1024 && i < limit; k++, i++) {
			if (state_side) {
				if (bw_state_op_as(c, i, op) < 0)
					return -1;
			} else {
				bw_base_op_as(c, i, op);
			}
		}
		if (i >= limit || bw_now_ns() >= end)
			break;
	}
	t1 = bw_now_ns();
	return (double)i * bw_weight(c) / ((double)(t1 - t0) / 1e9);
}

/* c->op on one side: a loop specialised for that operation. */
static inline double bw_time(bw_ctx *c, int state_side)
{
	switch (c->op) {
#define BW_TIME(op) \
	case op:    \
		return state_side ? bw_time_as(c, 1, op) : bw_time_as(c, 0, op)
		BW_TIME(BW_VALUE_GET);
		BW_TIME(BW_VALUE_UPDATE);
		BW_TIME(BW_VALUE_ADD);
		BW_TIME(BW_LIST_ADD);
		BW_TIME(BW_LIST_APPEND);
		BW_TIME(BW_LIST_GET);
		BW_TIME(BW_LIST_UPDATE);
		BW_TIME(BW_LIST_ADD_ALL);
		BW_TIME(BW_MAP_GET);
		BW_TIME(BW_MAP_PUT);
		BW_TIME(BW_MAP_CONTAINS);
		BW_TIME(BW_MAP_REMOVE);
		BW_TIME(BW_MAP_PUT_ALL);
		BW_TIME(BW_MAP_ITERATE);
#undef BW_TIME
	default:
		return -1;
	}
}

static inline int bw_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The BW_* of state:op, or -1. */
static inline int bw_op_of(const bw_params *p)
{
	char want[64];
	int i;

	snprintf(want, sizeof(want), "%s:%s", p->state, p->op);
	for (i = 0; i < BW_NOPS; i++)
		if (!strcmp(bw_names[i], want))
			return i;
	return -1;
}

static inline int bw_valid(const bw_params *p)
{
	return bw_op_of(p) >= 0;
}

/*
 * Run one workload: a warm-up round, then p->rounds measured rounds; a
 * round sets up fresh state and baseline (not timed), times the state
 * side, then the baseline side on the same data.  0 or -1 (last error set
 * when the library failed).
 */
static inline int bw_run(const bw_params *p, bw_result *out)
{
	bw_ctx c;
	double *st, *bl;
	int r, rc = -1;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	c.p = p;
	if ((c.op = bw_op_of(p)) < 0)
		return -1;
	c.order = bw_shuffled(p->keys, 0, 42);
	c.fresh = bw_shuffled(p->keys, p->keys, 4242);
	c.values = malloc(BW_ADD_ALL * sizeof(uint64_t));
	st = calloc((size_t)p->rounds + 1, sizeof(double));
	bl = calloc((size_t)p->rounds + 1, sizeof(double));
	if (!c.order || !c.fresh || !c.values || !st || !bl)
		goto done;
	for (r = 0; r < BW_ADD_ALL; r++)
		c.values[r] = (uint64_t)r * 7919;
	for (r = 0; r <= p->rounds; r++) {
		if (bw_setup(&c) < 0)
			goto done;
		if (r == p->rounds) { /* memory of the preloaded state */
			double entries =
				(double)p->keys *
				(!strcmp(p->state, "map") ? BW_MAP_ENTRIES : 1);
			double payload = !strcmp(p->state, "map")    ? 8 + 8 + 8
					 : !strcmp(p->state, "list") ? 8 + 8 + 4
								     : 16;

			out->bytes_per_entry =
				(double)sluice_keyed_backend_memory(c.kb) /
					entries -
				payload;
		}
		st[r] = bw_time(&c, 1);
		bl[r] = bw_time(&c, 0);
		bw_teardown(&c);
		if (st[r] < 0)
			goto done;
	}
	/* round 0 was the warm-up */
	qsort(st + 1, (size_t)p->rounds, sizeof(double), bw_cmp_double);
	qsort(bl + 1, (size_t)p->rounds, sizeof(double), bw_cmp_double);
	out->ops_per_sec = st[1 + p->rounds / 2];
	out->baseline_ops = bl[1 + p->rounds / 2];
	out->spread = (st[p->rounds] - st[1]) / out->ops_per_sec;
	rc = 0;
done:
	if (c.kb)
		bw_teardown(&c);
	free(c.order);
	free(c.fresh);
	free(c.values);
	free(st);
	free(bl);
	return rc;
}

/*
 * W5 sync pause: `keys` keys in a value state; the synchronous phase of a
 * snapshot is timed `rounds` times (each followed by an async write to a
 * memory stream so copy-on-write is exercised, and some updates).  Median
 * and maximum in nanoseconds; write throughput in bytes per second.
 */
static inline int bw_sync_pause(
	int64_t keys,
	int rounds,
	int64_t *median_ns,
	int64_t *max_ns,
	double *write_bps)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb = NULL;
	sluice_state *st;
	sluice_state_desc d = {.name = "w5", .kind = SLUICE_STATE_VALUE};
	int64_t *t = calloc((size_t)rounds, sizeof(int64_t)), i, wbytes = 0,
		wns = 0;
	uint8_t v[8];
	int r, rc = -1;

	sluice_keyed_options_init(&o);
	if (!t || sluice_keyed_backend_new(&kb, &o) < 0 ||
	    sluice_keyed_backend_state(&st, kb, &d) < 0)
		goto done;
	for (i = 0; i < keys; i++) {
		uint8_t k[8];

		bw_be64(k, (uint64_t)i);
		bw_be64(v, (uint64_t)i);
		if (sluice_keyed_backend_set_key(kb, SLUICE_SLICE(k, 8)) < 0 ||
		    sluice_value_update(st, SLUICE_SLICE(v, 8)) < 0)
			goto done;
	}
	for (r = 0; r < rounds; r++) {
		sluice_keyed_snapshot *s;
		sluice_ostream *os;
		sluice_keyed_handle *h = NULL;
		int64_t t0 = bw_now_ns(), t1;

		if (sluice_keyed_snapshot_sync(&s, kb) < 0)
			goto done;
		t[r] = bw_now_ns() - t0;
		for (i = 0; i < keys / 100; i++) { /* 1 % changed */
			uint8_t k[8];

			bw_be64(k, (uint64_t)(i * 100 + r));
			if (sluice_keyed_backend_set_key(
				    kb, SLUICE_SLICE(k, 8)) < 0 ||
			    sluice_value_update(st, SLUICE_SLICE(v, 8)) < 0)
				goto done;
		}
		t0 = bw_now_ns();
		if (sluice_mem_ostream_new(&os, "w5") < 0 ||
		    sluice_keyed_snapshot_write(s, os, &h) < 0) {
			sluice_keyed_snapshot_free(s);
			goto done;
		}
		t1 = bw_now_ns();
		wbytes += h ? (int64_t)h->stream->size : 0;
		wns += t1 - t0;
		sluice_keyed_handle_free(h);
		sluice_keyed_snapshot_free(s);
	}
	{
		int64_t *sorted = t;
		int a, b;

		for (a = 1; a < rounds; a++) /* insertion sort: few rounds */
			for (b = a; b > 0 && sorted[b - 1] > sorted[b]; b--) {
				int64_t x = sorted[b];

				sorted[b] = sorted[b - 1];
				sorted[b - 1] = x;
			}
		*median_ns = sorted[rounds / 2];
		*max_ns = sorted[rounds - 1];
	}
	*write_bps = wns ? (double)wbytes / ((double)wns / 1e9) : 0;
	rc = 0;
done:
	sluice_keyed_backend_free(kb);
	free(t);
	return rc;
}

#endif
