/*
 * Incremental snapshots and restore of the rocksdb backend primitives:
 * only new SST files are uploaded once a checkpoint is confirmed, the rest
 * become placeholders; abort/complete bookkeeping; restore (also after the
 * live database compacted the checkpoint's files away), rescaling 2->3 and
 * 3->1 with clipping, corrupt and unresolved files reported precisely;
 * a backend rescaled from several parts keeps them as shards, checkpoints
 * them as the parts of one handle and restores from it at any range, and
 * malformed parts are refused.
 *
 * The "storage" here is memory: every upload becomes an INLINE handle with
 * a unique name, and a tiny registry maps registry keys to real handles to
 * resolve placeholders the way the shared-state registry does.
 */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/clock.h"
#include "state/rocksdb/rdb.h"
#include "util/alloc.h"
#include "util/buf.h"

#define S(str)  SLUICE_SLICE((str), strlen(str))
#define MAX_REG 4096

typedef struct store {
	pthread_mutex_t mu;
	unsigned seq;
	uint64_t uploaded_bytes; /* bytes written through open_output */
	unsigned uploads;
	unsigned discards;
	size_t nreg;
	sluice_stream_handle *reg[MAX_REG]; /* registry: key = path */
} store;

/* counts bytes as they are written: wraps a memory stream */
typedef struct counting {
	sluice_ostream base;
	sluice_ostream *inner;
	store *st;
} counting;

static int c_write(sluice_ostream *s, const void *d, size_t n)
{
	counting *c = (counting *)s;

	pthread_mutex_lock(&c->st->mu);
	c->st->uploaded_bytes += n;
	pthread_mutex_unlock(&c->st->mu);
	return sluice_ostream_write(c->inner, d, n);
}

static uint64_t c_pos(sluice_ostream *s)
{
	counting *c = (counting *)s;

	return c->inner->pos(c->inner);
}

static int c_sync(sluice_ostream *s)
{
	(void)s;
	return 0;
}

static int c_close(sluice_ostream *s, sluice_stream_handle **out)
{
	counting *c = (counting *)s;
	int rc = sluice_ostream_close(c->inner, out);

	if (rc == 0 && out && *out) {
		pthread_mutex_lock(&c->st->mu);
		assert_true(c->st->nreg < MAX_REG);
		c->st->reg[c->st->nreg++] = sluice_stream_handle_dup(*out);
		pthread_mutex_unlock(&c->st->mu);
	}
	free(c);
	return rc;
}

static void c_abort(sluice_ostream *s)
{
	counting *c = (counting *)s;

	sluice_ostream_abort(c->inner);
	free(c);
}

static int
st_open_output(void *ctx, int shared, const char *name, sluice_ostream **out)
{
	store *st = ctx;
	counting *c = calloc(1, sizeof(*c));
	char path[256];
	int rc;

	pthread_mutex_lock(&st->mu);
	snprintf(
		path, sizeof(path), "%s/%u-%s", shared ? "shared" : "chk",
		st->seq++, name);
	st->uploads++;
	pthread_mutex_unlock(&st->mu);
	if ((rc = sluice_mem_ostream_new(&c->inner, path)) < 0) {
		free(c);
		return rc;
	}
	c->st = st;
	c->base.version = SLUICE_STREAM_VERSION;
	c->base.write = c_write;
	c->base.pos = c_pos;
	c->base.sync = c_sync;
	c->base.close = c_close;
	c->base.abort = c_abort;
	*out = &c->base;
	return 0;
}

static int
st_open_input(void *ctx, const sluice_stream_handle *h, sluice_istream **out)
{
	(void)ctx;
	return sluice_mem_istream_new(out, h->data, (size_t)h->size);
}

static void st_discard(void *ctx, const sluice_stream_handle *h)
{
	store *st = ctx;

	(void)h;
	pthread_mutex_lock(&st->mu);
	st->discards++;
	pthread_mutex_unlock(&st->mu);
}

typedef struct fixture {
	sluice_manual_clock clock;
	sluice_rdb_options o;
	store st;
	sluice_rdb_transfer t;
	sluice_buf k;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	sluice_manual_clock_init(&f->clock, 1000000);
	sluice__rdb_options_init(&f->o);
	f->o.clock = &f->clock.base;
	f->o.write_buffer_size = 1 << 20;
	f->o.block_cache_size = 1 << 20;
	f->o.transfer_threads = 3;
	pthread_mutex_init(&f->st.mu, NULL);
	f->t.ctx = &f->st;
	f->t.open_output = st_open_output;
	f->t.open_input = st_open_input;
	f->t.discard = st_discard;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	size_t i;

	for (i = 0; i < f->st.nreg; i++)
		sluice_stream_handle_free(f->st.reg[i]);
	pthread_mutex_destroy(&f->st.mu);
	sluice_buf_release(&f->k);
	free(f);
	return 0;
}

