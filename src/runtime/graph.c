/*
 * The job graph: vertices and edges as the user declares them, their
 * validation (inputs connected, outputs present, parallelism bounds,
 * forward edges between equal parallelisms, no cycles), and the key-group
 * arithmetic of spec §7.1 that places keys on subtasks.  Also the small
 * task-snapshot record exchanged with the coordinator.
 */
#include <string.h>

#include "runtime/runtime.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"

#define MAX_PARALLELISM_UPPER 32768

/* The key-group arithmetic is the state layer's (sluice/state.h); these
 * keep the runtime's older names as thin calls. */
int32_t sluice_key_group(sluice_slice key, int32_t max_p)
{
	return sluice_keygroup_of(key, max_p);
}

int32_t sluice_key_group_subtask(int32_t key_group, int32_t p, int32_t max_p)
{
	return sluice_keygroup_operator_index(key_group, max_p, p);
}

void sluice_key_group_range(
	int32_t subtask, int32_t p, int32_t max_p, int32_t *start, int32_t *end)
{
	/* arguments are validated with the graph; never fails here */
	if (sluice_keygroup_range(start, end, max_p, p, subtask) < 0) {
		*start = 0;
		*end = -1;
	}
}

int32_t sluice_default_max_parallelism(int32_t p)
{
	return sluice_keygroup_default_max_parallelism(p);
}

void sluice_task_snapshot_free(sluice_task_snapshot *s)
{
	if (!s)
		return;
	sluice__free(s->uid);
	sluice_keyed_handle_free(s->keyed);
	sluice_opstate_handle_free(s->opstate);
	sluice_incremental_handle_free(s->incremental);
	sluice__free(s->channel_state);
	sluice__free(s);
}

sluice_task_snapshot *sluice_task_snapshot_dup(const sluice_task_snapshot *s)
{
	sluice_task_snapshot *d;

	if (!s || !(d = sluice__calloc(1, sizeof(*d))))
		return NULL;
	*d = *s;
	d->uid = sluice__strdup(s->uid);
	d->keyed = s->keyed ? sluice_keyed_handle_dup(s->keyed) : NULL;
	d->opstate = s->opstate ? sluice_opstate_handle_dup(s->opstate) : NULL;
	d->incremental = sluice_incremental_handle_dup(s->incremental);
	d->channel_state =
		s->channel_state
			? sluice__memdup(s->channel_state, s->channel_state_len)
			: NULL;
	if (!d->uid || (s->keyed && !d->keyed) || (s->opstate && !d->opstate) ||
	    (s->incremental && !d->incremental) ||
	    (s->channel_state && !d->channel_state)) {
		sluice_task_snapshot_free(d);
		return NULL;
	}
	return d;
}

static int invalid(const char *fmt, const char *a)
{
	return sluice__error_set(SLUICE_EINVALID, SLUICE_ERRCLS_JOB, fmt, a);
}

static int check_spec(sluice_job *job, const sluice_vertex_spec *spec)
{
	int i;

	if (!spec || !spec->uid || !*spec->uid)
		return invalid("job '%s': a vertex needs a uid", job->name);
	for (i = 0; i < job->num_vertices; i++)
		if (!strcmp(job->vertices[i].uid, spec->uid))
			return invalid(
				"vertex uid '%s' is used twice", spec->uid);
	if (spec->parallelism <= 0 || spec->parallelism > MAX_PARALLELISM_UPPER)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"vertex '%s': Operator parallelism not within bounds: "
			"%d",
			spec->uid, (int)spec->parallelism);
	if (spec->max_parallelism != 0 &&
	    (spec->max_parallelism < spec->parallelism ||
	     spec->max_parallelism > MAX_PARALLELISM_UPPER))
		return invalid(
			"vertex '%s': Maximum parallelism must not be smaller "
			"than parallelism.",
			spec->uid);
	if (!spec->op)
		return invalid("vertex '%s': no operator", spec->uid);
	if (spec->kind == SLUICE_VERTEX_SOURCE && !spec->op->poll)
		return invalid("source '%s': operator has no poll", spec->uid);
	if (spec->kind != SLUICE_VERTEX_SOURCE && !spec->op->process)
		return invalid(
			"vertex '%s': operator has no process", spec->uid);
	if (spec->kind > SLUICE_VERTEX_SINK)
		return invalid("vertex '%s': unknown kind", spec->uid);
	return 0;
}

