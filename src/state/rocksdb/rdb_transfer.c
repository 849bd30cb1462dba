/*
 * Moving RocksDB files between the local instance directory and checkpoint
 * storage: a small thread pool (state.backend.rocksdb.checkpoint.transfer.
 * thread.num) and the upload/download of one file.  Downloads verify size
 * and xxh3-64 checksum against the handle (a copied file while it is
 * copied, a hard-linked one when the restore asks for it), so a corrupt
 * checkpoint is reported by file name, not by crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "state/rocksdb/rdb_impl.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"

#define CHUNK (256u << 10)

typedef struct pool {
	size_t n;
	int (*job)(void *ctx, size_t i);
	void *ctx;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t mu;
	int code;
	sluice_error_class klass;
	char message[1024];
} pool;

static void pool_fail(pool *p, int code)
{
	const sluice_error *e = sluice_error_last();

	pthread_mutex_lock(&p->mu);
	if (!p->code) {
		p->code = code;
		p->klass = e->klass;
		snprintf(p->message, sizeof(p->message), "%s", e->message);
	}
	pthread_mutex_unlock(&p->mu);
	atomic_store(&p->failed, 1);
}

static void *pool_worker(void *arg)
{
	pool *p = arg;

	while (!atomic_load(&p->failed)) {
		size_t i = atomic_fetch_add(&p->next, 1);
		int rc;

		if (i >= p->n)
			break;
		if ((rc = p->job(p->ctx, i)) < 0)
			pool_fail(p, rc);
	}
	return NULL;
}

int sluice__rdb_parallel(
	size_t n, int threads, int (*job)(void *ctx, size_t i), void *ctx)
{
	pthread_t tid[64];
	size_t started = 0, i;
	pool p;

	if (threads > 64)
		threads = 64;
	if ((size_t)threads > n)
		threads = (int)n;
	memset(&p, 0, sizeof(p));
	p.n = n;
	p.job = job;
	p.ctx = ctx;
	atomic_init(&p.next, 0);
	atomic_init(&p.failed, 0);
	pthread_mutex_init(&p.mu, NULL);
	for (i = 0; i < (size_t)threads; i++) {
		if (pthread_create(&tid[started], NULL, pool_worker, &p) != 0)
			break;
		started++;
	}
	pool_worker(&p); /* the caller helps, and covers threads == 0 */
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&p.mu);
	if (p.code)
		return sluice__error_set(p.code, p.klass, "%s", p.message);
	return 0;
}

int sluice__rdb_empty_handle(sluice_stream_handle **out, const char *name)
{
	/* streams give no handle for zero bytes; an empty file still is one */
	*out = sluice_stream_handle_new(
		SLUICE_HANDLE_INLINE, name, 0, sluice__xxh3("", 0), "");
	return *out ? 0 : sluice__error_oom();
}

int sluice__rdb_upload(
	sluice_stream_handle **out,
	const sluice_rdb_transfer *t,
	int shared,
	const char *name,
	const char *path)
{
	sluice_ostream *s = NULL;
	char *buf = sluice__malloc(CHUNK);
	int fd = -1, error;
	ssize_t got;

	*out = NULL;
	if (!buf)
		return sluice__error_oom();
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		error = sluice__error_os(
			SLUICE_ERRCLS_ROCKSDB, "rocksdb upload: open '%s'",
			path);
		goto done;
	}
	if ((error = t->open_output(t->ctx, shared, name, &s)) < 0)
		goto done;
	while ((got = read(fd, buf, CHUNK)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			error = sluice__error_os(
				SLUICE_ERRCLS_ROCKSDB,
				"rocksdb upload: read '%s'", path);
			goto done;
		}
		if ((error = sluice_ostream_write(s, buf, (size_t)got)) < 0)
			goto done;
	}
	error = sluice_ostream_close(s, out);
	s = NULL;
	if (error == 0 && !*out)
		error = sluice__rdb_empty_handle(out, name);
done:
	sluice_ostream_abort(s);
	if (fd >= 0)
		close(fd);
	sluice__free(buf);
	return error;
}

