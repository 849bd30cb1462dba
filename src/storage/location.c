/*
 * One job's checkpoint storage: the directory layout (chk-<n>/, shared/,
 * taskowned/, savepoint-<6hex>-<12hex>/), the state stream factory with
 * its inline threshold and write buffer, and the commit protocol that
 * makes `_metadata` the single commit point of a checkpoint.
 *
 * Inline rule (spec §5.2): a stream buffers up to max(write buffer,
 * threshold) bytes; a stream that never had to flush and whose size is
 * ≤ the threshold becomes an INLINE handle, anything else a file named by
 * a random UUID.  Jobmanager storage (no checkpoint dir) inlines
 * everything.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "location.h"
#include "sluice/sys/storage.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/log.h"

#define E          SLUICE_ERRCLS_STORAGE
#define JOBMANAGER "memory://jobmanager"

struct sluice_checkpoint_storage {
	sluice_storage *st;
	char *job_id;
	char *job_dir;       /* entropy key removed: _metadata, listing */
	char *job_data_dir;  /* as configured: state files (entropy) */
	char *shared_dir;    /* as configured: shared state files */
	char *taskowned_dir; /* as configured */
	char *savepoint_dir; /* NULL = none */
	uint64_t threshold;
	size_t buffer;
	int all_inline;
	pthread_mutex_t lock;
	int dirs_created;
	int st_given; /* opts->storage overrides every scheme */
};

struct sluice_location {
	sluice_checkpoint_storage *cs;
	sluice_storage *st; /* savepoints may live on another storage */
	char *dir;          /* entropy key removed: where _metadata goes */
	char *data_dir;     /* as configured: exclusive state files */
	int savepoint;
	/* exclusive files written outside `dir` (entropy injected), which
	 * discard must delete by name; guarded by cs->lock */
	char **files;
	size_t nfiles, capfiles;
};

void sluice_storage_options_init(sluice_storage_options *o)
{
	memset(o, 0, sizeof(*o));
	o->inline_threshold = SLUICE_INLINE_THRESHOLD_DEF;
	o->write_buffer_size = SLUICE_WRITE_BUFFER_DEF;
	o->create_subdir = 1;
}

char *sluice__path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	char *p;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (!(p = sluice__malloc(n + strlen(name) + 2)))
		return NULL;
	memcpy(p, dir, n);
	p[n] = '/';
	strcpy(p + n + 1, name);
	return p;
}

static int valid_job_id(const char *id)
{
	size_t i;

	for (i = 0; id && id[i]; i++)
		if (!strchr("0123456789abcdefABCDEF", id[i]))
			return 0;
	return id && i == 32;
}

