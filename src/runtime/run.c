/*
 * sluice_run: the one way to run a checkpointed job from configuration
 * (include/sluice/job.h; restore selection in run_restore.c).  It owns the
 * job's checkpoint storage, the coordinator's storage side (ckstore), the
 * coordinator and its bridge to the job, the restart strategy and the run
 * thread, which:
 *
 * - polls the coordinator and sleeps until its next deadline on the run's
 *   clock (woken earlier by the coordinator's wakeup callback, a task
 *   finishing or failing, a cancel or stop request; the sleep is capped at
 *   a few real milliseconds so a manual clock advanced by a test is seen);
 * - on a task failure stops periodic checkpoints, stops the job, asks the
 *   restart strategy, waits its backoff on the run's clock and restarts
 *   the job from the newest retained checkpoint that verifies;
 * - at the end shuts the coordinator down, stops the job and applies the
 *   externalized-checkpoint retention for the final job status.
 *
 * Edge cases handled: a cancel during a restart backoff ends CANCELED at
 * once; a restart whose start fails counts as another failure; savepoint
 * triggers from other threads are serialised with job start/stop (ctl);
 * a savepoint requested while the job is down fails with the
 * coordinator's message instead of touching a stopped job.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/run.h"
#include "sluice/config.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/thread.h"

/* Longest real-time sleep between coordinator polls (wake-up net). */
#define RUN_POLL_CAP_MS 5

enum { END_FINISHED, END_FAILED, END_CANCELED, END_STOPPED };

static void wake(sluice_run *r)
{
	pthread_mutex_lock(&r->lock);
	r->woken = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void coord_wakeup(void *ctx)
{
	wake(ctx);
}

/* ---- responder: the bridge's, plus wake-ups on task ends ------------- */

static void
rs_ack(void *ctx,
       const sluice_task_info *t,
       int64_t id,
       sluice_task_snapshot *snap)
{
	sluice_run *r = ctx;

	r->inner.ack(r->inner.ctx, t, id, snap);
}

static void rs_decline(
	void *ctx,
	const sluice_task_info *t,
	int64_t id,
	sluice_failure_reason reason,
	const char *message)
{
	sluice_run *r = ctx;

	r->inner.decline(r->inner.ctx, t, id, reason, message);
}

static void rs_failed(void *ctx, const sluice_task_info *t, const char *message)
{
	sluice_run *r = ctx;

	r->inner.task_failed(r->inner.ctx, t, message);
	wake(r);
}

static void rs_finished(void *ctx, const sluice_task_info *t)
{
	sluice_run *r = ctx;

	if (r->inner.task_finished)
		r->inner.task_finished(r->inner.ctx, t);
	wake(r);
}

/*
 * A task reached its end of data (final checkpoint mode).  Once every
 * task of this start has, the final checkpoint is due at once rather than
 * at the next periodic trigger, as Flink does (spec §2.8); the run thread
 * requests it (not this task thread: triggering reaches into the job).
 */
static void rs_data_ended(void *ctx, const sluice_task_info *t)
{
	sluice_run *r = ctx;
	int n;

	(void)t;
	pthread_mutex_lock(&r->lock);
	n = ++r->data_ended;
	if (n == 1)
		r->first_end_due = 1;
	if (n == sluice_job_task_count(r->job))
		r->final_due = 1;
	r->woken = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static int
open_stream(void *ctx, int64_t id, sluice_scope scope, sluice_ostream **out)
{
	return sluice__ckstore_open_stream(out, ctx, id, scope);
}

static void discard_stream(void *ctx, const sluice_stream_handle *h)
{
	sluice__ckstore_discard_stream(ctx, h);
}

/* ---- construction ------------------------------------------------------ */

static int
read_recovery(sluice_run *r, const sluice_config *conf, const char **path)
{
	int claim = SLUICE__NO_CLAIM;

	SLUICE_ERRCHECK(sluice_config_get_string(
		conf, "execution.state-recovery.path", path));
	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, "execution.state-recovery.ignore-unclaimed-state",
		&r->allow_non_restored));
	SLUICE_ERRCHECK(sluice_config_get_enum(
		conf, "execution.state-recovery.claim-mode", &claim));
	SLUICE_ERRCHECK(sluice_config_get_long(
		conf,
		"execution.state-recovery.without-channel-state.checkpoint-id",
		&r->without_cs_id));
	r->claim = (sluice__claim_mode)claim;
	if (*path && !**path)
		*path = NULL;
	return 0;
}

