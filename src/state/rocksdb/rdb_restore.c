/*
 * Restoring a rocksdb instance from incremental handles (spec §7.2):
 * parallel download with checksum verification, opening the downloaded
 * database with all its column families, merging in the key groups of
 * further handles when rescaling, clipping to the subtask's key-group
 * range, and seeding the uploaded-files tracker so the first checkpoint
 * after a plain restore references the restored SST files.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "state/rocksdb/rdb_impl.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct dl_ctx {
	const sluice_rdb_transfer *t;
	const sluice_incremental_handle *h;
	const char *dir;
} dl_ctx;

static const sluice_incremental_file *
handle_file(const sluice_incremental_handle *h, size_t i)
{
	if (i < h->num_shared)
		return &h->shared_files[i];
	return &h->private_files[i - h->num_shared];
}

static int dl_run(void *arg, size_t i)
{
	dl_ctx *c = arg;
	const sluice_incremental_file *f = handle_file(c->h, i);
	char what[512];
	char *path;
	int error;

	snprintf(
		what, sizeof(what),
		"rocksdb restore: file '%s' of checkpoint %" PRId64, f->name,
		c->h->checkpoint_id);
	if (!f->handle || !f->name[0] || strchr(f->name, '/') ||
	    !strcmp(f->name, ".") || !strcmp(f->name, ".."))
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_ROCKSDB,
			"%s: not a valid local file entry", what);
	if (!(path = sluice__rdb_join(c->dir, f->name)))
		return sluice__error_oom();
	error = sluice__rdb_download(c->t, f->handle, path, what);
	sluice__free(path);
	return error;
}

static int download(
	sluice_rdb *db,
	const sluice_incremental_handle *h,
	const char *dir,
	const sluice_rdb_transfer *t)
{
	dl_ctx c = {t, h, dir};

	SLUICE_ERRCHECK(sluice__rdb_mkdirs(dir));
	return sluice__rdb_parallel(
		(size_t)h->num_shared + h->num_private,
		db->o.transfer_threads - 1, dl_run, &c);
}

static int64_t overlap(const sluice_incremental_handle *h, int32_t s, int32_t e)
{
	int64_t hs = h->start_key_group, he = hs + h->num_key_groups - 1;
	int64_t lo = hs > s ? hs : s, hi = he < e ? he : e;

	return hi >= lo ? hi - lo + 1 : 0;
}

/* The column family `name` of db, created (unconfigured) when missing. */
static int target_cf(sluice_rdb_cf **out, sluice_rdb *db, const char *name)
{
	size_t i;

	for (i = 0; i < db->ncf; i++)
		if (!strcmp(db->cfs[i]->name, name)) {
			*out = db->cfs[i];
			return 0;
		}
	return sluice__rdb_cf(out, db, name, SLUICE_RDB_VALUE, 0);
}

/* Copy one column family's entries in [lo, hi) into `to`. */
static int
copy_cf(sluice_rdb *db,
	rocksdb_t *src,
	rocksdb_column_family_handle_t *from,
	sluice_rdb_cf *to,
	sluice_slice lo,
	sluice_slice hi)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	rocksdb_iterator_t *it = NULL;
	char *err = NULL;
	int error = 0;

	if (!ro || !wb) {
		error = sluice__error_oom();
		goto done;
	}
	rocksdb_readoptions_set_iterate_upper_bound(ro, hi.data, hi.len);
	it = rocksdb_create_iterator_cf(src, ro, from);
	for (rocksdb_iter_seek(it, lo.data, lo.len);; rocksdb_iter_next(it)) {
		int valid = rocksdb_iter_valid(it);
		size_t kn, vn;

		if (valid) {
			const char *k = rocksdb_iter_key(it, &kn);
			const char *v = rocksdb_iter_value(it, &vn);

			rocksdb_writebatch_put_cf(wb, to->h, k, kn, v, vn);
		}
		if (!valid || rocksdb_writebatch_count(wb) >= 4096) {
			rocksdb_write(db->db, db->wo, wb, &err);
			rocksdb_writebatch_clear(wb);
			if (err) {
				error = sluice__rdb_err(
					err, "rocksdb restore: write into '%s'",
					to->name);
				break;
			}
		}
		if (!valid)
			break;
	}
	rocksdb_iter_get_error(it, &err);
	if (err && error == 0)
		error = sluice__rdb_err(
			err, "rocksdb restore: read '%s'", to->name);
	else
		rocksdb_free(err);
