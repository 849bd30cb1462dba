/*
 * Operations of the five keyed state kinds through the front end, with
 * Flink's semantics: absent vs empty, clear, defaults, iteration, keys of
 * a state per namespace, and descriptor validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/state.h"

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
	sluice_keyed_options o;
	sluice_keyed_backend *kb;

	sluice_keyed_options_init(&o);
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), 0);
	assert_int_equal(sluice_keyed_backend_set_key(kb, S("alice")), 0);
	*state = kb;
	return 0;
}

static int teardown(void **state)
{
	sluice_keyed_backend_free(*state);
	return 0;
}

static sluice_state *
get_state(sluice_keyed_backend *kb, const sluice_state_desc *d)
{
	sluice_state *st = NULL;

	assert_int_equal(sluice_keyed_backend_state(&st, kb, d), 0);
	return st;
}

static void test_state__value_absent_update_clear(void **state)
{
	sluice_keyed_backend *kb = *state;
	sluice_state_desc d = {.name = "v", .kind = SLUICE_STATE_VALUE};
	sluice_state *st = get_state(kb, &d);
	sluice_slice v;
	int64_t n;

	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
	assert_int_equal(sluice_value_update(st, S("")), 0);
	assert_int_equal(sluice_value_get(st, &v), 0);
	assert_int_equal(v.len, 0);
	assert_int_equal(sluice_value_put_i64(st, 41), 0);
	assert_int_equal(sluice_value_get_i64(st, &n), 0);
	assert_int_equal(n, 41);
	assert_int_equal(sluice_keyed_backend_set_key(kb, S("bob")), 0);
	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
	assert_int_equal(sluice_keyed_backend_set_key(kb, S("alice")), 0);
	assert_int_equal(sluice_state_clear(st), 0);
	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
	assert_string_equal(sluice_state_name(st), "v");
	assert_int_equal(sluice_state_kind_of(st), SLUICE_STATE_VALUE);
}

static void test_state__value_default_is_returned_when_absent(void **state)
{
	sluice_state_desc d = {
		.name = "d",
		.kind = SLUICE_STATE_VALUE,
		.default_value = {"zero", 4}};
	sluice_state *st = get_state(*state, &d);
	sluice_slice v;

	assert_int_equal(sluice_value_get(st, &v), 0);
	assert_true(eq(v, "zero"));
	assert_int_equal(sluice_value_update(st, S("one")), 0);
	assert_int_equal(sluice_value_get(st, &v), 0);
	assert_true(eq(v, "one"));
}

static void test_state__namespaces_separate_values(void **state)
{
	sluice_keyed_backend *kb = *state;
	sluice_state_desc d = {.name = "v", .kind = SLUICE_STATE_VALUE};
	sluice_state *st = get_state(kb, &d);
	sluice_slice v;

	assert_int_equal(sluice_value_update(st, S("default-ns")), 0);
	assert_int_equal(
		sluice_keyed_backend_set_namespace(kb, S("window-1")), 0);
	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
	assert_int_equal(sluice_value_update(st, S("w1")), 0);
	assert_int_equal(sluice_keyed_backend_set_namespace(kb, S("")), 0);
	assert_int_equal(sluice_value_get(st, &v), 0);
	assert_true(eq(v, "default-ns"));
}

static void expect_list(sluice_state *st, const char *const *want, size_t n)
{
	sluice_list_iter it;
	sluice_slice e;
	size_t i = 0;

	assert_int_equal(sluice_list_get(st, &it), 0);
	assert_int_equal(it.count, n);
	while (sluice_list_next(&it, &e)) {
		assert_true(i < n);
		assert_true(eq(e, want[i]));
		i++;
	}
	assert_int_equal(i, n);
}

static void test_state__list_add_add_all_update_clear(void **state)
{
	sluice_state_desc d = {.name = "l", .kind = SLUICE_STATE_LIST};
	sluice_state *st = get_state(*state, &d);
	const char *const abc[] = {"a", "", "c"};
	const char *const xy[] = {"x", "y"};
	sluice_slice two[] = {{"x", 1}, {"y", 1}};

	expect_list(st, NULL, 0); /* absent reads as empty */
	assert_int_equal(sluice_list_add(st, S("a")), 0);
	assert_int_equal(sluice_list_add(st, S("")), 0);
	assert_int_equal(
		sluice_list_add_all(st, (sluice_slice[]){{"c", 1}}, 1), 0);
	assert_int_equal(sluice_list_add_all(st, NULL, 0), 0);
	expect_list(st, abc, 3);
	assert_int_equal(sluice_list_update(st, two, 2), 0);
	expect_list(st, xy, 2);
	assert_int_equal(sluice_list_update(st, NULL, 0), 0); /* = clear */
	expect_list(st, NULL, 0);
	assert_int_equal(sluice_list_add(st, S("a")), 0);
	assert_int_equal(sluice_state_clear(st), 0);
	expect_list(st, NULL, 0);
}

