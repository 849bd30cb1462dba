/*
 * The dataflow runtime end to end, driven by a small fake coordinator
 * (triggers checkpoints, collects acks and declines, notifies completion,
 * restarts failed jobs from the last completed checkpoint).
 *
 * Jobs: a replayable sequence source (position in operator state, gated by
 * the test so checkpoints land at known positions) → rebalance → pass-
 * through map → key-by → keyed counter → forward → collecting sink.  The
 * sink records every (key, count) it ever received, across restarts; with
 * exactly-once state every key must show exactly the counts 1..expected.
 *
 * Also: graph validation, trigger before running (TASK_NOT_READY), after
 * finishing (TASK_CLOSING), asynchronous snapshot failure
 * (CHECKPOINT_ASYNC_EXCEPTION), synchronous failure (task fails),
 * checkpoints aborted before their barrier (skipped, cancel marker
 * forwarded), processing-time timers, two-input operators with broadcast
 * input, and a rescaled restore.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime_test_util.h"
#include "sluice/sys/runtime.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v)   __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

/* ---- operators -------------------------------------------------------- */

typedef struct src_cfg {
	int64_t n;     /* records per subtask */
	int keys;      /* distinct keys */
	int64_t gate;  /* atomic: emit while position < gate */
	int hold_init; /* atomic: initialize_state waits while 1 */
	int in_init;   /* atomic: set while waiting */
	int snapshots; /* atomic: snapshot_state calls */
	int restored;  /* atomic: subtasks restored */
	int fail_sync; /* atomic: checkpoint id whose snapshot fails */
} src_cfg;

static int key_of(int32_t subtask, int64_t pos, int keys)
{
	return (int)((pos * 31 + subtask * 7) % keys);
}

static int src_init(sluice_ctx *ctx, int restored)
{
	src_cfg *cfg = sluice_ctx_arg(ctx);
	int64_t *pos = calloc(1, sizeof(*pos));
	const sluice_slice *el;
	size_t n, i;

	if (!pos)
		return sluice__error_oom();
	sluice_ctx_set_local(ctx, pos);
	STORE(&cfg->in_init, 1);
	while (LOAD(&cfg->hold_init))
		rt_pause_1ms();
	STORE(&cfg->in_init, 0);
	if (!restored)
		return 0;
	ADD(&cfg->restored, 1);
	if (sluice_ctx_opstate_get(ctx, "offset", &el, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) /* after rescale a subtask may own more */
		if (el[i].len == 8 && (int64_t)sluice__rd64(el[i].data) > *pos)
			*pos = (int64_t)sluice__rd64(el[i].data);
	return 0;
}

static int src_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	src_cfg *cfg = sluice_ctx_arg(ctx);
	int64_t *pos = sluice_ctx_local(ctx);
	int64_t limit = LOAD(&cfg->gate);
	int i, rc;

	if (limit > cfg->n)
		limit = cfg->n;
	for (i = 0; i < 64 && *pos < limit; i++, (*pos)++) {
		char key[32];
		uint8_t val[8];
		sluice_record rec;

		snprintf(
			key, sizeof(key), "k%d",
			key_of(sluice_ctx_subtask(ctx), *pos, cfg->keys));
		sluice__be64(val, (uint64_t)*pos);
		rec.key = SLUICE_SLICE(key, strlen(key));
		rec.value = SLUICE_SLICE(val, 8);
		rec.timestamp = *pos;
		if ((rc = sluice_ctx_emit(ctx, &rec)) < 0)
			return rc;
	}
	*status = *pos >= cfg->n  ? SLUICE_SOURCE_END
		  : *pos >= limit ? SLUICE_SOURCE_IDLE
				  : SLUICE_SOURCE_MORE;
	return 0;
}

static int src_snapshot(sluice_ctx *ctx, int64_t id)
{
	src_cfg *cfg = sluice_ctx_arg(ctx);
	int64_t *pos = sluice_ctx_local(ctx);
	uint8_t b[8];
	sluice_slice el = SLUICE_SLICE(b, 8);

	ADD(&cfg->snapshots, 1);
	if (LOAD(&cfg->fail_sync) == id)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"injected snapshot failure");
	sluice__be64(b, (uint64_t)*pos);
	return sluice_ctx_opstate_set(ctx, "offset", &el, 1);
}

static void free_local(sluice_ctx *ctx, int failed)
{
	(void)failed;
	free(sluice_ctx_local(ctx));
}

static const sluice_operator source_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.initialize_state = src_init,
	.poll = src_poll,
	.snapshot_state = src_snapshot,
	.close = free_local,
};

static int pass_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	(void)input;
	return sluice_ctx_emit(ctx, rec);
}

/* What the map's notification hooks saw (all subtasks). */
typedef struct notes {
	int64_t last_complete; /* atomic */
	int complete_calls;    /* atomic */
	int64_t last_aborted;  /* atomic */
	int aborted_calls;     /* atomic */
} notes;

static int map_complete(sluice_ctx *ctx, int64_t id)
{
	notes *n = sluice_ctx_arg(ctx);

	STORE(&n->last_complete, id);
	ADD(&n->complete_calls, 1);
	return 0;
}

static int map_aborted(sluice_ctx *ctx, int64_t id)
{
	notes *n = sluice_ctx_arg(ctx);

	STORE(&n->last_aborted, id);
	ADD(&n->aborted_calls, 1);
	return 0;
}

static const sluice_operator map_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = pass_process,
	.notify_complete = map_complete,
	.notify_aborted = map_aborted,
};

typedef struct count_cfg {
	int64_t processed; /* atomic, all subtasks and attempts */
	int64_t fail_at;   /* atomic: fail when processed reaches it */
	int64_t target;    /* for counted_target */
} count_cfg;

static int counted_target(void *arg)
{
	count_cfg *cfg = arg;

	return LOAD(&cfg->processed) >= cfg->target;
}

static int count_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	count_cfg *cfg = sluice_ctx_arg(ctx);
	int64_t n = 0, fail = LOAD(&cfg->fail_at);
	uint8_t val[8];
	sluice_record out;
	int rc;

	(void)input;
	if (ADD(&cfg->processed, 1) == fail && fail > 0)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"injected failure");
	rc = sluice_ctx_value_get_i64(ctx, "count", &n);
	if (rc < 0 && rc != SLUICE_ENOTFOUND)
		return rc;
	if ((rc = sluice_ctx_value_put_i64(ctx, "count", ++n)) < 0)
		return rc;
	sluice__be64(val, (uint64_t)n);
	out.key = rec->key;
	out.value = SLUICE_SLICE(val, 8);
	out.timestamp = rec->timestamp;
	return sluice_ctx_emit(ctx, &out);
}

static const sluice_operator count_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = count_process,
};

#define MAX_KEYS 64

typedef struct sink_out {
	pthread_mutex_t lock;
	size_t cap; /* counts per key we can record */
	uint8_t *seen[MAX_KEYS];
	int64_t max[MAX_KEYS];
	int64_t records;
	int ended; /* end_input calls */
	int wrong; /* records on a subtask not owning their key */
} sink_out;

static int sink_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	sink_out *out = sluice_ctx_arg(ctx);
	int k = atoi((const char *)rec->key.data + 1);
	int64_t c = (int64_t)sluice__rd64(rec->value.data);
	int32_t kg =
		sluice_key_group(rec->key, sluice_ctx_max_parallelism(ctx));

	(void)input;
	pthread_mutex_lock(&out->lock);
	if (sluice_key_group_subtask(
		    kg, sluice_ctx_parallelism(ctx),
		    sluice_ctx_max_parallelism(ctx)) != sluice_ctx_subtask(ctx))
		out->wrong++;
	if (k >= 0 && k < MAX_KEYS && c > 0 && (size_t)c < out->cap) {
		out->seen[k][c] = 1;
		if (c > out->max[k])
			out->max[k] = c;
	}
	out->records++;
	pthread_mutex_unlock(&out->lock);
	return 0;
}

