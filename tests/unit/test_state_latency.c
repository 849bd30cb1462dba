/*
 * Latency tracking (spec §9): sampling of access #1, #1+N, ... per state
 * and operation, the sliding window of history-size samples, statistics,
 * Flink's metric names and the scope naming; nothing when disabled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/state.h"

static sluice_slice S(const char *s)
{
	return SLUICE_SLICE(s, strlen(s));
}

/* A clock whose monotonic time advances 10 ns * call number per read. */
typedef struct tick_clock {
	sluice_clock base;
	int64_t mono;
	int64_t step;
} tick_clock;

static int64_t tick_wall(sluice_clock *c)
{
	(void)c;
	return 1000;
}

static int64_t tick_mono(sluice_clock *c)
{
	tick_clock *t = (tick_clock *)c;

	t->mono += t->step;
	t->step += 10;
	return t->mono;
}

static tick_clock tc;

static sluice_keyed_backend *
new_kb(int enabled, int interval, int history, int as_var)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb;

	memset(&tc, 0, sizeof(tc));
	tc.base.version = SLUICE_CLOCK_VERSION;
	tc.base.wall_ms = tick_wall;
	tc.base.mono_ns = tick_mono;
	sluice_keyed_options_init(&o);
	o.clock = &tc.base;
	o.latency_enabled = enabled;
	o.latency_interval = interval;
	o.latency_history = history;
	o.latency_name_as_variable = as_var;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), 0);
	assert_int_equal(sluice_keyed_backend_set_key(kb, S("k")), 0);
	return kb;
}

static void test_latency__samples_first_and_every_nth_access(void **state)
{
	sluice_keyed_backend *kb = new_kb(1, 10, 128, 1);
	sluice_state_desc d = {.name = "v", .kind = SLUICE_STATE_VALUE};
	sluice_state *st;
	sluice_latency_stats s;
	sluice_slice v;
	int i;

	(void)state;
	assert_int_equal(sluice_keyed_backend_state(&st, kb, &d), 0);
	assert_int_equal(
		sluice_state_latency(st, "valueStateGetLatency", &s),
		SLUICE_ENOTFOUND); /* nothing sampled yet */
	for (i = 0; i < 25; i++)
		sluice_value_get(st, &v); /* accesses 1, 11, 21 sampled */
	assert_int_equal(sluice_value_update(st, S("x")), 0);
	assert_int_equal(
		sluice_state_latency(st, "valueStateGetLatency", &s), 0);
	assert_int_equal(s.count, 3);
	assert_true(s.min > 0 && s.min <= s.p50 && s.p50 <= s.max);
	assert_int_equal(
		sluice_state_latency(st, "valueStateUpdateLatency", &s), 0);
	assert_int_equal(s.count, 1); /* own counter per operation */
	assert_int_equal(
		sluice_state_latency(st, "listStateGetLatency", &s),
		SLUICE_ENOTFOUND);
	sluice_keyed_backend_free(kb);
}

static void test_latency__interval_one_samples_every_access(void **state)
{
	sluice_keyed_backend *kb = new_kb(1, 1, 128, 1);
	sluice_state_desc d = {.name = "m", .kind = SLUICE_STATE_MAP};
	sluice_state *st;
	sluice_latency_stats s;
	int i;

	(void)state;
	assert_int_equal(sluice_keyed_backend_state(&st, kb, &d), 0);
	for (i = 0; i < 7; i++)
		assert_int_equal(sluice_map_put(st, S("a"), S("b")), 0);
	assert_int_equal(sluice_map_contains(st, S("a")), 1);
	assert_int_equal(sluice_state_latency(st, "mapStatePutLatency", &s), 0);
	assert_int_equal(s.count, 7);
	assert_int_equal(
		sluice_state_latency(st, "mapStateContainsLatency", &s), 0);
	assert_int_equal(s.count, 1);
	sluice_keyed_backend_free(kb);
}

static void test_latency__window_keeps_last_history_size_samples(void **state)
{
	sluice_keyed_backend *kb = new_kb(1, 1, 4, 1);
	sluice_state_desc d = {.name = "l", .kind = SLUICE_STATE_LIST};
	sluice_state *st;
	sluice_latency_stats s, first;
	int i;

	(void)state;
	assert_int_equal(sluice_keyed_backend_state(&st, kb, &d), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(sluice_list_add(st, S("e")), 0);
	assert_int_equal(
		sluice_state_latency(st, "listStateAddLatency", &first), 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(sluice_list_add(st, S("e")), 0);
	assert_int_equal(
		sluice_state_latency(st, "listStateAddLatency", &s), 0);
	assert_int_equal(s.count, 4);
	/* the clock's steps grow, so later samples are larger: the early
	 * ones have left the window */
	assert_true(s.min > first.max);
	assert_true(s.mean >= (double)s.min && s.mean <= (double)s.max);
	assert_true(s.p99 <= s.max && s.p999 <= s.max && s.p95 >= s.p50);
	sluice_keyed_backend_free(kb);
}

typedef struct names {
	int n;
	char scope[64];
	char metric[64];
} names;

static int
name_cb(void *ctx,
	const char *scope,
	const char *metric,
	const sluice_latency_stats *s)
{
	names *nm = ctx;

	(void)s;
	nm->n++;
	snprintf(nm->scope, sizeof(nm->scope), "%s", scope);
	snprintf(nm->metric, sizeof(nm->metric), "%s", metric);
	return 0;
}

static void
test_latency__metric_scope_follows_state_name_as_variable(void **state)
{
	int as_var;

	(void)state;
	for (as_var = 0; as_var <= 1; as_var++) {
		sluice_keyed_backend *kb = new_kb(1, 1, 8, as_var);
		sluice_state_desc d = {
			.name = "counts", .kind = SLUICE_STATE_VALUE};
		sluice_state *st;
		names nm = {0, "", ""};

		assert_int_equal(sluice_keyed_backend_state(&st, kb, &d), 0);
		assert_int_equal(sluice_state_clear(st), 0);
		assert_int_equal(
			sluice_keyed_backend_latency_foreach(kb, name_cb, &nm),
			0);
		assert_int_equal(nm.n, 1);
		assert_string_equal(nm.metric, "stateClearLatency");
		assert_string_equal(
			nm.scope, as_var ? "state_name=counts" : "counts");
		sluice_keyed_backend_free(kb);
	}
}

static void test_latency__disabled_reads_no_clock(void **state)
{
	sluice_keyed_backend *kb = new_kb(0, 1, 8, 1);
	sluice_state_desc d = {.name = "v", .kind = SLUICE_STATE_VALUE};
	sluice_state *st;
	sluice_latency_stats s;
	names nm = {0, "", ""};
	int i;

	(void)state;
	assert_int_equal(sluice_keyed_backend_state(&st, kb, &d), 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(sluice_value_update(st, S("x")), 0);
	assert_int_equal(tc.mono, 0); /* monotonic clock never read */
	assert_int_equal(
		sluice_state_latency(st, "valueStateUpdateLatency", &s),
		SLUICE_ENOTFOUND);
	assert_int_equal(
		sluice_keyed_backend_latency_foreach(kb, name_cb, &nm), 0);
	assert_int_equal(nm.n, 0);
	sluice_keyed_backend_free(kb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_latency__samples_first_and_every_nth_access),
		cmocka_unit_test(
			test_latency__interval_one_samples_every_access),
		cmocka_unit_test(
			test_latency__window_keeps_last_history_size_samples),
		cmocka_unit_test(
			test_latency__metric_scope_follows_state_name_as_variable),
		cmocka_unit_test(test_latency__disabled_reads_no_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
