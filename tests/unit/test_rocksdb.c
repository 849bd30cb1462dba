/*
 * RocksDB primitives of the rocksdb backend: key/list/TTL layouts, the
 * instance with one column family per state, exact prefix iteration, the
 * list merge operator, the TTL compaction filter (including Flink's
 * query-time-after-num-entries caching), key-group clipping, native
 * checkpoints, and the sweep of instance directories dead processes left.
 *
 * Tuning (Flink's RocksDBConfigurableOptions): a key counts only when the
 * configuration holds it; bad values name the key; what is set reaches
 * RocksDB (read back from the OPTIONS file it writes) on top of the
 * predefined profile, which keeps what is not set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/clock.h"
#include "sluice/config.h"
#include "state/rocksdb/rdb.h"
#include "util/buf.h"

#define S(str) SLUICE_SLICE((str), strlen(str))

typedef struct fixture {
	sluice_manual_clock clock;
	sluice_rdb_options o;
	sluice_rdb *db;
	sluice_buf k, v;
} fixture;

static int setup(void **st)
{
	fixture *f = calloc(1, sizeof(*f));

	sluice_manual_clock_init(&f->clock, 1000000);
	sluice__rdb_options_init(&f->o);
	f->o.clock = &f->clock.base;
	f->o.write_buffer_size = 1 << 20;
	f->o.block_cache_size = 1 << 20;
	if (sluice__rdb_open(&f->db, &f->o, "test", 128) < 0)
		return -1;
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	fixture *f = *st;

	sluice__rdb_free(f->db);
	sluice_buf_release(&f->k);
	sluice_buf_release(&f->v);
	free(f);
	return 0;
}

static void key(fixture *f, int32_t kg, const char *k, const char *ns)
{
	assert_int_equal(
		sluice__rdb_key_encode(
			&f->k, sluice__rdb_kg_width(f->db), kg, S(k), S(ns)),
		0);
}

static void test_rdb_key__layout_has_kg_and_lengths(void **st)
{
	sluice_buf b = SLUICE_BUF_INIT;
	int32_t kg;
	sluice_slice k, ns, rest;
	static const uint8_t want1[] = {5, 0, 0, 0, 2,   'a', 'b',
					0, 0, 0, 1, 'n', 'u', 'k'};

	(void)st;
	assert_int_equal(sluice__rdb_kg_bytes(128), 1);
	assert_int_equal(sluice__rdb_kg_bytes(129), 2);
	assert_int_equal(sluice__rdb_key_encode(&b, 1, 5, S("ab"), S("n")), 0);
	assert_int_equal(sluice_buf_put(&b, "uk", 2), 0);
	assert_int_equal(b.len, sizeof(want1));
	assert_memory_equal(b.ptr, want1, sizeof(want1));
	assert_int_equal(
		sluice__rdb_key_decode(b.ptr, b.len, 1, &kg, &k, &ns, &rest),
		0);
	assert_int_equal(kg, 5);
	assert_int_equal(k.len, 2);
	assert_memory_equal(k.data, "ab", 2);
	assert_int_equal(ns.len, 1);
	assert_int_equal(rest.len, 2);
	assert_memory_equal(rest.data, "uk", 2);
	/* two-byte key group, big-endian */
	assert_int_equal(sluice__rdb_key_encode(&b, 2, 300, S("x"), S("")), 0);
	assert_int_equal(b.ptr[0], 1);
	assert_int_equal(b.ptr[1], 44);
	/* lengths running past the end are corruption, not a crash */
	assert_int_equal(
		sluice__rdb_key_decode(b.ptr, 6, 2, &kg, &k, &ns, &rest),
		SLUICE_ECORRUPT);
	sluice_buf_release(&b);
}

static void test_rdb_key__list_elements_roundtrip_and_truncation(void **st)
{
	sluice_buf b = SLUICE_BUF_INIT;
	sluice_slice e;
	size_t pos = 0;
	int64_t ts;

	(void)st;
	assert_int_equal(sluice__rdb_list_put(&b, S("one")), 0);
	assert_int_equal(sluice__rdb_list_put(&b, S("")), 0);
	assert_int_equal(sluice__rdb_list_put(&b, S("three")), 0);
	assert_int_equal(
		sluice__rdb_list_next(b.ptr, b.len, 0, &pos, &e, &ts), 1);
	assert_memory_equal(e.data, "one", 3);
	assert_int_equal(
		sluice__rdb_list_next(b.ptr, b.len, 0, &pos, &e, &ts), 1);
	assert_int_equal(e.len, 0);
	assert_int_equal(
		sluice__rdb_list_next(b.ptr, b.len, 0, &pos, &e, &ts), 1);
	assert_int_equal(e.len, 5);
	assert_int_equal(
		sluice__rdb_list_next(b.ptr, b.len, 0, &pos, &e, &ts), 0);
	pos = 0;
	assert_int_equal(
		sluice__rdb_list_next(b.ptr, 3, 0, &pos, &e, &ts),
		SLUICE_ECORRUPT);
	sluice_buf_release(&b);
}

