/*
 * State streams of a checkpoint location (buffering, inlining, checksums),
 * the `_metadata` commit protocol, and reading handles back with their
 * size and checksum verified.  The layout and its objects live in
 * location.c; this file owns what flows through them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "location.h"
#include "sluice/sys/storage.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"

#define E SLUICE_ERRCLS_STORAGE

typedef struct fsout {
	sluice_ostream base;
	sluice_storage *st;
	char *path;    /* would-be file path */
	char *relname; /* file name relative to the location dir */
	int relative;  /* handle RELATIVE instead of FILE */
	uint64_t threshold;
	uint8_t *buf;
	size_t blen, bcap;
	uint64_t total;
	sluice_xxh3_state *hash;
	sluice_storage_file *f;
	int opened; /* a file was created (abort deletes it) */
	int failed; /* an earlier call failed: the stream is unusable */
} fsout;

static void fsout_free(fsout *o)
{
	sluice__free(o->path);
	sluice__free(o->relname);
	sluice__free(o->buf);
	sluice__xxh3_free(o->hash);
	sluice__free(o);
}

static int flush_buf(fsout *o)
{
	int error;

	if (!o->f) {
		if ((error = sluice_storage_open_write(&o->f, o->st, o->path)) <
		    0)
			return error;
		o->opened = 1;
	}
	/* Hash whole buffers, not every small write: far fewer calls. */
	sluice__xxh3_update(o->hash, o->buf, o->blen);
	if (o->blen &&
	    (error = sluice_storage_write_all(o->f, o->buf, o->blen)) < 0)
		return error;
	o->blen = 0;
	return 0;
}

static int broken(fsout *o)
{
	return sluice__error_set(
		SLUICE_EIO, E, "state stream '%s' failed earlier", o->path);
}

static int fsout_write(sluice_ostream *s, const void *data, size_t len)
{
	fsout *o = (fsout *)s;
	const uint8_t *p = data;
	int error;

	if (o->failed)
		return broken(o);
	o->total += len;
	if (o->blen + len <= o->bcap) {
		if (len)
			memcpy(o->buf + o->blen, p, len);
		o->blen += len;
		return 0;
	}
	if ((error = flush_buf(o)) < 0) {
		o->failed = 1;
		return error;
	}
	if (len >= o->bcap) {
		sluice__xxh3_update(o->hash, p, len);
		if ((error = sluice_storage_write_all(o->f, p, len)) < 0)
			o->failed = 1;
		return error;
	}
	memcpy(o->buf, p, len);
	o->blen = len;
	return 0;
}

static uint64_t fsout_pos(sluice_ostream *s)
{
	return ((fsout *)s)->total;
}

static int fsout_sync(sluice_ostream *s)
{
	fsout *o = (fsout *)s;
	int error;

	if (o->failed)
		return broken(o);
	/* Like Flink's flush(): only once a file exists or must exist. */
	if (!o->f && o->blen <= o->threshold)
		return 0;
	if ((error = flush_buf(o)) < 0 ||
	    (error = sluice_storage_file_sync(o->f)) < 0)
		o->failed = 1;
	return error;
}

static void fsout_abort(sluice_ostream *s)
{
	fsout *o = (fsout *)s;

	if (o->f)
		sluice_storage_file_close(o->f);
	if (o->opened && sluice_storage_remove(o->st, o->path) < 0)
		sluice_error_clear();
	fsout_free(o);
}

static int fsout_finish_file(fsout *o, sluice_stream_handle **out)
{
	uint64_t sum;
	int error;

	if ((error = flush_buf(o)) < 0)
		return error;
	sum = sluice__xxh3_digest(o->hash);
	if ((error = sluice_storage_file_sync(o->f)) < 0)
		return error;
	error = sluice_storage_file_close(o->f);
	o->f = NULL;
	if (error < 0)
		return error;
	*out = sluice_stream_handle_new(
		o->relative ? SLUICE_HANDLE_RELATIVE : SLUICE_HANDLE_FILE,
		o->relative ? o->relname : o->path, o->total, sum, NULL);
	return *out ? 0 : sluice__error_oom();
}

