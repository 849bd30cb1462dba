/*
 * The runtime's task-side rules and job mechanics, with the harness of
 * runtime_harness.h: triggers before running (TASK_NOT_READY) and after
 * finishing (TASK_CLOSING), asynchronous failure (ASYNC_EXCEPTION),
 * synchronous failure (the task fails), checkpoints aborted before their
 * barrier, corrupt checkpoints, allocation failures, backpressure, the
 * final checkpoint with a two-phase-commit sink, graph validation,
 * key-group arithmetic, processing-time timers and two-input operators.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime_harness.h"
/* the runtime's and the coordinator's internals must live in one file
 * (the bridge between them): no clashing names */
#include "checkpoint/ckstore.h"
#include "checkpoint/coordinator.h"
#include "runtime/runtime.h"
#include "sluice/state.h"
#include "sluice/sys/backend.h"
#include "sluice/config.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

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
	rt_pipeline_build(&pl, 2, 1, 1, 100, SLUICE_JOB_EXACTLY_ONCE);
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	STORE(&pl.src.hold_init, 1);
	assert_int_equal(sluice_job_start(pl.job, &r, NULL), 0);
	assert_true(rt_wait_for(source_in_init, &pl.src));
	rt_coord_trigger(&c);
	assert_true(
		rt_declines_of(
			&c, 1, SLUICE_CFR_CHECKPOINT_DECLINED_TASK_NOT_READY) >=
		1);
	STORE(&pl.src.hold_init, 0);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FINISHED);
	sluice_job_stop(pl.job);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
}

static void
test_runtime__trigger_after_finish_declines_task_closing(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	sluice_task_info info;

	(void)state;
	rt_pipeline_build(&pl, 2, 2, 2, 50, SLUICE_JOB_EXACTLY_ONCE);
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	assert_int_equal(sluice_job_start(pl.job, &r, NULL), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_task_info(pl.job, 0, &info), 0);
	assert_int_equal(info.state, SLUICE_TASK_STATE_FINISHED);
	assert_string_equal(sluice_task_state_name(info.state), "FINISHED");
	rt_coord_trigger(&c);
	assert_int_equal(
		rt_declines_of(
			&c, 1, SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING),
		2);
	sluice_job_stop(pl.job);
	assert_int_equal(c.finished, c.num_tasks);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
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
	rt_pipeline_build(&pl, 2, 2, 2, 400, SLUICE_JOB_EXACTLY_ONCE);
	assert_int_equal(
		sluice_job_set_state_provider(pl.job, rt_flaky_new, &fail_id),
		0);
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	STORE(&pl.src.gate, 100);
	rt_start_running(pl.job, &r, NULL);
	w = (wait_id){&c, rt_coord_trigger(&c)};
	assert_true(rt_wait_for(rt_completed_reached, &w));
	rt_coord_trigger(&c); /* 2: every task's upload fails */
	d = (wait_decl){
		&c, 2, SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION, c.num_tasks};
	assert_true(rt_wait_for(rt_declines_reached, &d));
	assert_int_equal(rt_acks_of(&c, 2), 0);
	w = (wait_id){&c, rt_coord_trigger(&c)}; /* 3 completes again */
	assert_true(rt_wait_for(rt_completed_reached, &w));
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FINISHED);
	sluice_job_stop(pl.job);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
}

static void
test_runtime__sync_failure_fails_the_task_and_stops_the_job(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	int i;

	(void)state;
	rt_pipeline_build(&pl, 2, 2, 2, 1000, SLUICE_JOB_EXACTLY_ONCE);
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	STORE(&pl.src.gate, 10);
	STORE(&pl.src.fail_sync, 1);
	rt_start_running(pl.job, &r, NULL);
	rt_coord_trigger(&c);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FAILED);
	assert_non_null(strstr(
		sluice_job_failure(pl.job), "injected snapshot failure"));
	assert_true(c.failed >= 1);
	for (i = 0; i < c.num_tasks; i++) {
		sluice_task_info info;

		assert_int_equal(sluice_job_task_info(pl.job, i, &info), 0);
		assert_true(
			info.state == SLUICE_TASK_STATE_FAILED ||
			info.state == SLUICE_TASK_STATE_CANCELED);
	}
	sluice_job_stop(pl.job);
	assert_int_equal(c.completed_id, 0);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
}

