/*
 * The keyed-state hot path (issue 3 performance work): set_key computes
 * the documented key hash (with an inlined xxh3 for 8-byte keys) and the
 * key group once; the hashmap backend keeps small entries inline in its
 * slots and moves them out of line when they grow, with snapshots still
 * frozen.  Edge cases: every key length 0..40 and both power-of-two and
 * other max parallelisms; values crossing the 22-byte inline limit in both
 * directions with and without a held snapshot; merge across the limit;
 * namespaces changing the state hash; MAP entries' slot copies of their
 * user map following growth, copies under snapshots and removals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/state.h"
#include "state/keyed.h"
#include "util/hash.h"

static void check_hashes(int32_t maxp)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb;
	uint8_t key[40];
	size_t len, i;
	int n;

	sluice_keyed_options_init(&o);
	o.max_parallelism = maxp;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), 0);
	for (n = 0; n < 400; n++) {
		len = (size_t)n % sizeof(key);
		if (n % 3 == 0)
			len = 8;
		for (i = 0; i < len; i++)
			key[i] = (uint8_t)(n * 131 + (int)i * 7);
		assert_int_equal(
			sluice_keyed_backend_set_key(
				kb, SLUICE_SLICE(key, len)),
			0);
		assert_int_equal(kb->key_hash, sluice__hash32(key, len));
		assert_int_equal(
			kb->sk.key_group,
			sluice_keygroup_of(SLUICE_SLICE(key, len), maxp));
		assert_int_equal(kb->sk.key.len, len);
		if (len)
			assert_memory_equal(kb->sk.key.data, key, len);
	}
	sluice_keyed_backend_free(kb);
}

static void test_hotpath__set_key_uses_the_documented_hash(void **state)
{
	(void)state;
	check_hashes(128);
	check_hashes(100);
	check_hashes(1);
}

static sluice_state_key key_of(const char *key, const char *ns)
{
	sluice_state_key k;

	k.key = SLUICE_SLICE(key, strlen(key));
	k.ns = SLUICE_SLICE(ns, strlen(ns));
	k.key_group = sluice_keygroup_of(k.key, 128);
	k.hash = sluice__state_hash(
		sluice__hash32(key, strlen(key)), sluice__ns_hash(k.ns));
	return k;
}

static int
get_str(sluice_backend *b, sluice_backend_state *st, const char *key, char *out)
{
	sluice_state_key k = key_of(key, "");
	sluice_slice v;
	int rc = b->get(b, st, &k, &v);

	if (rc == 0) {
		memcpy(out, v.data, v.len);
		out[v.len] = 0;
	}
	return rc;
}

typedef struct seen {
	char value[128];
	int n;
} seen;

static int seen_cb(void *ctx, const sluice_backend_entry *e)
{
	seen *s = ctx;

	memcpy(s->value, e->value.data, e->value.len);
	s->value[e->value.len] = 0;
	s->n++;
	return 0;
}

static void snap_value(
	sluice_backend *b,
	sluice_backend_snapshot *s,
	const char *key,
	seen *out)
{
	sluice_state_key k = key_of(key, "");

	memset(out, 0, sizeof(*out));
	assert_int_equal(
		b->snapshot_iterate(s, 0, k.key_group, seen_cb, out), 0);
}

static void test_hotpath__values_cross_the_inline_limit(void **state)
{
	const char *big = "a value longer than the twenty-two inline bytes";
	sluice_backend *b;
	sluice_backend_state *st;
	sluice_backend_snapshot *s1, *s2;
	sluice_state_key k = key_of("key-0001", "");
	char buf[128];
	seen sn;

	(void)state;
	assert_int_equal(sluice_backend_hashmap_new(&b, NULL), 0);
	assert_int_equal(b->register_state(b, "v", SLUICE_SHAPE_FLAT, &st), 0);
	assert_int_equal(b->put(b, st, &k, SLUICE_SLICE("12345678", 8)), 0);
	assert_int_equal(b->snapshot_sync(b, &s1), 0);
	/* inline -> out of line while s1 holds the page */
	assert_int_equal(b->put(b, st, &k, SLUICE_SLICE(big, strlen(big))), 0);
	assert_int_equal(get_str(b, st, "key-0001", buf), 0);
	assert_string_equal(buf, big);
	assert_int_equal(b->snapshot_sync(b, &s2), 0);
	/* out of line -> inline while s2 holds the entry */
	assert_int_equal(b->put(b, st, &k, SLUICE_SLICE("tiny", 4)), 0);
	assert_int_equal(get_str(b, st, "key-0001", buf), 0);
	assert_string_equal(buf, "tiny");
	/* merge grows it across the limit again */
	assert_int_equal(
		b->merge(b, st, &k, SLUICE_SLICE("+0123456789abcdef", 17)), 0);
	assert_int_equal(get_str(b, st, "key-0001", buf), 0);
	assert_string_equal(buf, "tiny+0123456789abcdef");
	snap_value(b, s1, "key-0001", &sn);
	assert_int_equal(sn.n, 1);
	assert_string_equal(sn.value, "12345678");
	snap_value(b, s2, "key-0001", &sn);
	assert_int_equal(sn.n, 1);
	assert_string_equal(sn.value, big);
	b->snapshot_release(s1);
	b->snapshot_release(s2);
	assert_int_equal(b->count(b, st), 1);
	b->free(b);
}