/* Abort after a failure without losing that failure's message. */
static int abort_keeping_error(fsout *o, int error)
{
	const sluice_error *e = sluice_error_last();
	sluice_error_class klass = e->klass;
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", e->message);
	fsout_abort(&o->base);
	return sluice__error_set(error, klass, "%s", msg);
}

static int fsout_close(sluice_ostream *s, sluice_stream_handle **out)
{
	fsout *o = (fsout *)s;
	int error = 0;

	*out = NULL;
	if (o->failed)
		return abort_keeping_error(o, broken(o));
	if (!o->f && o->total == 0) {
		fsout_free(o);
		return 0;
	}
	if (!o->f && o->total <= o->threshold) {
		*out = sluice_stream_handle_new(
			SLUICE_HANDLE_INLINE, o->path, o->total,
			sluice__xxh3(o->buf, o->blen), o->buf);
		error = *out ? 0 : sluice__error_oom();
		fsout_free(o);
		return error;
	}
	if ((error = fsout_finish_file(o, out)) < 0)
		return abort_keeping_error(o, error);
	fsout_free(o);
	return 0;
}

int sluice__location_stream(
	sluice_ostream **out,
	sluice_storage *st,
	const char *path,
	const char *relname,
	int relative,
	uint64_t threshold,
	size_t buffer)
{
	fsout *o = sluice__calloc(1, sizeof(*o));
	int error;

	*out = NULL;
	if (!o)
		return sluice__error_oom();
	o->relname = sluice__strdup(relname);
	o->path = sluice__strdup(path);
	o->buf = sluice__malloc(buffer ? buffer : 1);
	o->hash = sluice__xxh3_new();
	if (!o->relname || !o->path || !o->buf || !o->hash) {
		error = sluice__error_oom();
		goto fail;
	}
	o->st = st;
	o->relative = relative;
	o->threshold = threshold;
	o->bcap = buffer;
	o->base.version = SLUICE_STREAM_VERSION;
	o->base.write = fsout_write;
	o->base.pos = fsout_pos;
	o->base.sync = fsout_sync;
	o->base.close = fsout_close;
	o->base.abort = fsout_abort;
	*out = &o->base;
	return 0;
fail:
	fsout_free(o);
	return error;
}

int sluice_location_commit(sluice_location *loc, const void *data, size_t len)
{
	sluice_storage *st = sluice__location_storage(loc);
	const char *dir = sluice_location_dir(loc);
	char *final = sluice__path_join(dir, SLUICE_METADATA_FILE);
	int error;

	if (!final)
		return sluice__error_oom();
	/* Entries of files written before (state files, chk-<n> itself). */
	if (!(st->caps & SLUICE_STORAGE_ATOMIC_RENAME) ||
	    (error = sluice__location_sync_parents(loc)) == 0)
		error = sluice_storage_write_atomic(st, final, data, len);
	sluice__free(final);
	return error;
}

int sluice_handle_location(
	char **out, const char *dir, const sluice_stream_handle *h)
{
	*out = NULL;
	if (h->kind == SLUICE_HANDLE_FILE)
		*out = sluice__strdup(h->path);
	else if (h->kind == SLUICE_HANDLE_RELATIVE)
		*out = sluice__path_join(dir, h->path);
	else
		return sluice__error_set(
			SLUICE_EINVALID, E, "handle '%s' has no file",
			h->path ? h->path : "");
	return *out ? 0 : sluice__error_oom();
}

static int check_bytes(
	const char *name,
	const sluice_stream_handle *h,
	const void *data,
	size_t len)
{
	uint64_t sum;

	if ((uint64_t)len != h->size)
		return sluice__error_set(
			SLUICE_ECORRUPT, E, "%s: size %zu, expected %" PRIu64,
			name, len, h->size);
	sum = sluice__xxh3(data, len);
	if (sum != h->checksum)
		return sluice__error_set(
			SLUICE_ECORRUPT, E,
			"%s: checksum %016" PRIx64 ", expected %016" PRIx64,
			name, sum, h->checksum);
	return 0;
}