static int four_completions(void *arg)
{
	return LOAD(&((notes *)arg)->complete_calls) >= 4;
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
	rt_pipeline_build(&pl, 2, 2, 2, 400, SLUICE_JOB_EXACTLY_ONCE);
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	STORE(&pl.src.gate, 100);
	rt_start_running(pl.job, &r, NULL);
	w = (wait_id){&c, rt_coord_trigger(&c)};
	assert_true(rt_wait_for(rt_completed_reached, &w));
	snaps = LOAD(&pl.src.snapshots);
	/* the coordinator aborts 2 before any task saw its barrier */
	assert_int_equal(sluice_job_notify_aborted(pl.job, 2), 0);
	w = (wait_id){&c, 3};
	rt_coord_trigger(&c); /* 2: skipped, cancel markers flow */
	rt_coord_trigger(&c); /* 3: a normal checkpoint */
	assert_true(rt_wait_for(rt_completed_reached, &w));
	assert_int_equal(rt_acks_of(&c, 2), 0);
	/* sources snapshotted 3 only */
	assert_int_equal(LOAD(&pl.src.snapshots), snaps + 2);
	/* every downstream task declined once and forwarded the marker */
	assert_int_equal(
		rt_declines_of(
			&c, 2,
			SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER),
		c.num_tasks - 2);
	assert_int_equal(rt_declines_of(&c, 2, -1), c.num_tasks - 2);
	/* operators heard of the abort and of both completions */
	assert_int_equal(LOAD(&pl.notes.last_aborted), 2);
	assert_int_equal(LOAD(&pl.notes.aborted_calls), 2);
	/* completions of 1 and 3 reach both map subtasks (before the end:
	 * notifications for finished tasks are dropped) */
	assert_true(rt_wait_for(four_completions, &pl.notes));
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	sluice_job_stop(pl.job);
	assert_int_equal(LOAD(&pl.notes.last_complete), 3);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
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
	rt_pipeline_build(&pl, 2, 2, 2, 300, SLUICE_JOB_EXACTLY_ONCE);
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	STORE(&pl.src.gate, 150);
	rt_start_running(pl.job, &r, NULL);
	w = (wait_id){&c, rt_coord_trigger(&c)};
	assert_true(rt_wait_for(rt_completed_reached, &w));
	sluice_job_stop(pl.job);
	for (i = 0; i < c.num_tasks; i++)
		if (c.completed[i]->keyed && c.completed[i]->subtask == 1)
			victim = c.completed[i];
	assert_non_null(victim);
	assert_string_equal(victim->uid, "count");
	assert_int_equal(victim->keyed->stream->kind, SLUICE_HANDLE_INLINE);
	assert_true(victim->state_size >= victim->keyed->stream->size);
	victim->keyed->stream->data[victim->keyed->stream->size / 2] ^= 0x20;
	rt_restore_of(&c, &rs);
	assert_int_equal(sluice_job_start(pl.job, &r, &rs), SLUICE_ECORRUPT);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "keyed state of 'count' subtask 1: checksum mismatch"));
	assert_int_equal(
		sluice_job_state_get(pl.job), SLUICE_JOB_STATE_CREATED);
	/* repaired, the same checkpoint restores */
	victim->keyed->stream->data[victim->keyed->stream->size / 2] ^= 0x20;
	STORE(&pl.src.gate, pl.src.n);
	assert_int_equal(sluice_job_start(pl.job, &r, &rs), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FINISHED);
	sluice_job_stop(pl.job);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
}

/* Every allocation of start and run may fail: errors, never crashes or
 * leaks (ASan checks the leaks). */
