/*
 * The checkpoint coordinator (spec §2): owns the request queue (through
 * the decider), the pending checkpoints, the periodic timer, the timeouts,
 * the failure manager and the statistics, and drives checkpoints from
 * request to completion or abort.  Calls to tasks are queued as actions
 * under the lock and made after it is released (see coordinator.h for the
 * lock order); the rules are described in docs/checkpointing.md.
 */
#include <stdio.h>
#include <string.h>

#include "checkpoint/coordinator.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"
#include "util/rng.h"

#define ONE_YEAR_MS  (365LL * 24 * 3600 * 1000)
#define RECENT_IDS   16
#define QUEUE_LOG_MS 100
#define MSG_SIZE     1024

typedef enum act_kind {
	ACT_TRIGGER,
	ACT_NOTIFY_COMPLETE,
	ACT_NOTIFY_ABORTED,
	ACT_FAIL_JOB,
	ACT_DONE
} act_kind;

/* A call to make once the lock is released. */
typedef struct action {
	act_kind kind;
	int has_task;
	sluice__task_ref task;
	int64_t id, ts, arg;
	sluice__trigger_options opts;
	sluice_failure_reason reason;
	int savepoint;
	char *message; /* owned */
	char *path;    /* owned; for ACT_TRIGGER the savepoint target */
	sluice__ckpt_done_fn done;
	void *done_arg;
} action;

struct sluice__coord {
	pthread_mutex_t lock;
	sluice_checkpoint_settings s;
	char *job;
	sluice__coord_vertex *vertices;
	int32_t nv;
	sluice_clock *clock;
	sluice__rng rng;
	sluice__coord_tasks tasks;
	sluice__coord_storage storage;
	int64_t interval_ms; /* base interval; INT64_MAX when disabled */
	int64_t min_pause_ms;
	sluice__decider decider;
	sluice__failure_manager fm;
	sluice__stats stats;
	sluice__pending **pending;
	size_t n_pending, cap_pending;
	sluice__pending *in_trigger; /* being triggered, lock released */
	int triggering, shutdown, periodic;
	int64_t next_periodic; /* mono ms */
	int64_t next_id;
	int64_t latest_completed_id;
	int64_t last_completion_mono; /* 0 at start: no delay at first */
	uint64_t seq;
	int64_t recent[RECENT_IDS];
	size_t n_recent, recent_pos;
	action *out;
	size_t n_out, cap_out;
	void (*wakeup)(void *ctx);
	void *wakeup_ctx;
	int64_t announced; /* the deadline poll last returned */
	/* calls are made in the order they were queued (see leave) */
	pthread_cond_t turn;
	uint64_t next_ticket, serving;
	int dispatching;
	pthread_t dispatcher;
};

static int64_t now_mono(sluice__coord *c)
{
	return sluice_clock_mono_ms(c->clock);
}

static int64_t now_wall(sluice__coord *c)
{
	return sluice_clock_wall_ms(c->clock);
}

static const char *reason_msg(sluice_failure_reason r)
{
	const sluice_failure_info *fi = sluice_failure_info_get(r);

	return fi ? fi->message : "";
}

static void task_name(
	const sluice__coord *c,
	const sluice__task_ref *t,
	char *buf,
	size_t size)
{
	const sluice__coord_vertex *v = t->vertex >= 0 && t->vertex < c->nv
						? &c->vertices[t->vertex]
						: NULL;

	snprintf(
		buf, size, "%s (%d/%d) attempt %llu", v ? v->name : "?",
		t->subtask + 1, v ? v->parallelism : 0,
		(unsigned long long)t->attempt);
}

/* ---- outgoing actions -------------------------------------------------- */

