/*
 * Contract tests for keyed state backends, parameterised by the factory
 * in contract_factory: the byte-level interface (get/put/merge/remove,
 * maps, iteration, incremental cleanup), frozen snapshot views (also
 * while another thread reads them and the task thread keeps writing) and,
 * through the front end, snapshot/restore with rescaling.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_backend.h"
#include "util/hash.h"

sluice_backend_factory contract_factory;
void *contract_factory_ctx;

#define MAXP 128

typedef struct kbuf {
	char key[32];
	char ns[16];
	sluice_state_key k;
} kbuf;

static const sluice_state_key *mk(kbuf *b, const char *key, const char *ns)
{
	snprintf(b->key, sizeof(b->key), "%s", key);
	snprintf(b->ns, sizeof(b->ns), "%s", ns);
	b->k.key = SLUICE_SLICE(b->key, strlen(b->key));
	b->k.ns = SLUICE_SLICE(b->ns, strlen(b->ns));
	b->k.key_group = sluice_keygroup_of(b->k.key, MAXP);
	b->k.hash = (uint32_t)sluice__fmix64(
		((uint64_t)sluice__hash32(b->key, strlen(b->key)) << 32) ^
		sluice__xxh3(b->ns, strlen(b->ns)));
	return &b->k;
}

static sluice_slice S(const char *s)
{
	return SLUICE_SLICE(s, strlen(s));
}

static int eq(sluice_slice a, const char *s)
{
	return a.len == strlen(s) && !memcmp(a.data, s, a.len);
}

static int setup(void **state)
{
	sluice_backend *b;

	assert_int_equal(contract_factory(&b, contract_factory_ctx), 0);
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	sluice_backend *b = *state;

	b->free(b);
	return 0;
}

static sluice_backend_state *
reg(sluice_backend *b, const char *name, sluice_backend_shape shape)
{
	sluice_backend_state *st = NULL;

	assert_int_equal(b->register_state(b, name, shape, &st), 0);
	assert_non_null(st);
	return st;
}

static void test_backend__put_get_remove(void **state)
{
	sluice_backend *b = *state;
	sluice_backend_state *st = reg(b, "v", SLUICE_SHAPE_FLAT);
	kbuf kb;
	sluice_slice v;

	assert_int_equal(
		b->get(b, st, mk(&kb, "k1", ""), &v), SLUICE_ENOTFOUND);
	assert_int_equal(b->put(b, st, mk(&kb, "k1", ""), S("one")), 0);
	assert_int_equal(b->get(b, st, mk(&kb, "k1", ""), &v), 0);
	assert_true(eq(v, "one"));
	assert_int_equal(
		b->put(b, st, mk(&kb, "k1", ""), S("a longer value")), 0);
	assert_int_equal(b->get(b, st, mk(&kb, "k1", ""), &v), 0);
	assert_true(eq(v, "a longer value"));
	assert_int_equal(b->put(b, st, mk(&kb, "k1", ""), S("")), 0);
	assert_int_equal(b->get(b, st, mk(&kb, "k1", ""), &v), 0);
	assert_int_equal(v.len, 0); /* empty is not absent */
	assert_int_equal(b->count(b, st), 1);
	assert_int_equal(b->remove(b, st, mk(&kb, "k1", "")), 0);
	assert_int_equal(
		b->get(b, st, mk(&kb, "k1", ""), &v), SLUICE_ENOTFOUND);
	assert_int_equal(b->remove(b, st, mk(&kb, "k1", "")), 0);
	assert_int_equal(b->count(b, st), 0);
}