static void test_rdb_ttl__expiry_rule_is_overflow_safe_and_inclusive(void **st)
{
	sluice_buf b = SLUICE_BUF_INIT;
	int64_t ts;
	sluice_slice v;

	(void)st;
	assert_true(sluice__rdb_ttl_expired(100, 10, 110));
	assert_false(sluice__rdb_ttl_expired(100, 10, 109));
	assert_false(sluice__rdb_ttl_expired(
		INT64_MAX - 5, INT64_MAX, INT64_MAX - 1));
	assert_true(
		sluice__rdb_ttl_expired(INT64_MAX - 5, INT64_MAX, INT64_MAX));
	assert_int_equal(sluice__rdb_ttl_wrap(&b, 1234, S("val")), 0);
	assert_int_equal(b.len, 11);
	assert_int_equal(
		sluice__rdb_ttl_unwrap(SLUICE_SLICE(b.ptr, b.len), &ts, &v), 0);
	assert_int_equal(ts, 1234);
	assert_memory_equal(v.data, "val", 3);
	assert_int_equal(
		sluice__rdb_ttl_unwrap(SLUICE_SLICE(b.ptr, 7), &ts, &v),
		SLUICE_ECORRUPT);
	sluice_buf_release(&b);
}

static void test_rdb__value_put_get_delete(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *cf;

	assert_int_equal(
		sluice__rdb_cf(&cf, f->db, "v", SLUICE_RDB_VALUE, 0), 0);
	key(f, 3, "k1", "");
	assert_int_equal(
		sluice__rdb_get(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len), &f->v),
		SLUICE_ENOTFOUND);
	assert_int_equal(
		sluice__rdb_put(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len),
			S("hello")),
		0);
	assert_int_equal(
		sluice__rdb_get(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len), &f->v),
		0);
	assert_int_equal(f->v.len, 5);
	assert_memory_equal(f->v.ptr, "hello", 5);
	assert_int_equal(
		sluice__rdb_delete(f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len)),
		0);
	assert_int_equal(
		sluice__rdb_get(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len), &f->v),
		SLUICE_ENOTFOUND);
	assert_int_equal(
		sluice__rdb_cf(&cf, f->db, "default", SLUICE_RDB_VALUE, 0),
		SLUICE_EINVALID);
}

static void test_rdb__states_are_separate_column_families(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *a, *b, *again;

	assert_int_equal(
		sluice__rdb_cf(&a, f->db, "a", SLUICE_RDB_VALUE, 0), 0);
	assert_int_equal(
		sluice__rdb_cf(&b, f->db, "b", SLUICE_RDB_VALUE, 0), 0);
	assert_int_equal(
		sluice__rdb_cf(&again, f->db, "a", SLUICE_RDB_VALUE, 0), 0);
	assert_ptr_equal(a, again);
	assert_int_equal(sluice__rdb_cf_count(f->db), 2);
	key(f, 0, "k", "");
	assert_int_equal(
		sluice__rdb_put(
			f->db, a, SLUICE_SLICE(f->k.ptr, f->k.len), S("1")),
		0);
	assert_int_equal(
		sluice__rdb_get(
			f->db, b, SLUICE_SLICE(f->k.ptr, f->k.len), &f->v),
		SLUICE_ENOTFOUND);
}

/* Count entries under a prefix. */
static int count_prefix(fixture *f, sluice_rdb_cf *cf, sluice_slice prefix)
{
	sluice_rdb_iter *it;
	int n = 0;

	assert_int_equal(sluice__rdb_iter_new(&it, f->db, cf, prefix), 0);
	for (; sluice__rdb_iter_valid(it); sluice__rdb_iter_next(it))
		n++;
	assert_int_equal(sluice__rdb_iter_status(it), 0);
	sluice__rdb_iter_free(it);
	return n;
}

static void test_rdb__prefix_iteration_is_exact_per_key_and_per_map(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *cf;
	sluice_buf p = SLUICE_BUF_INIT;
	static const char *const keys[] = {"a", "ab", "a\xff", "b"};
	size_t i, u;

	assert_int_equal(sluice__rdb_cf(&cf, f->db, "m", SLUICE_RDB_MAP, 0), 0);
	/* keys that are byte prefixes of each other, two namespaces each */
	for (i = 0; i < 4; i++)
		for (u = 0; u < 3; u++) {
			char uk[2] = {(char)('x' + u), 0};

			key(f, 7, keys[i], "n");
			assert_int_equal(sluice_buf_put(&f->k, uk, 1), 0);
			assert_int_equal(
				sluice__rdb_put(
					f->db, cf,
					SLUICE_SLICE(f->k.ptr, f->k.len),
					S("v")),
				0);
			key(f, 7, keys[i], "nn");
			assert_int_equal(sluice_buf_put(&f->k, uk, 1), 0);
			assert_int_equal(
				sluice__rdb_put(
					f->db, cf,
					SLUICE_SLICE(f->k.ptr, f->k.len),
					S("v")),
				0);
		}
	assert_int_equal(sluice__rdb_key_prefix(&p, 1, 7, S("a")), 0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(p.ptr, p.len)), 6);
	key(f, 7, "a", "n");
	assert_int_equal(
		count_prefix(f, cf, SLUICE_SLICE(f->k.ptr, f->k.len)), 3);
	assert_int_equal(sluice__rdb_put_kg(&p, 1, 7), 0);
	assert_int_equal(sluice__rdb_key_prefix(&p, 1, 8, S("a")), 0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(p.ptr, p.len)), 0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(NULL, 0)), 24);
	/* clearing one map leaves its neighbours alone */
	key(f, 7, "a", "n");
	assert_int_equal(
		sluice__rdb_delete_prefix(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len)),
		0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(NULL, 0)), 21);
	assert_int_equal(sluice__rdb_key_prefix(&p, 1, 7, S("ab")), 0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(p.ptr, p.len)), 6);
	sluice_buf_release(&p);
}

