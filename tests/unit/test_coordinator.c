/*
 * Coordinator trigger rules (spec §2): ids, periodic scheduling, min-pause
 * and timer re-arm, max-concurrent, forced savepoints, one trigger in
 * flight, queue overflow, timeout, subsumption, notifications, restore.
 * Deterministic: manual clock, fake tasks, fake storage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_coordinator_fakes.h"

static void
test_coordinator__ids_start_at_one_and_sources_are_triggered(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	trigger_ckpt(f);
	assert_int_equal(f->n_triggers, 2); /* the two source subtasks */
	assert_int_equal(f->triggers[0].id, 1);
	assert_int_equal(f->triggers[0].task.vertex, 0);
	assert_int_equal(f->triggers[1].task.vertex, 0);
	assert_int_equal(f->triggers[0].ts, T0);
	assert_int_equal(f->triggers[0].o.kind, SLUICE_CKPT_CHECKPOINT);
	assert_int_equal(f->triggers[0].o.alignment, SLUICE_ALIGN_ALIGNED);
	assert_null(f->triggers[0].o.target);
	assert_int_equal(info(f).pending, 1);
	ack_all(f, 1);
	assert_int_equal(info(f).pending, 0);
	assert_int_equal(last_result(f)->id, 1);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_NONE);
	assert_string_equal(last_result(f)->path, "mem://chk-1");
	assert_int_equal(f->n_add, 1);
	/* notify complete to all four commit tasks, last subsumed -1 */
	assert_int_equal(count_recs(f->completes, f->n_completes, 1), 4);
	assert_int_equal(f->completes[0].arg, -1);
	assert_true(log_has("Triggering checkpoint 1 (type=CHECKPOINT) @ "));
	assert_true(log_has("Completed checkpoint 1 for job J (400 bytes, "));
	trigger_ckpt(f);
	assert_int_equal(f->triggers[2].id, 2);
	assert_int_equal(info(f).next_id, 3);
	fake_free(f);
}

static void test_coordinator__settings_are_normalised_and_validated(void **st)
{
	fake *f = fake_new();
	sluice__coord *c;
	sluice__coord_options o = {0};

	(void)st;
	f->s.interval_ms = 100;
	f->s.min_pause_ms = 500;
	fake_start(f, 1);
	assert_int_equal(info(f).interval_ms, 500); /* raised to min-pause */
	sluice__coord_free(f->c);
	f->s.min_pause_ms = 400LL * 24 * 3600 * 1000;
	fake_start(f, 1);
	assert_int_equal(info(f).min_pause_ms, 365LL * 24 * 3600 * 1000);
	sluice__coord_free(f->c);
	f->c = NULL;
	o.settings = &f->s;
	default_settings(&f->s);
	assert_int_equal(sluice__coord_new(&c, &o), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "callbacks"));
	o.tasks = &(sluice__coord_tasks){
		1, f, f_state, f_trigger, f_complete, f_aborted, f_fail_job};
	o.storage = &(sluice__coord_storage){1,          f,         f_init,
					     f_finalize, f_add,     f_discard,
					     f_release,  f_register};
	f->s.unaligned = 1;
	f->s.max_concurrent = 2;
	assert_int_equal(sluice__coord_new(&c, &o), SLUICE_EINVALID);
	assert_non_null(strstr(
		sluice_error_last()->message,
		"maxConcurrentCheckpoints can't be > 1 if UnalignedCheckpoints "
		"enabled"));
	default_settings(&f->s);
	f->s.timeout_ms = 5;
	assert_int_equal(sluice__coord_new(&c, &o), SLUICE_EINVALID);
	assert_non_null(strstr(
		sluice_error_last()->message,
		"Checkpoint timeout must be larger than or equal to 10 ms"));
	default_settings(&f->s);
	f->s.tolerable_failures = -1;
	assert_int_equal(sluice__coord_new(&c, &o), SLUICE_EINVALID);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "The tolerable failure checkpoint number must be "
		       "non-negative."));
	default_settings(&f->s);
	f->s.interval_ms = 9;
	assert_int_equal(sluice__coord_new(&c, &o), SLUICE_EINVALID);
	assert_non_null(strstr(
		sluice_error_last()->message,
		"Checkpoint interval must be larger than or equal to 10 ms"));
	fake_free(f);
}