static void test_runtime__allocation_failures_fail_cleanly(void **state)
{
	pipeline pl;
	long k;
	int finished = 0;

	(void)state;
	rt_pipeline_build(&pl, 2, 1, 2, 40, SLUICE_JOB_EXACTLY_ONCE);
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
				sluice_job_state_get(pl.job),
				SLUICE_JOB_STATE_CREATED);
			continue;
		}
		if (sluice_job_state_get(pl.job) == SLUICE_JOB_STATE_FINISHED)
			finished++;
		else
			assert_int_equal(
				sluice_job_state_get(pl.job),
				SLUICE_JOB_STATE_FAILED);
		sluice_job_stop(pl.job);
	}
	assert_int_equal(finished, 3);
	rt_pipeline_free(&pl);
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
	.close = rt_free_local,
};

static int first_task_running(void *arg)
{
	sluice_job *job = arg;
	sluice_task_info info;

	return sluice_job_task_info(job, 0, &info) == 0 &&
	       info.state == SLUICE_TASK_STATE_RUNNING;
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
				    &rt_source_op,        &src};
	assert_int_equal(sluice_job_add(job, &s, &spec), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_OPERATOR, "map", NULL, 2, 0, &rt_map_op, &nt};
	assert_int_equal(sluice_job_add(job, &m, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_OPERATOR, "count", NULL, 3, 0,
				    &rt_count_op,           &count};
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
	rt_coord_init(&c, job);
	r = rt_responder_of(&c);
	assert_int_equal(sluice_job_start(job, &r, NULL), 0);
	/* all input consumed, but nobody finishes without a checkpoint */
	count.target = 2 * src.n;
	assert_true(rt_wait_for(rt_counted_target, &count));
	assert_int_equal(sluice_job_wait(job, 30), SLUICE_ETIMEOUT);
	assert_true(first_task_running(job));
	assert_int_equal(LOAD(&out.committed), 0);
	/* the final checkpoint completes; tasks finish after committing */
	rt_coord_trigger(&c);
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_state_get(job), SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(LOAD(&out.ended), 3);
	assert_int_equal(LOAD(&out.committed), 2 * src.n);
	assert_int_equal(c.completed_id, 1);
	sluice_job_stop(job);
	assert_int_equal(c.finished, c.num_tasks);
	rt_coord_release(&c);
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
				    &rt_source_op,        &src};
	assert_int_equal(sluice_job_add(job, &s, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "sink", NULL, 1, 0,
				    &held_op,           &out};
	assert_int_equal(sluice_job_add(job, &o, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, s, o, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_validate(job), 0);
	rt_coord_init(&c, job);
	r = rt_responder_of(&c);
	rt_start_running(job, &r, NULL);
	/* the sink holds: one buffer in flight, the source must wait */
	assert_true(rt_wait_for(source_backpressured, job));
	w = (wait_id){&c, rt_coord_trigger(&c)};
	/* the barrier queues behind data the sink has not taken */
	assert_int_equal(sluice_job_wait(job, 20), SLUICE_ETIMEOUT);
	assert_false(rt_completed_reached(&w));
	assert_true(LOAD(&out.records) <= 1);
	STORE(&out.hold, 0);
	assert_true(rt_wait_for(rt_completed_reached, &w));
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	assert_int_equal(LOAD(&out.records), src.n);
	assert_int_equal(sluice_job_task_info(job, 0, &info), 0);
	assert_true(info.output_waits > 0);
	sluice_job_stop(job);
	rt_coord_release(&c);
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
				    &rt_source_op,        NULL};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	assert_int_equal(sluice_job_add(job, &a, &spec), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "used twice"));
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_OPERATOR, "b", NULL, 0, 0, &rt_map_op, NULL};
	assert_int_equal(sluice_job_add(job, &b, &spec), SLUICE_EINVALID);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "Operator parallelism not within bounds: 0"));
	spec.parallelism = 3;
	spec.max_parallelism = 2;
	assert_int_equal(sluice_job_add(job, &b, &spec), SLUICE_EINVALID);
	spec.max_parallelism = 0;
	spec.op = &rt_source_op; /* no process */
	assert_int_equal(sluice_job_add(job, &b, &spec), SLUICE_EINVALID);
	spec.op = &rt_map_op;
	assert_int_equal(sluice_job_add(job, &b, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "c", NULL, 3, 0,
				    &rt_sink_op,        NULL};
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

static void
test_runtime__restore_matches_state_to_vertices_as_flink(void **state)
{
	pipeline pl;
	sluice_stream_handle empty = {
		SLUICE_HANDLE_INLINE, (char *)"empty", 0, 0, (uint8_t *)""};
	sluice_keyed_handle keyed = {0, 0, NULL, &empty};
	sluice_task_snapshot snap;
	const sluice_task_snapshot *list[1] = {&snap};
	sluice_job_restore rs = {7, list, 1, NULL, NULL, 0, 0};
	sluice_task_info info;
	int i;

	(void)state;
	empty.checksum = sluice__xxh3("", 0);
	memset(&snap, 0, sizeof(snap));
	snap.uid = (char *)"gone";
	snap.parallelism = 1;
	snap.max_parallelism = 128;
	snap.keyed = &keyed;
	rt_pipeline_build(&pl, 1, 1, 1, 10, SLUICE_JOB_EXACTLY_ONCE);
	/* state of a vertex that is gone */
	assert_int_equal(sluice_job_start(pl.job, NULL, &rs), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"Failed to rollback to checkpoint/savepoint 7. Cannot map "
		"checkpoint/savepoint state for operator gone to the new "
		"program, because the operator is not available in the new "
		"program. If you want to allow to skip this, you can set the "
		"--allowNonRestoredState option on the CLI.");
	assert_int_equal(
		sluice_job_state_get(pl.job), SLUICE_JOB_STATE_CREATED);
	/* ... skipped when allowed */
	rs.allow_non_restored = 1;
	assert_int_equal(sluice_job_start(pl.job, NULL, &rs), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FINISHED);
	sluice_job_stop(pl.job);
	/* a default max parallelism adopts the state's */
	rs.allow_non_restored = 0;
	snap.uid = (char *)"count";
	snap.max_parallelism = 256;
	assert_int_equal(sluice_job_start(pl.job, NULL, &rs), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	for (i = 0; i < sluice_job_task_count(pl.job); i++) {
		assert_int_equal(sluice_job_task_info(pl.job, i, &info), 0);
		if (!strcmp(info.uid, "count"))
			assert_int_equal(info.max_parallelism, 256);
	}
	sluice_job_stop(pl.job);
	rt_pipeline_free(&pl);
}

static void
test_runtime__restore_rejects_explicit_max_parallelism_change(void **state)
{
	sluice_stream_handle empty = {
		SLUICE_HANDLE_INLINE, (char *)"empty", 0, 0, (uint8_t *)""};
	sluice_opstate_handle ops = {0, NULL, &empty};
	sluice_task_snapshot snap;
	const sluice_task_snapshot *list[1] = {&snap};
	sluice_job_restore rs = {9, list, 1, NULL, "/ck/chk-9", 0, 0};
	sluice_vertex_spec spec;
	sluice_job *job;
	src_cfg src = {0};
	sink_out out;
	int a, b;

	(void)state;
	empty.checksum = sluice__xxh3("", 0);
	memset(&snap, 0, sizeof(snap));
	snap.uid = (char *)"src";
	snap.max_parallelism = 128;
	snap.opstate = &ops;
	rt_sink_init(&out, 4);
	assert_int_equal(sluice_job_new(&job, "maxp", NULL), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "src", NULL, 1, 64,
				    &rt_source_op,        &src};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "sink", NULL, 1, 0,
				    &rt_sink_op,        &out};
	assert_int_equal(sluice_job_add(job, &b, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, a, b, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_start(job, NULL, &rs), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"Failed to rollback to checkpoint/savepoint /ck/chk-9. Max "
		"parallelism mismatch between checkpoint/savepoint state and "
		"new program. Cannot map operator src with max parallelism 128 "
		"to new program with max parallelism 64. This indicates that "
		"the program has been changed in a non-compatible way after "
		"the checkpoint/savepoint.");
	sluice_job_free(job);
	rt_sink_release(&out);
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
	rt_sink_init(&out, 4);
	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.clock = &clock.base;
	assert_int_equal(sluice_job_new(&job, "timers", &opts), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_SOURCE, "t", NULL, 1, 0, &timer_op, &cfg};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "s", NULL, 1, 0,
				    &rt_sink_op,        &out};
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
	rt_sink_release(&out);
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
				    &rt_source_op,        &left};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "right", NULL, 1, 0,
				    &rt_source_op,        &right};
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
				    &rt_source_op,        &left};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "right", NULL, 1, 0,
				    &rt_source_op,        &right};
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
		rt_coord_init(&c, job);
		r = rt_responder_of(&c);
		STORE(&left.gate, 100);
		STORE(&right.gate, 10);
		rt_start_running(job, &r, NULL);
		{
			wait_id w = {&c, rt_coord_trigger(&c)};

			assert_true(rt_wait_for(rt_completed_reached, &w));
		}
		STORE(&left.gate, left.n);
		STORE(&right.gate, right.n);
		sluice_job_wakeup(job);
		assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
		assert_int_equal(
			sluice_job_state_get(job), SLUICE_JOB_STATE_FINISHED);
		sluice_job_stop(job);
	}
	assert_int_equal(LOAD(&out.per_input[0]), 2 * 300);
	assert_int_equal(LOAD(&out.per_input[1]), 3 * 20); /* broadcast */
	assert_int_equal(LOAD(&out.ended[0]), 3);
	assert_int_equal(LOAD(&out.ended[1]), 3);
	rt_coord_release(&c);
	sluice_job_free(job);
}