static void test_backend__namespaces_and_states_are_separate(void **state)
{
	sluice_backend *b = *state;
	sluice_backend_state *a = reg(b, "a", SLUICE_SHAPE_FLAT);
	sluice_backend_state *c = reg(b, "c", SLUICE_SHAPE_FLAT);
	sluice_backend_state *again = NULL;
	kbuf kb;
	sluice_slice v;

	assert_int_equal(b->put(b, a, mk(&kb, "k", "n1"), S("a-n1")), 0);
	assert_int_equal(b->put(b, a, mk(&kb, "k", "n2"), S("a-n2")), 0);
	assert_int_equal(b->put(b, c, mk(&kb, "k", "n1"), S("c-n1")), 0);
	assert_int_equal(b->get(b, a, mk(&kb, "k", "n1"), &v), 0);
	assert_true(eq(v, "a-n1"));
	assert_int_equal(b->get(b, a, mk(&kb, "k", "n2"), &v), 0);
	assert_true(eq(v, "a-n2"));
	assert_int_equal(b->get(b, c, mk(&kb, "k", "n1"), &v), 0);
	assert_true(eq(v, "c-n1"));
	assert_int_equal(
		b->get(b, c, mk(&kb, "k", "n2"), &v), SLUICE_ENOTFOUND);
	assert_int_equal(
		b->register_state(b, "a", SLUICE_SHAPE_FLAT, &again), 0);
	assert_ptr_equal(again, a);
	assert_int_equal(
		b->register_state(b, "a", SLUICE_SHAPE_MAP, &again),
		SLUICE_EINVALID);
}

static void test_backend__merge_appends_and_creates(void **state)
{
	sluice_backend *b = *state;
	sluice_backend_state *st = reg(b, "l", SLUICE_SHAPE_FLAT);
	kbuf kb;
	sluice_slice v;
	int i;

	assert_int_equal(b->merge(b, st, mk(&kb, "k", ""), S("ab")), 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(b->merge(b, st, mk(&kb, "k", ""), S("c")), 0);
	assert_int_equal(b->get(b, st, mk(&kb, "k", ""), &v), 0);
	assert_int_equal(v.len, 102);
	assert_memory_equal(v.data, "abccc", 5);
}

static int count_cb(void *ctx, const sluice_backend_entry *e)
{
	(void)e;
	(*(size_t *)ctx)++;
	return 0;
}

static void test_backend__map_entries(void **state)
{
	sluice_backend *b = *state;
	sluice_backend_state *st = reg(b, "m", SLUICE_SHAPE_MAP);
	kbuf kb;
	sluice_slice v;
	size_t n = 0;
	char uk[16];
	int i;

	assert_int_equal(
		b->map_get(b, st, mk(&kb, "k", ""), S("x"), &v),
		SLUICE_ENOTFOUND);
	for (i = 0; i < 50; i++) {
		snprintf(uk, sizeof(uk), "u%d", i);
		assert_int_equal(
			b->map_put(b, st, mk(&kb, "k", ""), S(uk), S(uk)), 0);
	}
	assert_int_equal(
		b->map_put(b, st, mk(&kb, "k", ""), S("u7"), S("seven")), 0);
	assert_int_equal(b->map_get(b, st, mk(&kb, "k", ""), S("u7"), &v), 0);
	assert_true(eq(v, "seven"));
	assert_int_equal(
		b->map_iterate(b, st, mk(&kb, "k", ""), count_cb, &n), 0);
	assert_int_equal(n, 50);
	assert_int_equal(b->count(b, st), 1);
	for (i = 0; i < 50; i++) {
		snprintf(uk, sizeof(uk), "u%d", i);
		assert_int_equal(
			b->map_remove(b, st, mk(&kb, "k", ""), S(uk)), 0);
	}
	assert_int_equal(b->map_remove(b, st, mk(&kb, "k", ""), S("u1")), 0);
	assert_int_equal(b->count(b, st), 0); /* empty map is absent */
	n = 0;
	assert_int_equal(
		b->map_iterate(b, st, mk(&kb, "k", ""), count_cb, &n), 0);
	assert_int_equal(n, 0);
}

static void test_backend__iterate_filters_namespace(void **state)
{
	sluice_backend *b = *state;
	sluice_backend_state *st = reg(b, "v", SLUICE_SHAPE_FLAT);
	sluice_slice ns = S("w");
	kbuf kb;
	char key[16];
	size_t n = 0;
	int i;

	for (i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		assert_int_equal(
			b->put(b, st, mk(&kb, key, i % 3 ? "v" : "w"), S("x")),
			0);
	}
	assert_int_equal(b->iterate(b, st, &ns, count_cb, &n), 0);
	assert_int_equal(n, 10);
	n = 0;
	assert_int_equal(b->iterate(b, st, NULL, count_cb, &n), 0);
	assert_int_equal(n, 30);
}

static void test_backend__many_keys_survive_growth_and_removal(void **state)
{
	sluice_backend *b = *state;
	sluice_backend_state *st = reg(b, "v", SLUICE_SHAPE_FLAT);
	kbuf kb;
	char key[16];
	sluice_slice v;
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "%d", i);
		assert_int_equal(b->put(b, st, mk(&kb, key, ""), S(key)), 0);
	}
	for (i = 0; i < 20000; i += 2) {
		snprintf(key, sizeof(key), "%d", i);
		assert_int_equal(b->remove(b, st, mk(&kb, key, "")), 0);
	}
	assert_int_equal(b->count(b, st), 10000);
	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "%d", i);
		if (i % 2) {
			assert_int_equal(
				b->get(b, st, mk(&kb, key, ""), &v), 0);
			assert_true(eq(v, key));
		} else {
			assert_int_equal(
				b->get(b, st, mk(&kb, key, ""), &v),
				SLUICE_ENOTFOUND);
		}
	}
}

