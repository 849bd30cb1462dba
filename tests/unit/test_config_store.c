/*
 * The configuration store: precedence of sources, Flink's alias fallback
 * order and its warnings, unknown keys with suggestions, -D parsing,
 * lookup, getters' error cases, deep copy, and allocation failures.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "helper_config.h"
#include "sluice/common.h"
#include "util/alloc.h"

#define DIR_KEY "execution.checkpointing.dir"

static void test_store__alias_fallback_follows_flink_order(void **state)
{
	sluice_config *c;
	const char *s, *raw, *alias;
	sluice_config_source src;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	sluice_config_set(
		c, "state.backend.fs.checkpointdir", "/second-alias",
		SLUICE_CONFIG_FILE);
	assert_int_equal(sluice_config_get_string(c, DIR_KEY, &s), 0);
	assert_string_equal(s, "/second-alias");
	sluice_config_set(
		c, "state.checkpoints.dir", "/first-alias", SLUICE_CONFIG_FILE);
	assert_int_equal(sluice_config_get_string(c, DIR_KEY, &s), 0);
	assert_string_equal(s, "/first-alias");
	assert_int_equal(
		sluice_config_lookup(c, DIR_KEY, &raw, &src, &alias), 0);
	assert_string_equal(alias, "state.checkpoints.dir");
	assert_int_equal(src, SLUICE_CONFIG_FILE);
	/* the key itself wins, even from a lower source */
	sluice_config_set(c, DIR_KEY, "/key", SLUICE_CONFIG_FILE);
	sluice_config_set(
		c, "state.checkpoints.dir", "/alias-from-D",
		SLUICE_CONFIG_DYNAMIC);
	assert_int_equal(sluice_config_get_string(c, DIR_KEY, &s), 0);
	assert_string_equal(s, "/key");
	assert_int_equal(
		sluice_config_lookup(c, DIR_KEY, &raw, &src, &alias), 0);
	assert_null(alias);
	/* reading through an alias name resolves the same option */
	assert_int_equal(
		sluice_config_get_string(c, "state.checkpoints.dir", &s), 0);
	assert_string_equal(s, "/key");
	sluice_config_free(c);
}

static void test_store__alias_use_warns_with_new_key(void **state)
{
	sluice_config *c;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	sluice_config_set(c, "state.backend", "rocksdb", SLUICE_CONFIG_FILE);
	sluice_config_set(c, "state.backend", "rocksdb", SLUICE_CONFIG_DYNAMIC);
	assert_int_equal(sluice_config_warning_count(c), 1);
	assert_string_equal(
		sluice_config_warning(c, 0),
		"Config uses deprecated configuration key 'state.backend' "
		"instead of proper key 'state.backend.type'");
	assert_null(sluice_config_warning(c, 1));
	sluice_config_free(c);
}

static void test_store__key_and_alias_both_set_warns_key_wins(void **state)
{
	sluice_config *c;
	int e;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	sluice_config_set(
		c, "state.backend.type", "hashmap", SLUICE_CONFIG_FILE);
	sluice_config_set(c, "state.backend", "rocksdb", SLUICE_CONFIG_FILE);
	assert_int_equal(sluice_config_validate(c), 0);
	assert_true(
		find_warning(
			c, "'state.backend' is ignored: "
			   "'state.backend.type' is also set") >= 0);
	assert_int_equal(sluice_config_get_enum(c, "state.backend", &e), 0);
	assert_int_equal(e, 0);
	sluice_config_free(c);
}

static void test_store__unknown_key_warns_with_closest(void **state)
{
	sluice_config *c;
	const char *s;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		sluice_config_set(
			c, "execution.checkpointing.intervall", "10s",
			SLUICE_CONFIG_FILE),
		0);
	assert_string_equal(
		sluice_config_warning(c, 0),
		"Unknown configuration key 'execution.checkpointing.intervall' "
		"(did you mean 'execution.checkpointing.interval'?)");
	sluice_config_set(c, "jobmanager.rpc.address", "h", SLUICE_CONFIG_FILE);
	assert_string_equal(
		sluice_config_warning(c, 1),
		"Unknown configuration key 'jobmanager.rpc.address'");
	/* kept, readable as a string, valid */
	assert_int_equal(
		sluice_config_get_string(c, "jobmanager.rpc.address", &s), 0);
	assert_string_equal(s, "h");
	assert_int_equal(sluice_config_validate(c), 0);
	sluice_config_free(c);
}