typedef struct seen {
	int n;
	char keys[64];
} seen;

static int seen_cb(void *ctx, sluice_slice k, sluice_slice v)
{
	seen *s = ctx;

	(void)v;
	s->n++;
	strncat(s->keys, k.data, k.len);
	return 0;
}

static void test_state__map_operations(void **state)
{
	sluice_state_desc d = {.name = "m", .kind = SLUICE_STATE_MAP};
	sluice_state *st = get_state(*state, &d);
	sluice_slice ks[] = {{"b", 1}, {"c", 1}}, vs[] = {{"B", 1}, {"C", 1}};
	sluice_slice v;
	seen s = {0, ""};

	assert_int_equal(sluice_map_is_empty(st), 1);
	assert_int_equal(sluice_map_get(st, S("a"), &v), SLUICE_ENOTFOUND);
	assert_int_equal(sluice_map_contains(st, S("a")), 0);
	assert_int_equal(sluice_map_put(st, S("a"), S("")), 0);
	assert_int_equal(sluice_map_contains(st, S("a")), 1);
	assert_int_equal(sluice_map_get(st, S("a"), &v), 0);
	assert_int_equal(v.len, 0); /* empty value, present */
	assert_int_equal(sluice_map_put_all(st, ks, vs, 2), 0);
	assert_int_equal(sluice_map_is_empty(st), 0);
	assert_int_equal(sluice_map_foreach(st, seen_cb, &s), 0);
	assert_int_equal(s.n, 3);
	assert_non_null(strchr(s.keys, 'b'));
	assert_int_equal(sluice_map_remove(st, S("a")), 0);
	assert_int_equal(sluice_map_remove(st, S("zz")), 0);
	assert_int_equal(sluice_map_get(st, S("c"), &v), 0);
	assert_true(eq(v, "C"));
	assert_int_equal(sluice_state_clear(st), 0);
	assert_int_equal(sluice_map_is_empty(st), 1);
}

static int stop_first(void *ctx, sluice_slice k, sluice_slice v)
{
	(void)k;
	(void)v;
	(*(int *)ctx)++;
	return 1;
}

static void test_state__map_iteration_can_stop(void **state)
{
	sluice_state_desc d = {.name = "m", .kind = SLUICE_STATE_MAP};
	sluice_state *st = get_state(*state, &d);
	int n = 0;

	assert_int_equal(sluice_map_put(st, S("a"), S("1")), 0);
	assert_int_equal(sluice_map_put(st, S("b"), S("2")), 0);
	assert_int_equal(sluice_map_foreach(st, stop_first, &n), 0);
	assert_int_equal(n, 1);
}

typedef struct sumctx {
	char out[32];
} sumctx;