static int sink_end(sluice_ctx *ctx, int input)
{
	sink_out *out = sluice_ctx_arg(ctx);

	(void)input;
	pthread_mutex_lock(&out->lock);
	out->ended++;
	pthread_mutex_unlock(&out->lock);
	return 0;
}

static const sluice_operator sink_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = sink_process,
	.end_input = sink_end,
};

static void sink_init(sink_out *out, size_t cap)
{
	int k;

	memset(out, 0, sizeof(*out));
	pthread_mutex_init(&out->lock, NULL);
	out->cap = cap;
	for (k = 0; k < MAX_KEYS; k++)
		assert_non_null(out->seen[k] = calloc(cap, 1));
}

static void sink_release(sink_out *out)
{
	int k;

	for (k = 0; k < MAX_KEYS; k++)
		free(out->seen[k]);
	pthread_mutex_destroy(&out->lock);
}

/* Every key shows counts 1..expected and nothing above (exactly once). */
static void sink_expect_exact(sink_out *out, const src_cfg *cfg, int sp)
{
	int64_t expected[MAX_KEYS] = {0}, c, pos;
	int k, s;

	for (s = 0; s < sp; s++)
		for (pos = 0; pos < cfg->n; pos++)
			expected[key_of(s, pos, cfg->keys)]++;
	pthread_mutex_lock(&out->lock);
	for (k = 0; k < cfg->keys; k++) {
		assert_int_equal(out->max[k], expected[k]);
		for (c = 1; c <= expected[k]; c++)
			assert_int_equal(out->seen[k][c], 1);
	}
	assert_int_equal(out->wrong, 0);
	pthread_mutex_unlock(&out->lock);
}

/* ---- fake coordinator -------------------------------------------------- */

#define SLOTS 32

typedef struct pending {
	int64_t id; /* 0 = free slot */
	int acks;
	sluice_task_snapshot **snaps;
} pending;

typedef struct coord {
	pthread_mutex_t lock;
	sluice_job *job;
	int num_tasks;
	pending slots[SLOTS];
	int64_t completed_id;
	sluice_task_snapshot **completed;
	int num_completed; /* checkpoints completed */
	struct {
		int task;
		int64_t id;
		int reason;
	} declines[512];
	int num_declines;
	int64_t acked_ids[1024]; /* (id << 8) | task, for ack checks */
	int num_acked;
	int failed;
	int finished;
	/* periodic trigger thread */
	pthread_t th;
	int run;         /* atomic */
	int64_t next_id; /* atomic */
	int interval_ms;
} coord;

static void snaps_free(sluice_task_snapshot **s, int n)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < n; i++)
		sluice_task_snapshot_free(s[i]);
	free(s);
}

static pending *slot_for(coord *c, int64_t id)
{
	pending *oldest = NULL;
	int i;

	for (i = 0; i < SLOTS; i++)
		if (c->slots[i].id == id)
			return &c->slots[i];
	for (i = 0; i < SLOTS; i++)
		if (!oldest || c->slots[i].id < oldest->id)
			oldest = &c->slots[i];
	snaps_free(oldest->snaps, c->num_tasks);
	oldest->id = id;
	oldest->acks = 0;
	oldest->snaps = calloc((size_t)c->num_tasks, sizeof(*oldest->snaps));
	return oldest;
}

static void
on_ack(void *ctx,
       const sluice_task_info *task,
       int64_t id,
       sluice_task_snapshot *snap)
{
	coord *c = ctx;
	pending *p;
	int complete = 0, i;

	if (getenv("RT_DEBUG"))
		fprintf(stderr, "ack task %d id %lld\n", task->index,
			(long long)id);
	pthread_mutex_lock(&c->lock);
	if (c->num_acked < 1024)
		c->acked_ids[c->num_acked++] = (id << 8) | task->index;
	if (id <= c->completed_id || c->failed) {
		sluice_task_snapshot_free(snap);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	p = slot_for(c, id);
	if (p->snaps[task->index])
		sluice_task_snapshot_free(p->snaps[task->index]);
	else
		p->acks++;
	p->snaps[task->index] = snap;
	if (p->acks == c->num_tasks) {
		snaps_free(c->completed, c->num_tasks);
		c->completed = p->snaps;
		c->completed_id = id;
		c->num_completed++;
		p->snaps = NULL;
		p->id = 0;
		for (i = 0; i < SLOTS; i++) /* subsume older pending */
			if (c->slots[i].id && c->slots[i].id < id) {
				snaps_free(c->slots[i].snaps, c->num_tasks);
				c->slots[i].snaps = NULL;
				c->slots[i].id = 0;
			}
		complete = 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (complete)
		sluice_job_notify_complete(c->job, id, -1);
}

static void on_decline_dbg(const sluice_task_info *task, int64_t id, int reason)
{
	if (getenv("RT_DEBUG"))
		fprintf(stderr, "decline task %d id %lld reason %d\n",
			task->index, (long long)id, reason);
}

static void on_decline(
	void *ctx,
	const sluice_task_info *task,
	int64_t id,
	sluice_failure_reason reason,
	const char *message)
{
	coord *c = ctx;
	int i;

	(void)message;
	on_decline_dbg(task, id, reason);
	pthread_mutex_lock(&c->lock);
	if (c->num_declines < 512) {
		c->declines[c->num_declines].task = task->index;
		c->declines[c->num_declines].id = id;
		c->declines[c->num_declines].reason = reason;
		c->num_declines++;
	}
	for (i = 0; i < SLOTS; i++)
		if (c->slots[i].id == id) {
			snaps_free(c->slots[i].snaps, c->num_tasks);
			c->slots[i].snaps = NULL;
			c->slots[i].id = 0;
		}
	pthread_mutex_unlock(&c->lock);
}

static void on_failed(void *ctx, const sluice_task_info *task, const char *msg)
{
	coord *c = ctx;

	(void)task;
	(void)msg;
	pthread_mutex_lock(&c->lock);
	c->failed++;
	pthread_mutex_unlock(&c->lock);
}

static void on_finished(void *ctx, const sluice_task_info *task)
{
	coord *c = ctx;

	(void)task;
	pthread_mutex_lock(&c->lock);
	c->finished++;
	pthread_mutex_unlock(&c->lock);
}

static sluice_job_responder responder_of(coord *c)
{
	sluice_job_responder r = {SLUICE_RESPONDER_VERSION,
				  c,
				  on_ack,
				  on_decline,
				  on_failed,
				  on_finished};

	return r;
}

static void coord_init(coord *c, sluice_job *job)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->job = job;
	c->num_tasks = sluice_job_task_count(job);
	assert_true(c->num_tasks > 0); /* validate first */
	c->next_id = 1;
}

static void coord_reset_run(coord *c)
{
	int i;

	for (i = 0; i < SLOTS; i++) {
		snaps_free(c->slots[i].snaps, c->num_tasks);
		c->slots[i].snaps = NULL;
		c->slots[i].id = 0;
	}
	c->failed = 0;
	c->finished = 0;
}

static void coord_release(coord *c)
{
	coord_reset_run(c);
	snaps_free(c->completed, c->num_tasks);
	pthread_mutex_destroy(&c->lock);
}

static void *trigger_main(void *arg)
{
	coord *c = arg;
	sluice_clock *clk = sluice_clock_system();

	while (LOAD(&c->run)) {
		int64_t until = sluice_clock_mono_ms(clk) + c->interval_ms;

		sluice_job_trigger_checkpoint(
			c->job, ADD(&c->next_id, 1) - 1,
			sluice_clock_wall_ms(clk), NULL);
		while (LOAD(&c->run) && sluice_clock_mono_ms(clk) < until)
			rt_pause_1ms();
	}
	return NULL;
}

static void coord_start_periodic(coord *c, int interval_ms)
{
	c->interval_ms = interval_ms;
	STORE(&c->run, 1);
	assert_int_equal(pthread_create(&c->th, NULL, trigger_main, c), 0);
}

static void coord_stop_periodic(coord *c)
{
	STORE(&c->run, 0);
	pthread_join(c->th, NULL);
}

static int64_t coord_trigger(coord *c)
{
	int64_t id = ADD(&c->next_id, 1) - 1;

	assert_int_equal(
		sluice_job_trigger_checkpoint(
			c->job, id, sluice_clock_wall_ms(sluice_clock_system()),
			NULL),
		0);
	return id;
}

typedef struct wait_id {
	coord *c;
	int64_t id;
} wait_id;

static int completed_reached(void *arg)
{
	wait_id *w = arg;
	int ok;

	pthread_mutex_lock(&w->c->lock);
	ok = w->c->completed_id >= w->id;
	pthread_mutex_unlock(&w->c->lock);
	return ok;
}

static int declines_of(coord *c, int64_t id, int reason)
{
	int i, n = 0;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->num_declines; i++)
		if (c->declines[i].id == id &&
		    (reason < 0 || c->declines[i].reason == reason))
			n++;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static int acks_of(coord *c, int64_t id)
{
	int i, n = 0;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->num_acked; i++)
		if ((c->acked_ids[i] >> 8) == id)
			n++;
	pthread_mutex_unlock(&c->lock);
	return n;
}

