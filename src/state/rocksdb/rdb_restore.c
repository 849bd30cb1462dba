/*
 * Restoring rocksdb instances from incremental handles (spec §7.2):
 * splitting handles into parts (one database each, see rdb.h), parallel
 * download with checksum verification (of hard-linked files overlapped
 * with the open, see `verify` below), opening a downloaded database
 * with all its column families, keeping several parts side by side as the
 * shards of one backend when rescaling, or merging the key groups of
 * further parts into one instance (read-only open, parallel SST writers
 * per key-group part, one ingest), clipping to the key-group range, and
 * seeding the uploaded-files tracker so the first checkpoint after a
 * restore references the restored SST files.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sluice/state.h"
#include "state/rocksdb/rdb_impl.h"
#include "util/alloc.h"
#include "util/error.h"

/* One database inside a handle: its files are those named `prefix`... */
typedef struct rdb_part {
	const sluice_incremental_handle *h;
	int32_t lo, hi;
	char prefix[SLUICE_RDB_PREFIX_MAX]; /* "" = every file of h */
} rdb_part;

void sluice__rdb_part_prefix(char *buf, int32_t lo, int32_t hi)
{
	snprintf(buf, SLUICE_RDB_PREFIX_MAX, "kg-%d-%d/", (int)lo, (int)hi);
}

static const sluice_incremental_file *
handle_file(const sluice_incremental_handle *h, size_t i)
{
	if (i < h->num_shared)
		return &h->shared_files[i];
	return &h->private_files[i - h->num_shared];
}

static size_t handle_files(const sluice_incremental_handle *h)
{
	return (size_t)h->num_shared + h->num_private;
}

/* Digits of a key group at *p, advancing it; -1 when there are none. */
static int64_t parse_kg(const char **p)
{
	int64_t v = 0;
	int n = 0;

	for (; **p >= '0' && **p <= '9' && n < 6; (*p)++, n++)
		v = v * 10 + (**p - '0');
	return n ? v : -1;
}

/*
 * The part prefix of `name`: 0 = no '/' in it, 1 = "kg-<lo>-<hi>/" with
 * lo <= hi (and *plen its length), SLUICE_ECORRUPT otherwise.
 */
static int
parse_prefix(const char *name, int32_t *lo, int32_t *hi, size_t *plen)
{
	const char *p = name;
	int64_t a, b;

	if (!strchr(name, '/'))
		return 0;
	if (strncmp(p, "kg-", 3))
		return SLUICE_ECORRUPT;
	p += 3;
	if ((a = parse_kg(&p)) < 0 || *p++ != '-' || (b = parse_kg(&p)) < 0 ||
	    *p++ != '/' || a > b || b > SLUICE_KEYGROUP_UPPER_BOUND)
		return SLUICE_ECORRUPT;
	*lo = (int32_t)a;
	*hi = (int32_t)b;
	*plen = (size_t)(p - name);
	return 1;
}

static int bad_part(const sluice_incremental_handle *h, const char *name)
{
	return sluice__error_set(
		SLUICE_ECORRUPT, SLUICE_ERRCLS_ROCKSDB,
		"rocksdb restore: file '%s' of checkpoint %" PRId64
		": not a valid part of key groups %d..%d",
		name, h->checkpoint_id, (int)h->start_key_group,
		(int)(h->start_key_group + h->num_key_groups - 1));
}

