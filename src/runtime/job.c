/*
 * A job's life: options, expansion of the validated graph into subtasks
 * and channels, assignment of restored state to subtasks, starting one
 * thread per subtask, the coordinator entry points (trigger, notify
 * complete / aborted), job-wide failure (the first failing task stops
 * every task) and stop (join threads, drain the snapshot pool, free
 * channels and providers) so the job can be started again.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"
#include "util/thread.h"

#define DEFAULT_BUFFER_SIZE  (32 * 1024)
#define DEFAULT_CREDITS      4
#define DEFAULT_SNAP_THREADS 2

int sluice_job_new(
	sluice_job **out, const char *name, const sluice_job_options *opts)
{
	sluice_job *job;

	*out = NULL;
	if (opts &&
	    (opts->channel_credits < -1 ||
	     (opts->channel_credits == -1 && opts->floating_buffers <= 0) ||
	     opts->floating_buffers < 0 || opts->snapshot_threads < 0 ||
	     opts->snapshot_threads > 64))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s': invalid runtime options", name ? name : "");
	if (!(job = sluice__calloc(1, sizeof(*job))) ||
	    !(job->name = sluice__strdup(name ? name : "job"))) {
		sluice__free(job);
		return sluice__error_oom();
	}
	if (opts)
		job->opts = *opts;
	if (!job->opts.buffer_size)
		job->opts.buffer_size = DEFAULT_BUFFER_SIZE;
	if (!job->opts.channel_credits)
		job->opts.channel_credits = DEFAULT_CREDITS;
	if (!job->opts.snapshot_threads)
		job->opts.snapshot_threads = DEFAULT_SNAP_THREADS;
	if (job->opts.max_subtasks_per_channel_state_file <= 0)
		job->opts.max_subtasks_per_channel_state_file = 5;
	if (job->opts.mode != SLUICE_JOB_EXACTLY_ONCE)
		job->opts.unaligned = 0;
	job->clock = job->opts.clock ? job->opts.clock : sluice_clock_system();
	job->factory = sluice_mem_state_provider_new;
	pthread_mutex_init(&job->lock, NULL);
	sluice__cond_init(&job->cond);
	*out = job;
	return 0;
}

void sluice_job_free(sluice_job *job)
{
	int i;

	if (!job)
		return;
	sluice_job_stop(job);
	for (i = 0; i < job->num_vertices; i++) {
		sluice__free(job->vertices[i].uid);
		sluice__free(job->vertices[i].name);
	}
	sluice__free(job->vertices);
	sluice__free(job->edges);
	sluice__free(job->failure);
	sluice__free(job->name);
	pthread_cond_destroy(&job->cond);
	pthread_mutex_destroy(&job->lock);
	sluice__free(job);
}

int sluice_job_set_stream_factory(
	sluice_job *job, const sluice_stream_factory *f)
{
	if (job->started || !f || !f->open)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s': stream factory can only be set before start",
			job->name);
	job->streams = *f;
	return 0;
}

int sluice_job_set_state_provider(
	sluice_job *job, sluice_state_provider_factory factory, void *arg)
{
	if (job->started || !factory)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s': state provider can only be set before start",
			job->name);
	job->factory = factory;
	job->factory_arg = arg;
	return 0;
}

/* ---- status ---------------------------------------------------------- */

int sluice__job_stopping(sluice_job *job)
{
	return __atomic_load_n(&job->stopping, __ATOMIC_ACQUIRE);
}

static void close_all(sluice_job *job)
{
	int i;

	__atomic_store_n(&job->stopping, 1, __ATOMIC_RELEASE);
	for (i = 0; i < job->num_tasks; i++)
		sluice__inbox_close(&job->tasks[i].inbox);
}

void sluice__job_fail(sluice_job *job, const char *message)
{
	int first = 0;

	pthread_mutex_lock(&job->lock);
	if (!job->failed) {
		job->failed = 1;
		job->failure = sluice__strdup(message);
		first = 1;
	}
	pthread_mutex_unlock(&job->lock);
	if (first)
		close_all(job);
}

void sluice__job_task_done(sluice_job *job)
{
	pthread_mutex_lock(&job->lock);
	if (--job->live_tasks == 0) {
		if (job->failed)
			job->status = SLUICE_JOB_STATE_FAILED;
		else if (sluice__job_stopping(job))
			job->status = SLUICE_JOB_STATE_CANCELED;
		else
			job->status = SLUICE_JOB_STATE_FINISHED;
		pthread_cond_broadcast(&job->cond);
	}
	pthread_mutex_unlock(&job->lock);
}