static action *push(sluice__coord *c, act_kind kind, int64_t id)
{
	action *a;

	if (c->n_out == c->cap_out) {
		size_t cap = c->cap_out ? c->cap_out * 2 : 16;
		action *p = sluice__reallocarray(c->out, cap, sizeof(*p));

		if (!p) {
			sluice__warn(
				"checkpoint %lld: out of memory, a task "
				"call (kind %d) is dropped",
				(long long)id, (int)kind);
			return NULL;
		}
		c->out = p;
		c->cap_out = cap;
	}
	a = &c->out[c->n_out++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->id = id;
	return a;
}

static void push_done(
	sluice__coord *c,
	sluice__ckpt_done_fn done,
	void *arg,
	int64_t id,
	int savepoint,
	sluice_failure_reason reason,
	const char *message,
	const char *path)
{
	action *a;

	if (!done || !(a = push(c, ACT_DONE, id)))
		return;
	a->done = done;
	a->done_arg = arg;
	a->savepoint = savepoint;
	a->reason = reason;
	a->message = message ? sluice__strdup(message) : NULL;
	a->path = path ? sluice__strdup(path) : NULL;
}

static void push_fail_job(
	sluice__coord *c, const char *message, const sluice__task_ref *task)
{
	action *a = push(c, ACT_FAIL_JOB, -1);

	if (!a)
		return;
	a->message = sluice__strdup(message);
	if (task) {
		a->has_task = 1;
		a->task = *task;
	}
}

static void trigger_failed(
	sluice__coord *c, const sluice__task_ref *task, int64_t id, int rc);

static void run_notify(sluice__coord *c, const action *a)
{
	int rc;

	if (a->kind == ACT_NOTIFY_COMPLETE)
		rc = c->tasks.notify_complete(
			c->tasks.ctx, &a->task, a->id, a->ts, a->arg);
	else
		rc = c->tasks.notify_aborted(
			c->tasks.ctx, &a->task, a->id, a->arg, a->ts);
	if (rc == SLUICE_ENOTFOUND)
		sluice__warn(
			"TaskManager received a checkpoint confirmation "
			"for unknown task %llu. Failure reason: %s",
			(unsigned long long)a->task.attempt,
			reason_msg(
				SLUICE_CFR_UNKNOWN_TASK_CHECKPOINT_NOTIFICATION_FAILURE));
	else if (rc < 0)
		sluice__warn(
			"checkpoint %lld: notifying a task failed: %s",
			(long long)a->id, sluice_error_last()->message);
}

static void run_action(sluice__coord *c, const action *a)
{
	sluice__trigger_options o;
	sluice__ckpt_result r;
	int rc;

	switch (a->kind) {
	case ACT_TRIGGER:
		o = a->opts;
		o.target = a->path;
		rc = c->tasks.trigger(c->tasks.ctx, &a->task, a->id, a->ts, &o);
		if (rc < 0)
			trigger_failed(c, &a->task, a->id, rc);
		break;
	case ACT_NOTIFY_COMPLETE:
	case ACT_NOTIFY_ABORTED:
		run_notify(c, a);
		break;
	case ACT_FAIL_JOB:
		c->tasks.fail_job(
			c->tasks.ctx,
			a->message ? a->message : SLUICE_FM_EXCEEDED,
			a->has_task ? &a->task : NULL);
		break;
	case ACT_DONE:
		r.id = a->id;
		r.reason = a->reason;
		r.message = a->message;
		r.external_path = a->path;
		r.savepoint = a->savepoint;
		a->done(a->done_arg, &r);
		break;
	}
}

static int64_t next_deadline(const sluice__coord *c);

/*
 * Release the lock, then make the queued calls (and wake the poller).
 * Calls reach tasks in the order they were queued, whichever thread
 * queued them: a thread with calls waits for its turn behind the batches
 * queued before its own.  Without that a savepoint triggered from one
 * thread could reach a source before an earlier periodic checkpoint did;
 * the source then takes the savepoint and skips the older trigger as
 * stale, and that checkpoint stays pending, blocking the periodic ones,
 * until it times out.  A call that re-enters the coordinator from the
 * thread making calls makes its own at once (nested), which keeps the
 * order too: they follow from the call being made.
 */
static void leave(sluice__coord *c)
{
	action *acts = c->out;
	size_t i, n = c->n_out;
	int64_t next = next_deadline(c);
	int wake = 0, turn;

	if (next < c->announced) {
		c->announced = next;
		wake = c->wakeup != NULL;
	}
	c->out = NULL;
	c->n_out = c->cap_out = 0;
	turn = n > 0 && !(c->dispatching &&
			  pthread_equal(c->dispatcher, pthread_self()));
	if (turn) {
		uint64_t ticket = c->next_ticket++;

		while (c->serving != ticket)
			pthread_cond_wait(&c->turn, &c->lock);
		c->dispatching = 1;
		c->dispatcher = pthread_self();
	}
	pthread_mutex_unlock(&c->lock);
	if (wake)
		c->wakeup(c->wakeup_ctx);
	for (i = 0; i < n; i++)
		run_action(c, &acts[i]);
	for (i = 0; i < n; i++) {
		sluice__free(acts[i].message);
		sluice__free(acts[i].path);
	}
	sluice__free(acts);
	if (turn) {
		pthread_mutex_lock(&c->lock);
		c->dispatching = 0;
		c->serving++;
		pthread_cond_broadcast(&c->turn);
		pthread_mutex_unlock(&c->lock);
	}
}

/* ---- pending bookkeeping ----------------------------------------------- */

static sluice__pending *find_pending(sluice__coord *c, int64_t id)
{
	size_t i;

	for (i = 0; i < c->n_pending; i++)
		if (c->pending[i]->id == id)
			return c->pending[i];
	return NULL;
}

static void remove_pending(sluice__coord *c, sluice__pending *p)
{
	size_t i;

	for (i = 0; i < c->n_pending; i++) {
		if (c->pending[i] != p)
			continue;
		memmove(&c->pending[i], &c->pending[i + 1],
			(c->n_pending - i - 1) * sizeof(*c->pending));
		c->n_pending--;
		return;
	}
}

static void remember(sluice__coord *c, int64_t id)
{
	c->recent[c->recent_pos] = id;
	c->recent_pos = (c->recent_pos + 1) % RECENT_IDS;
	if (c->n_recent < RECENT_IDS)
		c->n_recent++;
}

static int recently_finished(const sluice__coord *c, int64_t id)
{
	size_t i;

	for (i = 0; i < c->n_recent; i++)
		if (c->recent[i] == id)
			return 1;
	return 0;
}

static void apply_fm(
	sluice__coord *c,
	const sluice__fm_failure *f,
	const sluice__task_ref *task)
{
	const char *msg = NULL;
	sluice__fm_verdict v = sluice__fm_on_failure(&c->fm, f, &msg);

	if (v == SLUICE_FM_FAIL_JOB)
		push_fail_job(c, msg, NULL);
	else if (v == SLUICE_FM_FAIL_JOB_TASK)
		push_fail_job(c, msg, task);
}

/*
 * Abort a pending checkpoint (spec §2.7).  `tm_task` is the declining
 * attempt for a TM-side failure, NULL for a JM-side one.
 */
static void abort_pending(
	sluice__coord *c,
	sluice__pending *p,
	sluice_failure_reason reason,
	const char *text,
	const sluice__task_ref *tm_task)
{
	char msg[MSG_SIZE];
	sluice__fm_failure f;
	size_t i;
	action *a;

	if (p->disposed)
		return;
	p->disposed = 1;
	sluice_failure_format(msg, sizeof(msg), reason, text);
	if (p->savepoint && reason == SLUICE_CFR_CHECKPOINT_SUBSUMED)
		sluice__warn(
			"Bug: savepoints must never be subsumed, the "
			"abort reason is : %s",
			msg);
	if (p->location_ready && c->storage.discard)
		c->storage.discard(
			c->storage.ctx, p->id, p->location, p->acks,
			p->plan.n_running);
	p->location = NULL;
	p->location_ready = 0;
	sluice__stats_report_failed(&c->stats, p->id, now_wall(c), reason, msg);
	f = (sluice__fm_failure){
		p->id,           reason, msg, p->savepoint, p->sync_savepoint,
		tm_task != NULL, c->job};
	apply_fm(c, &f, tm_task);
	for (i = 0; i < p->plan.n_running; i++) {
		if (!(a = push(c, ACT_NOTIFY_ABORTED, p->id)))
			break;
		a->task = p->plan.running[i];
		a->arg = c->latest_completed_id;
		a->ts = p->trigger_ts_ms;
	}
	remove_pending(c, p);
	remember(c, p->id);
	push_done(
		c, p->done, p->done_arg, p->id, p->savepoint, reason, msg,
		NULL);
	if (p != c->in_trigger)
		sluice__pending_free(p);
}

static void abort_all_pending(sluice__coord *c, sluice_failure_reason reason)
{
	while (c->n_pending > 0)
		abort_pending(c, c->pending[0], reason, NULL, NULL);
}

/* ---- requests ---------------------------------------------------------- */

/* Fail a request the decider dropped (no failure manager, no stats). */
static void drop_request(
	sluice__coord *c,
	sluice__ckpt_request *req,
	sluice_failure_reason reason)
{
	push_done(
		c, req->done, req->done_arg, -1, req->savepoint, reason,
		reason_msg(reason), NULL);
	sluice__ckpt_request_free(req);
}

/* Fail a request before a pending checkpoint exists (trigger failure). */
static void fail_request(
	sluice__coord *c,
	sluice__ckpt_request *req,
	sluice_failure_reason reason,
	const char *text)
{
	char msg[MSG_SIZE];
	sluice__fm_failure f;

	sluice_failure_format(msg, sizeof(msg), reason, text);
	sluice__stats_report_failed_without_pending(&c->stats);
	f = (sluice__fm_failure){
		SLUICE_FM_UNKNOWN_ID, reason, msg,   req->savepoint,
		req->sync_savepoint,  0,      c->job};
	apply_fm(c, &f, NULL);
	push_done(
		c, req->done, req->done_arg, -1, req->savepoint, reason, msg,
		NULL);
	sluice__ckpt_request_free(req);
}

static void abort_all_queued(sluice__coord *c, sluice_failure_reason reason)
{
	sluice__ckpt_request *req;

	while ((req = sluice__decider_pop(&c->decider)))
		drop_request(c, req, reason);
}

/* The global pre-check (spec §1.4): 0 when the request may go on. */
static sluice_failure_reason precheck(const sluice__coord *c, int periodic)
{
	if (c->shutdown)
		return SLUICE_CFR_CHECKPOINT_COORDINATOR_SHUTDOWN;
	if (periodic && !c->periodic)
		return SLUICE_CFR_PERIODIC_SCHEDULER_SHUTDOWN;
	return SLUICE_CFR_NONE;
}

static void choose(sluice__coord *c);

static sluice__trigger_options
trigger_options(const sluice__coord *c, const sluice__pending *p)
{
	sluice__trigger_options o;

	memset(&o, 0, sizeof(o));
	o.kind = p->sync_savepoint ? SLUICE_CKPT_SYNC_SAVEPOINT
		 : p->savepoint    ? SLUICE_CKPT_SAVEPOINT
				   : SLUICE_CKPT_CHECKPOINT;
	if (c->s.mode == SLUICE_AT_LEAST_ONCE) {
		o.alignment = SLUICE_ALIGN_AT_LEAST_ONCE;
	} else if (p->savepoint) {
		o.alignment = c->s.unaligned ? SLUICE_ALIGN_FORCED_ALIGNED
					     : SLUICE_ALIGN_ALIGNED;
	} else if (c->s.unaligned) {
		o.alignment = SLUICE_ALIGN_UNALIGNED;
		o.aligned_timeout_ms = c->s.aligned_timeout_ms;
	} else {
		o.alignment = SLUICE_ALIGN_ALIGNED;
	}
	return o;
}

static uint64_t total_state_size(const sluice__pending *p)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < p->plan.n_running; i++)
		if (p->acks[i])
			sum += p->acks[i]->state_size;
	return sum;
}