static int drop_x(void *ctx, sluice_slice v, sluice_slice *rep)
{
	(void)ctx;
	(void)rep;
	return v.len && ((const char *)v.data)[0] == 'x' ? SLUICE_FILTER_DROP
							 : SLUICE_FILTER_KEEP;
}

static void test_backend__cleanup_step_visits_a_bounded_number(void **state)
{
	sluice_backend *b = *state;
	sluice_backend_state *st = reg(b, "v", SLUICE_SHAPE_FLAT);
	kbuf kb;
	char key[16];
	int i;

	if (!b->cleanup_step)
		skip();
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "%d", i);
		assert_int_equal(
			b->put(b, st, mk(&kb, key, ""), S(i < 60 ? "x" : "y")),
			0);
	}
	assert_int_equal(b->cleanup_step(b, st, 10, drop_x, NULL), 0);
	assert_true(b->count(b, st) >= 90);
	for (i = 0; i < 20; i++)
		assert_int_equal(b->cleanup_step(b, st, 10, drop_x, NULL), 0);
	assert_int_equal(b->count(b, st), 40);
}

/* ---- snapshots ---- */

typedef struct collect {
	uint64_t sum; /* order-independent digest of entries */
	size_t n;
	int ordered;
	char last[64];
	size_t last_len;
	int32_t kg;
} collect;

static int collect_cb(void *ctx, const sluice_backend_entry *e)
{
	collect *c = ctx;
	uint64_t h = sluice__xxh3(e->key.data, e->key.len) * 31 +
		     sluice__xxh3(e->ukey.data, e->ukey.len) * 7 +
		     sluice__xxh3(e->value.data, e->value.len);

	c->sum += sluice__fmix64(h);
	c->n++;
	if (e->key_group != c->kg)
		c->ordered = 0;
	if (c->last_len && e->key.len <= sizeof(c->last)) {
		size_t m = e->key.len < c->last_len ? e->key.len : c->last_len;
		int r = memcmp(c->last, e->key.data, m);

		if (r > 0 || (r == 0 && c->last_len > e->key.len))
			c->ordered = 0;
	}
	if (e->key.len <= sizeof(c->last)) {
		memcpy(c->last, e->key.data, e->key.len);
		c->last_len = e->key.len;
	}
	return 0;
}

static void snap_collect(
	sluice_backend *b, sluice_backend_snapshot *s, size_t idx, collect *c)
{
	int32_t kg;

	memset(c, 0, sizeof(*c));
	c->ordered = 1;
	for (kg = 0; kg < MAXP; kg++) {
		c->kg = kg;
		c->last_len = 0;
		assert_int_equal(
			b->snapshot_iterate(s, idx, kg, collect_cb, c), 0);
	}
}