sluice_job_state sluice_job_state_get(sluice_job *job)
{
	int s;

	pthread_mutex_lock(&job->lock);
	s = job->status;
	pthread_mutex_unlock(&job->lock);
	return (sluice_job_state)s;
}

const char *sluice_job_failure(sluice_job *job)
{
	const char *f;

	pthread_mutex_lock(&job->lock);
	f = job->failure  ? job->failure
	    : job->failed ? "out of memory while recording a task failure"
			  : NULL;
	pthread_mutex_unlock(&job->lock);
	return f;
}

int sluice_job_wait(sluice_job *job, int64_t timeout_ms)
{
	int64_t deadline =
		sluice_clock_mono_ms(sluice_clock_system()) + timeout_ms;
	int rc = 0;

	pthread_mutex_lock(&job->lock);
	while (job->live_tasks > 0) {
		int64_t left =
			timeout_ms < 0
				? -1
				: deadline - sluice_clock_mono_ms(
						     sluice_clock_system());

		if (timeout_ms >= 0 && left <= 0) {
			rc = SLUICE_ETIMEOUT;
			break;
		}
		sluice__cond_wait_ms(&job->cond, &job->lock, left);
	}
	pthread_mutex_unlock(&job->lock);
	if (rc < 0)
		return sluice__error_set(
			rc, SLUICE_ERRCLS_JOB,
			"job '%s': tasks still running after %lld ms",
			job->name, (long long)timeout_ms);
	return 0;
}

void sluice_job_wakeup(sluice_job *job)
{
	int i;

	/* under the lock: a sluice_run may stop and restart the job at any
	 * moment (failover), freeing the inboxes */
	pthread_mutex_lock(&job->lock);
	for (i = 0; job->wakeable && i < job->num_tasks; i++)
		sluice__inbox_wakeup(&job->tasks[i].inbox);
	pthread_mutex_unlock(&job->lock);
}

int sluice_job_task_info(sluice_job *job, int index, sluice_task_info *out)
{
	sluice__vertex *v = NULL;
	int i;

	if (index < 0 || index >= job->num_tasks)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s': no task %d", job->name, index);
	if (job->started) {
		sluice__task_fill_info(&job->tasks[index], out);
		return 0;
	}
	for (i = 0; i < job->num_vertices; i++) {
		v = &job->vertices[i];
		if (index < v->first_task + v->parallelism)
			break;
	}
	if (!v)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s' has no vertices", job->name);
	memset(out, 0, sizeof(*out));
	out->index = index;
	out->vertex = i;
	out->uid = v->uid;
	out->name = v->name;
	out->subtask = index - v->first_task;
	out->parallelism = v->parallelism;
	out->max_parallelism = v->max_parallelism;
	out->is_source = v->kind == SLUICE_VERTEX_SOURCE;
	out->state = SLUICE_TASK_STATE_CREATED;
	return 0;
}

/* ---- expansion ------------------------------------------------------- */

static int make_tasks(sluice_job *job)
{
	int i, s, rc;

	job->tasks =
		sluice__calloc((size_t)job->num_tasks, sizeof(sluice__task));
	if (!job->tasks)
		return sluice__error_oom();
	for (i = 0; i < job->num_vertices; i++) {
		sluice__vertex *v = &job->vertices[i];

		for (s = 0; s < v->parallelism; s++) {
			sluice__task *t = &job->tasks[v->first_task + s];

			if ((rc = sluice__inbox_init(&t->inbox)) < 0)
				return rc;
			t->job = job;
			t->index = v->first_task + s;
			t->v = v;
			t->subtask = s;
			t->last_checkpoint = -1;
			t->final_id = -1;
			t->final_wait =
				job->opts.final_checkpoint > 0 &&
				job->opts.checkpoints_after_tasks_finish >= 0;
			sluice_key_group_range(
				s, v->parallelism, v->max_parallelism,
				&t->kg_start, &t->kg_end);
			sluice_buf_init(&t->key_buf);
		}
	}
	return 0;
}

