/*
 * Fakes for the coordinator tests: a job of two vertices (source -> map,
 * both parallelism 2, unless a test changes it) whose task states a test
 * sets by hand, a task side that records every call, an in-memory storage
 * side whose failures a test switches on, a log capture and a manual
 * clock.  Header-only so every test_coordinator*.c binary gets its own.
 */
#ifndef TEST_COORDINATOR_FAKES_H
#define TEST_COORDINATOR_FAKES_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/coordinator.h"
#include "sluice/log.h"
#include "util/alloc.h"
#include "util/error.h"

#define MAXV   4
#define MAXP   8
#define MAXREC 4096
#define T0     1700000000000LL

typedef struct rec {
	sluice__task_ref task;
	int64_t id, ts, arg;
	sluice__trigger_options o; /* o.target is not kept: see target */
	char target[64];
} rec;

typedef struct result {
	int64_t id;
	sluice_failure_reason reason;
	char msg[512];
	char path[128];
	int savepoint;
} result;

typedef struct fake {
	pthread_mutex_t lock;
	sluice_manual_clock clock;
	sluice_checkpoint_settings s;
	sluice__coord_vertex v[MAXV];
	sluice__coord_input in[MAXV];
	int32_t nv;
	sluice__task_state st[MAXV][MAXP];
	uint64_t attempt[MAXV][MAXP];
	rec triggers[MAXREC], completes[MAXREC], aborts[MAXREC];
	size_t n_triggers, n_completes, n_aborts;
	char fail_msg[512];
	int n_fail, fail_has_task;
	int trigger_rc, notify_rc;
	int init_rc, finalize_rc, add_rc;
	int64_t last_subsumed;
	int n_init, n_finalize, n_add, n_discard, n_release, n_register;
	int n_wakeup;
	size_t finalize_finished, finalize_fully_finished;
	char locs[MAXREC];
	result results[MAXREC];
	size_t n_results;
	void (*state_hook)(struct fake *f);
	sluice__coord *c;
} fake;

/* ---- log capture ------------------------------------------------------- */

static char log_buf[1 << 16];
static size_t log_len;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static inline void log_capture(sluice_log_level level, const char *msg, void *p)
{
	(void)level;
	(void)p;
	pthread_mutex_lock(&log_lock);
	if (log_len + strlen(msg) + 2 < sizeof(log_buf)) {
		memcpy(log_buf + log_len, msg, strlen(msg));
		log_len += strlen(msg);
		log_buf[log_len++] = '\n';
		log_buf[log_len] = '\0';
	}
	pthread_mutex_unlock(&log_lock);
}

static inline void log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	log_len = 0;
	log_buf[0] = '\0';
	pthread_mutex_unlock(&log_lock);
	sluice_log_set(log_capture, NULL, SLUICE_LOG_DEBUG);
}

static inline int log_has(const char *needle)
{
	int r;

	pthread_mutex_lock(&log_lock);
	r = strstr(log_buf, needle) != NULL;
	pthread_mutex_unlock(&log_lock);
	return r;
}

/* ---- task side --------------------------------------------------------- */

static inline sluice__task_state
f_state(void *ctx, int32_t vertex, int32_t subtask, uint64_t *attempt)
{
	fake *f = ctx;
	sluice__task_state s;
	void (*hook)(struct fake *) = f->state_hook;

	if (hook) { /* one shot: runs inside the next plan computation */
		f->state_hook = NULL;
		hook(f);
	}
	pthread_mutex_lock(&f->lock);
	*attempt = f->attempt[vertex][subtask];
	s = f->st[vertex][subtask];
	pthread_mutex_unlock(&f->lock);
	return s;
}

static inline void
record(fake *f,
       rec *arr,
       size_t *n,
       const sluice__task_ref *t,
       int64_t id,
       int64_t ts,
       int64_t arg)
{
	pthread_mutex_lock(&f->lock);
	if (*n < MAXREC) {
		arr[*n].task = *t;
		arr[*n].id = id;
		arr[*n].ts = ts;
		arr[*n].arg = arg;
		(*n)++;
	}
	pthread_mutex_unlock(&f->lock);
}

static inline int f_trigger(
	void *ctx,
	const sluice__task_ref *t,
	int64_t id,
	int64_t ts,
	const sluice__trigger_options *o)
{
	fake *f = ctx;

	record(f, f->triggers, &f->n_triggers, t, id, ts, 0);
	pthread_mutex_lock(&f->lock);
	f->triggers[f->n_triggers - 1].o = *o;
	f->triggers[f->n_triggers - 1].o.target = NULL;
	snprintf(
		f->triggers[f->n_triggers - 1].target,
		sizeof(f->triggers[0].target), "%s",
		o->target ? o->target : "");
	pthread_mutex_unlock(&f->lock);
	return f->trigger_rc;
}

static inline int f_complete(
	void *ctx,
	const sluice__task_ref *t,
	int64_t id,
	int64_t ts,
	int64_t last_subsumed)
{
	fake *f = ctx;

	record(f, f->completes, &f->n_completes, t, id, ts, last_subsumed);
	return f->notify_rc;
}

