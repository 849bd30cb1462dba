/*
 * Flink's value syntaxes: every duration and memory unit spelling,
 * whitespace, bare numbers, overflow, fractions, unknown labels, booleans
 * and plain integers ("4 * 1024" is an error).
 */
#include <stdint.h>
#include <stdio.h>

#include "helper_config.h"
#include "sluice/common.h"

static void test_duration__every_unit_spelling(void **state)
{
	static const struct {
		const char *text;
		int64_t ms;
	} cases[] = {
		{"2d", 172800000},
		{"2 day", 172800000},
		{"2 days", 172800000},
		{"3h", 10800000},
		{"3 hour", 10800000},
		{"3 hours", 10800000},
		{"10min", 600000},
		{"10 m", 600000},
		{"10 minute", 600000},
		{"10 minutes", 600000},
		{"30s", 30000},
		{"30 sec", 30000},
		{"30 secs", 30000},
		{"30 second", 30000},
		{"30 seconds", 30000},
		{"100ms", 100},
		{"100 milli", 100},
		{"100 millis", 100},
		{"100 millisecond", 100},
		{"100 milliseconds", 100},
		{"2500\xc2\xb5s", 2},
		{"2500 micro", 2},
		{"2500 micros", 2},
		{"2500 microsecond", 2},
		{"2500 microseconds", 2},
		{"3000000ns", 3},
		{"3000000 nano", 3},
		{"3000000 nanos", 3},
		{"3000000 nanosecond", 3},
		{"3000000 nanoseconds", 3},
	};
	size_t i;
	int64_t ms;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms = -1;
		if (sluice_parse_duration(cases[i].text, &ms) != 0)
			fail_msg(
				"'%s': %s", cases[i].text,
				sluice_error_last()->message);
		assert_int_equal(ms, cases[i].ms);
	}
}