int sluice_job_add(sluice_job *job, int *out_id, const sluice_vertex_spec *spec)
{
	sluice__vertex *grown, *v;

	if (job->started)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s': cannot add vertices after start", job->name);
	SLUICE_ERRCHECK(check_spec(job, spec));
	grown = sluice__reallocarray(
		job->vertices, (size_t)job->num_vertices + 1, sizeof(*grown));
	if (!grown)
		return sluice__error_oom();
	job->vertices = grown;
	v = &job->vertices[job->num_vertices];
	memset(v, 0, sizeof(*v));
	v->uid = sluice__strdup(spec->uid);
	v->name = sluice__strdup(spec->name ? spec->name : spec->uid);
	if (!v->uid || !v->name) {
		sluice__free(v->uid);
		sluice__free(v->name);
		return sluice__error_oom();
	}
	v->kind = spec->kind;
	v->parallelism = spec->parallelism;
	v->max_parallelism =
		spec->max_parallelism
			? spec->max_parallelism
			: sluice_default_max_parallelism(spec->parallelism);
	v->max_parallelism_set = spec->max_parallelism != 0;
	v->op = spec->op;
	v->arg = spec->arg;
	v->num_inputs = spec->kind == SLUICE_VERTEX_SOURCE      ? 0
			: spec->kind == SLUICE_VERTEX_OPERATOR2 ? 2
								: 1;
	if (out_id)
		*out_id = job->num_vertices;
	job->num_vertices++;
	job->num_tasks = 0;
	return 0;
}

int sluice_job_connect(
	sluice_job *job,
	int from,
	int to,
	int input,
	sluice_partitioning partitioning)
{
	sluice__vertex *a, *b;
	sluice__edge *grown;

	if (job->started)
		return invalid(
			"job '%s': cannot connect after start", job->name);
	if (from < 0 || from >= job->num_vertices || to < 0 ||
	    to >= job->num_vertices)
		return invalid(
			"job '%s': edge between unknown vertices", job->name);
	a = &job->vertices[from];
	b = &job->vertices[to];
	if (a->kind == SLUICE_VERTEX_SINK)
		return invalid("sink '%s' cannot have outputs", a->uid);
	if (input < 0 || input >= b->num_inputs)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"vertex '%s' has no input %d", b->uid, input);
	if (partitioning > SLUICE_EDGE_KEY_BY)
		return invalid("edge into '%s': unknown partitioning", b->uid);
	if (partitioning == SLUICE_EDGE_FORWARD &&
	    a->parallelism != b->parallelism)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"forward edge '%s' -> '%s' needs equal parallelism, "
			"not %d and %d",
			a->uid, b->uid, (int)a->parallelism,
			(int)b->parallelism);
	grown = sluice__reallocarray(
		job->edges, (size_t)job->num_edges + 1, sizeof(*grown));
	if (!grown)
		return sluice__error_oom();
	job->edges = grown;
	job->edges[job->num_edges++] =
		(sluice__edge){from, to, input, partitioning};
	a->num_outputs++;
	b->connected[input]++;
	return 0;
}

/* Kahn's algorithm over vertices; EINVALID when a cycle remains. */
static int check_acyclic(sluice_job *job)
{
	int *indeg = sluice__calloc((size_t)job->num_vertices + 1, sizeof(int));
	int *queue = sluice__calloc((size_t)job->num_vertices + 1, sizeof(int));
	int head = 0, tail = 0, seen = 0, i, rc = 0;

	if (!indeg || !queue) {
		rc = sluice__error_oom();
		goto done;
	}
	for (i = 0; i < job->num_edges; i++)
		indeg[job->edges[i].to]++;
	for (i = 0; i < job->num_vertices; i++)
		if (indeg[i] == 0)
			queue[tail++] = i;
	while (head < tail) {
		int v = queue[head++];

		seen++;
		for (i = 0; i < job->num_edges; i++)
			if (job->edges[i].from == v &&
			    --indeg[job->edges[i].to] == 0)
				queue[tail++] = job->edges[i].to;
	}
	if (seen != job->num_vertices)
		rc = invalid("job '%s': the graph has a cycle", job->name);
done:
	sluice__free(indeg);
	sluice__free(queue);
	return rc;
}

int sluice_job_validate(sluice_job *job)
{
	int i, tasks = 0;

	if (job->num_vertices == 0)
		return invalid("job '%s' has no vertices", job->name);
	for (i = 0; i < job->num_vertices; i++) {
		sluice__vertex *v = &job->vertices[i];
		int k;

		for (k = 0; k < v->num_inputs; k++)
			if (v->connected[k] == 0)
				return sluice__error_set(
					SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
					"vertex '%s': input %d is not "
					"connected",
					v->uid, k);
	}
	for (i = 0; i < job->num_vertices; i++) {
		sluice__vertex *v = &job->vertices[i];

		if (v->kind != SLUICE_VERTEX_SINK && v->num_outputs == 0)
			return invalid("vertex '%s' has no output", v->uid);
	}
	SLUICE_ERRCHECK(check_acyclic(job));
	for (i = 0; i < job->num_vertices; i++) {
		job->vertices[i].first_task = tasks;
		tasks += job->vertices[i].parallelism;
	}
	job->num_tasks = tasks;
	return 0;
}

int sluice_job_task_count(sluice_job *job)
{
	return job->num_tasks;
}