static inline int f_aborted(
	void *ctx,
	const sluice__task_ref *t,
	int64_t id,
	int64_t latest_completed,
	int64_t ts)
{
	fake *f = ctx;

	record(f, f->aborts, &f->n_aborts, t, id, ts, latest_completed);
	return f->notify_rc;
}

static inline void
f_fail_job(void *ctx, const char *msg, const sluice__task_ref *t)
{
	fake *f = ctx;

	pthread_mutex_lock(&f->lock);
	f->n_fail++;
	f->fail_has_task = t != NULL;
	snprintf(f->fail_msg, sizeof(f->fail_msg), "%s", msg);
	pthread_mutex_unlock(&f->lock);
}

/* ---- storage side ------------------------------------------------------ */

static inline int
f_init(void *ctx, int64_t id, int savepoint, const char *target, void **loc)
{
	fake *f = ctx;

	(void)savepoint;
	(void)target;
	f->n_init++;
	if (f->init_rc < 0)
		return sluice__error_set(
			f->init_rc, SLUICE_ERRCLS_STORAGE,
			"fake: cannot create chk-%lld", (long long)id);
	*loc = &f->locs[id % MAXREC];
	return 0;
}

static inline int
f_finalize(void *ctx, void *loc, const sluice__pending *p, char **path)
{
	fake *f = ctx;
	char buf[64];

	f->n_finalize++;
	assert_ptr_equal(loc, &f->locs[p->id % MAXREC]);
	f->finalize_finished = p->plan.n_finished;
	f->finalize_fully_finished = p->plan.n_fully_finished;
	if (f->finalize_rc < 0)
		return sluice__error_set(
			f->finalize_rc, SLUICE_ERRCLS_STORAGE,
			"fake: cannot write _metadata");
	snprintf(
		buf, sizeof(buf), "mem://%s-%lld",
		p->savepoint ? "savepoint" : "chk", (long long)p->id);
	*path = sluice__strdup(buf);
	return 0;
}

static inline int
f_add(void *ctx,
      int64_t id,
      void *loc,
      const char *path,
      int64_t *last_subsumed)
{
	fake *f = ctx;

	(void)id;
	(void)loc;
	(void)path;
	f->n_add++;
	if (f->add_rc < 0)
		return sluice__error_set(
			f->add_rc, SLUICE_ERRCLS_STORAGE, "fake: store full");
	*last_subsumed = f->last_subsumed;
	return 0;
}

static inline void f_discard(
	void *ctx,
	int64_t id,
	void *loc,
	sluice__subtask_snapshot *const *acks,
	size_t n)
{
	fake *f = ctx;

	(void)id;
	(void)loc;
	(void)acks;
	(void)n;
	pthread_mutex_lock(&f->lock);
	f->n_discard++;
	pthread_mutex_unlock(&f->lock);
}

static inline void f_release(void *ctx, void *loc)
{
	fake *f = ctx;

	(void)loc;
	f->n_release++;
}

static inline void
f_register(void *ctx, int64_t id, const sluice__subtask_snapshot *snap)
{
	fake *f = ctx;

	(void)id;
	(void)snap;
	pthread_mutex_lock(&f->lock);
	f->n_register++;
	pthread_mutex_unlock(&f->lock);
}

static inline void f_wakeup(void *ctx)
{
	fake *f = ctx;

	pthread_mutex_lock(&f->lock);
	f->n_wakeup++;
	pthread_mutex_unlock(&f->lock);
}

/* ---- setup ------------------------------------------------------------- */

static inline void default_settings(sluice_checkpoint_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->enabled = 1;
	s->interval_ms = 1000;
	s->timeout_ms = 600000;
	s->min_pause_ms = 0;
	s->max_concurrent = 1;
	s->tolerable_failures = 0;
	s->mode = SLUICE_EXACTLY_ONCE;
	s->num_retained = 1;
	s->checkpoints_after_tasks_finish = 1;
}

/* A fake with source(2) -ALL_TO_ALL-> map(2), all RUNNING, attempt 1. */
static inline fake *fake_new(void)
{
	fake *f = calloc(1, sizeof(*f));
	int32_t v, i;

	assert_non_null(f);
	pthread_mutex_init(&f->lock, NULL);
	sluice_manual_clock_init(&f->clock, T0);
	default_settings(&f->s);
	f->nv = 2;
	f->v[0] = (sluice__coord_vertex){"source", 2, NULL, 0};
	f->in[1] = (sluice__coord_input){0, SLUICE_EDGE_ALL_TO_ALL};
	f->v[1] = (sluice__coord_vertex){"map", 2, &f->in[1], 1};
	for (v = 0; v < MAXV; v++)
		for (i = 0; i < MAXP; i++) {
			f->st[v][i] = SLUICE_TASK_RUNNING;
			f->attempt[v][i] = 1;
		}
	f->last_subsumed = -1;
	log_reset();
	return f;
}