static void test_store__precedence_default_file_job_dynamic(void **state)
{
	const char *key = "execution.checkpointing.timeout";
	const char *raw, *alias;
	sluice_config_source src;
	sluice_config *c;
	int64_t ms;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(sluice_config_lookup(c, key, &raw, &src, &alias), 0);
	assert_string_equal(raw, "10 min");
	assert_int_equal(src, SLUICE_CONFIG_DEFAULT);
	sluice_config_set(c, key, "1 min", SLUICE_CONFIG_DYNAMIC);
	sluice_config_set(c, key, "2 min", SLUICE_CONFIG_FILE);
	sluice_config_set(c, key, "3 min", SLUICE_CONFIG_JOB);
	assert_int_equal(sluice_config_get_duration(c, key, &ms), 0);
	assert_int_equal(ms, 60000);
	assert_int_equal(sluice_config_lookup(c, key, &raw, &src, &alias), 0);
	assert_int_equal(src, SLUICE_CONFIG_DYNAMIC);
	assert_string_equal(sluice_config_source_name(src), "-D");
	sluice_config_set(c, key, "4 min", SLUICE_CONFIG_DYNAMIC);
	assert_int_equal(sluice_config_get_duration(c, key, &ms), 0);
	assert_int_equal(ms, 240000);
	assert_string_equal(
		sluice_config_source_name(SLUICE_CONFIG_DEFAULT), "default");
	assert_string_equal(
		sluice_config_source_name(SLUICE_CONFIG_FILE), "file");
	assert_string_equal(
		sluice_config_source_name(SLUICE_CONFIG_JOB), "job");
	assert_string_equal(
		sluice_config_source_name(SLUICE_CONFIG_API), "api");
	sluice_config_free(c);
}

static void test_store__set_arg_parses_key_value(void **state)
{
	sluice_config *c;
	const char *s, *k, *raw;
	sluice_config_source src;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		sluice_config_set_arg(c, " s3.endpoint = http://h:9000/?a=b"),
		0);
	assert_int_equal(sluice_config_get_string(c, "s3.endpoint", &s), 0);
	assert_string_equal(s, " http://h:9000/?a=b");
	assert_int_equal(sluice_config_entry_at(c, 0, &k, &raw, &src), 0);
	assert_string_equal(k, "s3.endpoint");
	assert_int_equal(src, SLUICE_CONFIG_DYNAMIC);
	assert_int_equal(
		sluice_config_entry_at(c, 1, &k, &raw, &src), SLUICE_ENOTFOUND);
	assert_int_equal(sluice_config_set_arg(c, "novalue"), SLUICE_EINVALID);
	assert_contains(sluice_error_last()->message, "expected key=value");
	assert_int_equal(sluice_config_set_arg(c, "=v"), SLUICE_EINVALID);
	assert_int_equal(sluice_config_set_arg(c, "  =v"), SLUICE_EINVALID);
	assert_int_equal(
		sluice_config_set(c, "", "v", SLUICE_CONFIG_API),
		SLUICE_EINVALID);
	assert_int_equal(sluice_config_entry_count(c), 1);
	sluice_config_free(c);
}

static void test_store__getters_report_errors(void **state)
{
	sluice_config *c;
	const char *s;
	int64_t ms;
	int32_t i;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		sluice_config_get_int(c, "no.such.key", &i), SLUICE_ENOTFOUND);
	assert_contains(sluice_error_last()->message, "'no.such.key'");
	assert_int_equal(
		sluice_config_get_int(c, "execution.checkpointing.timeout", &i),
		SLUICE_EINVALID);
	assert_contains(sluice_error_last()->message, "is a duration");
	assert_int_equal(
		sluice_config_get_duration(
			c, "execution.checkpointing.interval", &ms),
		SLUICE_ENOTFOUND);
	assert_int_equal(sluice_config_get_string(c, DIR_KEY, &s), 0);
	assert_null(s);
	assert_int_equal(
		sluice_config_get_string(c, "no.such.key", &s),
		SLUICE_ENOTFOUND);
	{
		sluice_config_source src;
		const char *alias;

		assert_int_equal(
			sluice_config_lookup(
				c, "no.such.key", &s, &src, &alias),
			SLUICE_ENOTFOUND);
		assert_null(s);
	}
	sluice_config_free(c);
}

