/*
 * The rocksdb backend under the keyed-state front end: every state kind,
 * canonical savepoints that restore into hashmap and back (byte-identical
 * snapshots from both backends), TTL entries dropped by the compaction
 * filter, and incremental checkpoints restored through the factory.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/state.h"
#include "sluice/sys/rocksdb.h"
#include "state/keyed.h"
#include "state/rocksdb/rdb.h"

#define S(str) SLUICE_SLICE((str), strlen(str))

static sluice_manual_clock clk;

static const sluice_state_desc value_desc = {
	.name = "value", .kind = SLUICE_STATE_VALUE};
static const sluice_state_desc list_desc = {
	.name = "list", .kind = SLUICE_STATE_LIST};
static const sluice_state_desc map_desc = {
	.name = "map", .kind = SLUICE_STATE_MAP};

static sluice_keyed_backend *
make(const char *backend,
     sluice_rocksdb_options *ro,
     int32_t p,
     int32_t subtask)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb;

	sluice_keyed_options_init(&o);
	o.backend = backend;
	o.parallelism = p;
	o.max_parallelism = 128;
	o.subtask = subtask;
	o.clock = &clk.base;
	if (ro) {
		o.factory = sluice_backend_rocksdb_new;
		o.factory_ctx = ro;
	}
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), 0);
	return kb;
}

static void key(sluice_keyed_backend *kb, int i)
{
	char k[32];

	snprintf(k, sizeof(k), "k%05d", i);
	assert_int_equal(sluice_keyed_backend_set_key(kb, S(k)), 0);
}

/* Fill keys 0..n-1 owned by kb with one value, a list and a map each. */
static void fill(sluice_keyed_backend *kb, int n)
{
	sluice_state *v, *l, *m;
	int32_t s, e;
	int i;

	sluice_keyed_backend_range(kb, &s, &e);
	assert_int_equal(sluice_keyed_backend_state(&v, kb, &value_desc), 0);
	assert_int_equal(sluice_keyed_backend_state(&l, kb, &list_desc), 0);
	assert_int_equal(sluice_keyed_backend_state(&m, kb, &map_desc), 0);
	for (i = 0; i < n; i++) {
		char k[32], buf[32];
		int32_t kg;

		snprintf(k, sizeof(k), "k%05d", i);
		kg = sluice_keygroup_of(S(k), 128);
		if (kg < s || kg > e)
			continue;
		key(kb, i);
		snprintf(buf, sizeof(buf), "v%d", i);
		assert_int_equal(sluice_value_update(v, S(buf)), 0);
		assert_int_equal(sluice_list_add(l, S("a")), 0);
		assert_int_equal(sluice_list_add(l, S(buf)), 0);
		assert_int_equal(sluice_map_put(m, S("x"), S(buf)), 0);
		assert_int_equal(sluice_map_put(m, S("yy"), S("2")), 0);
	}
}

/* Check what fill() wrote, for the keys kb owns; returns keys seen. */
static int check(sluice_keyed_backend *kb, int n)
{
	sluice_state *v, *l, *m;
	int32_t s, e;
	int i, seen = 0;

	sluice_keyed_backend_range(kb, &s, &e);
	assert_int_equal(sluice_keyed_backend_state(&v, kb, &value_desc), 0);
	assert_int_equal(sluice_keyed_backend_state(&l, kb, &list_desc), 0);
	assert_int_equal(sluice_keyed_backend_state(&m, kb, &map_desc), 0);
	for (i = 0; i < n; i++) {
		char k[32], buf[32];
		sluice_slice out;
		sluice_list_iter it;
		int32_t kg;

		snprintf(k, sizeof(k), "k%05d", i);
		kg = sluice_keygroup_of(S(k), 128);
		if (kg < s || kg > e)
			continue;
		seen++;
		key(kb, i);
		snprintf(buf, sizeof(buf), "v%d", i);
		assert_int_equal(sluice_value_get(v, &out), 0);
		assert_int_equal(out.len, strlen(buf));
		assert_memory_equal(out.data, buf, out.len);
		assert_int_equal(sluice_list_get(l, &it), 0);
		assert_int_equal(it.count, 2);
		assert_int_equal(sluice_map_get(m, S("x"), &out), 0);
		assert_memory_equal(out.data, buf, out.len);
		assert_int_equal(sluice_map_contains(m, S("yy")), 1);
		assert_int_equal(sluice_map_contains(m, S("zz")), 0);
	}
	return seen;
}