static void test_runtime__trigger_task_checkpoints_a_single_task(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	sluice_task_info info;
	int sink = -1, i, n = 0;

	(void)state;
	rt_pipeline_build(&pl, 1, 1, 2, 100, SLUICE_JOB_EXACTLY_ONCE);
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	STORE(&pl.src.gate, 10);
	rt_start_running(pl.job, &r, NULL);
	for (i = 0; i < c.num_tasks; i++) {
		assert_int_equal(sluice_job_task_info(pl.job, i, &info), 0);
		if (!strcmp(info.uid, "sink") && info.subtask == 1)
			sink = i;
	}
	assert_true(sink >= 0);
	assert_int_equal(
		sluice_job_trigger_task(pl.job, sink, 5, 1000, NULL), 0);
	for (i = 0; i < RT_WAIT_MS && n == 0; i++) {
		if (!(n = rt_acks_of(&c, 5)))
			rt_pause_1ms();
	}
	/* only that task acks checkpoint 5 */
	assert_int_equal(n, 1);
	pthread_mutex_lock(&c.lock);
	for (i = 0; i < c.num_acked; i++)
		if ((c.acked_ids[i] >> 8) == 5)
			assert_int_equal(c.acked_ids[i] & 0xff, sink);
	pthread_mutex_unlock(&c.lock);
	assert_int_equal(
		sluice_job_trigger_task(pl.job, c.num_tasks, 6, 1000, NULL),
		SLUICE_EINVALID);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	sluice_job_stop(pl.job);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
}