/* Abort older pending checkpoints that can be subsumed (not savepoints). */
static void subsume_older(sluice__coord *c, int64_t id)
{
	size_t i = 0;

	while (i < c->n_pending) {
		sluice__pending *q = c->pending[i];

		if (q->id < id && !q->savepoint && !q->disposed) {
			abort_pending(
				c, q, SLUICE_CFR_CHECKPOINT_SUBSUMED, NULL,
				NULL);
			i = 0; /* the array changed */
			continue;
		}
		i++;
	}
}

static void notify_complete(
	sluice__coord *c, const sluice__pending *p, int64_t last_subsumed)
{
	size_t i;
	action *a;

	for (i = 0; i < p->plan.n_running; i++) {
		if (!(a = push(c, ACT_NOTIFY_COMPLETE, p->id)))
			return;
		a->task = p->plan.running[i];
		a->ts = p->trigger_ts_ms;
		a->arg = last_subsumed;
	}
}

/* Finalize and store; on failure abort and return a negative code. */
static int finalize(
	sluice__coord *c,
	sluice__pending *p,
	char **path,
	int64_t *last_subsumed)
{
	char text[128];
	int rc;

	*path = NULL;
	*last_subsumed = -1;
	rc = c->storage.finalize(c->storage.ctx, p->location, p, path);
	if (rc < 0) {
		sluice__warn(
			"checkpoint %lld of job %s: finalize failed: %s",
			(long long)p->id, c->job, sluice_error_last()->message);
		snprintf(
			text, sizeof(text),
			"Could not finalize the pending checkpoint %lld.",
			(long long)p->id);
		/* state of a partially finished operator that cannot be
		 * checkpointed (spec §1.4) */
		abort_pending(
			c, p,
			rc == SLUICE_EUNSUPPORTED
				? SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING
				: SLUICE_CFR_FINALIZE_CHECKPOINT_FAILURE,
			text, NULL);
		return rc;
	}
	if (p->savepoint) {
		if (c->storage.release)
			c->storage.release(c->storage.ctx, p->location);
		return 0;
	}
	rc = c->storage.add_completed(
		c->storage.ctx, p->id, p->location, *path, last_subsumed);
	if (rc < 0) {
		sluice__warn(
			"checkpoint %lld of job %s: adding to the "
			"completed store failed: %s",
			(long long)p->id, c->job, sluice_error_last()->message);
		snprintf(
			text, sizeof(text),
			"Could not complete the pending checkpoint %lld.",
			(long long)p->id);
		abort_pending(
			c, p, SLUICE_CFR_FINALIZE_CHECKPOINT_FAILURE, text,
			NULL);
	}
	return rc;
}

