/*
 * The runtime side of the coordinator seam (see coord_bridge.h): task
 * states, triggers and notifications from the coordinator to the job's
 * subtasks, and acks, declines and task failures from the subtasks to the
 * coordinator, with identities (coordinator vertex order, run number as
 * attempt) and snapshots converted on the way.
 */
#include <string.h>

#include "runtime/coord_bridge.h"
#include "runtime/runtime.h"
#include "util/alloc.h"
#include "util/error.h"

struct sluice__job_coord {
	sluice_job *job;
	sluice__coord *coord; /* atomic pointer */
	int32_t n;
	int *to_job;       /* coordinator vertex -> job vertex */
	int32_t *to_coord; /* job vertex -> coordinator vertex */
	sluice__coord_vertex *vertices;
	sluice__coord_input *inputs; /* all vertices' inputs */
};

/* Kahn's order of the job's vertices (the graph is validated: acyclic). */
static int topo_order(sluice__job_coord *b)
{
	sluice_job *job = b->job;
	int *indeg = sluice__calloc((size_t)job->num_vertices, sizeof(int));
	int head = 0, tail = 0, i;

	if (!indeg)
		return sluice__error_oom();
	for (i = 0; i < job->num_edges; i++)
		indeg[job->edges[i].to]++;
	for (i = 0; i < job->num_vertices; i++)
		if (indeg[i] == 0)
			b->to_job[tail++] = i;
	while (head < tail) {
		int v = b->to_job[head++];

		for (i = 0; i < job->num_edges; i++)
			if (job->edges[i].from == v &&
			    --indeg[job->edges[i].to] == 0)
				b->to_job[tail++] = job->edges[i].to;
	}
	sluice__free(indeg);
	for (i = 0; i < tail; i++)
		b->to_coord[b->to_job[i]] = i;
	return 0;
}

static void fill_vertices(sluice__job_coord *b)
{
	sluice_job *job = b->job;
	size_t used = 0;
	int32_t v;
	int e;

	for (v = 0; v < b->n; v++) {
		sluice__vertex *jv = &job->vertices[b->to_job[v]];
		sluice__coord_vertex *cv = &b->vertices[v];

		cv->name = jv->name;
		cv->parallelism = jv->parallelism;
		cv->inputs = b->inputs + used;
		cv->n_inputs = 0;
		for (e = 0; e < job->num_edges; e++) {
			const sluice__edge *ed = &job->edges[e];

			if (ed->to != b->to_job[v])
				continue;
			b->inputs[used].vertex = b->to_coord[ed->from];
			b->inputs[used].pattern =
				ed->part == SLUICE_EDGE_FORWARD
					? SLUICE_EDGE_POINTWISE
					: SLUICE_EDGE_ALL_TO_ALL;
			used++;
			cv->n_inputs++;
		}
	}
}

int sluice__job_coord_new(sluice__job_coord **out, sluice_job *job)
{
	sluice__job_coord *b;
	size_t n;
	int rc;

	*out = NULL;
	if (job->num_tasks == 0)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s' must be validated before bridging it",
			job->name);
	n = (size_t)job->num_vertices;
	if (!(b = sluice__calloc(1, sizeof(*b))) ||
	    !(b->to_job = sluice__calloc(n, sizeof(int))) ||
	    !(b->to_coord = sluice__calloc(n, sizeof(int32_t))) ||
	    !(b->vertices = sluice__calloc(n, sizeof(*b->vertices))) ||
	    !(b->inputs = sluice__calloc(
		      (size_t)job->num_edges + 1, sizeof(*b->inputs)))) {
		sluice__job_coord_free(b);
		return sluice__error_oom();
	}
	b->job = job;
	b->n = (int32_t)n;
	if ((rc = topo_order(b)) < 0) {
		sluice__job_coord_free(b);
		return rc;
	}
	fill_vertices(b);
	*out = b;
	return 0;
}

void sluice__job_coord_free(sluice__job_coord *b)
{
	if (!b)
		return;
	sluice__free(b->to_job);
	sluice__free(b->to_coord);
	sluice__free(b->vertices);
	sluice__free(b->inputs);
	sluice__free(b);
}

const sluice__coord_vertex *
sluice__job_coord_vertices(sluice__job_coord *b, int32_t *n)
{
	*n = b->n;
	return b->vertices;
}

int sluice__job_coord_job_vertex(const sluice__job_coord *b, int32_t v)
{
	return b->to_job[v];
}

int32_t sluice__job_coord_coord_vertex(const sluice__job_coord *b, int vertex)
{
	return b->to_coord[vertex];
}