static void
test_runtime__options_follow_the_checkpoint_configuration(void **state)
{
	sluice_config *conf;
	sluice_checkpoint_settings cs;
	sluice_job_options o;

	(void)state;
	assert_int_equal(sluice_config_new(&conf), 0);
	assert_int_equal(
		sluice_config_set_arg(
			conf, "execution.checkpointing.interval=10s"),
		0);
	assert_int_equal(
		sluice_config_set_arg(
			conf, "execution.checkpointing.mode=AT_LEAST_ONCE"),
		0);
	assert_int_equal(sluice_config_validate(conf), 0);
	assert_int_equal(sluice_config_checkpoint_settings(conf, &cs), 0);
	memset(&o, 0, sizeof(o));
	assert_int_equal(sluice_job_options_from_settings(&o, &cs), 0);
	assert_int_equal(o.mode, SLUICE_JOB_AT_LEAST_ONCE);
	assert_int_equal(o.checkpoints_after_tasks_finish, 1);
	assert_int_equal(o.final_checkpoint, 1);
	assert_int_equal(
		sluice_config_set_arg(
			conf, "execution.checkpointing.checkpoints-after-tasks-"
			      "finish=false"),
		0);
	assert_int_equal(
		sluice_config_set_arg(
			conf, "execution.checkpointing.mode=EXACTLY_ONCE"),
		0);
	assert_int_equal(sluice_config_validate(conf), 0);
	assert_int_equal(sluice_config_checkpoint_settings(conf, &cs), 0);
	assert_int_equal(sluice_job_options_from_settings(&o, &cs), 0);
	assert_int_equal(o.mode, SLUICE_JOB_EXACTLY_ONCE);
	assert_int_equal(o.checkpoints_after_tasks_finish, -1);
	assert_int_equal(o.final_checkpoint, 0);
	sluice_config_free(conf);
}