/* All acks are in (spec §2.6). */
static void complete(sluice__coord *c, sluice__pending *p)
{
	int64_t start = now_mono(c), last_subsumed, end;
	char *path;

	if (finalize(c, p, &path, &last_subsumed) < 0) {
		sluice__free(path);
		return;
	}
	p->location = NULL;
	p->location_ready = 0;
	p->disposed = 1;
	sluice__stats_report_completed(&c->stats, p->id, path);
	sluice__fm_on_success(&c->fm, p->id);
	remove_pending(c, p);
	remember(c, p->id);
	end = now_mono(c);
	c->last_completion_mono = end;
	if (!p->savepoint && p->id > c->latest_completed_id)
		c->latest_completed_id = p->id;
	sluice__info(
		"Completed checkpoint %lld for job %s (%llu bytes, "
		"checkpointDuration=%lld ms, finalizationTime=%lld ms).",
		(long long)p->id, c->job,
		(unsigned long long)total_state_size(p),
		(long long)(now_wall(c) - p->trigger_ts_ms),
		(long long)(end - start));
	if (!p->savepoint || p->sync_savepoint) {
		subsume_older(c, p->id);
		notify_complete(c, p, last_subsumed);
	}
	push_done(
		c, p->done, p->done_arg, p->id, p->savepoint, SLUICE_CFR_NONE,
		NULL, path);
	sluice__free(path);
	sluice__pending_free(p);
}

static int reserve_pending(sluice__coord *c)
{
	sluice__pending **n;
	size_t cap;

	if (c->n_pending < c->cap_pending)
		return 0;
	cap = c->cap_pending ? c->cap_pending * 2 : 8;
	n = sluice__reallocarray(c->pending, cap, sizeof(*n));
	if (!n)
		return sluice__error_oom();
	c->pending = n;
	c->cap_pending = cap;
	return 0;
}

/* Steps 1-2 of §2.4, lock released while the plan is computed.  Returns
 * 0 with the plan, or fails the request and returns -1. */
static int
plan_request(sluice__coord *c, sluice__ckpt_request *req, sluice__plan *plan)
{
	char msg[MSG_SIZE];
	sluice_failure_reason pre;
	int rc;

	pthread_mutex_unlock(&c->lock);
	rc = sluice__plan_compute(
		plan, c->vertices, c->nv, c->tasks.state, c->tasks.ctx,
		c->s.checkpoints_after_tasks_finish, c->job, msg, sizeof(msg));
	pthread_mutex_lock(&c->lock);
	if (rc < 0) {
		fail_request(
			c, req,
			rc == SLUICE_EBUSY
				? SLUICE_CFR_NOT_ALL_REQUIRED_TASKS_RUNNING
				: SLUICE_CFR_TRIGGER_CHECKPOINT_FAILURE,
			rc == SLUICE_EBUSY ? msg : NULL);
		return -1;
	}
	pre = precheck(c, req->periodic);
	if (pre == SLUICE_CFR_NONE && reserve_pending(c) < 0)
		pre = SLUICE_CFR_TRIGGER_CHECKPOINT_FAILURE;
	if (pre != SLUICE_CFR_NONE) {
		sluice__plan_release(plan);
		fail_request(c, req, pre, NULL);
		return -1;
	}
	return 0;
}