static void list_values(fixture *f, sluice_rdb_cf *cf, const char *want)
{
	sluice_buf got = SLUICE_BUF_INIT;
	sluice_slice e;
	size_t pos = 0;
	int64_t ts;

	assert_int_equal(
		sluice__rdb_get(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len), &f->v),
		0);
	while (sluice__rdb_list_next(f->v.ptr, f->v.len, 0, &pos, &e, &ts) ==
	       1) {
		assert_int_equal(sluice_buf_put(&got, e.data, e.len), 0);
		assert_int_equal(sluice_buf_put(&got, ",", 1), 0);
	}
	assert_int_equal(sluice_buf_cstr(&got), 0);
	assert_string_equal((char *)got.ptr, want);
	sluice_buf_release(&got);
}

static void append(fixture *f, sluice_rdb_cf *cf, const char *elem, int64_t ts)
{
	sluice_buf b = SLUICE_BUF_INIT, w = SLUICE_BUF_INIT;

	if (ts >= 0) {
		assert_int_equal(sluice__rdb_list_put_ttl(&b, ts, S(elem)), 0);
	} else {
		assert_int_equal(sluice__rdb_list_put(&b, S(elem)), 0);
	}
	assert_int_equal(
		sluice__rdb_merge(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len),
			SLUICE_SLICE(b.ptr, b.len)),
		0);
	sluice_buf_release(&b);
	sluice_buf_release(&w);
}

static void test_rdb__list_append_uses_merge_across_flushes(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *cf;

	assert_int_equal(
		sluice__rdb_cf(&cf, f->db, "l", SLUICE_RDB_LIST, 0), 0);
	key(f, 1, "k", "");
	append(f, cf, "a", -1);
	append(f, cf, "b", -1);
	list_values(f, cf, "a,b,");
	assert_int_equal(sluice__rdb_compact(f->db), 0);
	append(f, cf, "c", -1);
	list_values(f, cf, "a,b,c,");
	assert_int_equal(sluice__rdb_compact(f->db), 0);
	list_values(f, cf, "a,b,c,");
}

static void put_ttl(fixture *f, sluice_rdb_cf *cf, const char *k, int64_t ts)
{
	sluice_buf w = SLUICE_BUF_INIT;

	key(f, 2, k, "");
	assert_int_equal(sluice__rdb_ttl_wrap(&w, ts, S("v")), 0);
	assert_int_equal(
		sluice__rdb_put(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len),
			SLUICE_SLICE(w.ptr, w.len)),
		0);
	sluice_buf_release(&w);
}

static void test_rdb_ttl__compaction_filter_drops_expired_values(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *cf, *plain;
	int64_t now = sluice_clock_wall_ms(&f->clock.base);

	assert_int_equal(
		sluice__rdb_cf(&cf, f->db, "t", SLUICE_RDB_VALUE, 100), 0);
	assert_int_equal(
		sluice__rdb_cf(&plain, f->db, "p", SLUICE_RDB_VALUE, 0), 0);
	put_ttl(f, cf, "old", now - 100); /* expired exactly at the boundary */
	put_ttl(f, cf, "new", now - 99);
	put_ttl(f, plain, "old", now - 100000);
	assert_int_equal(sluice__rdb_compact(f->db), 0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(NULL, 0)), 1);
	key(f, 2, "new", "");
	assert_int_equal(
		sluice__rdb_get(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len), &f->v),
		0);
	/* no TTL on the state: nothing dropped */
	assert_int_equal(count_prefix(f, plain, SLUICE_SLICE(NULL, 0)), 1);
}

static void test_rdb_ttl__filter_rereads_clock_only_every_n_entries(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *cf;
	int64_t now = sluice_clock_wall_ms(&f->clock.base);

	sluice__rdb_free(f->db);
	f->o.ttl_query_time_after = 1000;
	assert_int_equal(sluice__rdb_open(&f->db, &f->o, "test", 128), 0);
	assert_int_equal(
		sluice__rdb_cf(&cf, f->db, "t", SLUICE_RDB_VALUE, 100), 0);
	put_ttl(f, cf, "a", now);
	assert_int_equal(sluice__rdb_compact(f->db), 0); /* reads time: now */
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(NULL, 0)), 1);
	sluice_manual_clock_advance(&f->clock, 500);
	/* second entry seen by the filter: still the cached time, kept */
	put_ttl(f, cf, "b", now);
	assert_int_equal(sluice__rdb_compact(f->db), 0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(NULL, 0)), 2);

	sluice__rdb_free(f->db);
	f->o.ttl_query_time_after = 1;
	assert_int_equal(sluice__rdb_open(&f->db, &f->o, "test", 128), 0);
	assert_int_equal(
		sluice__rdb_cf(&cf, f->db, "t", SLUICE_RDB_VALUE, 100), 0);
	put_ttl(f, cf, "a", now + 500);
	assert_int_equal(sluice__rdb_compact(f->db), 0);
	sluice_manual_clock_advance(&f->clock, 500);
	put_ttl(f, cf, "b", now + 500);
	assert_int_equal(sluice__rdb_compact(f->db), 0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(NULL, 0)), 0);
}

