/*
 * Incremental snapshots of a rocksdb instance (spec §6.2): the synchronous
 * native checkpoint, the asynchronous SST diff against the last confirmed
 * checkpoint (placeholders for files the checkpoint storage already has,
 * parallel upload of the rest), and the bookkeeping of which SST files
 * each checkpoint uploaded, driven by notify_complete / notify_aborted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "state/rocksdb/rdb_impl.h"
#include "util/alloc.h"
#include "util/error.h"

struct sluice_rdb_snapshot {
	sluice_rdb *db;
	int64_t id;
	sluice_rdb_sharing sharing;
	int32_t kg_start;
	int32_t kg_num;
	char *dir;
	sluice_rdb_upload_set base; /* copy; checkpoint_id -1 = empty */
};

static void set_release(sluice_rdb_upload_set *s)
{
	size_t i;

	for (i = 0; i < s->count; i++) {
		sluice__free(s->files[i].name);
		sluice__free(s->files[i].key);
	}
	sluice__free(s->files);
	s->files = NULL;
	s->count = 0;
}

static int
set_copy(sluice_rdb_upload_set *to, const sluice_rdb_upload_set *from)
{
	size_t i;

	to->checkpoint_id = from->checkpoint_id;
	to->count = 0;
	if (!from->count)
		return 0;
	if (!(to->files = sluice__calloc(from->count, sizeof(*to->files))))
		return sluice__error_oom();
	for (i = 0; i < from->count; i++) {
		to->files[i] = from->files[i];
		to->files[i].name = sluice__strdup(from->files[i].name);
		to->files[i].key = sluice__strdup(from->files[i].key);
		to->count++;
		if (!to->files[i].name || !to->files[i].key) {
			set_release(to);
			return sluice__error_oom();
		}
	}
	return 0;
}

/* Index of checkpoint `id` in db->uploaded, or -1.  Caller holds mu. */
static long find_set(sluice_rdb *db, int64_t id)
{
	size_t i;

	for (i = 0; i < db->nuploaded; i++)
		if (db->uploaded[i].checkpoint_id == id)
			return (long)i;
	return -1;
}

/* Drop the sets for which `drop(set id, arg)` holds.  Caller holds mu. */
static void
drop_sets(sluice_rdb *db, int (*drop)(int64_t, int64_t), int64_t arg)
{
	size_t i, k = 0;

	for (i = 0; i < db->nuploaded; i++) {
		if (drop(db->uploaded[i].checkpoint_id, arg))
			set_release(&db->uploaded[i]);
		else
			db->uploaded[k++] = db->uploaded[i];
	}
	db->nuploaded = k;
}

static int older_than(int64_t id, int64_t n)
{
	return id < n;
}

static int equal_to(int64_t id, int64_t n)
{
	return id == n;
}

/* Remember `set` (taken over) as uploaded[set->checkpoint_id]. */
static int record_set(sluice_rdb *db, sluice_rdb_upload_set *set)
{
	sluice_rdb_upload_set *n;
	int error = 0;

	pthread_mutex_lock(&db->mu);
	drop_sets(db, equal_to, set->checkpoint_id);
	n = sluice__reallocarray(db->uploaded, db->nuploaded + 1, sizeof(*n));
	if (!n) {
		error = sluice__error_oom();
		set_release(set);
	} else {
		db->uploaded = n;
		db->uploaded[db->nuploaded++] = *set;
		set->files = NULL;
		set->count = 0;
	}
	pthread_mutex_unlock(&db->mu);
	return error;
}

void sluice__rdb_notify_complete(sluice_rdb *db, int64_t id)
{
	pthread_mutex_lock(&db->mu);
	/* savepoints and unknown ids never become the base */
	if (id > db->last_completed && find_set(db, id) >= 0) {
		drop_sets(db, older_than, id);
		db->last_completed = id;
	}
	pthread_mutex_unlock(&db->mu);
}

void sluice__rdb_notify_aborted(sluice_rdb *db, int64_t id)
{
	pthread_mutex_lock(&db->mu);
	drop_sets(db, equal_to, id);
	pthread_mutex_unlock(&db->mu);
}