/* Make a new pending checkpoint known: list, statistics, log line. */
static void register_pending(sluice__coord *c, sluice__pending *p)
{
	c->pending[c->n_pending++] = p;
	(void)sluice__stats_report_pending(
		&c->stats, p->id, trigger_options(c, p).kind, p->trigger_ts_ms,
		&p->plan);
	sluice__info(
		"Triggering checkpoint %lld (type=%s) @ %lld for job %s.",
		(long long)p->id,
		sluice__ckpt_kind_name(trigger_options(c, p).kind),
		(long long)p->trigger_ts_ms, c->job);
}

/* Steps 3-5: id, pending checkpoint, timeout, storage location. */
static sluice__pending *create_pending(
	sluice__coord *c,
	sluice__ckpt_request *req,
	sluice__plan *plan,
	int64_t ts)
{
	sluice__pending *p;
	void *loc = NULL;
	int rc;

	if (sluice__pending_new(
		    &p, c->next_id, ts, now_mono(c), c->s.timeout_ms, req,
		    plan) < 0) {
		sluice__plan_release(plan);
		fail_request(
			c, req, SLUICE_CFR_TRIGGER_CHECKPOINT_FAILURE, NULL);
		return NULL;
	}
	c->next_id++;
	sluice__ckpt_request_free(req);
	register_pending(c, p);
	c->in_trigger = p;
	pthread_mutex_unlock(&c->lock);
	rc = c->storage.init_location(
		c->storage.ctx, p->id, p->savepoint, p->target, &loc);
	if (rc < 0)
		sluice__warn(
			"checkpoint %lld of job %s: could not initialise "
			"the storage location: %s",
			(long long)p->id, c->job, sluice_error_last()->message);
	pthread_mutex_lock(&c->lock);
	c->in_trigger = NULL;
	if (p->disposed) { /* aborted meanwhile (shutdown, expiry) */
		if (rc == 0 && c->storage.discard)
			c->storage.discard(c->storage.ctx, p->id, loc, NULL, 0);
		sluice__pending_free(p);
		return NULL;
	}
	if (rc < 0) {
		abort_pending(
			c, p,
			rc == SLUICE_EIO
				? SLUICE_CFR_IO_EXCEPTION
				: SLUICE_CFR_TRIGGER_CHECKPOINT_FAILURE,
			NULL, NULL);
		return NULL;
	}
	p->location = loc;
	p->location_ready = 1;
	return p;
}

/* The trigger pipeline for one request (spec §2.4); lock held. */
static void trigger_one(sluice__coord *c, sluice__ckpt_request *req)
{
	sluice__plan plan;
	sluice__pending *p;
	sluice__trigger_options o;
	sluice_failure_reason pre = precheck(c, req->periodic);
	int64_t ts;
	size_t i;
	action *a;

	if (pre != SLUICE_CFR_NONE) {
		fail_request(c, req, pre, NULL);
		return;
	}
	c->triggering = 1;
	ts = now_wall(c);
	if (plan_request(c, req, &plan) < 0 ||
	    !(p = create_pending(c, req, &plan, ts))) {
		c->triggering = 0;
		return;
	}
	o = trigger_options(c, p);
	for (i = 0; i < p->plan.n_trigger; i++) {
		if (!(a = push(c, ACT_TRIGGER, p->id)))
			break;
		a->task = p->plan.trigger[i];
		a->ts = p->trigger_ts_ms;
		a->opts = o;
		a->path = p->target ? sluice__strdup(p->target) : NULL;
	}
	c->triggering = 0;
	if (sluice__pending_fully_acked(p))
		complete(c, p);
}

/* Pick and trigger queued requests while the decider allows (§2.3). */
static void choose(sluice__coord *c)
{
	for (;;) {
		sluice__ckpt_request *req;
		int64_t delay, now = now_mono(c);
		sluice__decision d = sluice__decider_choose(
			&c->decider, c->triggering, now,
			c->last_completion_mono, (int32_t)c->n_pending, 0, &req,
			&delay);

		if (d == SLUICE_DECIDE_NOTHING)
			return;
		if (d == SLUICE_DECIDE_MIN_PAUSE) {
			drop_request(
				c, req,
				SLUICE_CFR_MINIMUM_TIME_BETWEEN_CHECKPOINTS);
			if (c->periodic)
				c->next_periodic = now + delay;
			return;
		}
		if (now - req->queued_mono_ms > QUEUE_LOG_MS)
			sluice__info(
				"checkpoint request time in queue: %lld ms",
				(long long)(now - req->queued_mono_ms));
		trigger_one(c, req);
	}
}

static void submit(sluice__coord *c, sluice__ckpt_request *req)
{
	sluice__ckpt_request *lost;
	int rejected_new;

	req->seq = c->seq++;
	req->created_ms = now_wall(c);
	req->queued_mono_ms = now_mono(c);
	lost = sluice__decider_submit(&c->decider, req, &rejected_new);
	if (lost)
		drop_request(c, lost, SLUICE_CFR_TOO_MANY_CHECKPOINT_REQUESTS);
	if (!rejected_new)
		choose(c);
}

static sluice__ckpt_request *new_request(
	int savepoint, int sync, int forced, int periodic, const char *target)
{
	sluice__ckpt_request *r = sluice__calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->savepoint = savepoint;
	r->sync_savepoint = sync;
	r->forced = forced;
	r->periodic = periodic;
	if (target && !(r->target = sluice__strdup(target))) {
		sluice__free(r);
		return NULL;
	}
	return r;
}

