/*
 * A small S3 client (also for Huawei OBS, which speaks the S3 API with
 * SigV4): objects, ranged reads, listings, batched deletes, multipart
 * uploads with parts sent in parallel, and bucket creation, over libcurl
 * with our own SigV4 (sigv4.h).
 *
 * Behaviour
 *  - Addressing: path style puts the bucket in the path
 *    (http://host:port/bucket/key); virtual-hosted style puts it in the
 *    host name (http://bucket.host:port/key).
 *  - Every request carries x-amz-date and x-amz-content-sha256: the hex
 *    SHA-256 of the body, or UNSIGNED-PAYLOAD when opts.unsigned_payload.
 *  - Retries: connection errors, timeouts, HTTP 5xx, 429 and the S3 codes
 *    SlowDown / RequestTimeout / InternalError are retried with exponential
 *    backoff and "equal jitter" (delay drawn from [d/2, d] where
 *    d = min(backoff_max, backoff_base * 2^(attempt-1))), until
 *    max_attempts or until the next attempt would start after
 *    retry_total_ms from the first one.  Other failures are returned at
 *    once.  Time is read from opts.clock; sleeping goes through
 *    opts.sleep_ms so tests can run without waiting.
 *  - Errors: 404 → SLUICE_ENOTFOUND, bucket exists → SLUICE_EEXISTS,
 *    invalid range or part too small → SLUICE_EINVALID, everything else
 *    (403, other 4xx, 5xx and transport failures after retries) →
 *    SLUICE_EIO.  Messages name the operation, the object as
 *    scheme://bucket/key and the endpoint, plus the server's error code,
 *    e.g. "access denied for s3://b/k at http://127.0.0.1:9000: check
 *    s3.access-key/s3.secret-key (SignatureDoesNotMatch)".  The secret key
 *    never appears in a message or a log line.
 *
 * Threading: a client is immutable after creation and may be used from
 * any number of threads at once (it keeps a locked pool of idle curl
 * handles for connection reuse).  An s3_upload belongs to one thread at a
 * time; its parts are sent by its own worker threads.
 */
#ifndef SLUICE_STORAGE_S3_CLIENT_H
#define SLUICE_STORAGE_S3_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/clock.h"
#include "util/buf.h"
#include "xml.h"

#define S3_MIN_PART_SIZE ((size_t)5 * 1024 * 1024)
#define S3_MAX_PARTS     10000
#define S3_DELETE_BATCH  1000

typedef struct s3_client_opts {
	const char *endpoint;   /* "http://127.0.0.1:9000"; required */
	const char *region;     /* default "us-east-1" */
	const char *access_key; /* required */
	const char *secret_key; /* required; copied, never logged */
	int path_style;         /* 1 path style, 0 virtual-hosted */
	const char *scheme;     /* "s3" or "obs", for messages; default "s3" */
	int unsigned_payload;   /* sign bodies as UNSIGNED-PAYLOAD */
	int64_t connect_timeout_ms; /* default 5000 */
	int64_t request_timeout_ms; /* per attempt; default 120000 */
	int64_t retry_total_ms;     /* retry budget; default 30000 */
	int max_attempts;           /* default 8 */
	int64_t backoff_base_ms;    /* default 100 */
	int64_t backoff_max_ms;     /* default 5000 */
	int upload_threads;         /* parallel parts per upload; default 4 */
	size_t part_size;    /* multipart part size; default 8 MiB, >= 5 MiB */
	int delete_batch;    /* keys per DeleteObjects call; default/max 1000 */
	sluice_clock *clock; /* default sluice_clock_system(); borrowed */
	/* Sleep hook for backoff; default nanosleep.  Called from any
	 * thread that runs a request. */
	void (*sleep_ms)(void *ctx, int64_t ms);
	void *sleep_ctx;
	uint64_t seed; /* jitter seed; 0 picks one from the clock */
} s3_client_opts;

typedef struct s3_client s3_client;

/*
 * Create a client.  Strings in `opts` are copied.  Returns 0,
 * SLUICE_EINVALID (missing endpoint/credentials, bad endpoint URL, part
 * size below 5 MiB), SLUICE_ENOMEM, or SLUICE_EIO if libcurl fails to
 * initialise.
 */
int s3_client_new(s3_client **out, const s3_client_opts *opts);

/* Free the client; NULL-safe.  No request may be running. */
void s3_client_free(s3_client *c);

/* What a client has sent so far (for tests and statistics). */
typedef struct s3_client_counts {
	uint64_t requests;       /* HTTP requests, every retry included */
	uint64_t delete_batches; /* DeleteObjects requests (not retries) */
	uint64_t deletes;        /* single-object DELETEs (not retries) */
	uint64_t keys_deleted;   /* keys sent in DeleteObjects requests */
} s3_client_counts;

/* A snapshot of the counters; thread-safe. */
void s3_client_counts_get(const s3_client *c, s3_client_counts *out);

/* The client of an S3 storage made by sluice_storage_s3_new (borrowed),
 * for tests and statistics. */
struct sluice_storage;
s3_client *sluice__s3_storage_client(struct sluice_storage *st);

/* The endpoint as given (for messages).  Lives as long as the client. */
const char *s3_client_endpoint(const s3_client *c);

/*
 * Backoff before retry number `attempt` (1 = first retry) for random
 * value `r`: d = min(max_ms, base_ms << (attempt-1)), result in [d/2, d].
 * Exposed for tests.
 */
int64_t s3_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, uint64_t r);

/*
 * Whether a failed attempt is worth retrying: `curl_code` non-zero for a
 * transport failure, else HTTP `status` and the S3 error `code` (may be
 * NULL).  Exposed for tests.
 */
int s3_retryable(int curl_code, long status, const char *code);

