/*
 * State TTL (spec §8) with a manual clock: the expiry boundary, update
 * types, visibility, per-element TTL of lists and maps, reducing and
 * aggregating seeing expired accumulators as absent, incremental cleanup,
 * full-snapshot cleanup and the backend-wide default (table.exec.state.ttl).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/state.h"

static sluice_manual_clock clk;

static sluice_slice S(const char *s)
{
	return SLUICE_SLICE(s, strlen(s));
}

static int eq(sluice_slice a, const char *s)
{
	return a.len == strlen(s) && !memcmp(a.data, s, a.len);
}

static sluice_keyed_backend *new_kb(int64_t default_ttl)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb;

	sluice_manual_clock_init(&clk, 1000000);
	sluice_keyed_options_init(&o);
	o.clock = &clk.base;
	o.default_ttl_ms = default_ttl;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), 0);
	assert_int_equal(sluice_keyed_backend_set_key(kb, S("k")), 0);
	return kb;
}

static int setup(void **state)
{
	*state = new_kb(0);
	return 0;
}

static int teardown(void **state)
{
	sluice_keyed_backend_free(*state);
	return 0;
}

static sluice_state *
mk(sluice_keyed_backend *kb,
   const char *name,
   sluice_state_kind kind,
   sluice_ttl_update up,
   sluice_ttl_visibility vis)
{
	sluice_state_desc d;
	sluice_state *st;

	memset(&d, 0, sizeof(d));
	d.name = name;
	d.kind = kind;
	d.ttl.ttl_ms = 100;
	d.ttl.update = up;
	d.ttl.visibility = vis;
	d.ttl.cleanup_size = -1; /* no incremental cleanup unless a test asks */
	assert_int_equal(sluice_keyed_backend_state(&st, kb, &d), 0);
	return st;
}

static void test_ttl__expiry_is_inclusive_and_overflow_safe(void **state)
{
	sluice_state *st = mk(*state, "v", SLUICE_STATE_VALUE, 0, 0);
	sluice_slice v;

	assert_int_equal(sluice_value_update(st, S("x")), 0);
	sluice_manual_clock_advance(&clk, 99);
	assert_int_equal(sluice_value_get(st, &v), 0);
	sluice_manual_clock_advance(&clk, 1); /* ts + ttl == now: expired */
	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
	(void)state;
}

static void test_ttl__on_create_and_write_does_not_refresh_on_read(void **state)
{
	sluice_state *st =
		mk(*state, "v", SLUICE_STATE_VALUE,
		   SLUICE_TTL_ON_CREATE_AND_WRITE, 0);
	sluice_slice v;

	assert_int_equal(sluice_value_update(st, S("x")), 0);
	sluice_manual_clock_advance(&clk, 60);
	assert_int_equal(sluice_value_get(st, &v), 0);
	sluice_manual_clock_advance(&clk, 60);
	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
}

static void test_ttl__on_read_and_write_refreshes_on_read(void **state)
{
	sluice_state *st =
		mk(*state, "v", SLUICE_STATE_VALUE,
		   SLUICE_TTL_ON_READ_AND_WRITE, 0);
	sluice_slice v;
	int i;

	assert_int_equal(sluice_value_update(st, S("x")), 0);
	for (i = 0; i < 5; i++) {
		sluice_manual_clock_advance(&clk, 60);
		assert_int_equal(sluice_value_get(st, &v), 0);
		assert_true(eq(v, "x"));
	}
	sluice_manual_clock_advance(&clk, 100);
	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
}

static void test_ttl__write_refreshes_timestamp(void **state)
{
	sluice_state *st = mk(*state, "v", SLUICE_STATE_VALUE, 0, 0);
	sluice_slice v;

	assert_int_equal(sluice_value_update(st, S("x")), 0);
	sluice_manual_clock_advance(&clk, 60);
	assert_int_equal(sluice_value_update(st, S("y")), 0);
	sluice_manual_clock_advance(&clk, 60);
	assert_int_equal(sluice_value_get(st, &v), 0);
	assert_true(eq(v, "y"));
}

static void test_ttl__return_expired_once_then_cleaned(void **state)
{
	sluice_state *st =
		mk(*state, "v", SLUICE_STATE_VALUE, 0,
		   SLUICE_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP);
	sluice_slice v;

	assert_int_equal(sluice_value_update(st, S("stale")), 0);
	sluice_manual_clock_advance(&clk, 500);
	assert_int_equal(sluice_value_get(st, &v), 0);
	assert_true(eq(v, "stale"));
	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
}