/* The coordinator's per-vertex metadata, in its topological order. */
static int
ckstore_vertices(sluice_run *r, sluice__ckstore_vertex **out, int32_t *n)
{
	sluice__ckstore_vertex *vx;
	int32_t v;

	(void)sluice__job_coord_vertices(r->bridge, n);
	if (!(vx = sluice__calloc((size_t)*n + 1, sizeof(*vx))))
		return sluice__error_oom();
	for (v = 0; v < *n; v++) {
		const sluice__vertex *jv =
			&r->job->vertices[sluice__job_coord_job_vertex(
				r->bridge, v)];

		vx[v].uid = jv->uid;
		vx[v].name = jv->name;
		vx[v].parallelism = jv->parallelism;
		vx[v].max_parallelism = jv->max_parallelism;
	}
	*out = vx;
	return 0;
}

static int build_storage(sluice_run *r, const sluice_checkpoint_settings *s)
{
	sluice_storage_options so;
	sluice__ckstore_vertex *vx = NULL;
	sluice_stream_factory f;
	int32_t n = 0;
	int rc;

	sluice_storage_options_init(&so);
	SLUICE_ERRCHECK(sluice_storage_options_from_settings(&so, s));
	SLUICE_ERRCHECK(sluice_checkpoint_storage_new(&r->cs, &so, r->job_id));
	SLUICE_ERRCHECK(sluice__job_coord_new(&r->bridge, r->job));
	SLUICE_ERRCHECK(ckstore_vertices(r, &vx, &n));
	rc = sluice__ckstore_new(&r->ks, r->cs, s, r->job_id, r->clock, vx, n);
	sluice__free(vx);
	SLUICE_ERRCHECK(rc);
	f.ctx = r->ks;
	f.open = open_stream;
	f.discard = discard_stream;
	return sluice_job_set_stream_factory(r->job, &f);
}

static int
build_coord(sluice_run *r, const sluice_checkpoint_settings *s, uint64_t seed)
{
	sluice__coord_storage storage;
	sluice__coord_tasks tasks;
	sluice__coord_options o;

	sluice__ckstore_vtable(r->ks, &storage);
	sluice__job_coord_tasks(r->bridge, &tasks);
	memset(&o, 0, sizeof(o));
	o.settings = s;
	o.job_id = r->job_id;
	o.vertices = sluice__job_coord_vertices(r->bridge, &o.n_vertices);
	o.clock = r->clock;
	o.seed = seed;
	o.tasks = &tasks;
	o.storage = &storage;
	o.wakeup = coord_wakeup;
	o.wakeup_ctx = r;
	SLUICE_ERRCHECK(sluice__coord_new(&r->coord, &o));
	sluice__job_coord_attach(r->bridge, r->coord);
	sluice__job_coord_responder(r->bridge, &r->inner);
	r->resp = (sluice_job_responder){
		SLUICE_RESPONDER_VERSION,
		r,
		rs_ack,
		rs_decline,
		rs_failed,
		rs_finished,
		rs_data_ended};
	return 0;
}

static int build_restart(
	sluice_run *r, const sluice_config *conf, int enabled, uint64_t seed)
{
	sluice__restart_settings rs;

	SLUICE_ERRCHECK(
		sluice__restart_settings_from_config(&rs, conf, enabled));
	SLUICE_ERRCHECK(sluice__restart_init(&r->restart, &rs, r->clock, seed));
	r->restart_inited = 1;
	return 0;
}

static sluice_run *run_alloc(sluice_job *job, const sluice_run_options *o)
{
	sluice_run *r = sluice__calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->job = job;
	r->clock = o && o->clock ? o->clock : sluice_clock_system();
	pthread_mutex_init(&r->ctl, NULL);
	pthread_mutex_init(&r->lock, NULL);
	sluice__cond_init(&r->cond);
	r->result.state = SLUICE_JOB_STATE_RUNNING;
	r->result.restored_id = -1;
	sluice_job_id_of(job->name, r->job_id);
	return r;
}