static int write_all(int fd, const char *p, size_t n, const char *path)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return sluice__error_os(
				SLUICE_ERRCLS_ROCKSDB,
				"rocksdb download: write '%s'", path);
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
copy_in(sluice_istream *in,
	int fd,
	const char *path,
	uint64_t *total,
	uint64_t *sum)
{
	sluice_xxh3_state *h = sluice__xxh3_new();
	char *buf = sluice__malloc(CHUNK);
	int error = 0;

	*total = 0;
	if (!h || !buf) {
		error = sluice__error_oom();
		goto done;
	}
	for (;;) {
		size_t got = 0;

		if ((error = in->read(in, buf, CHUNK, &got)) < 0 || got == 0)
			break;
		sluice__xxh3_update(h, buf, got);
		*total += got;
		if ((error = write_all(fd, buf, got, path)) < 0)
			break;
	}
	*sum = sluice__xxh3_digest(h);
done:
	sluice__xxh3_free(h);
	sluice__free(buf);
	return error;
}

static int mismatch(
	const char *what,
	const sluice_stream_handle *h,
	uint64_t total,
	uint64_t sum)
{
	return sluice__error_set(
		SLUICE_ECORRUPT, SLUICE_ERRCLS_ROCKSDB,
		"%s: got %llu bytes with checksum %016llx, the handle says "
		"%llu bytes with %016llx",
		what, (unsigned long long)total, (unsigned long long)sum,
		(unsigned long long)h->size, (unsigned long long)h->checksum);
}

/*
 * An SST file in local checkpoint storage is hard-linked (SST files are
 * immutable; RocksDB only ever unlinks them) and opened for the caller's
 * verification (sluice__rdb_verify_linked).  1 linked (*fd open), 0 not
 * possible (copy instead), < 0 failure.
 */
static int try_link(
	const sluice_rdb_transfer *t,
	const sluice_stream_handle *h,
	const char *path,
	const char *what,
	int *fd)
{
	char src[4096];
	size_t n = strlen(path);

	if (!t->local_path || n < 4 || strcmp(path + n - 4, ".sst") ||
	    t->local_path(t->ctx, h, src, sizeof(src)) != 1 ||
	    link(src, path) < 0)
		return 0;
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return sluice__error_os(
			SLUICE_ERRCLS_ROCKSDB, "%s: open '%s'", what, path);
	return 1;
}

int sluice__rdb_verify_linked(
	int fd, const sluice_stream_handle *h, const char *what)
{
	uint64_t total = 0, sum = 0;
	int error = sluice__rdb_fd_digest(fd, what, &total, &sum);

	close(fd);
	if (error == 0 && (total != h->size || sum != h->checksum))
		error = mismatch(what, h, total, sum);
	return error;
}

int sluice__rdb_download(
	const sluice_rdb_transfer *t,
	const sluice_stream_handle *h,
	const char *path,
	const char *what,
	int *linked_fd)
{
	sluice_istream *in = NULL;
	uint64_t total = 0, sum = 0;
	int fd, error;

	*linked_fd = -1;
	if (h->kind == SLUICE_HANDLE_PLACEHOLDER)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_ROCKSDB,
			"%s: placeholder for shared file '%s' was not resolved "
			"to a real handle",
			what, h->path ? h->path : "");
	if ((error = try_link(t, h, path, what, linked_fd)) != 0)
		return error < 0 ? error : 0;
	SLUICE_ERRCHECK(t->open_input(t->ctx, h, &in));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		error = sluice__error_os(
			SLUICE_ERRCLS_ROCKSDB, "%s: create '%s'", what, path);
		goto done;
	}
	error = copy_in(in, fd, path, &total, &sum);
	if (close(fd) < 0 && error == 0)
		error = sluice__error_os(
			SLUICE_ERRCLS_ROCKSDB, "%s: close '%s'", what, path);
	if (error == 0 && (total != h->size || sum != h->checksum))
		error = mismatch(what, h, total, sum);
done:
	sluice_istream_close(in);
	return error;
}