int sluice_handle_read(
	uint8_t **data,
	size_t *len,
	sluice_storage *st,
	const char *dir,
	const sluice_stream_handle *h)
{
	char *path = NULL;
	int error;

	*data = NULL;
	*len = 0;
	if (h->kind == SLUICE_HANDLE_INLINE) {
		if ((error = check_bytes(
			     h->path ? h->path : "(inline)", h, h->data,
			     (size_t)h->size)) < 0)
			return error;
		if (!(*data = sluice__memdup(
			      h->data ? (const void *)h->data : "",
			      (size_t)h->size)))
			return sluice__error_oom();
		*len = (size_t)h->size;
		return 0;
	}
	if ((error = sluice_handle_location(&path, dir, h)) < 0)
		return error;
	error = sluice_storage_read_all(data, len, st, path);
	if (error == SLUICE_ENOTFOUND)
		error = sluice__error_set(
			SLUICE_ENOTFOUND, E, "%s: missing", path);
	if (!error)
		error = check_bytes(path, h, *data, *len);
	if (error < 0) {
		sluice__free(*data);
		*data = NULL;
		*len = 0;
	}
	sluice__free(path);
	return error;
}

int sluice_handle_open(
	sluice_istream **out,
	sluice_storage *st,
	const char *dir,
	const sluice_stream_handle *h)
{
	char *path = NULL;
	int error;

	*out = NULL;
	if (h->kind == SLUICE_HANDLE_INLINE)
		return sluice_mem_istream_new(
			out, h->data ? (const void *)h->data : "",
			(size_t)h->size);
	if ((error = sluice_handle_location(&path, dir, h)) < 0)
		return error;
	error = sluice_storage_open_read(out, st, path);
	if (error == SLUICE_ENOTFOUND)
		error = sluice__error_set(
			SLUICE_ENOTFOUND, E, "%s: missing", path);
	if (!error && (*out)->size(*out) != h->size) {
		error = sluice__error_set(
			SLUICE_ECORRUPT, E,
			"%s: size %" PRIu64 ", expected %" PRIu64, path,
			(*out)->size(*out), h->size);
		sluice_istream_close(*out);
		*out = NULL;
	}
	sluice__free(path);
	return error;
}

/* Hash the whole stream `in` with a bounded buffer. */
static int hash_stream(sluice_istream *in, uint64_t *sum, uint64_t *size)
{
	size_t cap = 1 << 20, got;
	uint8_t *buf = sluice__malloc(cap);
	sluice_xxh3_state *x = sluice__xxh3_new();
	int error = 0;

	*size = 0;
	if (!buf || !x)
		error = sluice__error_oom();
	while (!error && (error = in->read(in, buf, cap, &got)) == 0 && got) {
		sluice__xxh3_update(x, buf, got);
		*size += got;
	}
	if (!error)
		*sum = sluice__xxh3_digest(x);
	sluice__xxh3_free(x);
	sluice__free(buf);
	return error;
}

int sluice_handle_verify(
	sluice_storage *st, const char *dir, const sluice_stream_handle *h)
{
	sluice_istream *in = NULL;
	uint64_t sum = 0, size = 0;
	char *path = NULL;
	int error;

	if (h->kind == SLUICE_HANDLE_INLINE)
		return check_bytes(
			h->path ? h->path : "(inline)", h, h->data,
			(size_t)h->size);
	if ((error = sluice_handle_location(&path, dir, h)) < 0)
		return error;
	error = sluice_storage_open_read(&in, st, path);
	if (error == SLUICE_ENOTFOUND)
		error = sluice__error_set(
			SLUICE_ENOTFOUND, E, "%s: missing", path);
	/* Size first: cheap, and the usual symptom of a torn file. */
	if (!error && in->size(in) != h->size)
		error = sluice__error_set(
			SLUICE_ECORRUPT, E,
			"%s: size %" PRIu64 ", expected %" PRIu64, path,
			in->size(in), h->size);
	if (!error && (error = hash_stream(in, &sum, &size)) == 0 &&
	    (size != h->size || sum != h->checksum))
		error = sluice__error_set(
			SLUICE_ECORRUPT, E,
			"%s: checksum %016" PRIx64 ", expected %016" PRIx64,
			path, sum, h->checksum);
	sluice_istream_close(in);
	sluice__free(path);
	return error;
}
