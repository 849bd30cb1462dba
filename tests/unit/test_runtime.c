/*
 * The dataflow runtime end to end, driven by the fake coordinator of
 * runtime_harness.h: the standard pipeline (replayable gated source ->
 * rebalance -> map -> key-by -> keyed counter -> forward -> collecting
 * sink) at parallelism 1-4 fails and restarts from the newest completed
 * checkpoint; the sink records every (key, count) it ever received across
 * restarts, and with exactly-once state every key must show exactly the
 * counts 1..expected.  Also at-least-once (nothing lost), repeated seeded
 * random failures with failing uploads, and a restore at a different
 * parallelism.  sluice_job_wakeup from another thread is safe while the
 * job stops and starts again (as a sluice_run restart does).
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
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

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

	rt_pipeline_build(&pl, sp, mp, cp, 3000, SLUICE_JOB_EXACTLY_ONCE);
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	STORE(&pl.src.gate, pl.src.n / 3);
	rt_start_running(pl.job, &r, NULL);
	pl.count.target = pl.src.n / 3 * sp;
	assert_true(rt_wait_for(rt_counted_target, &pl.count));
	w = (wait_id){&c, rt_coord_trigger(&c)};
	assert_true(rt_wait_for(rt_completed_reached, &w));
	before = LOAD(&pl.count.processed);
	assert_int_equal(before, pl.src.n / 3 * sp);
	STORE(&pl.count.fail_at, before + 500 + 97 * sp);
	rt_coord_start_periodic(&c, 2);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	rt_coord_stop_periodic(&c);
	assert_int_equal(sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FAILED);
	if (!strstr(sluice_job_failure(pl.job), "injected failure"))
		fail_msg("job failure: %s", sluice_job_failure(pl.job));
	sluice_job_stop(pl.job);
	assert_int_equal(c.failed, 1);

	/* restart from the newest completed checkpoint */
	rt_coord_reset_run(&c);
	STORE(&pl.count.fail_at, 0);
	rt_restore_of(&c, &rs);
	assert_true(rs.checkpoint_id >= 1);
	assert_int_equal(sluice_job_start(pl.job, &r, &rs), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(LOAD(&pl.src.restored), sp);
	sluice_job_stop(pl.job);
	assert_int_equal(c.finished, c.num_tasks);
	rt_sink_expect_exact(&pl.sink, &pl.src, sp);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
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

	rt_pipeline_build(&pl, sp, mp, cp, 4000, SLUICE_JOB_EXACTLY_ONCE);
	assert_int_equal(
		sluice_job_set_state_provider(
			pl.job, rt_flaky_new, &fail_upload),
		0);
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	for (attempt = 0; attempt < 5; attempt++) {
		int last = attempt == 4;
		int64_t at =
			LOAD(&pl.count.processed) + 1 +
			(int64_t)(chaos_rand(&seed) % (uint64_t)(1500 * sp));

		STORE(&pl.count.fail_at, last ? 0 : at);
		STORE(&fail_upload, c.completed_id + 2);
		rt_coord_reset_run(&c);
		rt_restore_of(&c, &rs);
		assert_int_equal(
			sluice_job_start(pl.job, &r, c.completed ? &rs : NULL),
			0);
		rt_coord_start_periodic(&c, 1);
		assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
		rt_coord_stop_periodic(&c);
		if (getenv("RT_DEBUG"))
			fprintf(stderr,
				"chaos attempt %d: status %d, completed %d "
				"(newest %lld), processed %lld\n",
				attempt, (int)sluice_job_state_get(pl.job),
				c.num_completed, (long long)c.completed_id,
				(long long)LOAD(&pl.count.processed));
		if (last ||
		    sluice_job_state_get(pl.job) == SLUICE_JOB_STATE_FINISHED) {
			assert_int_equal(
				sluice_job_state_get(pl.job),
				SLUICE_JOB_STATE_FINISHED);
			sluice_job_stop(pl.job);
			break;
		}
		assert_int_equal(
			sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FAILED);
		sluice_job_stop(pl.job);
	}
	rt_sink_expect_exact(&pl.sink, &pl.src, sp);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
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
	rt_pipeline_build(&pl, 3, 2, 3, 2000, SLUICE_JOB_AT_LEAST_ONCE);
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	STORE(&pl.src.gate, 500);
	rt_start_running(pl.job, &r, NULL);
	w = (wait_id){&c, rt_coord_trigger(&c)};
	assert_true(rt_wait_for(rt_completed_reached, &w));
	STORE(&pl.count.fail_at, LOAD(&pl.count.processed) + 700);
	rt_coord_start_periodic(&c, 2);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	rt_coord_stop_periodic(&c);
	sluice_job_stop(pl.job);
	rt_coord_reset_run(&c);
	STORE(&pl.count.fail_at, 0);
	rt_restore_of(&c, &rs);
	assert_int_equal(sluice_job_start(pl.job, &r, &rs), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FINISHED);
	sluice_job_stop(pl.job);
	for (s = 0; s < 3; s++)
		for (pos = 0; pos < pl.src.n; pos++)
			expected[rt_key_of(s, pos, pl.src.keys)]++;
	for (k = 0; k < pl.src.keys; k++) {
		int64_t n;

		assert_true(pl.sink.max[k] >= expected[k]);
		for (n = 1; n <= expected[k]; n++)
			assert_int_equal(pl.sink.seen[k][n], 1);
	}
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
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
	rt_pipeline_build(&a, 2, 2, 2, 1000, SLUICE_JOB_EXACTLY_ONCE);
	rt_coord_init(&ca, a.job);
	ra = rt_responder_of(&ca);
	STORE(&a.src.gate, 500);
	rt_start_running(a.job, &ra, NULL);
	w = (wait_id){&ca, rt_coord_trigger(&ca)};
	assert_true(rt_wait_for(rt_completed_reached, &w));
	sluice_job_stop(a.job);
	/* the same job at counter parallelism 3 resumes from it */
	rt_pipeline_build(&b, 2, 2, 3, 1000, SLUICE_JOB_EXACTLY_ONCE);
	rt_coord_init(&cb, b.job);
	rb = rt_responder_of(&cb);
	rt_restore_of(&ca, &rs);
	assert_int_equal(sluice_job_start(b.job, &rb, &rs), 0);
	assert_int_equal(sluice_job_wait(b.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(b.job), SLUICE_JOB_STATE_FINISHED);
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
	rt_sink_expect_exact(&b.sink, &b.src, 2);
	rt_coord_release(&ca);
	rt_coord_release(&cb);
	rt_pipeline_free(&a);
	rt_pipeline_free(&b);
}

/* The same failure and restart, with state written to files through a
 * file checkpoint storage and read back from them. */
static void
test_runtime__exactly_once_with_file_checkpoint_storage(void **state)
{
	char tmpl[] = "/tmp/sluice-rt-XXXXXX";
	sluice_storage_options o;
	sluice_checkpoint_storage *cs;
	pipeline pl;
	coord c;
	sluice_job_responder r;
	sluice_job_restore rs;
	wait_id w;
	int i, files = 0;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	sluice_storage_options_init(&o);
	o.checkpoint_dir = tmpl;
	o.inline_threshold = 0; /* every state stream becomes a file */
	assert_int_equal(
		sluice_checkpoint_storage_new(
			&cs, &o, "0123456789abcdef0123456789abcdef"),
		0);
	rt_pipeline_build(&pl, 2, 2, 3, 1200, SLUICE_JOB_EXACTLY_ONCE);
	rt_coord_init(&c, pl.job);
	rt_coord_use_storage(&c, cs);
	r = rt_responder_of(&c);
	STORE(&pl.src.gate, 400);
	rt_start_running(pl.job, &r, NULL);
	w = (wait_id){&c, rt_coord_trigger(&c)};
	assert_true(rt_wait_for(rt_completed_reached, &w));
	STORE(&pl.count.fail_at, LOAD(&pl.count.processed) + 600);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FAILED);
	sluice_job_stop(pl.job);
	for (i = 0; i < c.num_tasks; i++) {
		const sluice_task_snapshot *t = c.completed[i];

		if (t->keyed) {
			assert_int_equal(
				t->keyed->stream->kind, SLUICE_HANDLE_FILE);
			files++;
		}
		if (t->opstate) {
			assert_int_equal(
				t->opstate->stream->kind, SLUICE_HANDLE_FILE);
			files++;
		}
	}
	assert_int_equal(files, 3 + 2); /* counters' keyed, sources' offsets */
	rt_coord_reset_run(&c);
	STORE(&pl.count.fail_at, 0);
	rt_restore_of(&c, &rs);
	assert_non_null(rs.storage);
	assert_int_equal(sluice_job_start(pl.job, &r, &rs), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FINISHED);
	sluice_job_stop(pl.job);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
	sluice_checkpoint_storage_free(cs);
	assert_int_equal(
		sluice_storage_remove_tree(sluice_storage_file_get(), tmpl), 0);
}

