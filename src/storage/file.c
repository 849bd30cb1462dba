/*
 * The "file" checkpoint storage: local POSIX files.  Accepts bare paths and
 * file:// URIs.  Owns nothing but the file descriptors of open files; the
 * storage object itself is a process-wide constant.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/sys/storage.h"
#include "util/alloc.h"
#include "util/error.h"

#define E SLUICE_ERRCLS_STORAGE

static const char *local(const char *path)
{
	if (!strncmp(path, "file://", 7))
		return path + 7;
	return path;
}

typedef struct wfile {
	sluice_storage_file base;
	int fd;
	char *path;
} wfile;

static int
fw_write(sluice_storage_file *f, const void *data, size_t len, size_t *written)
{
	wfile *w = (wfile *)f;
	ssize_t n;

	do {
		n = write(w->fd, data, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return sluice__error_os(E, "write '%s'", w->path);
	*written = (size_t)n;
	return 0;
}

static int fw_sync(sluice_storage_file *f)
{
	wfile *w = (wfile *)f;

	if (fsync(w->fd) < 0)
		return sluice__error_os(E, "fsync '%s'", w->path);
	return 0;
}

static int fw_close(sluice_storage_file *f)
{
	wfile *w = (wfile *)f;
	int error = 0;

	if (close(w->fd) < 0)
		error = sluice__error_os(E, "close '%s'", w->path);
	sluice__free(w->path);
	sluice__free(w);
	return error;
}

static int
f_open_write(sluice_storage *st, const char *path, sluice_storage_file **out)
{
	wfile *w = sluice__calloc(1, sizeof(*w));

	(void)st;
	if (!w || !(w->path = sluice__strdup(local(path)))) {
		sluice__free(w);
		return sluice__error_oom();
	}
	w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int error = sluice__error_os(E, "create '%s'", w->path);
		sluice__free(w->path);
		sluice__free(w);
		return error;
	}
	w->base.version = SLUICE_STORAGE_VERSION;
	w->base.write = fw_write;
	w->base.sync = fw_sync;
	w->base.close = fw_close;
	*out = &w->base;
	return 0;
}

typedef struct rfile {
	sluice_istream base;
	int fd;
	uint64_t pos, size;
	char *path;
} rfile;

static int fr_read(sluice_istream *s, void *buf, size_t len, size_t *got)
{
	rfile *r = (rfile *)s;
	ssize_t n;

	do {
		n = pread(r->fd, buf, len, (off_t)r->pos);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return sluice__error_os(E, "read '%s'", r->path);
	r->pos += (uint64_t)n;
	*got = (size_t)n;
	return 0;
}

static int fr_seek(sluice_istream *s, uint64_t off)
{
	rfile *r = (rfile *)s;

	if (off > r->size)
		return sluice__error_set(
			SLUICE_EINVALID, E,
			"seek '%s': offset %llu beyond size %llu", r->path,
			(unsigned long long)off, (unsigned long long)r->size);
	r->pos = off;
	return 0;
}

static uint64_t fr_size(sluice_istream *s)
{
	return ((rfile *)s)->size;
}

static void fr_close(sluice_istream *s)
{
	rfile *r = (rfile *)s;

	close(r->fd);
	sluice__free(r->path);
	sluice__free(r);
}

static int
f_open_read(sluice_storage *st, const char *path, sluice_istream **out)
{
	rfile *r = sluice__calloc(1, sizeof(*r));
	struct stat sb;
	int error;

	(void)st;
	if (!r || !(r->path = sluice__strdup(local(path)))) {
		sluice__free(r);
		return sluice__error_oom();
	}
	r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &sb) < 0) {
		error = sluice__error_os(E, "open '%s'", r->path);
		if (r->fd >= 0)
			close(r->fd);
		sluice__free(r->path);
		sluice__free(r);
		return error;
	}
	r->size = (uint64_t)sb.st_size;
	r->base.version = SLUICE_STREAM_VERSION;
	r->base.read = fr_read;
	r->base.seek = fr_seek;
	r->base.size = fr_size;
	r->base.close = fr_close;
	*out = &r->base;
	return 0;
}

static int f_remove(sluice_storage *st, const char *path)
{
	(void)st;
	if (unlink(local(path)) < 0)
		return sluice__error_os(E, "delete '%s'", local(path));
	return 0;
}

/*
 * Remove directory `p` when its whole subtree holds no file: empty
 * subdirectories (a job's shared/ and taskowned/ before any shared state)
 * go with it, since listing only ever shows files.  A file anywhere
 * below leaves everything in place and fails with ENOTEMPTY.
 */
