/* The checkpoint failure reason table: Flink's messages, flags, lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/config.h"
#include "sluice/failure.h"

static void test_failure__table_has_24_current_and_6_legacy(void **st)
{
	const sluice_failure_info *fi;
	size_t i, current = 0, legacy = 0;

	(void)st;
	for (i = 0; (fi = sluice_failure_info_at(i)); i++) {
		assert_non_null(fi->name);
		assert_non_null(fi->message);
		assert_non_null(fi->meaning);
		assert_non_null(fi->where);
		assert_non_null(fi->check);
		if (fi->legacy)
			legacy++;
		else
			current++;
		assert_ptr_equal(sluice_failure_info_get(fi->reason), fi);
	}
	assert_int_equal(current, SLUICE_CFR_CURRENT_COUNT);
	assert_int_equal(legacy, SLUICE_CFR_LEGACY_COUNT);
	assert_null(sluice_failure_info_get(SLUICE_CFR_NONE));
	assert_null(sluice_failure_info_get((sluice_failure_reason)77));
}

static void test_failure__exact_flink_messages(void **st)
{
	(void)st;
	assert_string_equal(
		sluice_failure_info_get(SLUICE_CFR_TOO_MANY_CHECKPOINT_REQUESTS)
			->message,
		"The maximum number of queued checkpoint requests exceeded");
	assert_string_equal(
		sluice_failure_info_get(SLUICE_CFR_CHECKPOINT_EXPIRED)->message,
		"Checkpoint expired before completing.");
	assert_string_equal(
		sluice_failure_info_get(
			SLUICE_CFR_CHECKPOINT_DECLINED_TASK_NOT_READY)
			->message,
		"Checkpoint was declined (tasks not ready)");
	assert_string_equal(
		sluice_failure_info_get(SLUICE_CFR_IO_EXCEPTION)->message,
		"An Exception occurred while triggering the checkpoint. "
		"IO-problem detected.");
	assert_string_equal(
		sluice_failure_info_get(
			SLUICE_CFR_MINIMUM_TIME_BETWEEN_CHECKPOINTS)
			->message,
		"The minimum time between checkpoints is still pending. "
		"Checkpoint will be triggered after the minimum time.");
}

static void test_failure__counted_set_is_flink_2x(void **st)
{
	const sluice_failure_info *fi;
	size_t i;

	(void)st;
	for (i = 0; (fi = sluice_failure_info_at(i)); i++) {
		int expect =
			fi->reason == SLUICE_CFR_IO_EXCEPTION ||
			fi->reason == SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION ||
			fi->reason == SLUICE_CFR_CHECKPOINT_EXPIRED ||
			fi->reason == SLUICE_CFR_CHECKPOINT_DECLINED ||
			fi->reason == SLUICE_CFR_FINALIZE_CHECKPOINT_FAILURE;

		assert_int_equal(fi->counted, expect);
	}
}

static void test_failure__pre_flight_are_the_first_six(void **st)
{
	const sluice_failure_info *fi;
	int r;

	(void)st;
	for (r = 1; r <= SLUICE_CFR_CURRENT_COUNT; r++) {
		fi = sluice_failure_info_get((sluice_failure_reason)r);
		assert_non_null(fi);
		assert_int_equal(fi->pre_flight, r <= 6);
	}
}

/* The seed note's spellings: trailing dots dropped. */
static const struct {
	const char *text;
	sluice_failure_reason reason;
} seed[] = {
	{"The maximum number of queued checkpoint requests exceeded",
	 SLUICE_CFR_TOO_MANY_CHECKPOINT_REQUESTS},
	{"Periodic checkpoint scheduler is shut down",
	 SLUICE_CFR_PERIODIC_SCHEDULER_SHUTDOWN},
	{"The minimum time between checkpoints is still pending",
	 SLUICE_CFR_MINIMUM_TIME_BETWEEN_CHECKPOINTS},
	{"Not all required tasks are currently running",
	 SLUICE_CFR_NOT_ALL_REQUIRED_TASKS_RUNNING},
	{"An Exception occurred while triggering the checkpoint.",
	 SLUICE_CFR_LEGACY_EXCEPTION},
	{"Asynchronous task checkpoint failed.",
	 SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION},
	{"The checkpoint was aborted due to exception of other subtasks "
	 "sharing the ChannelState file",
	 SLUICE_CFR_CHANNEL_STATE_SHARED_STREAM_EXCEPTION},
	{"Checkpoint expired before completing", SLUICE_CFR_CHECKPOINT_EXPIRED},
	{"Checkpoint has been subsumed", SLUICE_CFR_CHECKPOINT_SUBSUMED},
	{"Checkpoint was declined", SLUICE_CFR_CHECKPOINT_DECLINED},
	{"Checkpoint was declined (tasks not ready)",
	 SLUICE_CFR_CHECKPOINT_DECLINED_TASK_NOT_READY},
	{"Checkpoint was declined (task is closing)",
	 SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING},
	{"Checkpoint was canceled because a barrier from newer checkpoint was "
	 "received",
	 SLUICE_CFR_CHECKPOINT_DECLINED_SUBSUMED},
	{"Task received cancellation from one of its inputs",
	 SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER},
	{"Checkpoint was declined because one input stream is finished",
	 SLUICE_CFR_CHECKPOINT_DECLINED_INPUT_END_OF_STREAM},
	{"CheckpointCoordinator shutdown",
	 SLUICE_CFR_CHECKPOINT_COORDINATOR_SHUTDOWN},
	{"Checkpoint Coordinator is suspending",
	 SLUICE_CFR_CHECKPOINT_COORDINATOR_SUSPEND},
	{"FailoverRegion is restarting", SLUICE_CFR_JOB_FAILOVER_REGION},
	{"Task has failed", SLUICE_CFR_TASK_FAILURE},
	{"Task local checkpoint failure", SLUICE_CFR_TASK_CHECKPOINT_FAILURE},
	{"Unknown task for the checkpoint to notify",
	 SLUICE_CFR_UNKNOWN_TASK_CHECKPOINT_NOTIFICATION_FAILURE},
	{"Failure to finalize checkpoint",
	 SLUICE_CFR_FINALIZE_CHECKPOINT_FAILURE},
	{"Trigger checkpoint failure", SLUICE_CFR_TRIGGER_CHECKPOINT_FAILURE},
};