static void
test_coordinator__first_periodic_delay_is_uniform_in_min_pause_to_interval(
	void **st)
{
	int64_t lo = INT64_MAX, hi = 0;
	uint64_t seed;

	(void)st;
	for (seed = 1; seed <= 200; seed++) {
		fake *f = fake_new();
		int64_t d;

		f->s.interval_ms = 1000;
		f->s.min_pause_ms = 300;
		fake_start(f, seed);
		assert_int_equal(sluice__coord_start_scheduler(f->c), 0);
		d = info(f).next_periodic - mono(f);
		assert_true(d >= 300 && d <= 1000);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		fake_free(f);
	}
	assert_true(lo < 400); /* spread over the range, not constant */
	assert_true(hi > 900);
}

static void
test_coordinator__periodic_timer_fires_in_poll_every_interval(void **st)
{
	fake *f = fake_new();
	int64_t first;

	(void)st;
	fake_start(f, 7);
	assert_int_equal(sluice__coord_start_scheduler(f->c), 0);
	first = info(f).next_periodic;
	assert_int_equal(sluice__coord_poll(f->c), first);
	advance(f, first - mono(f) - 1);
	sluice__coord_poll(f->c);
	assert_int_equal(f->n_triggers, 0);
	advance(f, 1);
	/* next deadline: the next tick, before the 10 min timeout */
	assert_int_equal(sluice__coord_poll(f->c), first + 1000);
	assert_int_equal(f->n_triggers, 2);
	ack_all(f, 1);
	advance(f, 1000);
	sluice__coord_poll(f->c);
	assert_int_equal(count_recs(f->triggers, f->n_triggers, 2), 2);
	fake_free(f);
}

static void test_coordinator__scheduler_start_errors(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.enabled = 0;
	fake_start(f, 1);
	assert_int_equal(sluice__coord_start_scheduler(f->c), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"Can not start checkpoint scheduler, if no periodic "
		"checkpointing is configured");
	sluice__coord_shutdown(f->c);
	assert_int_equal(sluice__coord_start_scheduler(f->c), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"Checkpoint coordinator is shut down");
	fake_free(f);
}

static void
test_coordinator__min_pause_is_measured_from_last_completion_and_rearms(
	void **st)
{
	fake *f = fake_new();
	sluice__stats_counts sc;
	int64_t tick;

	(void)st;
	f->s.interval_ms = 1000;
	f->s.min_pause_ms = 600;
	fake_start(f, 3);
	assert_int_equal(sluice__coord_start_scheduler(f->c), 0);
	tick = info(f).next_periodic;
	advance(f, tick - mono(f));
	sluice__coord_poll(f->c); /* checkpoint 1: first one is not delayed */
	assert_int_equal(f->n_triggers, 2);
	advance(f, 900);
	ack_all(f, 1); /* completes at tick + 900 */
	advance(f, 100);
	/* tick + 1000: only 100 ms since completion -> dropped, re-armed */
	assert_int_equal(sluice__coord_poll(f->c), mono(f) + 500);
	assert_int_equal(f->n_triggers, 2);
	assert_int_equal(info(f).next_periodic, mono(f) + 500);
	sluice__stats_counts_get(sluice__coord_stats(f->c), &sc);
	assert_int_equal(sc.failed, 0); /* dropped requests are not failures */
	/* a user checkpoint ignores min-pause */
	trigger_ckpt(f);
	assert_int_equal(count_recs(f->triggers, f->n_triggers, 2), 2);
	ack_all(f, 2);
	advance(f, 500);
	sluice__coord_poll(f->c); /* 500 ms after completion of 2: too early */
	assert_int_equal(f->n_triggers, 4);
	assert_int_equal(info(f).next_periodic, mono(f) + 100);
	advance(f, 100);
	sluice__coord_poll(f->c);
	assert_int_equal(count_recs(f->triggers, f->n_triggers, 3), 2);
	fake_free(f);
}

static void test_coordinator__max_concurrent_queues_until_completion(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.max_concurrent = 1;
	fake_start(f, 1);
	trigger_ckpt(f);
	trigger_ckpt(f);
	assert_int_equal(info(f).pending, 1);
	assert_int_equal(info(f).queued, 1);
	ack_all(f, 1);
	assert_int_equal(info(f).queued, 0);
	assert_int_equal(info(f).pending, 1);
	assert_int_equal(count_recs(f->triggers, f->n_triggers, 2), 2);
	sluice__coord_free(f->c);
	f->s.max_concurrent = 2;
	f->n_triggers = 0;
	fake_start(f, 1);
	trigger_ckpt(f);
	trigger_ckpt(f);
	trigger_ckpt(f);
	assert_int_equal(info(f).pending, 2);
	assert_int_equal(info(f).queued, 1);
	fake_free(f);
}