static int rmdir_empty_tree(const char *p, int depth)
{
	struct dirent *d;
	char sub[4096];
	DIR *dir;
	int rc = 0;

	if (rmdir(p) == 0)
		return 0;
	if ((errno != ENOTEMPTY && errno != EEXIST) || depth > 32 ||
	    !(dir = opendir(p)))
		return -1;
	while (rc == 0 && (d = readdir(dir))) {
		struct stat sb;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", p, d->d_name);
		if (lstat(sub, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			errno = ENOTEMPTY;
			rc = -1;
		} else {
			rc = rmdir_empty_tree(sub, depth + 1);
		}
	}
	closedir(dir);
	if (rc < 0)
		return -1;
	return rmdir(p);
}

static int f_rmdir(sluice_storage *st, const char *path)
{
	(void)st;
	if (rmdir_empty_tree(local(path), 0) < 0)
		return sluice__error_os(
			E, "remove directory '%s'", local(path));
	return 0;
}

static int f_rename(sluice_storage *st, const char *from, const char *to)
{
	(void)st;
	if (rename(local(from), local(to)) < 0)
		return sluice__error_os(
			E, "rename '%s' to '%s'", local(from), local(to));
	return 0;
}

static int
f_stat(sluice_storage *st, const char *path, uint64_t *size, int *is_dir)
{
	struct stat sb;

	(void)st;
	if (stat(local(path), &sb) < 0)
		return sluice__error_os(E, "stat '%s'", local(path));
	if (size)
		*size = S_ISDIR(sb.st_mode) ? 0 : (uint64_t)sb.st_size;
	if (is_dir)
		*is_dir = S_ISDIR(sb.st_mode) ? 1 : 0;
	return 0;
}

static int list_dir(const char *dir, sluice_storage_list_cb cb, void *ctx);

static int list_entry(
	const char *dir, const char *name, sluice_storage_list_cb cb, void *ctx)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = sluice__malloc(n);
	struct stat sb;
	int error = 0;

	if (!p)
		return sluice__error_oom();
	snprintf(p, n, "%s/%s", dir, name);
	if (lstat(p, &sb) < 0) {
		if (errno != ENOENT)
			error = sluice__error_os(E, "stat '%s'", p);
	} else if (S_ISDIR(sb.st_mode)) {
		error = list_dir(p, cb, ctx);
	} else if (S_ISREG(sb.st_mode)) {
		error = cb(p, (uint64_t)sb.st_size, ctx);
	}
	sluice__free(p);
	return error;
}

static int list_dir(const char *dir, sluice_storage_list_cb cb, void *ctx)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int error = 0;

	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return sluice__error_os(E, "list '%s'", dir);
	}
	while (!error && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		error = list_entry(dir, e->d_name, cb, ctx);
	}
	closedir(d);
	return error;
}

typedef struct uri_ctx {
	sluice_storage_list_cb cb;
	void *ctx;
} uri_ctx;

/* Report paths as file:// URIs when the caller listed a file:// URI. */
static int as_uri(const char *path, uint64_t size, void *p)
{
	uri_ctx *u = p;
	size_t n = strlen(path) + 8;
	char *uri = sluice__malloc(n);
	int rc;

	if (!uri)
		return sluice__error_oom();
	snprintf(uri, n, "file://%s", path);
	rc = u->cb(uri, size, u->ctx);
	sluice__free(uri);
	return rc;
}

static int
f_list(sluice_storage *st,
       const char *dir,
       sluice_storage_list_cb cb,
       void *ctx)
{
	uri_ctx u = {cb, ctx};

	(void)st;
	if (local(dir) != dir)
		return list_dir(local(dir), as_uri, &u);
	return list_dir(dir, cb, ctx);
}

static int f_mkdirs(sluice_storage *st, const char *dir)
{
	char *p = sluice__strdup(local(dir));
	char *s;
	int error = 0;

	(void)st;
	if (!p)
		return sluice__error_oom();
	for (s = p + 1;; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			error = sluice__error_os(E, "create directory '%s'", p);
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	sluice__free(p);
	return error;
}

static int f_sync_dir(sluice_storage *st, const char *dir)
{
	int fd = open(local(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int error = 0;

	(void)st;
	if (fd < 0)
		return sluice__error_os(E, "open directory '%s'", local(dir));
	if (fsync(fd) < 0)
		error = sluice__error_os(E, "fsync directory '%s'", local(dir));
	close(fd);
	return error;
}

static sluice_storage file_storage = {
	SLUICE_STORAGE_VERSION,
	"file",
	SLUICE_STORAGE_ATOMIC_RENAME | SLUICE_STORAGE_DIRS,
	f_open_write,
	f_open_read,
	f_remove,
	f_rmdir,
	f_rename,
	f_stat,
	f_list,
	f_mkdirs,
	f_sync_dir,
	NULL,
	NULL, /* remove_many: one unlink per file anyway */
	NULL, /* no entropy injection on file systems */
	0,
	NULL, /* cleanup: a crashed writer leaves no hidden state */
};

sluice_storage *sluice_storage_file_get(void)
{
	return &file_storage;
}