static void test_failure__match_recognises_every_seed_spelling(void **st)
{
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(seed) / sizeof(seed[0]); i++) {
		const sluice_failure_info *fi =
			sluice_failure_info_match(seed[i].text);

		assert_non_null(fi);
		assert_int_equal(fi->reason, seed[i].reason);
	}
}

static void test_failure__match_prefers_longest_and_finds_in_context(void **st)
{
	const sluice_failure_info *fi;

	(void)st;
	fi = sluice_failure_info_match(
		"2026-11-25 WARN Failed to trigger checkpoint 7 for job x. "
		"(2 consecutive failed attempts so far) "
		"org.apache.flink.runtime.checkpoint.CheckpointException: An "
		"Exception occurred while triggering the checkpoint. "
		"IO-problem "
		"detected.");
	assert_int_equal(fi->reason, SLUICE_CFR_IO_EXCEPTION);
	fi = sluice_failure_info_match("Could not finalize the pending "
				       "checkpoint 17. Failure reason: Failure "
				       "to finalize checkpoint.");
	assert_int_equal(fi->reason, SLUICE_CFR_FINALIZE_CHECKPOINT_FAILURE);
	fi = sluice_failure_info_match("checkpoint EXPIRED before completing");
	assert_int_equal(fi->reason, SLUICE_CFR_CHECKPOINT_EXPIRED);
	assert_null(sluice_failure_info_match("everything is fine"));
	assert_null(sluice_failure_info_match(""));
	assert_null(sluice_failure_info_match(NULL));
}

static void test_failure__by_name(void **st)
{
	(void)st;
	assert_int_equal(
		sluice_failure_info_by_name("checkpoint_expired")->reason,
		SLUICE_CFR_CHECKPOINT_EXPIRED);
	assert_int_equal(
		sluice_failure_info_by_name("EXCEPTION")->reason,
		SLUICE_CFR_LEGACY_EXCEPTION);
	assert_null(sluice_failure_info_by_name("NOPE"));
}

static void test_failure__format_uses_flink_failure_reason_suffix(void **st)
{
	char buf[256];
	int n;

	(void)st;
	n = sluice_failure_format(
		buf, sizeof(buf), SLUICE_CFR_FINALIZE_CHECKPOINT_FAILURE,
		"Could not finalize the pending checkpoint 17.");
	assert_string_equal(
		buf, "Could not finalize the pending checkpoint "
		     "17. Failure reason: Failure to finalize "
		     "checkpoint.");
	assert_int_equal(n, (int)strlen(buf));
	sluice_failure_format(buf, sizeof(buf), SLUICE_CFR_TASK_FAILURE, NULL);
	assert_string_equal(buf, "Task has failed.");
}

static void test_failure__keys_are_registry_keys(void **st)
{
	const sluice_failure_info *fi;
	const char *const *keys;
	size_t i, k, total = 0;
	int via_alias;

	(void)st;
	for (i = 0; (fi = sluice_failure_info_at(i)); i++) {
		keys = sluice_failure_keys(fi->reason);
		assert_non_null(keys);
		for (k = 0; keys[k]; k++, total++) {
			assert_non_null(
				sluice_option_find(keys[k], &via_alias));
			assert_int_equal(via_alias, 0); /* new names only */
		}
	}
	assert_true(total > 20);
	assert_null(sluice_failure_keys(SLUICE_CFR_TASK_CHECKPOINT_FAILURE)[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_failure__table_has_24_current_and_6_legacy),
		cmocka_unit_test(test_failure__exact_flink_messages),
		cmocka_unit_test(test_failure__counted_set_is_flink_2x),
		cmocka_unit_test(test_failure__pre_flight_are_the_first_six),
		cmocka_unit_test(
			test_failure__match_recognises_every_seed_spelling),
		cmocka_unit_test(
			test_failure__match_prefers_longest_and_finds_in_context),
		cmocka_unit_test(test_failure__by_name),
		cmocka_unit_test(
			test_failure__format_uses_flink_failure_reason_suffix),
		cmocka_unit_test(test_failure__keys_are_registry_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
