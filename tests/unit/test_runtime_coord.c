/*
 * The runtime driven by the real checkpoint coordinator through the bridge
 * (src/runtime/coord_bridge.h), with state written by the tasks into the
 * coordinator's checkpoint store on a file storage: checkpoints complete
 * with a `_metadata` on disk, operators are notified, and declines from
 * tasks that are not running yet abort the checkpoint.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "checkpoint/ckstore.h"
#include "sluice/sys/metadata.h"
#include "runtime/coord_bridge.h"
#include "runtime_harness.h"

#define JOB_ID "00112233445566778899aabbccddeeff"

typedef struct outcome {
	pthread_mutex_t lock;
	int done;
	int64_t id;
	int reason;
	char path[512];
} outcome;

static void on_done(void *arg, const sluice__ckpt_result *r)
{
	outcome *o = arg;

	pthread_mutex_lock(&o->lock);
	o->done = 1;
	o->id = r->id;
	o->reason = (int)r->reason;
	snprintf(
		o->path, sizeof(o->path), "%s",
		r->external_path ? r->external_path : "");
	pthread_mutex_unlock(&o->lock);
}

static int is_done(void *arg)
{
	outcome *o = arg;
	int d;

	pthread_mutex_lock(&o->lock);
	d = o->done;
	pthread_mutex_unlock(&o->lock);
	return d;
}

static int
open_stream(void *ctx, int64_t id, sluice_scope scope, sluice_ostream **out)
{
	return sluice__ckstore_open_stream(out, ctx, id, scope);
}

typedef struct env {
	char dir[64];
	pipeline pl;
	sluice__job_coord *bridge;
	sluice_checkpoint_storage *cs;
	sluice__ckstore *ks;
	sluice__coord *coord;
	sluice_checkpoint_settings settings;
	sluice_manual_clock clock;
} env;

static void env_start(env *e)
{
	sluice__ckstore_vertex vx[4];
	sluice_storage_options so;
	sluice__coord_storage storage;
	sluice__coord_tasks tasks;
	sluice__coord_options o;
	sluice_stream_factory f;
	sluice_job_responder r;
	const sluice__coord_vertex *cv;
	int32_t n, v;

	memset(e, 0, sizeof(*e));
	sluice_manual_clock_init(&e->clock, 1700000000000);
	e->settings.enabled = 1;
	e->settings.interval_ms = 3600000;
	e->settings.timeout_ms = 600000;
	e->settings.max_concurrent = 1;
	e->settings.tolerable_failures = 0;
	e->settings.num_retained = 1;
	e->settings.checkpoints_after_tasks_finish = 1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/sluice-rtc-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	rt_pipeline_build(&e->pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	assert_int_equal(sluice__job_coord_new(&e->bridge, e->pl.job), 0);
	cv = sluice__job_coord_vertices(e->bridge, &n);
	assert_int_equal(n, 4);
	for (v = 0; v < n; v++) {
		sluice_task_info info;
		int jv = sluice__job_coord_job_vertex(e->bridge, v);
		int k;

		for (k = 0; k < sluice_job_task_count(e->pl.job); k++) {
			assert_int_equal(
				sluice_job_task_info(e->pl.job, k, &info), 0);
			if (info.vertex == jv)
				break;
		}
		vx[v] = (sluice__ckstore_vertex){
			info.uid, info.name, info.parallelism,
			info.max_parallelism};
	}
	sluice_storage_options_init(&so);
	so.checkpoint_dir = e->dir;
	so.inline_threshold = 0;
	assert_int_equal(sluice_checkpoint_storage_new(&e->cs, &so, JOB_ID), 0);
	assert_int_equal(
		sluice__ckstore_new(
			&e->ks, e->cs, &e->settings, JOB_ID, &e->clock.base, vx,
			n),
		0);
	sluice__ckstore_vtable(e->ks, &storage);
	sluice__job_coord_tasks(e->bridge, &tasks);
	memset(&o, 0, sizeof(o));
	o.settings = &e->settings;
	o.job_id = JOB_ID;
	o.vertices = cv;
	o.n_vertices = n;
	o.clock = &e->clock.base;
	o.tasks = &tasks;
	o.storage = &storage;
	assert_int_equal(sluice__coord_new(&e->coord, &o), 0);
	sluice__job_coord_attach(e->bridge, e->coord);
	f = (sluice_stream_factory){e->ks, open_stream, NULL};
	assert_int_equal(sluice_job_set_stream_factory(e->pl.job, &f), 0);
	sluice__job_coord_responder(e->bridge, &r);
	STORE(&e->pl.src.gate, 200);
	rt_start_running(e->pl.job, &r, NULL);
}

static void env_free(env *e)
{
	sluice__coord_shutdown(e->coord);
	sluice_job_stop(e->pl.job);
	sluice__coord_free(e->coord);
	sluice__ckstore_free(e->ks);
	sluice_checkpoint_storage_free(e->cs);
	sluice__job_coord_free(e->bridge);
	rt_pipeline_free(&e->pl);
	assert_int_equal(
		sluice_storage_remove_tree(sluice_storage_file_get(), e->dir),
		0);
}

static int two_notified(void *arg)
{
	return LOAD(&((notes *)arg)->complete_calls) >= 2;
}

static void test_runtime_coord__checkpoint_completes_with_metadata(void **state)
{
	env e;
	outcome out;
	char meta[640];
	struct stat st;

	(void)state;
	memset(&out, 0, sizeof(out));
	pthread_mutex_init(&out.lock, NULL);
	env_start(&e);
	assert_int_equal(
		sluice__coord_trigger_checkpoint(e.coord, on_done, &out), 0);
	assert_true(rt_wait_for(is_done, &out));
	assert_int_equal(out.reason, SLUICE_CFR_NONE);
	assert_int_equal(out.id, 1);
	assert_true(out.path[0] != '\0');
	snprintf(meta, sizeof(meta), "%s/_metadata", out.path);
	assert_int_equal(stat(meta, &st), 0);
	assert_true(st.st_size > 0);
	/* both map subtasks heard of the completion */
	assert_true(rt_wait_for(two_notified, &e.pl.notes));
	assert_int_equal(LOAD(&e.pl.notes.last_complete), 1);
	STORE(&e.pl.src.gate, e.pl.src.n);
	sluice_job_wakeup(e.pl.job);
	assert_int_equal(sluice_job_wait(e.pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(e.pl.job), SLUICE_JOB_STATE_FINISHED);
	env_free(&e);
	pthread_mutex_destroy(&out.lock);
}