typedef struct wait_decl {
	coord *c;
	int64_t id;
	int reason;
	int n;
} wait_decl;

static int declines_reached(void *arg)
{
	wait_decl *w = arg;

	return declines_of(w->c, w->id, w->reason) >= w->n;
}

static int all_running(void *arg)
{
	sluice_job *job = arg;
	sluice_task_info info;
	int i;

	for (i = 0; i < sluice_job_task_count(job); i++)
		if (sluice_job_task_info(job, i, &info) < 0 ||
		    info.state != SLUICE_TASK_RUNNING)
			return 0;
	return 1;
}

/* Start and wait until every task runs (triggers are then accepted). */
static void start_running(
	sluice_job *job,
	const sluice_job_responder *r,
	const sluice_job_restore *rs)
{
	assert_int_equal(sluice_job_start(job, r, rs), 0);
	assert_true(rt_wait_for(all_running, job));
}

static void restore_of(coord *c, sluice_job_restore *r)
{
	r->checkpoint_id = c->completed_id;
	r->tasks = (const sluice_task_snapshot *const *)c->completed;
	r->num_tasks = (size_t)c->num_tasks;
}

/* ---- pipeline --------------------------------------------------------- */

typedef struct pipeline {
	sluice_job *job;
	src_cfg src;
	count_cfg count;
	sink_out sink;
	notes notes;
	int sp;
} pipeline;