/* ---- public entry points ----------------------------------------------- */

int sluice__coord_trigger_checkpoint(
	sluice__coord *c, sluice__ckpt_done_fn done, void *arg)
{
	sluice__ckpt_request *r = new_request(0, 0, 0, 0, NULL);

	if (!r)
		return sluice__error_oom();
	r->done = done;
	r->done_arg = arg;
	pthread_mutex_lock(&c->lock);
	submit(c, r);
	leave(c);
	return 0;
}

int sluice__coord_trigger_savepoint(
	sluice__coord *c,
	const char *target,
	int sync,
	sluice__ckpt_done_fn done,
	void *arg)
{
	sluice__ckpt_request *r =
		new_request(1, sync ? 1 : 0, !c->s.unaligned, 0, target);

	if (!r)
		return sluice__error_oom();
	r->done = done;
	r->done_arg = arg;
	pthread_mutex_lock(&c->lock);
	submit(c, r);
	leave(c);
	return 0;
}

static void expire_due(sluice__coord *c, int64_t now)
{
	size_t i = 0;

	while (i < c->n_pending) {
		sluice__pending *p = c->pending[i];

		if (!p->disposed && p->deadline_mono_ms <= now) {
			sluice__info(
				"Checkpoint %lld of job %s expired before "
				"completing.",
				(long long)p->id, c->job);
			abort_pending(
				c, p, SLUICE_CFR_CHECKPOINT_EXPIRED, NULL,
				NULL);
			i = 0;
			continue;
		}
		i++;
	}
}

static int64_t next_deadline(const sluice__coord *c)
{
	int64_t next = c->periodic ? c->next_periodic : INT64_MAX;
	size_t i;

	for (i = 0; i < c->n_pending; i++)
		if (!c->pending[i]->disposed &&
		    c->pending[i]->deadline_mono_ms < next)
			next = c->pending[i]->deadline_mono_ms;
	return next;
}

int64_t sluice__coord_poll(sluice__coord *c)
{
	int64_t now, next;

	pthread_mutex_lock(&c->lock);
	now = now_mono(c);
	expire_due(c, now);
	if (c->periodic && now >= c->next_periodic) {
		sluice__ckpt_request *r = new_request(0, 0, 0, 1, NULL);
		int64_t n = c->next_periodic;

		while (n <= now && n <= INT64_MAX - c->interval_ms)
			n += c->interval_ms;
		c->next_periodic = n;
		if (r)
			submit(c, r);
		else
			sluice__warn(
				"job %s: out of memory, periodic "
				"checkpoint skipped",
				c->job);
	}
	choose(c);
	next = next_deadline(c);
	c->announced = next;
	leave(c);
	return next;
}

void sluice__coord_ack(
	sluice__coord *c,
	const sluice__task_ref *task,
	int64_t id,
	sluice__subtask_snapshot *snap)
{
	char name[256];
	sluice__pending *p;
	sluice__ack_result r = SLUICE_ACK_DISCARDED;
	size_t idx;

	pthread_mutex_lock(&c->lock);
	task_name(c, task, name, sizeof(name));
	p = find_pending(c, id);
	if (snap && c->storage.register_shared && !(p && p->savepoint))
		c->storage.register_shared(c->storage.ctx, id, snap);
	if (p) {
		const sluice__subtask_snapshot *view = snap;

		r = sluice__pending_ack(p, task, &snap, &idx);
		if (r == SLUICE_ACK_SUCCESS) {
			sluice__stats_report_ack(
				&c->stats, id, task->vertex, task->subtask,
				now_wall(c), view);
			if (sluice__pending_fully_acked(p) && p->location_ready)
				complete(c, p);
		} else if (r == SLUICE_ACK_DUPLICATE) {
			sluice__debug(
				"Received a duplicate acknowledge message "
				"for checkpoint %lld, task %s, job %s.",
				(long long)id, name, c->job);
		} else {
			sluice__warn(
				"Could not acknowledge the checkpoint %lld "
				"for task %s of job %s, because the %s. "
				"Discarding the state handle to avoid "
				"lingering state.",
				(long long)id, name, c->job,
				r == SLUICE_ACK_UNKNOWN
					? "task's execution attempt id was "
					  "unknown"
					: "pending checkpoint had been "
					  "discarded");
		}
	} else if (recently_finished(c, id)) {
		sluice__warn(
			"Received late message for now expired checkpoint "
			"attempt %lld from task %s of job %s.",
			(long long)id, name, c->job);
	} else {
		sluice__debug(
			"Received message for an unknown checkpoint %lld "
			"from task %s of job %s.",
			(long long)id, name, c->job);
	}
	if (snap && r != SLUICE_ACK_DUPLICATE && c->storage.discard)
		c->storage.discard(c->storage.ctx, id, NULL, &snap, 1);
	sluice__subtask_snapshot_free(snap);
	choose(c);
	leave(c);
}

void sluice__coord_decline(
	sluice__coord *c,
	const sluice__task_ref *task,
	int64_t id,
	sluice_failure_reason reason,
	const char *text)
{
	char name[256];
	sluice__pending *p;

	pthread_mutex_lock(&c->lock);
	p = find_pending(c, id);
	if (p && !p->disposed) {
		abort_pending(c, p, reason, text, task);
	} else {
		task_name(c, task, name, sizeof(name));
		sluice__debug(
			"Received decline message for %s checkpoint %lld "
			"from task %s of job %s.",
			recently_finished(c, id) ? "now expired" : "unknown",
			(long long)id, name, c->job);
	}
	choose(c);
	leave(c);
}

