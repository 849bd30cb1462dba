/*
 * Pending checkpoints: owns the plan of one triggered checkpoint and the
 * acknowledged subtask snapshots until the coordinator completes or aborts
 * it.  See pending.h.
 */
#include <stdio.h>

#include "checkpoint/pending.h"
#include "util/alloc.h"
#include "util/error.h"

int sluice__subtask_snapshot_new(sluice__subtask_snapshot **out)
{
	*out = sluice__calloc(1, sizeof(**out));
	return *out ? 0 : sluice__error_oom();
}

void sluice__subtask_snapshot_free(sluice__subtask_snapshot *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n_keyed; i++)
		sluice_keyed_handle_free(s->keyed[i]);
	for (i = 0; i < s->n_opstate; i++)
		sluice_opstate_handle_free(s->opstate[i]);
	for (i = 0; i < s->n_incremental; i++)
		sluice_incremental_handle_free(s->incremental[i]);
	sluice__free(s->incremental);
	sluice__free(s->keyed);
	sluice__free(s->opstate);
	sluice__free(s->channel_state);
	sluice__free(s);
}

void sluice__plan_release(sluice__plan *p)
{
	sluice__free(p->trigger);
	sluice__free(p->running);
	sluice__free(p->finished);
	sluice__free(p->fully_finished);
	p->trigger = p->running = p->finished = NULL;
	p->fully_finished = NULL;
	p->n_trigger = p->n_running = p->n_finished = p->n_fully_finished = 0;
}

int sluice__pending_new(
	sluice__pending **out,
	int64_t id,
	int64_t trigger_ts_ms,
	int64_t created_mono_ms,
	int64_t timeout_ms,
	sluice__ckpt_request *req,
	sluice__plan *plan)
{
	sluice__pending *p = sluice__calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return sluice__error_oom();
	p->acks = sluice__calloc(
		plan->n_running ? plan->n_running : 1, sizeof(*p->acks));
	p->acked = sluice__calloc(plan->n_running ? plan->n_running : 1, 1);
	if (!p->acks || !p->acked) {
		sluice__free(p->acks);
		sluice__free(p->acked);
		sluice__free(p);
		return sluice__error_oom();
	}
	p->id = id;
	p->trigger_ts_ms = trigger_ts_ms;
	p->created_mono_ms = created_mono_ms;
	p->deadline_mono_ms = timeout_ms > INT64_MAX - created_mono_ms
				      ? INT64_MAX
				      : created_mono_ms + timeout_ms;
	p->savepoint = req->savepoint;
	p->sync_savepoint = req->sync_savepoint;
	p->forced = req->forced;
	p->periodic = req->periodic;
	p->target = req->target;
	req->target = NULL;
	p->done = req->done;
	p->done_arg = req->done_arg;
	req->done = NULL;
	p->plan = *plan;
	*plan = (sluice__plan){0};
	*out = p;
	return 0;
}

void sluice__pending_free(sluice__pending *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->plan.n_running; i++)
		sluice__subtask_snapshot_free(p->acks[i]);
	sluice__free(p->acks);
	sluice__free(p->acked);
	sluice__plan_release(&p->plan);
	sluice__free(p->target);
	sluice__free(p);
}

long sluice__pending_find(
	const sluice__pending *p, int32_t vertex, int32_t subtask)
{
	size_t i;

	for (i = 0; i < p->plan.n_running; i++) {
		const sluice__task_ref *t = &p->plan.running[i];

		if (t->vertex == vertex && t->subtask == subtask)
			return (long)i;
	}
	return -1;
}

sluice__ack_result sluice__pending_ack(
	sluice__pending *p,
	const sluice__task_ref *task,
	sluice__subtask_snapshot **snap,
	size_t *index)
{
	long i;

	if (p->disposed)
		return SLUICE_ACK_DISCARDED;
	i = sluice__pending_find(p, task->vertex, task->subtask);
	if (i < 0 || p->plan.running[i].attempt != task->attempt)
		return SLUICE_ACK_UNKNOWN;
	*index = (size_t)i;
	if (p->acked[i])
		return SLUICE_ACK_DUPLICATE;
	p->acked[i] = 1;
	p->acks[i] = *snap;
	*snap = NULL;
	p->n_acked++;
	return SLUICE_ACK_SUCCESS;
}

