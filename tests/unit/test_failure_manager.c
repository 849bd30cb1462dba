/* The failure manager's counting rules (spec §1.5), without a coordinator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint/failure_manager.h"

static sluice__fm_verdict record_failure(
	sluice__failure_manager *fm,
	int64_t id,
	sluice_failure_reason reason,
	int savepoint,
	int sync,
	int tm_side,
	const char **msg)
{
	sluice__fm_failure f = {
		id, reason, "the exception", savepoint, sync, tm_side, "J"};

	return sluice__fm_on_failure(fm, &f, msg);
}

static void test_failure_manager__negative_tolerable_is_rejected(void **st)
{
	sluice__failure_manager fm;

	(void)st;
	assert_int_equal(sluice__fm_init(&fm, -1), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"The tolerable checkpoint failure number is illegal, it must "
		"be "
		"greater than or equal to 0 .");
}

static void
test_failure_manager__zero_tolerable_fails_on_first_counted(void **st)
{
	sluice__failure_manager fm;
	const char *msg;

	(void)st;
	assert_int_equal(sluice__fm_init(&fm, 0), 0);
	assert_int_equal(
		record_failure(
			&fm, 1, SLUICE_CFR_CHECKPOINT_SUBSUMED, 0, 0, 0, &msg),
		SLUICE_FM_CONTINUE);
	assert_null(msg);
	assert_int_equal(
		record_failure(
			&fm, 2, SLUICE_CFR_CHECKPOINT_EXPIRED, 0, 0, 0, &msg),
		SLUICE_FM_FAIL_JOB);
	assert_string_equal(
		msg, "Exceeded checkpoint tolerable failure threshold.");
	sluice__fm_release(&fm);
}

static void test_failure_manager__strictly_greater_than_tolerable(void **st)
{
	sluice__failure_manager fm;
	const char *msg;
	int64_t id;

	(void)st;
	assert_int_equal(sluice__fm_init(&fm, 3), 0);
	for (id = 1; id <= 3; id++)
		assert_int_equal(
			record_failure(
				&fm, id, SLUICE_CFR_CHECKPOINT_DECLINED, 0, 0,
				1, &msg),
			SLUICE_FM_CONTINUE);
	assert_int_equal(fm.counter, 3);
	assert_int_equal(
		record_failure(
			&fm, 4, SLUICE_CFR_CHECKPOINT_DECLINED, 0, 0, 1, &msg),
		SLUICE_FM_FAIL_JOB_TASK);
	assert_int_equal(fm.counter, 0);
	sluice__fm_release(&fm);
}

static void test_failure_manager__countable_set_is_flink_2x(void **st)
{
	sluice__failure_manager fm;
	const char *msg;
	int r, counted = 0;

	(void)st;
	assert_int_equal(sluice__fm_init(&fm, SLUICE_FM_UNLIMITED - 1), 0);
	for (r = 1; r <= SLUICE_CFR_CURRENT_COUNT; r++) {
		int before = fm.counter;

		record_failure(&fm, r, (sluice_failure_reason)r, 0, 0, 0, &msg);
		counted += fm.counter > before;
		assert_int_equal(
			fm.counter > before,
			r == SLUICE_CFR_IO_EXCEPTION ||
				r == SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION ||
				r == SLUICE_CFR_CHECKPOINT_EXPIRED ||
				r == SLUICE_CFR_CHECKPOINT_DECLINED ||
				r == SLUICE_CFR_FINALIZE_CHECKPOINT_FAILURE);
	}
	assert_int_equal(counted, 5);
	sluice__fm_release(&fm);
}

static void test_failure_manager__one_checkpoint_counts_once(void **st)
{
	sluice__failure_manager fm;
	const char *msg;

	(void)st;
	assert_int_equal(sluice__fm_init(&fm, 1), 0);
	record_failure(&fm, 5, SLUICE_CFR_CHECKPOINT_DECLINED, 0, 0, 1, &msg);
	record_failure(&fm, 5, SLUICE_CFR_CHECKPOINT_DECLINED, 0, 0, 1, &msg);
	record_failure(&fm, 5, SLUICE_CFR_CHECKPOINT_EXPIRED, 0, 0, 0, &msg);
	assert_int_equal(fm.counter, 1);
	/* unknown ids count every time */
	assert_int_equal(
		record_failure(
			&fm, SLUICE_FM_UNKNOWN_ID, SLUICE_CFR_IO_EXCEPTION, 0,
			0, 0, &msg),
		SLUICE_FM_FAIL_JOB);
	sluice__fm_release(&fm);
}