static void
test_rdb_ttl__filter_rewrites_lists_without_expired_elements(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *cf;
	int64_t now = sluice_clock_wall_ms(&f->clock.base);
	sluice_slice e;
	size_t pos = 0;
	int64_t ts;
	int n = 0;

	assert_int_equal(
		sluice__rdb_cf(&cf, f->db, "l", SLUICE_RDB_LIST, 10), 0);
	key(f, 1, "mixed", "");
	append(f, cf, "old1", now - 50);
	append(f, cf, "fresh", now);
	append(f, cf, "old2", now - 10);
	key(f, 1, "gone", "");
	append(f, cf, "x", now - 20);
	append(f, cf, "y", now - 30);
	/* the first compaction folds the merge operands into a value, the
	 * filter sees values only: the second one filters */
	assert_int_equal(sluice__rdb_compact(f->db), 0);
	assert_int_equal(sluice__rdb_compact(f->db), 0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(NULL, 0)), 1);
	key(f, 1, "mixed", "");
	assert_int_equal(
		sluice__rdb_get(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len), &f->v),
		0);
	while (sluice__rdb_list_next(f->v.ptr, f->v.len, 1, &pos, &e, &ts) ==
	       1) {
		assert_int_equal(ts, now);
		assert_int_equal(e.len, 5);
		assert_memory_equal(e.data, "fresh", 5);
		n++;
	}
	assert_int_equal(n, 1);
}

static void test_rdb__clip_keeps_only_the_key_group_range(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *cf;
	int32_t kg;
	sluice_rdb_iter *it;

	assert_int_equal(
		sluice__rdb_cf(&cf, f->db, "v", SLUICE_RDB_VALUE, 0), 0);
	for (kg = 0; kg < 128; kg++) {
		key(f, kg, "k", "");
		assert_int_equal(
			sluice__rdb_put(
				f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len),
				S("v")),
			0);
	}
	assert_int_equal(sluice__rdb_compact(f->db), 0);
	assert_int_equal(sluice__rdb_clip(f->db, 43, 85), 0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(NULL, 0)), 43);
	assert_int_equal(
		sluice__rdb_iter_new(&it, f->db, cf, SLUICE_SLICE(NULL, 0)), 0);
	assert_int_equal(
		((const uint8_t *)sluice__rdb_iter_key(it).data)[0], 43);
	sluice__rdb_iter_free(it);
	assert_int_equal(sluice__rdb_clip(f->db, 0, 43), 0);
	assert_int_equal(count_prefix(f, cf, SLUICE_SLICE(NULL, 0)), 1);
}

/* SST files in <inst>/<sub> that share their inode with a live file */
static int count_linked_ssts(const char *inst, const char *sub)
{
	char dir[4096], path[8192];
	struct dirent *e;
	struct stat a;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/%s", inst, sub);
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		if (!strstr(e->d_name, ".sst"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(stat(path, &a), 0);
		n += a.st_nlink >= 2;
	}
	closedir(d);
	return n;
}

static void test_rdb__native_checkpoint_hard_links_sst_files(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *cf;
	char dir[4096];
	struct stat a;

	assert_int_equal(
		sluice__rdb_cf(&cf, f->db, "v", SLUICE_RDB_VALUE, 0), 0);
	key(f, 0, "k", "");
	assert_int_equal(
		sluice__rdb_put(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len), S("v")),
		0);
	snprintf(dir, sizeof(dir), "%s/chk-1", sluice__rdb_path(f->db));
	/* memtables flushed into SSTs even though the WAL is off: one for
	 * the state, one for the key layout record in "default" */
	assert_int_equal(sluice__rdb_native_checkpoint(f->db, dir), 0);
	snprintf(dir, sizeof(dir), "%s/chk-1/CURRENT", sluice__rdb_path(f->db));
	assert_int_equal(stat(dir, &a), 0);
	assert_int_equal(
		count_linked_ssts(sluice__rdb_path(f->db), "chk-1"), 2);
	snprintf(dir, sizeof(dir), "%s/chk-1", sluice__rdb_path(f->db));
	assert_true(sluice__rdb_native_checkpoint(f->db, dir) < 0);
}