static uint64_t expect_sum(int n, const char *fmt, int from)
{
	uint64_t sum = 0;
	char key[16], val[16];
	int i;

	for (i = from; i < n; i++) {
		snprintf(key, sizeof(key), "%d", i);
		snprintf(val, sizeof(val), fmt, i);
		sum += sluice__fmix64(
			sluice__xxh3(key, strlen(key)) * 31 +
			sluice__xxh3(NULL, 0) * 7 +
			sluice__xxh3(val, strlen(val)));
	}
	return sum;
}

static void
fill(sluice_backend *b,
     sluice_backend_state *st,
     int from,
     int n,
     const char *fmt)
{
	kbuf kb;
	char key[16], val[16];
	int i;

	for (i = from; i < n; i++) {
		snprintf(key, sizeof(key), "%d", i);
		snprintf(val, sizeof(val), fmt, i);
		assert_int_equal(b->put(b, st, mk(&kb, key, ""), S(val)), 0);
	}
}

static void test_backend__snapshot_view_is_frozen(void **state)
{
	sluice_backend *b = *state;
	sluice_backend_state *st = reg(b, "v", SLUICE_SHAPE_FLAT);
	sluice_backend_snapshot *s1, *s2;
	collect c;
	kbuf kb;

	fill(b, st, 0, 3000, "a%d");
	assert_int_equal(b->snapshot_sync(b, &s1), 0);
	fill(b, st, 0, 3000, "bb%d");   /* overwrite */
	fill(b, st, 3000, 9000, "n%d"); /* insert, forcing growth */
	assert_int_equal(b->remove(b, st, mk(&kb, "5", "")), 0);
	assert_int_equal(b->snapshot_sync(b, &s2), 0);
	fill(b, st, 0, 100, "c%d");
	snap_collect(b, s1, 0, &c);
	assert_int_equal(c.n, 3000);
	assert_true(c.ordered);
	assert_true(c.sum == expect_sum(3000, "a%d", 0));
	b->snapshot_release(s1);
	snap_collect(b, s2, 0, &c);
	assert_int_equal(c.n, 8999);
	b->snapshot_release(s2);
	/* key "5" was removed before s2 and re-added after it */
	assert_int_equal(b->count(b, st), 9000);
}

static void test_backend__snapshot_of_map_state_is_frozen(void **state)
{
	sluice_backend *b = *state;
	sluice_backend_state *st = reg(b, "m", SLUICE_SHAPE_MAP);
	sluice_backend_snapshot *s;
	collect c;
	kbuf kb;
	char key[16];
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "%d", i % 20);
		assert_int_equal(
			b->map_put(
				b, st, mk(&kb, key, ""), S(key + 0), S("v1")),
			0);
		snprintf(key + 8, 8, "%d", i);
		assert_int_equal(
			b->map_put(
				b, st, mk(&kb, key, ""), S(key + 8), S("v1")),
			0);
	}
	assert_int_equal(b->snapshot_sync(b, &s), 0);
	snap_collect(b, s, 0, &c);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "%d", i);
		assert_int_equal(
			b->map_put(b, st, mk(&kb, key, ""), S("new"), S("v2")),
			0);
		assert_int_equal(
			b->map_remove(b, st, mk(&kb, key, ""), S(key)), 0);
	}
	{
		collect again;

		snap_collect(b, s, 0, &again);
		assert_int_equal(again.n, c.n);
		assert_true(again.sum == c.sum);
	}
	b->snapshot_release(s);
}

typedef struct race {
	sluice_backend *b;
	sluice_backend_snapshot *s;
	collect c;
} race;

static void *snapshot_thread(void *arg)
{
	race *r = arg;
	int32_t kg;

	memset(&r->c, 0, sizeof(r->c));
	for (kg = 0; kg < MAXP; kg++)
		if (r->b->snapshot_iterate(r->s, 0, kg, collect_cb, &r->c) < 0)
			break;
	r->b->snapshot_release(r->s);
	return NULL;
}