int64_t sluice__rdb_last_completed(sluice_rdb *db)
{
	int64_t id;

	pthread_mutex_lock(&db->mu);
	id = db->last_completed;
	pthread_mutex_unlock(&db->mu);
	return id;
}

void sluice__rdb_snapshot_free(sluice_rdb_snapshot *s)
{
	if (!s)
		return;
	if (s->dir)
		sluice__rdb_rmtree(s->dir);
	sluice__free(s->dir);
	set_release(&s->base);
	sluice__free(s);
}

int sluice__rdb_snapshot_sync(
	sluice_rdb_snapshot **out,
	sluice_rdb *db,
	int64_t checkpoint_id,
	sluice_rdb_sharing sharing,
	int32_t kg_start,
	int32_t kg_num)
{
	sluice_rdb_snapshot *s = sluice__calloc(1, sizeof(*s));
	char name[64];
	long base;
	int error = 0;

	*out = NULL;
	if (!s)
		return sluice__error_oom();
	s->db = db;
	s->id = checkpoint_id;
	s->sharing = sharing;
	s->kg_start = kg_start;
	s->kg_num = kg_num;
	s->base.checkpoint_id = -1;
	snprintf(name, sizeof(name), "chk-%" PRId64, checkpoint_id);
	if (!(s->dir = sluice__rdb_join(db->path, name))) {
		error = sluice__error_oom();
		goto fail;
	}
	/* a leftover of a failed attempt with the same id would make the
	 * checkpoint fail: it is ours, remove it */
	if ((error = sluice__rdb_rmtree(s->dir)) < 0)
		goto fail;
	if ((error = sluice__rdb_native_checkpoint(db, s->dir)) < 0) {
		sluice__free(s->dir);
		s->dir = NULL;
		goto fail;
	}
	if (sharing == SLUICE_RDB_FORWARD_BACKWARD) {
		pthread_mutex_lock(&db->mu);
		base = find_set(db, db->last_completed);
		if (base >= 0)
			error = set_copy(&s->base, &db->uploaded[base]);
		pthread_mutex_unlock(&db->mu);
		if (error < 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	sluice__rdb_snapshot_free(s);
	return error;
}

/* ---- asynchronous phase ------------------------------------------------ */

typedef struct upload_job {
	const char *name; /* borrowed from the directory listing */
	int sst;
	int shared;                   /* scope SHARED */
	sluice_stream_handle *handle; /* result; placeholder when reused */
	int reused;
} upload_job;

typedef struct async_ctx {
	sluice_rdb_snapshot *s;
	const sluice_rdb_transfer *t;
	upload_job *jobs;
} async_ctx;

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static const sluice_rdb_sst *
base_file(const sluice_rdb_snapshot *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->base.count; i++)
		if (!strcmp(s->base.files[i].name, name))
			return &s->base.files[i];
	return NULL;
}

static int upload_job_run(void *arg, size_t i)
{
	async_ctx *c = arg;
	upload_job *j = &c->jobs[i];
	char *path;
	int error;

	if (j->reused)
		return 0;
	if (!(path = sluice__rdb_join(c->s->dir, j->name)))
		return sluice__error_oom();
	error = sluice__rdb_upload(&j->handle, c->t, j->shared, j->name, path);
	sluice__free(path);
	return error;
}

/* Decide per file: placeholder for a base SST, else an upload job. */
static int
plan_jobs(upload_job *jobs, char **names, size_t n, sluice_rdb_snapshot *s)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const sluice_rdb_sst *b;
		upload_job *j = &jobs[i];

		j->name = names[i];
		j->sst = ends_with(names[i], ".sst");
		j->shared = j->sst && s->sharing != SLUICE_RDB_NO_SHARING;
		if (!j->sst || s->sharing != SLUICE_RDB_FORWARD_BACKWARD ||
		    !(b = base_file(s, names[i])))
			continue;
		j->handle = sluice_stream_handle_new(
			SLUICE_HANDLE_PLACEHOLDER, b->key, b->size, b->checksum,
			NULL);
		if (!j->handle)
			return sluice__error_oom();
		j->reused = 1;
	}
	return 0;
}

