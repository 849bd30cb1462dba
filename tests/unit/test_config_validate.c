/*
 * Cross-key rules (spec §2.1, §3.4, §3.5, §3.7) and the checkpoint
 * settings after Flink's normalisation.
 */
#include <stdint.h>
#include <stdio.h>

#include "helper_config.h"
#include "sluice/common.h"

#define CK(x) "execution.checkpointing." x

/* A config from "key=value" strings, validated; returns validate's code. */
static int make(sluice_config **out, const char *const *kv)
{
	size_t i;

	assert_int_equal(sluice_config_new(out), 0);
	for (i = 0; kv[i]; i++)
		assert_int_equal(sluice_config_set_arg(*out, kv[i]), 0);
	return sluice_config_validate(*out);
}

#define MAKE(c, ...) make(&(c), (const char *const[]){__VA_ARGS__, NULL})

static void test_rules__interval_and_timeout_at_least_10_ms(void **state)
{
	sluice_config *c;

	(void)state;
	assert_int_equal(MAKE(c, CK("interval=5")), SLUICE_EINVALID);
	assert_string_equal(
		sluice_config_problem(c, 0),
		"Invalid value '5' for key 'execution.checkpointing.interval': "
		"Checkpoint interval must be larger than or equal to 10 ms");
	assert_contains(sluice_error_last()->message, "interval");
	sluice_config_free(c);
	assert_int_equal(MAKE(c, CK("interval=0")), 0);
	sluice_config_free(c);
	assert_int_equal(MAKE(c, CK("interval=10ms")), 0);
	sluice_config_free(c);
	assert_int_equal(MAKE(c, CK("timeout=9")), SLUICE_EINVALID);
	assert_true(
		find_problem(
			c, "Checkpoint timeout must be larger than or "
			   "equal to 10 ms") >= 0);
	sluice_config_free(c);
}

static void test_rules__unaligned_needs_exactly_once(void **state)
{
	sluice_config *c;

	(void)state;
	assert_int_equal(
		MAKE(c, CK("interval=1min"), CK("mode=AT_LEAST_ONCE"),
		     CK("unaligned.enabled=true")),
		SLUICE_EINVALID);
	assert_true(
		find_problem(
			c, "Cannot use unaligned checkpoints with "
			   "AT_LEAST_ONCE checkpointing mode") >= 0);
	sluice_config_free(c);
	/* without checkpointing the combination is harmless */
	assert_int_equal(
		MAKE(c, CK("mode=AT_LEAST_ONCE"), CK("unaligned=true")), 0);
	sluice_config_free(c);
}

static void test_rules__unaligned_needs_one_concurrent(void **state)
{
	sluice_config *c;

	(void)state;
	assert_int_equal(
		MAKE(c, CK("unaligned.enabled=true"),
		     CK("max-concurrent-checkpoints=2")),
		SLUICE_EINVALID);
	assert_true(
		find_problem(
			c, "maxConcurrentCheckpoints can't be > 1 if "
			   "UnalignedCheckpoints enabled") >= 0);
	sluice_config_free(c);
	assert_int_equal(MAKE(c, CK("max-concurrent-checkpoints=2")), 0);
	sluice_config_free(c);
}

static void test_rules__flink_messages_for_negative_counts(void **state)
{
	sluice_config *c;

	(void)state;
	assert_int_equal(
		MAKE(c, CK("max-concurrent-checkpoints=0"),
		     CK("tolerable-failed-checkpoints=-1"),
		     CK("write-buffer-size=-1")),
		SLUICE_EINVALID);
	assert_true(
		find_problem(
			c, "The maximum number of concurrent attempts "
			   "must be at least one.") >= 0);
	assert_true(
		find_problem(
			c, "The tolerable failure checkpoint number "
			   "must be non-negative.") >= 0);
	assert_true(
		find_problem(
			c, "Write buffer size must be zero or "
			   "positive.") >= 0);
	assert_int_equal(sluice_config_problem_count(c), 3);
	sluice_config_free(c);
}