static void test_backend__snapshot_isolated_from_concurrent_writes(void **state)
{
	sluice_backend *b = *state;
	sluice_backend_state *st = reg(b, "v", SLUICE_SHAPE_FLAT);
	pthread_t t;
	race r;
	kbuf kb;
	char key[16];
	int round, i;

	fill(b, st, 0, 20000, "r0-%d");
	for (round = 1; round <= 3; round++) {
		char fmt[16];
		uint64_t want;

		snprintf(fmt, sizeof(fmt), "r%d-%%d", round - 1);
		want = expect_sum(20000, fmt, 0);
		r.b = b;
		assert_int_equal(b->snapshot_sync(b, &r.s), 0);
		assert_int_equal(
			pthread_create(&t, NULL, snapshot_thread, &r), 0);
		/* the task thread keeps writing: updates, inserts, removes */
		snprintf(fmt, sizeof(fmt), "r%d-%%d", round);
		fill(b, st, 0, 20000, fmt);
		fill(b, st, 20000, 20000 + 5000 * round, "extra%d");
		for (i = 20000; i < 20000 + 5000 * round; i++) {
			snprintf(key, sizeof(key), "%d", i);
			assert_int_equal(b->remove(b, st, mk(&kb, key, "")), 0);
		}
		pthread_join(t, NULL);
		assert_int_equal(r.c.n, 20000);
		assert_true(r.c.sum == want);
	}
}

/* ---- through the front end: snapshot, restore, rescale ---- */

static sluice_keyed_backend *front(int32_t p, int32_t idx)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb = NULL;

	sluice_keyed_options_init(&o);
	o.factory = contract_factory;
	o.factory_ctx = contract_factory_ctx;
	o.parallelism = p;
	o.max_parallelism = MAXP;
	o.subtask = idx;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), 0);
	return kb;
}

static const sluice_state_desc vdesc = {
	.name = "count", .kind = SLUICE_STATE_VALUE};
static const sluice_state_desc mdesc = {
	.name = "attrs", .kind = SLUICE_STATE_MAP};
static const sluice_state_desc ldesc = {
	.name = "events", .kind = SLUICE_STATE_LIST};

#define NKEYS 2000

/* Put the keys of [0, NKEYS) this subtask owns. */
static void populate(sluice_keyed_backend *kb)
{
	sluice_state *v, *m, *l;
	int32_t lo, hi;
	char key[16];
	int i;

	sluice_keyed_backend_range(kb, &lo, &hi);
	assert_int_equal(sluice_keyed_backend_state(&v, kb, &vdesc), 0);
	assert_int_equal(sluice_keyed_backend_state(&m, kb, &mdesc), 0);
	assert_int_equal(sluice_keyed_backend_state(&l, kb, &ldesc), 0);
	for (i = 0; i < NKEYS; i++) {
		int32_t kg;

		snprintf(key, sizeof(key), "user-%d", i);
		kg = sluice_keygroup_of(S(key), MAXP);
		if (kg < lo || kg > hi)
			continue;
		assert_int_equal(sluice_keyed_backend_set_key(kb, S(key)), 0);
		assert_int_equal(sluice_value_put_i64(v, i), 0);
		assert_int_equal(sluice_map_put(m, S("k"), S(key)), 0);
		assert_int_equal(sluice_list_add(l, S("e1")), 0);
		assert_int_equal(sluice_list_add(l, S(key)), 0);
	}
}