static void
test_coordinator__savepoint_is_forced_only_without_unaligned(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	trigger_ckpt(f);
	/* forced: bypasses max-concurrent 1 */
	assert_int_equal(
		sluice__coord_trigger_savepoint(
			f->c, "/savepoints/x", 0, on_done, f),
		0);
	assert_int_equal(info(f).pending, 2);
	assert_string_equal(f->triggers[2].target, "/savepoints/x");
	assert_string_equal(f->triggers[0].target, "");
	assert_int_equal(f->triggers[2].o.kind, SLUICE_CKPT_SAVEPOINT);
	assert_int_equal(f->triggers[2].o.alignment, SLUICE_ALIGN_ALIGNED);
	sluice__coord_free(f->c);
	f->n_triggers = 0;
	f->s.unaligned = 1;
	fake_start(f, 1);
	trigger_ckpt(f);
	assert_int_equal(f->triggers[0].o.alignment, SLUICE_ALIGN_UNALIGNED);
	trigger_sp(f, 0); /* not forced: waits */
	assert_int_equal(info(f).pending, 1);
	assert_int_equal(info(f).queued, 1);
	ack_all(f, 1);
	assert_int_equal(f->triggers[2].o.kind, SLUICE_CKPT_SAVEPOINT);
	assert_int_equal(
		f->triggers[2].o.alignment, SLUICE_ALIGN_FORCED_ALIGNED);
	fake_free(f);
}

static void submit_during_plan(fake *f)
{
	trigger_ckpt(f); /* while checkpoint 1 is being triggered */
	assert_int_equal(info(f).queued, 1);
	assert_int_equal(info(f).pending, 0);
}

static void test_coordinator__only_one_trigger_is_in_flight(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.max_concurrent = 2;
	fake_start(f, 1);
	f->state_hook = submit_during_plan;
	trigger_ckpt(f);
	/* the second request went after the first finished triggering */
	assert_int_equal(info(f).pending, 2);
	assert_int_equal(f->n_triggers, 4);
	assert_int_equal(f->triggers[0].id, 1);
	assert_int_equal(f->triggers[3].id, 2);
	fake_free(f);
}

static void test_coordinator__queue_limit_rejects_new_user_request(void **st)
{
	fake *f = fake_new();
	int i;

	(void)st;
	fake_start(f, 1);
	trigger_ckpt(f); /* pending: everything after this queues */
	for (i = 0; i < 1000; i++)
		trigger_ckpt(f);
	assert_int_equal(info(f).queued, 1000);
	assert_int_equal(f->n_results, 0);
	trigger_ckpt(f);
	assert_int_equal(info(f).queued, 1000);
	assert_int_equal(f->n_results, 1);
	assert_int_equal(
		last_result(f)->reason,
		SLUICE_CFR_TOO_MANY_CHECKPOINT_REQUESTS);
	assert_string_equal(
		last_result(f)->msg,
		"The maximum number of queued checkpoint requests exceeded");
	fake_free(f);
}

static void test_coordinator__queue_limit_evicts_periodic_request(void **st)
{
	fake *f = fake_new();
	sluice__stats_counts sc;
	int i;

	(void)st;
	fake_start(f, 1);
	assert_int_equal(sluice__coord_start_scheduler(f->c), 0);
	trigger_ckpt(f); /* pending 1 */
	advance(f, 1000);
	sluice__coord_poll(f->c); /* a periodic request queues */
	for (i = 0; i < 999; i++)
		trigger_ckpt(f);
	assert_int_equal(info(f).queued, 1000);
	trigger_ckpt(f); /* the periodic one is evicted, not this one */
	assert_int_equal(info(f).queued, 1000);
	assert_int_equal(f->n_results, 0);
	/* the worst queued is now a user request: even a savepoint is
	 * rejected, not queued */
	trigger_sp(f, 0);
	assert_int_equal(info(f).pending, 1);
	assert_int_equal(f->n_results, 1);
	assert_int_equal(
		last_result(f)->reason,
		SLUICE_CFR_TOO_MANY_CHECKPOINT_REQUESTS);
	assert_true(last_result(f)->savepoint);
	sluice__stats_counts_get(sluice__coord_stats(f->c), &sc);
	assert_int_equal(sc.failed, 0); /* not a checkpoint failure */
	fake_free(f);
}