done:
	if (it)
		rocksdb_iter_destroy(it);
	if (wb)
		rocksdb_writebatch_destroy(wb);
	if (ro)
		rocksdb_readoptions_destroy(ro);
	return error;
}

typedef struct src_db {
	rocksdb_t *db;
	char **names;
	size_t n;
	rocksdb_column_family_handle_t **hs;
	const rocksdb_options_t **opts;
} src_db;

static void src_close(src_db *s)
{
	size_t i;

	for (i = 0; s->hs && i < s->n; i++)
		if (s->hs[i])
			rocksdb_column_family_handle_destroy(s->hs[i]);
	if (s->db)
		rocksdb_close(s->db);
	if (s->names)
		rocksdb_list_column_families_destroy(s->names, s->n);
	sluice__free(s->hs);
	sluice__free(s->opts);
}

static int src_open(src_db *s, sluice_rdb *db, const char *dir)
{
	char *err = NULL;
	size_t i;

	memset(s, 0, sizeof(*s));
	s->names = rocksdb_list_column_families(db->opts, dir, &s->n, &err);
	if (err)
		return sluice__rdb_err(
			err, "rocksdb restore: list column families of '%s'",
			dir);
	if (!(s->hs = sluice__calloc(s->n, sizeof(*s->hs))) ||
	    !(s->opts = sluice__calloc(s->n, sizeof(*s->opts))))
		return sluice__error_oom();
	for (i = 0; i < s->n; i++)
		s->opts[i] = db->opts;
	s->db = rocksdb_open_for_read_only_column_families(
		db->opts, dir, (int)s->n, (const char *const *)s->names,
		s->opts, s->hs, 0, &err);
	if (err)
		return sluice__rdb_err(err, "rocksdb restore: open '%s'", dir);
	return 0;
}

static int same_layout(sluice_rdb *db, src_db *src, const char *dir)
{
	int width = 0, rc;
	size_t i;

	for (i = 0; i < src->n; i++)
		if (!strcmp(src->names[i], "default"))
			break;
	if (i == src->n)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_ROCKSDB,
			"rocksdb restore: '%s' has no default column family",
			dir);
	if ((rc = sluice__rdb_layout(src->db, db->ro, src->hs[i], &width)) ==
	    SLUICE_ENOTFOUND)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_ROCKSDB,
			"rocksdb restore: '%s' has no key layout record", dir);
	if (rc < 0)
		return rc;
	if (width != db->kg_bytes)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_ROCKSDB,
			"rocksdb restore: '%s' uses %d-byte key groups, the "
			"base %d-byte ones (different max parallelism)",
			dir, width, db->kg_bytes);
	return 0;
}

/* Copy key groups [s, e] of the database in `dir` into db. */
static int merge_from(sluice_rdb *db, const char *dir, int32_t s, int32_t e)
{
	sluice_buf lo = SLUICE_BUF_INIT, hi = SLUICE_BUF_INIT;
	src_db src;
	size_t i;
	int error;

	if ((error = src_open(&src, db, dir)) < 0 ||
	    (error = same_layout(db, &src, dir)) < 0 ||
	    (error = sluice__rdb_put_kg(&lo, db->kg_bytes, s)) < 0 ||
	    (error = sluice__rdb_put_kg(&hi, db->kg_bytes, e + 1)) < 0)
		goto done;
	if (db->kg_bytes == 1 && e + 1 > 255)
		hi.ptr[0] = 0xFF;
	for (i = 0; i < src.n && error == 0; i++) {
		sluice_rdb_cf *cf;

		if (!strcmp(src.names[i], "default"))
			continue;
		if ((error = target_cf(&cf, db, src.names[i])) == 0)
			error =
				copy_cf(db, src.db, src.hs[i], cf,
					SLUICE_SLICE(lo.ptr, lo.len),
					SLUICE_SLICE(hi.ptr, hi.len));
	}
done:
	src_close(&src);
	sluice_buf_release(&lo);
	sluice_buf_release(&hi);
	return error;
}