/*
 * Build the URL for bucket/key (key may be NULL) with the query already
 * encoded (may be NULL or "") into `url`, and the Host header value into
 * `host`.  Both buffers are replaced.  Exposed for tests.
 */
int s3_client_url(
	sluice_buf *url,
	sluice_buf *host,
	const s3_client *c,
	const char *bucket,
	const char *key,
	const char *query);

/* Create `bucket`.  SLUICE_EEXISTS when it already exists. */
int s3_client_create_bucket(s3_client *c, const char *bucket);

/* Upload `len` bytes as bucket/key in one PUT (up to 5 GiB). */
int s3_client_put_object(
	s3_client *c,
	const char *bucket,
	const char *key,
	const void *data,
	size_t len);

/*
 * Read `len` bytes from `offset` of bucket/key, appending them to `out`
 * (len == UINT64_MAX: to the end).  Reading past the end returns the bytes
 * that exist; reading an empty object from offset 0 returns nothing; an
 * offset at or beyond a non-empty object's size is SLUICE_EINVALID.
 * SLUICE_ENOTFOUND when the object does not exist.
 */
int s3_client_get_object(
	s3_client *c,
	sluice_buf *out,
	const char *bucket,
	const char *key,
	uint64_t offset,
	uint64_t len);

/* Size of bucket/key; SLUICE_ENOTFOUND when absent. */
int s3_client_head_object(
	s3_client *c, uint64_t *size, const char *bucket, const char *key);

/* Delete one object; deleting a missing key succeeds (as S3). */
int s3_client_delete_object(s3_client *c, const char *bucket, const char *key);

/*
 * Delete `n` keys with DeleteObjects, in batches of opts.delete_batch
 * (ceil(n / batch) requests, each with Content-MD5 as S3 requires).
 * Missing keys count as deleted.  Every batch is sent even after one
 * fails; a per-key failure is SLUICE_EIO naming the first key that failed,
 * the server's code and how many keys of that batch failed.
 */
int s3_client_delete_objects(
	s3_client *c, const char *bucket, const char *const *keys, size_t n);

/*
 * One page of ListObjectsV2: `prefix`, `delimiter` and `token` may be
 * NULL; `max_keys` 0 means the server default (1000).  `page` is filled
 * (release with s3_list_page_release).
 */
int s3_client_list_page(
	s3_client *c,
	s3_list_page *page,
	const char *bucket,
	const char *prefix,
	const char *delimiter,
	const char *token,
	int max_keys);

/* Called per listed object; a non-zero return stops the listing and is
 * returned by s3_client_list. */
typedef int (*s3_list_cb)(void *ctx, const char *key, uint64_t size);

/* List every object under `prefix`, following continuation tokens,
 * `page_size` keys per request (0: server default). */
int s3_client_list(
	s3_client *c,
	const char *bucket,
	const char *prefix,
	int page_size,
	s3_list_cb cb,
	void *ctx);

/* Called per multipart upload in progress; non-zero stops the listing
 * and is returned. */
typedef int (*s3_upload_cb)(void *ctx, const char *key, const char *upload_id);

/* Every multipart upload in progress under `prefix` (ListMultipartUploads,
 * following NextKeyMarker / NextUploadIdMarker). */
int s3_client_list_uploads(
	s3_client *c,
	const char *bucket,
	const char *prefix,
	s3_upload_cb cb,
	void *ctx);

/* Number of multipart uploads in progress under `prefix`. */
int s3_client_count_uploads(
	s3_client *c, size_t *count, const char *bucket, const char *prefix);

/*
 * Low-level multipart steps.  *upload_id is a new string (sluice__free).
 * Part numbers start at 1; `etag` receives the part's ETag (a new string).
 * `etags[i]` is the ETag of part i+1.
 */
int s3_client_multipart_create(
	s3_client *c, char **upload_id, const char *bucket, const char *key);
int s3_client_upload_part(
	s3_client *c,
	char **etag,
	const char *bucket,
	const char *key,
	const char *upload_id,
	int part,
	const void *data,
	size_t len);
int s3_client_multipart_complete(
	s3_client *c,
	const char *bucket,
	const char *key,
	const char *upload_id,
	char *const *etags,
	int nparts);
int s3_client_multipart_abort(
	s3_client *c,
	const char *bucket,
	const char *key,
	const char *upload_id);

/*
 * Streaming upload of one object.  Bytes are buffered; each full part
 * (opts.part_size) is handed to a pool of opts.upload_threads workers, at
 * most that many parts in flight (memory bound: (threads + 1) parts).  An
 * object smaller than one part is sent with a single PUT at finish.
 * Any failure aborts the multipart upload so nothing is left behind; the
 * first error is returned by the failing and every later call.
 */
typedef struct s3_upload s3_upload;

int s3_upload_new(
	s3_upload **out, s3_client *c, const char *bucket, const char *key);
int s3_upload_write(s3_upload *u, const void *data, size_t len);
/* Wait until every part handed to the workers so far is stored; returns
 * the upload's first failure, if any.  Bytes still buffered (less than a
 * part) are not sent. */
int s3_upload_wait(s3_upload *u);
/* Complete the object; `size` (may be NULL) gets its length. */
int s3_upload_finish(s3_upload *u, uint64_t *size);
/* Abandon the upload, aborting a started multipart upload.  Returns 0,
 * or the failure of the abort request (logged: parts may be left behind
 * until the bucket's lifecycle rules remove them).  Idempotent. */
int s3_upload_abort(s3_upload *u);
/* Number of parts sent so far (for tests and statistics). */
int s3_upload_parts(const s3_upload *u);
/* Free; aborts first when neither finished nor aborted.  NULL-safe. */
void s3_upload_free(s3_upload *u);

#endif