/* The network keys: Flink's defaults, then values as set; 0 exclusive
 * buffers means floating ones only; no buffer at all is refused, by the
 * mapping and by the configuration check. */
static void test_runtime__options_follow_the_network_configuration(void **st)
{
	sluice_config *conf;
	sluice_job_options o;
	sluice_job *job;

	(void)st;
	assert_int_equal(sluice_config_new(&conf), 0);
	memset(&o, 0, sizeof(o));
	assert_int_equal(sluice_job_options_from_config(&o, conf), 0);
	assert_int_equal(o.buffer_size, 32 * 1024);
	assert_int_equal(o.channel_credits, 2);
	assert_int_equal(o.floating_buffers, 8);
	assert_int_equal(
		sluice_config_set_arg(
			conf, "taskmanager.memory.segment-size=4kb"),
		0);
	assert_int_equal(
		sluice_config_set_arg(
			conf,
			"taskmanager.network.memory.buffers-per-channel=0"),
		0);
	assert_int_equal(
		sluice_config_set_arg(
			conf, "taskmanager.network.memory.floating-buffers-per-"
			      "gate=3"),
		0);
	assert_int_equal(sluice_config_validate(conf), 0);
	assert_int_equal(sluice_job_options_from_config(&o, conf), 0);
	assert_int_equal(o.buffer_size, 4096);
	assert_int_equal(o.channel_credits, -1);
	assert_int_equal(o.floating_buffers, 3);
	o.version = SLUICE_JOB_OPTIONS_VERSION;
	assert_int_equal(sluice_job_new(&job, "net", &o), 0);
	sluice_job_free(job);
	o.floating_buffers = 0; /* -1 without floating buffers: refused */
	assert_int_equal(sluice_job_new(&job, "net", &o), SLUICE_EINVALID);
	assert_int_equal(
		sluice_config_set_arg(
			conf, "taskmanager.network.memory.floating-buffers-per-"
			      "gate=0"),
		0);
	assert_int_equal(
		sluice_job_options_from_config(&o, conf), SLUICE_EINVALID);
	assert_non_null(strstr(
		sluice_error_last()->message, "buffers-per-channel (0)"));
	assert_int_equal(sluice_config_validate(conf), SLUICE_EINVALID);
	assert_non_null(strstr(
		sluice_config_problem(conf, 0), "floating-buffers-per-gate"));
	sluice_config_free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_runtime__trigger_task_checkpoints_a_single_task),
		cmocka_unit_test(
			test_runtime__options_follow_the_checkpoint_configuration),
		cmocka_unit_test(
			test_runtime__options_follow_the_network_configuration),
		cmocka_unit_test(
			test_runtime__graph_validation_rejects_bad_jobs),
		cmocka_unit_test(
			test_runtime__key_group_arithmetic_follows_flink),
		cmocka_unit_test(
			test_runtime__restore_matches_state_to_vertices_as_flink),
		cmocka_unit_test(
			test_runtime__restore_rejects_explicit_max_parallelism_change),
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
