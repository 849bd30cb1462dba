/*
 * AWS Signature Version 4 (see sigv4.h for the rules implemented).  Owns
 * canonicalisation and the HMAC chain; knows nothing about HTTP transport.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "sigv4.h"
#include "util/alloc.h"
#include "util/error.h"

static const char hexdigits[] = "0123456789ABCDEF";

int s3_uri_encode(sluice_buf *out, const char *s, size_t len, int keep_slash)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char enc[3];

		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~' || (keep_slash && c == '/')) {
			SLUICE_ERRCHECK(sluice_buf_put_u8(out, c));
			continue;
		}
		enc[0] = '%';
		enc[1] = hexdigits[c >> 4];
		enc[2] = hexdigits[c & 15];
		SLUICE_ERRCHECK(sluice_buf_put(out, enc, 3));
	}
	return 0;
}

static void to_hex(char *out, const uint8_t *p, size_t n)
{
	static const char lower[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = lower[p[i] >> 4];
		out[2 * i + 1] = lower[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void s3_sha256_hex(char out[65], const void *data, size_t len)
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	to_hex(out, md, sizeof(md));
}

void s3_amz_date(char out[17], int64_t wall_ms)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(
		out, 17, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* One canonical header or query parameter, owned strings. */
typedef struct canon {
	char *name;
	char *value;
} canon;

static int canon_cmp(const void *a, const void *b)
{
	const canon *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static void canon_free(canon *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++) {
		sluice__free(v[i].name);
		sluice__free(v[i].value);
	}
	sluice__free(v);
}

/* Lower-cased name; value trimmed with inner space runs collapsed. */
static int canon_header(canon *c, const s3_pair *h)
{
	const char *v = h->value ? h->value : "";
	size_t i, n = 0, len = strlen(h->name);
	int space = 0;

	if (len == 0)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_INVALID,
			"sigv4: empty header name");
	c->name = sluice__strdup(h->name);
	c->value = sluice__malloc(strlen(v) + 1);
	if (!c->name || !c->value)
		return sluice__error_oom();
	for (i = 0; i < len; i++)
		c->name[i] = (char)tolower((unsigned char)c->name[i]);
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space && n)
			c->value[n++] = ' ';
		space = 0;
		c->value[n++] = *v;
	}
	c->value[n] = '\0';
	return 0;
}

static int canon_param(canon *c, const s3_pair *q)
{
	sluice_buf b = SLUICE_BUF_INIT;
	const char *v = q->value ? q->value : "";
	int error;

	if ((error = s3_uri_encode(&b, q->name, strlen(q->name), 0)) < 0 ||
	    (error = sluice_buf_cstr(&b)) < 0)
		goto done;
	c->name = (char *)sluice_buf_detach(&b, NULL);
	if ((error = s3_uri_encode(&b, v, strlen(v), 0)) < 0 ||
	    (error = sluice_buf_cstr(&b)) < 0)
		goto done;
	c->value = (char *)sluice_buf_detach(&b, NULL);
done:
	sluice_buf_release(&b);
	return error;
}

/* Build sorted canonical arrays of query parameters and headers. */
static int canon_build(canon **out, const s3_pair *p, size_t n, int header)
{
	canon *v;
	size_t i;
	int error = 0;

	*out = NULL;
	if (n == 0)
		return 0;
	if (!(v = sluice__calloc(n, sizeof(*v))))
		return sluice__error_oom();
	for (i = 0; i < n && error == 0; i++)
		error = header ? canon_header(&v[i], &p[i])
			       : canon_param(&v[i], &p[i]);
	if (error < 0) {
		canon_free(v, n);
		return error;
	}
	qsort(v, n, sizeof(*v), canon_cmp);
	*out = v;
	return 0;
}

static int put_signed_headers(sluice_buf *out, const canon *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			SLUICE_ERRCHECK(sluice_buf_put_u8(out, ';'));
		SLUICE_ERRCHECK(
			sluice_buf_put(out, h[i].name, strlen(h[i].name)));
	}
	return 0;
}

