/* Restart strategy decisions (none, fixed-delay, exponential-delay). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint/restart.h"
#include "sluice/config.h"

static void test_restart__defaults_follow_flink(void **st)
{
	sluice__restart_settings s;

	(void)st;
	sluice__restart_settings_default(&s, 1);
	assert_int_equal(s.type, SLUICE_RESTART_EXPONENTIAL_DELAY);
	assert_int_equal(s.initial_backoff_ms, 1000);
	assert_int_equal(s.max_backoff_ms, 60000);
	assert_true(s.multiplier == 1.5);
	assert_int_equal(s.reset_threshold_ms, 3600000);
	assert_true(s.jitter == 0.1);
	assert_int_equal(s.exp_attempts, INT32_MAX);
	assert_int_equal(s.fixed_attempts, 1);
	assert_int_equal(s.fixed_delay_ms, 1000);
	sluice__restart_settings_default(&s, 0);
	assert_int_equal(s.type, SLUICE_RESTART_NONE);
}

static void test_restart__type_names(void **st)
{
	sluice__restart_type t;

	(void)st;
	assert_int_equal(sluice__restart_type_parse(&t, "fixed-delay"), 0);
	assert_int_equal(t, SLUICE_RESTART_FIXED_DELAY);
	assert_int_equal(sluice__restart_type_parse(&t, "FixedDelay"), 0);
	assert_int_equal(t, SLUICE_RESTART_FIXED_DELAY);
	assert_int_equal(
		sluice__restart_type_parse(&t, "exponential-delay"), 0);
	assert_int_equal(t, SLUICE_RESTART_EXPONENTIAL_DELAY);
	assert_int_equal(sluice__restart_type_parse(&t, "off"), 0);
	assert_int_equal(t, SLUICE_RESTART_NONE);
	assert_int_equal(
		sluice__restart_type_parse(&t, "forever"), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "'forever'"));
}

static void test_restart__none_never_restarts(void **st)
{
	sluice_manual_clock clock;
	sluice__restart_settings s;
	sluice__restart r;

	(void)st;
	sluice_manual_clock_init(&clock, 1000);
	sluice__restart_settings_default(&s, 0);
	assert_int_equal(sluice__restart_init(&r, &s, &clock.base, 1), 0);
	assert_int_equal(sluice__restart_notify_failure(&r), 1);
	assert_false(sluice__restart_can_restart(&r));
}

static void test_restart__fixed_delay_allows_the_configured_attempts(void **st)
{
	sluice_manual_clock clock;
	sluice__restart_settings s;
	sluice__restart r;
	int i;

	(void)st;
	sluice_manual_clock_init(&clock, 1000);
	sluice__restart_settings_default(&s, 1);
	s.type = SLUICE_RESTART_FIXED_DELAY;
	s.fixed_attempts = 3;
	s.fixed_delay_ms = 2500;
	assert_int_equal(sluice__restart_init(&r, &s, &clock.base, 1), 0);
	for (i = 0; i < 3; i++) {
		sluice__restart_notify_failure(&r);
		assert_true(sluice__restart_can_restart(&r));
		assert_int_equal(sluice__restart_backoff_ms(&r), 2500);
	}
	sluice__restart_notify_failure(&r);
	assert_false(sluice__restart_can_restart(&r));
	s.fixed_attempts = -1;
	assert_int_equal(
		sluice__restart_init(&r, &s, &clock.base, 1), SLUICE_EINVALID);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "restart-strategy.fixed-delay.attempts"));
}

static void test_restart__exponential_backoff_grows_and_caps(void **st)
{
	static const int64_t want[] = {1000, 1500, 2250,  3375,
				       5062, 7593, 10000, 10000};
	sluice_manual_clock clock;
	sluice__restart_settings s;
	sluice__restart r;
	size_t i;

	(void)st;
	sluice_manual_clock_init(&clock, 1000000);
	sluice__restart_settings_default(&s, 1);
	s.jitter = 0;
	s.max_backoff_ms = 10000;
	assert_int_equal(sluice__restart_init(&r, &s, &clock.base, 1), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(sluice__restart_notify_failure(&r), 1);
		assert_true(sluice__restart_can_restart(&r));
		assert_int_equal(sluice__restart_backoff_ms(&r), want[i]);
		sluice_manual_clock_advance(
			&clock, want[i] + 1); /* restarted */
	}
}