static int write_meta(
	sluice_stream_handle **out,
	const sluice_rdb_transfer *t,
	sluice_slice meta)
{
	sluice_ostream *os = NULL;
	int error;

	*out = NULL;
	SLUICE_ERRCHECK(t->open_output(t->ctx, 0, "metadata", &os));
	if ((error = sluice_ostream_write(os, meta.data, meta.len)) < 0) {
		sluice_ostream_abort(os);
		return error;
	}
	SLUICE_ERRCHECK(sluice_ostream_close(os, out));
	return *out ? 0 : sluice__rdb_empty_handle(out, "metadata");
}

/* Move job results into the handle and the uploaded set. */
static int
collect(sluice_incremental_handle *h,
	sluice_rdb_upload_set *set,
	upload_job *jobs,
	size_t n)
{
	size_t i;

	if (!(set->files = sluice__calloc(n ? n : 1, sizeof(*set->files))))
		return sluice__error_oom();
	for (i = 0; i < n; i++) {
		upload_job *j = &jobs[i];
		sluice_stream_handle *fh = j->handle;
		sluice_rdb_sst *f = &set->files[set->count];

		if (!j->reused)
			h->checkpointed_size += fh->size;
		j->handle = NULL;
		if (j->shared) {
			f->name = sluice__strdup(j->name);
			f->key = sluice__strdup(fh->path ? fh->path : j->name);
			f->size = fh->size;
			f->checksum = fh->checksum;
			set->count++;
			if (!f->name || !f->key) {
				sluice_stream_handle_free(fh);
				return sluice__error_oom();
			}
		}
		SLUICE_ERRCHECK(sluice_incremental_handle_add(
			h, j->shared, j->name, fh));
	}
	return 0;
}

static void
discard_jobs(const sluice_rdb_transfer *t, upload_job *jobs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (jobs[i].handle && !jobs[i].reused && t->discard)
			t->discard(t->ctx, jobs[i].handle);
		sluice_stream_handle_free(jobs[i].handle);
	}
}

int sluice__rdb_snapshot_async(
	sluice_incremental_handle **out,
	sluice_rdb_snapshot *s,
	const sluice_rdb_transfer *t,
	const sluice_slice *meta)
{
	sluice_rdb_upload_set set = {s->id, 0, NULL};
	sluice_incremental_handle *h = NULL;
	sluice_stream_handle *mh = NULL;
	upload_job *jobs = NULL;
	char **names = NULL;
	size_t n = 0;
	async_ctx c;
	int error;

	*out = NULL;
	if ((error = sluice__rdb_list_files(&names, &n, s->dir)) < 0)
		return error;
	if (!(jobs = sluice__calloc(n ? n : 1, sizeof(*jobs))) ||
	    !(h = sluice_incremental_handle_new(
		      s->db->id, s->id, s->kg_start, s->kg_num))) {
		error = sluice__error_oom();
		goto fail;
	}
	c.s = s;
	c.t = t;
	c.jobs = jobs;
	if ((error = plan_jobs(jobs, names, n, s)) < 0 ||
	    (meta && (error = write_meta(&mh, t, *meta)) < 0) ||
	    (error = sluice__rdb_parallel(
		     n, s->db->o.transfer_threads - 1, upload_job_run, &c)) < 0)
		goto fail;
	h->metadata = mh;
	h->checkpointed_size = mh ? mh->size : 0;
	mh = NULL;
	if ((error = collect(h, &set, jobs, n)) < 0)
		goto fail;
	if (s->sharing != SLUICE_RDB_NO_SHARING &&
	    (error = record_set(s->db, &set)) < 0)
		goto fail_recorded;
	set_release(&set);
	sluice__free(jobs);
	sluice__rdb_names_free(names, n);
	*out = h;
	return 0;
fail:
	set_release(&set);
	if (mh && t->discard)
		t->discard(t->ctx, mh);
	sluice_stream_handle_free(mh);
fail_recorded:
	if (jobs)
		discard_jobs(t, jobs, n);
	sluice__free(jobs);
	sluice_incremental_handle_free(h);
	sluice__rdb_names_free(names, n);
	return error;
}