static void list_expect(sluice_state *st, size_t n, const char *first)
{
	sluice_list_iter it;
	sluice_slice e;

	assert_int_equal(sluice_list_get(st, &it), 0);
	assert_int_equal(it.count, n);
	if (n) {
		assert_int_equal(sluice_list_next(&it, &e), 1);
		assert_true(eq(e, first));
	}
}

static void test_ttl__list_elements_expire_individually(void **state)
{
	sluice_state *st = mk(*state, "l", SLUICE_STATE_LIST, 0, 0);

	assert_int_equal(sluice_list_add(st, S("old")), 0);
	sluice_manual_clock_advance(&clk, 60);
	assert_int_equal(sluice_list_add(st, S("new")), 0);
	list_expect(st, 2, "old");
	sluice_manual_clock_advance(&clk, 50);
	list_expect(st, 1, "new");
	sluice_manual_clock_advance(&clk, 100);
	list_expect(st, 0, NULL);
}

static void test_ttl__list_return_expired_shows_them_once(void **state)
{
	sluice_state *st =
		mk(*state, "l", SLUICE_STATE_LIST, 0,
		   SLUICE_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP);

	assert_int_equal(sluice_list_add(st, S("old")), 0);
	sluice_manual_clock_advance(&clk, 60);
	assert_int_equal(sluice_list_add(st, S("new")), 0);
	sluice_manual_clock_advance(&clk, 50);
	list_expect(st, 2, "old");
	list_expect(st, 1, "new");
}

static int count_cb(void *ctx, sluice_slice k, sluice_slice v)
{
	(void)k;
	(void)v;
	(*(int *)ctx)++;
	return 0;
}

