/*
 * Coordinator failure reasons (spec §1.4) and their counting (spec §1.5):
 * each reason is raised where Flink raises it, with Flink's message, and
 * counts (or not) against tolerable-failed-checkpoints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_coordinator_fakes.h"

static void
test_coordinator_failures__task_without_attempt_is_not_all_running(void **st)
{
	fake *f = fake_new();
	sluice__stats_counts sc;

	(void)st;
	fake_start(f, 1);
	f->st[1][1] = SLUICE_TASK_NO_ATTEMPT;
	trigger_ckpt(f);
	assert_int_equal(f->n_triggers, 0);
	assert_int_equal(last_result(f)->id, -1);
	assert_int_equal(
		last_result(f)->reason,
		SLUICE_CFR_NOT_ALL_REQUIRED_TASKS_RUNNING);
	assert_string_equal(
		last_result(f)->msg,
		"task map (2/2) of job J is not being executed at the moment. "
		"Aborting checkpoint. Failure reason: Not all required tasks "
		"are currently running.");
	assert_true(log_has("Failed to trigger checkpoint for job J since task "
			    "map (2/2)"));
	assert_int_equal(f->n_fail, 0); /* not counted, tolerable 0 */
	sluice__stats_counts_get(sluice__coord_stats(f->c), &sc);
	assert_int_equal(sc.failed, 1);
	assert_int_equal(sc.total, 1);
	assert_int_equal(info(f).next_id, 1); /* no id was used */
	fake_free(f);
}

static void
test_coordinator_failures__deploying_trigger_task_is_not_all_running(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	f->st[0][0] = SLUICE_TASK_DEPLOYING;
	trigger_ckpt(f);
	assert_int_equal(
		last_result(f)->reason,
		SLUICE_CFR_NOT_ALL_REQUIRED_TASKS_RUNNING);
	assert_non_null(
		strstr(last_result(f)->msg,
		       "Checkpoint triggering task source (1/2) of job J has "
		       "not being "
		       "executed at the moment. Aborting checkpoint."));
	/* a non-trigger task still deploying does not matter */
	f->st[0][0] = SLUICE_TASK_RUNNING;
	f->st[1][0] = SLUICE_TASK_DEPLOYING;
	trigger_ckpt(f);
	assert_int_equal(f->n_triggers, 2);
	assert_int_equal(info(f).pending, 1);
	fake_free(f);
}

static void
test_coordinator_failures__finished_tasks_without_feature_abort(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.checkpoints_after_tasks_finish = 0;
	fake_start(f, 1);
	f->st[0][1] = SLUICE_TASK_FINISHED;
	trigger_ckpt(f);
	assert_int_equal(
		last_result(f)->reason,
		SLUICE_CFR_NOT_ALL_REQUIRED_TASKS_RUNNING);
	assert_non_null(strstr(
		last_result(f)->msg,
		"some tasks of job J has been finished, abort the checkpoint"));
	fake_free(f);
}

static void
test_coordinator_failures__storage_io_error_is_io_exception_and_counts(
	void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	f->init_rc = SLUICE_EIO;
	trigger_ckpt(f);
	assert_int_equal(last_result(f)->id, 1);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_IO_EXCEPTION);
	assert_string_equal(
		last_result(f)->msg,
		"An Exception occurred while triggering the checkpoint. "
		"IO-problem detected.");
	assert_int_equal(f->n_triggers, 0);
	assert_int_equal(f->n_fail, 1);
	assert_string_equal(
		f->fail_msg,
		"Exceeded checkpoint tolerable failure threshold.");
	assert_false(f->fail_has_task);
	assert_true(log_has("fake: cannot create chk-1"));
	fake_free(f);
}

static void
test_coordinator_failures__other_storage_error_is_trigger_failure(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	f->init_rc = SLUICE_EINVALID;
	trigger_ckpt(f);
	assert_int_equal(
		last_result(f)->reason, SLUICE_CFR_TRIGGER_CHECKPOINT_FAILURE);
	assert_string_equal(last_result(f)->msg, "Trigger checkpoint failure.");
	assert_int_equal(f->n_fail, 0); /* not counted */
	/* the next checkpoint gets the next id */
	f->init_rc = 0;
	trigger_ckpt(f);
	assert_int_equal(f->triggers[0].id, 2);
	fake_free(f);
}