static void test_rules__inline_threshold_above_1mib_warns(void **state)
{
	sluice_checkpoint_settings s;
	sluice_config *c;

	(void)state;
	assert_int_equal(MAKE(c, "state.storage.fs.memory-threshold=2mb"), 0);
	assert_true(
		find_warning(
			c, "Ignoring invalid file size threshold "
			   "value (execution.checkpointing.data-"
			   "inline-threshold): 2097152 - using default "
			   "value 20480 instead.") >= 0);
	assert_int_equal(sluice_config_checkpoint_settings(c, &s), 0);
	assert_int_equal(s.inline_threshold, 20480);
	assert_int_equal(s.write_buffer_size, 20480);
	sluice_config_free(c);
	assert_int_equal(MAKE(c, CK("data-inline-threshold=1mb")), 0);
	assert_int_equal(find_warning(c, "Ignoring"), -1);
	assert_int_equal(sluice_config_checkpoint_settings(c, &s), 0);
	assert_int_equal(s.inline_threshold, 1048576);
	assert_int_equal(s.write_buffer_size, 1048576);
	sluice_config_free(c);
	assert_int_equal(
		MAKE(c, CK("data-inline-threshold=1kb"),
		     CK("write-buffer-size=8192")),
		0);
	assert_int_equal(sluice_config_checkpoint_settings(c, &s), 0);
	assert_int_equal(s.write_buffer_size, 8192);
	sluice_config_free(c);
}

static void test_rules__num_retained_nonpositive_warns_and_uses_1(void **s_)
{
	sluice_checkpoint_settings s;
	sluice_config *c;

	(void)s_;
	assert_int_equal(MAKE(c, "state.checkpoints.num-retained=0"), 0);
	assert_true(
		find_warning(
			c, "The setting for 'execution.checkpointing."
			   "num-retained : 0' is invalid. Using default "
			   "value of 1") >= 0);
	assert_int_equal(sluice_config_checkpoint_settings(c, &s), 0);
	assert_int_equal(s.num_retained, 1);
	sluice_config_free(c);
}

/* Unaligned and incremental rocksdb checkpoints are implemented: no
 * "not implemented" warning remains for them. */
static void test_rules__unaligned_and_incremental_do_not_warn(void **s_)
{
	sluice_config *c;

	(void)s_;
	assert_int_equal(
		MAKE(c, CK("interval=1s"), CK("unaligned.enabled=true"),
		     "state.backend.type=rocksdb", CK("incremental=true")),
		0);
	/* both are implemented: no warning */
	assert_true(find_warning(c, "unaligned") < 0);
	assert_true(find_warning(c, "rocksdb") < 0);
	sluice_config_free(c);
	assert_int_equal(MAKE(c, CK("interval=1s")), 0);
	assert_true(find_warning(c, "unaligned") < 0);
	assert_true(find_warning(c, "rocksdb") < 0);
	sluice_config_free(c);
}

static void test_rules__min_pause_raises_interval_capped(void **state)
{
	sluice_checkpoint_settings s;
	sluice_config *c;

	(void)state;
	assert_int_equal(
		MAKE(c, CK("interval=1 min"), CK("min-pause=5 min")), 0);
	assert_true(
		find_warning(
			c, "checkpoints are triggered at most every "
			   "5 min") >= 0);
	assert_int_equal(sluice_config_checkpoint_settings(c, &s), 0);
	assert_true(s.enabled);
	assert_int_equal(s.interval_ms, 300000);
	assert_int_equal(s.min_pause_ms, 300000);
	sluice_config_free(c);
	assert_int_equal(
		MAKE(c, CK("interval=1 min"), CK("min-pause=800 d")), 0);
	assert_int_equal(sluice_config_checkpoint_settings(c, &s), 0);
	assert_int_equal(s.min_pause_ms, 365LL * 24 * 3600 * 1000);
	assert_int_equal(s.interval_ms, 365LL * 24 * 3600 * 1000);
	sluice_config_free(c);
}

