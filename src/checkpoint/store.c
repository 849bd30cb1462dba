/*
 * The completed-checkpoint store: the retained checkpoints of a job in id
 * order, subsumption beyond num-retained (spec §5.5; the most recent real
 * checkpoint is always kept so incremental chains stay restorable),
 * discarding, and retention when the job terminates (externalized
 * checkpoint retention).  Shared files are released through the registry.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sluice/sys/metadata.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

typedef struct slot {
	sluice_checkpoint_meta *m;
	char *dir;
} slot;

struct sluice_completed_store {
	sluice_storage *st;
	sluice_shared_registry *reg;
	int32_t num_retained;
	slot *s;
	size_t n, cap;
};

static int is_savepoint(const sluice_checkpoint_meta *m)
{
	return m->props.kind == SLUICE_SNAPSHOT_SAVEPOINT ||
	       m->props.kind == SLUICE_SNAPSHOT_SYNC_SAVEPOINT;
}

int sluice_completed_store_new(
	sluice_completed_store **out,
	sluice_storage *st,
	sluice_shared_registry *registry,
	int32_t num_retained)
{
	sluice_completed_store *s = sluice__calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return sluice__error_oom();
	s->st = st;
	s->reg = registry;
	s->num_retained = num_retained > 0 ? num_retained : 1;
	*out = s;
	return 0;
}

static void slot_release(slot *sl)
{
	sluice_checkpoint_meta_free(sl->m);
	sluice__free(sl->dir);
}

void sluice_completed_store_free(sluice_completed_store *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		slot_release(&s->s[i]);
	sluice__free(s->s);
	sluice__free(s);
}

size_t sluice_completed_store_count(const sluice_completed_store *s)
{
	return s->n;
}

const sluice_checkpoint_meta *sluice_completed_store_get(
	const sluice_completed_store *s, size_t i, const char **dir)
{
	if (i >= s->n)
		return NULL;
	if (dir)
		*dir = s->s[i].dir;
	return s->s[i].m;
}

const sluice_checkpoint_meta *
sluice_completed_store_latest(const sluice_completed_store *s, const char **dir)
{
	return s->n ? sluice_completed_store_get(s, s->n - 1, dir) : NULL;
}

/* The exclusive files of a checkpoint, collected for one batched delete
 * (object stores delete up to 1000 per request). */
typedef struct dctx {
	const char *dir;
	char **p;
	size_t n, cap;
} dctx;

static int add_path(dctx *d, char *path)
{
	char **p;

	if (!path)
		return sluice__error_oom();
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		if (!(p = sluice__reallocarray(d->p, d->cap, sizeof(*p)))) {
			sluice__free(path);
			return sluice__error_oom();
		}
		d->p = p;
	}
	d->p[d->n++] = path;
	return 0;
}

static int discard_handle(const sluice_stream_handle *h, int shared, void *p)
{
	dctx *d = p;
	char *path = NULL;

	if (shared || (h->kind != SLUICE_HANDLE_FILE &&
		       h->kind != SLUICE_HANDLE_RELATIVE))
		return 0;
	if (sluice_handle_location(&path, d->dir, h) < 0)
		return SLUICE_ENOMEM;
	return add_path(d, path);
}

int sluice_checkpoint_discard(
	sluice_storage *st, const char *dir, const sluice_checkpoint_meta *m)
{
	size_t n = strlen(dir) + sizeof(SLUICE_METADATA_FILE) + 1, i;
	char *meta = sluice__malloc(n);
	dctx d = {dir, NULL, 0, 0};
	int error;

	if (!meta)
		return sluice__error_oom();
	snprintf(meta, n, "%s/%s", dir, SLUICE_METADATA_FILE);
	/* Metadata first: the checkpoint stops being addressable. */
	error = sluice_storage_remove(st, meta);
	sluice__free(meta);
	if (error < 0 && error != SLUICE_ENOTFOUND)
		return error;
	/* Files named by handles (with entropy injected they lie outside
	 * dir) in one batch, then whatever else is left under dir. */
	if ((error = sluice_checkpoint_meta_each_handle(
		     m, discard_handle, &d)) == 0 &&
	    sluice_storage_remove_many(st, (const char *const *)d.p, d.n) < 0)
		sluice__warn(
			"could not delete state files: %s",
			sluice_error_last()->message);
	for (i = 0; i < d.n; i++)
		sluice__free(d.p[i]);
	sluice__free(d.p);
	if (error < 0)
		return error;
	return sluice_storage_remove_tree(st, dir);
}