static void test_restart__exponential_merges_failures_before_restart(void **st)
{
	sluice_manual_clock clock;
	sluice__restart_settings s;
	sluice__restart r;

	(void)st;
	sluice_manual_clock_init(&clock, 1000000);
	sluice__restart_settings_default(&s, 1);
	s.jitter = 0;
	assert_int_equal(sluice__restart_init(&r, &s, &clock.base, 1), 0);
	assert_int_equal(sluice__restart_notify_failure(&r), 1);
	sluice_manual_clock_advance(&clock, 400);
	assert_int_equal(sluice__restart_notify_failure(&r), 0); /* merged */
	assert_int_equal(sluice__restart_backoff_ms(&r), 600);
	sluice_manual_clock_advance(&clock, 600);
	assert_int_equal(sluice__restart_notify_failure(&r), 0); /* at it */
	sluice_manual_clock_advance(&clock, 1);
	assert_int_equal(sluice__restart_notify_failure(&r), 1);
	assert_int_equal(sluice__restart_backoff_ms(&r), 1500);
}

static void test_restart__exponential_resets_after_quiet_threshold(void **st)
{
	sluice_manual_clock clock;
	sluice__restart_settings s;
	sluice__restart r;

	(void)st;
	sluice_manual_clock_init(&clock, 1000000);
	sluice__restart_settings_default(&s, 1);
	s.jitter = 0;
	s.reset_threshold_ms = 60000;
	assert_int_equal(sluice__restart_init(&r, &s, &clock.base, 1), 0);
	sluice__restart_notify_failure(&r);
	sluice_manual_clock_advance(&clock, 1001);
	sluice__restart_notify_failure(&r);
	assert_int_equal(sluice__restart_backoff_ms(&r), 1500);
	/* 60 s after the planned restart: back to the initial backoff */
	sluice_manual_clock_advance(&clock, 1500 + 60000);
	sluice__restart_notify_failure(&r);
	assert_int_equal(sluice__restart_backoff_ms(&r), 1000);
}

static void test_restart__exponential_attempt_limit(void **st)
{
	sluice_manual_clock clock;
	sluice__restart_settings s;
	sluice__restart r;
	int i;

	(void)st;
	sluice_manual_clock_init(&clock, 1000000);
	sluice__restart_settings_default(&s, 1);
	s.exp_attempts = 2;
	assert_int_equal(sluice__restart_init(&r, &s, &clock.base, 1), 0);
	for (i = 0; i < 2; i++) {
		sluice__restart_notify_failure(&r);
		assert_true(sluice__restart_can_restart(&r));
		sluice_manual_clock_advance(&clock, 100000);
	}
	sluice__restart_notify_failure(&r);
	assert_false(sluice__restart_can_restart(&r));
}

static void test_restart__jitter_is_bounded_and_seeded(void **st)
{
	sluice_manual_clock clock;
	sluice__restart_settings s;
	sluice__restart a, b;
	int i, differs = 0;

	(void)st;
	sluice_manual_clock_init(&clock, 1000000);
	sluice__restart_settings_default(&s, 1);
	s.jitter = 0.5;
	s.initial_backoff_ms = 1000;
	s.max_backoff_ms = 1000000;
	for (i = 0; i < 50; i++) {
		int64_t x, y;

		assert_int_equal(
			sluice__restart_init(&a, &s, &clock.base, i), 0);
		assert_int_equal(
			sluice__restart_init(&b, &s, &clock.base, i), 0);
		sluice__restart_notify_failure(&a);
		sluice__restart_notify_failure(&b);
		x = sluice__restart_backoff_ms(&a);
		y = sluice__restart_backoff_ms(&b);
		assert_int_equal(x, y); /* same seed, same jitter */
		assert_true(x >= 1000 && x <= 1500); /* clamped at initial */
		differs += x != 1000;
	}
	assert_true(differs > 0);
}