static void test_store__dup_is_deep(void **state)
{
	sluice_config *c, *d;
	const char *s;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	sluice_config_set(c, "state.checkpoints.dir", "/a", SLUICE_CONFIG_FILE);
	assert_int_equal(sluice_config_dup(&d, c), 0);
	sluice_config_set(c, "state.checkpoints.dir", "/b", SLUICE_CONFIG_FILE);
	sluice_config_free(c);
	assert_int_equal(sluice_config_get_string(d, DIR_KEY, &s), 0);
	assert_string_equal(s, "/a");
	assert_int_equal(sluice_config_warning_count(d), 1);
	sluice_config_free(d);
	sluice_config_free(NULL);
}

/* Build, load, validate and copy with the n-th allocation failing. */
static int build_all(void)
{
	static const char yaml[] = "state.backend: rocksdb\n"
				   "execution:\n  checkpointing:\n"
				   "    interval: 5\n    timeot: 1\n";
	sluice_config *c = NULL, *d = NULL;
	sluice_checkpoint_settings s;
	int rc;

	rc = sluice_config_new(&c);
	if (rc == 0)
		rc = sluice_config_load_string(
			c, yaml, sizeof(yaml) - 1, "oom.yaml",
			SLUICE_CONFIG_FILE);
	if (rc == 0)
		rc = sluice_config_set_arg(c, "s3.secret-key=x");
	if (rc == 0) {
		rc = sluice_config_validate(c);
		if (rc == SLUICE_EINVALID)
			rc = 0;
	}
	if (rc == 0)
		rc = sluice_config_dup(&d, c);
	if (rc == 0)
		rc = sluice_config_checkpoint_settings(d, &s);
	sluice_config_free(d);
	sluice_config_free(c);
	return rc;
}

static void test_store__allocation_failures_clean_up(void **state)
{
	long n;
	int rc;

	(void)state;
	for (n = 0; n < 400; n++) {
		sluice__alloc_fail_after(n);
		rc = build_all();
		sluice__alloc_fail_after(-1);
		if (rc == 0)
			break;
		assert_int_equal(rc, SLUICE_ENOMEM);
	}
	assert_true(n > 5 && n < 400);
}

static void *reader(void *arg)
{
	const sluice_config *c = arg;
	sluice_checkpoint_settings s;
	int64_t ms;
	int i, ok = 1;

	for (i = 0; i < 200; i++) {
		ok &= sluice_config_checkpoint_settings(c, &s) == 0 &&
		      s.interval_ms == 10000;
		ok &= sluice_config_get_duration(
			      c, "execution.checkpointing.timeout", &ms) == 0 &&
		      ms == 1800000;
		ok &= sluice_config_get_int(c, "no.such.key", NULL) ==
		      SLUICE_ENOTFOUND;
	}
	return ok ? arg : NULL;
}

static void test_store__concurrent_reads_are_safe(void **state)
{
	pthread_t t[4];
	sluice_config *c;
	void *ret;
	int i;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	sluice_config_set_arg(c, "execution.checkpointing.interval=10s");
	sluice_config_set_arg(c, "execution.checkpointing.timeout=30min");
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, c), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_ptr_equal(ret, c);
	}
	sluice_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_store__alias_fallback_follows_flink_order),
		cmocka_unit_test(test_store__alias_use_warns_with_new_key),
		cmocka_unit_test(
			test_store__key_and_alias_both_set_warns_key_wins),
		cmocka_unit_test(test_store__unknown_key_warns_with_closest),
		cmocka_unit_test(
			test_store__precedence_default_file_job_dynamic),
		cmocka_unit_test(test_store__set_arg_parses_key_value),
		cmocka_unit_test(test_store__getters_report_errors),
		cmocka_unit_test(test_store__dup_is_deep),
		cmocka_unit_test(test_store__allocation_failures_clean_up),
		cmocka_unit_test(test_store__concurrent_reads_are_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