static void test_coordinator_failures__finalize_failure_counts(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.tolerable_failures = 1;
	fake_start(f, 1);
	f->finalize_rc = SLUICE_EIO;
	trigger_ckpt(f);
	ack_all(f, 1);
	assert_int_equal(
		last_result(f)->reason, SLUICE_CFR_FINALIZE_CHECKPOINT_FAILURE);
	assert_string_equal(
		last_result(f)->msg,
		"Could not finalize the pending checkpoint 1. Failure reason: "
		"Failure to finalize checkpoint.");
	assert_int_equal(f->n_discard, 1);
	assert_int_equal(f->n_completes, 0);
	assert_int_equal(count_recs(f->aborts, f->n_aborts, 1), 4);
	assert_int_equal(info(f).failure_counter, 1);
	f->finalize_rc = 0;
	f->add_rc = SLUICE_EIO;
	trigger_ckpt(f);
	ack_all(f, 2);
	assert_string_equal(
		last_result(f)->msg,
		"Could not complete the pending checkpoint 2. Failure reason: "
		"Failure to finalize checkpoint.");
	assert_int_equal(f->n_fail, 1); /* 2 > tolerable 1 */
	fake_free(f);
}

static void
test_coordinator_failures__unsupported_finished_state_is_task_closing(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	f->finalize_rc = SLUICE_EUNSUPPORTED;
	trigger_ckpt(f);
	ack_all(f, 1);
	assert_int_equal(
		last_result(f)->reason,
		SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING);
	assert_string_equal(
		last_result(f)->msg,
		"Could not finalize the pending checkpoint 1. Failure reason: "
		"Checkpoint was declined (task is closing)");
	assert_int_equal(f->n_fail, 0); /* not counted */
	fake_free(f);
}

static void
test_coordinator_failures__declines_count_once_per_checkpoint(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.tolerable_failures = 1;
	f->s.max_concurrent = 2;
	fake_start(f, 1);
	trigger_ckpt(f);
	trigger_ckpt(f);
	decline(f, 1, 0, 1, SLUICE_CFR_CHECKPOINT_DECLINED);
	decline(f, 1, 1, 1, SLUICE_CFR_CHECKPOINT_DECLINED); /* same id */
	assert_int_equal(info(f).failure_counter, 1);
	assert_int_equal(f->n_fail, 0);
	assert_int_equal(
		last_result(f)->reason, SLUICE_CFR_CHECKPOINT_DECLINED);
	assert_string_equal(last_result(f)->msg, "Checkpoint was declined.");
	decline(f, 0, 0, 2, SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION);
	assert_int_equal(f->n_fail, 1);
	assert_true(f->fail_has_task); /* "due to task failure" */
	assert_string_equal(
		f->fail_msg,
		"Exceeded checkpoint tolerable failure threshold.");
	assert_int_equal(info(f).failure_counter, 0); /* reset on exceed */
	fake_free(f);
}

static void
test_coordinator_failures__uncounted_declines_never_fail_the_job(void **st)
{
	static const sluice_failure_reason r[] = {
		SLUICE_CFR_CHECKPOINT_DECLINED_TASK_NOT_READY,
		SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING,
		SLUICE_CFR_CHECKPOINT_DECLINED_SUBSUMED,
		SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER,
		SLUICE_CFR_CHECKPOINT_DECLINED_INPUT_END_OF_STREAM,
		SLUICE_CFR_CHANNEL_STATE_SHARED_STREAM_EXCEPTION,
		SLUICE_CFR_TASK_CHECKPOINT_FAILURE,
	};
	fake *f = fake_new();
	size_t i;

	(void)st;
	fake_start(f, 1);
	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		trigger_ckpt(f);
		decline(f, 1, 0, (int64_t)i + 1, r[i]);
		assert_int_equal(last_result(f)->reason, r[i]);
	}
	assert_int_equal(f->n_fail, 0);
	assert_int_equal(info(f).failure_counter, 0);
	fake_free(f);
}

static void
test_coordinator_failures__decline_with_text_formats_message(void **st)
{
	fake *f = fake_new();
	sluice__task_ref r;

	(void)st;
	f->s.tolerable_failures = 9;
	fake_start(f, 1);
	trigger_ckpt(f);
	r = ref(f, 0, 1);
	sluice__coord_decline(
		f->c, &r, 1, SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION,
		"Could not materialize checkpoint 1 for operator source "
		"(2/2).");
	assert_string_equal(
		last_result(f)->msg,
		"Could not materialize checkpoint 1 for operator source (2/2). "
		"Failure reason: Asynchronous task checkpoint failed.");
	assert_true(
		log_has("Failed to trigger or complete checkpoint 1 for job "
			"J. (0 consecutive failed attempts so far)"));
	fake_free(f);
}