static void snapshot(sluice_keyed_backend *kb, sluice_keyed_handle **out)
{
	sluice_keyed_snapshot *snap;
	sluice_ostream *os;

	assert_int_equal(sluice_keyed_snapshot_sync(&snap, kb), 0);
	assert_int_equal(sluice_mem_ostream_new(&os, "snap"), 0);
	assert_int_equal(sluice_keyed_snapshot_write(snap, os, out), 0);
	sluice_keyed_snapshot_free(snap);
	assert_non_null(*out);
}

static void test_rocksdb_backend__all_kinds_through_the_front_end(void **st)
{
	sluice_keyed_backend *kb = make("rocksdb", NULL, 1, 0);
	sluice_state *m, *v;
	sluice_slice out;

	(void)st;
	fill(kb, 300);
	assert_int_equal(check(kb, 300), 300);
	assert_int_equal(sluice_keyed_backend_state(&m, kb, &map_desc), 0);
	assert_int_equal(sluice_keyed_backend_state(&v, kb, &value_desc), 0);
	key(kb, 7);
	assert_int_equal(sluice_map_remove(m, S("x")), 0);
	assert_int_equal(sluice_map_is_empty(m), 0);
	assert_int_equal(sluice_state_clear(m), 0);
	assert_int_equal(sluice_map_is_empty(m), 1);
	assert_int_equal(sluice_state_clear(v), 0);
	assert_int_equal(sluice_value_get(v, &out), SLUICE_ENOTFOUND);
	key(kb, 8);
	assert_int_equal(sluice_map_is_empty(m), 0);
	sluice_keyed_backend_free(kb);
}

static int
bytes_equal(const sluice_keyed_handle *a, const sluice_keyed_handle *b)
{
	return a->stream->size == b->stream->size &&
	       !memcmp(a->stream->data, b->stream->data, a->stream->size);
}

static void test_rocksdb_backend__savepoints_move_between_backends(void **st)
{
	sluice_keyed_backend *hm = make("hashmap", NULL, 1, 0), *rd, *hm2;
	sluice_keyed_handle *from_hm, *from_rd, *from_hm2;
	const sluice_keyed_handle *hs[1];

	(void)st;
	fill(hm, 500);
	snapshot(hm, &from_hm);
	/* hashmap -> rocksdb */
	rd = make("rocksdb", NULL, 1, 0);
	hs[0] = from_hm;
	assert_int_equal(
		sluice_keyed_backend_restore(
			rd, hs, 1, sluice_open_inline, NULL),
		0);
	assert_int_equal(check(rd, 500), 500);
	/* same content, same canonical bytes */
	snapshot(rd, &from_rd);
	assert_true(bytes_equal(from_hm, from_rd));
	/* rocksdb -> hashmap */
	hm2 = make("hashmap", NULL, 1, 0);
	hs[0] = from_rd;
	assert_int_equal(
		sluice_keyed_backend_restore(
			hm2, hs, 1, sluice_open_inline, NULL),
		0);
	assert_int_equal(check(hm2, 500), 500);
	snapshot(hm2, &from_hm2);
	assert_true(bytes_equal(from_hm, from_hm2));
	sluice_keyed_handle_free(from_hm);
	sluice_keyed_handle_free(from_rd);
	sluice_keyed_handle_free(from_hm2);
	sluice_keyed_backend_free(hm);
	sluice_keyed_backend_free(rd);
	sluice_keyed_backend_free(hm2);
}

static void test_rocksdb_backend__canonical_rescale_1_to_2(void **st)
{
	sluice_keyed_backend *one = make("rocksdb", NULL, 1, 0), *two[2];
	sluice_keyed_handle *h;
	const sluice_keyed_handle *hs[1];
	int i, seen = 0;

	(void)st;
	fill(one, 400);
	snapshot(one, &h);
	hs[0] = h;
	for (i = 0; i < 2; i++) {
		two[i] = make("rocksdb", NULL, 2, i);
		assert_int_equal(
			sluice_keyed_backend_restore(
				two[i], hs, 1, sluice_open_inline, NULL),
			0);
		seen += check(two[i], 400);
		sluice_keyed_backend_free(two[i]);
	}
	assert_int_equal(seen, 400);
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(one);
}