int sluice__pending_fully_acked(const sluice__pending *p)
{
	return p->n_acked == p->plan.n_running;
}

/* ---- checkpoint plan --------------------------------------------------- */

typedef struct plan_ctx {
	const sluice__coord_vertex *v;
	int32_t nv;
	size_t *offset; /* first global index of each vertex */
	sluice__task_state *st;
	uint64_t *attempt;
	const char *job;
	char *msg;
	size_t msg_size;
} plan_ctx;

static int is_running(const plan_ctx *pc, int32_t vertex, int32_t subtask)
{
	return pc->st[pc->offset[vertex] + (size_t)subtask] !=
	       SLUICE_TASK_FINISHED;
}

static int busy(plan_ctx *pc, const char *fmt, int32_t vertex, int32_t subtask)
{
	snprintf(
		pc->msg, pc->msg_size, fmt,
		pc->v[vertex].name ? pc->v[vertex].name : "?", subtask + 1,
		pc->v[vertex].parallelism, pc->job);
	return SLUICE_EBUSY;
}

/* Does any POINTWISE producer of (vertex, t) through `in` still run? */
static int pointwise_producer_runs(
	const plan_ctx *pc,
	const sluice__coord_input *in,
	int32_t vertex,
	int32_t t)
{
	int32_t pu = pc->v[in->vertex].parallelism;
	int32_t pd = pc->v[vertex].parallelism;
	int64_t s, lo, hi;

	if (pu == pd)
		return is_running(pc, in->vertex, t);
	if (pu > pd) {
		lo = (int64_t)t * pu / pd;
		hi = ((int64_t)t + 1) * pu / pd;
	} else {
		for (s = 0; s < pu; s++) {
			int64_t start = (s * pd + pu - 1) / pu;
			int64_t end = ((s + 1) * pd + pu - 1) / pu;

			if (t >= start && t < end)
				return is_running(pc, in->vertex, (int32_t)s);
		}
		return 0;
	}
	for (s = lo; s < hi; s++)
		if (is_running(pc, in->vertex, (int32_t)s))
			return 1;
	return 0;
}

/* Can some subtask of `vertex` be a trigger task at all? */
static int vertex_may_trigger(const plan_ctx *pc, int32_t vertex)
{
	size_t k;

	for (k = 0; k < pc->v[vertex].n_inputs; k++) {
		const sluice__coord_input *in = &pc->v[vertex].inputs[k];
		int32_t u = in->vertex, i, running = 0;

		for (i = 0; i < pc->v[u].parallelism; i++)
			running += is_running(pc, u, i);
		if (in->pattern == SLUICE_EDGE_ALL_TO_ALL && running > 0)
			return 0;
		if (in->pattern == SLUICE_EDGE_POINTWISE &&
		    running == pc->v[u].parallelism)
			return 0;
	}
	return 1;
}

static int subtask_triggers(const plan_ctx *pc, int32_t vertex, int32_t t)
{
	size_t k;

	for (k = 0; k < pc->v[vertex].n_inputs; k++) {
		const sluice__coord_input *in = &pc->v[vertex].inputs[k];

		if (in->pattern == SLUICE_EDGE_POINTWISE &&
		    pointwise_producer_runs(pc, in, vertex, t))
			return 0;
	}
	return 1;
}

static void classify(plan_ctx *pc, sluice__plan *p, int has_finished)
{
	int32_t v, i;

	for (v = 0; v < pc->nv; v++) {
		int32_t running = 0;
		int may;

		for (i = 0; i < pc->v[v].parallelism; i++)
			running += is_running(pc, v, i);
		if (has_finished && running == 0)
			p->fully_finished[p->n_fully_finished++] = v;
		may = has_finished ? vertex_may_trigger(pc, v)
				   : pc->v[v].n_inputs == 0;
		for (i = 0; i < pc->v[v].parallelism; i++) {
			size_t g = pc->offset[v] + (size_t)i;
			sluice__task_ref ref = {v, i, pc->attempt[g]};

			if (!is_running(pc, v, i)) {
				p->finished[p->n_finished++] = ref;
				continue;
			}
			p->running[p->n_running++] = ref;
			if (may &&
			    (!has_finished || subtask_triggers(pc, v, i)))
				p->trigger[p->n_trigger++] = ref;
		}
	}
}

