/*
 * The fault-injecting storage wrapper used by tests: it forwards every call
 * to an inner storage, counts operations, fails the k-th one of the
 * selected kinds (optionally "crashing": failing everything afterwards),
 * shortens writes, and remembers what has not been made durable so that
 * sluice_fault_power_cut() can undo it on the inner storage.
 *
 * Durability model: a file's durable length is its length at its last
 * sync (a file never synced is not durable at all); on storages with
 * rename (file systems) a newly created file also needs its directory
 * synced after creation, or it vanishes whatever its data; a rename is
 * durable once the target's directory is synced; deletes and mkdirs are
 * durable at once.  A rename that replaced an existing file is reverted by
 * moving the file back (the replaced file is not restored; the commit protocol
 * never renames over an existing file).
 */
#include <pthread.h>
#include <string.h>

#include "sluice/sys/storage.h"
#include "util/alloc.h"
#include "util/error.h"

#define E SLUICE_ERRCLS_STORAGE

typedef struct frec {
	struct frec *next;
	char *path;
	uint64_t len;
	int64_t synced; /* -1 never */
	int entry;      /* its directory entry is durable */
} frec;

typedef struct rrec {
	struct rrec *next;
	char *from, *to;
} rrec;

typedef struct faultstore {
	sluice_storage base;
	sluice_storage *inner;
	sluice_fault_options opts;
	pthread_mutex_t lock;
	long count;
	int fired;
	frec *files;
	rrec *renames; /* newest first */
} faultstore;

static const char *op_name(unsigned op)
{
	switch (op) {
	case SLUICE_FAULT_WRITE:
		return "write";
	case SLUICE_FAULT_SYNC:
		return "sync";
	case SLUICE_FAULT_RENAME:
		return "rename";
	case SLUICE_FAULT_DELETE:
		return "delete";
	case SLUICE_FAULT_OPEN:
		return "create";
	case SLUICE_FAULT_CLOSE:
		return "close";
	default:
		return "mkdir";
	}
}