static void
test_failure_manager__success_resets_and_old_failures_are_ignored(void **st)
{
	sluice__failure_manager fm;
	const char *msg;

	(void)st;
	assert_int_equal(sluice__fm_init(&fm, 1), 0);
	record_failure(&fm, 3, SLUICE_CFR_CHECKPOINT_DECLINED, 0, 0, 1, &msg);
	sluice__fm_on_success(&fm, 4);
	assert_int_equal(fm.counter, 0);
	record_failure(&fm, 2, SLUICE_CFR_CHECKPOINT_DECLINED, 0, 0, 1, &msg);
	record_failure(&fm, 4, SLUICE_CFR_CHECKPOINT_DECLINED, 0, 0, 1, &msg);
	assert_int_equal(fm.counter, 0);
	record_failure(&fm, 5, SLUICE_CFR_CHECKPOINT_DECLINED, 0, 0, 1, &msg);
	assert_int_equal(fm.counter, 1);
	sluice__fm_on_success(&fm, 3); /* older success: no reset */
	assert_int_equal(fm.counter, 1);
	sluice__fm_release(&fm);
}

static void test_failure_manager__savepoints(void **st)
{
	sluice__failure_manager fm;
	const char *msg;

	(void)st;
	assert_int_equal(sluice__fm_init(&fm, 0), 0);
	/* JM-side savepoint failures are ignored */
	assert_int_equal(
		record_failure(
			&fm, 1, SLUICE_CFR_CHECKPOINT_EXPIRED, 1, 0, 0, &msg),
		SLUICE_FM_CONTINUE);
	assert_int_equal(
		record_failure(&fm, 2, SLUICE_CFR_IO_EXCEPTION, 1, 1, 0, &msg),
		SLUICE_FM_CONTINUE);
	/* a pre-flight reason is JM-side even with a task attached */
	assert_int_equal(
		record_failure(&fm, 3, SLUICE_CFR_IO_EXCEPTION, 1, 0, 1, &msg),
		SLUICE_FM_CONTINUE);
	assert_int_equal(fm.counter, 0);
	/* TM-side stop-with-savepoint failure always fails the job */
	assert_int_equal(
		record_failure(
			&fm, 4, SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING, 1,
			1, 1, &msg),
		SLUICE_FM_FAIL_JOB);
	assert_string_equal(msg, "the exception");
	/* TM-side plain savepoint failure is counted like a checkpoint */
	assert_int_equal(
		record_failure(
			&fm, 5, SLUICE_CFR_CHECKPOINT_DECLINED, 1, 0, 1, &msg),
		SLUICE_FM_FAIL_JOB_TASK);
	sluice__fm_release(&fm);
}

static void test_failure_manager__unlimited_never_counts(void **st)
{
	sluice__failure_manager fm;
	const char *msg;
	int64_t id;

	(void)st;
	assert_int_equal(sluice__fm_init(&fm, SLUICE_FM_UNLIMITED), 0);
	for (id = 1; id < 100; id++)
		assert_int_equal(
			record_failure(
				&fm, id, SLUICE_CFR_CHECKPOINT_DECLINED, 0, 0,
				1, &msg),
			SLUICE_FM_CONTINUE);
	assert_int_equal(fm.counter, 0);
	sluice__fm_release(&fm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_failure_manager__negative_tolerable_is_rejected),
		cmocka_unit_test(
			test_failure_manager__zero_tolerable_fails_on_first_counted),
		cmocka_unit_test(
			test_failure_manager__strictly_greater_than_tolerable),
		cmocka_unit_test(
			test_failure_manager__countable_set_is_flink_2x),
		cmocka_unit_test(
			test_failure_manager__one_checkpoint_counts_once),
		cmocka_unit_test(
			test_failure_manager__success_resets_and_old_failures_are_ignored),
		cmocka_unit_test(test_failure_manager__savepoints),
		cmocka_unit_test(test_failure_manager__unlimited_never_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