static void test_duration__whitespace_case_and_bare_number(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(sluice_parse_duration("  30 s  ", &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(sluice_parse_duration("10MIN", &ms), 0);
	assert_int_equal(ms, 600000);
	assert_int_equal(sluice_parse_duration("30 \t S", &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(sluice_parse_duration("1500", &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(sluice_parse_duration("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(sluice_parse_duration("999 ns", &ms), 0);
	assert_int_equal(ms, 0);
}

static void expect_duration_error(const char *text, const char *reason)
{
	int64_t ms = 7;

	assert_int_equal(sluice_parse_duration(text, &ms), SLUICE_EINVALID);
	assert_int_equal(ms, 7);
	assert_contains(sluice_error_last()->message, reason);
	assert_int_equal(sluice_error_last()->klass, SLUICE_ERRCLS_CONFIG);
}

static void test_duration__errors_say_what_is_wrong(void **state)
{
	(void)state;
	expect_duration_error("", "empty- or whitespace-only");
	expect_duration_error("   ", "empty- or whitespace-only");
	expect_duration_error("banana", "text does not start with a number");
	expect_duration_error("-5s", "text does not start with a number");
	expect_duration_error("s10", "text does not start with a number");
	expect_duration_error("1.5s", "fractions are not supported");
	expect_duration_error(
		"10 parsecs", "Time interval unit label 'parsecs' does not "
			      "match any of the recognized units: DAYS: (d | "
			      "day | days), HOURS");
	expect_duration_error("10 parsecs", "NANOSECONDS: (ns | nano");
	expect_duration_error("4 * 1024", "unit label '* 1024'");
	expect_duration_error("10 s 5", "unit label 's 5'");
}

static void test_duration__overflow_keeps_flinks_message(void **state)
{
	(void)state;
	expect_duration_error(
		"99999999999999999999s",
		"The value '99999999999999999999s' cannot be re represented "
		"as 64bit number (numeric overflow).");
	expect_duration_error("9223372036854775807 d", "numeric overflow");
	expect_duration_error("106751991167301 d", "numeric overflow");
}

static void test_duration__largest_values_fit(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(sluice_parse_duration("9223372036854775807", &ms), 0);
	assert_true(ms == INT64_MAX);
	assert_int_equal(sluice_parse_duration("106751991167 d", &ms), 0);
	assert_true(ms == 106751991167LL * 86400000LL);
}

static void test_memory__every_unit_spelling(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{"20kb", 20480},
		{"20 KB", 20480},
		{"20k", 20480},
		{"20 kibibytes", 20480},
		{"4 mb", 4u << 20},
		{"4m", 4u << 20},
		{"4 mebibytes", 4u << 20},
		{"1g", 1u << 30},
		{"1 GB", 1u << 30},
		{"1 gibibytes", 1u << 30},
		{"2t", 2ull << 40},
		{"2 tb", 2ull << 40},
		{"2 tebibytes", 2ull << 40},
		{"5b", 5},
		{"5 bytes", 5},
		{"4096", 4096},
		{" 0 ", 0},
	};
	size_t i;
	uint64_t b;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (sluice_parse_memory(cases[i].text, &b) != 0)
			fail_msg(
				"'%s': %s", cases[i].text,
				sluice_error_last()->message);
		assert_true(b == cases[i].bytes);
	}
}

static void expect_memory_error(const char *text, const char *reason)
{
	uint64_t b = 7;

	assert_int_equal(sluice_parse_memory(text, &b), SLUICE_EINVALID);
	assert_true(b == 7);
	assert_contains(sluice_error_last()->message, reason);
}

static void test_memory__errors_say_what_is_wrong(void **state)
{
	(void)state;
	expect_memory_error("", "empty- or whitespace-only");
	expect_memory_error("kb", "text does not start with a number");
	expect_memory_error("-1", "text does not start with a number");
	expect_memory_error("1.5mb", "fractions are not supported");
	expect_memory_error(
		"4 * 1024", "Memory size unit '* 1024' does not match any of "
			    "the recognized units: (b | bytes) / (k | kb");
	expect_memory_error("10 pb", "Memory size unit 'pb'");
	expect_memory_error(
		"99999999999999999999", "cannot be re represented as 64bit "
					"number (numeric overflow)");
	expect_memory_error(
		" 9999999 tb ", "The value '9999999 tb' cannot be re "
				"represented as 64bit number of bytes (numeric "
				"overflow).");
}

/* A config with `key` set to `value`, read back through `get`. */
static int get_int_of(const char *key, const char *value, int32_t *out)
{
	sluice_config *c;
	int rc;

	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		sluice_config_set(c, key, value, SLUICE_CONFIG_FILE), 0);
	rc = sluice_config_get_int(c, key, out);
	sluice_config_free(c);
	return rc;
}

static void test_int__plain_decimal_only(void **state)
{
	const char *key = "execution.checkpointing.write-buffer-size";
	int32_t v;

	(void)state;
	assert_int_equal(get_int_of(key, " 8192 ", &v), 0);
	assert_int_equal(v, 8192);
	assert_int_equal(get_int_of(key, "+12", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(get_int_of(key, "-2147483648", &v), 0);
	assert_int_equal(v, INT32_MIN);
	assert_int_equal(get_int_of(key, "4 * 1024", &v), SLUICE_EINVALID);
	assert_contains(
		sluice_error_last()->message,
		"Could not parse value '4 * 1024' for key "
		"'execution.checkpointing.write-buffer-size'.");
	assert_contains(sluice_error_last()->message, "no arithmetic");
	assert_int_equal(get_int_of(key, "4kb", &v), SLUICE_EINVALID);
	assert_int_equal(get_int_of(key, "", &v), SLUICE_EINVALID);
	assert_int_equal(get_int_of(key, "-", &v), SLUICE_EINVALID);
	assert_int_equal(get_int_of(key, "2147483648", &v), SLUICE_EINVALID);
	assert_contains(sluice_error_last()->message, "out of range");
	assert_int_equal(get_int_of(key, "-2147483649", &v), SLUICE_EINVALID);
}

static void test_long__full_64_bit_range(void **state)
{
	const char *key = "state.backend.rocksdb.compaction.filter.query-time-"
			  "after-num-entries";
	sluice_config *c;
	int64_t v;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		sluice_config_set(
			c, key, "9223372036854775807", SLUICE_CONFIG_FILE),
		0);
	assert_int_equal(sluice_config_get_long(c, key, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(
		sluice_config_set(
			c, key, "-9223372036854775808", SLUICE_CONFIG_FILE),
		0);
	assert_int_equal(sluice_config_get_long(c, key, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(
		sluice_config_set(
			c, key, "9223372036854775808", SLUICE_CONFIG_FILE),
		0);
	assert_int_equal(sluice_config_get_long(c, key, &v), SLUICE_EINVALID);
	sluice_config_free(c);
}

static void test_bool__case_insensitive_true_false_only(void **state)
{
	static const char *const good[] = {"true",  "TRUE",  " True ",
					   "false", "FALSE", "fAlSe"};
	static const char *const bad[] = {"yes", "1", "on", "", "truee"};
	const char *key = "execution.checkpointing.incremental";
	sluice_config *c;
	size_t i;
	int v;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		sluice_config_set(c, key, good[i], SLUICE_CONFIG_FILE);
		assert_int_equal(sluice_config_get_bool(c, key, &v), 0);
		assert_int_equal(v, i < 3);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sluice_config_set(c, key, bad[i], SLUICE_CONFIG_FILE);
		assert_int_equal(
			sluice_config_get_bool(c, key, &v), SLUICE_EINVALID);
		assert_contains(
			sluice_error_last()->message,
			"expected 'true' or 'false'");
	}
	sluice_config_free(c);
}

static void test_enum_and_double__parse(void **state)
{
	sluice_config *c;
	double d;
	int e;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	sluice_config_set(
		c, "execution.checkpointing.mode", "at_least_once",
		SLUICE_CONFIG_FILE);
	assert_int_equal(
		sluice_config_get_enum(c, "execution.checkpointing.mode", &e),
		0);
	assert_int_equal(e, SLUICE_AT_LEAST_ONCE);
	sluice_config_set(
		c, "execution.checkpointing.mode", "MOSTLY_ONCE",
		SLUICE_CONFIG_FILE);
	assert_int_equal(
		sluice_config_get_enum(c, "execution.checkpointing.mode", &e),
		SLUICE_EINVALID);
	assert_contains(
		sluice_error_last()->message,
		"expected one of EXACTLY_ONCE, AT_LEAST_ONCE");
	sluice_config_set(c, "restart-strategy", "OFF", SLUICE_CONFIG_FILE);
	assert_int_equal(
		sluice_config_get_enum(c, "restart-strategy.type", &e), 0);
	assert_int_equal(e, 0);
	sluice_config_set(
		c, "restart-strategy.type", "exponentialdelay",
		SLUICE_CONFIG_FILE);
	assert_int_equal(
		sluice_config_get_enum(c, "restart-strategy.type", &e), 0);
	assert_int_equal(e, 3);
	assert_int_equal(
		sluice_config_get_double(
			c, "restart-strategy.exponential-delay.jitter-factor",
			&d),
		0);
	assert_true(d > 0.09 && d < 0.11);
	sluice_config_set(
		c, "restart-strategy.exponential-delay.jitter-factor", "nan",
		SLUICE_CONFIG_FILE);
	assert_int_equal(
		sluice_config_get_double(
			c, "restart-strategy.exponential-delay.jitter-factor",
			&d),
		SLUICE_EINVALID);
	sluice_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration__every_unit_spelling),
		cmocka_unit_test(
			test_duration__whitespace_case_and_bare_number),
		cmocka_unit_test(test_duration__errors_say_what_is_wrong),
		cmocka_unit_test(test_duration__overflow_keeps_flinks_message),
		cmocka_unit_test(test_duration__largest_values_fit),
		cmocka_unit_test(test_memory__every_unit_spelling),
		cmocka_unit_test(test_memory__errors_say_what_is_wrong),
		cmocka_unit_test(test_int__plain_decimal_only),
		cmocka_unit_test(test_long__full_64_bit_range),
		cmocka_unit_test(test_bool__case_insensitive_true_false_only),
		cmocka_unit_test(test_enum_and_double__parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