static int cmp_part(const void *a, const void *b)
{
	const rdb_part *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Append the parts of `h` to (*parts, *n), validated (see rdb.h). */
static int
add_parts(rdb_part **parts, size_t *n, const sluice_incremental_handle *h)
{
	int32_t hs = h->start_key_group, he = hs + h->num_key_groups - 1;
	size_t i, k, first = *n;
	int plain = 0, framed = 0;

	for (i = 0; i < handle_files(h); i++) {
		const char *name = handle_file(h, i)->name;
		int32_t lo, hi;
		size_t plen;
		rdb_part *np;
		int rc = parse_prefix(name ? name : "", &lo, &hi, &plen);

		if (rc < 0 || (rc == 1 && (lo < hs || hi > he)))
			return bad_part(h, name ? name : "");
		if (rc == 0) {
			plain = 1;
			continue;
		}
		framed = 1;
		for (k = first; k < *n; k++)
			if (!strncmp((*parts)[k].prefix, name, plen) &&
			    (*parts)[k].prefix[plen] == '\0')
				break;
		if (k < *n)
			continue;
		if (!(np = sluice__reallocarray(*parts, *n + 1, sizeof(*np))))
			return sluice__error_oom();
		*parts = np;
		np[*n].h = h;
		np[*n].lo = lo;
		np[*n].hi = hi;
		memcpy(np[*n].prefix, name, plen);
		np[*n].prefix[plen] = '\0';
		(*n)++;
	}
	if (plain && framed)
		return bad_part(h, "(plain and per-part file names mixed)");
	if (!framed) {
		rdb_part *np =
			sluice__reallocarray(*parts, *n + 1, sizeof(*np));

		if (!np)
			return sluice__error_oom();
		*parts = np;
		np[*n].h = h;
		np[*n].lo = hs;
		np[*n].hi = he;
		np[*n].prefix[0] = '\0';
		(*n)++;
		return 0;
	}
	qsort(*parts + first, *n - first, sizeof(**parts), cmp_part);
	for (k = first + 1; k < *n; k++)
		if ((*parts)[k].lo <= (*parts)[k - 1].hi)
			return bad_part(h, (*parts)[k].prefix);
	return 0;
}

/* Local name of file i of the part's handle, NULL when not the part's. */
static const char *part_name(const rdb_part *p, size_t i)
{
	const char *name = handle_file(p->h, i)->name;
	size_t plen = strlen(p->prefix);

	if (!name || strncmp(name, p->prefix, plen))
		return NULL;
	return name + plen;
}

/*
 * Verification of the SSTs of one part that were hard-linked from local
 * checkpoint storage, overlapped with opening the database.
 *
 * download() links or copies every file of the part; a copy is verified
 * while it is copied, a link only gets its descriptor kept in fds[i].
 * verify_start() hashes those files on a thread of its own (with
 * transfer_threads - 1 helpers) and returns at once; the caller opens,
 * merges into, clips and seeds the database meanwhile; verify_join()
 * waits for the hashing and closes every descriptor.
 *
 * What is guaranteed: every download() that succeeded is followed by
 * verify_start() and verify_join() on every path; a mismatch found by
 * the verification is the error of the restore whatever the caller's own
 * steps returned (RocksDB reading a corrupt block may fail first), so the
 * caller frees the instance and no backend is ever handed out before
 * every byte of every linked file matched its handle.  Until then RocksDB
 * may read unverified blocks (each guarded by RocksDB's own block
 * checksum) but nothing read leaves the restore.  The descriptors keep a
 * file's bytes readable after RocksDB unlinks it (delete-files-in-range
 * of the clip, a compaction), so each file is hashed exactly as linked.
 */
typedef struct verify {
	const rdb_part *p;
	int *fds; /* per file of p->h: a linked file to hash, or -1 */
	size_t n;
	int threads;
	pthread_t tid;
	int running; /* tid is to be joined */
	/* the outcome, written by the verifying thread before it ends */
	int code;
	sluice_error_class klass;
	char message[1024];
} verify;

/* "rocksdb restore: file '<name>' of checkpoint <id>" for file i of p. */
static void file_what(char *buf, size_t cap, const rdb_part *p, size_t i)
{
	snprintf(
		buf, cap, "rocksdb restore: file '%s' of checkpoint %" PRId64,
		handle_file(p->h, i)->name, p->h->checkpoint_id);
}

static int verify_run(void *arg, size_t i)
{
	verify *v = arg;
	int fd = v->fds[i];
	char what[512];

	if (fd < 0)
		return 0;
	v->fds[i] = -1;
	file_what(what, sizeof(what), v->p, i);
	return sluice__rdb_verify_linked(
		fd, handle_file(v->p->h, i)->handle, what);
}

static void *verify_main(void *arg)
{
	verify *v = arg;
	const sluice_error *e;

	v->code = sluice__rdb_parallel(v->n, v->threads, verify_run, v);
	if (v->code < 0) {
		e = sluice_error_last();
		v->klass = e->klass;
		snprintf(v->message, sizeof(v->message), "%s", e->message);
	}
	return NULL;
}

/* Start hashing the linked files (inline when no thread can start). */
static void verify_start(verify *v)
{
	size_t i;

	for (i = 0; i < v->n && v->fds[i] < 0; i++)
		;
	if (i == v->n)
		return; /* nothing was linked */
	if (pthread_create(&v->tid, NULL, verify_main, v) == 0)
		v->running = 1;
	else
		verify_main(v);
}

/*
 * Wait for the hashing and release `v`.  Returns the verification's
 * failure (its message set on this thread) when there was one, else
 * `error`, the outcome of what the caller did meanwhile.
 */
static int verify_join(verify *v, int error)
{
	size_t i;

	if (v->running)
		pthread_join(v->tid, NULL);
	v->running = 0;
	for (i = 0; i < v->n; i++)
		if (v->fds[i] >= 0)
			close(v->fds[i]);
	sluice__free(v->fds);
	v->fds = NULL;
	if (v->code < 0)
		return sluice__error_set(v->code, v->klass, "%s", v->message);
	return error;
}

typedef struct dl_ctx {
	const sluice_rdb_transfer *t;
	const rdb_part *p;
	const char *dir;
	int *fds;
} dl_ctx;

static int dl_run(void *arg, size_t i)
{
	dl_ctx *c = arg;
	const sluice_incremental_file *f = handle_file(c->p->h, i);
	const char *name = part_name(c->p, i);
	char what[512];
	char *path;
	int error;

	if (!name)
		return 0;
	file_what(what, sizeof(what), c->p, i);
	if (!f->handle || !name[0] || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_ROCKSDB,
			"%s: not a valid local file entry", what);
	if (!(path = sluice__rdb_join(c->dir, name)))
		return sluice__error_oom();
	error = sluice__rdb_download(c->t, f->handle, path, what, &c->fds[i]);
	sluice__free(path);
	return error;
}

/*
 * Link or copy the files of part `p` into `dir`.  On success `v` holds
 * the linked files still to verify: the caller must verify_start() and
 * verify_join() it (see above); on failure nothing is left open.
 */
static int download(
	sluice_rdb *db,
	const rdb_part *p,
	const char *dir,
	const sluice_rdb_transfer *t,
	verify *v)
{
	dl_ctx c = {t, p, dir, NULL};
	size_t i, n = handle_files(p->h);
	int error;

	memset(v, 0, sizeof(*v));
	v->p = p;
	v->n = n;
	v->threads = db->o.transfer_threads - 1;
	if (!(v->fds = sluice__calloc(n ? n : 1, sizeof(*v->fds))))
		return sluice__error_oom();
	for (i = 0; i < n; i++)
		v->fds[i] = -1;
	c.fds = v->fds;
	if ((error = sluice__rdb_mkdirs(dir)) == 0)
		error = sluice__rdb_parallel(n, v->threads, dl_run, &c);
	if (error < 0)
		(void)verify_join(v, 0); /* only closes: nothing was started */
	return error;
}

static int64_t overlap(const rdb_part *p, int32_t s, int32_t e)
{
	int64_t lo = p->lo > s ? p->lo : s, hi = p->hi < e ? p->hi : e;

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

/* Ingest finished SST files into `to` (moved: hard links). */
static int
ingest(sluice_rdb *db, sluice_rdb_cf *to, const char **files, size_t n)
{
	rocksdb_ingestexternalfileoptions_t *io =
		rocksdb_ingestexternalfileoptions_create();
	char *err = NULL;

	if (!io)
		return sluice__error_oom();
	rocksdb_ingestexternalfileoptions_set_move_files(io, 1);
	rocksdb_ingest_external_file_cf(db->db, to->h, files, n, io, &err);
	rocksdb_ingestexternalfileoptions_destroy(io);
	if (err)
		return sluice__rdb_err(
			err, "rocksdb restore: ingest into '%s'", to->name);
	return 0;
}

/*
 * Write the entries of `it` below the iterator's upper bound into a new
 * SST file `path` (they come sorted); `*count` = entries written.
 */
static int write_sst(
	rocksdb_sstfilewriter_t *w,
	rocksdb_iterator_t *it,
	const char *path,
	uint64_t *count)
{
	char *err = NULL;

	*count = 0;
	rocksdb_sstfilewriter_open(w, path, &err);
	for (; !err && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t kn, vn;
		const char *k = rocksdb_iter_key(it, &kn);
		const char *v = rocksdb_iter_value(it, &vn);

		rocksdb_sstfilewriter_put(w, k, kn, v, vn, &err);
		(*count)++;
	}
	if (!err)
		rocksdb_iter_get_error(it, &err);
	if (!err && *count)
		rocksdb_sstfilewriter_finish(w, &err);
	if (err)
		return sluice__rdb_err(
			err, "rocksdb restore: write '%s'", path);
	return 0;
}

/* One part of a column family copy: key groups [kg_lo, kg_hi] of the
 * source into the SST file `path` (count 0: nothing to ingest). */
typedef struct copy_part {
	int32_t kg_lo, kg_hi;
	char *path;
	uint64_t count;
} copy_part;

typedef struct copy_job {
	sluice_rdb *db;
	rocksdb_t *src;
	rocksdb_column_family_handle_t *from;
	rocksdb_options_t *wo; /* the target's options, no compression */
	copy_part *parts;
} copy_job;

/* Encoded iteration bounds of key groups [lo, hi]. */
static int kg_bounds(
	const sluice_rdb *db,
	int32_t lo,
	int32_t hi,
	sluice_buf *l,
	sluice_buf *h)
{
	SLUICE_ERRCHECK(sluice__rdb_put_kg(l, db->kg_bytes, lo));
	SLUICE_ERRCHECK(sluice__rdb_put_kg(h, db->kg_bytes, hi + 1));
	if (db->kg_bytes == 1 && hi + 1 > 255)
		h->ptr[0] = 0xFF;
	return 0;
}

static int copy_part_run(void *arg, size_t i)
{
	copy_job *j = arg;
	copy_part *p = &j->parts[i];
	sluice_buf lo = SLUICE_BUF_INIT, hi = SLUICE_BUF_INIT;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_envoptions_t *env = rocksdb_envoptions_create();
	rocksdb_sstfilewriter_t *w = NULL;
	rocksdb_iterator_t *it = NULL;
	int error;

	if (!ro || !env || !(w = rocksdb_sstfilewriter_create(env, j->wo))) {
		error = sluice__error_oom();
		goto done;
	}
	if ((error = kg_bounds(j->db, p->kg_lo, p->kg_hi, &lo, &hi)) < 0)
		goto done;
	rocksdb_readoptions_set_iterate_upper_bound(
		ro, (const char *)hi.ptr, hi.len);
	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(j->src, ro, j->from);
	rocksdb_iter_seek(it, (const char *)lo.ptr, lo.len);
	error = write_sst(w, it, p->path, &p->count);
done:
	if (it)
		rocksdb_iter_destroy(it);
	if (w)
		rocksdb_sstfilewriter_destroy(w);
	if (env)
		rocksdb_envoptions_destroy(env);
	if (ro)
		rocksdb_readoptions_destroy(ro);
	sluice_buf_release(&lo);
	sluice_buf_release(&hi);
	return error;
}

/* Split key groups [lo, hi] into `n` parts with files in `dir`. */
static int
split_parts(copy_part *parts, size_t n, int32_t lo, int32_t hi, const char *dir)
{
	int64_t total = (int64_t)hi - lo + 1, at = lo;
	size_t i;

	for (i = 0; i < n; i++) {
		int64_t len = total / (int64_t)n +
			      ((int64_t)i < total % (int64_t)n ? 1 : 0);
		char name[64];

		snprintf(name, sizeof(name), "ingest-%zu.sst", i);
		parts[i].kg_lo = (int32_t)at;
		parts[i].kg_hi = (int32_t)(at + len - 1);
		at += len;
		if (!(parts[i].path = sluice__rdb_join(dir, name)))
			return sluice__error_oom();
	}
	return 0;
}

/*
 * Copy one column family's key groups [lo, hi] into `to`: in parallel
 * parts (transfer threads), each written in key order into an SST file in
 * `dir`, then all ingested at once.  The key groups of another subtask
 * never overlap the base's, so the files go to the bottom level as they
 * are -- no memtable, flush or compaction in between.
 */
static int
copy_cf(sluice_rdb *db,
	rocksdb_t *src,
	rocksdb_column_family_handle_t *from,
	sluice_rdb_cf *to,
	int32_t lo,
	int32_t hi,
	const char *dir)
{
	size_t n = db->o.transfer_threads > 1 ? (size_t)db->o.transfer_threads
					      : 1,
	       i, k = 0;
	copy_job j = {db, src, from, NULL, NULL};
	const char **files = NULL;
	int error;

	if (n > (size_t)(hi - lo + 1))
		n = (size_t)(hi - lo + 1);
	if (!(j.wo = rocksdb_options_create_copy(to->opts)) ||
	    !(j.parts = sluice__calloc(n, sizeof(*j.parts))) ||
	    !(files = sluice__calloc(n, sizeof(*files)))) {
		error = sluice__error_oom();
		goto done;
	}
	/* a restore is about speed: compaction compresses later */
	rocksdb_options_set_compression(j.wo, rocksdb_no_compression);
	if ((error = split_parts(j.parts, n, lo, hi, dir)) < 0 ||
	    (error = sluice__rdb_parallel(n, (int)n - 1, copy_part_run, &j)) <
		    0)
		goto done;
	for (i = 0; i < n; i++)
		if (j.parts[i].count)
			files[k++] = j.parts[i].path;
	if (k)
		error = ingest(db, to, files, k);
done:
	for (i = 0; j.parts && i < n; i++) {
		if (j.parts[i].path)
			(void)unlink(j.parts[i].path);
		sluice__free(j.parts[i].path);
	}
	sluice__free(j.parts);
	sluice__free(files);
	if (j.wo)
		rocksdb_options_destroy(j.wo);
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
	src_db src;
	size_t i;
	int error;

	if ((error = src_open(&src, db, dir)) < 0 ||
	    (error = same_layout(db, &src, dir)) < 0)
		goto done;
	for (i = 0; i < src.n && error == 0; i++) {
		sluice_rdb_cf *cf;

		if (!strcmp(src.names[i], "default"))
			continue;
		if ((error = target_cf(&cf, db, src.names[i])) == 0)
			error = copy_cf(db, src.db, src.hs[i], cf, s, e, dir);
	}
done:
	src_close(&src);
	return error;
}

/* After restoring a whole part its SSTs are the base (spec §6.2). */
static int seed_tracker(sluice_rdb *db, const rdb_part *p)
{
	const sluice_incremental_handle *h = p->h;
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
		const char *name = part_name(p, i);
		sluice_rdb_sst *f;

		if (!name)
			continue;
		f = &set->files[set->count++];
		f->name = sluice__strdup(name);
		f->key = sluice__strdup(fh->path ? fh->path : name);
		f->size = fh->size;
		f->checksum = fh->checksum;
		if (!f->name || !f->key)
			return sluice__error_oom();
	}
	db->last_completed = h->checkpoint_id;
	return 0;
}

/* Download and open part `p` as db, clipped to [s, e]. */
static int restore_part(
	sluice_rdb *db,
	const rdb_part *p,
	int32_t s,
	int32_t e,
	const sluice_rdb_transfer *t)
{
	verify v;
	int error;

	SLUICE_ERRCHECK(download(db, p, db->db_path, t, &v));
	verify_start(&v);
	if ((error = sluice__rdb_open_db(db)) == 0)
		error = p->lo < s || p->hi > e ? sluice__rdb_clip(db, s, e)
					       : seed_tracker(db, p);
	return verify_join(&v, error);
}

static size_t pick_base(const rdb_part *parts, size_t n, int32_t s, int32_t e)
{
	size_t i, best = 0;

	for (i = 1; i < n; i++)
		if (overlap(&parts[i], s, e) > overlap(&parts[best], s, e))
			best = i;
	return best;
}

/*
 * Copy the key groups part `p` (number i) shares with [s, e] into db: its
 * files go to a scratch directory, opened read-only by merge_from.
 */
static int merge_part(
	sluice_rdb *db,
	const rdb_part *p,
	size_t i,
	int32_t s,
	int32_t e,
	const sluice_rdb_transfer *t)
{
	verify v;
	char name[64];
	char *dir;
	int error;

	snprintf(name, sizeof(name), "restore-%zu", i);
	if (!(dir = sluice__rdb_join(db->path, name)))
		return sluice__error_oom();
	if ((error = download(db, p, dir, t, &v)) == 0) {
		verify_start(&v);
		error = merge_from(
			db, dir, p->lo > s ? p->lo : s, p->hi < e ? p->hi : e);
		error = verify_join(&v, error);
	}
	sluice__rdb_rmtree(dir);
	sluice__free(dir);
	return error;
}

/* One instance: the base part, the others' key groups copied in. */
static int restore_into(
	sluice_rdb *db,
	int32_t s,
	int32_t e,
	const rdb_part *parts,
	size_t n,
	const sluice_rdb_transfer *t)
{
	size_t base = pick_base(parts, n, s, e), i;
	const rdb_part *b = &parts[base];
	verify v;
	int error;

	SLUICE_ERRCHECK(download(db, b, db->db_path, t, &v));
	verify_start(&v);
	error = sluice__rdb_open_db(db);
	for (i = 0; i < n && error == 0; i++)
		if (i != base && overlap(&parts[i], s, e) > 0)
			error = merge_part(db, &parts[i], i, s, e, t);
	if (error == 0 && (b->lo < s || b->hi > e))
		error = sluice__rdb_clip(db, s, e);
	if (error == 0 && n == 1 && b->lo == s && b->hi == e)
		error = seed_tracker(db, b);
	return verify_join(&v, error);
}

/* The parts of `handles` intersecting [s, e], sorted by key group. */
static int collect_parts(
	rdb_part **out,
	size_t *n,
	sluice_incremental_handle *const *handles,
	size_t nhandles,
	int32_t s,
	int32_t e)
{
	rdb_part *parts = NULL;
	size_t i, k = 0, all = 0;
	int error = 0;

	*out = NULL;
	*n = 0;
	for (i = 0; i < nhandles && error == 0; i++)
		error = add_parts(&parts, &all, handles[i]);
	if (error < 0) {
		sluice__free(parts);
		return error;
	}
	for (i = 0; i < all; i++)
		if (overlap(&parts[i], s, e))
			parts[k++] = parts[i];
	if (k > 1) /* parts is NULL without handles: qsort wants a pointer */
		qsort(parts, k, sizeof(*parts), cmp_part);
	for (i = 1; i < k; i++)
		if (parts[i].lo <= parts[i - 1].hi) {
			error = sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_ROCKSDB,
				"rocksdb restore: checkpoints %" PRId64
				" and %" PRId64 " both hold key group %d",
				parts[i - 1].h->checkpoint_id,
				parts[i].h->checkpoint_id, (int)parts[i].lo);
			sluice__free(parts);
			return error;
		}
	*out = parts;
	*n = k;
	return 0;
}