static void pipeline_build(
	pipeline *pl,
	int sp,
	int mp,
	int cp,
	int64_t n,
	sluice_checkpointing_mode mode)
{
	sluice_job_options opts = {0};
	sluice_vertex_spec spec = {0};
	int s, m, k, o;

	memset(pl, 0, sizeof(*pl));
	pl->sp = sp;
	pl->src.n = n;
	pl->src.keys = 13;
	pl->src.gate = n;
	sink_init(&pl->sink, (size_t)(n * sp + 2));
	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.buffer_size = 256; /* many small buffers */
	opts.channel_credits = 2;
	opts.mode = mode;
	assert_int_equal(sluice_job_new(&pl->job, "pipeline", &opts), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_SOURCE, "src",   "source", sp, 0,
		&source_op,           &pl->src};
	assert_int_equal(sluice_job_add(pl->job, &s, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_OPERATOR,
				    "map",
				    NULL,
				    mp,
				    0,
				    &map_op,
				    &pl->notes};
	assert_int_equal(sluice_job_add(pl->job, &m, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_OPERATOR,
				    "count",
				    NULL,
				    cp,
				    0,
				    &count_op,
				    &pl->count};
	assert_int_equal(sluice_job_add(pl->job, &k, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "sink",   NULL, cp, 0,
				    &sink_op,           &pl->sink};
	assert_int_equal(sluice_job_add(pl->job, &o, &spec), 0);
	assert_int_equal(
		sluice_job_connect(pl->job, s, m, 0, SLUICE_EDGE_REBALANCE), 0);
	assert_int_equal(
		sluice_job_connect(pl->job, m, k, 0, SLUICE_EDGE_KEY_BY), 0);
	assert_int_equal(
		sluice_job_connect(pl->job, k, o, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_validate(pl->job), 0);
}

static void pipeline_free(pipeline *pl)
{
	sluice_job_free(pl->job);
	sink_release(&pl->sink);
}

/*
 * Run to a checkpoint at a third of the input, fail the counter a little
 * later (with periodic checkpoints flowing), restart from the last
 * completed checkpoint and finish: counts must be exact.
 */
static void run_fail_and_restart(int sp, int mp, int cp)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	sluice_job_restore rs;
	wait_id w;
	int64_t before;

	pipeline_build(&pl, sp, mp, cp, 3000, SLUICE_JOB_EXACTLY_ONCE);
	coord_init(&c, pl.job);
	r = responder_of(&c);
	STORE(&pl.src.gate, pl.src.n / 3);
	start_running(pl.job, &r, NULL);
	pl.count.target = pl.src.n / 3 * sp;
	assert_true(rt_wait_for(counted_target, &pl.count));
	w = (wait_id){&c, coord_trigger(&c)};
	assert_true(rt_wait_for(completed_reached, &w));
	before = LOAD(&pl.count.processed);
	assert_int_equal(before, pl.src.n / 3 * sp);
	STORE(&pl.count.fail_at, before + 500 + 97 * sp);
	coord_start_periodic(&c, 2);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	coord_stop_periodic(&c);
	assert_int_equal(sluice_job_status_get(pl.job), SLUICE_JOB_FAILED);
	if (!strstr(sluice_job_failure(pl.job), "injected failure"))
		fail_msg("job failure: %s", sluice_job_failure(pl.job));
	sluice_job_stop(pl.job);
	assert_int_equal(c.failed, 1);

	/* restart from the newest completed checkpoint */
	coord_reset_run(&c);
	STORE(&pl.count.fail_at, 0);
	restore_of(&c, &rs);
	assert_true(rs.checkpoint_id >= 1);
	assert_int_equal(sluice_job_start(pl.job, &r, &rs), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_status_get(pl.job), SLUICE_JOB_FINISHED);
	assert_int_equal(LOAD(&pl.src.restored), sp);
	sluice_job_stop(pl.job);
	assert_int_equal(c.finished, c.num_tasks);
	sink_expect_exact(&pl.sink, &pl.src, sp);
	coord_release(&c);
	pipeline_free(&pl);
}

static void
test_runtime__exactly_once_after_failure_at_parallelism_1(void **state)
{
	(void)state;
	run_fail_and_restart(1, 1, 1);
}

static void
test_runtime__exactly_once_after_failure_at_parallelism_2(void **state)
{
	(void)state;
	run_fail_and_restart(2, 2, 2);
}

static void
test_runtime__exactly_once_after_failure_at_parallelism_3(void **state)
{
	(void)state;
	run_fail_and_restart(3, 2, 3);
}

static void
test_runtime__exactly_once_after_failure_at_parallelism_4(void **state)
{
	(void)state;
	run_fail_and_restart(4, 3, 4);
}

static int flaky_new(
	sluice_state_provider **out,
	const sluice_state_provider_info *info,
	void *arg);

static uint64_t chaos_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Several failures at seeded random record counts while checkpoints are
 * triggered every millisecond and some uploads fail; each restart uses
 * the newest completed checkpoint (or starts fresh when there is none).
 */
static void run_chaos(int sp, int mp, int cp, uint64_t seed)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	sluice_job_restore rs;
	int64_t fail_upload = 3;
	int attempt;

	pipeline_build(&pl, sp, mp, cp, 4000, SLUICE_JOB_EXACTLY_ONCE);
	assert_int_equal(
		sluice_job_set_state_provider(pl.job, flaky_new, &fail_upload),
		0);
	coord_init(&c, pl.job);
	r = responder_of(&c);
	for (attempt = 0; attempt < 5; attempt++) {
		int last = attempt == 4;
		int64_t at =
			LOAD(&pl.count.processed) + 1 +
			(int64_t)(chaos_rand(&seed) % (uint64_t)(1500 * sp));

		STORE(&pl.count.fail_at, last ? 0 : at);
		STORE(&fail_upload, c.completed_id + 2);
		coord_reset_run(&c);
		restore_of(&c, &rs);
		assert_int_equal(
			sluice_job_start(pl.job, &r, c.completed ? &rs : NULL),
			0);
		coord_start_periodic(&c, 1);
		assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
		coord_stop_periodic(&c);
		if (getenv("RT_DEBUG"))
			fprintf(stderr,
				"chaos attempt %d: status %d, completed %d "
				"(newest %lld), processed %lld\n",
				attempt, (int)sluice_job_status_get(pl.job),
				c.num_completed, (long long)c.completed_id,
				(long long)LOAD(&pl.count.processed));
		if (last ||
		    sluice_job_status_get(pl.job) == SLUICE_JOB_FINISHED) {
			assert_int_equal(
				sluice_job_status_get(pl.job),
				SLUICE_JOB_FINISHED);
			sluice_job_stop(pl.job);
			break;
		}
		assert_int_equal(
			sluice_job_status_get(pl.job), SLUICE_JOB_FAILED);
		sluice_job_stop(pl.job);
	}
	sink_expect_exact(&pl.sink, &pl.src, sp);
	coord_release(&c);
	pipeline_free(&pl);
}

static void
test_runtime__exactly_once_under_repeated_random_failures(void **state)
{
	(void)state;
	run_chaos(2, 2, 3, 0x9e3779b97f4a7c15ULL);
	run_chaos(4, 3, 2, 12345);
	run_chaos(1, 4, 4, 777);
}

static void test_runtime__at_least_once_loses_nothing(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	sluice_job_restore rs;
	int64_t expected[MAX_KEYS] = {0}, pos;
	wait_id w;
	int k, s;

	(void)state;
	pipeline_build(&pl, 3, 2, 3, 2000, SLUICE_JOB_AT_LEAST_ONCE);
	coord_init(&c, pl.job);
	r = responder_of(&c);
	STORE(&pl.src.gate, 500);
	start_running(pl.job, &r, NULL);
	w = (wait_id){&c, coord_trigger(&c)};
	assert_true(rt_wait_for(completed_reached, &w));
	STORE(&pl.count.fail_at, LOAD(&pl.count.processed) + 700);
	coord_start_periodic(&c, 2);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	coord_stop_periodic(&c);
	sluice_job_stop(pl.job);
	coord_reset_run(&c);
	STORE(&pl.count.fail_at, 0);
	restore_of(&c, &rs);
	assert_int_equal(sluice_job_start(pl.job, &r, &rs), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_status_get(pl.job), SLUICE_JOB_FINISHED);
	sluice_job_stop(pl.job);
	for (s = 0; s < 3; s++)
		for (pos = 0; pos < pl.src.n; pos++)
			expected[key_of(s, pos, pl.src.keys)]++;
	for (k = 0; k < pl.src.keys; k++) {
		int64_t n;

		assert_true(pl.sink.max[k] >= expected[k]);
		for (n = 1; n <= expected[k]; n++)
			assert_int_equal(pl.sink.seen[k][n], 1);
	}
	coord_release(&c);
	pipeline_free(&pl);
}

static void
test_runtime__rescaled_restore_moves_keyed_state_by_key_group(void **state)
{
	pipeline a, b;
	coord ca, cb;
	sluice_job_responder ra, rb;
	sluice_job_restore rs;
	wait_id w;

	(void)state;
	/* run half the input at counter parallelism 2, checkpoint */
	pipeline_build(&a, 2, 2, 2, 1000, SLUICE_JOB_EXACTLY_ONCE);
	coord_init(&ca, a.job);
	ra = responder_of(&ca);
	STORE(&a.src.gate, 500);
	start_running(a.job, &ra, NULL);
	w = (wait_id){&ca, coord_trigger(&ca)};
	assert_true(rt_wait_for(completed_reached, &w));
	sluice_job_stop(a.job);
	/* the same job at counter parallelism 3 resumes from it */
	pipeline_build(&b, 2, 2, 3, 1000, SLUICE_JOB_EXACTLY_ONCE);
	coord_init(&cb, b.job);
	rb = responder_of(&cb);
	restore_of(&ca, &rs);
	assert_int_equal(sluice_job_start(b.job, &rb, &rs), 0);
	assert_int_equal(sluice_job_wait(b.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_status_get(b.job), SLUICE_JOB_FINISHED);
	sluice_job_stop(b.job);
	/* first run saw 1..c for the first half, second run the rest */
	{
		int k;

		for (k = 0; k < MAX_KEYS; k++) {
			size_t i;

			for (i = 0; i < a.sink.cap && i < b.sink.cap; i++)
				b.sink.seen[k][i] |= a.sink.seen[k][i];
		}
	}
	sink_expect_exact(&b.sink, &b.src, 2);
	coord_release(&ca);
	coord_release(&cb);
	pipeline_free(&a);
	pipeline_free(&b);
}

/* ---- task-side checkpoint rules ---------------------------------------- */

static int source_in_init(void *arg)
{
	return LOAD(&((src_cfg *)arg)->in_init);
}

static void
test_runtime__trigger_before_running_declines_not_ready(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;

	(void)state;
	pipeline_build(&pl, 2, 1, 1, 100, SLUICE_JOB_EXACTLY_ONCE);
	coord_init(&c, pl.job);
	r = responder_of(&c);
	STORE(&pl.src.hold_init, 1);
	assert_int_equal(sluice_job_start(pl.job, &r, NULL), 0);
	assert_true(rt_wait_for(source_in_init, &pl.src));
	coord_trigger(&c);
	assert_true(
		declines_of(
			&c, 1, SLUICE_CFR_CHECKPOINT_DECLINED_TASK_NOT_READY) >=
		1);
	STORE(&pl.src.hold_init, 0);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_status_get(pl.job), SLUICE_JOB_FINISHED);
	sluice_job_stop(pl.job);
	sink_expect_exact(&pl.sink, &pl.src, 2);
	coord_release(&c);
	pipeline_free(&pl);
}

static void
test_runtime__trigger_after_finish_declines_task_closing(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	sluice_task_info info;

	(void)state;
	pipeline_build(&pl, 2, 2, 2, 50, SLUICE_JOB_EXACTLY_ONCE);
	coord_init(&c, pl.job);
	r = responder_of(&c);
	assert_int_equal(sluice_job_start(pl.job, &r, NULL), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_task_info(pl.job, 0, &info), 0);
	assert_int_equal(info.state, SLUICE_TASK_FINISHED);
	assert_string_equal(sluice_task_state_name(info.state), "FINISHED");
	coord_trigger(&c);
	assert_int_equal(
		declines_of(&c, 1, SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING),
		2);
	sluice_job_stop(pl.job);
	assert_int_equal(c.finished, c.num_tasks);
	coord_release(&c);
	pipeline_free(&pl);
}

/* A provider whose asynchronous phase fails for one checkpoint id. */
typedef struct flaky {
	sluice_state_provider base;
	sluice_state_provider *inner;
	int64_t *fail_id;
} flaky;

static int
fl_get(sluice_state_provider *p, const char *s, sluice_slice k, sluice_slice *o)
{
	flaky *f = (flaky *)p;

	return f->inner->value_get(f->inner, s, k, o);
}

static int
fl_put(sluice_state_provider *p, const char *s, sluice_slice k, sluice_slice v)
{
	flaky *f = (flaky *)p;

	return f->inner->value_put(f->inner, s, k, v);
}

static int fl_remove(sluice_state_provider *p, const char *s, sluice_slice k)
{
	flaky *f = (flaky *)p;

	return f->inner->value_remove(f->inner, s, k);
}

static int fl_opget(
	sluice_state_provider *p,
	const char *n,
	const sluice_slice **e,
	size_t *c)
{
	flaky *f = (flaky *)p;

	return f->inner->opstate_get(f->inner, n, e, c);
}

static int fl_opset(
	sluice_state_provider *p,
	const char *n,
	const sluice_slice *e,
	size_t c)
{
	flaky *f = (flaky *)p;

	return f->inner->opstate_set(f->inner, n, e, c);
}

static int fl_restore(sluice_state_provider *p, const sluice_subtask_restore *r)
{
	flaky *f = (flaky *)p;

	return f->inner->restore(f->inner, r);
}

typedef struct fl_snap {
	int64_t id;
	void *inner;
} fl_snap;

static int
fl_sync(sluice_state_provider *p,
	int64_t id,
	const sluice_checkpoint_options *o,
	void **snap)
{
	flaky *f = (flaky *)p;
	fl_snap *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return sluice__error_oom();
	s->id = id;
	if ((rc = f->inner->snapshot_sync(f->inner, id, o, &s->inner)) < 0) {
		free(s);
		return rc;
	}
	*snap = s;
	return 0;
}

static int fl_async(
	sluice_state_provider *p,
	void *snap,
	sluice_keyed_handle **k,
	sluice_opstate_handle **o)
{
	flaky *f = (flaky *)p;
	fl_snap *s = snap;
	int rc;

	if (s->id == LOAD(f->fail_id)) {
		f->inner->snapshot_discard(f->inner, s->inner);
		free(s);
		return sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
			"injected upload failure");
	}
	rc = f->inner->snapshot_async(f->inner, s->inner, k, o);
	free(s);
	return rc;
}

static void fl_discard(sluice_state_provider *p, void *snap)
{
	flaky *f = (flaky *)p;
	fl_snap *s = snap;

	f->inner->snapshot_discard(f->inner, s->inner);
	free(s);
}

static void fl_notify(sluice_state_provider *p, int64_t id)
{
	(void)p;
	(void)id;
}

static void fl_free(sluice_state_provider *p)
{
	flaky *f = (flaky *)p;

	f->inner->free(f->inner);
	free(f);
}

static int flaky_new(
	sluice_state_provider **out,
	const sluice_state_provider_info *info,
	void *arg)
{
	flaky *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return sluice__error_oom();
	if ((rc = sluice_mem_state_provider_new(&f->inner, info, NULL)) < 0) {
		free(f);
		return rc;
	}
	f->fail_id = arg;
	f->base = (sluice_state_provider){
		SLUICE_STATE_PROVIDER_VERSION,
		fl_get,
		fl_put,
		fl_remove,
		fl_opget,
		fl_opset,
		fl_restore,
		fl_sync,
		fl_async,
		fl_discard,
		fl_notify,
		fl_notify,
		fl_free};
	*out = &f->base;
	return 0;
}

static void
test_runtime__async_failure_declines_with_async_exception(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	int64_t fail_id = 2;
	wait_id w;
	wait_decl d;

	(void)state;
	pipeline_build(&pl, 2, 2, 2, 400, SLUICE_JOB_EXACTLY_ONCE);
	assert_int_equal(
		sluice_job_set_state_provider(pl.job, flaky_new, &fail_id), 0);
	coord_init(&c, pl.job);
	r = responder_of(&c);
	STORE(&pl.src.gate, 100);
	start_running(pl.job, &r, NULL);
	w = (wait_id){&c, coord_trigger(&c)};
	assert_true(rt_wait_for(completed_reached, &w));
	coord_trigger(&c); /* 2: every task's upload fails */
	d = (wait_decl){
		&c, 2, SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION, c.num_tasks};
	assert_true(rt_wait_for(declines_reached, &d));
	assert_int_equal(acks_of(&c, 2), 0);
	w = (wait_id){&c, coord_trigger(&c)}; /* 3 completes again */
	assert_true(rt_wait_for(completed_reached, &w));
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_status_get(pl.job), SLUICE_JOB_FINISHED);
	sluice_job_stop(pl.job);
	coord_release(&c);
	pipeline_free(&pl);
}