typedef struct olds {
	int n, not_old;
} olds;

static int old_cb(void *ctx, const sluice_backend_entry *e)
{
	olds *o = ctx;

	o->n++;
	if (e->value.len != 3 || memcmp(e->value.data, "old", 3))
		o->not_old++;
	return 0;
}

static void test_hotpath__inline_update_under_snapshot_copies_page(void **st0)
{
	sluice_backend *b;
	sluice_backend_state *st;
	sluice_backend_snapshot *s;
	char key[16], buf[64];
	olds old;
	int i, kg;

	(void)st0;
	assert_int_equal(sluice_backend_hashmap_new(&b, NULL), 0);
	assert_int_equal(b->register_state(b, "v", SLUICE_SHAPE_FLAT, &st), 0);
	for (i = 0; i < 5000; i++) {
		sluice_state_key k;

		snprintf(key, sizeof(key), "k%07d", i);
		k = key_of(key, "");
		assert_int_equal(b->put(b, st, &k, SLUICE_SLICE("old", 3)), 0);
	}
	assert_int_equal(b->snapshot_sync(b, &s), 0);
	for (i = 0; i < 5000; i += 7) {
		sluice_state_key k;

		snprintf(key, sizeof(key), "k%07d", i);
		k = key_of(key, "");
		assert_int_equal(b->put(b, st, &k, SLUICE_SLICE("new", 3)), 0);
		assert_int_equal(b->merge(b, st, &k, SLUICE_SLICE("!", 1)), 0);
	}
	for (i = 0; i < 5000; i += 7) {
		snprintf(key, sizeof(key), "k%07d", i);
		assert_int_equal(get_str(b, st, key, buf), 0);
		assert_string_equal(buf, "new!");
	}
	memset(&old, 0, sizeof(old));
	for (kg = 0; kg < 128; kg++)
		assert_int_equal(
			b->snapshot_iterate(s, 0, kg, old_cb, &old), 0);
	assert_int_equal(old.n, 5000);
	assert_int_equal(old.not_old, 0);
	b->snapshot_release(s);
	b->free(b);
}

typedef struct map_count {
	int n, bad;
	const char *want; /* value prefix every user value must have */
} map_count;

static int map_cb(void *ctx, const sluice_backend_entry *e)
{
	map_count *c = ctx;
	size_t w = strlen(c->want);

	c->n++;
	if (e->value.len < w || memcmp(e->value.data, c->want, w))
		c->bad++;
	return 0;
}

static int map_get_str(
	sluice_backend *b,
	sluice_backend_state *st,
	const sluice_state_key *k,
	const char *ukey,
	char *out)
{
	sluice_slice v;
	int rc = b->map_get(b, st, k, SLUICE_SLICE(ukey, strlen(ukey)), &v);

	if (rc == 0) {
		memcpy(out, v.data, v.len);
		out[v.len] = 0;
	}
	return rc;
}

/*
 * MAP entries of 8-byte keys keep their user map in the slot too: the
 * copy follows the map when it grows (here under held snapshots, so the
 * page and the entry are copied first), when the entry is copied, and
 * when a user key is removed; keys of other lengths take the entry.
 */
