/*
 * Incremental RocksDB checkpoints through real (file) checkpoint storage:
 * SST files land in shared/, the rest in chk-<n>/; the second checkpoint
 * references the first one's files; a restore reads them back through the
 * storage (SSTs hard-linked, verified while the database opens); a
 * corrupted shared file is reported by name and fails the restore, also
 * when rescaling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/state.h"
#include "sluice/sys/rocksdb.h"
#include "sluice/sys/metadata.h"
#include "sluice/sys/storage.h"
#include "state/rocksdb/rdb.h"

#define JOB  "0123456789abcdef0123456789abcdef"
#define S(s) SLUICE_SLICE((s), strlen(s))

typedef struct fx {
	char dir[64];
	sluice_storage_options so;
	sluice_checkpoint_storage *cs;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	snprintf(f->dir, sizeof(f->dir), "%s/rdbstXXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	sluice_storage_options_init(&f->so);
	f->so.checkpoint_dir = f->dir;
	assert_int_equal(sluice_checkpoint_storage_new(&f->cs, &f->so, JOB), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	char cmd[128];

	sluice_checkpoint_storage_free(f->cs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
put_all(sluice_backend *b,
	sluice_backend_state *st,
	int from,
	int to,
	const char *v)
{
	int i;

	for (i = from; i < to; i++) {
		char k[16];
		sluice_state_key key;

		snprintf(k, sizeof(k), "key%06d", i);
		key.key_group = i % 128;
		key.hash = 0;
		key.key = S(k);
		key.ns = SLUICE_SLICE(NULL, 0);
		assert_int_equal(b->put(b, st, &key, S(v)), 0);
	}
}

/* A checkpoint of `b` recording key groups [kg_start, kg_start + kg_num). */
static sluice_incremental_handle *checkpoint_range(
	fx *f,
	sluice_backend *b,
	int64_t id,
	int32_t kg_start,
	int32_t kg_num,
	sluice_location **loc)
{
	sluice_rocksdb_storage_ctx ctx;
	sluice_rocksdb_transfer t;
	sluice_rocksdb_snapshot *s;
	sluice_incremental_handle *h;

	assert_int_equal(sluice_checkpoint_location_new(loc, f->cs, id), 0);
	ctx.loc = *loc;
	ctx.st = sluice_checkpoint_storage_backend(f->cs);
	ctx.dir = sluice_location_dir(*loc);
	sluice_rocksdb_transfer_storage(&t, &ctx);
	assert_int_equal(
		sluice_rocksdb_snapshot_sync(
			&s, b, id, SLUICE_ROCKSDB_CHECKPOINT, kg_start, kg_num),
		0);
	assert_int_equal(
		sluice_rocksdb_snapshot_upload(&h, s, &t, S("meta")), 0);
	sluice_rocksdb_snapshot_free(s);
	return h;
}

static sluice_incremental_handle *
checkpoint(fx *f, sluice_backend *b, int64_t id, sluice_location **loc)
{
	return checkpoint_range(f, b, id, 0, 128, loc);
}

static const sluice_stream_handle *
by_name(const sluice_incremental_handle *h, const char *name)
{
	uint32_t i;

	for (i = 0; i < h->num_shared; i++)
		if (!strcmp(h->shared_files[i].name, name))
			return h->shared_files[i].handle;
	return NULL;
}

/* SST files of h (in checkpoint storage) with a second link */
static int linked(const sluice_incremental_handle *h)
{
	struct stat sb;
	uint32_t i;
	int n = 0;

	for (i = 0; i < h->num_shared; i++) {
		const sluice_stream_handle *fh = h->shared_files[i].handle;

		if (fh->kind == SLUICE_HANDLE_FILE && stat(fh->path, &sb) == 0)
			n += sb.st_nlink >= 2;
	}
	return n;
}

