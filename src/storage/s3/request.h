/*
 * The request engine shared by the S3 operations (client.c owns it;
 * objects.c and upload.c use it): one signed HTTP exchange with retries,
 * the response's status, ETag, length and body, and the mapping of
 * failures to sluice codes and messages (see client.h).
 */
#ifndef SLUICE_STORAGE_S3_REQUEST_H
#define SLUICE_STORAGE_S3_REQUEST_H

#include "client.h"
#include "sigv4.h"

typedef struct s3_request {
	const char *op;     /* for messages: "PUT", "GET", "upload part" */
	const char *method; /* GET HEAD PUT POST DELETE */
	const char *bucket;
	const char *key;      /* NULL for bucket operations */
	const s3_pair *query; /* raw parameters */
	size_t nquery;
	const s3_pair *headers; /* extra headers, all signed */
	size_t nheaders;
	const void *body;
	size_t body_len;
	sluice_buf *out; /* a 2xx body is appended here; NULL: resp.body */
} s3_request;

typedef struct s3_response {
	long status;
	char *etag; /* ETag header as sent (quotes kept), or NULL */
	uint64_t content_length;
	int has_length;
	sluice_buf body; /* error body, or the 2xx body when req.out NULL */
} s3_response;

/*
 * Run `req` with retries.  Returns 0 for a 2xx answer (resp filled), or
 * the mapped failure code with the last error set.  `resp` must be zeroed;
 * release it with s3__response_release in every case.
 */
int s3__request(s3_client *c, s3_response *resp, const s3_request *req);

void s3__response_release(s3_response *resp);

/* The "scheme://bucket[/key]" name used in messages, into a new buf. */
int s3__object_name(
	sluice_buf *out,
	const s3_client *c,
	const char *bucket,
	const char *key);

/* Count one DeleteObjects request carrying `keys` keys. */
void s3__count_delete_batch(s3_client *c, size_t keys);

/* Options of the client (borrowed; lives as long as the client). */
const s3_client_opts *s3__client_opts(const s3_client *c);

#endif