static int restore_one(
	sluice_rdb **out,
	const sluice_rdb_options *o,
	const char *label,
	int32_t max_parallelism,
	int32_t s,
	int32_t e,
	const rdb_part *parts,
	size_t n,
	const sluice_rdb_transfer *t)
{
	sluice_rdb *db;
	int error;

	*out = NULL;
	if (n == 0)
		return sluice__rdb_open(out, o, label, max_parallelism);
	SLUICE_ERRCHECK(sluice__rdb_alloc(&db, o, label, max_parallelism));
	if ((error = restore_into(db, s, e, parts, n, t)) < 0) {
		sluice__rdb_free(db);
		return error;
	}
	*out = db;
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
	rdb_part *parts = NULL;
	size_t np = 0;
	int error;

	*out = NULL;
	SLUICE_ERRCHECK(
		collect_parts(&parts, &np, handles, n, kg_start, kg_end));
	error = restore_one(
		out, o, label, max_parallelism, kg_start, kg_end, parts, np, t);
	sluice__free(parts);
	return error;
}

void sluice__rdb_shards_free(sluice_rdb_shard *shards, size_t n)
{
	size_t i;

	for (i = 0; shards && i < n; i++)
		sluice__rdb_free(shards[i].db);
	sluice__free(shards);
}