static void
put(fixture *f,
    sluice_rdb *db,
    sluice_rdb_cf *cf,
    int32_t kg,
    int i,
    const char *v)
{
	char k[32];

	snprintf(k, sizeof(k), "key-%08d", i);
	assert_int_equal(
		sluice__rdb_key_encode(
			&f->k, sluice__rdb_kg_width(db), kg, S(k), S("")),
		0);
	assert_int_equal(
		sluice__rdb_put(db, cf, SLUICE_SLICE(f->k.ptr, f->k.len), S(v)),
		0);
}

/* 0 found with value `v`, else ENOTFOUND */
static int
get(fixture *f,
    sluice_rdb *db,
    sluice_rdb_cf *cf,
    int32_t kg,
    int i,
    const char *v)
{
	sluice_buf out = SLUICE_BUF_INIT;
	char k[32];
	int rc;

	snprintf(k, sizeof(k), "key-%08d", i);
	assert_int_equal(
		sluice__rdb_key_encode(
			&f->k, sluice__rdb_kg_width(db), kg, S(k), S("")),
		0);
	rc = sluice__rdb_get(db, cf, SLUICE_SLICE(f->k.ptr, f->k.len), &out);
	if (rc == 0 && v) {
		assert_int_equal(out.len, strlen(v));
		assert_memory_equal(out.ptr, v, out.len);
	}
	sluice_buf_release(&out);
	return rc;
}

static sluice_incremental_handle *checkpoint(
	fixture *f,
	sluice_rdb *db,
	int64_t id,
	sluice_rdb_sharing sharing,
	int32_t start,
	int32_t num)
{
	sluice_slice meta = S("meta");
	sluice_rdb_snapshot *s;
	sluice_incremental_handle *h;

	assert_int_equal(
		sluice__rdb_snapshot_sync(&s, db, id, sharing, start, num), 0);
	assert_int_equal(sluice__rdb_snapshot_async(&h, s, &f->t, &meta), 0);
	sluice__rdb_snapshot_free(s);
	return h;
}

static unsigned placeholders(const sluice_incremental_handle *h)
{
	unsigned i, n = 0;

	for (i = 0; i < h->num_shared; i++)
		n += h->shared_files[i].handle->kind ==
		     SLUICE_HANDLE_PLACEHOLDER;
	return n;
}

/* Replace placeholders by the registered real handles, like the registry. */
static void resolve(fixture *f, sluice_incremental_handle *h)
{
	unsigned i;
	size_t r;

	for (i = 0; i < h->num_shared; i++) {
		sluice_stream_handle *ph = h->shared_files[i].handle;

		if (ph->kind != SLUICE_HANDLE_PLACEHOLDER)
			continue;
		for (r = 0; r < f->st.nreg; r++)
			if (!strcmp(f->st.reg[r]->path, ph->path))
				break;
		assert_true(r < f->st.nreg);
		assert_int_equal(f->st.reg[r]->size, ph->size);
		assert_int_equal(f->st.reg[r]->checksum, ph->checksum);
		h->shared_files[i].handle =
			sluice_stream_handle_dup(f->st.reg[r]);
		sluice_stream_handle_free(ph);
	}
}

/* bytes of the shared files uploaded (not placeholders) */
static uint64_t
sst_bytes(const sluice_incremental_handle *h, int with_placeholders)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < h->num_shared; i++)
		if (with_placeholders || h->shared_files[i].handle->kind !=
						 SLUICE_HANDLE_PLACEHOLDER)
			n += h->shared_files[i].handle->size;
	return n;
}

static uint64_t private_bytes(const sluice_incremental_handle *h)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < h->num_private; i++)
		n += h->private_files[i].handle->size;
	return n;
}

static int has_private(const sluice_incremental_handle *h, const char *prefix)
{
	unsigned i;

	for (i = 0; i < h->num_private; i++)
		if (!strncmp(h->private_files[i].name, prefix, strlen(prefix)))
			return 1;
	return 0;
}