/* After a plain restore the restored SSTs are the base (spec §6.2). */
static int seed_tracker(sluice_rdb *db, const sluice_incremental_handle *h)
{
	sluice_rdb_upload_set *set;
	uint32_t i;

	if (!h->num_shared)
		return 0;
	if (!(db->uploaded = sluice__calloc(1, sizeof(*db->uploaded))))
		return sluice__error_oom();
	set = &db->uploaded[0];
	db->nuploaded = 1;
	set->checkpoint_id = h->checkpoint_id;
	if (!(set->files = sluice__calloc(h->num_shared, sizeof(*set->files))))
		return sluice__error_oom();
	for (i = 0; i < h->num_shared; i++) {
		const sluice_stream_handle *fh = h->shared_files[i].handle;
		sluice_rdb_sst *f = &set->files[set->count++];

		f->name = sluice__strdup(h->shared_files[i].name);
		f->key = sluice__strdup(
			fh->path  ? fh->path
			: f->name ? f->name
				  : "");
		f->size = fh->size;
		f->checksum = fh->checksum;
		if (!f->name || !f->key)
			return sluice__error_oom();
	}
	db->last_completed = h->checkpoint_id;
	return 0;
}

static size_t pick_base(
	sluice_incremental_handle *const *handles,
	size_t n,
	int32_t s,
	int32_t e)
{
	size_t i, best = 0;

	for (i = 1; i < n; i++)
		if (overlap(handles[i], s, e) > overlap(handles[best], s, e))
			best = i;
	return best;
}

static int restore_into(
	sluice_rdb *db,
	int32_t s,
	int32_t e,
	sluice_incremental_handle *const *handles,
	size_t n,
	const sluice_rdb_transfer *t)
{
	size_t base = pick_base(handles, n, s, e), i;
	const sluice_incremental_handle *b = handles[base];
	int32_t bs = b->start_key_group, be = bs + b->num_key_groups - 1;

	SLUICE_ERRCHECK(download(db, b, db->db_path, t));
	SLUICE_ERRCHECK(sluice__rdb_open_db(db));
	for (i = 0; i < n; i++) {
		char name[64];
		char *dir;
		int error;

		if (i == base || overlap(handles[i], s, e) == 0)
			continue;
		snprintf(name, sizeof(name), "restore-%zu", i);
		if (!(dir = sluice__rdb_join(db->path, name)))
			return sluice__error_oom();
		if ((error = download(db, handles[i], dir, t)) == 0)
			error = merge_from(db, dir, s, e);
		sluice__rdb_rmtree(dir);
		sluice__free(dir);
		SLUICE_ERRCHECK(error);
	}
	if (bs < s || be > e)
		SLUICE_ERRCHECK(sluice__rdb_clip(db, s, e));
	if (n == 1 && bs == s && be == e)
		SLUICE_ERRCHECK(seed_tracker(db, b));
	return 0;
}

int sluice__rdb_restore(
	sluice_rdb **out,
	const sluice_rdb_options *o,
	const char *label,
	int32_t max_parallelism,
	int32_t kg_start,
	int32_t kg_end,
	sluice_incremental_handle *const *handles,
	size_t n,
	const sluice_rdb_transfer *t)
{
	sluice_rdb *db;
	int error;

	*out = NULL;
	if (n == 0)
		return sluice__rdb_open(out, o, label, max_parallelism);
	SLUICE_ERRCHECK(sluice__rdb_alloc(&db, o, label, max_parallelism));
	if ((error = restore_into(db, kg_start, kg_end, handles, n, t)) < 0) {
		sluice__rdb_free(db);
		return error;
	}
	*out = db;
	return 0;
}