/* ---- coordinator → tasks ---------------------------------------------- */

static uint64_t run_of(sluice_job *job)
{
	return __atomic_load_n(&job->runs, __ATOMIC_ACQUIRE);
}

/* Task index of a reference of the current run, or -1. */
static int task_of(sluice__job_coord *b, const sluice__task_ref *t)
{
	sluice__vertex *v;

	if (!sluice__job_started(b->job) || t->vertex < 0 ||
	    t->vertex >= b->n || t->attempt != run_of(b->job))
		return -1;
	v = &b->job->vertices[b->to_job[t->vertex]];
	if (t->subtask < 0 || t->subtask >= v->parallelism)
		return -1;
	return v->first_task + t->subtask;
}

static sluice__task_state
br_state(void *ctx, int32_t vertex, int32_t subtask, uint64_t *attempt)
{
	sluice__job_coord *b = ctx;
	sluice__task_ref ref;
	int i;

	*attempt = run_of(b->job);
	ref.vertex = vertex;
	ref.subtask = subtask;
	ref.attempt = *attempt;
	if ((i = task_of(b, &ref)) < 0)
		return SLUICE_TASK_NO_ATTEMPT;
	switch (sluice__task_state_get(&b->job->tasks[i])) {
	case SLUICE_TASK_STATE_CREATED:
		return SLUICE_TASK_CREATED;
	case SLUICE_TASK_STATE_INITIALIZING:
		return SLUICE_TASK_INITIALIZING;
	case SLUICE_TASK_STATE_RUNNING:
	case SLUICE_TASK_STATE_FINISHING:
		return SLUICE_TASK_RUNNING;
	case SLUICE_TASK_STATE_FINISHED:
		return SLUICE_TASK_FINISHED;
	case SLUICE_TASK_STATE_CANCELED:
		return SLUICE_TASK_CANCELED;
	default:
		return SLUICE_TASK_FAILED;
	}
}

static int unknown(const sluice__task_ref *t)
{
	return sluice__error_set(
		SLUICE_ENOTFOUND, SLUICE_ERRCLS_RUNTIME,
		"no task %d/%d attempt %llu", (int)t->vertex, (int)t->subtask,
		(unsigned long long)t->attempt);
}

static int br_trigger(
	void *ctx,
	const sluice__task_ref *task,
	int64_t id,
	int64_t timestamp_ms,
	const sluice__trigger_options *o)
{
	sluice__job_coord *b = ctx;
	sluice_checkpoint_options opts;
	int i = task_of(b, task);

	if (i < 0)
		return unknown(task);
	memset(&opts, 0, sizeof(opts));
	opts.savepoint = o && o->kind != SLUICE_CKPT_CHECKPOINT;
	opts.sync_savepoint = o && o->kind == SLUICE_CKPT_SYNC_SAVEPOINT;
	opts.unaligned = o && o->alignment == SLUICE_ALIGN_UNALIGNED;
	opts.aligned_timeout_ms = o ? o->aligned_timeout_ms : 0;
	return sluice_job_trigger_task(b->job, i, id, timestamp_ms, &opts);
}

static int
notify(sluice__job_coord *b,
       const sluice__task_ref *task,
       sluice__mail_kind kind,
       int64_t id,
       int64_t arg)
{
	sluice__mail m;
	int i = task_of(b, task);

	if (i < 0)
		return unknown(task);
	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.id = id;
	m.arg = arg;
	if (sluice__job_post(b->job, i, &m) == SLUICE_ECANCELED)
		sluice_error_clear(); /* the task ended meanwhile */
	return 0;
}

static int br_complete(
	void *ctx,
	const sluice__task_ref *task,
	int64_t id,
	int64_t timestamp_ms,
	int64_t last_subsumed_id)
{
	(void)timestamp_ms;
	return notify(ctx, task, SLUICE__MAIL_COMPLETE, id, last_subsumed_id);
}

static int br_aborted(
	void *ctx,
	const sluice__task_ref *task,
	int64_t id,
	int64_t latest_completed_id,
	int64_t timestamp_ms)
{
	(void)latest_completed_id;
	(void)timestamp_ms;
	return notify(ctx, task, SLUICE__MAIL_ABORTED, id, 0);
}

static void
br_fail_job(void *ctx, const char *message, const sluice__task_ref *task)
{
	sluice__job_coord *b = ctx;

	(void)task;
	if (sluice__job_started(b->job))
		sluice__job_fail(b->job, message);
}