/*
 * Unless the job chose its own state provider, keep state in the backend
 * the configuration names (state.backend.type: hashmap or rocksdb, TTL,
 * latency tracking, compression, state.backend.rocksdb.*).
 */
static int use_keyed_backends(sluice_run *r, const sluice_config *conf)
{
	if (r->job->started || r->job->factory != sluice_mem_state_provider_new)
		return 0;
	SLUICE_ERRCHECK(sluice_config_dup(&r->conf, conf));
	sluice_keyed_provider_config_init(&r->kpc);
	SLUICE_ERRCHECK(
		sluice_keyed_provider_config_from_config(&r->kpc, r->conf));
	SLUICE_ERRCHECK(sluice_job_set_state_provider(
		r->job, sluice_keyed_state_provider_factory, &r->kpc));
	r->keyed_provider = 1;
	return 0;
}

/* Everything up to the first start of the job. */
static int
run_setup(sluice_run *r, const sluice_config *conf, const sluice_run_options *o)
{
	sluice_checkpoint_settings s;
	const char *path = NULL;
	uint64_t seed;

	SLUICE_ERRCHECK(sluice_config_checkpoint_settings(conf, &s));
	SLUICE_ERRCHECK(read_recovery(r, conf, &path));
	r->checkpointing = s.enabled;
	seed = o && o->seed ? o->seed : sluice__xxh3(r->job_id, 32);
	SLUICE_ERRCHECK(build_restart(r, conf, s.enabled, seed));
	SLUICE_ERRCHECK(sluice_job_validate(r->job));
	SLUICE_ERRCHECK(use_keyed_backends(r, conf));
	if (r->job->started)
		return sluice__error_set(
			SLUICE_EBUSY, SLUICE_ERRCLS_JOB,
			"job '%s' is already started", r->job->name);
	SLUICE_ERRCHECK(sluice_job_options_from_settings(&r->job->opts, &s));
	SLUICE_ERRCHECK(sluice_job_options_from_config(&r->job->opts, conf));
	SLUICE_ERRCHECK(build_storage(r, &s));
	SLUICE_ERRCHECK(build_coord(r, &s, seed));
	SLUICE_ERRCHECK(
		sluice__run_first_start(r, path, o ? o->restore_latest : 0));
	r->job_running = 1;
	if (r->checkpointing)
		SLUICE_ERRCHECK(sluice__coord_start_scheduler(r->coord));
	return 0;
}

/* ---- the run thread ---------------------------------------------------- */

static int terminal(sluice_job_state s)
{
	return s == SLUICE_JOB_STATE_FINISHED || s == SLUICE_JOB_STATE_FAILED ||
	       s == SLUICE_JOB_STATE_CANCELED;
}

/* Real milliseconds to sleep toward `deadline` (run clock, mono ms). */
static int64_t sleep_ms(sluice_run *r, int64_t deadline)
{
	int64_t d;

	if (deadline == INT64_MAX)
		return RUN_POLL_CAP_MS;
	d = deadline - sluice_clock_mono_ms(r->clock);
	return d < 0 ? 0 : d > RUN_POLL_CAP_MS ? RUN_POLL_CAP_MS : d;
}

/*
 * End-of-data bookkeeping of the run thread.  At the first task's end the
 * next checkpoint id is noted; at the last task's end the final
 * checkpoint is requested (a user-style trigger: the decider queues it
 * behind one in progress) unless a checkpoint was triggered in between:
 * that one may already be every task's final checkpoint (a second one
 * would then reach closing tasks and be declined), and if it is not, the
 * periodic trigger still comes.  A failed request is left to the periodic
 * trigger too.
 */
static void final_step(sluice_run *r, int first_end, int final)
{
	sluice__coord_info info;

	sluice__coord_info_get(r->coord, &info);
	if (first_end)
		r->first_end_id = info.next_id;
	if (!final || info.next_id != r->first_end_id)
		return;
	if (sluice__coord_trigger_checkpoint(r->coord, NULL, NULL) < 0)
		sluice__warn(
			"job %s: final checkpoint not triggered: %s", r->job_id,
			sluice_error_last()->message);
}