static int
sum_reduce(void *ctx, sluice_slice a, sluice_slice b, sluice_slice *out)
{
	sumctx *c = ctx;
	long x = 0, y = 0;

	sscanf(a.data, "%ld", &x);
	sscanf(b.data, "%ld", &y);
	snprintf(c->out, sizeof(c->out), "%ld", x + y);
	*out = SLUICE_SLICE(c->out, strlen(c->out) + 1);
	return 0;
}

static void test_state__reducing_folds_values(void **state)
{
	sumctx c;
	sluice_state_desc d = {
		.name = "r",
		.kind = SLUICE_STATE_REDUCING,
		.reduce = sum_reduce,
		.fn_ctx = &c};
	sluice_state *st = get_state(*state, &d);
	sluice_slice v;

	assert_int_equal(sluice_reducing_get(st, &v), SLUICE_ENOTFOUND);
	assert_int_equal(sluice_reducing_add(st, SLUICE_SLICE("5", 2)), 0);
	assert_int_equal(sluice_reducing_add(st, SLUICE_SLICE("7", 2)), 0);
	assert_int_equal(sluice_reducing_add(st, SLUICE_SLICE("30", 3)), 0);
	assert_int_equal(sluice_reducing_get(st, &v), 0);
	assert_string_equal(v.data, "42");
}

/* average: acc = "sum count" */
static int
avg_add(void *ctx, sluice_slice acc, sluice_slice in, sluice_slice *out)
{
	sumctx *c = ctx;
	long s = 0, n = 0, x = 0;

	if (acc.data)
		sscanf(acc.data, "%ld %ld", &s, &n);
	sscanf(in.data, "%ld", &x);
	snprintf(c->out, sizeof(c->out), "%ld %ld", s + x, n + 1);
	*out = SLUICE_SLICE(c->out, strlen(c->out) + 1);
	return 0;
}

static int avg_get(void *ctx, sluice_slice acc, sluice_slice *out)
{
	sumctx *c = ctx;
	long s = 0, n = 1;

	sscanf(acc.data, "%ld %ld", &s, &n);
	snprintf(c->out, sizeof(c->out), "%ld", s / n);
	*out = SLUICE_SLICE(c->out, strlen(c->out) + 1);
	return 0;
}

static void test_state__aggregating_uses_accumulator(void **state)
{
	sumctx c;
	sluice_state_desc d = {
		.name = "a",
		.kind = SLUICE_STATE_AGGREGATING,
		.agg_add = avg_add,
		.agg_get = avg_get,
		.fn_ctx = &c};
	sluice_state *st = get_state(*state, &d);
	sluice_slice v;

	assert_int_equal(sluice_aggregating_get(st, &v), SLUICE_ENOTFOUND);
	assert_int_equal(sluice_aggregating_add(st, SLUICE_SLICE("10", 3)), 0);
	assert_int_equal(sluice_aggregating_add(st, SLUICE_SLICE("20", 3)), 0);
	assert_int_equal(sluice_aggregating_get(st, &v), 0);
	assert_string_equal(v.data, "15");
}

static int key_cb(void *ctx, sluice_slice k, sluice_slice ns)
{
	(void)ns;
	(void)k;
	(*(int *)ctx)++;
	return 0;
}

static void test_state__keys_of_a_state_per_namespace(void **state)
{
	sluice_keyed_backend *kb = *state;
	sluice_state_desc d = {.name = "m", .kind = SLUICE_STATE_MAP};
	sluice_state *st = get_state(kb, &d);
	sluice_slice w1 = S("w1");
	char key[16];
	int i, n = 0;

	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		assert_int_equal(sluice_keyed_backend_set_key(kb, S(key)), 0);
		assert_int_equal(
			sluice_keyed_backend_set_namespace(
				kb, S(i % 2 ? "w1" : "w2")),
			0);
		assert_int_equal(sluice_map_put(st, S("x"), S("1")), 0);
		assert_int_equal(sluice_map_put(st, S("y"), S("2")), 0);
	}
	assert_int_equal(sluice_state_keys(st, &w1, key_cb, &n), 0);
	assert_int_equal(n, 20); /* each key once, not once per entry */
	n = 0;
	assert_int_equal(sluice_state_keys(st, NULL, key_cb, &n), 0);
	assert_int_equal(n, 40);
}