static int add_channel(sluice_job *job, sluice__channel *ch)
{
	sluice__channel **grown = sluice__reallocarray(
		job->channels, (size_t)job->num_channels + 1, sizeof(*grown));

	if (!grown) {
		sluice__channel_free(ch);
		return sluice__error_oom();
	}
	job->channels = grown;
	job->channels[job->num_channels++] = ch;
	return 0;
}

/* Output edge `e` of producer task `t`, with its channels. */
static int
make_out_edge(sluice_job *job, sluice__task *t, const sluice__edge *e)
{
	sluice__vertex *to = &job->vertices[e->to];
	sluice__out_edge *o = &t->outs[t->num_outs++];
	int n = e->part == SLUICE_EDGE_FORWARD ? 1 : to->parallelism, c, rc;

	o->part = e->part;
	o->target_p = to->parallelism;
	o->target_maxp = to->max_parallelism;
	o->rr = t->subtask % n;
	o->channels = sluice__calloc((size_t)n, sizeof(*o->channels));
	o->bufs = sluice__calloc((size_t)n, sizeof(*o->bufs));
	if (!o->channels || !o->bufs)
		return sluice__error_oom();
	o->num_channels = n;
	for (c = 0; c < n; c++) {
		int target = e->part == SLUICE_EDGE_FORWARD ? t->subtask : c;
		sluice__task *consumer = &job->tasks[to->first_task + target];

		rc = sluice__channel_new(
			&o->channels[c], &consumer->inbox, e->input,
			job->opts.channel_credits < 0
				? 0
				: job->opts.channel_credits);
		if (rc < 0 || (rc = add_channel(job, o->channels[c])) < 0)
			return rc;
		sluice__inbox_add_floating(
			&consumer->inbox, e->input, job->opts.floating_buffers);
		consumer->inputs_open[e->input]++;
		consumer->data_open[e->input]++;
	}
	return 0;
}

static int make_channels(sluice_job *job)
{
	int i, k, s, rc;

	for (i = 0; i < job->num_vertices; i++) {
		sluice__vertex *v = &job->vertices[i];

		for (s = 0; s < v->parallelism; s++) {
			sluice__task *t = &job->tasks[v->first_task + s];

			if (v->num_outputs && !(t->outs = sluice__calloc(
							(size_t)v->num_outputs,
							sizeof(*t->outs))))
				return sluice__error_oom();
			for (k = 0; k < job->num_edges; k++)
				if (job->edges[k].from == i &&
				    (rc = make_out_edge(
					     job, t, &job->edges[k])) < 0)
					return rc;
		}
	}
	for (i = 0; i < job->num_tasks; i++)
		if ((rc = sluice__task_prepare(&job->tasks[i])) < 0)
			return rc;
	return 0;
}

/* ---- restore assignment ---------------------------------------------- */

static sluice__vertex *vertex_by_uid(sluice_job *job, const char *uid)
{
	int v;

	for (v = 0; v < job->num_vertices; v++)
		if (!strcmp(job->vertices[v].uid, uid))
			return &job->vertices[v];
	return NULL;
}

/* Match state to vertices (spec §5.4); adopt default max parallelism. */
static int check_restore(sluice_job *job, const sluice_job_restore *r)
{
	char what[64];
	size_t i;

	snprintf(what, sizeof(what), "%lld", (long long)r->checkpoint_id);
	for (i = 0; i < r->num_tasks; i++) {
		const sluice_task_snapshot *s = r->tasks[i];
		sluice__vertex *v = vertex_by_uid(job, s->uid);

		int inflight = s->channel_state && !r->ignore_channel_state;

		if (!s->keyed && !s->opstate && !s->incremental && !inflight)
			continue;
		if (inflight && v && v->parallelism != s->parallelism)
			return sluice__error_set(
				SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_JOB,
				"checkpoint %s holds in-flight data of an "
				"unaligned checkpoint for operator %s at "
				"parallelism %d; it cannot be restored at "
				"parallelism %d. Restore it at the same "
				"parallelism, take an aligned savepoint, and "
				"rescale from the savepoint (or, losing the "
				"in-flight records, set "
				"execution.state-recovery.without-channel-"
				"state.checkpoint-id: %lld)",
				r->dir ? r->dir : what, s->uid,
				(int)s->parallelism, (int)v->parallelism,
				(long long)r->checkpoint_id);
		if (!v && r->allow_non_restored) {
			sluice__info(
				"Skipping savepoint state for operator %s.",
				s->uid);
			continue;
		}
		if (!v)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
				"Failed to rollback to checkpoint/savepoint "
				"%s. Cannot map checkpoint/savepoint state for "
				"operator %s to the new program, because the "
				"operator is not available in the new program. "
				"If you want to allow to skip this, you can "
				"set the --allowNonRestoredState option on the "
				"CLI.",
				r->dir ? r->dir : what, s->uid);
		if (s->max_parallelism == v->max_parallelism)
			continue;
		if (v->max_parallelism_set ||
		    s->max_parallelism < v->parallelism)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
				"Failed to rollback to checkpoint/savepoint "
				"%s. Max parallelism mismatch between "
				"checkpoint/savepoint state and new program. "
				"Cannot map operator %s with max parallelism "
				"%d to new program with max parallelism %d. "
				"This indicates that the program has been "
				"changed in a non-compatible way after the "
				"checkpoint/savepoint.",
				r->dir ? r->dir : what, s->uid,
				(int)s->max_parallelism,
				(int)v->max_parallelism);
		v->max_parallelism = s->max_parallelism;
	}
	return 0;
}