void sluice__job_coord_tasks(sluice__job_coord *b, sluice__coord_tasks *out)
{
	memset(out, 0, sizeof(*out));
	out->version = 1;
	out->ctx = b;
	out->state = br_state;
	out->trigger = br_trigger;
	out->notify_complete = br_complete;
	out->notify_aborted = br_aborted;
	out->fail_job = br_fail_job;
}

void sluice__job_coord_attach(sluice__job_coord *b, sluice__coord *c)
{
	__atomic_store_n(&b->coord, c, __ATOMIC_RELEASE);
}

/* ---- tasks → coordinator ---------------------------------------------- */

static void
ref_of(sluice__job_coord *b, const sluice_task_info *t, sluice__task_ref *out)
{
	out->vertex = b->to_coord[t->vertex];
	out->subtask = t->subtask;
	out->attempt = run_of(b->job);
}

/* The coordinator's form of an ack; consumes `s`. */
static int convert(sluice_task_snapshot *s, sluice__subtask_snapshot **out)
{
	sluice__subtask_snapshot *o = NULL;
	int rc;

	if ((rc = sluice__subtask_snapshot_new(&o)) < 0)
		goto done;
	if (s->keyed) {
		if (!(o->keyed = sluice__calloc(1, sizeof(*o->keyed)))) {
			rc = sluice__error_oom();
			goto done;
		}
		o->keyed[o->n_keyed++] = s->keyed;
		s->keyed = NULL;
	}
	if (s->opstate) {
		if (!(o->opstate = sluice__calloc(1, sizeof(*o->opstate)))) {
			rc = sluice__error_oom();
			goto done;
		}
		o->opstate[o->n_opstate++] = s->opstate;
		s->opstate = NULL;
	}
	if (s->incremental) {
		if (!(o->incremental =
			      sluice__calloc(1, sizeof(*o->incremental)))) {
			rc = sluice__error_oom();
			goto done;
		}
		o->incremental[o->n_incremental++] = s->incremental;
		s->incremental = NULL;
	}
	o->state_size = s->state_size;
	/* producers that predate checkpointed_size leave it 0: all new */
	o->checkpointed_size =
		s->checkpointed_size ? s->checkpointed_size : s->state_size;
	o->sync_ms = s->sync_duration_ms;
	o->async_ms = s->async_duration_ms;
	o->alignment_ns = s->alignment_duration_ms * 1000000;
	o->start_delay_ns = s->start_delay_ms * 1000000;
	o->processed_bytes = s->processed_bytes;
	o->persisted_bytes = s->persisted_bytes;
	o->unaligned = s->unaligned;
	o->channel_state = s->channel_state;
	o->channel_state_len = s->channel_state_len;
	s->channel_state = NULL;
	*out = o;
	o = NULL;
done:
	sluice__subtask_snapshot_free(o);
	sluice_task_snapshot_free(s);
	return rc;
}

static void
br_ack(void *ctx,
       const sluice_task_info *task,
       int64_t id,
       sluice_task_snapshot *snap)
{
	sluice__job_coord *b = ctx;
	sluice__coord *c = __atomic_load_n(&b->coord, __ATOMIC_ACQUIRE);
	sluice__subtask_snapshot *o = NULL;
	sluice__task_ref ref;

	ref_of(b, task, &ref);
	if (!c) {
		sluice_task_snapshot_free(snap);
		return;
	}
	if (convert(snap, &o) < 0) {
		sluice__coord_decline(
			c, &ref, id, SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION,
			sluice_error_last()->message);
		return;
	}
	sluice__coord_ack(c, &ref, id, o);
}

static void br_decline(
	void *ctx,
	const sluice_task_info *task,
	int64_t id,
	sluice_failure_reason reason,
	const char *message)
{
	sluice__job_coord *b = ctx;
	sluice__coord *c = __atomic_load_n(&b->coord, __ATOMIC_ACQUIRE);
	sluice__task_ref ref;

	ref_of(b, task, &ref);
	if (c)
		sluice__coord_decline(c, &ref, id, reason, message);
}

static void
br_task_failed(void *ctx, const sluice_task_info *task, const char *message)
{
	sluice__job_coord *b = ctx;
	sluice__coord *c = __atomic_load_n(&b->coord, __ATOMIC_ACQUIRE);
	sluice__task_ref ref;

	(void)message;
	ref_of(b, task, &ref);
	if (c)
		sluice__coord_task_failed(c, &ref);
}

void sluice__job_coord_responder(
	sluice__job_coord *b, sluice_job_responder *out)
{
	memset(out, 0, sizeof(*out));
	out->version = SLUICE_RESPONDER_VERSION;
	out->ctx = b;
	out->ack = br_ack;
	out->decline = br_decline;
	out->task_failed = br_task_failed;
}
