/*
 * Streaming upload of one object (s3_upload in client.h).  Owns the part
 * buffer, the small pool of worker threads that send parts in parallel,
 * the ETag list, and the rule that a failure aborts the multipart upload
 * so nothing is left behind.  An object smaller than one part never
 * starts a multipart upload: it is sent with one PUT at finish.
 *
 * Workers report failures with their own thread-local error; the first
 * one is copied here and re-raised on the caller's thread by every later
 * call.
 */
#include <pthread.h>
#include <string.h>

#include "request.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

typedef struct job {
	struct job *next;
	int part;
	uint8_t *data;
	size_t len;
} job;

enum { UP_OPEN, UP_DONE, UP_ABORTED };

struct s3_upload {
	s3_client *c;
	char *bucket, *key;
	size_t part_size;
	int threads;
	sluice_buf cur;
	uint64_t total;
	char *upload_id;
	int nparts;
	char **etags; /* [S3_MAX_PARTS] once multipart starts */
	int state;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *head, *tail;
	int inflight; /* queued + running */
	int stop;
	pthread_t *workers;
	int nworkers;
	int error; /* first failure, 0 when none */
	sluice_error_class klass;
	char *msg;
};

static int reraise(s3_upload *u)
{
	return sluice__error_set(
		u->error, u->klass, "%s", u->msg ? u->msg : "s3 upload failed");
}

/* Record the calling thread's last error as the upload's failure. */
static void record(s3_upload *u, int error)
{
	const sluice_error *e = sluice_error_last();

	if (u->error)
		return;
	u->error = error;
	u->klass = e->klass;
	u->msg = sluice__strdup(e->message);
}

static void *worker(void *arg)
{
	s3_upload *u = arg;
	char *etag;
	job *j;
	int error;

	pthread_mutex_lock(&u->mu);
	for (;;) {
		while (!u->head && !u->stop)
			pthread_cond_wait(&u->cv, &u->mu);
		if (!u->head)
			break;
		j = u->head;
		if (!(u->head = j->next))
			u->tail = NULL;
		error = u->error;
		pthread_mutex_unlock(&u->mu);
		etag = NULL;
		if (error == 0)
			error = s3_client_upload_part(
				u->c, &etag, u->bucket, u->key, u->upload_id,
				j->part, j->data, j->len);
		pthread_mutex_lock(&u->mu);
		if (error < 0)
			record(u, error);
		else
			u->etags[j->part - 1] = etag;
		sluice__free(j->data);
		sluice__free(j);
		u->inflight--;
		pthread_cond_broadcast(&u->cv);
	}
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

static void stop_workers(s3_upload *u)
{
	int i;

	pthread_mutex_lock(&u->mu);
	u->stop = 1;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	for (i = 0; i < u->nworkers; i++)
		pthread_join(u->workers[i], NULL);
	u->nworkers = 0;
}

static int start_multipart(s3_upload *u)
{
	int i;

	SLUICE_ERRCHECK(s3_client_multipart_create(
		u->c, &u->upload_id, u->bucket, u->key));
	u->etags = sluice__calloc(S3_MAX_PARTS, sizeof(*u->etags));
	u->workers = sluice__calloc((size_t)u->threads, sizeof(pthread_t));
	if (!u->etags || !u->workers)
		return sluice__error_oom();
	for (i = 0; i < u->threads; i++) {
		if (pthread_create(&u->workers[i], NULL, worker, u) != 0)
			return sluice__error_set(
				SLUICE_EIO, SLUICE_ERRCLS_OS,
				"s3 upload of %s: could not "
				"start a worker thread",
				u->key);
		u->nworkers++;
	}
	return 0;
}

/* Hand the current buffer to the workers as the next part. */
static int dispatch(s3_upload *u)
{
	job *j;

	if (u->nparts >= S3_MAX_PARTS)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STORAGE,
			"s3 upload of %s: more than %d parts "
			"of %zu bytes",
			u->key, S3_MAX_PARTS, u->part_size);
	if (!u->upload_id)
		SLUICE_ERRCHECK(start_multipart(u));
	if (!(j = sluice__calloc(1, sizeof(*j))))
		return sluice__error_oom();
	j->part = ++u->nparts;
	j->data = sluice_buf_detach(&u->cur, &j->len);
	pthread_mutex_lock(&u->mu);
	while (u->inflight >= u->threads && !u->error)
		pthread_cond_wait(&u->cv, &u->mu);
	if (u->error) {
		pthread_mutex_unlock(&u->mu);
		sluice__free(j->data);
		sluice__free(j);
		return reraise(u);
	}
	if (u->tail)
		u->tail->next = j;
	else
		u->head = j;
	u->tail = j;
	u->inflight++;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return 0;
}

/* Stop the workers and abort a started multipart upload.  When the
 * abort itself fails, logs that (the upload may be left behind) and
 * returns its code with the last error describing it. */