/* 0 to go ahead, or the injected failure.  op 0 = uncounted call. */
static int check(faultstore *fs, unsigned op, const char *path)
{
	int fail = 0;

	pthread_mutex_lock(&fs->lock);
	if (fs->fired && fs->opts.crash) {
		fail = 1;
	} else if (op & fs->opts.ops) {
		fs->count++;
		if (fs->opts.fail_at > 0 && fs->count == fs->opts.fail_at) {
			fs->fired = 1;
			fail = 1;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (fail)
		return sluice__error_set(
			SLUICE_EIO, E, "injected fault: %s '%s'",
			op ? op_name(op) : "access", path);
	return 0;
}

static frec *rec_find(faultstore *fs, const char *path)
{
	frec *r;

	for (r = fs->files; r; r = r->next)
		if (!strcmp(r->path, path))
			return r;
	return NULL;
}

static void rec_forget(faultstore *fs, const char *path)
{
	frec **pp = &fs->files, *r;

	while ((r = *pp) != NULL) {
		if (!strcmp(r->path, path)) {
			*pp = r->next;
			sluice__free(r->path);
			sluice__free(r);
		} else {
			pp = &r->next;
		}
	}
}

typedef struct ffile {
	sluice_storage_file base;
	faultstore *fs;
	sluice_storage_file *inner;
	frec *rec;
	char *path;
} ffile;

static int
ff_write(sluice_storage_file *f, const void *data, size_t len, size_t *written)
{
	ffile *w = (ffile *)f;
	int error;

	if ((error = check(w->fs, SLUICE_FAULT_WRITE, w->path)) < 0)
		return error;
	if (w->fs->opts.short_writes && len > 1)
		len /= 2;
	if ((error = w->inner->write(w->inner, data, len, written)) < 0)
		return error;
	pthread_mutex_lock(&w->fs->lock);
	w->rec->len += *written;
	pthread_mutex_unlock(&w->fs->lock);
	return 0;
}

static int ff_sync(sluice_storage_file *f)
{
	ffile *w = (ffile *)f;
	int error;

	if ((error = check(w->fs, SLUICE_FAULT_SYNC, w->path)) < 0)
		return error;
	if ((error = w->inner->sync(w->inner)) < 0)
		return error;
	pthread_mutex_lock(&w->fs->lock);
	w->rec->synced = (int64_t)w->rec->len;
	pthread_mutex_unlock(&w->fs->lock);
	return 0;
}

static int ff_close(sluice_storage_file *f)
{
	ffile *w = (ffile *)f;
	int error = check(w->fs, SLUICE_FAULT_CLOSE, w->path);
	int cerr = w->inner->close(w->inner);

	sluice__free(w->path);
	sluice__free(w);
	return error < 0 ? error : cerr;
}

static int
fs_open_write(sluice_storage *st, const char *path, sluice_storage_file **out)
{
	faultstore *fs = (faultstore *)st;
	ffile *w;
	frec *r;
	int error;

	if ((error = check(fs, SLUICE_FAULT_OPEN, path)) < 0)
		return error;
	w = sluice__calloc(1, sizeof(*w));
	r = sluice__calloc(1, sizeof(*r));
	if (!w || !r || !(w->path = sluice__strdup(path)) ||
	    !(r->path = sluice__strdup(path))) {
		error = sluice__error_oom();
		goto fail;
	}
	/* A new name needs a directory sync (file systems only). */
	r->entry = !(fs->inner->caps & SLUICE_STORAGE_ATOMIC_RENAME) ||
		   sluice_storage_exists(fs->inner, path) == 1;
	if ((error = fs->inner->open_write(fs->inner, path, &w->inner)) < 0)
		goto fail;
	r->synced = -1;
	pthread_mutex_lock(&fs->lock);
	rec_forget(fs, path);
	r->next = fs->files;
	fs->files = r;
	pthread_mutex_unlock(&fs->lock);
	w->fs = fs;
	w->rec = r;
	w->base.version = SLUICE_STORAGE_VERSION;
	w->base.write = ff_write;
	w->base.sync = ff_sync;
	w->base.close = ff_close;
	*out = &w->base;
	return 0;
fail:
	if (r)
		sluice__free(r->path);
	sluice__free(r);
	if (w)
		sluice__free(w->path);
	sluice__free(w);
	return error;
}

static int
fs_open_read(sluice_storage *st, const char *path, sluice_istream **out)
{
	faultstore *fs = (faultstore *)st;
	int error = check(fs, 0, path);

	return error < 0 ? error : fs->inner->open_read(fs->inner, path, out);
}

static int fs_remove(sluice_storage *st, const char *path)
{
	faultstore *fs = (faultstore *)st;
	int error;

	if ((error = check(fs, SLUICE_FAULT_DELETE, path)) < 0)
		return error;
	if ((error = fs->inner->remove(fs->inner, path)) < 0)
		return error;
	pthread_mutex_lock(&fs->lock);
	rec_forget(fs, path);
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

static int fs_rmdir(sluice_storage *st, const char *path)
{
	faultstore *fs = (faultstore *)st;
	int error = check(fs, SLUICE_FAULT_DELETE, path);

	if (error < 0)
		return error;
	return sluice_storage_rmdir(fs->inner, path);
}

static int fs_rename(sluice_storage *st, const char *from, const char *to)
{
	faultstore *fs = (faultstore *)st;
	char *newpath = NULL;
	rrec *rr;
	frec *r;
	int error;

	if ((error = check(fs, SLUICE_FAULT_RENAME, from)) < 0)
		return error;
	rr = sluice__calloc(1, sizeof(*rr));
	if (!rr || !(rr->from = sluice__strdup(from)) ||
	    !(rr->to = sluice__strdup(to)) || !(newpath = sluice__strdup(to))) {
		error = sluice__error_oom();
		goto fail;
	}
	if ((error = sluice_storage_rename(fs->inner, from, to)) < 0)
		goto fail;
	pthread_mutex_lock(&fs->lock);
	rec_forget(fs, to);
	if ((r = rec_find(fs, from)) != NULL) {
		sluice__free(r->path);
		r->path = newpath; /* the record follows the file */
		newpath = NULL;
	}
	rr->next = fs->renames;
	fs->renames = rr;
	pthread_mutex_unlock(&fs->lock);
	sluice__free(newpath);
	return 0;
fail:
	sluice__free(newpath);
	if (rr) {
		sluice__free(rr->from);
		sluice__free(rr->to);
	}
	sluice__free(rr);
	return error;
}

static int
fs_stat(sluice_storage *st, const char *path, uint64_t *size, int *is_dir)
{
	faultstore *fs = (faultstore *)st;
	int error = check(fs, 0, path);

	return error < 0 ? error
			 : fs->inner->stat(fs->inner, path, size, is_dir);
}

static int
fs_list(sluice_storage *st,
	const char *dir,
	sluice_storage_list_cb cb,
	void *ctx)
{
	faultstore *fs = (faultstore *)st;
	int error = check(fs, 0, dir);

	return error < 0 ? error : fs->inner->list(fs->inner, dir, cb, ctx);
}

static int fs_mkdirs(sluice_storage *st, const char *dir)
{
	faultstore *fs = (faultstore *)st;
	int error = check(fs, SLUICE_FAULT_MKDIR, dir);

	return error < 0 ? error : sluice_storage_mkdirs(fs->inner, dir);
}

/* 1 when `path`'s parent directory is `dir`. */
static int parent_is(const char *path, const char *dir)
{
	const char *slash = strrchr(path, '/');
	size_t n = strlen(dir);

	while (n > 0 && dir[n - 1] == '/')
		n--;
	return slash && (size_t)(slash - path) == n && !strncmp(path, dir, n);
}

static int fs_sync_dir(sluice_storage *st, const char *dir)
{
	faultstore *fs = (faultstore *)st;
	rrec **pp, *rr;
	frec *r;
	int error;

	if ((error = check(fs, SLUICE_FAULT_MKDIR, dir)) < 0)
		return error;
	if ((error = sluice_storage_sync_dir(fs->inner, dir)) < 0)
		return error;
	pthread_mutex_lock(&fs->lock);
	for (r = fs->files; r; r = r->next)
		if (parent_is(r->path, dir))
			r->entry = 1;
	pp = &fs->renames;
	while ((rr = *pp) != NULL) {
		if (parent_is(rr->to, dir)) {
			*pp = rr->next;
			sluice__free(rr->from);
			sluice__free(rr->to);
			sluice__free(rr);
		} else {
			pp = &rr->next;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

static void forget_all(faultstore *fs)
{
	while (fs->files) {
		frec *r = fs->files;
		fs->files = r->next;
		sluice__free(r->path);
		sluice__free(r);
	}
	while (fs->renames) {
		rrec *rr = fs->renames;
		fs->renames = rr->next;
		sluice__free(rr->from);
		sluice__free(rr->to);
		sluice__free(rr);
	}
}

static void fs_destroy(sluice_storage *st)
{
	faultstore *fs = (faultstore *)st;

	forget_all(fs);
	pthread_mutex_destroy(&fs->lock);
	sluice__free(fs);
}

int sluice_fault_storage_new(
	sluice_storage **out,
	sluice_storage *inner,
	const sluice_fault_options *opts)
{
	faultstore *fs = sluice__calloc(1, sizeof(*fs));

	if (!fs)
		return sluice__error_oom();
	pthread_mutex_init(&fs->lock, NULL);
	fs->inner = inner;
	if (opts)
		fs->opts = *opts;
	fs->base.version = SLUICE_STORAGE_VERSION;
	fs->base.scheme = inner->scheme;
	fs->base.caps = inner->caps;
	fs->base.open_write = fs_open_write;
	fs->base.open_read = fs_open_read;
	fs->base.remove = fs_remove;
	fs->base.rmdir = fs_rmdir;
	fs->base.rename = inner->rename ? fs_rename : NULL;
	fs->base.stat = fs_stat;
	fs->base.list = fs_list;
	fs->base.mkdirs = fs_mkdirs;
	fs->base.sync_dir = fs_sync_dir;
	fs->base.destroy = fs_destroy;
	/* deletes stay one by one (each is counted); entropy as inside */
	if (inner->version >= 2) {
		fs->base.entropy_key = inner->entropy_key;
		fs->base.entropy_length = inner->entropy_length;
	}
	*out = &fs->base;
	return 0;
}

long sluice_fault_storage_count(sluice_storage *st)
{
	faultstore *fs = (faultstore *)st;
	long n;

	pthread_mutex_lock(&fs->lock);
	n = fs->count;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

int sluice_fault_storage_fired(sluice_storage *st)
{
	faultstore *fs = (faultstore *)st;
	int fired;

	pthread_mutex_lock(&fs->lock);
	fired = fs->fired;
	pthread_mutex_unlock(&fs->lock);
	return fired;
}

/* Cut `path` on the inner storage back to its first `len` bytes. */
static int truncate_inner(sluice_storage *in, const char *path, uint64_t len)
{
	uint8_t *data = NULL;
	size_t n = 0;
	int error;

	if ((error = sluice_storage_read_all(&data, &n, in, path)) < 0)
		return error;
	if (len < n)
		n = (size_t)len;
	error = sluice_storage_write_file(in, path, data, n);
	sluice__free(data);
	return error;
}

int sluice_fault_power_cut(sluice_storage *st)
{
	faultstore *fs = (faultstore *)st;
	sluice_storage *in = fs->inner;
	int error = 0;
	rrec *rr;
	frec *r;

	pthread_mutex_lock(&fs->lock);
	for (rr = fs->renames; rr && !error; rr = rr->next) {
		error = sluice_storage_rename(in, rr->to, rr->from);
		for (r = fs->files; r && !error; r = r->next)
			if (!strcmp(r->path, rr->to)) {
				char *p = sluice__strdup(rr->from);
				if (!p) {
					error = sluice__error_oom();
					break;
				}
				sluice__free(r->path);
				r->path = p;
			}
	}
	for (r = fs->files; r && !error; r = r->next) {
		if (r->synced < 0 || !r->entry)
			error = sluice_storage_remove(in, r->path);
		else if ((uint64_t)r->synced < r->len)
			error = truncate_inner(
				in, r->path, (uint64_t)r->synced);
		if (error == SLUICE_ENOTFOUND)
			error = 0;
	}
	forget_all(fs);
	fs->fired = 1;
	fs->opts.crash = 1;
	pthread_mutex_unlock(&fs->lock);
	return error;
}