static void
test_rocksdb_storage__incremental_checkpoint_and_restore(void **state)
{
	fx *f = *state;
	sluice_rocksdb_options o;
	sluice_backend *b, *back;
	sluice_backend_state *st;
	sluice_location *l1, *l2;
	sluice_incremental_handle *h1, *h2;
	sluice_incremental_handle *hs[1];
	sluice_rocksdb_storage_ctx ctx;
	sluice_rocksdb_transfer t;
	sluice_storage *storage = sluice_checkpoint_storage_backend(f->cs);
	char shared[256];
	uint32_t i;

	sluice_rocksdb_options_init(&o);
	o.max_parallelism = 128;
	assert_int_equal(sluice_backend_rocksdb_new(&b, &o), 0);
	assert_int_equal(b->register_state(b, "v", SLUICE_SHAPE_FLAT, &st), 0);
	put_all(b, st, 0, 3000,
		"first-value-of-some-length-to-pass-the-inline-threshold");
	h1 = checkpoint(f, b, 1, &l1);
	snprintf(shared, sizeof(shared), "%s/%s/shared/", f->dir, JOB);
	for (i = 0; i < h1->num_shared; i++) {
		const sluice_stream_handle *fh = h1->shared_files[i].handle;

		if (fh->kind != SLUICE_HANDLE_FILE)
			continue; /* small files may be inline */
		assert_non_null(strstr(fh->path, shared));
		assert_int_equal(
			sluice_handle_verify(
				storage, sluice_location_dir(l1), fh),
			0);
	}
	sluice_rocksdb_notify_complete(b, 1);
	put_all(b, st, 0, 10, "second");
	h2 = checkpoint(f, b, 2, &l2);
	/* the registry's job, done by hand: placeholders -> real handles */
	for (i = 0; i < h2->num_shared; i++) {
		sluice_stream_handle *ph = h2->shared_files[i].handle;
		const sluice_stream_handle *real;

		if (ph->kind != SLUICE_HANDLE_PLACEHOLDER)
			continue;
		assert_non_null(real = by_name(h1, h2->shared_files[i].name));
		assert_string_equal(real->path, ph->path);
		h2->shared_files[i].handle = sluice_stream_handle_dup(real);
		sluice_stream_handle_free(ph);
	}
	b->free(b);

	ctx.loc = NULL;
	ctx.st = storage;
	ctx.dir = sluice_location_dir(l2);
	sluice_rocksdb_transfer_storage(&t, &ctx);
	hs[0] = h2;
	o.restore = hs;
	o.num_restore = 1;
	o.restore_start = 0;
	o.restore_end = 127;
	o.transfer = &t;
	assert_int_equal(sluice_backend_rocksdb_new(&back, &o), 0);
	assert_int_equal(
		back->register_state(back, "v", SLUICE_SHAPE_FLAT, &st), 0);
	assert_int_equal(back->count(back, st), 3000);
	/* local storage: the restored SSTs are hard links, not copies */
	assert_true(linked(h2) >= 1);
	back->free(back);
	assert_int_equal(linked(h2), 0);

	/* flip a byte of one shared file on disk: reported by file name */
	for (i = 0; i < h1->num_shared; i++) {
		const sluice_stream_handle *fh = h1->shared_files[i].handle;
		FILE *fp;

		if (fh->kind != SLUICE_HANDLE_FILE || fh->size < 100)
			continue;
		assert_non_null(fp = fopen(fh->path, "r+b"));
		fseek(fp, 50, SEEK_SET);
		fputc(0x5a ^ fgetc(fp), fp);
		fclose(fp);
		assert_int_equal(
			sluice_backend_rocksdb_new(&back, &o), SLUICE_ECORRUPT);
		assert_non_null(
			strstr(sluice_error_last()->message,
			       h1->shared_files[i].name));
		break;
	}
	assert_true(i < h1->num_shared);
	sluice_location_free(l1);
	sluice_location_free(l2);
	sluice_incremental_handle_free(h1);
	sluice_incremental_handle_free(h2);
}