/* Poll the coordinator until the job ends or a request arrives. */
static int drive(sluice_run *r)
{
	for (;;) {
		int64_t next = sluice__coord_poll(r->coord), ms;
		sluice_job_state st = sluice_job_state_get(r->job);
		int end = -1, first_end, final;

		pthread_mutex_lock(&r->lock);
		first_end = r->first_end_due;
		final = r->final_due;
		r->first_end_due = r->final_due = 0;
		if (first_end || final) {
			pthread_mutex_unlock(&r->lock);
			final_step(r, first_end, final);
			continue;
		}
		if (r->cancel)
			end = END_CANCELED;
		else if (r->stop_savepoint)
			end = END_STOPPED;
		else if (terminal(st))
			end = st == SLUICE_JOB_STATE_FINISHED ? END_FINISHED
			      : st == SLUICE_JOB_STATE_FAILED ? END_FAILED
							      : END_CANCELED;
		else if (!r->woken && (ms = sleep_ms(r, next)) > 0)
			sluice__cond_wait_ms(&r->cond, &r->lock, ms);
		r->woken = 0;
		pthread_mutex_unlock(&r->lock);
		if (end >= 0)
			return end;
	}
}

/* Wait on the run's clock until `due`; 1 when cancelled meanwhile. */
static int wait_until(sluice_run *r, int64_t due)
{
	int cancel;

	pthread_mutex_lock(&r->lock);
	while (!r->cancel && sluice_clock_mono_ms(r->clock) < due)
		sluice__cond_wait_ms(&r->cond, &r->lock, sleep_ms(r, due));
	cancel = r->cancel;
	pthread_mutex_unlock(&r->lock);
	return cancel;
}

static void stop_job(sluice_run *r)
{
	pthread_mutex_lock(&r->ctl);
	sluice_job_stop(r->job);
	r->job_running = 0;
	pthread_mutex_unlock(&r->ctl);
	pthread_mutex_lock(&r->lock); /* the next start counts afresh */
	r->data_ended = 0;
	r->first_end_due = r->final_due = 0;
	pthread_mutex_unlock(&r->lock);
}

static void set_message(sluice_run *r, const char *msg)
{
	pthread_mutex_lock(&r->lock);
	snprintf(
		r->result.message, sizeof(r->result.message), "%s",
		msg ? msg : "the job failed");
	pthread_mutex_unlock(&r->lock);
}

/* One restart attempt after the strategy allowed it: 0 when running. */
static int restart_once(sluice_run *r)
{
	int rc;

	pthread_mutex_lock(&r->ctl);
	if ((rc = sluice__run_restart_job(r)) == 0)
		r->job_running = 1;
	pthread_mutex_unlock(&r->ctl);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&r->lock);
	r->restarts++;
	pthread_mutex_unlock(&r->lock);
	if (r->checkpointing &&
	    (rc = sluice__coord_start_scheduler(r->coord)) < 0)
		sluice__warn(
			"job %s: periodic checkpoints not resumed: %s",
			r->job_id, sluice_error_last()->message);
	return 0;
}

/* The job failed: 1 when it was restarted, else 0 with *end set. */
static int failover(sluice_run *r, int *end)
{
	sluice__coord_stop_scheduler(r->coord);
	set_message(r, sluice_job_failure(r->job));
	stop_job(r);
	for (;;) {
		int64_t due;

		sluice__restart_notify_failure(&r->restart);
		if (!sluice__restart_can_restart(&r->restart)) {
			*end = END_FAILED;
			return 0;
		}
		due = sluice_clock_mono_ms(r->clock) +
		      sluice__restart_backoff_ms(&r->restart);
		sluice__warn(
			"job %s failed (%s); restarting in %lld ms", r->job_id,
			r->result.message,
			(long long)sluice__restart_backoff_ms(&r->restart));
		if (wait_until(r, due)) {
			*end = END_CANCELED;
			return 0;
		}
		if (restart_once(r) == 0)
			return 1;
		set_message(r, sluice_error_last()->message);
	}
}

