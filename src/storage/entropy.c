/*
 * Entropy injection on any storage (Flink's EntropyInjector): a storage
 * that carries an entropy key (the S3 storage from s3.entropy.key and
 * s3.entropy.length, or a test's memory storage) gets state files written
 * under paths where the key is replaced by random alphanumerics, spreading
 * requests over many key prefixes, while `_metadata` and everything that is
 * listed (discovery, discard of a directory) use the path with the key
 * removed.  Only the path part after "scheme://authority" is rewritten, as
 * Flink rewrites the URI path and keeps the authority (for s3:// the
 * bucket).  The rewriting itself is s3_entropy_resolve (s3/uri.c, no I/O).
 */
#include <string.h>

#include "s3/uri.h"
#include "sluice/sys/storage.h"
#include "util/alloc.h"
#include "util/error.h"

static const char *key_of(const sluice_storage *st)
{
	if (!st || st->version < 2 || !st->entropy_key || !st->entropy_key[0] ||
	    st->entropy_length <= 0)
		return NULL;
	return st->entropy_key;
}

/* Length of "scheme://authority" at the start of `path` (0 for a bare
 * path): the part entropy never touches. */
static size_t authority_len(const char *path)
{
	const char *sep = strstr(path, "://"), *slash;

	if (!sep || strchr(path, '/') < sep)
		return 0;
	slash = strchr(sep + 3, '/');
	return slash ? (size_t)(slash - path) : strlen(path);
}

int sluice_storage_entropy_injecting(const sluice_storage *st, const char *path)
{
	const char *key = key_of(st);

	return key && strstr(path + authority_len(path), key) != NULL;
}

int sluice_storage_entropy_path(
	char **out, const sluice_storage *st, const char *path, int inject)
{
	sluice_buf b = SLUICE_BUF_INIT;
	size_t head = authority_len(path);
	int error;

	*out = NULL;
	if (!sluice_storage_entropy_injecting(st, path)) {
		if (!(*out = sluice__strdup(path)))
			return sluice__error_oom();
		return 0;
	}
	if ((error = sluice_buf_put(&b, path, head)) < 0 ||
	    (error = s3_entropy_resolve(
		     &b, path + head, st->entropy_key, st->entropy_length,
		     inject, inject ? s3_entropy_seed() : 0)) < 0) {
		sluice_buf_release(&b);
		return error;
	}
	*out = (char *)sluice_buf_detach(&b, NULL); /* NUL-terminated */
	return 0;
}