static void
test_runtime__sync_failure_fails_the_task_and_stops_the_job(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	int i;

	(void)state;
	pipeline_build(&pl, 2, 2, 2, 1000, SLUICE_JOB_EXACTLY_ONCE);
	coord_init(&c, pl.job);
	r = responder_of(&c);
	STORE(&pl.src.gate, 10);
	STORE(&pl.src.fail_sync, 1);
	start_running(pl.job, &r, NULL);
	coord_trigger(&c);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_status_get(pl.job), SLUICE_JOB_FAILED);
	assert_non_null(strstr(
		sluice_job_failure(pl.job), "injected snapshot failure"));
	assert_true(c.failed >= 1);
	for (i = 0; i < c.num_tasks; i++) {
		sluice_task_info info;

		assert_int_equal(sluice_job_task_info(pl.job, i, &info), 0);
		assert_true(
			info.state == SLUICE_TASK_FAILED ||
			info.state == SLUICE_TASK_CANCELED);
	}
	sluice_job_stop(pl.job);
	assert_int_equal(c.completed_id, 0);
	coord_release(&c);
	pipeline_free(&pl);
}

static void
test_runtime__checkpoint_aborted_before_its_barrier_is_skipped(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	wait_id w;
	int snaps;

	(void)state;
	pipeline_build(&pl, 2, 2, 2, 400, SLUICE_JOB_EXACTLY_ONCE);
	coord_init(&c, pl.job);
	r = responder_of(&c);
	STORE(&pl.src.gate, 100);
	start_running(pl.job, &r, NULL);
	w = (wait_id){&c, coord_trigger(&c)};
	assert_true(rt_wait_for(completed_reached, &w));
	snaps = LOAD(&pl.src.snapshots);
	/* the coordinator aborts 2 before any task saw its barrier */
	assert_int_equal(sluice_job_notify_aborted(pl.job, 2), 0);
	w = (wait_id){&c, 3};
	coord_trigger(&c); /* 2: skipped, cancel markers flow */
	coord_trigger(&c); /* 3: a normal checkpoint */
	assert_true(rt_wait_for(completed_reached, &w));
	assert_int_equal(acks_of(&c, 2), 0);
	/* sources snapshotted 3 only */
	assert_int_equal(LOAD(&pl.src.snapshots), snaps + 2);
	/* every downstream task declined once and forwarded the marker */
	assert_int_equal(
		declines_of(
			&c, 2,
			SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER),
		c.num_tasks - 2);
	assert_int_equal(declines_of(&c, 2, -1), c.num_tasks - 2);
	/* operators heard of the abort and of both completions */
	assert_int_equal(LOAD(&pl.notes.last_aborted), 2);
	assert_int_equal(LOAD(&pl.notes.aborted_calls), 2);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	sluice_job_stop(pl.job);
	assert_int_equal(LOAD(&pl.notes.last_complete), 3);
	coord_release(&c);
	pipeline_free(&pl);
}