static unsigned files_in(const char *dir)
{
	unsigned n = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Twelve checkpoints with small changes, compactions in between, the
 * shared-state registry with one retained checkpoint: retention deletes
 * files no retained checkpoint uses and never one the latest references;
 * the latest restores.
 */
static void
test_rocksdb_storage__retention_keeps_every_referenced_file(void **state)
{
	fx *f = *state;
	sluice_storage *storage = sluice_checkpoint_storage_backend(f->cs);
	sluice_shared_registry *reg;
	sluice_rocksdb_options o;
	sluice_backend *b, *back;
	sluice_backend_state *st;
	sluice_incremental_handle *h = NULL, *hs[1];
	sluice_location *loc = NULL;
	sluice_rocksdb_storage_ctx ctx;
	sluice_rocksdb_transfer t;
	unsigned uploaded = 0;
	char shared[256];
	int64_t id;
	uint32_t i;

	snprintf(shared, sizeof(shared), "%s/%s/shared", f->dir, JOB);
	assert_int_equal(sluice_shared_registry_new(&reg, storage), 0);
	sluice_rocksdb_options_init(&o);
	o.max_parallelism = 128;
	assert_int_equal(sluice_backend_rocksdb_new(&b, &o), 0);
	assert_int_equal(b->register_state(b, "v", SLUICE_SHAPE_FLAT, &st), 0);
	put_all(b, st, 0, 2000,
		"a-value-long-enough-that-sst-files-are-not-inlined-"
		"0123456789");
	for (id = 1; id <= 12; id++) {
		put_all(b, st, (int)id * 100, (int)id * 100 + 300,
			"changed-value-0123456789-0123456789-0123456789");
		if (id % 4 == 0)
			assert_int_equal(sluice__rdb_backend_compact(b), 0);
		sluice_incremental_handle_free(h);
		sluice_location_free(loc);
		h = checkpoint(f, b, id, &loc);
		for (i = 0; i < h->num_shared; i++) {
			sluice_stream_handle *fh = h->shared_files[i].handle;
			const sluice_stream_handle *kept;

			uploaded += fh->kind == SLUICE_HANDLE_FILE;
			assert_int_equal(
				sluice_shared_registry_register(
					reg, fh->path, fh, id, &kept),
				0);
			h->shared_files[i].handle =
				sluice_stream_handle_dup(kept);
			sluice_stream_handle_free(fh);
		}
		sluice_shared_registry_checkpoint_completed(reg, id);
		sluice_rocksdb_notify_complete(b, id);
		assert_int_equal(
			sluice_shared_registry_unregister_unused(reg, id), 0);
		for (i = 0; i < h->num_shared; i++)
			if (h->shared_files[i].handle->kind ==
			    SLUICE_HANDLE_FILE)
				assert_int_equal(
					sluice_handle_verify(
						storage,
						sluice_location_dir(loc),
						h->shared_files[i].handle),
					0);
	}
	/* compactions made old files unreferenced: they are gone */
	assert_true(files_in(shared) < uploaded);
	b->free(b);
	ctx.loc = NULL;
	ctx.st = storage;
	ctx.dir = sluice_location_dir(loc);
	sluice_rocksdb_transfer_storage(&t, &ctx);
	hs[0] = h;
	o.restore = hs;
	o.num_restore = 1;
	o.restore_start = 0;
	o.restore_end = 127;
	o.transfer = &t;
	assert_int_equal(sluice_backend_rocksdb_new(&back, &o), 0);
	assert_int_equal(
		back->register_state(back, "v", SLUICE_SHAPE_FLAT, &st), 0);
	assert_int_equal(back->count(back, st), 2000);
	back->free(back);
	sluice_incremental_handle_free(h);
	sluice_location_free(loc);
	sluice_shared_registry_free(reg);
}

/* Flip byte 50 of a stored file (twice: the original again). */
static void flip_stored_byte(const sluice_stream_handle *fh)
{
	FILE *fp = fopen(fh->path, "r+b");
	int c;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 50, SEEK_SET), 0);
	c = fgetc(fp);
	assert_int_equal(fseek(fp, 50, SEEK_SET), 0);
	fputc(0x5a ^ c, fp);
	assert_int_equal(fclose(fp), 0);
}