static void test_ttl__map_entries_expire_individually(void **state)
{
	sluice_state *st = mk(*state, "m", SLUICE_STATE_MAP, 0, 0);
	sluice_slice v;
	int n = 0;

	assert_int_equal(sluice_map_put(st, S("a"), S("1")), 0);
	sluice_manual_clock_advance(&clk, 60);
	assert_int_equal(sluice_map_put(st, S("b"), S("2")), 0);
	sluice_manual_clock_advance(&clk, 50);
	assert_int_equal(sluice_map_contains(st, S("a")), 0);
	assert_int_equal(sluice_map_get(st, S("b"), &v), 0);
	assert_true(eq(v, "2"));
	assert_int_equal(sluice_map_foreach(st, count_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sluice_map_is_empty(st), 0);
	sluice_manual_clock_advance(&clk, 100);
	assert_int_equal(sluice_map_is_empty(st), 1);
}

static int concat(void *ctx, sluice_slice a, sluice_slice b, sluice_slice *out)
{
	static char buf[64];

	(void)ctx;
	snprintf(
		buf, sizeof(buf), "%.*s%.*s", SLUICE_SLICE_FMT(a),
		SLUICE_SLICE_FMT(b));
	*out = S(buf);
	return 0;
}

static void
test_ttl__reducing_treats_expired_accumulator_as_absent(void **state)
{
	sluice_state_desc d = {
		.name = "r",
		.kind = SLUICE_STATE_REDUCING,
		.reduce = concat,
		.ttl = {.ttl_ms = 100,
			.visibility =
				SLUICE_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP,
			.cleanup_size = -1}};
	sluice_state *st;
	sluice_slice v;

	assert_int_equal(sluice_keyed_backend_state(&st, *state, &d), 0);
	assert_int_equal(sluice_reducing_add(st, S("a")), 0);
	assert_int_equal(sluice_reducing_add(st, S("b")), 0);
	sluice_manual_clock_advance(&clk, 100);
	assert_int_equal(sluice_reducing_add(st, S("c")), 0);
	assert_int_equal(sluice_reducing_get(st, &v), 0);
	assert_true(eq(v, "c"));
}

static int
agg_add(void *ctx, sluice_slice acc, sluice_slice in, sluice_slice *out)
{
	return concat(ctx, acc, in, out);
}

static void
test_ttl__aggregating_treats_expired_accumulator_as_absent(void **state)
{
	sluice_state_desc d = {
		.name = "a",
		.kind = SLUICE_STATE_AGGREGATING,
		.agg_add = agg_add,
		.ttl = {.ttl_ms = 100}};
	sluice_state *st;
	sluice_slice v;

	assert_int_equal(sluice_keyed_backend_state(&st, *state, &d), 0);
	assert_int_equal(sluice_aggregating_add(st, S("a")), 0);
	sluice_manual_clock_advance(&clk, 150);
	assert_int_equal(sluice_aggregating_get(st, &v), SLUICE_ENOTFOUND);
	assert_int_equal(sluice_aggregating_add(st, S("b")), 0);
	assert_int_equal(sluice_aggregating_get(st, &v), 0);
	assert_true(eq(v, "b"));
}

static int key_cb(void *ctx, sluice_slice k, sluice_slice ns)
{
	(void)k;
	(void)ns;
	(*(int *)ctx)++;
	return 0;
}

/* Keys of "v" present in a snapshot (no snapshot-time TTL filtering). */
static int
keys_in_snapshot(sluice_keyed_backend *kb, const sluice_state_desc *d)
{
	sluice_keyed_backend *kb2;
	sluice_keyed_snapshot *s;
	sluice_ostream *os;
	sluice_keyed_handle *h;
	const sluice_keyed_handle *hs[1];
	sluice_state *st;
	sluice_manual_clock saved = clk;
	int n = 0;

	assert_int_equal(sluice_keyed_snapshot_sync(&s, kb), 0);
	assert_int_equal(sluice_mem_ostream_new(&os, "x"), 0);
	assert_int_equal(sluice_keyed_snapshot_write(s, os, &h), 0);
	sluice_keyed_snapshot_free(s);
	kb2 = new_kb(0); /* clock back at the time of the writes */
	hs[0] = h;
	assert_int_equal(
		sluice_keyed_backend_restore(kb2, hs, 1, NULL, NULL), 0);
	assert_int_equal(sluice_keyed_backend_state(&st, kb2, d), 0);
	assert_int_equal(sluice_state_keys(st, NULL, key_cb, &n), 0);
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(kb2);
	clk = saved;
	return n;
}

static void test_ttl__incremental_cleanup_removes_untouched_keys(void **state)
{
	sluice_keyed_backend *kb = *state;
	sluice_state_desc d = {
		.name = "v",
		.kind = SLUICE_STATE_VALUE,
		.ttl = {.ttl_ms = 100, .no_full_snapshot_cleanup = 1}};
	sluice_state *st;
	sluice_slice v;
	char key[16];
	int i, n = 0;

	assert_int_equal(sluice_keyed_backend_state(&st, kb, &d), 0);
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(sluice_keyed_backend_set_key(kb, S(key)), 0);
		assert_int_equal(sluice_value_update(st, S("x")), 0);
	}
	sluice_manual_clock_advance(&clk, 200);
	/* keys() skips expired ones even before cleanup */
	assert_int_equal(sluice_state_keys(st, NULL, key_cb, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(keys_in_snapshot(kb, &d), 50);
	/* each access checks 5 entries (the default cleanup size) */
	assert_int_equal(sluice_keyed_backend_set_key(kb, S("zz")), 0);
	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
	assert_int_equal(keys_in_snapshot(kb, &d), 45);
	for (i = 0; i < 9; i++)
		assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
	assert_int_equal(keys_in_snapshot(kb, &d), 0);
}

static void test_ttl__full_snapshot_leaves_expired_entries_out(void **state)
{
	sluice_keyed_backend *kb = *state, *kb2;
	sluice_state *st;
	sluice_state_desc d = {
		.name = "v",
		.kind = SLUICE_STATE_VALUE,
		.ttl = {.ttl_ms = 100, .cleanup_size = -1}};
	sluice_keyed_snapshot *s;
	sluice_ostream *os;
	sluice_keyed_handle *h;
	const sluice_keyed_handle *hs[1];
	sluice_slice v;
	int n = 0;

	assert_int_equal(sluice_keyed_backend_state(&st, kb, &d), 0);
	assert_int_equal(sluice_keyed_backend_set_key(kb, S("old")), 0);
	assert_int_equal(sluice_value_update(st, S("1")), 0);
	sluice_manual_clock_advance(&clk, 60);
	assert_int_equal(sluice_keyed_backend_set_key(kb, S("new")), 0);
	assert_int_equal(sluice_value_update(st, S("2")), 0);
	sluice_manual_clock_advance(&clk, 50);
	assert_int_equal(sluice_keyed_snapshot_sync(&s, kb), 0);
	assert_int_equal(sluice_mem_ostream_new(&os, "chk"), 0);
	assert_int_equal(sluice_keyed_snapshot_write(s, os, &h), 0);
	sluice_keyed_snapshot_free(s);
	kb2 = new_kb(0);
	sluice_manual_clock_advance(&clk, 110);
	hs[0] = h;
	assert_int_equal(
		sluice_keyed_backend_restore(kb2, hs, 1, NULL, NULL), 0);
	assert_int_equal(sluice_keyed_backend_state(&st, kb2, &d), 0);
	sluice_manual_clock_init(&clk, 1000000 + 60); /* "new" is fresh again */
	assert_int_equal(sluice_state_keys(st, NULL, key_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sluice_keyed_backend_set_key(kb2, S("new")), 0);
	assert_int_equal(sluice_value_get(st, &v), 0);
	assert_true(eq(v, "2"));
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(kb2);
}

static void
test_ttl__default_ttl_applies_to_states_without_their_own(void **state)
{
	sluice_keyed_backend *kb = new_kb(100);
	sluice_state_desc d = {.name = "v", .kind = SLUICE_STATE_VALUE};
	sluice_state *st;
	sluice_slice v;

	(void)state;
	assert_int_equal(sluice_keyed_backend_state(&st, kb, &d), 0);
	assert_int_equal(sluice_value_update(st, S("x")), 0);
	sluice_manual_clock_advance(&clk, 99);
	assert_int_equal(sluice_value_get(st, &v), 0);
	sluice_manual_clock_advance(&clk, 1);
	assert_int_equal(sluice_value_get(st, &v), SLUICE_ENOTFOUND);
	sluice_keyed_backend_free(kb);
}

static void test_ttl__switching_ttl_on_restore_is_rejected(void **state)
{
	sluice_keyed_backend *kb = *state, *kb2;
	sluice_state *st;
	sluice_state_desc plain = {.name = "v", .kind = SLUICE_STATE_VALUE};
	sluice_state_desc ttl = {
		.name = "v",
		.kind = SLUICE_STATE_VALUE,
		.ttl = {.ttl_ms = 1000}};
	sluice_keyed_snapshot *s;
	sluice_ostream *os;
	sluice_keyed_handle *h;
	const sluice_keyed_handle *hs[1];

	assert_int_equal(sluice_keyed_backend_state(&st, kb, &plain), 0);
	assert_int_equal(sluice_value_update(st, S("x")), 0);
	assert_int_equal(sluice_keyed_snapshot_sync(&s, kb), 0);
	assert_int_equal(sluice_mem_ostream_new(&os, "chk"), 0);
	assert_int_equal(sluice_keyed_snapshot_write(s, os, &h), 0);
	sluice_keyed_snapshot_free(s);
	kb2 = new_kb(0);
	hs[0] = h;
	assert_int_equal(
		sluice_keyed_backend_restore(kb2, hs, 1, NULL, NULL), 0);
	assert_int_equal(
		sluice_keyed_backend_state(&st, kb2, &ttl), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "TTL"));
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(kb2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ttl__expiry_is_inclusive_and_overflow_safe),
		T(test_ttl__on_create_and_write_does_not_refresh_on_read),
		T(test_ttl__on_read_and_write_refreshes_on_read),
		T(test_ttl__write_refreshes_timestamp),
		T(test_ttl__return_expired_once_then_cleaned),
		T(test_ttl__list_elements_expire_individually),
		T(test_ttl__list_return_expired_shows_them_once),
		T(test_ttl__map_entries_expire_individually),
		T(test_ttl__reducing_treats_expired_accumulator_as_absent),
		T(test_ttl__aggregating_treats_expired_accumulator_as_absent),
		T(test_ttl__incremental_cleanup_removes_untouched_keys),
		T(test_ttl__full_snapshot_leaves_expired_entries_out),
		T(test_ttl__default_ttl_applies_to_states_without_their_own),
		T(test_ttl__switching_ttl_on_restore_is_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
