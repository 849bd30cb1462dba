/*
 * The shared-state registry (spec §6.3): reference tracking for files that
 * several checkpoints share (incremental RocksDB SST files), so a shared
 * file is deleted exactly when no retained checkpoint refers to it any
 * more.  Each entry records the handle, the checkpoint that created it,
 * the newest checkpoint that used it and whether that use was confirmed
 * (completed).  Deletions are synchronous through the storage wrappers.
 */
#include <string.h>

#include "sluice/sys/metadata.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

#define E SLUICE_ERRCLS_CHECKPOINT

typedef struct entry {
	char *key;
	sluice_stream_handle *h;
	int64_t created_by, last_used;
	int confirmed;
} entry;

struct sluice_shared_registry {
	sluice_storage *st;
	entry *e;
	size_t n, cap;
	int64_t highest_not_claimed;
};

int sluice_shared_registry_new(sluice_shared_registry **out, sluice_storage *st)
{
	sluice_shared_registry *r = sluice__calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return sluice__error_oom();
	r->st = st;
	r->highest_not_claimed = -1;
	*out = r;
	return 0;
}

void sluice_shared_registry_free(sluice_shared_registry *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		sluice__free(r->e[i].key);
		sluice_stream_handle_free(r->e[i].h);
	}
	sluice__free(r->e);
	sluice__free(r);
}

size_t sluice_shared_registry_size(const sluice_shared_registry *r)
{
	return r->n;
}

static entry *find(sluice_shared_registry *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->e[i].key, key))
			return &r->e[i];
	return NULL;
}

static int
same_handle(const sluice_stream_handle *a, const sluice_stream_handle *b)
{
	return a->kind == b->kind && a->size == b->size &&
	       a->checksum == b->checksum &&
	       !strcmp(a->path ? a->path : "", b->path ? b->path : "");
}

/* Delete a real shared file; placeholders and inline bytes have none. */
static void
delete_file(sluice_shared_registry *r, const sluice_stream_handle *h)
{
	if (h->kind != SLUICE_HANDLE_FILE)
		return;
	if (sluice_storage_remove(r->st, h->path) < 0 &&
	    sluice_error_last()->code != SLUICE_ENOTFOUND)
		sluice__warn(
			"could not delete shared state: %s",
			sluice_error_last()->message);
}

static int add_entry(
	sluice_shared_registry *r,
	const char *key,
	const sluice_stream_handle *h,
	int64_t id,
	entry **out)
{
	entry *e;

	if (h->kind == SLUICE_HANDLE_PLACEHOLDER)
		return sluice__error_set(
			SLUICE_EINVALID, E,
			"Attempt to reference unknown state: %s", key);
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		entry *p = sluice__reallocarray(r->e, cap, sizeof(*p));
		if (!p)
			return sluice__error_oom();
		r->e = p;
		r->cap = cap;
	}
	e = &r->e[r->n];
	memset(e, 0, sizeof(*e));
	e->key = sluice__strdup(key);
	e->h = sluice_stream_handle_dup(h);
	if (!e->key || !e->h) {
		sluice__free(e->key);
		sluice_stream_handle_free(e->h);
		return sluice__error_oom();
	}
	e->created_by = e->last_used = id;
	r->n++;
	*out = e;
	return 0;
}

int sluice_shared_registry_register(
	sluice_shared_registry *r,
	const char *key,
	const sluice_stream_handle *h,
	int64_t id,
	const sluice_stream_handle **kept)
{
	entry *e = find(r, key);
	sluice_stream_handle *copy;
	int error;

	if (kept)
		*kept = NULL;
	if (!e) {
		if ((error = add_entry(r, key, h, id, &e)) < 0)
			return error;
	} else if (!same_handle(e->h, h)) {
		if (e->confirmed || h->kind == SLUICE_HANDLE_PLACEHOLDER) {
			delete_file(r, h); /* duplicate upload */
		} else {
			/* A re-upload replaces an unconfirmed entry. */
			if (!(copy = sluice_stream_handle_dup(h)))
				return sluice__error_oom();
			delete_file(r, e->h);
			sluice_stream_handle_free(e->h);
			e->h = copy;
		}
	}
	if (id > e->last_used)
		e->last_used = id;
	if (kept)
		*kept = e->h;
	return 0;
}

int sluice_shared_registry_register_all(
	sluice_shared_registry *r, const sluice_checkpoint_meta *m)
{
	uint32_t i, j, k;
	int error;

	for (i = 0; i < m->num_operators; i++) {
		const sluice_operator_state *op = &m->operators[i];
		for (j = 0; j < op->num_subtasks; j++) {
			const sluice_subtask_state *s = &op->subtasks[j];
			for (k = 0; k < s->num_shared; k++)
				if (s->shared[k].handle &&
				    (error = sluice_shared_registry_register(
					     r, s->shared[k].key,
					     s->shared[k].handle,
					     m->checkpoint_id, NULL)) < 0)
					return error;
		}
	}
	return 0;
}

void sluice_shared_registry_checkpoint_completed(
	sluice_shared_registry *r, int64_t id)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->e[i].last_used == id)
			r->e[i].confirmed = 1;
}

int sluice_shared_registry_unregister_unused(
	sluice_shared_registry *r, int64_t lowest_retained)
{
	const char **paths = NULL;
	sluice_stream_handle **gone = NULL;
	size_t i = 0, n = 0;

	/* at most every entry goes: room for all, deleted in one batch */
	if (r->n && (!(paths = sluice__calloc(r->n, sizeof(*paths))) ||
		     !(gone = sluice__calloc(r->n, sizeof(*gone))))) {
		sluice__free(paths);
		return sluice__error_oom();
	}
	while (i < r->n) {
		entry *e = &r->e[i];
		if (e->last_used >= lowest_retained) {
			i++;
			continue;
		}
		if (e->created_by > r->highest_not_claimed &&
		    e->h->kind == SLUICE_HANDLE_FILE) {
			paths[n] = e->h->path;
			gone[n++] = e->h; /* freed after the delete */
		} else {
			sluice_stream_handle_free(e->h);
		}
		sluice__free(e->key);
		r->e[i] = r->e[--r->n];
	}
	/* one request per 1000 files on object stores (DeleteObjects) */
	if (n && sluice_storage_remove_many(r->st, paths, n) < 0)
		sluice__warn(
			"could not delete shared state: %s",
			sluice_error_last()->message);
	for (i = 0; i < n; i++)
		sluice_stream_handle_free(gone[i]);
	sluice__free(paths);
	sluice__free(gone);
	return 0;
}

void sluice_shared_registry_protect_upto(sluice_shared_registry *r, int64_t id)
{
	if (id > r->highest_not_claimed)
		r->highest_not_claimed = id;
}
