/*
 * Object-store locations: parsing "s3://bucket/prefix" (also s3a://,
 * s3p:// as Flink accepts, and obs:// for Huawei OBS), joining keys under
 * a prefix, and Flink's entropy injection.
 *
 * Parsing rules: the scheme is matched case-insensitively and stored lower
 * case; the bucket is everything up to the first '/', and must follow the
 * S3 naming rules (3-63 characters of a-z 0-9 '.' '-', starting and ending
 * with a letter or digit); the prefix is the rest with runs of '/'
 * collapsed and leading/trailing '/' removed ("" for the bucket root).
 *
 * Entropy injection (Flink's s3.entropy.key / s3.entropy.length): in the
 * path within the bucket, the first occurrence of the key is replaced by
 * `length` random characters of [a-zA-Z0-9] for data files, or removed for
 * the checkpoint's _metadata (so checkpoints stay discoverable); runs of
 * '/' left behind are collapsed, as Flink normalises the path (a key that
 * did not start with '/' does not start with one afterwards).  A path
 * without the key is returned unchanged.  The key may not contain any of
 * ~ # @ * + % { } < > [ ] | " \ (Flink's rule); the length must be > 0.
 *
 * Edge cases tested (tests/unit/test_s3_uri.c): schemes and case, missing
 * or invalid bucket, empty and slash-heavy prefixes, joining with and
 * without a prefix, entropy at the start, middle and end of a path,
 * absent key, invalid key and length, deterministic output for a seed.
 *
 * Threading: pure functions.
 */
#ifndef SLUICE_STORAGE_S3_URI_H
#define SLUICE_STORAGE_S3_URI_H

#include <stdint.h>

#include "util/buf.h"

typedef struct s3_uri {
	char *scheme; /* "s3", "s3a", "s3p" or "obs" */
	char *bucket;
	char *prefix; /* "" or "a/b" */
} s3_uri;

/*
 * Parse `uri` into `out` (strings owned by `out`, free with
 * s3_uri_release).  Returns 0, SLUICE_ENOMEM, or SLUICE_EINVALID with a
 * message naming the URI and what is wrong.
 */
int s3_uri_parse(s3_uri *out, const char *uri);

/* Free what `u` owns; NULL-safe, leaves `u` zeroed. */
void s3_uri_release(s3_uri *u);

/* Whether `uri` starts with a scheme this module parses. */
int s3_uri_is_object_store(const char *uri);

/*
 * Append the object key for `name` under `u`'s prefix ("prefix/name", or
 * "name" at the bucket root) to `out` and NUL-terminate.  0 or ENOMEM.
 */
int s3_uri_key(sluice_buf *out, const s3_uri *u, const char *name);

/* Validate s3.entropy.key / s3.entropy.length; 0 or SLUICE_EINVALID. */
int s3_entropy_check(const char *key, int length);

/*
 * Resolve the entropy marker `key` in `path` (a key within the bucket),
 * appending the result to `out` (NUL-terminated).  inject != 0: replace
 * the marker with `length` characters drawn from `seed` (callers pass a
 * fresh random seed per file, see s3_entropy_seed); inject == 0: remove
 * it.  `key` NULL or "" leaves the path unchanged.  0 or SLUICE_ENOMEM.
 */
int s3_entropy_resolve(
	sluice_buf *out,
	const char *path,
	const char *key,
	int length,
	int inject,
	uint64_t seed);

/* A random seed from the operating system (getrandom). */
uint64_t s3_entropy_seed(void);

#endif
