/*
 * The coordinator's storage side over real checkpoint storage (see
 * ckstore.h).  Owns the table of open checkpoint locations, the
 * completed-checkpoint store and the shared-state registry of one job, and
 * turns a pending checkpoint's acknowledgements into `_metadata`.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint/ckstore.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

typedef struct entry {
	int64_t id;
	int savepoint;
	sluice_location *loc;
	sluice_checkpoint_meta *meta; /* after finalize, until stored */
	struct entry *next;
} entry;

struct sluice__ckstore {
	sluice_checkpoint_storage *cs;
	sluice_storage *st;
	sluice_shared_registry *registry;
	sluice_completed_store *store;
	sluice_retention retention;
	char job_id[33];
	sluice_clock *clock;
	sluice__ckstore_vertex *vertices;
	int32_t n_vertices;
	pthread_mutex_t lock; /* guards `open` */
	entry *open;
};

static void entry_free(entry *e)
{
	if (!e)
		return;
	sluice_location_free(e->loc);
	sluice_checkpoint_meta_free(e->meta);
	sluice__free(e);
}

static void vertices_free(sluice__ckstore_vertex *v, int32_t n)
{
	int32_t i;

	for (i = 0; v && i < n; i++) {
		sluice__free((char *)v[i].uid);
		sluice__free((char *)v[i].name);
	}
	sluice__free(v);
}

int sluice__ckstore_new(
	sluice__ckstore **out,
	sluice_checkpoint_storage *cs,
	const sluice_checkpoint_settings *settings,
	const char *job_id,
	sluice_clock *clock,
	const sluice__ckstore_vertex *vertices,
	int32_t n_vertices)
{
	sluice__ckstore *s;
	int32_t i;
	int rc;

	*out = NULL;
	if (!(s = sluice__calloc(1, sizeof(*s))))
		return sluice__error_oom();
	s->cs = cs;
	s->st = sluice_checkpoint_storage_backend(cs);
	s->retention = settings->retention;
	s->clock = clock;
	snprintf(s->job_id, sizeof(s->job_id), "%s", job_id);
	pthread_mutex_init(&s->lock, NULL);
	s->vertices = sluice__calloc((size_t)n_vertices, sizeof(*s->vertices));
	if (!s->vertices) {
		rc = sluice__error_oom();
		goto fail;
	}
	s->n_vertices = n_vertices;
	for (i = 0; i < n_vertices; i++) {
		s->vertices[i] = vertices[i];
		s->vertices[i].uid = sluice__strdup(vertices[i].uid);
		s->vertices[i].name = sluice__strdup(
			vertices[i].name ? vertices[i].name : vertices[i].uid);
		if (!s->vertices[i].uid || !s->vertices[i].name) {
			rc = sluice__error_oom();
			goto fail;
		}
	}
	if ((rc = sluice_shared_registry_new(&s->registry, s->st)) < 0 ||
	    (rc = sluice_completed_store_new(
		     &s->store, s->st, s->registry, settings->num_retained)) <
		    0)
		goto fail;
	*out = s;
	return 0;
fail:
	sluice__ckstore_free(s);
	return rc;
}