static void
test_runtime_coord__failed_task_fails_pending_checkpoint(void **state)
{
	env e;
	outcome out;

	(void)state;
	memset(&out, 0, sizeof(out));
	pthread_mutex_init(&out.lock, NULL);
	env_start(&e);
	/* a source fails in its synchronous phase: the task fails, the
	 * coordinator aborts the checkpoint */
	STORE(&e.pl.src.fail_sync, 1);
	assert_int_equal(
		sluice__coord_trigger_checkpoint(e.coord, on_done, &out), 0);
	assert_true(rt_wait_for(is_done, &out));
	assert_true(
		out.reason == SLUICE_CFR_TASK_FAILURE ||
		out.reason == SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING);
	assert_int_equal(sluice_job_wait(e.pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(e.pl.job), SLUICE_JOB_STATE_FAILED);
	env_free(&e);
	pthread_mutex_destroy(&out.lock);
}

/* Fail after checkpoint 1, find it on disk like a restarting process
 * would, restore from its `_metadata` and finish: counts are exact. */
static void test_runtime_coord__restart_from_discovered_checkpoint(void **state)
{
	env e;
	outcome out;
	sluice_checkpoint_meta *m = NULL;
	sluice_restore_set *rs = NULL;
	sluice_job_responder r;
	char *dir = NULL;
	sluice_storage *st;

	(void)state;
	memset(&out, 0, sizeof(out));
	pthread_mutex_init(&out.lock, NULL);
	env_start(&e);
	e.pl.count.target = 2 * 200;
	assert_true(rt_wait_for(rt_counted_target, &e.pl.count));
	assert_int_equal(
		sluice__coord_trigger_checkpoint(e.coord, on_done, &out), 0);
	assert_true(rt_wait_for(is_done, &out));
	assert_int_equal(out.reason, SLUICE_CFR_NONE);
	STORE(&e.pl.count.fail_at, LOAD(&e.pl.count.processed) + 150);
	STORE(&e.pl.src.gate, e.pl.src.n);
	sluice_job_wakeup(e.pl.job);
	assert_int_equal(sluice_job_wait(e.pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(e.pl.job), SLUICE_JOB_STATE_FAILED);
	sluice_job_stop(e.pl.job);
	/* what a restarting process finds */
	st = sluice_checkpoint_storage_backend(e.cs);
	assert_int_equal(
		sluice_checkpoint_discover(
			&m, &dir, st, sluice_checkpoint_storage_job_dir(e.cs),
			NULL, NULL),
		0);
	assert_int_equal(m->checkpoint_id, 1);
	assert_int_equal(sluice_restore_set_from_meta(&rs, m, st, dir), 0);
	assert_int_equal(rs->num_tasks, 2 + 2); /* sources' offsets, counters */
	STORE(&e.pl.count.fail_at, 0);
	sluice__job_coord_responder(e.bridge, &r);
	assert_int_equal(sluice_job_start(e.pl.job, &r, &rs->restore), 0);
	assert_int_equal(sluice_job_wait(e.pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(e.pl.job), SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(LOAD(&e.pl.src.restored), 2);
	rt_sink_expect_exact(&e.pl.sink, &e.pl.src, 2);
	sluice_restore_set_free(rs);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
	env_free(&e);
	pthread_mutex_destroy(&out.lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_runtime_coord__checkpoint_completes_with_metadata),
		cmocka_unit_test(
			test_runtime_coord__failed_task_fails_pending_checkpoint),
		cmocka_unit_test(
			test_runtime_coord__restart_from_discovered_checkpoint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