static int opstate_of(const sluice_task_snapshot *s, const sluice__task *t)
{
	return s->opstate && s->subtask >= 0 && !strcmp(s->uid, t->v->uid);
}

/*
 * Fill old[j] with the `layer`-th operator handle of old subtask j (a
 * subtask usually has one; restore sets from metadata may hold more).
 * Returns whether any was found.
 */
static int opstate_layer(
	sluice__task *t,
	const sluice_job_restore *r,
	size_t layer,
	const sluice_opstate_handle **old,
	size_t *seen,
	size_t old_p)
{
	size_t i;
	int any = 0;

	memset(old, 0, old_p * sizeof(*old));
	memset(seen, 0, old_p * sizeof(*seen));
	for (i = 0; i < r->num_tasks; i++) {
		const sluice_task_snapshot *s = r->tasks[i];

		if (opstate_of(s, t) && seen[s->subtask]++ == layer) {
			old[s->subtask] = s->opstate;
			any = 1;
		}
	}
	return any;
}

/* Append handles `hs` (taken over) to `*out`. */
static int append_handles(
	sluice_opstate_handle ***out,
	size_t *n,
	sluice_opstate_handle **hs,
	size_t k)
{
	sluice_opstate_handle **grown;

	if (!k) {
		sluice__free(hs);
		return 0;
	}
	grown = sluice__reallocarray(*out, *n + k, sizeof(*grown));
	if (!grown) {
		sluice_opstate_handles_free(hs, k);
		return sluice__error_oom();
	}
	memcpy(grown + *n, hs, k * sizeof(*hs));
	sluice__free(hs);
	*out = grown;
	*n += k;
	return 0;
}

/*
 * Operator state of subtask `t` (spec §7.3): the old subtasks' handles
 * by old index, redistributed by sluice_opstate_assign (SPLIT even-split
 * round robin, UNION to all, BROADCAST from old subtask i % old_p).
 */
static int assign_opstate(
	sluice__task *t,
	const sluice_job_restore *r,
	sluice_opstate_handle ***out,
	size_t *n)
{
	const sluice_opstate_handle **old;
	sluice_opstate_handle **hs;
	size_t i, k, layer, old_p = 0, *seen;
	int rc = 0;

	*out = NULL;
	*n = 0;
	for (i = 0; i < r->num_tasks; i++) {
		const sluice_task_snapshot *s = r->tasks[i];

		if (opstate_of(s, t)) {
			if ((size_t)s->parallelism > old_p)
				old_p = (size_t)s->parallelism;
			if ((size_t)s->subtask >= old_p)
				old_p = (size_t)s->subtask + 1;
		}
	}
	if (!old_p)
		return 0;
	old = sluice__calloc(old_p, sizeof(*old));
	seen = sluice__calloc(old_p, sizeof(*seen));
	if (!old || !seen)
		rc = sluice__error_oom();
	for (layer = 0; rc >= 0 && opstate_layer(t, r, layer, old, seen, old_p);
	     layer++)
		if ((rc = sluice_opstate_assign(
			     &hs, &k, old, old_p, (size_t)t->v->parallelism,
			     (size_t)t->subtask)) >= 0)
			rc = append_handles(out, n, hs, k);
	sluice__free(old);
	sluice__free(seen);
	return rc;
}