typedef int (*fake_trigger_fn)(
	void *ctx,
	const sluice__task_ref *t,
	int64_t id,
	int64_t ts,
	const sluice__trigger_options *o);

/* The coordinator of `f`, with `trigger` as the task side's trigger. */
static inline void
fake_start_with(fake *f, uint64_t seed, fake_trigger_fn trigger)
{
	static const sluice__coord_tasks tasks_tmpl = {
		1, NULL, f_state, f_trigger, f_complete, f_aborted, f_fail_job};
	static const sluice__coord_storage storage_tmpl = {
		1,     NULL,      f_init,    f_finalize,
		f_add, f_discard, f_release, f_register};
	sluice__coord_tasks tasks = tasks_tmpl;
	sluice__coord_storage storage = storage_tmpl;
	sluice__coord_options o;

	tasks.ctx = f;
	tasks.trigger = trigger;
	storage.ctx = f;
	memset(&o, 0, sizeof(o));
	o.settings = &f->s;
	o.job_id = "J";
	o.vertices = f->v;
	o.n_vertices = f->nv;
	o.clock = &f->clock.base;
	o.seed = seed;
	o.tasks = &tasks;
	o.storage = &storage;
	o.wakeup = f_wakeup;
	o.wakeup_ctx = f;
	assert_int_equal(sluice__coord_new(&f->c, &o), 0);
}

static inline void fake_start(fake *f, uint64_t seed)
{
	fake_start_with(f, seed, f_trigger);
}

static inline void fake_free(fake *f)
{
	sluice__coord_free(f->c);
	pthread_mutex_destroy(&f->lock);
	sluice_log_set(NULL, NULL, SLUICE_LOG_DEBUG);
	free(f);
}

static inline void on_done(void *arg, const sluice__ckpt_result *r)
{
	fake *f = arg;
	result *x;

	pthread_mutex_lock(&f->lock);
	x = &f->results[f->n_results++ % MAXREC];
	x->id = r->id;
	x->reason = r->reason;
	x->savepoint = r->savepoint;
	snprintf(x->msg, sizeof(x->msg), "%s", r->message ? r->message : "");
	snprintf(
		x->path, sizeof(x->path), "%s",
		r->external_path ? r->external_path : "");
	pthread_mutex_unlock(&f->lock);
}

static inline void trigger_ckpt(fake *f)
{
	assert_int_equal(sluice__coord_trigger_checkpoint(f->c, on_done, f), 0);
}

static inline void trigger_sp(fake *f, int sync)
{
	assert_int_equal(
		sluice__coord_trigger_savepoint(f->c, NULL, sync, on_done, f),
		0);
}

static inline sluice__task_ref ref(fake *f, int32_t v, int32_t i)
{
	sluice__task_ref r = {v, i, f->attempt[v][i]};

	return r;
}

static inline sluice__subtask_snapshot *snap(uint64_t size)
{
	sluice__subtask_snapshot *s = NULL;

	assert_int_equal(sluice__subtask_snapshot_new(&s), 0);
	s->state_size = size;
	s->checkpointed_size = size / 2;
	s->sync_ms = 3;
	s->async_ms = 40;
	s->alignment_ns = 7500000;
	s->start_delay_ns = 2900000;
	s->processed_bytes = 10;
	return s;
}

static inline void ack(fake *f, int32_t v, int32_t i, int64_t id)
{
	sluice__task_ref r = ref(f, v, i);

	sluice__coord_ack(f->c, &r, id, snap(100));
}

/* Ack checkpoint `id` from every subtask not FINISHED. */
static inline void ack_all(fake *f, int64_t id)
{
	int32_t v, i;

	for (v = 0; v < f->nv; v++)
		for (i = 0; i < f->v[v].parallelism; i++)
			if (f->st[v][i] != SLUICE_TASK_FINISHED)
				ack(f, v, i, id);
}

static inline void
decline(fake *f, int32_t v, int32_t i, int64_t id, sluice_failure_reason reason)
{
	sluice__task_ref r = ref(f, v, i);

	sluice__coord_decline(f->c, &r, id, reason, NULL);
}

static inline sluice__coord_info info(fake *f)
{
	sluice__coord_info i;

	sluice__coord_info_get(f->c, &i);
	return i;
}

static inline const result *last_result(fake *f)
{
	assert_true(f->n_results > 0);
	return &f->results[(f->n_results - 1) % MAXREC];
}

static inline size_t count_results(fake *f, sluice_failure_reason reason)
{
	size_t i, n = 0;

	for (i = 0; i < f->n_results && i < MAXREC; i++)
		n += f->results[i].reason == reason;
	return n;
}

static inline size_t count_recs(const rec *arr, size_t n, int64_t id)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += arr[i].id == id;
	return k;
}

static inline void advance(fake *f, int64_t ms)
{
	sluice_manual_clock_advance(&f->clock, ms);
}

static inline int64_t mono(fake *f)
{
	return sluice_clock_mono_ms(&f->clock.base);
}

#endif