static void trigger_failed(
	sluice__coord *c, const sluice__task_ref *task, int64_t id, int rc)
{
	char text[160];

	snprintf(
		text, sizeof(text),
		"TaskManager received a checkpoint request for unknown task "
		"%llu.",
		(unsigned long long)task->attempt);
	sluice__coord_decline(
		c, task, id, SLUICE_CFR_TASK_CHECKPOINT_FAILURE,
		rc == SLUICE_ENOTFOUND ? text : NULL);
}

void sluice__coord_task_failed(sluice__coord *c, const sluice__task_ref *task)
{
	size_t i = 0;

	pthread_mutex_lock(&c->lock);
	while (i < c->n_pending) {
		sluice__pending *p = c->pending[i];
		long k = sluice__pending_find(p, task->vertex, task->subtask);

		if (!p->disposed && k >= 0 &&
		    p->plan.running[k].attempt == task->attempt &&
		    !p->acked[k]) {
			abort_pending(
				c, p, SLUICE_CFR_TASK_FAILURE, NULL, NULL);
			i = 0;
			continue;
		}
		i++;
	}
	choose(c);
	leave(c);
}

void sluice__coord_failover(sluice__coord *c)
{
	pthread_mutex_lock(&c->lock);
	abort_all_pending(c, SLUICE_CFR_JOB_FAILOVER_REGION);
	choose(c);
	leave(c);
}

int sluice__coord_start_scheduler(sluice__coord *c)
{
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	if (c->shutdown) {
		rc = sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CHECKPOINT,
			"Checkpoint coordinator is shut down");
	} else if (c->interval_ms == INT64_MAX) {
		rc = sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CHECKPOINT,
			"Can not start checkpoint scheduler, if no periodic "
			"checkpointing is configured");
	} else {
		c->periodic = 1;
		c->next_periodic =
			now_mono(c) +
			sluice__rng_range(
				&c->rng, c->min_pause_ms, c->interval_ms);
	}
	leave(c);
	return rc;
}

void sluice__coord_stop_scheduler(sluice__coord *c)
{
	pthread_mutex_lock(&c->lock);
	c->periodic = 0;
	c->next_periodic = INT64_MAX;
	abort_all_queued(c, SLUICE_CFR_CHECKPOINT_COORDINATOR_SUSPEND);
	abort_all_pending(c, SLUICE_CFR_CHECKPOINT_COORDINATOR_SUSPEND);
	leave(c);
}

void sluice__coord_shutdown(sluice__coord *c)
{
	pthread_mutex_lock(&c->lock);
	if (!c->shutdown) {
		c->shutdown = 1;
		c->periodic = 0;
		c->next_periodic = INT64_MAX;
		abort_all_queued(c, SLUICE_CFR_CHECKPOINT_COORDINATOR_SHUTDOWN);
		abort_all_pending(
			c, SLUICE_CFR_CHECKPOINT_COORDINATOR_SHUTDOWN);
	}
	leave(c);
}

void sluice__coord_restored(
	sluice__coord *c,
	int64_t id,
	int is_savepoint,
	const char *external_path)
{
	pthread_mutex_lock(&c->lock);
	if (is_savepoint || id + 1 > c->next_id)
		c->next_id = id + 1;
	if (!is_savepoint && id > c->latest_completed_id)
		c->latest_completed_id = id;
	sluice__stats_report_restored(
		&c->stats, id, now_wall(c), is_savepoint, external_path);
	pthread_mutex_unlock(&c->lock);
}

sluice__stats *sluice__coord_stats(sluice__coord *c)
{
	return &c->stats;
}

void sluice__coord_info_get(sluice__coord *c, sluice__coord_info *out)
{
	pthread_mutex_lock(&c->lock);
	out->queued = c->decider.n;
	out->pending = c->n_pending;
	out->next_id = c->next_id;
	out->latest_completed_id = c->latest_completed_id;
	out->failure_counter = c->fm.counter;
	out->periodic = c->periodic;
	out->next_periodic = c->periodic ? c->next_periodic : INT64_MAX;
	out->interval_ms = c->interval_ms;
	out->min_pause_ms = c->min_pause_ms;
	pthread_mutex_unlock(&c->lock);
}

/* ---- construction ------------------------------------------------------ */

static int invalid(const char *key, const char *rule, long long got)
{
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG, "%s: %s (got %lld)", key,
		rule, got);
}

static int validate(const sluice_checkpoint_settings *s)
{
	if (s->enabled && s->interval_ms < 10)
		return invalid(
			"execution.checkpointing.interval",
			"Checkpoint interval must be larger than or equal to "
			"10 ms",
			(long long)s->interval_ms);
	if (s->timeout_ms < 10)
		return invalid(
			"execution.checkpointing.timeout",
			"Checkpoint timeout must be larger than or equal to 10 "
			"ms",
			(long long)s->timeout_ms);
	if (s->min_pause_ms < 0)
		return invalid(
			"execution.checkpointing.min-pause",
			"Pause value must be zero or positive",
			(long long)s->min_pause_ms);
	if (s->max_concurrent < 1)
		return invalid(
			"execution.checkpointing.max-concurrent-checkpoints",
			"The maximum number of concurrent attempts must be at "
			"least one.",
			(long long)s->max_concurrent);
	if (s->tolerable_failures < 0)
		return invalid(
			"execution.checkpointing.tolerable-failed-checkpoints",
			"The tolerable failure checkpoint number must be "
			"non-negative.",
			(long long)s->tolerable_failures);
	if (s->unaligned && s->max_concurrent > 1)
		return invalid(
			"execution.checkpointing.max-concurrent-checkpoints",
			"maxConcurrentCheckpoints can't be > 1 if "
			"UnalignedCheckpoints enabled",
			(long long)s->max_concurrent);
	return 0;
}