static void test_hotpath__map_slot_copy_follows_the_map(void **state)
{
	sluice_backend *b;
	sluice_backend_state *st;
	sluice_backend_snapshot *s1, *s2;
	const char *keys[] = {"key-0001", "key-0002", "a-longer-key-03"};
	char uk[16], v[16], buf[32];
	map_count c;
	int i, j;

	(void)state;
	assert_int_equal(sluice_backend_hashmap_new(&b, NULL), 0);
	assert_int_equal(b->register_state(b, "m", SLUICE_SHAPE_MAP, &st), 0);
	for (j = 0; j < 3; j++) {
		sluice_state_key k = key_of(keys[j], "");

		for (i = 0; i < 5; i++) {
			snprintf(uk, sizeof(uk), "u%03d", i);
			assert_int_equal(
				b->map_put(
					b, st, &k, SLUICE_SLICE(uk, 4),
					SLUICE_SLICE("old", 3)),
				0);
		}
	}
	assert_int_equal(b->snapshot_sync(b, &s1), 0);
	for (j = 0; j < 3; j++) {
		sluice_state_key k = key_of(keys[j], "");

		for (i = 0; i < 200; i++) { /* grows 8 -> 512 slots */
			snprintf(uk, sizeof(uk), "u%03d", i);
			snprintf(v, sizeof(v), "new%d", i);
			assert_int_equal(
				b->map_put(
					b, st, &k, SLUICE_SLICE(uk, 4),
					SLUICE_SLICE(v, strlen(v))),
				0);
			if (j == 0 && i == 100)
				assert_int_equal(b->snapshot_sync(b, &s2), 0);
		}
	}
	for (j = 0; j < 3; j++) {
		sluice_state_key k = key_of(keys[j], "");

		for (i = 0; i < 200; i++) {
			snprintf(uk, sizeof(uk), "u%03d", i);
			snprintf(v, sizeof(v), "new%d", i);
			assert_int_equal(map_get_str(b, st, &k, uk, buf), 0);
			assert_string_equal(buf, v);
		}
		assert_int_equal(
			b->map_remove(b, st, &k, SLUICE_SLICE("u007", 4)), 0);
		assert_int_equal(
			map_get_str(b, st, &k, "u007", buf), SLUICE_ENOTFOUND);
		assert_int_equal(map_get_str(b, st, &k, "u199", buf), 0);
		assert_string_equal(buf, "new199");
		memset(&c, 0, sizeof(c));
		c.want = "new";
		assert_int_equal(b->map_iterate(b, st, &k, map_cb, &c), 0);
		assert_int_equal(c.n, 199);
		assert_int_equal(c.bad, 0);
		/* the first snapshot still sees the five old values */
		memset(&c, 0, sizeof(c));
		c.want = "old";
		assert_int_equal(
			b->snapshot_iterate(s1, 0, k.key_group, map_cb, &c), 0);
		assert_true(c.n >= 5);
		assert_int_equal(c.bad, 0);
	}
	b->snapshot_release(s1);
	b->snapshot_release(s2);
	assert_int_equal(b->count(b, st), 3);
	b->free(b);
}

static void test_hotpath__namespace_changes_the_entry(void **state)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb;
	sluice_state_desc d;
	sluice_state *st;
	sluice_slice v;
	uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 42};

	(void)state;
	sluice_keyed_options_init(&o);
	memset(&d, 0, sizeof(d));
	d.name = "v";
	d.kind = SLUICE_STATE_VALUE;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), 0);
	assert_int_equal(sluice_keyed_backend_state(&st, kb, &d), 0);
	assert_int_equal(
		sluice_keyed_backend_set_key(kb, SLUICE_SLICE(key, 8)), 0);
	assert_int_equal(sluice_value_update(st, SLUICE_SLICE("dflt", 4)), 0);
	assert_int_equal(
		sluice_keyed_backend_set_namespace(kb, SLUICE_SLICE("w1", 2)),
		0);
	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
	assert_int_equal(sluice_value_update(st, SLUICE_SLICE("in-w1", 5)), 0);
	assert_int_equal(
		sluice_keyed_backend_set_key(kb, SLUICE_SLICE(key, 8)), 0);
	assert_int_equal(sluice_value_get(st, &v), 0);
	assert_int_equal(v.len, 5);
	assert_memory_equal(v.data, "in-w1", 5);
	assert_int_equal(
		sluice_keyed_backend_set_namespace(kb, SLUICE_SLICE(NULL, 0)),
		0);
	assert_int_equal(sluice_value_get(st, &v), 0);
	assert_int_equal(v.len, 4);
	assert_memory_equal(v.data, "dflt", 4);
	sluice_keyed_backend_free(kb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_hotpath__set_key_uses_the_documented_hash),
		cmocka_unit_test(test_hotpath__values_cross_the_inline_limit),
		cmocka_unit_test(
			test_hotpath__inline_update_under_snapshot_copies_page),
		cmocka_unit_test(test_hotpath__map_slot_copy_follows_the_map),
		cmocka_unit_test(test_hotpath__namespace_changes_the_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
