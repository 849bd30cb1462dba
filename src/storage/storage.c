/*
 * The storage registry (scheme → storage) and the core wrappers through
 * which the library makes every storage call: they supply documented
 * defaults for optional methods, loop over short writes and make sure
 * each failure names the path.  Keeping every call here is what lets the
 * fault wrapper (fault.c) see every operation.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/sys/storage.h"
#include "util/alloc.h"
#include "util/error.h"

#define E           SLUICE_ERRCLS_STORAGE
#define MAX_SCHEMES 16

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static sluice_storage *registered[MAX_SCHEMES];
static sluice_storage *memory_default;

int sluice_storage_register(sluice_storage *st)
{
	int i, error = 0;

	if (!st || !st->scheme || st->version < 1)
		return sluice__error_set(
			SLUICE_EINVALID, E,
			"storage to register has no scheme");
	pthread_mutex_lock(&reg_lock);
	for (i = 0; i < MAX_SCHEMES; i++)
		if (!registered[i] ||
		    !strcmp(registered[i]->scheme, st->scheme))
			break;
	if (i == MAX_SCHEMES)
		error = sluice__error_set(
			SLUICE_EINVALID, E,
			"cannot register storage '%s': %d schemes already",
			st->scheme, MAX_SCHEMES);
	else
		registered[i] = st;
	pthread_mutex_unlock(&reg_lock);
	return error;
}

static sluice_storage *builtin(const char *scheme, size_t n)
{
	if (n == 4 && !strncmp(scheme, "file", 4))
		return sluice_storage_file_get();
	if (n == 6 && !strncmp(scheme, "memory", 6)) {
		if (!memory_default &&
		    sluice_storage_memory_new(&memory_default))
			return NULL;
		return memory_default;
	}
	return NULL;
}

int sluice_storage_for_uri(sluice_storage **out, const char *uri)
{
	const char *sep = strstr(uri, "://");
	const char *scheme = sep ? uri : "file";
	size_t n = sep ? (size_t)(sep - uri) : 4;
	sluice_storage *st = NULL;
	int i;

	pthread_mutex_lock(&reg_lock);
	for (i = 0; i < MAX_SCHEMES && registered[i]; i++)
		if (strlen(registered[i]->scheme) == n &&
		    !strncmp(registered[i]->scheme, scheme, n))
			st = registered[i];
	if (!st)
		st = builtin(scheme, n);
	pthread_mutex_unlock(&reg_lock);
	if (!st)
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, E,
			"no checkpoint storage for scheme '%.*s' in '%s'",
			(int)n, scheme, uri);
	*out = st;
	return 0;
}

void sluice_storage_free(sluice_storage *st)
{
	if (st && st->destroy)
		st->destroy(st);
}

void sluice_free_bytes(void *p)
{
	sluice__free(p);
}

int sluice_storage_open_write(
	sluice_storage_file **out, sluice_storage *st, const char *path)
{
	*out = NULL;
	return st->open_write(st, path, out);
}

int sluice_storage_write_all(
	sluice_storage_file *f, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t done = 0, n;
	int error;

	while (done < len) {
		n = 0;
		if ((error = f->write(f, p + done, len - done, &n)) < 0)
			return error;
		if (n == 0)
			return sluice__error_set(
				SLUICE_EIO, E, "write made no progress");
		done += n;
	}
	return 0;
}

int sluice_storage_file_sync(sluice_storage_file *f)
{
	return f->sync(f);
}

int sluice_storage_file_close(sluice_storage_file *f)
{
	return f ? f->close(f) : 0;
}

int sluice_storage_open_read(
	sluice_istream **out, sluice_storage *st, const char *path)
{
	*out = NULL;
	return st->open_read(st, path, out);
}

int sluice_storage_remove(sluice_storage *st, const char *path)
{
	return st->remove(st, path);
}

/* One by one, for storages without remove_many: every file is tried and
 * the first failure (other than a missing file) is returned. */
static int remove_each(sluice_storage *st, const char *const *paths, size_t n)
{
	size_t i, failed = 0;
	int error, first = 0;
	char msg[512];

	msg[0] = '\0';
	for (i = 0; i < n; i++) {
		error = st->remove(st, paths[i]);
		if (error == SLUICE_ENOTFOUND) {
			sluice_error_clear();
			continue;
		}
		if (error < 0 && !failed++) {
			first = error;
			snprintf(
				msg, sizeof(msg), "%s",
				sluice_error_last()->message);
		}
	}
	if (failed)
		return sluice__error_set(
			first, E, "could not delete %zu of %zu files: %s",
			failed, n, msg);
	return 0;
}

int sluice_storage_remove_many(
	sluice_storage *st, const char *const *paths, size_t n)
{
	if (n == 0)
		return 0;
	if (st->version >= 2 && st->remove_many)
		return st->remove_many(st, paths, n);
	return remove_each(st, paths, n);
}

int sluice_storage_cleanup(sluice_storage *st, const char *dir)
{
	return st->version >= 2 && st->cleanup ? st->cleanup(st, dir) : 0;
}

int sluice_storage_rmdir(sluice_storage *st, const char *path)
{
	return st->rmdir ? st->rmdir(st, path) : 0;
}

int sluice_storage_rename(sluice_storage *st, const char *from, const char *to)
{
	if (!st->rename)
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, E,
			"storage '%s' cannot rename '%s'", st->scheme, from);
	return st->rename(st, from, to);
}

