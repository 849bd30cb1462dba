/* Key-group formulas and bounds (spec §7.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/state.h"

static void test_keygroup__default_max_parallelism_follows_flink(void **state)
{
	(void)state;
	assert_int_equal(sluice_keygroup_default_max_parallelism(1), 128);
	assert_int_equal(sluice_keygroup_default_max_parallelism(85), 128);
	assert_int_equal(sluice_keygroup_default_max_parallelism(86), 256);
	assert_int_equal(sluice_keygroup_default_max_parallelism(100), 256);
	assert_int_equal(sluice_keygroup_default_max_parallelism(1000), 2048);
	assert_int_equal(sluice_keygroup_default_max_parallelism(30000), 32768);
	assert_int_equal(sluice_keygroup_default_max_parallelism(32768), 32768);
}

static void test_keygroup__bounds_errors_use_flink_messages(void **state)
{
	(void)state;
	assert_int_equal(sluice_keygroup_check(128, 0), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"Operator parallelism not within bounds: 0");
	assert_int_equal(sluice_keygroup_check(128, 32769), SLUICE_EINVALID);
	assert_int_equal(sluice_keygroup_check(4, 8), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"Maximum parallelism must not be smaller than "
		"parallelism.");
	assert_int_equal(sluice_keygroup_check(32769, 8), SLUICE_EINVALID);
	assert_int_equal(sluice_keygroup_check(128, 128), 0);
}

static void
test_keygroup__ranges_partition_and_match_operator_index(void **state)
{
	int32_t maxps[] = {128, 129, 1000, 32768}, ps[] = {1, 2, 3, 7, 100};
	size_t a, b;

	(void)state;
	for (a = 0; a < 4; a++)
		for (b = 0; b < 5; b++) {
			int32_t maxp = maxps[a], p = ps[b], i, next = 0;

			for (i = 0; i < p; i++) {
				int32_t lo, hi, kg;

				assert_int_equal(
					sluice_keygroup_range(
						&lo, &hi, maxp, p, i),
					0);
				assert_int_equal(lo, next);
				for (kg = lo; kg <= hi; kg++)
					assert_int_equal(
						sluice_keygroup_operator_index(
							kg, maxp, p),
						i);
				next = hi + 1;
			}
			assert_int_equal(next, maxp);
		}
}

static void test_keygroup__range_examples(void **state)
{
	int32_t lo, hi;

	(void)state;
	assert_int_equal(sluice_keygroup_range(&lo, &hi, 128, 3, 0), 0);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 42);
	assert_int_equal(sluice_keygroup_range(&lo, &hi, 128, 3, 1), 0);
	assert_int_equal(lo, 43);
	assert_int_equal(hi, 85);
	assert_int_equal(sluice_keygroup_range(&lo, &hi, 128, 3, 2), 0);
	assert_int_equal(lo, 86);
	assert_int_equal(hi, 127);
	assert_int_equal(
		sluice_keygroup_range(&lo, &hi, 128, 3, 3), SLUICE_EINVALID);
}

static void test_keygroup__key_group_is_stable_and_in_range(void **state)
{
	char key[16];
	int i, hist[128] = {0};

	(void)state;
	for (i = 0; i < 12800; i++) {
		int32_t kg;

		snprintf(key, sizeof(key), "k%d", i);
		kg = sluice_keygroup_of(SLUICE_SLICE(key, strlen(key)), 128);
		assert_in_range(kg, 0, 127);
		assert_int_equal(
			kg, sluice_keygroup_of(
				    SLUICE_SLICE(key, strlen(key)), 128));
		hist[kg]++;
	}
	for (i = 0; i < 128; i++) /* roughly uniform: 100 each */
		assert_in_range(hist[i], 50, 150);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_keygroup__default_max_parallelism_follows_flink),
		cmocka_unit_test(
			test_keygroup__bounds_errors_use_flink_messages),
		cmocka_unit_test(
			test_keygroup__ranges_partition_and_match_operator_index),
		cmocka_unit_test(test_keygroup__range_examples),
		cmocka_unit_test(
			test_keygroup__key_group_is_stable_and_in_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