static int canonical(
	sluice_buf *out,
	sluice_buf *signed_headers,
	const s3_sigv4_request *req)
{
	canon *q = NULL, *h = NULL;
	size_t i;
	int error;

	if ((error = canon_build(&q, req->query, req->nquery, 0)) < 0 ||
	    (error = canon_build(&h, req->headers, req->nheaders, 1)) < 0)
		goto done;
	if ((error = sluice_buf_printf(out, "%s\n", req->method)) < 0 ||
	    (error = s3_uri_encode(out, req->path, strlen(req->path), 1)) < 0 ||
	    (error = sluice_buf_put_u8(out, '\n')) < 0)
		goto done;
	for (i = 0; i < req->nquery && error == 0; i++)
		error = sluice_buf_printf(
			out, "%s%s=%s", i ? "&" : "", q[i].name, q[i].value);
	if (error < 0 || (error = sluice_buf_put_u8(out, '\n')) < 0)
		goto done;
	for (i = 0; i < req->nheaders && error == 0; i++)
		error = sluice_buf_printf(
			out, "%s:%s\n", h[i].name, h[i].value);
	if (error < 0 || (error = sluice_buf_put_u8(out, '\n')) < 0 ||
	    (error = put_signed_headers(out, h, req->nheaders)) < 0 ||
	    (error = put_signed_headers(signed_headers, h, req->nheaders)) < 0)
		goto done;
	error = sluice_buf_printf(out, "\n%s", req->payload_hash);
done:
	canon_free(q, req->nquery);
	canon_free(h, req->nheaders);
	return error;
}

int s3_sigv4_canonical_request(sluice_buf *out, const s3_sigv4_request *req)
{
	sluice_buf sh = SLUICE_BUF_INIT;
	int error = canonical(out, &sh, req);

	sluice_buf_release(&sh);
	return error;
}

static void
hmac(uint8_t out[32], const void *key, size_t keylen, const char *msg)
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
	     strlen(msg), out, &n);
}

void s3_sigv4_signing_key(
	uint8_t out[32],
	const char *secret_key,
	const char *date8,
	const char *region,
	const char *service)
{
	uint8_t k[32];
	char seed[256];
	size_t n = strlen(secret_key);

	/* "AWS4" + secret; secrets longer than the buffer are cut, which no
	 * real provider issues (AWS secrets are 40 bytes). */
	if (n > sizeof(seed) - 5)
		n = sizeof(seed) - 5;
	memcpy(seed, "AWS4", 4);
	memcpy(seed + 4, secret_key, n);
	hmac(k, seed, n + 4, date8);
	OPENSSL_cleanse(seed, sizeof(seed));
	hmac(k, k, 32, region);
	hmac(k, k, 32, service);
	hmac(out, k, 32, "aws4_request");
	OPENSSL_cleanse(k, sizeof(k));
}

int s3_sigv4_sign(
	sluice_buf *authorization,
	sluice_buf *string_to_sign,
	const s3_sigv4_request *req,
	const s3_sigv4_creds *creds,
	const char *amz_date)
{
	sluice_buf cr = SLUICE_BUF_INIT, sh = SLUICE_BUF_INIT;
	sluice_buf sts = SLUICE_BUF_INIT;
	char date8[9], crhash[65], sig[65];
	uint8_t key[32], mac[32];
	int error;

	if (strlen(amz_date) != 16)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_INVALID,
			"sigv4: bad x-amz-date '%s'", amz_date);
	memcpy(date8, amz_date, 8);
	date8[8] = '\0';
	if ((error = canonical(&cr, &sh, req)) < 0 ||
	    (error = sluice_buf_cstr(&sh)) < 0)
		goto done;
	s3_sha256_hex(crhash, cr.ptr, cr.len);
	if ((error = sluice_buf_printf(
		     &sts,
		     "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/"
		     "aws4_request\n%s",
		     amz_date, date8, creds->region, creds->service, crhash)) <
	    0)
		goto done;
	s3_sigv4_signing_key(
		key, creds->secret_key, date8, creds->region, creds->service);
	hmac(mac, key, sizeof(key), (const char *)sts.ptr);
	OPENSSL_cleanse(key, sizeof(key));
	to_hex(sig, mac, sizeof(mac));
	sluice_buf_clear(authorization);
	if ((error = sluice_buf_printf(
		     authorization,
		     "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request,"
		     "SignedHeaders=%s,Signature=%s",
		     creds->access_key, date8, creds->region, creds->service,
		     (const char *)sh.ptr, sig)) < 0 ||
	    (error = sluice_buf_cstr(authorization)) < 0)
		goto done;
	if (string_to_sign)
		error = sluice_buf_put(string_to_sign, sts.ptr, sts.len);
done:
	sluice_buf_release(&cr);
	sluice_buf_release(&sh);
	sluice_buf_release(&sts);
	return error;
}