static void
test_runtime__corrupt_checkpoint_is_reported_not_restored(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	sluice_job_restore rs;
	sluice_task_snapshot *victim = NULL;
	wait_id w;
	int i;

	(void)state;
	pipeline_build(&pl, 2, 2, 2, 300, SLUICE_JOB_EXACTLY_ONCE);
	coord_init(&c, pl.job);
	r = responder_of(&c);
	STORE(&pl.src.gate, 150);
	start_running(pl.job, &r, NULL);
	w = (wait_id){&c, coord_trigger(&c)};
	assert_true(rt_wait_for(completed_reached, &w));
	sluice_job_stop(pl.job);
	for (i = 0; i < c.num_tasks; i++)
		if (c.completed[i]->keyed && c.completed[i]->subtask == 1)
			victim = c.completed[i];
	assert_non_null(victim);
	assert_string_equal(victim->uid, "count");
	assert_int_equal(victim->keyed->stream->kind, SLUICE_HANDLE_INLINE);
	assert_true(victim->state_size >= victim->keyed->stream->size);
	victim->keyed->stream->data[victim->keyed->stream->size / 2] ^= 0x20;
	restore_of(&c, &rs);
	assert_int_equal(sluice_job_start(pl.job, &r, &rs), SLUICE_ECORRUPT);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "keyed state of 'count' subtask 1: checksum mismatch"));
	assert_int_equal(sluice_job_status_get(pl.job), SLUICE_JOB_CREATED);
	/* repaired, the same checkpoint restores */
	victim->keyed->stream->data[victim->keyed->stream->size / 2] ^= 0x20;
	STORE(&pl.src.gate, pl.src.n);
	assert_int_equal(sluice_job_start(pl.job, &r, &rs), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_status_get(pl.job), SLUICE_JOB_FINISHED);
	sluice_job_stop(pl.job);
	sink_expect_exact(&pl.sink, &pl.src, 2);
	coord_release(&c);
	pipeline_free(&pl);
}

/* Every allocation of start and run may fail: errors, never crashes or
 * leaks (ASan checks the leaks). */
static void test_runtime__allocation_failures_fail_cleanly(void **state)
{
	pipeline pl;
	long k;
	int finished = 0;

	(void)state;
	pipeline_build(&pl, 2, 1, 2, 40, SLUICE_JOB_EXACTLY_ONCE);
	for (k = 0; k < 4000 && finished < 3; k++) {
		int rc;

		sluice__alloc_fail_after(k);
		rc = sluice_job_start(pl.job, NULL, NULL);
		if (rc == 0)
			assert_int_equal(
				sluice_job_wait(pl.job, RT_WAIT_MS), 0);
		sluice__alloc_fail_after(-1);
		if (rc < 0) {
			assert_int_equal(rc, SLUICE_ENOMEM);
			assert_int_equal(
				sluice_job_status_get(pl.job),
				SLUICE_JOB_CREATED);
			continue;
		}
		if (sluice_job_status_get(pl.job) == SLUICE_JOB_FINISHED)
			finished++;
		else
			assert_int_equal(
				sluice_job_status_get(pl.job),
				SLUICE_JOB_FAILED);
		sluice_job_stop(pl.job);
	}
	assert_int_equal(finished, 3);
	pipeline_free(&pl);
}

/* A two-phase-commit sink: records are staged per checkpoint and
 * committed (counted) on notify_complete. */
typedef struct tpc_out {
	int64_t committed; /* atomic */
	int ended;         /* atomic: end_input calls */
} tpc_out;

typedef struct tpc_local {
	int64_t pending;
	int64_t staged_id[64];
	int64_t staged_n[64];
	int num_staged;
} tpc_local;

static int tpc_open(sluice_ctx *ctx)
{
	tpc_local *l = calloc(1, sizeof(*l));

	if (!l)
		return sluice__error_oom();
	sluice_ctx_set_local(ctx, l);
	return 0;
}

static int tpc_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	tpc_local *l = sluice_ctx_local(ctx);

	(void)input;
	(void)rec;
	l->pending++;
	return 0;
}

static int tpc_snapshot(sluice_ctx *ctx, int64_t id)
{
	tpc_local *l = sluice_ctx_local(ctx);

	if (l->num_staged == 64)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME, "too many staged");
	l->staged_id[l->num_staged] = id;
	l->staged_n[l->num_staged++] = l->pending;
	l->pending = 0;
	return 0;
}

static int tpc_complete(sluice_ctx *ctx, int64_t id)
{
	tpc_out *out = sluice_ctx_arg(ctx);
	tpc_local *l = sluice_ctx_local(ctx);
	int i, kept = 0;

	for (i = 0; i < l->num_staged; i++) {
		if (l->staged_id[i] <= id) {
			ADD(&out->committed, l->staged_n[i]);
			continue;
		}
		l->staged_id[kept] = l->staged_id[i];
		l->staged_n[kept++] = l->staged_n[i];
	}
	l->num_staged = kept;
	return 0;
}

static int tpc_end(sluice_ctx *ctx, int input)
{
	tpc_out *out = sluice_ctx_arg(ctx);

	(void)input;
	ADD(&out->ended, 1);
	return 0;
}

static const sluice_operator tpc_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.open = tpc_open,
	.process = tpc_process,
	.snapshot_state = tpc_snapshot,
	.notify_complete = tpc_complete,
	.end_input = tpc_end,
	.close = free_local,
};

static int first_task_running(void *arg)
{
	sluice_job *job = arg;
	sluice_task_info info;

	return sluice_job_task_info(job, 0, &info) == 0 &&
	       info.state == SLUICE_TASK_RUNNING;
}

static void
test_runtime__final_checkpoint_commits_everything_before_finish(void **state)
{
	src_cfg src = {0};
	count_cfg count = {0, 0, 0};
	notes nt;
	tpc_out out = {0, 0};
	sluice_job_options opts = {0};
	sluice_vertex_spec spec;
	sluice_job *job;
	coord c;
	sluice_job_responder r;
	int s, m, k, o;

	(void)state;
	memset(&nt, 0, sizeof(nt));
	src.n = 500;
	src.keys = 5;
	src.gate = 500;
	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.buffer_size = 128;
	opts.final_checkpoint = 1;
	assert_int_equal(sluice_job_new(&job, "final", &opts), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "src", NULL, 2, 0,
				    &source_op,           &src};
	assert_int_equal(sluice_job_add(job, &s, &spec), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_OPERATOR, "map", NULL, 2, 0, &map_op, &nt};
	assert_int_equal(sluice_job_add(job, &m, &spec), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_OPERATOR, "count", NULL, 3, 0, &count_op, &count};
	assert_int_equal(sluice_job_add(job, &k, &spec), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_SINK, "sink", NULL, 3, 0, &tpc_op, &out};
	assert_int_equal(sluice_job_add(job, &o, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, s, m, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(
		sluice_job_connect(job, m, k, 0, SLUICE_EDGE_KEY_BY), 0);
	assert_int_equal(
		sluice_job_connect(job, k, o, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_validate(job), 0);
	coord_init(&c, job);
	r = responder_of(&c);
	assert_int_equal(sluice_job_start(job, &r, NULL), 0);
	/* all input consumed, but nobody finishes without a checkpoint */
	count.target = 2 * src.n;
	assert_true(rt_wait_for(counted_target, &count));
	assert_int_equal(sluice_job_wait(job, 30), SLUICE_ETIMEOUT);
	assert_true(first_task_running(job));
	assert_int_equal(LOAD(&out.committed), 0);
	/* the final checkpoint completes; tasks finish after committing */
	coord_trigger(&c);
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_status_get(job), SLUICE_JOB_FINISHED);
	assert_int_equal(LOAD(&out.ended), 3);
	assert_int_equal(LOAD(&out.committed), 2 * src.n);
	assert_int_equal(c.completed_id, 1);
	sluice_job_stop(job);
	assert_int_equal(c.finished, c.num_tasks);
	coord_release(&c);
	sluice_job_free(job);
}

/* A sink that holds its thread while `hold` is set. */
typedef struct held_out {
	int hold;        /* atomic */
	int64_t records; /* atomic */
} held_out;

static int held_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	held_out *out = sluice_ctx_arg(ctx);

	(void)input;
	(void)rec;
	while (LOAD(&out->hold))
		rt_pause_1ms();
	ADD(&out->records, 1);
	return 0;
}

static const sluice_operator held_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = held_process,
};