/* Key groups [start, start + num) intersect the task's range. */
static int overlaps(const sluice__task *t, int32_t start, int32_t num)
{
	return start <= t->kg_end && start + num - 1 >= t->kg_start;
}

/* Every entry of a restored blob names a channel this task has. */
static int check_channels(sluice__task *t, const sluice_job_restore *r)
{
	sluice__chs_entry *en = NULL;
	size_t n = 0, i;
	int rc;

	rc = sluice__chs_parse(t->replay, t->replay_len, t->v->uid, &en, &n);
	for (i = 0; rc >= 0 && i < n; i++) {
		int ok =
			en[i].kind == SLUICE__CHS_OUTPUT
				? en[i].gate < t->num_outs &&
					  en[i].channel <
						  (uint32_t)t->outs[en[i].gate]
							  .num_channels
				: en[i].channel < (uint32_t)t->inbox
							  .num_channels &&
					  t->inbox.channels[en[i].channel]
							  ->input == en[i].gate;

		if (!ok)
			rc = sluice__error_set(
				SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_JOB,
				"checkpoint %lld: in-flight data of operator "
				"%s subtask %d names %s channel %u/%u, which "
				"the job no longer has (its topology or "
				"parallelism changed); restore from an aligned "
				"savepoint instead",
				(long long)r->checkpoint_id, t->v->uid,
				(int)t->subtask,
				en[i].kind == SLUICE__CHS_OUTPUT ? "output"
								 : "input",
				(unsigned)en[i].gate, (unsigned)en[i].channel);
	}
	sluice__free(en);
	return rc;
}

/* The channel state of this subtask, if the restore set has one. */
static int restore_channel_state(sluice__task *t, const sluice_job_restore *r)
{
	char what[256];
	size_t i;
	int rc;

	for (i = 0; i < r->num_tasks; i++) {
		const sluice_task_snapshot *s = r->tasks[i];

		if (!s->channel_state || r->ignore_channel_state ||
		    s->subtask != t->subtask || strcmp(s->uid, t->v->uid))
			continue;
		snprintf(
			what, sizeof(what),
			"checkpoint %lld operator %s subtask %d",
			(long long)r->checkpoint_id, t->v->uid,
			(int)t->subtask);
		if (t->replay)
			return sluice__error_set(
				SLUICE_ECORRUPT, SLUICE_ERRCLS_JOB,
				"%s: more than one channel state", what);
		if ((rc = sluice__chs_read(
			     &t->replay, &t->replay_len, s->channel_state,
			     s->channel_state_len, r->storage, r->dir, what)) <
			    0 ||
		    (rc = check_channels(t, r)) < 0)
			return rc;
	}
	return 0;
}

static int restore_task(sluice__task *t, const sluice_job_restore *r)
{
	const sluice_keyed_handle **keyed;
	const sluice_incremental_handle **inc;
	sluice_opstate_handle **ops = NULL;
	sluice_subtask_restore sr;
	size_t i, num_ops = 0;
	int rc, any = 0;

	keyed = sluice__calloc(r->num_tasks + 1, sizeof(*keyed));
	inc = sluice__calloc(r->num_tasks + 1, sizeof(*inc));
	memset(&sr, 0, sizeof(sr));
	if (!keyed || !inc) {
		rc = sluice__error_oom();
		goto done;
	}
	for (i = 0; i < r->num_tasks; i++) {
		const sluice_task_snapshot *s = r->tasks[i];
		const sluice_keyed_handle *k = s->keyed;
		const sluice_incremental_handle *n = s->incremental;

		if (strcmp(s->uid, t->v->uid))
			continue;
		any = 1;
		if (s->finished && s->subtask == t->subtask &&
		    s->parallelism == t->v->parallelism &&
		    t->v->kind == SLUICE_VERTEX_SOURCE)
			t->restored_finished = 1;
		if (k && overlaps(t, k->start_key_group, k->num_key_groups))
			keyed[sr.num_keyed++] = k;
		if (n && overlaps(t, n->start_key_group, n->num_key_groups))
			inc[sr.num_incremental++] = n;
	}
	sr.incremental = inc;
	if ((rc = assign_opstate(t, r, &ops, &num_ops)) < 0 ||
	    (rc = restore_channel_state(t, r)) < 0)
		goto done;
	sr.keyed = keyed;
	sr.opstate = (const sluice_opstate_handle *const *)ops;
	sr.num_opstate = num_ops;
	sr.storage = r->storage;
	sr.dir = r->dir;
	rc = t->provider->restore(t->provider, &sr);
	if (rc < 0)
		sluice__error_wrap(
			"restore of '%s' subtask %d from checkpoint %lld",
			t->v->uid, (int)t->subtask,
			(long long)r->checkpoint_id);
	t->restored = any;
done:
	sluice__free(keyed);
	sluice__free(inc);
	sluice_opstate_handles_free(ops, num_ops);
	return rc;
}