static void test_rdb_snapshot__confirmed_files_become_placeholders(void **state)
{
	fixture *f = *state;
	sluice_incremental_handle *h1, *h2;
	sluice_rdb *db;
	sluice_rdb_cf *cf;
	uint64_t before;
	unsigned i;
	int k;

	assert_int_equal(sluice__rdb_open(&db, &f->o, "t", 128), 0);
	assert_int_equal(sluice__rdb_cf(&cf, db, "v", SLUICE_RDB_VALUE, 0), 0);
	for (k = 0; k < 2000; k++)
		put(f, db, cf, k % 128, k, "value-one");
	h1 = checkpoint(f, db, 1, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	assert_true(h1->num_shared >= 1);
	assert_int_equal(placeholders(h1), 0);
	assert_true(has_private(h1, "CURRENT"));
	assert_true(has_private(h1, "MANIFEST-"));
	assert_true(has_private(h1, "OPTIONS-"));
	assert_non_null(h1->metadata);
	assert_int_equal(h1->metadata->size, 4);
	assert_string_equal(h1->backend_id, sluice__rdb_backend_id(db));
	assert_int_equal(h1->checkpoint_id, 1);
	sluice__rdb_notify_complete(db, 1);
	assert_int_equal(sluice__rdb_last_completed(db), 1);

	/* a small change: only the new SST (and misc files) travel */
	for (k = 0; k < 10; k++)
		put(f, db, cf, k % 128, k, "value-two");
	before = f->st.uploaded_bytes;
	h2 = checkpoint(f, db, 2, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	assert_int_equal(placeholders(h2), h1->num_shared);
	assert_int_equal(h2->num_shared, h1->num_shared + 1);
	for (i = 0; i < h2->num_shared; i++) {
		const sluice_stream_handle *ph = h2->shared_files[i].handle;
		unsigned j;

		if (ph->kind != SLUICE_HANDLE_PLACEHOLDER)
			continue;
		/* placeholder key = path of chk 1's upload of that file */
		for (j = 0; j < h1->num_shared; j++)
			if (!strcmp(h1->shared_files[j].name,
				    h2->shared_files[i].name))
				assert_string_equal(
					h1->shared_files[j].handle->path,
					ph->path);
	}
	assert_int_equal(f->st.uploaded_bytes - before, h2->checkpointed_size);
	assert_int_equal(
		h2->checkpointed_size,
		h2->metadata->size + sst_bytes(h2, 0) + private_bytes(h2));
	/* MANIFEST/OPTIONS always travel; SST bytes shrink to the change */
	assert_true(sst_bytes(h2, 0) * 10 < sst_bytes(h1, 0));
	assert_true(sst_bytes(h2, 1) > sst_bytes(h1, 0));
	sluice_incremental_handle_free(h1);
	sluice_incremental_handle_free(h2);
	sluice__rdb_free(db);
}

static void
test_rdb_snapshot__unconfirmed_aborted_and_savepoints_are_not_the_base(
	void **state)
{
	fixture *f = *state;
	sluice_incremental_handle *h1, *h2, *sp, *h4;
	sluice_rdb *db;
	sluice_rdb_cf *cf;

	assert_int_equal(sluice__rdb_open(&db, &f->o, "t", 128), 0);
	assert_int_equal(sluice__rdb_cf(&cf, db, "v", SLUICE_RDB_VALUE, 0), 0);
	put(f, db, cf, 1, 1, "a");
	h1 = checkpoint(f, db, 1, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	/* 1 never confirmed: 2 uploads everything again */
	put(f, db, cf, 1, 2, "b");
	h2 = checkpoint(f, db, 2, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	assert_int_equal(placeholders(h2), 0);
	sluice__rdb_notify_aborted(db, 2);
	sluice__rdb_notify_complete(db, 2); /* forgotten: no effect */
	assert_int_equal(sluice__rdb_last_completed(db), -1);
	sluice__rdb_notify_complete(db, 7); /* unknown id */
	assert_int_equal(sluice__rdb_last_completed(db), -1);
	sluice__rdb_notify_complete(db, 1);
	assert_int_equal(sluice__rdb_last_completed(db), 1);
	sluice__rdb_notify_complete(db, 1); /* not newer: no change */
	/* a native savepoint shares nothing and never becomes the base */
	sp = checkpoint(f, db, 3, SLUICE_RDB_NO_SHARING, 0, 128);
	assert_int_equal(sp->num_shared, 0);
	assert_true(sp->num_private >= 5);
	sluice__rdb_notify_complete(db, 3);
	assert_int_equal(sluice__rdb_last_completed(db), 1);
	h4 = checkpoint(f, db, 4, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	assert_int_equal(placeholders(h4), h1->num_shared);
	sluice_incremental_handle_free(h1);
	sluice_incremental_handle_free(h2);
	sluice_incremental_handle_free(sp);
	sluice_incremental_handle_free(h4);
	sluice__rdb_free(db);
}

static void test_rdb_restore__after_live_db_compacted_files_away(void **state)
{
	fixture *f = *state;
	sluice_incremental_handle *h1, *h2, *h3;
	sluice_rdb *db, *back;
	sluice_rdb_cf *cf, *cf2, *lst;
	sluice_buf e = SLUICE_BUF_INIT;
	int k;

	assert_int_equal(sluice__rdb_open(&db, &f->o, "t", 128), 0);
	assert_int_equal(sluice__rdb_cf(&cf, db, "v", SLUICE_RDB_VALUE, 0), 0);
	assert_int_equal(sluice__rdb_cf(&lst, db, "l", SLUICE_RDB_LIST, 0), 0);
	for (k = 0; k < 500; k++)
		put(f, db, cf, k % 128, k, "one");
	assert_int_equal(sluice__rdb_list_put(&e, S("x")), 0);
	assert_int_equal(
		sluice__rdb_key_encode(&f->k, 1, 9, S("lk"), S("")), 0);
	assert_int_equal(
		sluice__rdb_merge(
			db, lst, SLUICE_SLICE(f->k.ptr, f->k.len),
			SLUICE_SLICE(e.ptr, e.len)),
		0);
	h1 = checkpoint(f, db, 1, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	sluice__rdb_notify_complete(db, 1);
	for (k = 0; k < 500; k += 2)
		put(f, db, cf, k % 128, k, "two");
	assert_int_equal(
		sluice__rdb_key_encode(&f->k, 1, 9, S("lk"), S("")), 0);
	assert_int_equal(
		sluice__rdb_merge(
			db, lst, SLUICE_SLICE(f->k.ptr, f->k.len),
			SLUICE_SLICE(e.ptr, e.len)),
		0);
	/* the live DB compacts chk 1's files away */
	assert_int_equal(sluice__rdb_compact(db), 0);
	h2 = checkpoint(f, db, 2, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	sluice__rdb_notify_complete(db, 2);
	sluice__rdb_free(db);

	resolve(f, h2);
	assert_int_equal(
		sluice__rdb_restore(
			&back, &f->o, "r", 128, 0, 127, &h2, 1, &f->t),
		0);
	assert_int_equal(sluice__rdb_cf_count(back), 2);
	assert_int_equal(
		sluice__rdb_cf(&cf2, back, "v", SLUICE_RDB_VALUE, 0), 0);
	for (k = 0; k < 500; k++)
		assert_int_equal(
			get(f, back, cf2, k % 128, k, k % 2 ? "one" : "two"),
			0);
	assert_int_equal(
		sluice__rdb_cf(&lst, back, "l", SLUICE_RDB_LIST, 0), 0);
	assert_int_equal(
		sluice__rdb_key_encode(&f->k, 1, 9, S("lk"), S("")), 0);
	assert_int_equal(
		sluice__rdb_get(
			back, lst, SLUICE_SLICE(f->k.ptr, f->k.len), &e),
		0);
	assert_int_equal(e.len, 10); /* two elements of 1 byte */
	/* the restored files are the base of the next checkpoint */
	assert_int_equal(sluice__rdb_last_completed(back), 2);
	h3 = checkpoint(f, back, 3, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	assert_int_equal(placeholders(h3), h2->num_shared);
	sluice_incremental_handle_free(h1);
	sluice_incremental_handle_free(h2);
	sluice_incremental_handle_free(h3);
	sluice_buf_release(&e);
	sluice__rdb_free(back);
}

/* Subtask i's range of parallelism p with max parallelism 128 (spec §7.1) */
static void range_of(int i, int p, int32_t *s, int32_t *e)
{
	*s = (int32_t)(((int64_t)i * 128 + p - 1) / p);
	*e = (int32_t)((((int64_t)i + 1) * 128 - 1) / p);
}

static void restore_all(
	fixture *f,
	sluice_incremental_handle **hs,
	int n_old,
	int p,
	sluice_rdb **dbs)
{
	int i;

	for (i = 0; i < p; i++) {
		int32_t s, e;

		range_of(i, p, &s, &e);
		assert_int_equal(
			sluice__rdb_restore(
				&dbs[i], &f->o, "r", 128, s, e, hs,
				(size_t)n_old, &f->t),
			0);
	}
}

/* every key k lives in key group k % 128 in exactly the owning subtask */
static void check_owned(fixture *f, sluice_rdb **dbs, int p, int nkeys)
{
	int i, k;

	for (i = 0; i < p; i++) {
		sluice_rdb_cf *cf;
		int32_t s, e;

		range_of(i, p, &s, &e);
		assert_int_equal(
			sluice__rdb_cf(&cf, dbs[i], "v", SLUICE_RDB_VALUE, 0),
			0);
		for (k = 0; k < nkeys; k++) {
			int kg = k % 128;
			int rc = get(f, dbs[i], cf, kg, k, NULL);

			assert_int_equal(
				rc, kg >= s && kg <= e ? 0 : SLUICE_ENOTFOUND);
		}
	}
}

static void test_rdb_restore__rescale_2_to_3_and_3_to_1(void **state)
{
	fixture *f = *state;
	sluice_incremental_handle *h2[2], *h3[3];
	sluice_rdb *two[2], *three[3], *one[1];
	int i, k;

	for (i = 0; i < 2; i++) {
		sluice_rdb_cf *cf;
		int32_t s, e;

		range_of(i, 2, &s, &e);
		assert_int_equal(
			sluice__rdb_open(&two[i], &f->o, "two", 128), 0);
		assert_int_equal(
			sluice__rdb_cf(&cf, two[i], "v", SLUICE_RDB_VALUE, 0),
			0);
		for (k = 0; k < 1024; k++)
			if (k % 128 >= s && k % 128 <= e)
				put(f, two[i], cf, k % 128, k, "v");
		h2[i] = checkpoint(
			f, two[i], 1, SLUICE_RDB_FORWARD_BACKWARD, s,
			e - s + 1);
		sluice__rdb_free(two[i]);
	}
	restore_all(f, h2, 2, 3, three);
	check_owned(f, three, 3, 1024);
	for (i = 0; i < 3; i++) {
		int32_t s, e;

		range_of(i, 3, &s, &e);
		h3[i] = checkpoint(
			f, three[i], 2, SLUICE_RDB_FORWARD_BACKWARD, s,
			e - s + 1);
		sluice__rdb_free(three[i]);
	}
	restore_all(f, h3, 3, 1, one);
	check_owned(f, one, 1, 1024);
	sluice__rdb_free(one[0]);
	for (i = 0; i < 2; i++)
		sluice_incremental_handle_free(h2[i]);
	for (i = 0; i < 3; i++)
		sluice_incremental_handle_free(h3[i]);
}

static void
test_rdb_restore__corrupt_and_unresolved_files_are_reported(void **state)
{
	fixture *f = *state;
	sluice_incremental_handle *h1, *h2;
	sluice_rdb *db, *back = NULL;
	sluice_rdb_cf *cf;
	sluice_stream_handle *sst;

	assert_int_equal(sluice__rdb_open(&db, &f->o, "t", 128), 0);
	assert_int_equal(sluice__rdb_cf(&cf, db, "v", SLUICE_RDB_VALUE, 0), 0);
	put(f, db, cf, 3, 3, "v");
	h1 = checkpoint(f, db, 1, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	sluice__rdb_notify_complete(db, 1);
	put(f, db, cf, 4, 4, "v");
	h2 = checkpoint(f, db, 2, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	sluice__rdb_free(db);

	/* a placeholder that nobody resolved */
	assert_int_equal(
		sluice__rdb_restore(
			&back, &f->o, "r", 128, 0, 127, &h2, 1, &f->t),
		SLUICE_EINVALID);
	assert_null(back);
	assert_non_null(strstr(sluice_error_last()->message, "placeholder"));
	/* one flipped byte in an SST */
	sst = h1->shared_files[0].handle;
	sst->data[sst->size / 2] ^= 0x40;
	assert_int_equal(
		sluice__rdb_restore(
			&back, &f->o, "r", 128, 0, 127, &h1, 1, &f->t),
		SLUICE_ECORRUPT);
	assert_non_null(
		strstr(sluice_error_last()->message, h1->shared_files[0].name));
	assert_non_null(strstr(sluice_error_last()->message, "checkpoint 1"));
	sluice_incremental_handle_free(h1);
	sluice_incremental_handle_free(h2);
}

static int named(const sluice_incremental_handle *h, const char *name)
{
	unsigned i;

	for (i = 0; h && i < h->num_shared; i++)
		if (!strcmp(h->shared_files[i].name, name))
			return 1;
	return 0;
}

/*
 * Over a run of checkpoints with small changes, a file is uploaded exactly
 * once: every SST the previous (confirmed) checkpoint had is referenced,
 * every other one is uploaded.  Background compactions decide how many
 * files are new, so sizes are only checked in total.
 */
static void
test_rdb_snapshot__many_small_checkpoints_upload_only_new_files(void **state)
{
	fixture *f = *state;
	sluice_incremental_handle *h, *prev = NULL;
	sluice_rdb *db;
	sluice_rdb_cf *cf;
	uint64_t full = 0, incremental = 0;
	int64_t id;
	unsigned i;
	int k;

	assert_int_equal(sluice__rdb_open(&db, &f->o, "t", 128), 0);
	assert_int_equal(sluice__rdb_cf(&cf, db, "v", SLUICE_RDB_VALUE, 0), 0);
	for (k = 0; k < 20000; k++)
		put(f, db, cf, k % 128, k, "0123456789abcdef0123456789abcdef");
	for (id = 1; id <= 12; id++) {
		uint64_t before = f->st.uploaded_bytes;

		for (k = 0; k < 20; k++)
			put(f, db, cf, k % 128, (int)(id * 100 + k), "changed");
		h = checkpoint(f, db, id, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
		assert_int_equal(
			f->st.uploaded_bytes - before, h->checkpointed_size);
		for (i = 0; i < h->num_shared; i++)
			assert_int_equal(
				h->shared_files[i].handle->kind ==
					SLUICE_HANDLE_PLACEHOLDER,
				named(prev, h->shared_files[i].name));
		if (id == 1)
			full = sst_bytes(h, 0);
		else
			incremental += sst_bytes(h, 0);
		sluice__rdb_notify_complete(db, id);
		sluice_incremental_handle_free(prev);
		prev = h;
	}
	assert_true(incremental < 11 * full);
	sluice_incremental_handle_free(prev);
	sluice__rdb_free(db);
}

/*
 * Every allocation of a snapshot and of a restore fails in turn: each
 * attempt reports SLUICE_ENOMEM (or succeeds once the countdown is past
 * the last allocation) and leaks nothing (ASan checks the leaks).
 */
static void test_rdb_snapshot__allocation_failures_are_reported(void **state)
{
	fixture *f = *state;
	sluice_incremental_handle *h1, *h = NULL;
	sluice_rdb *db, *back = NULL;
	sluice_rdb_cf *cf;
	long n;
	int rc = -1, k;

	assert_int_equal(sluice__rdb_open(&db, &f->o, "t", 128), 0);
	assert_int_equal(sluice__rdb_cf(&cf, db, "v", SLUICE_RDB_VALUE, 0), 0);
	for (k = 0; k < 100; k++)
		put(f, db, cf, k % 128, k, "v");
	h1 = checkpoint(f, db, 1, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
	sluice__rdb_notify_complete(db, 1);
	put(f, db, cf, 1, 1000, "new");
	for (n = 0; rc != 0; n++) {
		sluice_slice m = S("m");
		sluice_rdb_snapshot *s = NULL;

		sluice__alloc_fail_after(n);
		rc = sluice__rdb_snapshot_sync(
			&s, db, 2 + n, SLUICE_RDB_FORWARD_BACKWARD, 0, 128);
		if (rc == 0)
			rc = sluice__rdb_snapshot_async(&h, s, &f->t, &m);
		sluice__alloc_fail_after(-1);
		sluice__rdb_snapshot_free(s);
		if (rc != 0)
			assert_int_equal(rc, SLUICE_ENOMEM);
	}
	assert_true(n > 5);
	assert_true(placeholders(h) >= 1);
	sluice_incremental_handle_free(h);
	sluice__rdb_free(db);
	for (rc = -1, n = 0; rc != 0; n++) {
		sluice__alloc_fail_after(n);
		rc = sluice__rdb_restore(
			&back, &f->o, "r", 128, 0, 63, &h1, 1, &f->t);
		sluice__alloc_fail_after(-1);
		if (rc != 0) {
			assert_int_equal(rc, SLUICE_ENOMEM);
			assert_null(back);
		}
	}
	assert_int_equal(
		get(f, back, sluice__rdb_cf_at(back, 0), 1, 1, "v"), 0);
	sluice__rdb_free(back);
	sluice_incremental_handle_free(h1);
}

static void test_rdb_restore__keeps_the_written_key_group_width(void **state)
{
	fixture *f = *state;
	sluice_incremental_handle *h[2];
	sluice_rdb *a, *b, *back = NULL;
	sluice_rdb_cf *cf;

	assert_int_equal(sluice__rdb_open(&a, &f->o, "a", 128), 0);
	assert_int_equal(sluice__rdb_open(&b, &f->o, "b", 256), 0);
	assert_int_equal(sluice__rdb_kg_width(a), 1);
	assert_int_equal(sluice__rdb_kg_width(b), 2);
	assert_int_equal(sluice__rdb_cf(&cf, a, "v", SLUICE_RDB_VALUE, 0), 0);
	put(f, a, cf, 3, 3, "a");
	assert_int_equal(sluice__rdb_cf(&cf, b, "v", SLUICE_RDB_VALUE, 0), 0);
	put(f, b, cf, 100, 100, "b");
	h[0] = checkpoint(f, a, 1, SLUICE_RDB_FORWARD_BACKWARD, 0, 64);
	h[1] = checkpoint(f, b, 1, SLUICE_RDB_FORWARD_BACKWARD, 64, 64);
	sluice__rdb_free(a);
	sluice__rdb_free(b);
	/* options say 128 (1 byte), the database says 2 bytes: it wins */
	assert_int_equal(
		sluice__rdb_restore(
			&back, &f->o, "r", 128, 64, 127, &h[1], 1, &f->t),
		0);
	assert_int_equal(sluice__rdb_kg_width(back), 2);
	assert_int_equal(
		sluice__rdb_cf(&cf, back, "v", SLUICE_RDB_VALUE, 0), 0);
	assert_int_equal(get(f, back, cf, 100, 100, "b"), 0);
	sluice__rdb_free(back);
	back = NULL;
	/* merging databases of different widths is refused */
	assert_int_equal(
		sluice__rdb_restore(
			&back, &f->o, "r", 128, 0, 127, h, 2, &f->t),
		SLUICE_EINVALID);
	assert_null(back);
	assert_non_null(
		strstr(sluice_error_last()->message, "max parallelism"));
	sluice_incremental_handle_free(h[0]);
	sluice_incremental_handle_free(h[1]);
}

/* ---- shards: a rescaled backend keeps its parts side by side --------- */

#define SH_KEYS 2000

/* Value of key i after `round` rounds of changes, NULL = deleted. */
static const char *sh_expect(int i, int round, char *buf, size_t n)
{
	if (round >= 1 && i % 7 == 0)
		return NULL;
	snprintf(buf, n, "v%d-%d", i, round >= 1 && i % 3 == 0 ? 1 : 0);
	return buf;
}

static sluice_state_key sh_key(int i, char *buf)
{
	sluice_state_key k = {(int32_t)(i % 128), 0, {buf, 0}, {NULL, 0}};

	snprintf(buf, 32, "key-%08d", i);
	k.key.len = strlen(buf);
	return k;
}

static sluice_backend *sh_backend(
	fixture *f,
	int32_t s,
	int32_t e,
	sluice_incremental_handle **hs,
	size_t n,
	int32_t max_shards,
	int expect)
{
	sluice_rocksdb_options o = f->o;
	sluice_backend *b = NULL;

	o.max_parallelism = 128;
	o.label = "shards";
	o.restore = hs;
	o.num_restore = n;
	o.restore_start = s;
	o.restore_end = e;
	o.transfer = &f->t;
	o.max_shards = max_shards;
	assert_int_equal(sluice_backend_rocksdb_new(&b, &o), expect);
	return b;
}

/* Write round `round` of the keys of [s, e] (round 1 changes some). */
static void sh_write(sluice_backend *b, int32_t s, int32_t e, int round)
{
	sluice_backend_state *st;
	char kb[32], vb[32];
	int i;

	assert_int_equal(b->register_state(b, "v", SLUICE_SHAPE_FLAT, &st), 0);
	for (i = 0; i < SH_KEYS; i++) {
		sluice_state_key k = sh_key(i, kb);
		const char *v = sh_expect(i, round, vb, sizeof(vb));

		if (k.key_group < s || k.key_group > e)
			continue;
		if (round == 1 && i % 3 && i % 7)
			continue; /* unchanged */
		if (v)
			assert_int_equal(b->put(b, st, &k, S(v)), 0);
		else
			assert_int_equal(b->remove(b, st, &k), 0);
	}
}

static int sh_count(void *ctx, const sluice_backend_entry *e)
{
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

/* b holds exactly the keys of [s, e] as of `round`. */
static void sh_check(sluice_backend *b, int32_t s, int32_t e, int round)
{
	sluice_backend_state *st;
	char kb[32], vb[32];
	int i, want = 0, seen = 0;

	assert_int_equal(b->register_state(b, "v", SLUICE_SHAPE_FLAT, &st), 0);
	for (i = 0; i < SH_KEYS; i++) {
		sluice_state_key k = sh_key(i, kb);
		const char *v = sh_expect(i, round, vb, sizeof(vb));
		sluice_slice out;
		int rc = b->get(b, st, &k, &out);

		if (k.key_group < s || k.key_group > e || !v) {
			assert_int_equal(rc, SLUICE_ENOTFOUND);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(out.len, strlen(v));
		assert_memory_equal(out.data, v, out.len);
		want++;
	}
	assert_int_equal(b->iterate(b, st, NULL, sh_count, &seen), 0);
	assert_int_equal(seen, want);
}

static sluice_incremental_handle *
sh_checkpoint(fixture *f, sluice_backend *b, int64_t id, int32_t s, int32_t e)
{
	sluice_rocksdb_snapshot *snap;
	sluice_incremental_handle *h;

	assert_int_equal(
		sluice_rocksdb_snapshot_sync(
			&snap, b, id, SLUICE_ROCKSDB_CHECKPOINT, s, e - s + 1),
		0);
	assert_int_equal(
		sluice_rocksdb_snapshot_upload(&h, snap, &f->t, S("meta")), 0);
	sluice_rocksdb_snapshot_free(snap);
	sluice_rocksdb_notify_complete(b, id);
	return h;
}

static unsigned sh_named(const sluice_incremental_handle *h, const char *pre)
{
	unsigned i, n = 0;

	for (i = 0; i < h->num_shared; i++)
		n += !strncmp(h->shared_files[i].name, pre, strlen(pre));
	for (i = 0; i < h->num_private; i++)
		n += !strncmp(h->private_files[i].name, pre, strlen(pre));
	return n;
}

/* Checkpoint 1 of two subtasks holding key groups 0..63 and 64..127. */
static void sh_two_halves(fixture *f, sluice_incremental_handle *h[2])
{
	int i;

	for (i = 0; i < 2; i++) {
		int32_t s = i ? 64 : 0, e = i ? 127 : 63;
		sluice_backend *b = sh_backend(f, s, e, NULL, 0, 0, 0);

		sh_write(b, s, e, 0);
		h[i] = sh_checkpoint(f, b, 1, s, e);
		b->free(b);
	}
}

static void test_rdb_shards__scale_in_keeps_the_parts_side_by_side(void **state)
{
	fixture *f = *state;
	sluice_incremental_handle *h[2], *h2, *h3;
	sluice_backend *b, *half;
	int i;

	sh_two_halves(f, h);
	/* 2 -> 1: both parts kept as they are, no copy */
	b = sh_backend(f, 0, 127, h, 2, 0, 0);
	assert_int_equal(sluice__rdb_backend_shards(b), 2);
	sh_check(b, 0, 127, 0);
	sh_write(b, 0, 127, 1);
	sh_check(b, 0, 127, 1);

	/* its checkpoint is one handle of two parts, and the restored
	 * (unclipped) parts' files are referenced, not uploaded again */
	h2 = sh_checkpoint(f, b, 2, 0, 127);
	assert_int_equal(h2->start_key_group, 0);
	assert_int_equal(h2->num_key_groups, 128);
	assert_true(sh_named(h2, "kg-0-63/") > 0);
	assert_true(sh_named(h2, "kg-64-127/") > 0);
	assert_int_equal(
		sh_named(h2, "kg-0-63/") + sh_named(h2, "kg-64-127/"),
		h2->num_shared + h2->num_private);
	assert_true(placeholders(h2) >= h[0]->num_shared + h[1]->num_shared);
	assert_non_null(h2->metadata);
	assert_int_equal(h2->metadata->size, 4);
	resolve(f, h2);

	/* canonical snapshot reads each key group from its shard */
	{
		sluice_backend_snapshot *cs;
		int n0 = 0, n1 = 0;

		assert_int_equal(b->snapshot_sync(b, &cs), 0);
		assert_int_equal(
			b->snapshot_iterate(cs, 0, 5, sh_count, &n0), 0);
		assert_int_equal(
			b->snapshot_iterate(cs, 0, 100, sh_count, &n1), 0);
		b->snapshot_release(cs);
		assert_true(n0 > 0 && n1 > 0);
	}
	b->free(b);

	/* 1 -> 1 from the two-part handle, 1 -> 2, and a range across */
	b = sh_backend(f, 0, 127, &h2, 1, 0, 0);
	assert_int_equal(sluice__rdb_backend_shards(b), 2);
	sh_check(b, 0, 127, 1);
	b->free(b);
	half = sh_backend(f, 64, 127, &h2, 1, 0, 0);
	assert_int_equal(sluice__rdb_backend_shards(half), 1);
	sh_check(half, 64, 127, 1);
	half->free(half);
	half = sh_backend(f, 40, 90, &h2, 1, 0, 0);
	assert_int_equal(sluice__rdb_backend_shards(half), 2);
	sh_check(half, 40, 90, 1);
	sh_write(half, 40, 90, 1);
	h3 = sh_checkpoint(f, half, 3, 40, 90);
	assert_true(sh_named(h3, "kg-40-63/") > 0);
	assert_true(sh_named(h3, "kg-64-90/") > 0);
	half->free(half);
	resolve(f, h3);
	half = sh_backend(f, 0, 127, &h3, 1, 0, 0);
	sh_check(half, 40, 90, 1);
	half->free(half);

	/* with at most one instance the parts are copied into one */
	b = sh_backend(f, 0, 127, h, 2, 1, 0);
	assert_int_equal(sluice__rdb_backend_shards(b), 1);
	sh_check(b, 0, 127, 0);
	b->free(b);
	for (i = 0; i < 2; i++)
		sluice_incremental_handle_free(h[i]);
	sluice_incremental_handle_free(h2);
	sluice_incremental_handle_free(h3);
}

/* Rename every file of `h` starting with `from` to start with `to`. */
static void
sh_rename(sluice_incremental_handle *h, const char *from, const char *to)
{
	unsigned i;

	for (i = 0; i < h->num_shared + h->num_private; i++) {
		sluice_incremental_file *fl =
			i < h->num_shared
				? &h->shared_files[i]
				: &h->private_files[i - h->num_shared];
		char name[512];

		if (strncmp(fl->name, from, strlen(from)))
			continue;
		snprintf(
			name, sizeof(name), "%s%s", to,
			fl->name + strlen(from));
		sluice__free(fl->name);
		fl->name = sluice__strdup(name);
	}
}

static void test_rdb_shards__malformed_parts_are_corrupt(void **state)
{
	static const char *const bad[][2] = {
		{"kg-64-127/", "kg-64-127x/"}, /* not a prefix */
		{"kg-64-127/", "kg-60-127/"},  /* overlaps kg-0-63 */
		{"kg-64-127/", "kg-64-200/"},  /* outside the handle */
		{"kg-64-127/", "kg-127-64/"},  /* lo > hi */
		{"kg-64-127/", ""},            /* plain names mixed in */
	};
	fixture *f = *state;
	sluice_incremental_handle *h[2], *h2;
	sluice_backend *b;
	size_t i;

	sh_two_halves(f, h);
	b = sh_backend(f, 0, 127, h, 2, 0, 0);
	h2 = sh_checkpoint(f, b, 2, 0, 127);
	b->free(b);
	resolve(f, h2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sluice_incremental_handle *d =
			sluice_incremental_handle_dup(h2);

		sh_rename(d, bad[i][0], bad[i][1]);
		b = sh_backend(f, 0, 127, &d, 1, 0, SLUICE_ECORRUPT);
		assert_null(b);
		assert_non_null(
			strstr(sluice_error_last()->message, "checkpoint 2"));
		assert_non_null(strstr(
			sluice_error_last()->message, "key groups 0..127"));
		sluice_incremental_handle_free(d);
	}
	for (i = 0; i < 2; i++)
		sluice_incremental_handle_free(h[i]);
	sluice_incremental_handle_free(h2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_rdb_restore__keeps_the_written_key_group_width,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_snapshot__allocation_failures_are_reported,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_snapshot__confirmed_files_become_placeholders,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_snapshot__unconfirmed_aborted_and_savepoints_are_not_the_base,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_snapshot__many_small_checkpoints_upload_only_new_files,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_restore__after_live_db_compacted_files_away,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_restore__rescale_2_to_3_and_3_to_1, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_restore__corrupt_and_unresolved_files_are_reported,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_shards__scale_in_keeps_the_parts_side_by_side,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rdb_shards__malformed_parts_are_corrupt, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