void sluice__ckstore_free(sluice__ckstore *s)
{
	entry *e, *next;

	if (!s)
		return;
	for (e = s->open; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	sluice_completed_store_free(s->store);
	sluice_shared_registry_free(s->registry);
	vertices_free(s->vertices, s->n_vertices);
	pthread_mutex_destroy(&s->lock);
	sluice__free(s);
}

/* Unlink `e` from the open table (it stays allocated). */
static void unlink_entry(sluice__ckstore *s, entry *e)
{
	entry **pp;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->open; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static int init_location(
	void *ctx, int64_t id, int savepoint, const char *target, void **out)
{
	sluice__ckstore *s = ctx;
	entry *e = sluice__calloc(1, sizeof(*e));
	int rc;

	*out = NULL;
	if (!e)
		return sluice__error_oom();
	e->id = id;
	e->savepoint = savepoint;
	rc = savepoint ? sluice_savepoint_location_new(&e->loc, s->cs, target)
		       : sluice_checkpoint_location_new(&e->loc, s->cs, id);
	if (rc < 0) {
		sluice__free(e);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	e->next = s->open;
	s->open = e;
	pthread_mutex_unlock(&s->lock);
	*out = e;
	return 0;
}

int sluice__ckstore_open_stream(
	sluice_ostream **out,
	sluice__ckstore *s,
	int64_t id,
	sluice_scope scope)
{
	entry *e;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&s->lock);
	for (e = s->open; e && e->id != id; e = e->next)
		;
	rc = e ? sluice_location_open_stream(out, e->loc, scope)
	       : sluice__error_set(
			 SLUICE_ENOTFOUND, SLUICE_ERRCLS_CHECKPOINT,
			 "checkpoint %lld is not pending any more",
			 (long long)id);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void sluice__ckstore_discard_stream(
	sluice__ckstore *s, const sluice_stream_handle *h)
{
	sluice_storage *st = sluice_checkpoint_storage_backend(s->cs);

	if (h->kind != SLUICE_HANDLE_FILE)
		return;
	if (sluice_storage_remove(st, h->path) < 0 &&
	    sluice_error_last()->code != SLUICE_ENOTFOUND)
		sluice__warn(
			"could not delete the upload of a failed snapshot: %s",
			sluice_error_last()->message);
}

/*
 * Register the shared files of incremental handle `h` (a copy, owned by
 * the caller) for checkpoint `id`: each one's registry key is its handle's
 * path (a placeholder's path is the key it refers to).  Every file of `h`
 * is replaced by the handle the registry keeps -- so `_metadata` never
 * names a placeholder or a duplicate upload -- and recorded as a shared
 * reference of the subtask, which retention and verification follow.
 */
static int register_shared(
	sluice_subtask_state *st,
	sluice_shared_registry *reg,
	sluice_incremental_handle *h,
	int64_t id)
{
	const sluice_stream_handle *kept;
	sluice_stream_handle *copy;
	uint32_t i;
	int rc;

	for (i = 0; i < h->num_shared; i++) {
		sluice_incremental_file *f = &h->shared_files[i];
		char *key =
			sluice__strdup(f->handle->path ? f->handle->path : "");

		if (!key)
			return sluice__error_oom();
		rc = sluice_shared_registry_register(
			reg, key, f->handle, id, &kept);
		if (rc >= 0 && !(copy = sluice_stream_handle_dup(kept)))
			rc = sluice__error_oom();
		if (rc >= 0) {
			sluice_stream_handle_free(f->handle);
			f->handle = copy;
			copy = sluice_stream_handle_dup(kept);
			rc = copy ? sluice_subtask_add_shared(st, key, copy)
				  : sluice__error_oom();
		}
		sluice__free(key);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Copy one subtask's acknowledged handles into its metadata record. */
static int add_subtask(
	sluice_subtask_state *st,
	const sluice__subtask_snapshot *a,
	sluice_shared_registry *reg,
	int64_t id)
{
	size_t i;
	int rc;

	for (i = 0; i < a->n_incremental; i++) {
		sluice_incremental_handle *h =
			sluice_incremental_handle_dup(a->incremental[i]);

		if (!h)
			return sluice__error_oom();
		if ((rc = register_shared(st, reg, h, id)) < 0) {
			sluice_incremental_handle_free(h);
			return rc;
		}
		if ((rc = sluice_subtask_add_incremental(st, h)) < 0)
			return rc;
	}

	for (i = 0; i < a->n_keyed; i++) {
		sluice_keyed_handle *h = sluice_keyed_handle_dup(a->keyed[i]);

		if (!h)
			return sluice__error_oom();
		if ((rc = sluice_subtask_add_keyed(st, h)) < 0)
			return rc;
	}
	for (i = 0; i < a->n_opstate; i++) {
		sluice_opstate_handle *h =
			sluice_opstate_handle_dup(a->opstate[i]);

		if (!h)
			return sluice__error_oom();
		if ((rc = sluice_subtask_add_opstate(st, h)) < 0)
			return rc;
	}
	if (a->channel_state &&
	    (rc = sluice_subtask_add_ext(
		     st, SLUICE_META_EXT_CHANNEL_STATE, a->channel_state,
		     a->channel_state_len)) < 0)
		return rc;
	return 0;
}

/* The metadata of pending checkpoint `p`, built from its acks. */
static int build_meta(
	sluice_checkpoint_meta **out,
	sluice__ckstore *s,
	const sluice__pending *p)
{
	sluice_checkpoint_meta *m;
	sluice_operator_state *op;
	size_t i;
	int32_t v;
	int rc;

	if ((rc = sluice_checkpoint_meta_new(&m, p->id)) < 0)
		return rc;
	m->trigger_ms = p->trigger_ts_ms;
	m->complete_ms = sluice_clock_wall_ms(s->clock);
	memcpy(m->job_id, s->job_id, sizeof(m->job_id));
	m->props.kind = !p->savepoint       ? SLUICE_SNAPSHOT_CHECKPOINT
			: p->sync_savepoint ? SLUICE_SNAPSHOT_SYNC_SAVEPOINT
					    : SLUICE_SNAPSHOT_SAVEPOINT;
	m->props.format = SLUICE_FORMAT_CANONICAL;
	m->props.retention = s->retention;
	for (v = 0; v < s->n_vertices; v++) {
		const sluice__ckstore_vertex *vx = &s->vertices[v];

		if ((rc = sluice_checkpoint_meta_add_operator(
			     &op, m, vx->uid, vx->name, vx->parallelism,
			     vx->max_parallelism)) < 0)
			goto fail;
	}
	for (i = 0; i < p->plan.n_running; i++) {
		const sluice__task_ref *t = &p->plan.running[i];

		if (!p->acks || !p->acks[i])
			continue;
		op = &m->operators[t->vertex];
		if ((rc = add_subtask(
			     &op->subtasks[t->subtask], p->acks[i], s->registry,
			     p->id)) < 0)
			goto fail;
		if (p->acks[i]->n_incremental) /* RocksDB native files */
			m->props.format = SLUICE_FORMAT_NATIVE;
	}
	for (i = 0; i < p->plan.n_finished; i++) {
		const sluice__task_ref *t = &p->plan.finished[i];

		m->operators[t->vertex].subtasks[t->subtask].finished = 1;
	}
	*out = m;
	return 0;
fail:
	sluice_checkpoint_meta_free(m);
	return rc;
}

static int
finalize(void *ctx, void *location, const sluice__pending *p, char **ext_path)
{
	sluice__ckstore *s = ctx;
	entry *e = location;
	int rc;

	*ext_path = NULL;
	sluice_checkpoint_meta_free(e->meta);
	e->meta = NULL;
	if ((rc = build_meta(&e->meta, s, p)) < 0)
		return rc;
	if ((rc = sluice_location_finalize(e->loc, e->meta)) < 0)
		return rc;
	if (!(*ext_path = sluice__strdup(sluice_location_dir(e->loc))))
		return sluice__error_oom();
	return 0;
}

static int add_completed(
	void *ctx,
	int64_t id,
	void *location,
	const char *ext_path,
	int64_t *last_subsumed)
{
	sluice__ckstore *s = ctx;
	entry *e = location;
	int64_t before[64];
	size_t nb = 0, i, j, n;
	int rc, still;

	(void)id;
	*last_subsumed = -1;
	n = sluice_completed_store_count(s->store);
	for (i = 0; i < n && nb < 64; i++)
		before[nb++] = sluice_completed_store_get(s->store, i, NULL)
				       ->checkpoint_id;
	rc = sluice_completed_store_add(s->store, e->meta, ext_path);
	e->meta = NULL; /* taken over, also on failure */
	if (rc < 0)
		return rc;
	/* the newest checkpoint dropped from the store (spec §2.6) */
	n = sluice_completed_store_count(s->store);
	for (i = 0; i < nb; i++) {
		for (still = 0, j = 0; j < n && !still; j++)
			still = sluice_completed_store_get(s->store, j, NULL)
					->checkpoint_id == before[i];
		if (!still && before[i] > *last_subsumed)
			*last_subsumed = before[i];
	}
	unlink_entry(s, e);
	entry_free(e);
	return 0;
}

static void release(void *ctx, void *location)
{
	sluice__ckstore *s = ctx;

	unlink_entry(s, location);
	entry_free(location);
}

static void remove_file(sluice__ckstore *s, const sluice_stream_handle *h)
{
	if (h && h->kind == SLUICE_HANDLE_FILE &&
	    sluice_storage_remove(s->st, h->path) < 0 &&
	    sluice_error_last()->code != SLUICE_ENOTFOUND)
		sluice__warn(
			"could not delete state of a discarded checkpoint: %s",
			sluice_error_last()->message);
}

/*
 * Delete what an incremental handle of a discarded checkpoint uploaded:
 * its new shared files (placeholders refer to files of other checkpoints
 * and are left alone) and, unless `exclusive_gone` (the checkpoint
 * directory was deleted with them), its private files and metadata.
 */
static void discard_incremental(
	sluice__ckstore *s,
	const sluice_incremental_handle *h,
	int exclusive_gone)
{
	uint32_t i;

	for (i = 0; i < h->num_shared; i++)
		remove_file(s, h->shared_files[i].handle);
	if (exclusive_gone)
		return;
	remove_file(s, h->metadata);
	for (i = 0; i < h->num_private; i++)
		remove_file(s, h->private_files[i].handle);
}

/* Delete the files of discarded acks (their checkpoint is gone). */
static void discard_acks(
	sluice__ckstore *s,
	sluice__subtask_snapshot *const *acks,
	size_t n,
	int exclusive_gone)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		const sluice__subtask_snapshot *a = acks[i];

		for (j = 0; a && j < a->n_incremental; j++)
			discard_incremental(
				s, a->incremental[j], exclusive_gone);
		for (j = 0;
		     a && !exclusive_gone && j < a->n_keyed + a->n_opstate; j++)
			remove_file(
				s,
				j < a->n_keyed
					? a->keyed[j]->stream
					: a->opstate[j - a->n_keyed]->stream);
	}
}

static void
discard(void *ctx,
	int64_t id,
	void *location,
	sluice__subtask_snapshot *const *acks,
	size_t n_acks)
{
	sluice__ckstore *s = ctx;
	entry *e = location;

	(void)id;
	if (!e) {
		discard_acks(s, acks, n_acks, 0);
		return;
	}
	discard_acks(s, acks, n_acks, 1);
	unlink_entry(s, e);
	/* discard also frees the location */
	if (sluice_location_discard(e->loc) < 0)
		sluice__warn(
			"could not delete aborted checkpoint %lld: %s",
			(long long)e->id, sluice_error_last()->message);
	e->loc = NULL;
	entry_free(e);
}

void sluice__ckstore_vtable(sluice__ckstore *s, sluice__coord_storage *out)
{
	memset(out, 0, sizeof(*out));
	out->version = 1;
	out->ctx = s;
	out->init_location = init_location;
	out->finalize = finalize;
	out->add_completed = add_completed;
	out->discard = discard;
	out->release = release;
}

int sluice__ckstore_add_restored(
	sluice__ckstore *s, sluice_checkpoint_meta *m, const char *dir)
{
	int rc = sluice_shared_registry_register_all(s->registry, m);

	if (rc < 0) {
		sluice_checkpoint_meta_free(m);
		return rc;
	}
	return sluice_completed_store_add(s->store, m, dir);
}

void sluice__ckstore_protect_upto(sluice__ckstore *s, int64_t id)
{
	sluice_shared_registry_protect_upto(s->registry, id);
}

sluice_completed_store *sluice__ckstore_completed(sluice__ckstore *s)
{
	return s->store;
}