static int source_backpressured(void *arg)
{
	sluice_job *job = arg;
	sluice_task_info info;

	return sluice_job_task_info(job, 0, &info) == 0 &&
	       info.output_waits > 0;
}

static void
test_runtime__backpressure_blocks_source_and_delays_barrier(void **state)
{
	src_cfg src = {0};
	held_out out = {1, 0};
	sluice_job_options opts = {0};
	sluice_vertex_spec spec;
	sluice_job *job;
	coord c;
	sluice_job_responder r;
	sluice_task_info info;
	wait_id w;
	int s, o;

	(void)state;
	src.n = 5000;
	src.keys = 3;
	src.gate = 5000;
	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.buffer_size = 64;
	opts.channel_credits = 1;
	assert_int_equal(sluice_job_new(&job, "slow", &opts), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "src", NULL, 1, 0,
				    &source_op,           &src};
	assert_int_equal(sluice_job_add(job, &s, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "sink", NULL, 1, 0,
				    &held_op,           &out};
	assert_int_equal(sluice_job_add(job, &o, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, s, o, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_validate(job), 0);
	coord_init(&c, job);
	r = responder_of(&c);
	start_running(job, &r, NULL);
	/* the sink holds: one buffer in flight, the source must wait */
	assert_true(rt_wait_for(source_backpressured, job));
	w = (wait_id){&c, coord_trigger(&c)};
	/* the barrier queues behind data the sink has not taken */
	assert_int_equal(sluice_job_wait(job, 20), SLUICE_ETIMEOUT);
	assert_false(completed_reached(&w));
	assert_true(LOAD(&out.records) <= 1);
	STORE(&out.hold, 0);
	assert_true(rt_wait_for(completed_reached, &w));
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	assert_int_equal(LOAD(&out.records), src.n);
	assert_int_equal(sluice_job_task_info(job, 0, &info), 0);
	assert_true(info.output_waits > 0);
	sluice_job_stop(job);
	coord_release(&c);
	sluice_job_free(job);
}

/* ---- graph, timers, two inputs ---------------------------------------- */

static void test_runtime__graph_validation_rejects_bad_jobs(void **state)
{
	sluice_job *job;
	sluice_vertex_spec spec;
	int a, b, c;

	(void)state;
	assert_int_equal(sluice_job_new(&job, "bad", NULL), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "a", NULL, 2, 0,
				    &source_op,           NULL};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	assert_int_equal(sluice_job_add(job, &a, &spec), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "used twice"));
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_OPERATOR, "b", NULL, 0, 0, &map_op, NULL};
	assert_int_equal(sluice_job_add(job, &b, &spec), SLUICE_EINVALID);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "Operator parallelism not within bounds: 0"));
	spec.parallelism = 3;
	spec.max_parallelism = 2;
	assert_int_equal(sluice_job_add(job, &b, &spec), SLUICE_EINVALID);
	spec.max_parallelism = 0;
	spec.op = &source_op; /* no process */
	assert_int_equal(sluice_job_add(job, &b, &spec), SLUICE_EINVALID);
	spec.op = &map_op;
	assert_int_equal(sluice_job_add(job, &b, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "c", NULL, 3, 0,
				    &sink_op,           NULL};
	assert_int_equal(sluice_job_add(job, &c, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, a, b, 0, SLUICE_EDGE_FORWARD),
		SLUICE_EINVALID);
	assert_int_equal(
		sluice_job_connect(job, a, b, 1, SLUICE_EDGE_REBALANCE),
		SLUICE_EINVALID);
	assert_int_equal(
		sluice_job_connect(job, c, b, 0, SLUICE_EDGE_REBALANCE),
		SLUICE_EINVALID);
	assert_int_equal(sluice_job_validate(job), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"vertex 'b': input 0 is not connected");
	assert_int_equal(
		sluice_job_connect(job, a, b, 0, SLUICE_EDGE_REBALANCE), 0);
	assert_int_equal(sluice_job_validate(job), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"vertex 'c': input 0 is not connected");
	assert_int_equal(
		sluice_job_connect(job, b, c, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_validate(job), 0);
	assert_int_equal(sluice_job_task_count(job), 8);
	sluice_job_free(job);
}

static void test_runtime__restore_with_unknown_uid_is_rejected(void **state)
{
	pipeline pl;
	sluice_task_snapshot snap;
	const sluice_task_snapshot *list[1] = {&snap};
	sluice_job_restore rs = {7, list, 1};

	(void)state;
	memset(&snap, 0, sizeof(snap));
	snap.uid = (char *)"gone";
	pipeline_build(&pl, 1, 1, 1, 10, SLUICE_JOB_EXACTLY_ONCE);
	assert_int_equal(sluice_job_start(pl.job, NULL, &rs), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "'gone'"));
	assert_int_equal(sluice_job_status_get(pl.job), SLUICE_JOB_CREATED);
	pipeline_free(&pl);
}

static void test_runtime__key_group_arithmetic_follows_flink(void **state)
{
	int32_t s, e;

	(void)state;
	assert_int_equal(sluice_default_max_parallelism(1), 128);
	assert_int_equal(sluice_default_max_parallelism(85), 128);
	assert_int_equal(sluice_default_max_parallelism(100), 256);
	assert_int_equal(sluice_default_max_parallelism(1000), 2048);
	assert_int_equal(sluice_default_max_parallelism(30000), 32768);
	sluice_key_group_range(0, 3, 128, &s, &e);
	assert_int_equal(s, 0);
	assert_int_equal(e, 42);
	sluice_key_group_range(1, 3, 128, &s, &e);
	assert_int_equal(s, 43);
	assert_int_equal(e, 85);
	sluice_key_group_range(2, 3, 128, &s, &e);
	assert_int_equal(s, 86);
	assert_int_equal(e, 127);
	assert_int_equal(sluice_key_group_subtask(42, 3, 128), 0);
	assert_int_equal(sluice_key_group_subtask(43, 3, 128), 1);
	assert_int_equal(sluice_key_group_subtask(127, 3, 128), 2);
}

typedef struct timer_cfg {
	sluice_manual_clock *clock;
	int64_t fired_at; /* atomic */
	int registered;   /* atomic */
} timer_cfg;

static int timer_open(sluice_ctx *ctx)
{
	timer_cfg *cfg = sluice_ctx_arg(ctx);
	int rc = sluice_ctx_timer_register(ctx, sluice_ctx_now_ms(ctx) + 100);

	STORE(&cfg->registered, 1);
	return rc;
}

static int timer_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	timer_cfg *cfg = sluice_ctx_arg(ctx);

	*status = LOAD(&cfg->fired_at) ? SLUICE_SOURCE_END : SLUICE_SOURCE_IDLE;
	(void)ctx;
	return 0;
}

static int timer_fire(sluice_ctx *ctx, int64_t when)
{
	timer_cfg *cfg = sluice_ctx_arg(ctx);
	sluice_record rec = {
		SLUICE_SLICE("k1", 2), SLUICE_SLICE("\0\0\0\0\0\0\0\1", 8),
		when};

	STORE(&cfg->fired_at, when);
	return sluice_ctx_emit(ctx, &rec);
}