typedef struct waker {
	sluice_job *job;
	int stop; /* atomic */
	long calls;
} waker;

static void *wake_main(void *arg)
{
	waker *w = arg;

	while (!LOAD(&w->stop)) {
		sluice_job_wakeup(w->job);
		w->calls++;
	}
	return NULL;
}

static void test_runtime__wakeup_is_safe_across_restarts(void **state)
{
	pipeline pl;
	coord c;
	sluice_job_responder r;
	waker w;
	pthread_t th;
	int i;

	(void)state;
	rt_pipeline_build(&pl, 2, 2, 2, 1000, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 0; /* idle sources: wake-ups are what they wait for */
	rt_coord_init(&c, pl.job);
	r = rt_responder_of(&c);
	w = (waker){pl.job, 0, 0};
	assert_int_equal(pthread_create(&th, NULL, wake_main, &w), 0);
	for (i = 0; i < 30; i++) {
		rt_start_running(pl.job, &r, NULL);
		sluice_job_stop(pl.job);
	}
	STORE(&w.stop, 1);
	pthread_join(th, NULL);
	assert_true(w.calls > 0);
	sluice_job_wakeup(pl.job); /* stopped: ignored */
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtime__wakeup_is_safe_across_restarts),
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
			test_runtime__exactly_once_with_file_checkpoint_storage),
		cmocka_unit_test(
			test_runtime__rescaled_restore_moves_keyed_state_by_key_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