/*
 * Shard k of n: part k as its own instance, serving the tile between its
 * neighbours (the tiles cover [s, e]: a key group no part holds goes to
 * a neighbour's shard), with its share of the memory budget.
 */
static int restore_shard(
	sluice_rdb_shard *sh,
	const sluice_rdb_options *o,
	const char *label,
	int32_t max_parallelism,
	const rdb_part *parts,
	size_t k,
	size_t n,
	int32_t s,
	int32_t e,
	const sluice_rdb_transfer *t)
{
	sluice_rdb_options so = *o;
	char name[256];

	sh->lo = k == 0 ? s : parts[k].lo;
	sh->hi = k + 1 == n ? e : parts[k + 1].lo - 1;
	so.block_cache_size = o->block_cache_size / n;
	so.write_buffer_size = o->write_buffer_size / n;
	if (so.write_buffer_size < (1u << 20))
		so.write_buffer_size = 1u << 20;
	snprintf(name, sizeof(name), "%s-kg%d", label, (int)sh->lo);
	SLUICE_ERRCHECK(sluice__rdb_alloc(&sh->db, &so, name, max_parallelism));
	return restore_part(sh->db, &parts[k], sh->lo, sh->hi, t);
}

typedef struct shard_job {
	sluice_rdb_shard *shards;
	const sluice_rdb_options *o;
	const char *label;
	int32_t max_parallelism;
	const rdb_part *parts;
	size_t n;
	int32_t s, e;
	const sluice_rdb_transfer *t;
} shard_job;