static const sluice_operator timer_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.open = timer_open,
	.poll = timer_poll,
	.on_timer = timer_fire,
};

static int registered(void *arg)
{
	return LOAD(&((timer_cfg *)arg)->registered);
}

static void test_runtime__processing_time_timer_fires_on_the_clock(void **state)
{
	sluice_manual_clock clock;
	timer_cfg cfg = {&clock, 0, 0};
	sink_out out;
	sluice_job_options opts = {0};
	sluice_vertex_spec spec;
	sluice_job *job;
	int a, b;

	(void)state;
	sluice_manual_clock_init(&clock, 5000);
	sink_init(&out, 4);
	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.clock = &clock.base;
	assert_int_equal(sluice_job_new(&job, "timers", &opts), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_SOURCE, "t", NULL, 1, 0, &timer_op, &cfg};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "s", NULL, 1, 0,
				    &sink_op,           &out};
	assert_int_equal(sluice_job_add(job, &b, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, a, b, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_start(job, NULL, NULL), 0);
	assert_true(rt_wait_for(registered, &cfg));
	sluice_manual_clock_advance(&clock, 99);
	sluice_job_wakeup(job);
	assert_int_equal(sluice_job_wait(job, 50), SLUICE_ETIMEOUT);
	assert_int_equal(LOAD(&cfg.fired_at), 0);
	sluice_manual_clock_advance(&clock, 1);
	sluice_job_wakeup(job);
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	assert_int_equal(LOAD(&cfg.fired_at), 5100);
	assert_int_equal(out.records, 1);
	assert_int_equal(out.max[1], 1);
	sluice_job_free(job);
	sink_release(&out);
}

typedef struct join_out {
	int64_t per_input[2]; /* atomic */
	int ended[2];         /* atomic */
} join_out;

static int join_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	join_out *out = sluice_ctx_arg(ctx);

	(void)rec;
	ADD(&out->per_input[input], 1);
	return 0;
}

static int join_end(sluice_ctx *ctx, int input)
{
	join_out *out = sluice_ctx_arg(ctx);

	ADD(&out->ended[input], 1);
	return 0;
}

static const sluice_operator join_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = join_process,
	.end_input = join_end,
};

static void test_runtime__two_input_operator_with_broadcast_input(void **state)
{
	src_cfg left = {0}, right = {0};
	join_out out = {{0, 0}, {0, 0}};
	sluice_vertex_spec spec;
	sluice_job *job;
	coord c;
	sluice_job_responder r;
	int a, b, j;

	(void)state;
	left.n = 300;
	left.keys = 7;
	left.gate = 300;
	right.n = 20;
	right.keys = 3;
	right.gate = 20;
	assert_int_equal(sluice_job_new(&job, "join", NULL), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "left", NULL, 2, 0,
				    &source_op,           &left};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "right", NULL, 1, 0,
				    &source_op,           &right};
	assert_int_equal(sluice_job_add(job, &b, &spec), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_OPERATOR2, "join", NULL, 3, 0, &join_op, &out};
	assert_int_equal(sluice_job_add(job, &j, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, a, j, 0, SLUICE_EDGE_KEY_BY), 0);
	assert_int_equal(
		sluice_job_connect(job, b, j, 1, SLUICE_EDGE_BROADCAST), 0);
	/* a two-input operator is a sink here: give it no output check */
	assert_int_equal(sluice_job_validate(job), SLUICE_EINVALID);
	sluice_job_free(job);

	/* with a sink behind it the job runs; checkpoints align 3 inputs */
	assert_int_equal(sluice_job_new(&job, "join", NULL), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "left", NULL, 2, 0,
				    &source_op,           &left};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "right", NULL, 1, 0,
				    &source_op,           &right};
	assert_int_equal(sluice_job_add(job, &b, &spec), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_OPERATOR2, "join", NULL, 3, 0, &join_op, &out};
	assert_int_equal(sluice_job_add(job, &j, &spec), 0);
	{
		static const sluice_operator nop = {
			.version = SLUICE_OPERATOR_VERSION,
			.process = join_process};
		join_out dummy;
		int s;

		memset(&dummy, 0, sizeof(dummy));
		spec = (sluice_vertex_spec){
			SLUICE_VERTEX_SINK, "out", NULL, 1, 0, &nop, &dummy};
		assert_int_equal(sluice_job_add(job, &s, &spec), 0);
		assert_int_equal(
			sluice_job_connect(job, a, j, 0, SLUICE_EDGE_KEY_BY),
			0);
		assert_int_equal(
			sluice_job_connect(job, b, j, 1, SLUICE_EDGE_BROADCAST),
			0);
		assert_int_equal(
			sluice_job_connect(job, j, s, 0, SLUICE_EDGE_REBALANCE),
			0);
		assert_int_equal(sluice_job_validate(job), 0);
		coord_init(&c, job);
		r = responder_of(&c);
		STORE(&left.gate, 100);
		STORE(&right.gate, 10);
		start_running(job, &r, NULL);
		{
			wait_id w = {&c, coord_trigger(&c)};

			assert_true(rt_wait_for(completed_reached, &w));
		}
		STORE(&left.gate, left.n);
		STORE(&right.gate, right.n);
		sluice_job_wakeup(job);
		assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
		assert_int_equal(
			sluice_job_status_get(job), SLUICE_JOB_FINISHED);
		sluice_job_stop(job);
	}
	assert_int_equal(LOAD(&out.per_input[0]), 2 * 300);
	assert_int_equal(LOAD(&out.per_input[1]), 3 * 20); /* broadcast */
	assert_int_equal(LOAD(&out.ended[0]), 3);
	assert_int_equal(LOAD(&out.ended[1]), 3);
	coord_release(&c);
	sluice_job_free(job);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_runtime__graph_validation_rejects_bad_jobs),
		cmocka_unit_test(
			test_runtime__key_group_arithmetic_follows_flink),
		cmocka_unit_test(
			test_runtime__restore_with_unknown_uid_is_rejected),
		cmocka_unit_test(
			test_runtime__exactly_once_after_failure_at_parallelism_1),
		cmocka_unit_test(
			test_runtime__exactly_once_after_failure_at_parallelism_2),
		cmocka_unit_test(
			test_runtime__exactly_once_after_failure_at_parallelism_3),
		cmocka_unit_test(
			test_runtime__exactly_once_after_failure_at_parallelism_4),
		cmocka_unit_test(
			test_runtime__exactly_once_under_repeated_random_failures),
		cmocka_unit_test(test_runtime__at_least_once_loses_nothing),
		cmocka_unit_test(
			test_runtime__rescaled_restore_moves_keyed_state_by_key_group),
		cmocka_unit_test(
			test_runtime__trigger_before_running_declines_not_ready),
		cmocka_unit_test(
			test_runtime__trigger_after_finish_declines_task_closing),
		cmocka_unit_test(
			test_runtime__async_failure_declines_with_async_exception),
		cmocka_unit_test(
			test_runtime__sync_failure_fails_the_task_and_stops_the_job),
		cmocka_unit_test(
			test_runtime__checkpoint_aborted_before_its_barrier_is_skipped),
		cmocka_unit_test(
			test_runtime__corrupt_checkpoint_is_reported_not_restored),
		cmocka_unit_test(
			test_runtime__allocation_failures_fail_cleanly),
		cmocka_unit_test(
			test_runtime__backpressure_blocks_source_and_delays_barrier),
		cmocka_unit_test(
			test_runtime__final_checkpoint_commits_everything_before_finish),
		cmocka_unit_test(
			test_runtime__processing_time_timer_fires_on_the_clock),
		cmocka_unit_test(
			test_runtime__two_input_operator_with_broadcast_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