static void test_coordinator__timeout_counts_from_pending_creation(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.timeout_ms = 10000;
	f->s.tolerable_failures = 5;
	fake_start(f, 1);
	trigger_ckpt(f); /* 1 pending at T */
	advance(f, 4000);
	trigger_ckpt(f); /* queued at T+4000 */
	advance(f, 1000);
	ack_all(f, 1); /* 2 created at T+5000 */
	advance(f, 9999);
	assert_int_equal(sluice__coord_poll(f->c), mono(f) + 1);
	assert_int_equal(info(f).pending, 1);
	advance(f, 1);
	sluice__coord_poll(f->c);
	assert_int_equal(info(f).pending, 0);
	assert_int_equal(last_result(f)->id, 2);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_CHECKPOINT_EXPIRED);
	assert_string_equal(
		last_result(f)->msg, "Checkpoint expired before completing.");
	assert_true(
		log_has("Checkpoint 2 of job J expired before completing."));
	/* abort notifies the commit tasks with the latest completed id */
	assert_int_equal(count_recs(f->aborts, f->n_aborts, 2), 4);
	assert_int_equal(f->aborts[0].arg, 1);
	assert_int_equal(info(f).failure_counter, 1);
	fake_free(f);
}

static void test_coordinator__late_ack_after_expiry_is_discarded(void **st)
{
	fake *f = fake_new();
	int d;

	(void)st;
	f->s.timeout_ms = 100;
	f->s.tolerable_failures = 5;
	fake_start(f, 1);
	trigger_ckpt(f);
	ack(f, 0, 0, 1);
	advance(f, 100);
	sluice__coord_poll(f->c);
	d = f->n_discard;
	assert_int_equal(d, 1); /* the aborted checkpoint's state */
	ack(f, 0, 1, 1);
	assert_int_equal(f->n_discard, 2);
	assert_true(log_has(
		"Received late message for now expired checkpoint "
		"attempt 1 from task source (2/2) attempt 1 of job J."));
	ack(f, 0, 1, 99);
	assert_int_equal(f->n_discard, 3);
	assert_true(log_has("Received message for an unknown checkpoint 99"));
	fake_free(f);
}

static void test_coordinator__ack_of_unknown_attempt_or_duplicate(void **st)
{
	fake *f = fake_new();
	sluice__task_ref r;

	(void)st;
	fake_start(f, 1);
	trigger_ckpt(f);
	r = ref(f, 0, 0);
	r.attempt = 2; /* not the attempt in the plan */
	sluice__coord_ack(f->c, &r, 1, snap(1));
	assert_int_equal(f->n_discard, 1);
	assert_true(
		log_has("because the task's execution attempt id was unknown"));
	ack(f, 0, 0, 1);
	ack(f, 0, 0, 1); /* duplicate: no second ack counted */
	ack(f, 0, 1, 1);
	ack(f, 1, 0, 1);
	assert_int_equal(info(f).pending, 1);
	ack(f, 1, 1, 1);
	assert_int_equal(info(f).pending, 0);
	fake_free(f);
}

static void
test_coordinator__completion_subsumes_older_checkpoints_not_savepoints(
	void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.max_concurrent = 3;
	f->last_subsumed = 0;
	fake_start(f, 1);
	trigger_ckpt(f);  /* 1 */
	trigger_sp(f, 0); /* 2 */
	trigger_ckpt(f);  /* 3 */
	assert_int_equal(info(f).pending, 3);
	ack_all(f, 3);
	assert_int_equal(info(f).pending, 1); /* the savepoint */
	assert_int_equal(f->results[0].id, 1);
	assert_int_equal(f->results[0].reason, SLUICE_CFR_CHECKPOINT_SUBSUMED);
	assert_int_equal(f->results[1].id, 3);
	assert_int_equal(f->results[1].reason, SLUICE_CFR_NONE);
	assert_int_equal(count_recs(f->completes, f->n_completes, 3), 4);
	assert_int_equal(f->completes[0].arg, 0); /* last subsumed id */
	assert_int_equal(count_recs(f->aborts, f->n_aborts, 1), 4);
	assert_int_equal(f->n_fail, 0); /* SUBSUMED is not counted */
	assert_int_equal(info(f).latest_completed_id, 3);
	fake_free(f);
}