static void
test_coordinator_failures__failures_before_last_success_are_ignored(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.max_concurrent = 2;
	fake_start(f, 1);
	trigger_sp(f, 0); /* 1, never subsumed */
	trigger_ckpt(f);  /* 2 */
	ack_all(f, 2);
	decline(f, 0, 0, 1, SLUICE_CFR_CHECKPOINT_DECLINED);
	assert_int_equal(
		last_result(f)->reason, SLUICE_CFR_CHECKPOINT_DECLINED);
	assert_int_equal(f->n_fail, 0); /* id 1 <= last success 2 */
	trigger_ckpt(f);                /* 3 */
	decline(f, 0, 0, 3, SLUICE_CFR_CHECKPOINT_DECLINED);
	assert_int_equal(f->n_fail, 1);
	fake_free(f);
}

static void
test_coordinator_failures__savepoint_jm_failures_are_ignored(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.timeout_ms = 50;
	fake_start(f, 1);
	trigger_sp(f, 0);
	advance(f, 50);
	sluice__coord_poll(f->c);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_CHECKPOINT_EXPIRED);
	assert_int_equal(f->n_fail, 0);
	f->init_rc = SLUICE_EIO;
	trigger_sp(f, 0);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_IO_EXCEPTION);
	assert_int_equal(f->n_fail, 0);
	fake_free(f);
}

static void
test_coordinator_failures__sync_savepoint_task_failure_fails_job(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.tolerable_failures = SLUICE_FM_UNLIMITED;
	fake_start(f, 1);
	trigger_sp(f, 1);
	decline(f, 1, 1, 1, SLUICE_CFR_CHECKPOINT_DECLINED_TASK_NOT_READY);
	assert_int_equal(f->n_fail, 1);
	assert_false(f->fail_has_task); /* the whole job */
	assert_string_equal(
		f->fail_msg, "Checkpoint was declined (tasks not ready)");
	fake_free(f);
}

static void
test_coordinator_failures__unlimited_tolerance_never_fails(void **st)
{
	fake *f = fake_new();
	int i;

	(void)st;
	f->s.tolerable_failures = SLUICE_FM_UNLIMITED;
	fake_start(f, 1);
	for (i = 1; i <= 20; i++) {
		trigger_ckpt(f);
		decline(f, 0, 0, i, SLUICE_CFR_CHECKPOINT_DECLINED);
	}
	assert_int_equal(f->n_fail, 0);
	assert_int_equal(info(f).failure_counter, 0);
	fake_free(f);
}

static void
test_coordinator_failures__task_failure_aborts_unacked_checkpoints(void **st)
{
	fake *f = fake_new();
	sluice__task_ref r;

	(void)st;
	f->s.max_concurrent = 2;
	fake_start(f, 1);
	trigger_ckpt(f);
	trigger_ckpt(f);
	ack(f, 1, 0, 1); /* map 0 acked checkpoint 1, not 2 */
	r = ref(f, 1, 0);
	sluice__coord_task_failed(f->c, &r);
	assert_int_equal(info(f).pending, 1);
	assert_int_equal(last_result(f)->id, 2);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_TASK_FAILURE);
	assert_string_equal(last_result(f)->msg, "Task has failed.");
	r.attempt = 7; /* another attempt: not in any plan */
	sluice__coord_task_failed(f->c, &r);
	assert_int_equal(info(f).pending, 1);
	assert_int_equal(f->n_fail, 0);
	fake_free(f);
}

static void test_coordinator_failures__failover_aborts_all_pending(void **st)
{
	fake *f = fake_new();

	(void)st;
	f->s.max_concurrent = 2;
	fake_start(f, 1);
	trigger_ckpt(f);
	trigger_ckpt(f);
	trigger_ckpt(f); /* queued: stays queued */
	sluice__coord_failover(f->c);
	assert_int_equal(count_results(f, SLUICE_CFR_JOB_FAILOVER_REGION), 2);
	assert_string_equal(f->results[0].msg, "FailoverRegion is restarting.");
	/* the queued one went on once the slots were free */
	assert_int_equal(info(f).pending, 1);
	assert_int_equal(info(f).queued, 0);
	fake_free(f);
}

static void
test_coordinator_failures__suspend_and_shutdown_abort_everything(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	assert_int_equal(sluice__coord_start_scheduler(f->c), 0);
	trigger_ckpt(f);
	trigger_ckpt(f);
	sluice__coord_stop_scheduler(f->c);
	assert_int_equal(
		count_results(f, SLUICE_CFR_CHECKPOINT_COORDINATOR_SUSPEND), 2);
	assert_string_equal(
		f->results[0].msg, "Checkpoint Coordinator is suspending.");
	assert_false(info(f).periodic);
	assert_int_equal(sluice__coord_poll(f->c), INT64_MAX);
	trigger_ckpt(f);
	trigger_ckpt(f);
	sluice__coord_shutdown(f->c);
	assert_int_equal(
		count_results(f, SLUICE_CFR_CHECKPOINT_COORDINATOR_SHUTDOWN),
		2);
	trigger_ckpt(f);
	assert_int_equal(
		last_result(f)->reason,
		SLUICE_CFR_CHECKPOINT_COORDINATOR_SHUTDOWN);
	assert_string_equal(
		last_result(f)->msg, "CheckpointCoordinator shutdown.");
	assert_int_equal(f->n_fail, 0);
	fake_free(f);
}