static void test_rules__interval_during_backlog(void **state)
{
	sluice_config *c;

	(void)state;
	assert_int_equal(
		MAKE(c, CK("interval=1 min"),
		     CK("interval-during-backlog=30 s")),
		SLUICE_EINVALID);
	assert_true(
		find_problem(
			c, "Checkpoint interval during backlog must "
			   "be larger than or equal to that in normal "
			   "situation.") >= 0);
	sluice_config_free(c);
	assert_int_equal(
		MAKE(c, CK("interval=1 min"), CK("interval-during-backlog=0")),
		0);
	sluice_config_free(c);
	assert_int_equal(
		MAKE(c, CK("interval=1 min"),
		     CK("interval-during-backlog=2 min")),
		0);
	sluice_config_free(c);
}

static void test_rules__latency_sample_interval_when_enabled(void **state)
{
	sluice_config *c;

	(void)state;
	assert_int_equal(
		MAKE(c, "state.backend.latency-track.keyed-state-enabled=true",
		     "state.backend.latency-track.sample-interval=0"),
		SLUICE_EINVALID);
	assert_true(
		find_problem(c, "sample interval of latency tracking") >= 0);
	assert_true(
		find_problem(
			c, "'state.backend.latency-track.sample-"
			   "interval'") >= 0);
	sluice_config_free(c);
	assert_int_equal(MAKE(c, "state.latency-track.sample-interval=0"), 0);
	sluice_config_free(c);
}

static void test_rules__parallelism_segment_restart(void **state)
{
	sluice_config *c;

	(void)state;
	assert_int_equal(
		MAKE(c, "parallelism.default=200",
		     "pipeline.max-parallelism=128",
		     "taskmanager.memory.segment-size=33kb",
		     "restart-strategy.exponential-delay.backoff-multiplier=0."
		     "5",
		     "restart-strategy.exponential-delay.jitter-factor=2",
		     "restart-strategy.exponential-delay.max-backoff=10ms"),
		SLUICE_EINVALID);
	assert_true(find_problem(c, "must not exceed pipeline.max-") >= 0);
	assert_true(find_problem(c, "power of 2") >= 0);
	assert_true(find_problem(c, "multiplier must be >= 1") >= 0);
	assert_true(find_problem(c, "jitter factor") >= 0);
	assert_true(find_problem(c, "max-backoff must be at least") >= 0);
	assert_int_equal(sluice_config_problem_count(c), 5);
	sluice_config_free(c);
	assert_int_equal(
		MAKE(c, "pipeline.max-parallelism=0"), SLUICE_EINVALID);
	sluice_config_free(c);
}

static void test_rules__deprecated_keys_warn(void **state)
{
	sluice_config *c;

	(void)state;
	assert_int_equal(
		MAKE(c, "state.backend.async=false", CK("force=true"),
		     CK("incremental=true")),
		0);
	assert_true(
		find_warning(
			c, "'state.backend.async' is deprecated and "
			   "has no effect") >= 0);
	assert_true(
		find_warning(
			c, "'execution.checkpointing.force' is "
			   "deprecated") >= 0);
	assert_true(
		find_warning(
			c, "no effect with state.backend.type "
			   "hashmap") >= 0);
	sluice_config_free(c);
	assert_int_equal(
		MAKE(c, "state.backend=rocksdb", CK("incremental=true")), 0);
	assert_int_equal(find_warning(c, "hashmap"), -1);
	sluice_config_free(c);
	/* Flink's keys sluice does not implement: loaded, with a word */
	assert_int_equal(
		MAKE(c, "state.backend.local-recovery=true",
		     CK("file-merging.enabled=true")),
		0);
	assert_true(
		find_warning(
			c, "'execution.checkpointing.local-backup.enabled' has "
			   "no effect in sluice: ") >= 0);
	assert_true(
		find_warning(
			c, "'execution.checkpointing.file-merging.enabled' has "
			   "no effect in sluice: ") >= 0);
	sluice_config_free(c);
	assert_int_equal(MAKE(c, CK("file-merging.enabled=false")), 0);
	assert_true(find_warning(c, "no effect in sluice") >= 0);
	sluice_config_free(c);
}

