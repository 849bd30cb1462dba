/*
 * The in-memory checkpoint metadata model (sys/metadata.h): construction,
 * traversal and freeing.  The byte format lives in metadata.c.
 */
#include <string.h>

#include "sluice/sys/metadata.h"
#include "util/alloc.h"
#include "util/error.h"

int sluice_checkpoint_meta_new(sluice_checkpoint_meta **out, int64_t id)
{
	sluice_checkpoint_meta *m = sluice__calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return sluice__error_oom();
	m->checkpoint_id = id;
	m->props.kind = SLUICE_SNAPSHOT_CHECKPOINT;
	m->props.format = SLUICE_FORMAT_CANONICAL;
	m->props.retention = SLUICE_RETAIN_NONE;
	*out = m;
	return 0;
}

static void subtask_release(sluice_subtask_state *s)
{
	uint32_t i;

	for (i = 0; i < s->num_keyed; i++)
		sluice_keyed_handle_free(s->keyed[i]);
	for (i = 0; i < s->num_opstate; i++)
		sluice_opstate_handle_free(s->opstate[i]);
	for (i = 0; i < s->num_shared; i++) {
		sluice__free(s->shared[i].key);
		sluice_stream_handle_free(s->shared[i].handle);
	}
	for (i = 0; i < s->num_ext; i++)
		sluice__free(s->ext[i].data);
	for (i = 0; i < s->num_incremental; i++)
		sluice_incremental_handle_free(s->incremental[i]);
	sluice__free(s->incremental);
	sluice__free(s->keyed);
	sluice__free(s->opstate);
	sluice__free(s->shared);
	sluice__free(s->ext);
}

void sluice_checkpoint_meta_free(sluice_checkpoint_meta *m)
{
	uint32_t i, j;

	if (!m)
		return;
	for (i = 0; i < m->num_operators; i++) {
		sluice_operator_state *op = &m->operators[i];
		for (j = 0; j < op->num_subtasks; j++)
			subtask_release(&op->subtasks[j]);
		sluice__free(op->subtasks);
		sluice__free(op->uid);
		sluice__free(op->name);
	}
	sluice__free(m->operators);
	sluice__free(m);
}

int sluice_checkpoint_meta_add_operator(
	sluice_operator_state **op,
	sluice_checkpoint_meta *m,
	const char *uid,
	const char *name,
	int32_t parallelism,
	int32_t max_parallelism)
{
	sluice_operator_state *ops, *o;
	int32_t i;

	*op = NULL;
	if (parallelism < 0 || !uid)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CHECKPOINT,
			"operator '%s': invalid parallelism %d",
			uid ? uid : "(null)", (int)parallelism);
	ops = sluice__reallocarray(
		m->operators, m->num_operators + 1, sizeof(*ops));
	if (!ops)
		return sluice__error_oom();
	m->operators = ops;
	o = &ops[m->num_operators];
	memset(o, 0, sizeof(*o));
	o->uid = sluice__strdup(uid);
	o->name = sluice__strdup(name ? name : "");
	o->subtasks = sluice__calloc(
		parallelism ? (size_t)parallelism : 1, sizeof(*o->subtasks));
	if (!o->uid || !o->name || !o->subtasks) {
		sluice__free(o->uid);
		sluice__free(o->name);
		sluice__free(o->subtasks);
		return sluice__error_oom();
	}
	o->parallelism = parallelism;
	o->max_parallelism = max_parallelism;
	o->num_subtasks = (uint32_t)parallelism;
	for (i = 0; i < parallelism; i++)
		o->subtasks[i].index = i;
	m->num_operators++;
	*op = o;
	return 0;
}

/* Grow `*arr` (of `*n` elements of `size`) by one; 0 or ENOMEM. */
static int grow(void **arr, uint32_t n, size_t size)
{
	void *p = sluice__reallocarray(*arr, (size_t)n + 1, size);

	if (!p)
		return sluice__error_oom();
	*arr = p;
	return 0;
}