static int make_providers(sluice_job *job, const sluice_job_restore *r)
{
	int i, rc;

	for (i = 0; i < job->num_tasks; i++) {
		sluice__task *t = &job->tasks[i];
		sluice_state_provider_info info = {
			t->v->uid,         t->subtask,
			t->v->parallelism, t->v->max_parallelism,
			t->kg_start,       t->kg_end,
			job->clock};

		if ((rc = job->factory(&t->provider, &info, job->factory_arg)) <
		    0)
			return rc;
		if (r && (rc = restore_task(t, r)) < 0)
			return rc;
	}
	return 0;
}

/* ---- start / stop ---------------------------------------------------- */

static void release_run(sluice_job *job)
{
	int i;

	sluice__pool_shutdown(&job->pool);
	sluice__metrics_fold(job);
	for (i = 0; i < job->num_tasks && job->tasks; i++)
		sluice__task_release(&job->tasks[i]);
	sluice__csw_release(&job->csw);
	pthread_mutex_lock(&job->lock); /* no wake-up reaches freed inboxes */
	job->wakeable = 0;
	pthread_mutex_unlock(&job->lock);
	for (i = 0; i < job->num_channels; i++)
		sluice__channel_free(job->channels[i]);
	for (i = 0; i < job->num_tasks && job->tasks; i++)
		if (job->tasks[i].job)
			sluice__inbox_release(&job->tasks[i].inbox);
	sluice__free(job->channels);
	sluice__free(job->tasks);
	job->channels = NULL;
	job->num_channels = 0;
	job->tasks = NULL;
	__atomic_store_n(&job->started, 0, __ATOMIC_RELEASE);
}

static int launch(sluice_job *job)
{
	int i;

	pthread_mutex_lock(&job->lock);
	job->status = SLUICE_JOB_STATE_RUNNING;
	job->live_tasks = job->num_tasks;
	job->wakeable = 1;
	pthread_mutex_unlock(&job->lock);
	for (i = 0; i < job->num_tasks; i++) {
		sluice__task *t = &job->tasks[i];

		if (pthread_create(&t->thread, NULL, sluice__task_main, t) !=
		    0) {
			int rc = sluice__error_set(
				SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
				"job '%s': could not start a thread for task "
				"%d",
				job->name, i);

			pthread_mutex_lock(&job->lock);
			job->live_tasks -= job->num_tasks - i;
			pthread_mutex_unlock(&job->lock);
			sluice__job_fail(job, sluice_error_last()->message);
			return rc;
		}
		t->thread_started = 1;
	}
	return 0;
}

int sluice_job_start(
	sluice_job *job,
	const sluice_job_responder *responder,
	const sluice_job_restore *restore)
{
	int rc;

	if (job->started)
		return sluice__error_set(
			SLUICE_EBUSY, SLUICE_ERRCLS_JOB,
			"job '%s' is already started", job->name);
	SLUICE_ERRCHECK(sluice_job_validate(job));
	memset(&job->resp, 0, sizeof(job->resp));
	if (responder)
		job->resp = *responder;
	sluice__free(job->failure);
	job->failure = NULL;
	job->failed = 0;
	job->stopping = 0;
	if (restore && (rc = check_restore(job, restore)) < 0)
		return rc;
	__atomic_store_n(&job->started, 1, __ATOMIC_RELEASE);
	if ((rc = make_tasks(job)) < 0 ||
	    (rc = sluice__csw_init(
		     &job->csw, job->num_tasks,
		     job->opts.max_subtasks_per_channel_state_file,
		     &job->streams, &job->resp, &job->stopping)) < 0 ||
	    (rc = make_channels(job)) < 0 ||
	    (rc = make_providers(job, restore)) < 0 ||
	    (rc = sluice__pool_init(&job->pool, job->opts.snapshot_threads)) <
		    0)
		goto fail;
	__atomic_add_fetch(&job->runs, 1, __ATOMIC_ACQ_REL);
	if ((rc = launch(job)) < 0) {
		sluice_job_stop(job);
		return rc;
	}
	return 0;
fail:
	release_run(job);
	pthread_mutex_lock(&job->lock);
	job->status = SLUICE_JOB_STATE_CREATED;
	pthread_mutex_unlock(&job->lock);
	return rc;
}