static void stop_in_plan(fake *f)
{
	sluice__coord_stop_scheduler(f->c);
}

static void
test_coordinator_failures__periodic_request_after_scheduler_stop(void **st)
{
	fake *f = fake_new();
	sluice__stats_counts sc;

	(void)st;
	fake_start(f, 1);
	assert_int_equal(sluice__coord_start_scheduler(f->c), 0);
	advance(f, info(f).next_periodic - mono(f));
	f->state_hook = stop_in_plan; /* stopped while the plan is computed */
	sluice__coord_poll(f->c);
	assert_int_equal(f->n_triggers, 0);
	assert_true(log_has("Failed to trigger or complete checkpoint "
			    "UNKNOWN_CHECKPOINT_ID for job J."));
	assert_true(log_has("Periodic checkpoint scheduler is shut down."));
	sluice__stats_counts_get(sluice__coord_stats(f->c), &sc);
	assert_int_equal(sc.failed, 1);
	fake_free(f);
}

static void
test_coordinator_failures__unknown_task_on_trigger_declines(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	f->trigger_rc = SLUICE_ENOTFOUND;
	trigger_ckpt(f);
	assert_int_equal(
		f->results[0].reason, SLUICE_CFR_TASK_CHECKPOINT_FAILURE);
	assert_string_equal(
		f->results[0].msg,
		"TaskManager received a checkpoint request for unknown task 1. "
		"Failure reason: Task local checkpoint failure.");
	assert_int_equal(f->n_fail, 0);
	assert_int_equal(info(f).pending, 0);
	fake_free(f);
}

static void
test_coordinator_failures__unknown_task_on_notify_is_logged(void **st)
{
	fake *f = fake_new();

	(void)st;
	fake_start(f, 1);
	f->notify_rc = SLUICE_ENOTFOUND;
	trigger_ckpt(f);
	ack_all(f, 1);
	assert_int_equal(last_result(f)->reason, SLUICE_CFR_NONE);
	assert_true(
		log_has("TaskManager received a checkpoint confirmation for "
			"unknown task 1. Failure reason: Unknown task for "
			"the checkpoint to notify."));
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_coordinator_failures__task_without_attempt_is_not_all_running),
		cmocka_unit_test(
			test_coordinator_failures__deploying_trigger_task_is_not_all_running),
		cmocka_unit_test(
			test_coordinator_failures__finished_tasks_without_feature_abort),
		cmocka_unit_test(
			test_coordinator_failures__storage_io_error_is_io_exception_and_counts),
		cmocka_unit_test(
			test_coordinator_failures__other_storage_error_is_trigger_failure),
		cmocka_unit_test(
			test_coordinator_failures__finalize_failure_counts),
		cmocka_unit_test(
			test_coordinator_failures__unsupported_finished_state_is_task_closing),
		cmocka_unit_test(
			test_coordinator_failures__declines_count_once_per_checkpoint),
		cmocka_unit_test(
			test_coordinator_failures__uncounted_declines_never_fail_the_job),
		cmocka_unit_test(
			test_coordinator_failures__decline_with_text_formats_message),
		cmocka_unit_test(
			test_coordinator_failures__failures_before_last_success_are_ignored),
		cmocka_unit_test(
			test_coordinator_failures__savepoint_jm_failures_are_ignored),
		cmocka_unit_test(
			test_coordinator_failures__sync_savepoint_task_failure_fails_job),
		cmocka_unit_test(
			test_coordinator_failures__unlimited_tolerance_never_fails),
		cmocka_unit_test(
			test_coordinator_failures__task_failure_aborts_unacked_checkpoints),
		cmocka_unit_test(
			test_coordinator_failures__failover_aborts_all_pending),
		cmocka_unit_test(
			test_coordinator_failures__suspend_and_shutdown_abort_everything),
		cmocka_unit_test(
			test_coordinator_failures__periodic_request_after_scheduler_stop),
		cmocka_unit_test(
			test_coordinator_failures__unknown_task_on_trigger_declines),
		cmocka_unit_test(
			test_coordinator_failures__unknown_task_on_notify_is_logged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