static void finish(sluice_run *r, int end)
{
	static const sluice_job_status status[] = {
		SLUICE_JOB_FINISHED, SLUICE_JOB_FAILED, SLUICE_JOB_CANCELED,
		SLUICE_JOB_FINISHED};
	static const sluice_job_state state[] = {
		SLUICE_JOB_STATE_FINISHED, SLUICE_JOB_STATE_FAILED,
		SLUICE_JOB_STATE_CANCELED, SLUICE_JOB_STATE_FINISHED};

	sluice__coord_shutdown(r->coord);
	stop_job(r);
	/* recorded before retention discards the checkpoints (run_result.c) */
	if ((end == END_FINISHED || end == END_STOPPED) &&
	    sluice__run_result_write(r) < 0)
		sluice__warn(
			"job %s: could not record that it finished (a restart "
			"with --restore latest may run it again): %s",
			r->job_id, sluice_error_last()->message);
	if (sluice_completed_store_shutdown(
		    sluice__ckstore_completed(r->ks), status[end]) < 0)
		sluice__warn(
			"job %s: retained checkpoints not cleaned up: %s",
			r->job_id, sluice_error_last()->message);
	pthread_mutex_lock(&r->lock);
	r->result.state = state[end];
	r->result.restarts = r->restarts;
	if (end != END_FAILED)
		r->result.message[0] = '\0';
	r->ended = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void *run_main(void *arg)
{
	sluice_run *r = arg;
	int end;

	for (;;) {
		end = drive(r);
		if (end != END_FAILED || !failover(r, &end))
			break;
	}
	finish(r, end);
	return NULL;
}

/* ---- public API -------------------------------------------------------- */

static void run_release(sluice_run *r)
{
	/* first: its thread may be answering a request through the run */
	sluice__run_control_free(r->control);
	if (r->coord)
		sluice__coord_shutdown(r->coord);
	if (r->job_running)
		sluice_job_stop(r->job);
	sluice__coord_free(r->coord);
	sluice__ckstore_free(r->ks);
	sluice_checkpoint_storage_free(r->cs);
	sluice__job_coord_free(r->bridge);
	if (r->restart_inited)
		sluice__restart_release(&r->restart);
	/* the factory's context is gone: back to memory streams */
	if (!r->job->started)
		memset(&r->job->streams, 0, sizeof(r->job->streams));
	if (r->keyed_provider && !r->job->started)
		sluice_job_set_state_provider(
			r->job, sluice_mem_state_provider_new, NULL);
	sluice_config_free(r->conf);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->ctl);
	sluice__free(r);
}

int sluice_run_start(
	sluice_run **out,
	sluice_job *job,
	const sluice_config *conf,
	const sluice_run_options *opts)
{
	sluice_run *r;
	int rc;

	*out = NULL;
	if (!job || !conf)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"sluice_run_start: job and configuration are required");
	if (!(r = run_alloc(job, opts)))
		return sluice__error_oom();
	if ((rc = run_setup(r, conf, opts)) < 0)
		goto fail;
	if (pthread_create(&r->thread, NULL, run_main, r) != 0) {
		rc = sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"job '%s': could not start the run thread", job->name);
		goto fail;
	}
	r->thread_started = 1;
	*out = r;
	return 0;
fail:
	run_release(r);
	return rc;
}

int sluice_run_wait(sluice_run *run, int64_t timeout_ms, sluice_run_result *out)
{
	sluice_clock *real = sluice_clock_system();
	int64_t deadline = sluice_clock_mono_ms(real) + timeout_ms;
	int rc = 0;

	pthread_mutex_lock(&run->lock);
	while (!run->ended) {
		int64_t left = deadline - sluice_clock_mono_ms(real);

		if (timeout_ms >= 0 && left <= 0) {
			rc = sluice__error_set(
				SLUICE_ETIMEOUT, SLUICE_ERRCLS_JOB,
				"job %s: still running after %lld ms",
				run->job_id, (long long)timeout_ms);
			break;
		}
		sluice__cond_wait_ms(
			&run->cond, &run->lock, timeout_ms < 0 ? -1 : left);
	}
	if (rc == 0 && out)
		*out = run->result;
	pthread_mutex_unlock(&run->lock);
	return rc;
}