/* Check every key this subtask owns is restored, and count them. */
static int verify(sluice_keyed_backend *kb)
{
	sluice_state *v, *m, *l;
	int32_t lo, hi;
	char key[16];
	int i, n = 0;

	sluice_keyed_backend_range(kb, &lo, &hi);
	assert_int_equal(sluice_keyed_backend_state(&v, kb, &vdesc), 0);
	assert_int_equal(sluice_keyed_backend_state(&m, kb, &mdesc), 0);
	assert_int_equal(sluice_keyed_backend_state(&l, kb, &ldesc), 0);
	for (i = 0; i < NKEYS; i++) {
		int32_t kg;
		int64_t x;
		sluice_slice s;
		sluice_list_iter it;

		snprintf(key, sizeof(key), "user-%d", i);
		kg = sluice_keygroup_of(S(key), MAXP);
		if (kg < lo || kg > hi)
			continue;
		assert_int_equal(sluice_keyed_backend_set_key(kb, S(key)), 0);
		assert_int_equal(sluice_value_get_i64(v, &x), 0);
		assert_int_equal(x, i);
		assert_int_equal(sluice_map_get(m, S("k"), &s), 0);
		assert_true(eq(s, key));
		assert_int_equal(sluice_list_get(l, &it), 0);
		assert_int_equal(it.count, 2);
		assert_int_equal(sluice_list_next(&it, &s), 1);
		assert_true(eq(s, "e1"));
		assert_int_equal(sluice_list_next(&it, &s), 1);
		assert_true(eq(s, key));
		n++;
	}
	return n;
}

static int count_key(void *ctx, sluice_slice key, sluice_slice ns)
{
	(void)key;
	(void)ns;
	(*(size_t *)ctx)++;
	return 0;
}

static size_t total_entries(sluice_keyed_backend *kb)
{
	sluice_state *v;
	size_t n = 0;

	assert_int_equal(sluice_keyed_backend_state(&v, kb, &vdesc), 0);
	assert_int_equal(sluice_state_keys(v, NULL, count_key, &n), 0);
	return n;
}

static void rescale(int32_t from, int32_t to)
{
	sluice_keyed_handle *h[8];
	int32_t i;
	int total = 0;

	for (i = 0; i < from; i++) {
		sluice_keyed_backend *kb = front(from, i);
		sluice_keyed_snapshot *s;
		sluice_ostream *os;

		populate(kb);
		assert_int_equal(sluice_keyed_snapshot_sync(&s, kb), 0);
		assert_int_equal(sluice_mem_ostream_new(&os, "chk"), 0);
		assert_int_equal(sluice_keyed_snapshot_write(s, os, &h[i]), 0);
		assert_non_null(h[i]);
		sluice_keyed_snapshot_free(s);
		sluice_keyed_backend_free(kb);
	}
	for (i = 0; i < to; i++) {
		sluice_keyed_backend *kb = front(to, i);
		int n;

		assert_int_equal(
			sluice_keyed_backend_restore(
				kb, (const sluice_keyed_handle *const *)h,
				(size_t)from, NULL, NULL),
			0);
		n = verify(kb);
		/* nothing beyond the owned keys was restored */
		assert_int_equal(total_entries(kb), (size_t)n);
		total += n;
		sluice_keyed_backend_free(kb);
	}
	assert_int_equal(total, NKEYS);
	for (i = 0; i < from; i++)
		sluice_keyed_handle_free(h[i]);
}

static void test_backend__restore_same_parallelism(void **state)
{
	(void)state;
	rescale(1, 1);
}

static void test_backend__restore_rescales_2_to_3(void **state)
{
	(void)state;
	rescale(2, 3);
}

static void test_backend__restore_rescales_3_to_1(void **state)
{
	(void)state;
	rescale(3, 1);
}

int contract_run(const char *backend_name)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_backend__put_get_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_backend__namespaces_and_states_are_separate, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_backend__merge_appends_and_creates, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_backend__map_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_backend__iterate_filters_namespace, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_backend__many_keys_survive_growth_and_removal,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_backend__cleanup_step_visits_a_bounded_number,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_backend__snapshot_view_is_frozen, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_backend__snapshot_of_map_state_is_frozen, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_backend__snapshot_isolated_from_concurrent_writes,
			setup, teardown),
		cmocka_unit_test(test_backend__restore_same_parallelism),
		cmocka_unit_test(test_backend__restore_rescales_2_to_3),
		cmocka_unit_test(test_backend__restore_rescales_3_to_1),
	};

	return _cmocka_run_group_tests(
		backend_name, tests, sizeof(tests) / sizeof(tests[0]), NULL,
		NULL);
}