static void test_rdb_options__flink_keys_and_defaults(void **st)
{
	sluice_config *conf;
	sluice_rdb_options o;

	(void)st;
	assert_int_equal(sluice_config_new(&conf), 0);
	sluice__rdb_options_init(&o);
	assert_int_equal(sluice__rdb_options_from_config(&o, conf), 0);
	assert_null(o.local_dir);
	assert_int_equal(o.block_cache_size, 8u << 20);
	assert_int_equal(o.write_buffer_size, 64u << 20);
	assert_int_equal(o.thread_num, 2);
	assert_int_equal(o.transfer_threads, 4);
	assert_int_equal(o.ttl_query_time_after, 1000);
	assert_int_equal(o.predefined, SLUICE_RDB_DEFAULT);
	assert_int_equal(
		sluice_config_set(
			conf, "state.backend.rocksdb.localdir", "/data/rdb",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf, "state.backend.rocksdb.block.cache-size", "256mb",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf, "state.backend.rocksdb.predefined-options",
			"flash_ssd_optimized", SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf,
			"state.backend.rocksdb.checkpoint.transfer.thread.num",
			"8", SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf,
			"state.backend.rocksdb.compaction.filter.query-time-"
			"after-num-entries",
			"10", SLUICE_CONFIG_API),
		0);
	assert_int_equal(sluice__rdb_options_from_config(&o, conf), 0);
	assert_string_equal(o.local_dir, "/data/rdb");
	assert_int_equal(o.block_cache_size, 256u << 20);
	assert_int_equal(o.predefined, SLUICE_RDB_FLASH_SSD_OPTIMIZED);
	assert_int_equal(o.transfer_threads, 8);
	assert_int_equal(o.ttl_query_time_after, 10);
	/* a fixed budget per slot is split between cache and memtables */
	assert_int_equal(
		sluice_config_set(
			conf, "state.backend.rocksdb.memory.fixed-per-slot",
			"128mb", SLUICE_CONFIG_API),
		0);
	assert_int_equal(sluice__rdb_options_from_config(&o, conf), 0);
	assert_int_equal(o.block_cache_size, 64u << 20);
	assert_int_equal(o.write_buffer_size, 32u << 20);
	assert_int_equal(
		sluice_config_set(
			conf, "state.backend.rocksdb.thread.num", "lots",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice__rdb_options_from_config(&o, conf), SLUICE_EINVALID);
	sluice_config_free(conf);
}

static void conf_set(sluice_config *c, const char *key, const char *val)
{
	assert_int_equal(sluice_config_set(c, key, val, SLUICE_CONFIG_API), 0);
}

#define RK "state.backend.rocksdb."

static void test_rdb_options__tuning_keys_count_when_set(void **st)
{
	sluice_config *conf;
	sluice_rdb_options o;
	const sluice_rocksdb_tuning *t = &o.tuning;

	(void)st;
	assert_int_equal(sluice_config_new(&conf), 0);
	sluice__rdb_options_init(&o);
	assert_int_equal(sluice__rdb_options_from_config(&o, conf), 0);
	assert_int_equal(t->set, 0); /* defaults leave the profile alone */
	assert_int_equal(t->log_level, 1);
	assert_int_equal(t->log_max_file_size, 25u << 20);
	assert_int_equal(t->log_file_num, 4);
	assert_int_equal(o.max_write_buffers, 2);
	/* a profile's values for keys every configuration has, unless set */
	conf_set(
		conf, RK "predefined-options",
		"SPINNING_DISK_OPTIMIZED_HIGH_MEM");
	conf_set(conf, RK "thread.num", "3");
	assert_int_equal(sluice__rdb_options_from_config(&o, conf), 0);
	assert_int_equal(o.max_write_buffers, 4);
	assert_int_equal(o.block_cache_size, 256u << 20);
	assert_int_equal(o.thread_num, 3);
	assert_int_equal(t->set, 0);
	conf_set(conf, RK "writebuffer.count", "4");
	conf_set(conf, RK "writebuffer.number-to-merge", "2");
	conf_set(conf, RK "files.open", "500");
	conf_set(conf, RK "log.level", "warn_level");
	conf_set(conf, RK "log.dir", "/var/log/rdb");
	conf_set(conf, RK "compaction.style", "UNIVERSAL");
	conf_set(conf, RK "compaction.level.use-dynamic-size", "true");
	conf_set(conf, RK "compaction.level.target-file-size-base", "32mb");
	conf_set(conf, RK "block.blocksize", "16kb");
	conf_set(conf, RK "use-bloom-filter", "true");
	conf_set(
		conf, RK "compression.per.level",
		"NO_COMPRESSION; no_compression;LZ4_COMPRESSION");
	assert_int_equal(sluice__rdb_options_from_config(&o, conf), 0);
	assert_int_equal(o.max_write_buffers, 4);
	assert_int_equal(
		t->set, SLUICE_ROCKSDB_TUNE_WRITE_BUFFERS_TO_MERGE |
				SLUICE_ROCKSDB_TUNE_FILES_OPEN |
				SLUICE_ROCKSDB_TUNE_LOG_LEVEL |
				SLUICE_ROCKSDB_TUNE_LOG_DIR |
				SLUICE_ROCKSDB_TUNE_COMPACTION_STYLE |
				SLUICE_ROCKSDB_TUNE_DYNAMIC_LEVEL_SIZE |
				SLUICE_ROCKSDB_TUNE_TARGET_FILE_SIZE_BASE |
				SLUICE_ROCKSDB_TUNE_BLOCK_SIZE |
				SLUICE_ROCKSDB_TUNE_BLOOM_FILTER |
				SLUICE_ROCKSDB_TUNE_COMPRESSION);
	assert_int_equal(t->write_buffers_to_merge, 2);
	assert_int_equal(t->files_open, 500);
	assert_int_equal(t->log_level, 2);
	assert_string_equal(t->log_dir, "/var/log/rdb");
	assert_int_equal(
		t->compaction_style, SLUICE_ROCKSDB_COMPACTION_UNIVERSAL);
	assert_true(t->dynamic_level_size);
	assert_int_equal(t->target_file_size_base, 32u << 20);
	assert_int_equal(t->block_size, 16u << 10);
	assert_true(t->bloom_filter);
	assert_int_equal(t->num_compression, 3);
	assert_int_equal(t->compression[0], 0);
	assert_int_equal(t->compression[1], 0);
	assert_int_equal(t->compression[2], 4);
	/* bad values name the key (and the value) */
	conf_set(conf, RK "compression.per.level", "SNAPPY_COMPRESSION;FOO");
	assert_int_equal(
		sluice__rdb_options_from_config(&o, conf), SLUICE_EINVALID);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "Could not parse value 'SNAPPY_COMPRESSION;FOO' for key "
		       "'state.backend.rocksdb.compression.per.level'"));
	conf_set(
		conf, RK "compression.per.level",
		"LZ4_COMPRESSION;;LZ4_COMPRESSION");
	assert_int_equal(
		sluice__rdb_options_from_config(&o, conf), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "empty"));
	conf_set(conf, RK "compression.per.level", "LZ4_COMPRESSION");
	conf_set(conf, RK "log.dir", "logs");
	assert_int_equal(
		sluice__rdb_options_from_config(&o, conf), SLUICE_EINVALID);
	assert_non_null(strstr(
		sluice_error_last()->message,
		"Configured path for key state.backend.rocksdb.log.dir is not "
		"absolute."));
	conf_set(conf, RK "log.dir", "/tmp");
	conf_set(conf, RK "bloom-filter.bits-per-key", "0");
	assert_int_equal(
		sluice__rdb_options_from_config(&o, conf), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "bits per key"));
	/* the same problems through sluice config check */
	assert_int_equal(sluice_config_validate(conf), SLUICE_EINVALID);
	assert_non_null(strstr(
		sluice_config_problem(conf, 0), "bloom-filter.bits-per-key"));
	conf_set(conf, RK "bloom-filter.bits-per-key", "7.5");
	conf_set(conf, RK "writebuffer.number-to-merge", "0");
	assert_int_equal(
		sluice__rdb_options_from_config(&o, conf), SLUICE_EINVALID);
	sluice_config_free(conf);
}