static void test_restart__invalid_exponential_settings(void **st)
{
	sluice_manual_clock clock;
	sluice__restart_settings s;
	sluice__restart r;

	(void)st;
	sluice_manual_clock_init(&clock, 0);
	sluice__restart_settings_default(&s, 1);
	s.multiplier = 1.0;
	assert_int_equal(
		sluice__restart_init(&r, &s, &clock.base, 1), SLUICE_EINVALID);
	assert_non_null(strstr(
		sluice_error_last()->message,
		"restart-strategy.exponential-delay.backoff-multiplier"));
	sluice__restart_settings_default(&s, 1);
	s.max_backoff_ms = 10;
	assert_int_equal(
		sluice__restart_init(&r, &s, &clock.base, 1), SLUICE_EINVALID);
	sluice__restart_settings_default(&s, 1);
	s.jitter = 1.5;
	assert_int_equal(
		sluice__restart_init(&r, &s, &clock.base, 1), SLUICE_EINVALID);
}

static void test_restart__failure_rate_window(void **st)
{
	sluice_manual_clock clock;
	sluice__restart_settings s;
	sluice__restart r;

	(void)st;
	sluice_manual_clock_init(&clock, 1000000);
	sluice__restart_settings_default(&s, 1);
	s.type = SLUICE_RESTART_FAILURE_RATE;
	s.rate_max_failures = 2;
	s.rate_interval_ms = 10000;
	s.rate_delay_ms = 300;
	assert_int_equal(sluice__restart_init(&r, &s, &clock.base, 1), 0);
	sluice__restart_notify_failure(&r);
	assert_true(sluice__restart_can_restart(&r));
	assert_int_equal(sluice__restart_backoff_ms(&r), 300);
	sluice_manual_clock_advance(&clock, 4000);
	sluice__restart_notify_failure(&r); /* 2 failures within 10 s */
	assert_false(sluice__restart_can_restart(&r));
	sluice_manual_clock_advance(&clock, 6000);
	assert_false(sluice__restart_can_restart(&r)); /* exactly 10 s */
	sluice_manual_clock_advance(&clock, 1);
	assert_true(sluice__restart_can_restart(&r));
	sluice__restart_notify_failure(&r); /* failures at +4000, +10001 */
	assert_false(sluice__restart_can_restart(&r));
	sluice__restart_release(&r);
	s.rate_max_failures = 0;
	assert_int_equal(
		sluice__restart_init(&r, &s, &clock.base, 1), SLUICE_EINVALID);
}

static void test_restart__settings_from_configuration(void **st)
{
	sluice__restart_settings s;
	sluice_config *conf;

	(void)st;
	assert_int_equal(sluice_config_new(&conf), 0);
	assert_int_equal(sluice__restart_settings_from_config(&s, conf, 1), 0);
	assert_int_equal(s.type, SLUICE_RESTART_EXPONENTIAL_DELAY);
	assert_int_equal(s.max_backoff_ms, 60000);
	assert_int_equal(sluice__restart_settings_from_config(&s, conf, 0), 0);
	assert_int_equal(s.type, SLUICE_RESTART_NONE);
	assert_int_equal(
		sluice_config_set(
			conf, "restart-strategy.type", "fixeddelay",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf, "restart-strategy.fixed-delay.attempts", "4",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf, "restart-strategy.fixed-delay.delay", "10 s",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(sluice__restart_settings_from_config(&s, conf, 1), 0);
	assert_int_equal(s.type, SLUICE_RESTART_FIXED_DELAY);
	assert_int_equal(s.fixed_attempts, 4);
	assert_int_equal(s.fixed_delay_ms, 10000);
	assert_int_equal(
		sluice_config_set(
			conf,
			"restart-strategy.exponential-delay.jitter-factor",
			"banana", SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice__restart_settings_from_config(&s, conf, 1),
		SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "banana"));
	sluice_config_free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart__defaults_follow_flink),
		cmocka_unit_test(test_restart__type_names),
		cmocka_unit_test(test_restart__none_never_restarts),
		cmocka_unit_test(
			test_restart__fixed_delay_allows_the_configured_attempts),
		cmocka_unit_test(
			test_restart__exponential_backoff_grows_and_caps),
		cmocka_unit_test(
			test_restart__exponential_merges_failures_before_restart),
		cmocka_unit_test(
			test_restart__exponential_resets_after_quiet_threshold),
		cmocka_unit_test(test_restart__exponential_attempt_limit),
		cmocka_unit_test(test_restart__jitter_is_bounded_and_seeded),
		cmocka_unit_test(test_restart__invalid_exponential_settings),
		cmocka_unit_test(test_restart__failure_rate_window),
		cmocka_unit_test(test_restart__settings_from_configuration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