static int shard_run(void *arg, size_t k)
{
	shard_job *j = arg;

	return restore_shard(
		&j->shards[k], j->o, j->label, j->max_parallelism, j->parts, k,
		j->n, j->s, j->e, j->t);
}

int sluice__rdb_restore_shards(
	sluice_rdb_shard **out,
	size_t *n,
	const sluice_rdb_options *o,
	const char *label,
	int32_t max_parallelism,
	int32_t kg_start,
	int32_t kg_end,
	sluice_incremental_handle *const *handles,
	size_t nhandles,
	const sluice_rdb_transfer *t)
{
	size_t np = 0, i, max = SLUICE_RDB_MAX_SHARDS;
	sluice_rdb_shard *shards;
	rdb_part *parts = NULL;
	int error = 0;

	*out = NULL;
	*n = 0;
	SLUICE_ERRCHECK(collect_parts(
		&parts, &np, handles, nhandles, kg_start, kg_end));
	if (o->max_shards > 0)
		max = (size_t)o->max_shards;
	if (!(shards = sluice__calloc(np > 1 ? np : 1, sizeof(*shards)))) {
		sluice__free(parts);
		return sluice__error_oom();
	}
	if (np <= 1 || np > max) {
		shards[0].lo = kg_start;
		shards[0].hi = kg_end;
		error = restore_one(
			&shards[0].db, o, label, max_parallelism, kg_start,
			kg_end, parts, np, t);
		np = 1;
	} else {
		shard_job j = {shards,          o,      label,
			       max_parallelism, parts,  np,
			       kg_start,        kg_end, t};

		/* each open has a fixed cost (MANIFEST, syncs): overlap them */
		error = sluice__rdb_parallel(np, (int)np - 1, shard_run, &j);
	}
	for (i = 1; error == 0 && i < np; i++)
		if (shards[i].db->kg_bytes != shards[0].db->kg_bytes)
			error = sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_ROCKSDB,
				"rocksdb restore: key groups %d..%d were "
				"written with %d-byte key groups, %d..%d with "
				"%d-byte ones (different max parallelism)",
				(int)shards[0].lo, (int)shards[0].hi,
				shards[0].db->kg_bytes, (int)shards[i].lo,
				(int)shards[i].hi, shards[i].db->kg_bytes);
	sluice__free(parts);
	if (error < 0) {
		sluice__rdb_shards_free(shards, np);
		return error;
	}
	*out = shards;
	*n = np;
	return 0;
}