int sluice_storage_stat(
	sluice_storage *st, const char *path, uint64_t *size, int *is_dir)
{
	return st->stat(st, path, size, is_dir);
}

int sluice_storage_exists(sluice_storage *st, const char *path)
{
	int error = st->stat(st, path, NULL, NULL);

	if (error == SLUICE_ENOTFOUND) {
		sluice_error_clear();
		return 0;
	}
	return error < 0 ? error : 1;
}

int sluice_storage_list(
	sluice_storage *st,
	const char *dir,
	sluice_storage_list_cb cb,
	void *ctx)
{
	return st->list(st, dir, cb, ctx);
}

int sluice_storage_mkdirs(sluice_storage *st, const char *dir)
{
	return st->mkdirs ? st->mkdirs(st, dir) : 0;
}

int sluice_storage_sync_dir(sluice_storage *st, const char *dir)
{
	return st->sync_dir ? st->sync_dir(st, dir) : 0;
}

int sluice_storage_read_all(
	uint8_t **data, size_t *len, sluice_storage *st, const char *path)
{
	sluice_istream *in = NULL;
	uint8_t *buf = NULL;
	uint64_t size;
	int error;

	*data = NULL;
	*len = 0;
	if ((error = sluice_storage_open_read(&in, st, path)) < 0)
		return error;
	size = in->size(in);
	if (size > SIZE_MAX - 1 || !(buf = sluice__malloc((size_t)size + 1))) {
		error = sluice__error_oom();
		goto done;
	}
	if ((error = sluice_istream_read_full(in, buf, (size_t)size)) < 0) {
		sluice__error_wrap("%s", path);
		goto done;
	}
	*data = buf;
	*len = (size_t)size;
	buf = NULL;
done:
	sluice__free(buf);
	sluice_istream_close(in);
	return error;
}

int sluice_storage_write_file(
	sluice_storage *st, const char *path, const void *data, size_t len)
{
	sluice_storage_file *f = NULL;
	int error, cerr;

	if ((error = sluice_storage_open_write(&f, st, path)) < 0)
		return error;
	if ((error = sluice_storage_write_all(f, data, len)) == 0)
		error = sluice_storage_file_sync(f);
	cerr = sluice_storage_file_close(f);
	return error < 0 ? error : cerr;
}

int sluice_storage_write_atomic(
	sluice_storage *st, const char *path, const void *data, size_t len)
{
	char *tmp = NULL, *dir = NULL, *slash;
	int error;

	if (!(st->caps & SLUICE_STORAGE_ATOMIC_RENAME))
		return sluice_storage_write_file(st, path, data, len);
	tmp = sluice__malloc(strlen(path) + sizeof(".inprogress"));
	dir = sluice__strdup(path);
	if (!tmp || !dir) {
		error = sluice__error_oom();
		goto done;
	}
	strcpy(tmp, path);
	strcat(tmp, ".inprogress");
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if ((error = sluice_storage_write_file(st, tmp, data, len)) < 0 ||
	    (error = sluice_storage_rename(st, tmp, path)) < 0)
		goto done;
	error = slash ? sluice_storage_sync_dir(st, dir) : 0;
done:
	sluice__free(tmp);
	sluice__free(dir);
	return error;
}

typedef struct pathlist {
	char **p;
	size_t n, cap;
} pathlist;

static int collect(const char *path, uint64_t size, void *ctx)
{
	pathlist *l = ctx;

	(void)size;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char **p = sluice__reallocarray(l->p, cap, sizeof(*p));
		if (!p)
			return sluice__error_oom();
		l->p = p;
		l->cap = cap;
	}
	if (!(l->p[l->n] = sluice__strdup(path)))
		return sluice__error_oom();
	l->n++;
	return 0;
}

/* Remove `path`'s parent directories up to (and including) `top`. */
static void rmdirs_up(sluice_storage *st, const char *path, const char *top)
{
	char *p = sluice__strdup(path);
	char *slash;

	while (p && (slash = strrchr(p, '/')) != NULL) {
		*slash = '\0';
		if (strlen(p) < strlen(top) || sluice_storage_rmdir(st, p) < 0)
			break;
	}
	sluice__free(p);
}

static size_t depth(const char *p)
{
	size_t n = 0;

	for (; *p; p++)
		n += *p == '/';
	return n;
}

static int deeper_first(const void *a, const void *b)
{
	size_t x = depth(*(char *const *)a), y = depth(*(char *const *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

int sluice_storage_remove_tree(sluice_storage *st, const char *dir)
{
	pathlist l = {NULL, 0, 0};
	int error;
	size_t i;

	error = sluice_storage_list(st, dir, collect, &l);
	if (!error)
		error = sluice_storage_remove_many(
			st, (const char *const *)l.p, l.n);
	/* Deepest first, so each directory is empty when its turn comes. */
	if (l.n)
		qsort(l.p, l.n, sizeof(*l.p), deeper_first);
	for (i = 0; !error && i < l.n; i++)
		rmdirs_up(st, l.p[i], dir);
	if (!error && sluice_storage_rmdir(st, dir) < 0)
		sluice_error_clear(); /* already gone or implicit */
	for (i = 0; i < l.n; i++)
		sluice__free(l.p[i]);
	sluice__free(l.p);
	return error;
}