/* Index of an SST of h stored as a file in checkpoint storage. */
static uint32_t stored_sst(const sluice_incremental_handle *h)
{
	uint32_t i;

	for (i = 0; i < h->num_shared; i++) {
		const sluice_stream_handle *fh = h->shared_files[i].handle;
		const char *name = h->shared_files[i].name;
		size_t n = strlen(name);

		if (fh->kind == SLUICE_HANDLE_FILE && fh->size >= 100 &&
		    n > 4 && !strcmp(name + n - 4, ".sst"))
			return i;
	}
	fail_msg(
		"no SST of checkpoint %lld is a file",
		(long long)h->checkpoint_id);
	return 0;
}

/* A backend holding the keys of key groups [lo, hi] of 3000 keys. */
static sluice_backend *filled(int32_t lo, int32_t hi)
{
	sluice_rocksdb_options o;
	sluice_backend *b;
	sluice_backend_state *st;
	int i;

	sluice_rocksdb_options_init(&o);
	o.max_parallelism = 128;
	assert_int_equal(sluice_backend_rocksdb_new(&b, &o), 0);
	assert_int_equal(b->register_state(b, "v", SLUICE_SHAPE_FLAT, &st), 0);
	for (i = 0; i < 3000; i++)
		if (i % 128 >= lo && i % 128 <= hi)
			put_all(b, st, i, i + 1,
				"a-value-long-enough-that-sst-files-are-not-"
				"inlined-0123456789");
	return b;
}

/* Keys of a restored backend in state "v". */
static int64_t keys_of(sluice_backend *b)
{
	sluice_backend_state *st;

	assert_int_equal(b->register_state(b, "v", SLUICE_SHAPE_FLAT, &st), 0);
	return b->count(b, st);
}

/* Restore [lo, hi] of hs expecting SLUICE_ECORRUPT for stored file `bad`
 * of checkpoint `id`, with no instance left in o->local_dir. */
static void expect_corrupt(
	sluice_rocksdb_options *o,
	int32_t lo,
	int32_t hi,
	const char *bad,
	int64_t id)
{
	sluice_backend *back = NULL;
	char checkpoint[64];

	o->restore_start = lo;
	o->restore_end = hi;
	assert_int_equal(sluice_backend_rocksdb_new(&back, o), SLUICE_ECORRUPT);
	assert_null(back);
	snprintf(
		checkpoint, sizeof(checkpoint), "of checkpoint %lld",
		(long long)id);
	assert_non_null(strstr(sluice_error_last()->message, bad));
	assert_non_null(strstr(sluice_error_last()->message, checkpoint));
	assert_int_equal(files_in(o->local_dir), 0);
}

/*
 * The SSTs of a restore from local file storage are hard links verified
 * while RocksDB opens the database: a byte flipped in the stored file
 * after the checkpoint still fails the whole restore (whole range and
 * clipped) with the file and checkpoint named, no instance is left
 * behind, and once the byte is back the same restore works.
 */