/* The value of `name=` in the newest OPTIONS file of instance `db`. */
static void option_of(sluice_rdb *db, const char *name, char *out, size_t cap)
{
	char dir[512], path[800], line[1024], newest[256] = "";
	size_t n = strlen(name);
	struct dirent *e;
	DIR *d;
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/db", sluice__rdb_path(db));
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "OPTIONS-", 8) &&
		    (strlen(e->d_name) > strlen(newest) ||
		     (strlen(e->d_name) == strlen(newest) &&
		      strcmp(e->d_name, newest) > 0)))
			snprintf(newest, sizeof(newest), "%s", e->d_name);
	closedir(d);
	assert_true(newest[0] != '\0');
	snprintf(path, sizeof(path), "%s/%s", dir, newest);
	assert_non_null(fp = fopen(path, "r"));
	out[0] = '\0';
	while (fgets(line, sizeof(line), fp)) {
		char *p = line + strspn(line, " ");

		if (!strncmp(p, name, n) && p[n] == '=') {
			p[strcspn(p, "\n")] = '\0';
			snprintf(out, cap, "%s", p + n + 1);
			break;
		}
	}
	fclose(fp);
}

static void expect_option(sluice_rdb *db, const char *name, const char *want)
{
	char got[512];

	option_of(db, name, got, sizeof(got));
	if (strcmp(got, want))
		fail_msg("%s: got '%s', want '%s'", name, got, want);
}