static void
test_rocksdb_backend__compaction_filter_drops_expired_state(void **st)
{
	static const sluice_state_desc ttl_value = {
		.name = "tv",
		.kind = SLUICE_STATE_VALUE,
		.ttl = {.ttl_ms = 1000, .cleanup_size = -1}};
	static const sluice_state_desc ttl_list = {
		.name = "tl",
		.kind = SLUICE_STATE_LIST,
		.ttl = {.ttl_ms = 1000, .cleanup_size = -1}};
	sluice_keyed_backend *kb = make("rocksdb", NULL, 1, 0);
	sluice_state *v, *l;
	sluice_list_iter it;
	int i;

	(void)st;
	assert_int_equal(sluice_keyed_backend_state(&v, kb, &ttl_value), 0);
	assert_int_equal(sluice_keyed_backend_state(&l, kb, &ttl_list), 0);
	for (i = 0; i < 50; i++) {
		key(kb, i);
		assert_int_equal(sluice_value_update(v, S("old")), 0);
		assert_int_equal(sluice_list_add(l, S("old")), 0);
	}
	sluice_manual_clock_advance(&clk, 600);
	for (i = 0; i < 10; i++) {
		key(kb, i);
		assert_int_equal(sluice_value_update(v, S("new")), 0);
		assert_int_equal(sluice_list_add(l, S("new")), 0);
	}
	sluice_manual_clock_advance(&clk, 500); /* old ones expired now */
	assert_int_equal(kb->be->count(kb->be, v->bs), 50);
	/* twice: merge operands become values first, then get filtered */
	assert_int_equal(sluice__rdb_backend_compact(kb->be), 0);
	assert_int_equal(sluice__rdb_backend_compact(kb->be), 0);
	assert_int_equal(kb->be->count(kb->be, v->bs), 10);
	assert_int_equal(kb->be->count(kb->be, l->bs), 10);
	key(kb, 3);
	assert_int_equal(sluice_list_get(l, &it), 0);
	assert_int_equal(it.count, 1);
	sluice_keyed_backend_free(kb);
}

/* memory transfer for incremental handles */
static int t_out(void *ctx, int shared, const char *name, sluice_ostream **out)
{
	(void)ctx;
	(void)shared;
	return sluice_mem_ostream_new(out, name);
}

static int t_in(void *ctx, const sluice_stream_handle *h, sluice_istream **out)
{
	(void)ctx;
	return sluice_mem_istream_new(out, h->data, (size_t)h->size);
}

static void
test_rocksdb_backend__incremental_checkpoint_restores_through_factory(void **st)
{
	sluice_rocksdb_transfer t = {NULL, t_out, t_in, NULL, NULL};
	sluice_keyed_backend *kb = make("rocksdb", NULL, 1, 0), *back;
	sluice_rocksdb_options ro;
	sluice_rocksdb_snapshot *s;
	sluice_incremental_handle *h;
	sluice_incremental_handle *hs[1];

	(void)st;
	fill(kb, 200);
	assert_int_equal(
		sluice_rocksdb_snapshot_sync(
			&s, kb->be, 1, SLUICE_ROCKSDB_CHECKPOINT, 0, 128),
		0);
	assert_int_equal(
		sluice_rocksdb_snapshot_upload(&h, s, &t, S("meta")), 0);
	sluice_rocksdb_snapshot_free(s);
	sluice_rocksdb_notify_complete(kb->be, 1);
	sluice_keyed_backend_free(kb);

	sluice_rocksdb_options_init(&ro);
	ro.max_parallelism = 128;
	hs[0] = h;
	ro.restore = hs;
	ro.num_restore = 1;
	ro.restore_start = 0;
	ro.restore_end = 127;
	ro.transfer = &t;
	back = make("rocksdb", &ro, 1, 0);
	assert_int_equal(check(back, 200), 200);
	sluice_keyed_backend_free(back);
	sluice_incremental_handle_free(h);
	/* a hashmap backend is not a rocksdb one */
	kb = make("hashmap", NULL, 1, 0);
	assert_int_equal(
		sluice_rocksdb_snapshot_sync(
			&s, kb->be, 1, SLUICE_ROCKSDB_CHECKPOINT, 0, 128),
		SLUICE_EINVALID);
	sluice_keyed_backend_free(kb);
}

static int setup(void **st)
{
	(void)st;
	sluice_manual_clock_init(&clk, 1000000);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(
			test_rocksdb_backend__all_kinds_through_the_front_end,
			setup),
		cmocka_unit_test_setup(
			test_rocksdb_backend__savepoints_move_between_backends,
			setup),
		cmocka_unit_test_setup(
			test_rocksdb_backend__canonical_rescale_1_to_2, setup),
		cmocka_unit_test_setup(
			test_rocksdb_backend__compaction_filter_drops_expired_state,
			setup),
		cmocka_unit_test_setup(
			test_rocksdb_backend__incremental_checkpoint_restores_through_factory,
			setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