static int random_hex(char *out, size_t nhex)
{
	uint8_t raw[32];
	size_t i, got = 0;

	while (got < (nhex + 1) / 2) {
		ssize_t n = getrandom(raw + got, (nhex + 1) / 2 - got, 0);
		if (n < 0 && errno != EINTR)
			return sluice__error_os(E, "getrandom");
		if (n > 0)
			got += (size_t)n;
	}
	for (i = 0; i < nhex; i++)
		out[i] = "0123456789abcdef"
			[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[nhex] = '\0';
	return 0;
}

/* A random (version 4 style) UUID string, 36 chars + NUL. */
int sluice__random_uuid(char out[37])
{
	char hex[33];
	int error = random_hex(hex, 32);

	if (error < 0)
		return error;
	hex[16] = "89ab"[(unsigned char)hex[16] & 3]; /* RFC 4122 variant */
	snprintf(
		out, 37, "%.8s-%.4s-4%.3s-%.4s-%.12s", hex, hex + 8, hex + 13,
		hex + 16, hex + 20);
	return 0;
}

void sluice_checkpoint_storage_free(sluice_checkpoint_storage *cs)
{
	if (!cs)
		return;
	sluice__free(cs->job_id);
	sluice__free(cs->job_dir);
	sluice__free(cs->job_data_dir);
	sluice__free(cs->shared_dir);
	sluice__free(cs->taskowned_dir);
	sluice__free(cs->savepoint_dir);
	pthread_mutex_destroy(&cs->lock);
	sluice__free(cs);
}

static int cs_paths(sluice_checkpoint_storage *cs, const char *base, int subdir)
{
	cs->job_data_dir = subdir ? sluice__path_join(base, cs->job_id)
				  : sluice__strdup(base);
	if (!cs->job_data_dir)
		return sluice__error_oom();
	cs->shared_dir = sluice__path_join(cs->job_data_dir, "shared");
	cs->taskowned_dir = sluice__path_join(cs->job_data_dir, "taskowned");
	if (!cs->shared_dir || !cs->taskowned_dir)
		return sluice__error_oom();
	return sluice_storage_entropy_path(
		&cs->job_dir, cs->st, cs->job_data_dir, 0);
}

int sluice_checkpoint_storage_new(
	sluice_checkpoint_storage **out,
	const sluice_storage_options *opts,
	const char *job_id)
{
	sluice_checkpoint_storage *cs;
	const char *base = opts->checkpoint_dir;
	int error;

	*out = NULL;
	if (!valid_job_id(job_id))
		return sluice__error_set(
			SLUICE_EINVALID, E,
			"job id '%s' is not 32 hexadecimal characters",
			job_id ? job_id : "(null)");
	if (opts->inline_threshold > SLUICE_INLINE_THRESHOLD_MAX)
		return sluice__error_set(
			SLUICE_EINVALID, E,
			"The threshold for file state size cannot be larger "
			"than %u",
			SLUICE_INLINE_THRESHOLD_MAX);
	if (!(cs = sluice__calloc(1, sizeof(*cs))))
		return sluice__error_oom();
	pthread_mutex_init(&cs->lock, NULL);
	cs->all_inline = base == NULL;
	if (!base)
		base = JOBMANAGER;
	cs->threshold = opts->inline_threshold;
	cs->buffer =
		(size_t)(opts->write_buffer_size > cs->threshold ? opts->write_buffer_size : cs->threshold);
	if (cs->buffer == 0)
		cs->buffer = SLUICE_WRITE_BUFFER_DEF;
	if (!(cs->job_id = sluice__strdup(job_id)) ||
	    (opts->savepoint_dir &&
	     !(cs->savepoint_dir = sluice__strdup(opts->savepoint_dir)))) {
		error = sluice__error_oom();
		goto fail;
	}
	cs->st = opts->storage;
	cs->st_given = cs->st != NULL;
	if (!cs->st && (error = sluice_storage_for_uri(&cs->st, base)) < 0)
		goto fail;
	if ((error = cs_paths(cs, base, opts->create_subdir)) < 0)
		goto fail;
	*out = cs;
	return 0;
fail:
	sluice_checkpoint_storage_free(cs);
	return error;
}

sluice_storage *
sluice_checkpoint_storage_backend(const sluice_checkpoint_storage *cs)
{
	return cs->st;
}

const char *
sluice_checkpoint_storage_job_dir(const sluice_checkpoint_storage *cs)
{
	return cs->job_dir;
}

/* A location for the data directory `data_dir` (taken over; NULL after
 * an allocation failure); its _metadata directory is `data_dir` with the
 * entropy key removed. */
static int location_alloc(
	sluice_location **out,
	sluice_checkpoint_storage *cs,
	sluice_storage *st,
	char *data_dir,
	int sp)
{
	sluice_location *loc;
	int error;

	*out = NULL;
	if (!data_dir)
		return sluice__error_oom();
	if (!(loc = sluice__calloc(1, sizeof(*loc)))) {
		sluice__free(data_dir);
		return sluice__error_oom();
	}
	loc->cs = cs;
	loc->st = st;
	loc->data_dir = data_dir;
	loc->savepoint = sp;
	if ((error = sluice_storage_entropy_path(&loc->dir, st, data_dir, 0)) <
	    0) {
		sluice_location_free(loc);
		return error;
	}
	*out = loc;
	return 0;
}

/* mkdirs of `dir` with the entropy key removed (where listings look). */
static int mkdirs_plain(sluice_storage *st, const char *dir)
{
	char *plain = NULL;
	int error;

	if ((error = sluice_storage_entropy_path(&plain, st, dir, 0)) == 0)
		error = sluice_storage_mkdirs(st, plain);
	sluice__free(plain);
	return error;
}

static int ensure_job_dirs(sluice_checkpoint_storage *cs)
{
	int error = 0;

	pthread_mutex_lock(&cs->lock);
	if (!cs->dirs_created) {
		/* uploads a killed predecessor left behind (object stores) */
		if (sluice_storage_cleanup(cs->st, cs->job_data_dir) < 0)
			sluice__warn(
				"could not clean up incomplete uploads under "
				"%s: %s",
				cs->job_data_dir, sluice_error_last()->message);
		if ((error = mkdirs_plain(cs->st, cs->shared_dir)) == 0 &&
		    (error = mkdirs_plain(cs->st, cs->taskowned_dir)) == 0)
			cs->dirs_created = 1;
	}
	pthread_mutex_unlock(&cs->lock);
	return error;
}

int sluice_checkpoint_location_new(
	sluice_location **out, sluice_checkpoint_storage *cs, int64_t id)
{
	char name[32];
	sluice_location *loc = NULL;
	int error;

	*out = NULL;
	if (id < 0)
		return sluice__error_set(
			SLUICE_EINVALID, E, "invalid checkpoint ID: %lld",
			(long long)id);
	if ((error = ensure_job_dirs(cs)) < 0)
		return error;
	snprintf(name, sizeof(name), "chk-%lld", (long long)id);
	if ((error = location_alloc(
		     &loc, cs, cs->st,
		     sluice__path_join(cs->job_data_dir, name), 0)) < 0)
		return error;
	if ((error = sluice_storage_mkdirs(cs->st, loc->dir)) < 0) {
		sluice_location_free(loc);
		return error;
	}
	*out = loc;
	return 0;
}

int sluice_savepoint_location_new(
	sluice_location **out,
	sluice_checkpoint_storage *cs,
	const char *target)
{
	sluice_storage *st = cs->st;
	char name[64], rnd[13];
	int attempt, error;

	*out = NULL;
	if (!target)
		target = cs->savepoint_dir;
	if (!target)
		return sluice__error_set(
			SLUICE_EINVALID, E,
			"No savepoint location given and no default location "
			"configured.");
	if (!cs->st_given && (error = sluice_storage_for_uri(&st, target)) < 0)
		return error;
	for (attempt = 0; attempt < 10; attempt++) {
		if ((error = random_hex(rnd, 12)) < 0)
			return error;
		snprintf(
			name, sizeof(name), "savepoint-%.6s-%s", cs->job_id,
			rnd);
		if ((error = location_alloc(
			     out, cs, st, sluice__path_join(target, name), 1)) <
		    0)
			return error;
		if ((error = sluice_storage_exists(st, (*out)->dir)) == 0 &&
		    (error = sluice_storage_mkdirs(st, (*out)->dir)) == 0)
			return 0;
		sluice_location_free(*out);
		*out = NULL;
	}
	return sluice__error_set(
		SLUICE_EIO, E, "Failed to create savepoint directory at %s",
		target);
}

const char *sluice_location_dir(const sluice_location *loc)
{
	return loc->dir;
}

int sluice_location_is_savepoint(const sluice_location *loc)
{
	return loc->savepoint;
}

void sluice_location_free(sluice_location *loc)
{
	size_t i;

	if (!loc)
		return;
	for (i = 0; i < loc->nfiles; i++)
		sluice__free(loc->files[i]);
	sluice__free(loc->files);
	sluice__free(loc->dir);
	sluice__free(loc->data_dir);
	sluice__free(loc);
}

int sluice_location_discard(sluice_location *loc)
{
	int error, error2;

	if (!loc)
		return 0;
	/* files under random prefixes first: no listing finds them */
	error = sluice_storage_remove_many(
		loc->st, (const char *const *)loc->files, loc->nfiles);
	error2 = sluice_storage_remove_tree(loc->st, loc->dir);
	sluice_location_free(loc);
	return error < 0 ? error : error2;
}

/* Remember an entropy-injected exclusive file for discard. */
static int remember_file(sluice_location *loc, const char *path)
{
	char **p;
	size_t cap;
	int error = 0;

	pthread_mutex_lock(&loc->cs->lock);
	if (loc->nfiles == loc->capfiles) {
		cap = loc->capfiles ? loc->capfiles * 2 : 16;
		if (!(p = sluice__reallocarray(loc->files, cap, sizeof(*p)))) {
			error = sluice__error_oom();
			goto done;
		}
		loc->files = p;
		loc->capfiles = cap;
	}
	if (!(loc->files[loc->nfiles] = sluice__strdup(path)))
		error = sluice__error_oom();
	else
		loc->nfiles++;
done:
	pthread_mutex_unlock(&loc->cs->lock);
	return error;
}

sluice_storage *sluice__location_storage(const sluice_location *loc)
{
	return loc->st;
}

/* Sync the directory that holds `path` (its parent). */
static int sync_parent(sluice_storage *st, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *parent;
	int error;

	/* no parent, "/x", or "scheme:///x" / "scheme://x": nothing to do */
	if (!slash || slash == path || slash[-1] == '/')
		return 0;
	if (!(parent = sluice__strndup(path, (size_t)(slash - path))))
		return sluice__error_oom();
	error = sluice_storage_sync_dir(st, parent);
	sluice__free(parent);
	return error;
}

int sluice__location_sync_parents(const sluice_location *loc)
{
	sluice_checkpoint_storage *cs = loc->cs;
	int error;

	if (loc->savepoint) /* the savepoint-... entry in its target dir */
		return sync_parent(loc->st, loc->dir);
	if ((error = sluice_storage_sync_dir(cs->st, cs->shared_dir)) < 0)
		return error;
	/* chk-<n>, shared/ and taskowned/ entries; the job dir's own. */
	if ((error = sluice_storage_sync_dir(cs->st, cs->job_dir)) < 0)
		return error;
	return sync_parent(cs->st, cs->job_dir);
}

/* The path of a new state file in `dir`: "<dir>/<uuid>", with entropy
 * injected when the storage asks for it (such paths are always FILE
 * handles, as Flink makes them absolute). */
static int
stream_path(char **path, char uuid[37], sluice_storage *st, const char *dir)
{
	char *plain;
	int error;

	*path = NULL;
	if ((error = sluice__random_uuid(uuid)) < 0)
		return error;
	if (!(plain = sluice__path_join(dir, uuid)))
		return sluice__error_oom();
	error = sluice_storage_entropy_path(path, st, plain, 1);
	sluice__free(plain);
	return error;
}

int sluice_location_open_stream(
	sluice_ostream **out, sluice_location *loc, sluice_scope scope)
{
	sluice_checkpoint_storage *cs = loc->cs;
	const char *dir =
		scope == SLUICE_SCOPE_SHARED ? cs->shared_dir : loc->data_dir;
	int injecting, exclusive, error;
	char uuid[37];
	char *path = NULL;

	*out = NULL;
	if (scope == SLUICE_SCOPE_SHARED && loc->savepoint)
		dir = loc->data_dir; /* savepoints share nothing (NO_SHARING) */
	exclusive = dir == loc->data_dir;
	if (cs->all_inline) {
		if ((error = sluice__random_uuid(uuid)) < 0)
			return error;
		if (!(path = sluice__path_join(dir, uuid)))
			return sluice__error_oom();
		error = sluice_mem_ostream_new(out, path);
		sluice__free(path);
		return error;
	}
	injecting = sluice_storage_entropy_injecting(loc->st, dir);
	if ((error = stream_path(&path, uuid, loc->st, dir)) < 0 ||
	    (injecting && exclusive &&
	     (error = remember_file(loc, path)) < 0)) {
		sluice__free(path);
		return error;
	}
	error = sluice__location_stream(
		out, loc->st, path, uuid,
		loc->savepoint && exclusive && !injecting, cs->threshold,
		cs->buffer);
	sluice__free(path);
	return error;
}