static void test_rdb__tuning_reaches_rocksdb_over_the_profile(void **st)
{
	fixture *f = *st;
	sluice_rocksdb_tuning *t = &f->o.tuning;

	/* the profile alone (with its four write buffers, as
	 * sluice__rdb_options_from_config gives it) */
	sluice__rdb_free(f->db);
	f->o.predefined = SLUICE_RDB_SPINNING_DISK_OPTIMIZED_HIGH_MEM;
	f->o.max_write_buffers = 4;
	assert_int_equal(sluice__rdb_open(&f->db, &f->o, "test", 128), 0);
	expect_option(f->db, "block_size", "131072");
	expect_option(f->db, "filter_policy", "bloomfilter");
	expect_option(f->db, "min_write_buffer_number_to_merge", "3");
	expect_option(f->db, "compaction_style", "kCompactionStyleLevel");
	expect_option(f->db, "info_log_level", "INFO_LEVEL");
	expect_option(f->db, "keep_log_file_num", "4");
	expect_option(f->db, "max_log_file_size", "26214400");
	/* what is set wins over the profile; the rest stays */
	t->set = SLUICE_ROCKSDB_TUNE_BLOCK_SIZE |
		 SLUICE_ROCKSDB_TUNE_COMPACTION_STYLE |
		 SLUICE_ROCKSDB_TUNE_FILES_OPEN |
		 SLUICE_ROCKSDB_TUNE_TARGET_FILE_SIZE_BASE |
		 SLUICE_ROCKSDB_TUNE_MAX_SIZE_LEVEL_BASE |
		 SLUICE_ROCKSDB_TUNE_METADATA_BLOCK_SIZE |
		 SLUICE_ROCKSDB_TUNE_BLOOM_FILTER |
		 SLUICE_ROCKSDB_TUNE_COMPRESSION |
		 SLUICE_ROCKSDB_TUNE_LOG_LEVEL;
	t->block_size = 16u << 10;
	t->compaction_style = SLUICE_ROCKSDB_COMPACTION_UNIVERSAL;
	t->files_open = 500;
	t->target_file_size_base = 32u << 20;
	t->max_size_level_base = 128u << 20;
	t->metadata_block_size = 8u << 10;
	t->bloom_filter = 0;
	t->compression[0] = 0;
	t->compression[1] = 4;
	t->num_compression = 2;
	t->log_level = 3;
	sluice__rdb_free(f->db);
	assert_int_equal(sluice__rdb_open(&f->db, &f->o, "test", 128), 0);
	expect_option(f->db, "block_size", "16384");
	expect_option(f->db, "metadata_block_size", "8192");
	expect_option(f->db, "compaction_style", "kCompactionStyleUniversal");
	expect_option(f->db, "max_open_files", "500");
	expect_option(f->db, "target_file_size_base", "33554432");
	expect_option(f->db, "max_bytes_for_level_base", "134217728");
	expect_option(f->db, "filter_policy", "nullptr");
	expect_option(
		f->db, "compression_per_level",
		"kNoCompression:kLZ4Compression");
	expect_option(f->db, "info_log_level", "ERROR_LEVEL");
	expect_option(f->db, "max_write_buffer_number", "4");
	expect_option(f->db, "min_write_buffer_number_to_merge", "3");
	/* a bad value fails the open, naming it, and leaves nothing */
	sluice__rdb_free(f->db);
	f->db = NULL;
	t->set |= SLUICE_ROCKSDB_TUNE_LOG_DIR;
	t->log_dir = "relative";
	assert_int_equal(
		sluice__rdb_open(&f->db, &f->o, "test", 128), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "log.dir"));
	t->set &= ~(uint32_t)SLUICE_ROCKSDB_TUNE_LOG_DIR;
	assert_int_equal(sluice__rdb_open(&f->db, &f->o, "test", 128), 0);
}

static void test_rdb__predefined_profiles_open(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *cf;
	int p;

	for (p = SLUICE_RDB_DEFAULT; p <= SLUICE_RDB_FLASH_SSD_OPTIMIZED; p++) {
		sluice__rdb_free(f->db);
		f->o.predefined = p;
		assert_int_equal(
			sluice__rdb_open(&f->db, &f->o, "test", 128), 0);
		assert_int_equal(
			sluice__rdb_cf(&cf, f->db, "v", SLUICE_RDB_VALUE, 0),
			0);
		key(f, 1, "k", "");
		assert_int_equal(
			sluice__rdb_put(
				f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len),
				S("v")),
			0);
		assert_int_equal(sluice__rdb_compact(f->db), 0);
	}
}

/* Poll sluice__rdb_busy for up to 30 s; its last answer. */
static int busy_after_wait(sluice_rdb *db)
{
	int polls;

	for (polls = 0; sluice__rdb_busy(db) && polls < 3000; polls++) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	return sluice__rdb_busy(db);
}

/* Writes of several memtables start flushes and compactions in the
 * background; busy turns 0 once they are done, also after a full
 * compaction (whose job may still be finishing when the call returns). */
static void test_rdb__busy_turns_idle_after_background_work(void **st)
{
	fixture *f = *st;
	sluice_rdb_cf *cf;
	char k[32], v[512];
	int i;

	assert_int_equal(
		sluice__rdb_cf(&cf, f->db, "b", SLUICE_RDB_VALUE, 0), 0);
	memset(v, 'v', sizeof(v));
	for (i = 0; i < 12000; i++) { /* ~6 MB: several 1 MB memtables */
		snprintf(k, sizeof(k), "%d", i);
		key(f, i % 128, k, "");
		assert_int_equal(
			sluice__rdb_put(
				f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len),
				SLUICE_SLICE(v, sizeof(v))),
			0);
	}
	assert_int_equal(busy_after_wait(f->db), 0);
	assert_int_equal(sluice__rdb_compact(f->db), 0);
	assert_int_equal(busy_after_wait(f->db), 0);
	key(f, 7, "7", "");
	assert_int_equal(
		sluice__rdb_get(
			f->db, cf, SLUICE_SLICE(f->k.ptr, f->k.len), &f->v),
		0);
	assert_int_equal(f->v.len, sizeof(v));
}