static void test_settings__defaults(void **state)
{
	sluice_checkpoint_settings s;
	sluice_config *c;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(sluice_config_checkpoint_settings(c, &s), 0);
	assert_false(s.enabled);
	assert_true(s.interval_ms == INT64_MAX);
	assert_int_equal(s.mode, SLUICE_AT_LEAST_ONCE);
	assert_int_equal(s.timeout_ms, 600000);
	assert_int_equal(s.min_pause_ms, 0);
	assert_int_equal(s.max_concurrent, 1);
	assert_int_equal(s.tolerable_failures, 0);
	assert_false(s.unaligned);
	assert_int_equal(s.max_subtasks_per_channel_state_file, 5);
	assert_int_equal(s.num_retained, 1);
	assert_int_equal(s.retention, SLUICE_RETAIN_NONE);
	assert_false(s.incremental);
	assert_int_equal(s.inline_threshold, 20480);
	assert_int_equal(s.write_buffer_size, 20480);
	assert_true(s.create_subdir);
	assert_true(s.checkpoints_after_tasks_finish);
	assert_null(s.dir);
	assert_null(s.savepoint_dir);
	assert_string_equal(s.storage, "jobmanager");
	sluice_config_free(c);
}

static void test_settings__configured(void **state)
{
	sluice_checkpoint_settings s;
	sluice_config *c;

	(void)state;
	assert_int_equal(
		MAKE(c, CK("interval=10 s"), "state.checkpoints.dir=/tmp/ck",
		     CK("unaligned=true"), CK("aligned-checkpoint-timeout=2s"),
		     CK("externalized-checkpoint-retention="
			"retain_on_cancellation"),
		     "state.backend.incremental=true",
		     CK("tolerable-failed-checkpoints=2147483647"),
		     CK("snapshot-compression=true")),
		0);
	assert_int_equal(sluice_config_checkpoint_settings(c, &s), 0);
	assert_true(s.enabled);
	assert_int_equal(s.interval_ms, 10000);
	assert_int_equal(s.mode, SLUICE_EXACTLY_ONCE);
	assert_true(s.unaligned);
	assert_int_equal(s.aligned_timeout_ms, 2000);
	assert_int_equal(s.retention, SLUICE_RETAIN_ON_CANCELLATION);
	assert_true(s.incremental);
	assert_true(s.snapshot_compression);
	assert_int_equal(s.tolerable_failures, INT32_MAX);
	assert_string_equal(s.dir, "/tmp/ck");
	assert_string_equal(s.storage, "filesystem");
	sluice_config_free(c);
	assert_int_equal(
		MAKE(c, "state.checkpoints.dir=/tmp/ck",
		     "state.checkpoint-storage=jobmanager"),
		0);
	assert_int_equal(sluice_config_checkpoint_settings(c, &s), 0);
	assert_string_equal(s.storage, "jobmanager");
	sluice_config_free(c);
}

static void test_settings__unparseable_value_fails(void **state)
{
	sluice_checkpoint_settings s;
	sluice_config *c;

	(void)state;
	assert_int_equal(MAKE(c, CK("timeout=banana")), SLUICE_EINVALID);
	assert_int_equal(
		sluice_config_checkpoint_settings(c, &s), SLUICE_EINVALID);
	assert_contains(
		sluice_error_last()->message,
		"Could not parse value 'banana' for key "
		"'execution.checkpointing.timeout'.");
	sluice_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_rules__interval_and_timeout_at_least_10_ms),
		cmocka_unit_test(test_rules__unaligned_needs_exactly_once),
		cmocka_unit_test(test_rules__unaligned_needs_one_concurrent),
		cmocka_unit_test(
			test_rules__flink_messages_for_negative_counts),
		cmocka_unit_test(test_rules__inline_threshold_above_1mib_warns),
		cmocka_unit_test(
			test_rules__num_retained_nonpositive_warns_and_uses_1),
		cmocka_unit_test(
			test_rules__unaligned_and_incremental_do_not_warn),
		cmocka_unit_test(test_rules__min_pause_raises_interval_capped),
		cmocka_unit_test(test_rules__interval_during_backlog),
		cmocka_unit_test(
			test_rules__latency_sample_interval_when_enabled),
		cmocka_unit_test(test_rules__parallelism_segment_restart),
		cmocka_unit_test(test_rules__deprecated_keys_warn),
		cmocka_unit_test(test_settings__defaults),
		cmocka_unit_test(test_settings__configured),
		cmocka_unit_test(test_settings__unparseable_value_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
