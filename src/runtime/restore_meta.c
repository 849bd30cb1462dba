/*
 * Restore sets from `_metadata`: turns a loaded completed checkpoint (the
 * storage layer's sluice_checkpoint_meta) into the task snapshots
 * sluice_job_start assigns to subtasks, so a failed job restarts from what
 * the coordinator committed to disk.  Owns the duplicated handles.
 */
#include <string.h>

#include "sluice/sys/metadata.h"
#include "sluice/sys/runtime.h"
#include "util/alloc.h"
#include "util/error.h"

void sluice_restore_set_free(sluice_restore_set *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->num_tasks; i++)
		sluice_task_snapshot_free(s->tasks[i]);
	sluice__free(s->tasks);
	sluice__free(s->dir);
	sluice__free(s);
}

/* A task snapshot of operator `op`, subtask `st`, owning copies of at
 * most one keyed, one operator and one incremental handle. */
static int add_task(
	sluice_restore_set *s,
	const sluice_operator_state *op,
	int32_t subtask,
	const sluice_keyed_handle *keyed,
	const sluice_opstate_handle *ops,
	const sluice_incremental_handle *inc,
	const sluice_meta_ext *ext)
{
	sluice_task_snapshot *t = sluice__calloc(1, sizeof(*t));

	if (!t)
		return sluice__error_oom();
	s->tasks[s->num_tasks++] = t;
	t->subtask = subtask;
	t->parallelism = op->parallelism;
	t->max_parallelism = op->max_parallelism;
	if (!(t->uid = sluice__strdup(op->uid)) ||
	    (keyed && !(t->keyed = sluice_keyed_handle_dup(keyed))) ||
	    (ops && !(t->opstate = sluice_opstate_handle_dup(ops))) ||
	    (inc && !(t->incremental = sluice_incremental_handle_dup(inc))))
		return sluice__error_oom();
	if (ext) {
		if (!(t->channel_state = sluice__memdup(
			      ext->len ? (const void *)ext->data : "",
			      ext->len ? ext->len : 1)))
			return sluice__error_oom();
		t->channel_state_len = ext->len;
	}
	return 0;
}

static size_t count_handles(const struct sluice_checkpoint_meta *m)
{
	size_t n = 0;
	uint32_t o, i;

	for (o = 0; o < m->num_operators; o++)
		for (i = 0; i < m->operators[o].num_subtasks; i++)
			n += m->operators[o].subtasks[i].num_keyed +
			     m->operators[o].subtasks[i].num_opstate +
			     m->operators[o].subtasks[i].num_incremental +
			     m->operators[o].subtasks[i].num_ext + 1;
	return n;
}

int sluice_restore_set_from_meta(
	sluice_restore_set **out,
	const struct sluice_checkpoint_meta *m,
	sluice_storage *st,
	const char *dir)
{
	sluice_restore_set *s = sluice__calloc(1, sizeof(*s));
	uint32_t o, i, k;
	int rc = 0;

	*out = NULL;
	if (!s ||
	    !(s->tasks = sluice__calloc(
		      count_handles(m) + 1, sizeof(*s->tasks))) ||
	    (dir && !(s->dir = sluice__strdup(dir)))) {
		sluice_restore_set_free(s);
		return sluice__error_oom();
	}
	for (o = 0; o < m->num_operators && rc >= 0; o++) {
		const sluice_operator_state *op = &m->operators[o];

		for (i = 0; i < op->num_subtasks && rc >= 0; i++) {
			const sluice_subtask_state *sub = &op->subtasks[i];

			for (k = 0; k < sub->num_keyed && rc >= 0; k++)
				rc = add_task(
					s, op, sub->index, sub->keyed[k], NULL,
					NULL, NULL);
			for (k = 0; k < sub->num_opstate && rc >= 0; k++)
				rc = add_task(
					s, op, sub->index, NULL,
					sub->opstate[k], NULL, NULL);
			for (k = 0; k < sub->num_incremental && rc >= 0; k++)
				rc = add_task(
					s, op, sub->index, NULL, NULL,
					sub->incremental[k], NULL);
			if (sub->finished && rc >= 0 &&
			    (rc = add_task(
				     s, op, sub->index, NULL, NULL, NULL,
				     NULL)) >= 0)
				s->tasks[s->num_tasks - 1]->finished = 1;
			for (k = 0; k < sub->num_ext && rc >= 0; k++)
				if (sub->ext[k].tag ==
				    SLUICE_META_EXT_CHANNEL_STATE)
					rc = add_task(
						s, op, sub->index, NULL, NULL,
						NULL, &sub->ext[k]);
		}
	}
	if (rc < 0) {
		sluice_restore_set_free(s);
		return rc;
	}
	s->restore.checkpoint_id = m->checkpoint_id;
	s->restore.tasks = (const sluice_task_snapshot *const *)s->tasks;
	s->restore.num_tasks = s->num_tasks;
	s->restore.storage = st;
	s->restore.dir = s->dir;
	*out = s;
	return 0;
}