/* mkdir base/name, with an OWNER file when owner != 0; returns the OWNER
 * fd (open) or -1. */
static int fake_instance(const char *base, const char *name, int owner)
{
	char p[512];
	int fd = -1;

	snprintf(p, sizeof(p), "%s/%s", base, name);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/%s/000007.sst", base, name);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	fd = -1;
	if (owner) {
		snprintf(p, sizeof(p), "%s/%s/OWNER", base, name);
		fd = open(p, O_RDWR | O_CREAT, 0644);
		assert_true(fd >= 0);
	}
	return fd;
}

/* Set the modification time of <base>/<name> `age` seconds back. */
static void age(const char *base, const char *name, time_t age_s)
{
	char p[512];
	struct timespec ts[2];

	snprintf(p, sizeof(p), "%s/%s", base, name);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age_s;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static int exists(const char *base, const char *name)
{
	char p[512];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", base, name);
	return stat(p, &sb) == 0;
}

/* A process killed with SIGKILL never removes its instance directories:
 * the first instance of the next process under the same local dir does,
 * and only those no live instance holds (nor directories it did not make). */
static void test_rdb__dead_instances_are_swept(void **st)
{
	char base[] = "/tmp/sluice-sweep-XXXXXX";
	sluice_rdb_options o;
	sluice_rdb *a, *b;
	int dead, live;
	char path[600];

	(void)st;
	assert_non_null(mkdtemp(base));
	dead = fake_instance(base, "sluice-rdb-op-1-dead", 1);
	close(dead); /* its process is gone: nobody holds the lock */
	live = fake_instance(base, "sluice-rdb-op-1-live", 1);
	assert_int_equal(flock(live, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(fake_instance(base, "sluice-rdb-legacy", 0), -1);
	assert_int_equal(fake_instance(base, "other-program", 0), -1);
	/* hidden: a claim its process did not finish, with or without its
	 * OWNER file, counts once a minute old (before: maybe in progress) */
	close(fake_instance(base, ".sluice-rdb-op-2-stale", 1));
	age(base, ".sluice-rdb-op-2-stale", 120);
	assert_int_equal(fake_instance(base, ".sluice-rdb-op-3-stale", 0), -1);
	age(base, ".sluice-rdb-op-3-stale", 120);
	assert_int_equal(fake_instance(base, ".sluice-rdb-op-4-fresh", 0), -1);

	sluice__rdb_options_init(&o);
	o.local_dir = base;
	o.write_buffer_size = 1 << 20;
	assert_int_equal(sluice__rdb_open(&a, &o, "t", 128), 0);
	assert_false(exists(base, "sluice-rdb-op-1-dead"));
	assert_true(exists(base, "sluice-rdb-op-1-live"));
	assert_true(exists(base, "sluice-rdb-legacy"));
	assert_true(exists(base, "other-program"));
	assert_false(exists(base, ".sluice-rdb-op-2-stale"));
	assert_false(exists(base, ".sluice-rdb-op-3-stale"));
	assert_true(exists(base, ".sluice-rdb-op-4-fresh"));
	/* a second instance of this process: the first one is alive */
	assert_int_equal(sluice__rdb_open(&b, &o, "t", 128), 0);
	assert_true(exists(base, strrchr(sluice__rdb_path(a), '/') + 1));
	snprintf(path, sizeof(path), "%s/OWNER", sluice__rdb_path(a));
	assert_true(access(path, F_OK) == 0);
	sluice__rdb_free(b);
	sluice__rdb_free(a);
	close(live);
	snprintf(path, sizeof(path), "rm -rf '%s'", base);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rdb_options__flink_keys_and_defaults),
		cmocka_unit_test(test_rdb__dead_instances_are_swept),
		cmocka_unit_test_setup_teardown(
			test_rdb__predefined_profiles_open, setup, teardown),
		cmocka_unit_test(test_rdb_key__layout_has_kg_and_lengths),
		cmocka_unit_test(
			test_rdb_key__list_elements_roundtrip_and_truncation),
		cmocka_unit_test(
			test_rdb_ttl__expiry_rule_is_overflow_safe_and_inclusive),
		cmocka_unit_test_setup_teardown(
			test_rdb__value_put_get_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb__states_are_separate_column_families, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb__prefix_iteration_is_exact_per_key_and_per_map,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb__list_append_uses_merge_across_flushes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_ttl__compaction_filter_drops_expired_values,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_ttl__filter_rereads_clock_only_every_n_entries,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_ttl__filter_rewrites_lists_without_expired_elements,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb__clip_keeps_only_the_key_group_range, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb__native_checkpoint_hard_links_sst_files, setup,
			teardown),
		cmocka_unit_test(test_rdb_options__tuning_keys_count_when_set),
		cmocka_unit_test_setup_teardown(
			test_rdb__tuning_reaches_rocksdb_over_the_profile,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb__busy_turns_idle_after_background_work, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
