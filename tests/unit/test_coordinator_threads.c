/*
 * The coordinator under concurrency (for TSan): eight task threads ack and
 * decline while the main thread triggers, another polls and a third reads
 * statistics.  Every request must get exactly one outcome and every
 * completed checkpoint must notify every task.
 *
 * Calls reach tasks in the order they were queued across threads: a
 * savepoint requested from another thread while the calls of an earlier
 * checkpoint are still being made reaches every task after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sched.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_coordinator_fakes.h"

#define PAR    4
#define ROUNDS 150
#define BATCH  3

static atomic_llong triggered;
static atomic_int stop;

typedef struct worker {
	fake *f;
	int32_t vertex, subtask;
} worker;

static int f_trigger_mt(
	void *ctx,
	const sluice__task_ref *t,
	int64_t id,
	int64_t ts,
	const sluice__trigger_options *o)
{
	long long cur = atomic_load(&triggered);

	(void)ctx;
	(void)t;
	(void)ts;
	(void)o;
	while (cur < id && !atomic_compare_exchange_weak(&triggered, &cur, id))
		;
	return 0;
}

static void *work(void *arg)
{
	worker *w = arg;
	long long last = 0;

	while (!atomic_load(&stop)) {
		long long id = atomic_load(&triggered);
		sluice__task_ref r = {w->vertex, w->subtask, 1};

		if (id <= last) {
			sched_yield();
			continue;
		}
		last = id;
		if (id % 11 == 0 && w->vertex == 1 && w->subtask == 2)
			sluice__coord_decline(
				w->f->c, &r, id, SLUICE_CFR_CHECKPOINT_DECLINED,
				"test decline");
		else
			sluice__coord_ack(w->f->c, &r, id, snap(64));
	}
	return NULL;
}

static void *poller(void *arg)
{
	fake *f = arg;

	while (!atomic_load(&stop)) {
		sluice__coord_poll(f->c);
		sched_yield();
	}
	return NULL;
}

static void *reader(void *arg)
{
	fake *f = arg;

	while (!atomic_load(&stop)) {
		char *text = NULL;
		sluice__stats_counts sc;

		assert_int_equal(
			sluice__stats_json(
				sluice__coord_stats(f->c), -1, &text),
			0);
		sluice__free(text);
		sluice__stats_counts_get(sluice__coord_stats(f->c), &sc);
		assert_true(
			sc.completed + sc.failed + sc.in_progress <= sc.total);
		sched_yield();
	}
	return NULL;
}

static size_t results_so_far(fake *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->n_results;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void test_coordinator_threads__concurrent_acks_and_declines(void **st)
{
	pthread_t th[2 * PAR + 2];
	worker w[2 * PAR];
	sluice__stats_counts sc;
	fake *f = fake_new();
	size_t i, ok = 0, completes;
	int k;

	(void)st;
	sluice_log_set(NULL, NULL, SLUICE_LOG_ERROR);
	atomic_store(&triggered, 0);
	atomic_store(&stop, 0);
	f->v[0].parallelism = PAR;
	f->v[1].parallelism = PAR;
	f->s.max_concurrent = 4;
	f->s.tolerable_failures = SLUICE_FM_UNLIMITED;
	f->s.timeout_ms = 300;
	fake_start_with(f, 0, f_trigger_mt);
	for (i = 0; i < 2 * PAR; i++) {
		w[i] = (worker){f, (int32_t)(i / PAR), (int32_t)(i % PAR)};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	assert_int_equal(pthread_create(&th[2 * PAR], NULL, poller, f), 0);
	assert_int_equal(pthread_create(&th[2 * PAR + 1], NULL, reader, f), 0);
	for (k = 0; k < ROUNDS; k++) {
		int b;

		for (b = 0; b < BATCH; b++)
			trigger_ckpt(f);
		/* older checkpoints of a batch may be skipped by the tasks
		 * (they ack the newest) and are then subsumed, or expire when
		 * the newest was declined: time moves on while we wait */
		while (results_so_far(f) < (size_t)(k + 1) * BATCH) {
			advance(f, 1);
			sched_yield();
		}
	}
	atomic_store(&stop, 1);
	for (i = 0; i < 2 * PAR + 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(f->n_results, ROUNDS * BATCH);
	for (i = 0; i < f->n_results; i++)
		ok += f->results[i].reason == SLUICE_CFR_NONE;
	assert_true(ok > 0);
	pthread_mutex_lock(&f->lock);
	completes = f->n_completes;
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(completes, ok * 2 * PAR);
	sluice__stats_counts_get(sluice__coord_stats(f->c), &sc);
	assert_int_equal(sc.completed, (int64_t)ok);
	assert_int_equal(sc.completed + sc.failed, ROUNDS * BATCH);
	assert_int_equal(info(f).pending, 0);
	assert_int_equal(f->n_fail, 0);
	fake_free(f);
}

/* ---- calls in order across threads ------------------------------------ */

static atomic_int held, sp_returned;

static void *savepoint_main(void *arg)
{
	trigger_sp(arg, 0);
	atomic_store(&sp_returned, 1);
	return NULL;
}

/* The first call (checkpoint 1 to the first source) starts a savepoint
 * request on another thread and holds on until that request returned,
 * 300 ms at most. */
static int f_trigger_slow(
	void *ctx,
	const sluice__task_ref *t,
	int64_t id,
	int64_t ts,
	const sluice__trigger_options *o)
{
	pthread_t th;
	int i;

	if (id == 1 && !atomic_exchange(&held, 1)) {
		assert_int_equal(
			pthread_create(&th, NULL, savepoint_main, ctx), 0);
		assert_int_equal(pthread_detach(th), 0);
		for (i = 0; i < 300 && !atomic_load(&sp_returned); i++)
			usleep(1000);
	}
	return f_trigger(ctx, t, id, ts, o);
}

static void test_coordinator_threads__calls_keep_their_order(void **st)
{
	fake *f = fake_new();
	int i;

	(void)st;
	atomic_store(&held, 0);
	atomic_store(&sp_returned, 0);
	fake_start_with(f, 0, f_trigger_slow);
	trigger_ckpt(f);
	while (!atomic_load(&sp_returned))
		usleep(1000);
	pthread_mutex_lock(&f->lock);
	assert_int_equal(f->n_triggers, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(f->triggers[i].id, 1 + i / 2);
		assert_int_equal(f->triggers[i].task.subtask, i % 2);
	}
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(info(f).pending, 2);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_coordinator_threads__concurrent_acks_and_declines),
		cmocka_unit_test(
			test_coordinator_threads__calls_keep_their_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