static int abort_all(s3_upload *u)
{
	int error = 0;

	stop_workers(u);
	u->state = UP_ABORTED;
	if (u->upload_id &&
	    (error = s3_client_multipart_abort(
		     u->c, u->bucket, u->key, u->upload_id)) < 0 &&
	    error != SLUICE_ENOTFOUND) {
		sluice__warn(
			"s3: could not abort multipart upload %s of "
			"%s/%s: %s; it may be left behind",
			u->upload_id, u->bucket, u->key,
			sluice_error_last()->message);
		return error;
	}
	return 0;
}

/* Fail the upload with the last error `error`, aborting it. */
static int fail(s3_upload *u, int error)
{
	pthread_mutex_lock(&u->mu);
	record(u, error);
	pthread_mutex_unlock(&u->mu);
	if (u->state == UP_OPEN)
		(void)abort_all(
			u); /* the upload's own failure is what counts */
	return reraise(u);
}

int s3_upload_new(
	s3_upload **out, s3_client *c, const char *bucket, const char *key)
{
	const s3_client_opts *o = s3__client_opts(c);
	s3_upload *u;

	*out = NULL;
	if (!(u = sluice__calloc(1, sizeof(*u))))
		return sluice__error_oom();
	u->c = c;
	u->part_size = o->part_size;
	u->threads = o->upload_threads;
	u->bucket = sluice__strdup(bucket);
	u->key = sluice__strdup(key);
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	if (!u->bucket || !u->key) {
		s3_upload_free(u);
		return sluice__error_oom();
	}
	*out = u;
	return 0;
}

static int check_open(s3_upload *u)
{
	if (u->error)
		return reraise(u);
	if (u->state != UP_OPEN)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STORAGE,
			"s3 upload of %s/%s is already %s", u->bucket, u->key,
			u->state == UP_DONE ? "finished" : "aborted");
	return 0;
}

int s3_upload_write(s3_upload *u, const void *data, size_t len)
{
	const uint8_t *p = data;
	int error;

	SLUICE_ERRCHECK(check_open(u));
	while (len) {
		size_t n = u->part_size - u->cur.len;

		if (n > len)
			n = len;
		if ((error = sluice_buf_grow(
			     &u->cur, u->part_size - u->cur.len)) < 0 ||
		    (error = sluice_buf_put(&u->cur, p, n)) < 0)
			return fail(u, error);
		p += n;
		len -= n;
		u->total += n;
		if (u->cur.len == u->part_size && (error = dispatch(u)) < 0)
			return fail(u, error);
	}
	return 0;
}

static int wait_idle(s3_upload *u)
{
	int error;

	pthread_mutex_lock(&u->mu);
	while (u->inflight > 0)
		pthread_cond_wait(&u->cv, &u->mu);
	error = u->error;
	pthread_mutex_unlock(&u->mu);
	return error ? reraise(u) : 0;
}

int s3_upload_wait(s3_upload *u)
{
	int error;

	SLUICE_ERRCHECK(check_open(u));
	if ((error = wait_idle(u)) < 0)
		return fail(u, error);
	return 0;
}

int s3_upload_finish(s3_upload *u, uint64_t *size)
{
	int error;

	SLUICE_ERRCHECK(check_open(u));
	if (!u->upload_id) {
		error = s3_client_put_object(
			u->c, u->bucket, u->key, u->cur.ptr, u->cur.len);
		if (error < 0)
			return fail(u, error);
	} else {
		if ((u->cur.len && (error = dispatch(u)) < 0) ||
		    (error = wait_idle(u)) < 0)
			return fail(u, error);
		stop_workers(u);
		error = s3_client_multipart_complete(
			u->c, u->bucket, u->key, u->upload_id, u->etags,
			u->nparts);
		if (error < 0)
			return fail(u, error);
	}
	sluice_buf_release(&u->cur);
	u->state = UP_DONE;
	if (size)
		*size = u->total;
	return 0;
}

int s3_upload_abort(s3_upload *u)
{
	if (u->state != UP_OPEN)
		return 0;
	return abort_all(u);
}

int s3_upload_parts(const s3_upload *u)
{
	return u->nparts;
}

void s3_upload_free(s3_upload *u)
{
	job *j;
	int i;

	if (!u)
		return;
	if (u->state == UP_OPEN && u->upload_id)
		(void)abort_all(u);
	stop_workers(u);
	while ((j = u->head)) {
		u->head = j->next;
		sluice__free(j->data);
		sluice__free(j);
	}
	for (i = 0; u->etags && i < S3_MAX_PARTS; i++)
		sluice__free(u->etags[i]);
	sluice__free(u->etags);
	sluice__free(u->workers);
	sluice__free(u->upload_id);
	sluice__free(u->bucket);
	sluice__free(u->key);
	sluice__free(u->msg);
	sluice_buf_release(&u->cur);
	pthread_cond_destroy(&u->cv);
	pthread_mutex_destroy(&u->mu);
	sluice__free(u);
}