static void
test_coordinator__savepoint_completion_does_not_notify_tasks(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	trigger_sp(f, 0);
	ack_all(f, 1);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_NONE);
	assert_true(last_result(f)->savepoint);
	assert_string_equal(last_result(f)->path, "mem://savepoint-1");
	assert_int_equal(f->n_completes, 0);
	assert_int_equal(f->n_add, 0); /* not in the completed store */
	assert_int_equal(f->n_release, 1);
	assert_int_equal(info(f).latest_completed_id, -1);
	fake_free(f);
}

static void
test_coordinator__min_pause_counts_from_savepoint_completion(void **st)
{
	fake *f = fake_new();
	int64_t tick;

	(void)st;
	f->s.interval_ms = 1000;
	f->s.min_pause_ms = 500;
	fake_start(f, 5);
	assert_int_equal(sluice__coord_start_scheduler(f->c), 0);
	tick = info(f).next_periodic;
	advance(f, tick - mono(f) - 100);
	trigger_sp(f, 0);
	ack_all(f, 1); /* savepoint completes 100 ms before the tick */
	advance(f, 100);
	sluice__coord_poll(f->c);
	assert_int_equal(f->n_triggers, 2); /* only the savepoint's */
	assert_int_equal(info(f).next_periodic, mono(f) + 400);
	fake_free(f);
}

static void test_coordinator__sync_savepoint_notifies_and_subsumes(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.max_concurrent = 2;
	fake_start(f, 1);
	trigger_ckpt(f);  /* 1 */
	trigger_sp(f, 1); /* 2, stop-with-savepoint */
	assert_int_equal(f->triggers[2].o.kind, SLUICE_CKPT_SYNC_SAVEPOINT);
	ack_all(f, 2);
	assert_int_equal(f->results[0].reason, SLUICE_CFR_CHECKPOINT_SUBSUMED);
	assert_int_equal(count_recs(f->completes, f->n_completes, 2), 4);
	fake_free(f);
}

static void test_coordinator__restore_sets_the_id_counter(void **st)
{
	fake *f = fake_new();
	sluice__stats_counts sc;

	(void)st;
	fake_start(f, 1);
	sluice__coord_restored(f->c, 41, 1, "/sp/savepoint-41");
	assert_int_equal(info(f).next_id, 42);
	sluice__coord_restored(f->c, 7, 0, "/chk/chk-7");
	assert_int_equal(info(f).next_id, 42); /* never goes back */
	trigger_ckpt(f);
	assert_int_equal(f->triggers[0].id, 42);
	sluice__stats_counts_get(sluice__coord_stats(f->c), &sc);
	assert_int_equal(sc.restored, 2);
	fake_free(f);
}

static void test_coordinator__final_checkpoint_after_sources_finished(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	f->st[0][0] = f->st[0][1] = SLUICE_TASK_FINISHED;
	trigger_ckpt(f);
	/* the map subtasks have no running predecessor: they are triggered */
	assert_int_equal(f->n_triggers, 2);
	assert_int_equal(f->triggers[0].task.vertex, 1);
	assert_int_equal(f->triggers[1].task.vertex, 1);
	ack(f, 1, 0, 1);
	ack(f, 1, 1, 1);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_NONE);
	assert_int_equal(f->finalize_finished, 2);
	assert_int_equal(f->finalize_fully_finished, 1);
	/* only running tasks are committed to */
	assert_int_equal(f->n_completes, 2);
	assert_int_equal(f->completes[0].task.vertex, 1);
	fake_free(f);
}

static void
test_coordinator__pointwise_finished_producer_triggers_its_consumer(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->in[1].pattern = SLUICE_EDGE_POINTWISE;
	fake_start(f, 1);
	f->st[0][0] = SLUICE_TASK_FINISHED;
	trigger_ckpt(f);
	assert_int_equal(f->n_triggers, 2);
	assert_int_equal(f->triggers[0].task.vertex, 0); /* source 1 */
	assert_int_equal(f->triggers[0].task.subtask, 1);
	assert_int_equal(f->triggers[1].task.vertex, 1); /* map 0 */
	assert_int_equal(f->triggers[1].task.subtask, 0);
	ack(f, 0, 1, 1);
	ack(f, 1, 0, 1);
	assert_int_equal(info(f).pending, 1); /* map 1 still to ack */
	ack(f, 1, 1, 1);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_NONE);
	assert_int_equal(f->finalize_finished, 1);
	assert_int_equal(f->finalize_fully_finished, 0);
	fake_free(f);
}