void sluice_run_cancel(sluice_run *run)
{
	pthread_mutex_lock(&run->lock);
	run->cancel = 1;
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
}

void sluice_run_free(sluice_run *run)
{
	if (!run)
		return;
	if (run->thread_started) {
		sluice_run_cancel(run);
		pthread_join(run->thread, NULL);
	}
	run_release(run);
}

sluice_job_state sluice_run_state(sluice_run *run)
{
	sluice_job_state s;

	pthread_mutex_lock(&run->lock);
	s = run->result.state;
	pthread_mutex_unlock(&run->lock);
	return s;
}

int32_t sluice_run_restarts(sluice_run *run)
{
	int32_t n;

	pthread_mutex_lock(&run->lock);
	n = run->restarts;
	pthread_mutex_unlock(&run->lock);
	return n;
}

int64_t sluice_run_restored_id(sluice_run *run)
{
	int64_t id;

	pthread_mutex_lock(&run->lock);
	id = run->result.restored_id;
	pthread_mutex_unlock(&run->lock);
	return id;
}

/* ---- savepoints -------------------------------------------------------- */

typedef struct sp_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	int failed;
	char *path;
	char message[512];
} sp_wait;

static void sp_done(void *arg, const sluice__ckpt_result *res)
{
	sp_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->failed = res->reason != SLUICE_CFR_NONE;
	if (w->failed) {
		const sluice_failure_info *fi =
			sluice_failure_info_get(res->reason);

		snprintf(
			w->message, sizeof(w->message), "%s",
			res->message ? res->message
			: fi         ? fi->message
				     : "unknown reason");
	} else if (
		res->external_path &&
		!(w->path = sluice__strdup(res->external_path)))
		w->failed = -1;
	w->done = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Trigger (serialised with job start/stop) and wait for the outcome. */
static int savepoint(sluice_run *r, const char *target, int sync, char **path)
{
	sp_wait w;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	pthread_mutex_lock(&r->ctl);
	if (!r->job_running)
		rc = sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CHECKPOINT,
			"job %s: cannot take a savepoint, the job is not "
			"running",
			r->job_id);
	else
		rc = sluice__coord_trigger_savepoint(
			r->coord, target, sync, sp_done, &w);
	pthread_mutex_unlock(&r->ctl);
	if (rc == 0) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		rc = w.failed < 0 ? sluice__error_oom()
		     : w.failed
			     ? sluice__error_set(
				       SLUICE_ERROR, SLUICE_ERRCLS_CHECKPOINT,
				       "job %s: savepoint failed: %s",
				       r->job_id, w.message)
			     : 0;
	}
	if (rc == 0 && path)
		*path = w.path;
	else
		sluice__free(w.path);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return rc;
}

int sluice_job_trigger_savepoint(
	sluice_run *run, const char *target, char **path)
{
	if (path)
		*path = NULL;
	return savepoint(run, target, 0, path);
}

int sluice_job_stop_with_savepoint(
	sluice_run *run, const char *target, char **path)
{
	int rc;

	if (path)
		*path = NULL;
	sluice__coord_stop_scheduler(run->coord);
	if ((rc = savepoint(run, target, 1, path)) < 0) {
		if (run->checkpointing &&
		    sluice__coord_start_scheduler(run->coord) < 0)
			sluice_error_clear();
		return rc;
	}
	pthread_mutex_lock(&run->lock);
	run->stop_savepoint = 1;
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
	return 0;
}

int sluice_run_stats_json(sluice_run *run, int64_t id, char **out)
{
	*out = NULL;
	return sluice__stats_json(sluice__coord_stats(run->coord), id, out);
}

int sluice_job_run(
	sluice_job *job,
	const sluice_config *conf,
	const sluice_run_options *opts,
	sluice_run_result *out)
{
	sluice_run *run = NULL;
	int rc;

	SLUICE_ERRCHECK(sluice_run_start(&run, job, conf, opts));
	rc = sluice_run_wait(run, -1, out);
	sluice_run_free(run);
	return rc;
}
