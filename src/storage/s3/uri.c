/*
 * s3:// and obs:// locations and Flink's entropy injection (see uri.h).
 * Owns the bucket naming rules and the path rewriting; no I/O.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "uri.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"

static const char *const schemes[] = {"s3", "s3a", "s3p", "obs"};

/* Length of the scheme of `uri` when it is ours ("s3" → 2), else 0. */
static size_t our_scheme(const char *uri)
{
	size_t i, n;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		n = strlen(schemes[i]);
		if (strncasecmp(uri, schemes[i], n) == 0 &&
		    strncmp(uri + n, "://", 3) == 0)
			return n;
	}
	return 0;
}

int s3_uri_is_object_store(const char *uri)
{
	return our_scheme(uri) != 0;
}

static int bad(const char *uri, const char *why)
{
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
		"'%s' is not a valid object store location: "
		"%s",
		uri, why);
}

static const char *bucket_problem(const char *b, size_t n)
{
	size_t i;

	if (n == 0)
		return "missing bucket name";
	if (n < 3 || n > 63)
		return "bucket name must have 3 to 63 characters";
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)b[i]) ||
		      isdigit((unsigned char)b[i]) || b[i] == '.' ||
		      b[i] == '-'))
			return "bucket name may only contain a-z, 0-9, '.' "
			       "and '-'";
	if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
		return "bucket name must start and end with a letter or digit";
	return NULL;
}

/* Copy `s` collapsing '/' runs and trimming '/' at both ends. */
static char *clean_path(const char *s)
{
	char *o = sluice__malloc(strlen(s) + 1);
	size_t n = 0;

	if (!o)
		return NULL;
	for (; *s; s++) {
		if (*s == '/' && (n == 0 || o[n - 1] == '/'))
			continue;
		o[n++] = *s;
	}
	if (n && o[n - 1] == '/')
		n--;
	o[n] = '\0';
	return o;
}

int s3_uri_parse(s3_uri *out, const char *uri)
{
	size_t sn = our_scheme(uri), bn, i;
	const char *b, *why;

	memset(out, 0, sizeof(*out));
	if (!sn)
		return bad(uri, "expected s3://, s3a://, s3p:// or obs://");
	b = uri + sn + 3;
	bn = strcspn(b, "/");
	if ((why = bucket_problem(b, bn)))
		return bad(uri, why);
	out->scheme = sluice__strndup(uri, sn);
	out->bucket = sluice__strndup(b, bn);
	out->prefix = clean_path(b + bn);
	if (!out->scheme || !out->bucket || !out->prefix) {
		s3_uri_release(out);
		return sluice__error_oom();
	}
	for (i = 0; i < sn; i++)
		out->scheme[i] = (char)tolower((unsigned char)out->scheme[i]);
	return 0;
}

void s3_uri_release(s3_uri *u)
{
	if (!u)
		return;
	sluice__free(u->scheme);
	sluice__free(u->bucket);
	sluice__free(u->prefix);
	memset(u, 0, sizeof(*u));
}

int s3_uri_key(sluice_buf *out, const s3_uri *u, const char *name)
{
	while (*name == '/')
		name++;
	SLUICE_ERRCHECK(sluice_buf_printf(
		out, "%s%s%s", u->prefix, *u->prefix ? "/" : "", name));
	return sluice_buf_cstr(out);
}

int s3_entropy_check(const char *key, int length)
{
	const char *bad_chars = "~#@*+%{}<>[]|\"\\";

	if (key && key[strcspn(key, bad_chars)])
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"s3.entropy.key: '%s' contains "
			"characters not allowed in paths",
			key);
	if (key && *key && length <= 0)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"s3.entropy.length: must be > 0, "
			"got %d",
			length);
	return 0;
}

int s3_entropy_resolve(
	sluice_buf *out,
	const char *path,
	const char *key,
	int length,
	int inject,
	uint64_t seed)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	const char *at = key && *key ? strstr(path, key) : NULL;
	size_t start = out->len, i, n;
	int k;

	if (!at) {
		SLUICE_ERRCHECK(sluice_buf_put(out, path, strlen(path)));
		return sluice_buf_cstr(out);
	}
	SLUICE_ERRCHECK(sluice_buf_put(out, path, (size_t)(at - path)));
	for (k = 0; inject && k < length; k++) {
		seed = sluice__fmix64(seed + 0x9E3779B97F4A7C15ULL);
		SLUICE_ERRCHECK(sluice_buf_put_u8(
			out, (uint8_t)alnum[seed % (sizeof(alnum) - 1)]));
	}
	at += strlen(key);
	SLUICE_ERRCHECK(sluice_buf_put(out, at, strlen(at)));
	/* collapse '/' runs left where the marker was; a relative key stays
	 * relative */
	for (i = n = start; i < out->len; i++) {
		if (out->ptr[i] == '/' &&
		    ((n > start && out->ptr[n - 1] == '/') ||
		     (n == start && path[0] != '/')))
			continue;
		out->ptr[n++] = out->ptr[i];
	}
	out->len = n;
	return sluice_buf_cstr(out);
}

uint64_t s3_entropy_seed(void)
{
	uint64_t s = 0;

	if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s))
		s = sluice__fmix64((uint64_t)(uintptr_t)&s);
	return s;
}