static void
test_coordinator__job_without_running_tasks_completes_at_once(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	f->st[0][0] = f->st[0][1] = SLUICE_TASK_FINISHED;
	f->st[1][0] = f->st[1][1] = SLUICE_TASK_FINISHED;
	trigger_ckpt(f);
	assert_int_equal(f->n_triggers, 0);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_NONE);
	assert_int_equal(f->finalize_fully_finished, 2);
	fake_free(f);
}

static void
test_coordinator__poller_is_woken_when_a_deadline_comes_earlier(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.timeout_ms = 5000;
	fake_start(f, 1);
	assert_int_equal(sluice__coord_poll(f->c), INT64_MAX);
	trigger_ckpt(f); /* a timeout now exists */
	assert_int_equal(f->n_wakeup, 1);
	assert_int_equal(sluice__coord_poll(f->c), mono(f) + 5000);
	trigger_ckpt(f); /* queued: no earlier deadline */
	assert_int_equal(f->n_wakeup, 1);
	assert_int_equal(sluice__coord_start_scheduler(f->c), 0);
	assert_int_equal(f->n_wakeup, 2); /* the first tick is earlier */
	ack_all(f, 1);
	assert_int_equal(f->n_wakeup, 2);
	fake_free(f);
}

static void
test_coordinator__shared_state_is_registered_before_status(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.max_concurrent = 2;
	fake_start(f, 1);
	trigger_ckpt(f);
	ack(f, 0, 0, 1);
	assert_int_equal(f->n_register, 1);
	ack(f, 0, 0, 77); /* unknown checkpoint: registered, then discarded */
	assert_int_equal(f->n_register, 2);
	assert_int_equal(f->n_discard, 1);
	trigger_sp(f, 0);
	ack(f, 0, 0, 2); /* savepoint: not registered */
	assert_int_equal(f->n_register, 2);
	fake_free(f);
}

static sluice__subtask_snapshot *snap_with_handles(void)
{
	sluice__subtask_snapshot *s = snap(10);
	sluice_keyed_handle *k = sluice__calloc(1, sizeof(*k));
	sluice_opstate_handle *o = sluice__calloc(1, sizeof(*o));

	assert_non_null(k);
	assert_non_null(o);
	k->start_key_group = 0;
	k->num_key_groups = 2;
	k->offsets = sluice__calloc(2, sizeof(uint64_t));
	k->stream = sluice_stream_handle_new(
		SLUICE_HANDLE_INLINE, "kg", 3, 42, "abc");
	o->stream = sluice_stream_handle_new(
		SLUICE_HANDLE_FILE, "/chk/op", 100, 43, NULL);
	s->keyed = sluice__calloc(1, sizeof(*s->keyed));
	s->opstate = sluice__calloc(1, sizeof(*s->opstate));
	assert_non_null(s->keyed);
	assert_non_null(s->opstate);
	s->keyed[0] = k;
	s->n_keyed = 1;
	s->opstate[0] = o;
	s->n_opstate = 1;
	return s;
}

static void test_coordinator__acked_handles_are_owned_and_freed(void **st)
{
	fake *f = fake_new();
	sluice__task_ref r;
	int32_t v, i;

	(void)st;
	f->s.tolerable_failures = 9;
	fake_start(f, 1);
	trigger_ckpt(f); /* completed */
	for (v = 0; v < 2; v++)
		for (i = 0; i < 2; i++) {
			r = ref(f, v, i);
			sluice__coord_ack(f->c, &r, 1, snap_with_handles());
		}
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_NONE);
	trigger_ckpt(f); /* aborted with acked state */
	r = ref(f, 0, 0);
	sluice__coord_ack(f->c, &r, 2, snap_with_handles());
	decline(f, 0, 1, 2, SLUICE_CFR_CHECKPOINT_DECLINED);
	sluice__coord_ack(f->c, &r, 2, snap_with_handles()); /* late */
	r.attempt = 5;
	trigger_ckpt(f);
	sluice__coord_ack(f->c, &r, 3, snap_with_handles()); /* unknown */
	sluice__coord_shutdown(f->c); /* 3 still pending */
	assert_int_equal(
		last_result(f)->reason,
		SLUICE_CFR_CHECKPOINT_COORDINATOR_SHUTDOWN);
	fake_free(f); /* ASan: nothing leaks, nothing freed twice */
}