int sluice_subtask_add_keyed(sluice_subtask_state *s, sluice_keyed_handle *h)
{
	if (grow((void **)&s->keyed, s->num_keyed, sizeof(*s->keyed)) < 0) {
		sluice_keyed_handle_free(h);
		return SLUICE_ENOMEM;
	}
	s->keyed[s->num_keyed++] = h;
	return 0;
}

int sluice_subtask_add_opstate(
	sluice_subtask_state *s, sluice_opstate_handle *h)
{
	if (grow((void **)&s->opstate, s->num_opstate, sizeof(*s->opstate)) <
	    0) {
		sluice_opstate_handle_free(h);
		return SLUICE_ENOMEM;
	}
	s->opstate[s->num_opstate++] = h;
	return 0;
}

int sluice_subtask_add_incremental(
	sluice_subtask_state *s, sluice_incremental_handle *h)
{
	if (grow((void **)&s->incremental, s->num_incremental,
		 sizeof(*s->incremental)) < 0) {
		sluice_incremental_handle_free(h);
		return SLUICE_ENOMEM;
	}
	s->incremental[s->num_incremental++] = h;
	return 0;
}

int sluice_subtask_add_shared(
	sluice_subtask_state *s, const char *key, sluice_stream_handle *h)
{
	char *k = sluice__strdup(key);

	if (!k ||
	    grow((void **)&s->shared, s->num_shared, sizeof(*s->shared)) < 0) {
		sluice__free(k);
		sluice_stream_handle_free(h);
		return sluice__error_oom();
	}
	s->shared[s->num_shared].key = k;
	s->shared[s->num_shared++].handle = h;
	return 0;
}

int sluice_subtask_add_ext(
	sluice_subtask_state *s, uint16_t tag, const void *data, uint32_t len)
{
	uint8_t *copy = sluice__memdup(data ? data : "", len);

	if (!copy || grow((void **)&s->ext, s->num_ext, sizeof(*s->ext)) < 0) {
		sluice__free(copy);
		return sluice__error_oom();
	}
	s->ext[s->num_ext].tag = tag;
	s->ext[s->num_ext].len = len;
	s->ext[s->num_ext++].data = copy;
	return 0;
}

/* The exclusive files of an incremental handle: metadata stream, private
 * files (shared ones are visited through the shared references). */
static int each_private(
	const sluice_incremental_handle *h, sluice_meta_handle_cb cb, void *ctx)
{
	uint32_t i;
	int rc;

	if (h->metadata && (rc = cb(h->metadata, 0, ctx)) != 0)
		return rc;
	for (i = 0; i < h->num_private; i++)
		if (h->private_files[i].handle &&
		    (rc = cb(h->private_files[i].handle, 0, ctx)) != 0)
			return rc;
	return 0;
}

static int each_in_subtask(
	const sluice_subtask_state *s, sluice_meta_handle_cb cb, void *ctx)
{
	uint32_t i;
	int rc;

	for (i = 0; i < s->num_keyed; i++)
		if (s->keyed[i]->stream &&
		    (rc = cb(s->keyed[i]->stream, 0, ctx)) != 0)
			return rc;
	for (i = 0; i < s->num_opstate; i++)
		if (s->opstate[i]->stream &&
		    (rc = cb(s->opstate[i]->stream, 0, ctx)) != 0)
			return rc;
	for (i = 0; i < s->num_incremental; i++)
		if ((rc = each_private(s->incremental[i], cb, ctx)) != 0)
			return rc;
	for (i = 0; i < s->num_shared; i++)
		if (s->shared[i].handle &&
		    (rc = cb(s->shared[i].handle, 1, ctx)) != 0)
			return rc;
	return 0;
}

int sluice_checkpoint_meta_each_handle(
	const sluice_checkpoint_meta *m, sluice_meta_handle_cb cb, void *ctx)
{
	uint32_t i, j;
	int rc;

	for (i = 0; i < m->num_operators; i++)
		for (j = 0; j < m->operators[i].num_subtasks; j++)
			if ((rc = each_in_subtask(
				     &m->operators[i].subtasks[j], cb, ctx)) !=
			    0)
				return rc;
	return 0;
}