void sluice_job_stop(sluice_job *job)
{
	int i;

	if (!job->started)
		return;
	close_all(job);
	for (i = 0; i < job->num_tasks; i++)
		if (job->tasks[i].thread_started)
			pthread_join(job->tasks[i].thread, NULL);
	release_run(job);
}

/* ---- coordinator entry points ---------------------------------------- */

static int post_trigger(sluice_job *job, int index, const sluice__mail *m)
{
	sluice__task *t = &job->tasks[index];
	int st = sluice__task_state_get(t);

	if (st == SLUICE_TASK_STATE_CREATED ||
	    st == SLUICE_TASK_STATE_INITIALIZING) {
		sluice__task_decline(
			t, m->id, SLUICE_CFR_CHECKPOINT_DECLINED_TASK_NOT_READY,
			NULL);
		return 0;
	}
	if (st != SLUICE_TASK_STATE_RUNNING ||
	    sluice__inbox_post(&t->inbox, m) == SLUICE_ECANCELED) {
		sluice__task_decline(
			t, m->id, SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING,
			NULL);
		sluice_error_clear();
	}
	return 0;
}

static void trigger_mail(
	sluice__mail *m,
	int64_t id,
	int64_t timestamp,
	const sluice_checkpoint_options *opts)
{
	memset(m, 0, sizeof(*m));
	m->kind = SLUICE__MAIL_TRIGGER;
	m->id = id;
	m->arg = timestamp;
	if (opts)
		m->opts = *opts;
}

int sluice_job_trigger_checkpoint(
	sluice_job *job,
	int64_t id,
	int64_t timestamp,
	const sluice_checkpoint_options *opts)
{
	sluice__mail m;
	int i;

	if (!job->started)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s' is not started", job->name);
	trigger_mail(&m, id, timestamp, opts);
	for (i = 0; i < job->num_tasks; i++)
		if (job->tasks[i].v->kind == SLUICE_VERTEX_SOURCE)
			post_trigger(job, i, &m);
	return 0;
}

int sluice_job_trigger_task(
	sluice_job *job,
	int task,
	int64_t id,
	int64_t timestamp,
	const sluice_checkpoint_options *opts)
{
	sluice__mail m;

	if (!job->started || task < 0 || task >= job->num_tasks)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s': cannot trigger task %d", job->name, task);
	trigger_mail(&m, id, timestamp, opts);
	return post_trigger(job, task, &m);
}

static int
notify_all(sluice_job *job, sluice__mail_kind kind, int64_t id, int64_t arg)
{
	sluice__mail m;
	int i;

	if (!job->started)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s' is not started", job->name);
	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.id = id;
	m.arg = arg;
	for (i = 0; i < job->num_tasks; i++)
		if (sluice__inbox_post(&job->tasks[i].inbox, &m) < 0)
			sluice_error_clear(); /* finished tasks: nothing to do
					       */
	return 0;
}

int sluice__job_post(sluice_job *job, int task, const sluice__mail *m)
{
	if (!job->started || task < 0 || task >= job->num_tasks)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job '%s': no task %d to notify", job->name, task);
	return sluice__inbox_post(&job->tasks[task].inbox, m);
}

int sluice__job_started(sluice_job *job)
{
	return __atomic_load_n(&job->started, __ATOMIC_ACQUIRE);
}

int sluice_job_notify_complete(
	sluice_job *job, int64_t id, int64_t last_subsumed)
{
	return notify_all(job, SLUICE__MAIL_COMPLETE, id, last_subsumed);
}

int sluice_job_notify_aborted(sluice_job *job, int64_t id)
{
	return notify_all(job, SLUICE__MAIL_ABORTED, id, 0);
}