/* Discard entry `i` (unless a savepoint) and remove it from the store. */
static void drop(sluice_completed_store *s, size_t i, int discard)
{
	slot sl = s->s[i];

	if (discard && !is_savepoint(sl.m) &&
	    sluice_checkpoint_discard(s->st, sl.dir, sl.m) < 0)
		sluice__warn(
			"could not discard checkpoint %lld at %s: %s",
			(long long)sl.m->checkpoint_id, sl.dir,
			sluice_error_last()->message);
	slot_release(&sl);
	memmove(&s->s[i], &s->s[i + 1], (s->n - i - 1) * sizeof(*s->s));
	s->n--;
}

static int release_shared(sluice_completed_store *s)
{
	int64_t lowest = INT64_MAX;
	size_t i;

	if (!s->reg)
		return 0;
	for (i = 0; i < s->n; i++)
		if (s->s[i].m->checkpoint_id < lowest)
			lowest = s->s[i].m->checkpoint_id;
	return sluice_shared_registry_unregister_unused(s->reg, lowest);
}

/* Index of the newest non-savepoint, or SIZE_MAX. */
static size_t newest_real(const sluice_completed_store *s)
{
	size_t i;

	for (i = s->n; i-- > 0;)
		if (!is_savepoint(s->s[i].m))
			return i;
	return SIZE_MAX;
}

static void subsume(sluice_completed_store *s)
{
	size_t i = 0, keep;
	int stop_with_savepoint;

	while (s->n > (size_t)s->num_retained && i < s->n - 1) {
		keep = newest_real(s);
		stop_with_savepoint = s->s[s->n - 1].m->props.kind ==
				      SLUICE_SNAPSHOT_SYNC_SAVEPOINT;
		if (is_savepoint(s->s[i].m) || stop_with_savepoint || i != keep)
			drop(s, i, 1);
		else
			i++;
	}
}

static int reserve(sluice_completed_store *s)
{
	size_t cap = s->cap ? s->cap * 2 : 8;
	slot *p;

	if (s->n < s->cap)
		return 0;
	if (!(p = sluice__reallocarray(s->s, cap, sizeof(*p))))
		return SLUICE_ENOMEM;
	s->s = p;
	s->cap = cap;
	return 0;
}

int sluice_completed_store_add(
	sluice_completed_store *s, sluice_checkpoint_meta *m, const char *dir)
{
	char *d = sluice__strdup(dir);
	size_t i;
	int error;

	if (!d || reserve(s) < 0) {
		sluice__free(d);
		sluice_checkpoint_meta_free(m);
		return sluice__error_oom();
	}
	if (s->reg && !is_savepoint(m)) {
		if ((error = sluice_shared_registry_register_all(s->reg, m)) <
		    0) {
			sluice__free(d);
			sluice_checkpoint_meta_free(m);
			return error;
		}
		sluice_shared_registry_checkpoint_completed(
			s->reg, m->checkpoint_id);
	}
	/* Keep id order (a restored checkpoint may be older). */
	for (i = s->n; i > 0 && s->s[i - 1].m->checkpoint_id > m->checkpoint_id;
	     i--)
		;
	memmove(&s->s[i + 1], &s->s[i], (s->n - i) * sizeof(*s->s));
	s->s[i].m = m;
	s->s[i].dir = d;
	s->n++;
	subsume(s);
	return release_shared(s);
}

static int
retention_discards(const sluice_checkpoint_meta *m, sluice_job_status status)
{
	if (is_savepoint(m))
		return 0;
	switch (m->props.retention) {
	case SLUICE_RETAIN_NONE:
		return 1;
	case SLUICE_RETAIN_DELETE_ON_CANCELLATION:
		return status != SLUICE_JOB_FAILED;
	case SLUICE_RETAIN_ON_CANCELLATION:
		return status == SLUICE_JOB_FINISHED;
	}
	return 1;
}

int sluice_completed_store_shutdown(
	sluice_completed_store *s, sluice_job_status status)
{
	int64_t lowest = INT64_MAX;

	while (s->n) {
		slot *sl = &s->s[0];
		int discard = retention_discards(sl->m, status);
		if (!discard && sl->m->checkpoint_id < lowest)
			lowest = sl->m->checkpoint_id;
		drop(s, 0, discard);
	}
	if (!s->reg)
		return 0;
	return sluice_shared_registry_unregister_unused(s->reg, lowest);
}