static void test_rocksdb_storage__corrupt_linked_sst_fails_restore(void **state)
{
	fx *f = *state;
	sluice_rocksdb_options o;
	sluice_backend *b, *back;
	sluice_location *loc;
	sluice_incremental_handle *h, *hs[1];
	sluice_rocksdb_storage_ctx ctx;
	sluice_rocksdb_transfer t;
	char local[128];
	uint32_t bad;

	snprintf(local, sizeof(local), "%s/local", f->dir);
	assert_int_equal(mkdir(local, 0755), 0);
	b = filled(0, 127);
	h = checkpoint(f, b, 1, &loc);
	b->free(b);
	ctx.loc = NULL;
	ctx.st = sluice_checkpoint_storage_backend(f->cs);
	ctx.dir = sluice_location_dir(loc);
	sluice_rocksdb_transfer_storage(&t, &ctx);
	sluice_rocksdb_options_init(&o);
	o.max_parallelism = 128;
	o.local_dir = local;
	hs[0] = h;
	o.restore = hs;
	o.num_restore = 1;
	o.transfer = &t;

	bad = stored_sst(h);
	flip_stored_byte(h->shared_files[bad].handle);
	expect_corrupt(&o, 0, 127, h->shared_files[bad].name, 1);
	expect_corrupt(&o, 0, 63, h->shared_files[bad].name, 1);
	expect_corrupt(&o, 64, 127, h->shared_files[bad].name, 1);
	flip_stored_byte(h->shared_files[bad].handle);

	o.restore_start = 0;
	o.restore_end = 127;
	assert_int_equal(sluice_backend_rocksdb_new(&back, &o), 0);
	assert_true(linked(h) >= 1); /* it was the linked path */
	assert_int_equal(keys_of(back), 3000);
	back->free(back);
	assert_int_equal(files_in(local), 0);
	sluice_location_free(loc);
	sluice_incremental_handle_free(h);
}

/*
 * Rescaling 2 -> 1 from local file storage: a flipped byte in an SST of
 * either checkpoint fails the restore whether the parts become shards or
 * one part is merged into the other, naming file and checkpoint, with no
 * instance left behind; the intact checkpoints then restore both ways.
 */
static void test_rocksdb_storage__corrupt_linked_sst_fails_rescale(void **state)
{
	fx *f = *state;
	sluice_rocksdb_options o;
	sluice_backend *b, *back;
	sluice_location *loc[2];
	sluice_incremental_handle *hs[2];
	sluice_rocksdb_storage_ctx ctx;
	sluice_rocksdb_transfer t;
	char local[128];
	int k, shards;

	snprintf(local, sizeof(local), "%s/local", f->dir);
	assert_int_equal(mkdir(local, 0755), 0);
	for (k = 0; k < 2; k++) {
		b = filled(64 * k, 64 * k + 63);
		hs[k] = checkpoint_range(f, b, k + 1, 64 * k, 64, &loc[k]);
		b->free(b);
	}
	ctx.loc = NULL;
	ctx.st = sluice_checkpoint_storage_backend(f->cs);
	ctx.dir = sluice_location_dir(loc[1]);
	sluice_rocksdb_transfer_storage(&t, &ctx);
	sluice_rocksdb_options_init(&o);
	o.max_parallelism = 128;
	o.local_dir = local;
	o.restore = hs;
	o.num_restore = 2;
	o.transfer = &t;

	for (k = 0; k < 2; k++) {
		uint32_t bad = stored_sst(hs[k]);
		const sluice_stream_handle *fh =
			hs[k]->shared_files[bad].handle;

		flip_stored_byte(fh);
		/* max_shards 0: two shards; 1: checkpoint 2 merged into 1 */
		for (shards = 0; shards < 2; shards++) {
			o.max_shards = shards;
			expect_corrupt(
				&o, 0, 127, hs[k]->shared_files[bad].name,
				k + 1);
		}
		flip_stored_byte(fh);
	}
	for (shards = 0; shards < 2; shards++) {
		o.max_shards = shards;
		o.restore_start = 0;
		o.restore_end = 127;
		assert_int_equal(sluice_backend_rocksdb_new(&back, &o), 0);
		assert_int_equal(
			sluice__rdb_backend_shards(back), shards ? 1 : 2);
		assert_int_equal(keys_of(back), 3000);
		back->free(back);
	}
	assert_int_equal(files_in(local), 0);
	for (k = 0; k < 2; k++) {
		sluice_location_free(loc[k]);
		sluice_incremental_handle_free(hs[k]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_rocksdb_storage__incremental_checkpoint_and_restore,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rocksdb_storage__retention_keeps_every_referenced_file,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rocksdb_storage__corrupt_linked_sst_fails_restore,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rocksdb_storage__corrupt_linked_sst_fails_rescale,
			setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