static void test_state__descriptor_errors(void **state)
{
	sluice_keyed_backend *kb = *state;
	sluice_state *st;
	sluice_state_desc v = {.name = "x", .kind = SLUICE_STATE_VALUE};
	sluice_state_desc l = {.name = "x", .kind = SLUICE_STATE_LIST};
	sluice_state_desc r = {.name = "r", .kind = SLUICE_STATE_REDUCING};
	sluice_state_desc neg = {
		.name = "n", .kind = SLUICE_STATE_VALUE, .ttl = {.ttl_ms = -1}};
	sluice_state_desc noname = {.name = "", .kind = SLUICE_STATE_VALUE};
	sluice_slice out;

	assert_int_equal(sluice_keyed_backend_state(&st, kb, &v), 0);
	assert_int_equal(
		sluice_keyed_backend_state(&st, kb, &l), SLUICE_EINVALID);
	assert_int_equal(
		sluice_keyed_backend_state(&st, kb, &r), SLUICE_EINVALID);
	assert_int_equal(
		sluice_keyed_backend_state(&st, kb, &neg), SLUICE_EINVALID);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "TTL is expected to be positive."));
	assert_int_equal(
		sluice_keyed_backend_state(&st, kb, &noname), SLUICE_EINVALID);
	/* using a state as another kind */
	assert_int_equal(sluice_keyed_backend_state(&st, kb, &v), 0);
	assert_int_equal(sluice_map_get(st, S("k"), &out), SLUICE_EINVALID);
}

static void test_state__key_outside_range_is_rejected(void **state)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb;
	char key[16];
	int i, rejected = 0;

	(void)state;
	sluice_keyed_options_init(&o);
	o.parallelism = 2;
	o.subtask = 1;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), 0);
	for (i = 0; i < 100; i++) {
		int32_t kg, lo, hi;
		int rc;

		snprintf(key, sizeof(key), "k%d", i);
		kg = sluice_keygroup_of(S(key), 128);
		sluice_keyed_backend_range(kb, &lo, &hi);
		rc = sluice_keyed_backend_set_key(kb, S(key));
		assert_int_equal(
			rc, kg >= lo && kg <= hi ? 0 : SLUICE_EINVALID);
		rejected += rc != 0;
	}
	assert_true(rejected > 20 && rejected < 80);
	sluice_keyed_backend_free(kb);
}

static void test_state__bad_options_are_rejected(void **state)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb;

	(void)state;
	sluice_keyed_options_init(&o);
	o.backend = "banana";
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "banana"));
	sluice_keyed_options_init(&o);
	o.parallelism = 0;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), SLUICE_EINVALID);
	sluice_keyed_options_init(&o);
	o.parallelism = 4;
	o.max_parallelism = 2;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), SLUICE_EINVALID);
	sluice_keyed_options_init(&o);
	o.latency_enabled = 1;
	o.latency_interval = 0;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), SLUICE_EINVALID);
	sluice_keyed_options_init(&o);
	o.parallelism = 1000;
	o.subtask = 999;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), 0);
	assert_int_equal(sluice_keyed_backend_max_parallelism(kb), 2048);
	sluice_keyed_backend_free(kb);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_state__value_absent_update_clear),
		T(test_state__value_default_is_returned_when_absent),
		T(test_state__namespaces_separate_values),
		T(test_state__list_add_add_all_update_clear),
		T(test_state__map_operations),
		T(test_state__map_iteration_can_stop),
		T(test_state__reducing_folds_values),
		T(test_state__aggregating_uses_accumulator),
		T(test_state__keys_of_a_state_per_namespace),
		T(test_state__descriptor_errors),
		T(test_state__key_outside_range_is_rejected),
		T(test_state__bad_options_are_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