static int copy_vertices(sluice__coord *c, const sluice__coord_options *o)
{
	int32_t i;

	c->vertices = sluice__calloc(
		o->n_vertices > 0 ? (size_t)o->n_vertices : 1,
		sizeof(*c->vertices));
	if (!c->vertices)
		return sluice__error_oom();
	c->nv = o->n_vertices;
	for (i = 0; i < o->n_vertices; i++) {
		const sluice__coord_vertex *v = &o->vertices[i];
		sluice__coord_vertex *d = &c->vertices[i];

		d->parallelism = v->parallelism;
		d->name = sluice__strdup(v->name ? v->name : "");
		d->n_inputs = v->n_inputs;
		if (v->n_inputs)
			d->inputs = sluice__memdup(
				v->inputs, v->n_inputs * sizeof(*v->inputs));
		if (!d->name || (v->n_inputs && !d->inputs))
			return sluice__error_oom();
	}
	return 0;
}

static int init_parts(sluice__coord *c, const sluice__coord_options *o)
{
	const char **names;
	int32_t i;
	int rc;

	SLUICE_ERRCHECK(
		sluice__fm_init(&c->fm, o->settings->tolerable_failures));
	SLUICE_ERRCHECK(sluice__decider_init(
		&c->decider, o->settings->max_concurrent, c->min_pause_ms,
		SLUICE_DECIDER_QUEUE_LIMIT));
	SLUICE_ERRCHECK(copy_vertices(c, o));
	names = sluice__calloc(c->nv > 0 ? (size_t)c->nv : 1, sizeof(*names));
	if (!names)
		return sluice__error_oom();
	for (i = 0; i < c->nv; i++)
		names[i] = c->vertices[i].name;
	rc = sluice__stats_init(
		&c->stats, names, c->nv,
		o->history_size ? o->history_size
				: SLUICE_STATS_DEFAULT_HISTORY);
	sluice__free(names);
	return rc;
}

int sluice__coord_new(sluice__coord **out, const sluice__coord_options *o)
{
	sluice__coord *c;
	int rc;

	*out = NULL;
	if (!o->tasks || !o->storage || !o->tasks->state ||
	    !o->tasks->trigger || !o->tasks->notify_complete ||
	    !o->tasks->notify_aborted || !o->tasks->fail_job ||
	    !o->storage->init_location || !o->storage->finalize ||
	    !o->storage->add_completed)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_INVALID,
			"checkpoint coordinator: task and storage callbacks "
			"are required");
	SLUICE_ERRCHECK(validate(o->settings));
	if (!(c = sluice__calloc(1, sizeof(*c))))
		return sluice__error_oom();
	c->s = *o->settings;
	c->s.dir = c->s.savepoint_dir = c->s.storage = NULL; /* borrowed */
	c->min_pause_ms = c->s.min_pause_ms > ONE_YEAR_MS ? ONE_YEAR_MS
							  : c->s.min_pause_ms;
	c->interval_ms = !c->s.enabled                        ? INT64_MAX
			 : c->s.interval_ms > c->min_pause_ms ? c->s.interval_ms
							      : c->min_pause_ms;
	c->clock = o->clock ? o->clock : sluice_clock_system();
	sluice__rng_seed(&c->rng, o->seed);
	c->tasks = *o->tasks;
	c->storage = *o->storage;
	c->next_id = 1;
	c->latest_completed_id = -1;
	c->next_periodic = INT64_MAX;
	c->announced = INT64_MAX;
	c->wakeup = o->wakeup;
	c->wakeup_ctx = o->wakeup_ctx;
	c->job = sluice__strdup(o->job_id ? o->job_id : "");
	if (!c->job) {
		sluice__free(c);
		return sluice__error_oom();
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->turn, NULL);
	if ((rc = init_parts(c, o)) < 0) {
		sluice__coord_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void sluice__coord_free(sluice__coord *c)
{
	sluice__ckpt_request *req;
	int32_t i;
	size_t k;

	if (!c)
		return;
	while (c->decider.queue && (req = sluice__decider_pop(&c->decider)))
		sluice__ckpt_request_free(req);
	sluice__decider_release(&c->decider);
	for (k = 0; k < c->n_pending; k++)
		sluice__pending_free(c->pending[k]);
	sluice__free(c->pending);
	sluice__fm_release(&c->fm);
	sluice__stats_release(&c->stats);
	for (i = 0; c->vertices && i < c->nv; i++) {
		sluice__free((char *)c->vertices[i].name);
		sluice__free((void *)c->vertices[i].inputs);
	}
	sluice__free(c->vertices);
	for (k = 0; k < c->n_out; k++) {
		sluice__free(c->out[k].message);
		sluice__free(c->out[k].path);
	}
	sluice__free(c->out);
	sluice__free(c->job);
	pthread_cond_destroy(&c->turn);
	pthread_mutex_destroy(&c->lock);
	sluice__free(c);
}