static void test_coordinator__survives_allocation_failures(void **st)
{
	long n;

	(void)st;
	for (n = 0; n < 400; n++) {
		fake *f = fake_new();
		sluice__coord_options o;
		sluice__coord_tasks tasks = {1,         f,          f_state,
					     f_trigger, f_complete, f_aborted,
					     f_fail_job};
		sluice__coord_storage storage = {
			1,     f,         f_init,    f_finalize,
			f_add, f_discard, f_release, f_register};
		sluice__task_ref r;
		int32_t v, i;
		char *json = NULL;

		memset(&o, 0, sizeof(o));
		o.settings = &f->s;
		o.job_id = "J";
		o.vertices = f->v;
		o.n_vertices = f->nv;
		o.clock = &f->clock.base;
		o.tasks = &tasks;
		o.storage = &storage;
		sluice__alloc_fail_after(n);
		if (sluice__coord_new(&f->c, &o) < 0) {
			sluice__alloc_fail_after(-1);
			assert_int_equal(
				sluice_error_last()->code, SLUICE_ENOMEM);
			fake_free(f);
			continue;
		}
		sluice__coord_trigger_checkpoint(f->c, on_done, f);
		for (v = 0; v < f->nv; v++)
			for (i = 0; i < 2; i++) {
				r = ref(f, v, i);
				sluice__coord_ack(f->c, &r, 1, NULL);
			}
		sluice__coord_trigger_savepoint(f->c, "/sp", 0, on_done, f);
		r = ref(f, 0, 0);
		sluice__coord_decline(
			f->c, &r, 2, SLUICE_CFR_CHECKPOINT_DECLINED, "x");
		(void)sluice__stats_json(sluice__coord_stats(f->c), -1, &json);
		sluice__free(json);
		sluice__coord_shutdown(f->c);
		sluice__alloc_fail_after(-1);
		fake_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_coordinator__ids_start_at_one_and_sources_are_triggered),
		cmocka_unit_test(
			test_coordinator__settings_are_normalised_and_validated),
		cmocka_unit_test(
			test_coordinator__first_periodic_delay_is_uniform_in_min_pause_to_interval),
		cmocka_unit_test(
			test_coordinator__periodic_timer_fires_in_poll_every_interval),
		cmocka_unit_test(test_coordinator__scheduler_start_errors),
		cmocka_unit_test(
			test_coordinator__min_pause_is_measured_from_last_completion_and_rearms),
		cmocka_unit_test(
			test_coordinator__max_concurrent_queues_until_completion),
		cmocka_unit_test(
			test_coordinator__savepoint_is_forced_only_without_unaligned),
		cmocka_unit_test(
			test_coordinator__only_one_trigger_is_in_flight),
		cmocka_unit_test(
			test_coordinator__queue_limit_rejects_new_user_request),
		cmocka_unit_test(
			test_coordinator__queue_limit_evicts_periodic_request),
		cmocka_unit_test(
			test_coordinator__timeout_counts_from_pending_creation),
		cmocka_unit_test(
			test_coordinator__late_ack_after_expiry_is_discarded),
		cmocka_unit_test(
			test_coordinator__ack_of_unknown_attempt_or_duplicate),
		cmocka_unit_test(
			test_coordinator__completion_subsumes_older_checkpoints_not_savepoints),
		cmocka_unit_test(
			test_coordinator__savepoint_completion_does_not_notify_tasks),
		cmocka_unit_test(
			test_coordinator__min_pause_counts_from_savepoint_completion),
		cmocka_unit_test(
			test_coordinator__sync_savepoint_notifies_and_subsumes),
		cmocka_unit_test(test_coordinator__restore_sets_the_id_counter),
		cmocka_unit_test(
			test_coordinator__final_checkpoint_after_sources_finished),
		cmocka_unit_test(
			test_coordinator__pointwise_finished_producer_triggers_its_consumer),
		cmocka_unit_test(
			test_coordinator__job_without_running_tasks_completes_at_once),
		cmocka_unit_test(
			test_coordinator__poller_is_woken_when_a_deadline_comes_earlier),
		cmocka_unit_test(
			test_coordinator__shared_state_is_registered_before_status),
		cmocka_unit_test(
			test_coordinator__acked_handles_are_owned_and_freed),
		cmocka_unit_test(
			test_coordinator__survives_allocation_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
