/*
 * Finding and trusting checkpoints: finalize (encode + commit), load a
 * `_metadata` from a directory or file, verify every referenced byte, and
 * discovery on restart — the newest chk-<n> that loads and verifies,
 * falling back to older ones and saying why (Flink only takes the newest).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/sys/metadata.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

#define E SLUICE_ERRCLS_CHECKPOINT

int sluice_location_finalize(
	sluice_location *loc, const sluice_checkpoint_meta *meta)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int error;

	if ((error = sluice_metadata_encode(&data, &len, meta)) < 0)
		return error;
	error = sluice_location_commit(loc, data, len);
	sluice__free(data);
	return error;
}

static char *join2(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = sluice__malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* `path` names either a directory or its _metadata: set both. */
static int
resolve(char **dir, char **file, sluice_storage *st, const char *path)
{
	int is_dir = 0, error;
	const char *slash;

	*dir = *file = NULL;
	if ((error = sluice_storage_stat(st, path, NULL, &is_dir)) < 0) {
		if (error == SLUICE_ENOTFOUND)
			return sluice__error_set(
				SLUICE_ENOTFOUND, E,
				"Cannot find checkpoint or savepoint "
				"file/directory '%s' on file system '%s'.",
				path, st->scheme);
		return error;
	}
	if (is_dir) {
		*dir = sluice__strdup(path);
		*file = join2(path, SLUICE_METADATA_FILE);
	} else {
		slash = strrchr(path, '/');
		*dir = slash ? sluice__strndup(path, (size_t)(slash - path))
			     : sluice__strdup(".");
		*file = sluice__strdup(path);
	}
	if (!*dir || !*file)
		return sluice__error_oom();
	if (is_dir && sluice_storage_exists(st, *file) != 1)
		return sluice__error_set(
			SLUICE_ENOTFOUND, E,
			"Cannot find meta data file '_metadata' in directory "
			"'%s'. Please try to load the checkpoint/savepoint "
			"directly from the metadata file instead of the "
			"directory.",
			path);
	return 0;
}

int sluice_checkpoint_load(
	sluice_checkpoint_meta **out,
	char **dirp,
	sluice_storage *st,
	const char *path)
{
	char *dir = NULL, *file = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	int error;

	*out = NULL;
	if (dirp)
		*dirp = NULL;
	if ((error = resolve(&dir, &file, st, path)) < 0 ||
	    (error = sluice_storage_read_all(&data, &len, st, file)) < 0 ||
	    (error = sluice_metadata_decode(out, data, len, file)) < 0)
		goto done;
	if (dirp) {
		*dirp = dir;
		dir = NULL;
	}
done:
	sluice__free(dir);
	sluice__free(file);
	sluice__free(data);
	return error;
}

typedef struct vctx {
	sluice_storage *st;
	const char *dir;
	sluice_verify_cb cb;
	void *ctx;
	int first;
	sluice_error saved;
	char msg[512];
} vctx;

static int verify_one(const sluice_stream_handle *h, int shared, void *p)
{
	vctx *v = p;
	int error;

	(void)shared;
	if (h->kind == SLUICE_HANDLE_PLACEHOLDER)
		return 0; /* the registry owns the real file; checked there */
	if ((error = sluice_handle_verify(v->st, v->dir, h)) == 0)
		return 0;
	if (!v->first) {
		v->first = error;
		snprintf(
			v->msg, sizeof(v->msg), "%s",
			sluice_error_last()->message);
	}
	if (v->cb)
		v->cb(sluice_error_last()->message, v->ctx);
	return 0;
}

int sluice_checkpoint_verify(
	sluice_storage *st,
	const char *dir,
	const sluice_checkpoint_meta *m,
	sluice_verify_cb cb,
	void *ctx)
{
	vctx v;
	int error;

	memset(&v, 0, sizeof(v));
	v.st = st;
	v.dir = dir;
	v.cb = cb;
	v.ctx = ctx;
	if ((error = sluice_checkpoint_meta_each_handle(m, verify_one, &v)) < 0)
		return error;
	if (v.first)
		return sluice__error_set(
			v.first, SLUICE_ERRCLS_STORAGE, "%s", v.msg);
	return 0;
}

typedef struct ids {
	int64_t *v;
	size_t n, cap;
	const char *job_dir;
} ids;

/* Collect N of "<job_dir>/chk-N/..." paths. */
static int collect_id(const char *path, uint64_t size, void *p)
{
	ids *l = p;
	size_t jl = strlen(l->job_dir);
	const char *s;
	char *end;
	long long id;
	size_t i;

	(void)size;
	if (strncmp(path, l->job_dir, jl) || path[jl] != '/' ||
	    strncmp(path + jl + 1, "chk-", 4))
		return 0;
	s = path + jl + 5;
	id = strtoll(s, &end, 10);
	if (end == s || *end != '/' || id < 0)
		return 0;
	for (i = 0; i < l->n; i++)
		if (l->v[i] == id)
			return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		int64_t *v = sluice__reallocarray(l->v, cap, sizeof(*v));
		if (!v)
			return sluice__error_oom();
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = id;
	return 0;
}

static int cmp_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Load and verify chk-<id>; on failure report why. */
static int try_candidate(
	sluice_checkpoint_meta **out,
	char **dir,
	sluice_storage *st,
	const char *job_dir,
	int64_t id)
{
	char name[48];
	char *path;
	int error;

	snprintf(name, sizeof(name), "chk-%" PRId64, id);
	if (!(path = join2(job_dir, name)))
		return sluice__error_oom();
	error = sluice_checkpoint_load(out, dir, st, path);
	if (!error && (*out)->checkpoint_id != id)
		error = sluice__error_set(
			SLUICE_ECORRUPT, E,
			"%s: _metadata is for checkpoint %lld", path,
			(long long)(*out)->checkpoint_id);
	if (!error)
		error = sluice_checkpoint_verify(st, *dir, *out, NULL, NULL);
	if (error < 0) {
		sluice_checkpoint_meta_free(*out);
		*out = NULL;
		sluice__free(*dir);
		*dir = NULL;
	}
	sluice__free(path);
	return error;
}

int sluice_checkpoint_discover(
	sluice_checkpoint_meta **out,
	char **dirp,
	sluice_storage *st,
	const char *job_dir,
	sluice_verify_cb cb,
	void *ctx)
{
	ids l = {NULL, 0, 0, job_dir};
	char *dir = NULL, line[1024];
	int error;
	size_t i;

	*out = NULL;
	if (dirp)
		*dirp = NULL;
	if ((error = sluice_storage_list(st, job_dir, collect_id, &l)) < 0)
		goto done;
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_desc);
	for (i = 0; i < l.n; i++) {
		error = try_candidate(out, &dir, st, job_dir, l.v[i]);
		if (!error)
			break;
		if (error == SLUICE_ENOMEM)
			goto done;
		snprintf(
			line, sizeof(line), "chk-%" PRId64 ": %s", l.v[i],
			sluice_error_last()->message);
		sluice__warn("skipping checkpoint %s", line);
		if (cb)
			cb(line, ctx);
	}
	if (i == l.n) {
		error = sluice__error_set(
			SLUICE_ENOTFOUND, E,
			"No completed checkpoint available");
		goto done;
	}
	if (dirp) {
		*dirp = dir;
		dir = NULL;
	}
done:
	sluice__free(dir);
	sluice__free(l.v);
	return error;
}
