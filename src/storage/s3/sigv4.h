/*
 * AWS Signature Version 4 for S3 requests, written over OpenSSL's SHA-256
 * and HMAC (no AWS SDK, no curl signing).
 *
 * What is implemented (the S3 flavour of SigV4, "AWS4-HMAC-SHA256"):
 *  - canonical URI: the raw object path, each byte outside A-Z a-z 0-9
 *    '-' '.' '_' '~' percent-encoded as %XX (upper-case hex), '/' kept; S3
 *    does not double-encode;
 *  - canonical query: parameters sorted by encoded name (then value), names
 *    and values percent-encoded including '/', a valueless sub-resource
 *    written as "name=";
 *  - canonical headers: names lower-cased, values trimmed with inner runs
 *    of spaces collapsed, sorted by name, each as "name:value\n", followed
 *    by the ';'-joined signed header list;
 *  - the payload hash: hex SHA-256 of the body, or "UNSIGNED-PAYLOAD";
 *  - string to sign over the scope date/region/service/aws4_request, the
 *    derived signing key, and the Authorization header value.
 *
 * Edge cases tested (tests/unit/test_s3_sigv4.c): the four worked examples
 * in the S3 SigV4 documentation (GET object with Range, PUT object with
 * '$' in the key and a Date header, valueless "?lifecycle", list with
 * unsorted query), encoding of reserved and UTF-8 bytes, header trimming.
 *
 * Threading: every function is pure and reentrant.  Secrets are only read,
 * never copied into any output other than the derived key.
 */
#ifndef SLUICE_STORAGE_S3_SIGV4_H
#define SLUICE_STORAGE_S3_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* hex SHA-256 of zero bytes */
#define S3_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A name/value pair: an HTTP header or a query parameter (raw, unencoded).
 * A query parameter with value NULL is a valueless sub-resource. */
typedef struct s3_pair {
	const char *name;
	const char *value;
} s3_pair;

/* What is signed.  All strings borrowed for the duration of the call. */
typedef struct s3_sigv4_request {
	const char *method;   /* "GET", "PUT", ... */
	const char *path;     /* raw path starting with '/', e.g. "/b/k$1" */
	const s3_pair *query; /* raw parameters, any order */
	size_t nquery;
	const s3_pair *headers; /* every header to sign, any case and order;
				   must include host and x-amz-date */
	size_t nheaders;
	const char *payload_hash; /* hex SHA-256 or S3_UNSIGNED_PAYLOAD */
} s3_sigv4_request;

typedef struct s3_sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *region;  /* "us-east-1" */
	const char *service; /* "s3" */
} s3_sigv4_creds;

/*
 * Append the percent-encoding of `len` bytes of `s` to `out`; '/' is kept
 * when `keep_slash` is non-zero.  Returns 0 or SLUICE_ENOMEM.
 */
int s3_uri_encode(sluice_buf *out, const char *s, size_t len, int keep_slash);

/* Hex SHA-256 of `len` bytes into `out` (65 bytes incl. NUL). */
void s3_sha256_hex(char out[65], const void *data, size_t len);

/* "YYYYMMDDTHHMMSSZ" for `wall_ms` since the epoch, UTC (17 bytes). */
void s3_amz_date(char out[17], int64_t wall_ms);

/*
 * Append the canonical request of `req` to `out`.  Returns 0,
 * SLUICE_ENOMEM, or SLUICE_EINVALID when a header name is empty.
 */
int s3_sigv4_canonical_request(sluice_buf *out, const s3_sigv4_request *req);

/*
 * The derived signing key for `date8` ("YYYYMMDD").  Writes 32 bytes.
 */
void s3_sigv4_signing_key(
	uint8_t out[32],
	const char *secret_key,
	const char *date8,
	const char *region,
	const char *service);

/*
 * Sign `req` at `amz_date` (the x-amz-date header value, which must also
 * be among the request's headers).  Appends to `string_to_sign` (if not
 * NULL) the string that was signed, and writes the full Authorization
 * header value into `authorization` (replacing its contents).
 * Returns 0, SLUICE_ENOMEM or SLUICE_EINVALID.
 */
int s3_sigv4_sign(
	sluice_buf *authorization,
	sluice_buf *string_to_sign,
	const s3_sigv4_request *req,
	const s3_sigv4_creds *creds,
	const char *amz_date);

#endif