static int check_started(plan_ctx *pc, const sluice__plan *p)
{
	size_t k;

	for (k = 0; k < p->n_trigger; k++) {
		const sluice__task_ref *t = &p->trigger[k];
		sluice__task_state s =
			pc->st[pc->offset[t->vertex] + (size_t)t->subtask];

		if (s == SLUICE_TASK_CREATED || s == SLUICE_TASK_SCHEDULED ||
		    s == SLUICE_TASK_DEPLOYING)
			return busy(
				pc,
				"Checkpoint triggering task %s (%d/%d) of job "
				"%s has not being executed at the moment. "
				"Aborting checkpoint.",
				t->vertex, t->subtask);
	}
	return 0;
}

static int alloc_plan(sluice__plan *p, size_t total, int32_t nv)
{
	size_t n = total ? total : 1;

	p->trigger = sluice__calloc(n, sizeof(*p->trigger));
	p->running = sluice__calloc(n, sizeof(*p->running));
	p->finished = sluice__calloc(n, sizeof(*p->finished));
	p->fully_finished =
		sluice__calloc(nv > 0 ? (size_t)nv : 1, sizeof(int32_t));
	if (!p->trigger || !p->running || !p->finished || !p->fully_finished) {
		sluice__plan_release(p);
		return sluice__error_oom();
	}
	return 0;
}

static int scan_states(
	plan_ctx *pc,
	sluice__task_state_fn state,
	void *ctx,
	int after_finish_enabled,
	int *has_finished)
{
	int32_t v, i;

	*has_finished = 0;
	for (v = 0; v < pc->nv; v++)
		for (i = 0; i < pc->v[v].parallelism; i++) {
			size_t g = pc->offset[v] + (size_t)i;

			pc->attempt[g] = 0;
			pc->st[g] = state(ctx, v, i, &pc->attempt[g]);
			if (pc->st[g] == SLUICE_TASK_FINISHED)
				*has_finished = 1;
		}
	if (*has_finished && !after_finish_enabled) {
		snprintf(
			pc->msg, pc->msg_size,
			"some tasks of job %s has been finished, abort the "
			"checkpoint",
			pc->job);
		return SLUICE_EBUSY;
	}
	for (v = 0; v < pc->nv; v++)
		for (i = 0; i < pc->v[v].parallelism; i++)
			if (pc->st[pc->offset[v] + (size_t)i] ==
			    SLUICE_TASK_NO_ATTEMPT)
				return busy(
					pc,
					"task %s (%d/%d) of job %s is not "
					"being "
					"executed at the moment. Aborting "
					"checkpoint.",
					v, i);
	return 0;
}

int sluice__plan_compute(
	sluice__plan *out,
	const sluice__coord_vertex *vertices,
	int32_t n_vertices,
	sluice__task_state_fn state,
	void *ctx,
	int after_finish_enabled,
	const char *job,
	char *msg,
	size_t msg_size)
{
	plan_ctx pc = {vertices, n_vertices, NULL, NULL,
		       NULL,     job,        msg,  msg_size};
	size_t total = 0;
	int32_t v;
	int rc, has_finished = 0;

	*out = (sluice__plan){0};
	msg[0] = '\0';
	pc.offset = sluice__calloc(
		n_vertices > 0 ? (size_t)n_vertices : 1, sizeof(size_t));
	for (v = 0; pc.offset && v < n_vertices; v++) {
		pc.offset[v] = total;
		total += (size_t)vertices[v].parallelism;
	}
	pc.st = sluice__calloc(total ? total : 1, sizeof(*pc.st));
	pc.attempt = sluice__calloc(total ? total : 1, sizeof(*pc.attempt));
	if (!pc.offset || !pc.st || !pc.attempt) {
		rc = sluice__error_oom();
		goto done;
	}
	if ((rc = scan_states(
		     &pc, state, ctx, after_finish_enabled, &has_finished)) < 0)
		goto done;
	if ((rc = alloc_plan(out, total, n_vertices)) < 0)
		goto done;
	classify(&pc, out, has_finished);
	if ((rc = check_started(&pc, out)) < 0)
		sluice__plan_release(out);
done:
	sluice__free(pc.offset);
	sluice__free(pc.st);
	sluice__free(pc.attempt);
	return rc;
}
