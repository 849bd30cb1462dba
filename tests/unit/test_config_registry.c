/*
 * The option registry, key by key: names and aliases unique, every default
 * parses with its own type and lies within its bounds, bounds are enforced
 * by validation, garbage is rejected for every typed key, and every key of
 * the seed note is present with its advice.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "helper_config.h"
#include "config/internal.h"
#include "sluice/common.h"

/* Read `key` through the getter of its type; returns the getter's code. */
static int get_typed(const sluice_config *c, const sluice_option *opt)
{
	const char *s;
	uint64_t u;
	int64_t l;
	int32_t i;
	double d;
	int b;

	switch (opt->type) {
	case SLUICE_OPT_BOOL:
		return sluice_config_get_bool(c, opt->key, &b);
	case SLUICE_OPT_INT:
		return sluice_config_get_int(c, opt->key, &i);
	case SLUICE_OPT_LONG:
		return sluice_config_get_long(c, opt->key, &l);
	case SLUICE_OPT_DURATION:
		return sluice_config_get_duration(c, opt->key, &l);
	case SLUICE_OPT_MEMORY:
		return sluice_config_get_memory(c, opt->key, &u);
	case SLUICE_OPT_ENUM:
		return sluice_config_get_enum(c, opt->key, &b);
	case SLUICE_OPT_ENUM_LIST: {
		int list[SLUICE_CONFIG_LIST_MAX];
		size_t n;

		return sluice_config_get_enum_list(c, opt->key, list, &n);
	}
	case SLUICE_OPT_DOUBLE:
		return sluice_config_get_double(c, opt->key, &d);
	case SLUICE_OPT_STRING:
	case SLUICE_OPT_URI:
		return sluice_config_get_string(c, opt->key, &s);
	}
	return -1;
}

static void test_registry__keys_and_aliases_are_unique(void **state)
{
	const sluice_option *a, *b;
	size_t i, j, k, l;

	(void)state;
	assert_true(sluice_option_count() > 60);
	assert_null(sluice_option_at(sluice_option_count()));
	for (i = 0; i < sluice_option_count(); i++) {
		a = sluice_option_at(i);
		assert_ptr_equal(sluice_option_find(a->key, NULL), a);
		for (j = i + 1; j < sluice_option_count(); j++) {
			b = sluice_option_at(j);
			assert_string_not_equal(a->key, b->key);
			for (l = 0; b->aliases && b->aliases[l]; l++)
				assert_string_not_equal(a->key, b->aliases[l]);
			for (k = 0; a->aliases && a->aliases[k]; k++) {
				assert_string_not_equal(a->aliases[k], b->key);
				/* Flink maps this one old key to two. */
				if (!strcmp(a->aliases[k],
					    "state.backend.local-recovery"))
					continue;
				for (l = 0; b->aliases && b->aliases[l]; l++)
					assert_string_not_equal(
						a->aliases[k], b->aliases[l]);
			}
		}
	}
}

static void test_registry__every_option_is_documented(void **state)
{
	const sluice_option *o;
	size_t i, j, k;

	(void)state;
	for (i = 0; i < sluice_option_count(); i++) {
		o = sluice_option_at(i);
		assert_non_null(o->description);
		assert_true(strlen(o->description) > 10);
		/* [0, 0] bounds would be a forgotten "no bounds" marker */
		assert_false(o->min == 0 && o->max == 0);
		assert_string_not_equal(sluice_option_type_name(o->type), "?");
		if (o->type == SLUICE_OPT_ENUM ||
		    o->type == SLUICE_OPT_ENUM_LIST) {
			assert_non_null(o->enum_values);
			assert_non_null(o->enum_values[0]);
		} else {
			assert_null(o->enum_values);
		}
		for (j = 0; o->enum_synonyms && o->enum_synonyms[j]; j += 2) {
			assert_non_null(o->enum_synonyms[j + 1]);
			for (k = 0; o->enum_values[k]; k++)
				if (!strcmp(o->enum_values[k],
					    o->enum_synonyms[j + 1]))
					break;
			assert_non_null(o->enum_values[k]);
		}
	}
}

static void test_registry__every_default_parses_within_bounds(void **state)
{
	const sluice_option *o;
	sluice_config *c;
	size_t i;
	int rc;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	for (i = 0; i < sluice_option_count(); i++) {
		o = sluice_option_at(i);
		rc = get_typed(c, o);
		if (o->default_value && rc != 0)
			fail_msg(
				"default of %s: %s", o->key,
				sluice_error_last()->message);
		if (!o->default_value && o->type != SLUICE_OPT_STRING &&
		    o->type != SLUICE_OPT_URI)
			assert_int_equal(rc, SLUICE_ENOTFOUND);
	}
	/* Every default set explicitly passes validation. */
	for (i = 0; i < sluice_option_count(); i++) {
		o = sluice_option_at(i);
		if (o->default_value)
			assert_int_equal(
				sluice_config_set(
					c, o->key, o->default_value,
					SLUICE_CONFIG_FILE),
				0);
	}
	if (sluice_config_validate(c) != 0)
		fail_msg("defaults invalid: %s", sluice_config_problem(c, 0));
	sluice_config_free(c);
}

/* Text of `v` in `o`'s syntax (durations in ms, memory in bytes). */
static void fmt_value(const sluice_option *o, int64_t v, char *buf, size_t n)
{
	(void)o;
	snprintf(buf, n, "%" PRId64, v);
}

static void expect_problem(const sluice_option *o, int64_t v, int want)
{
	char text[32];
	sluice_config *c;

	fmt_value(o, v, text, sizeof(text));
	assert_int_equal(sluice_config_new(&c), 0);
	/* keep max-backoff >= initial-backoff out of the way */
	sluice_config_set(
		c, "restart-strategy.exponential-delay.initial-backoff", "1",
		SLUICE_CONFIG_FILE);
	assert_int_equal(
		sluice_config_set(c, o->key, text, SLUICE_CONFIG_FILE), 0);
	sluice_config_validate(c);
	if (want && find_problem(c, o->key) < 0)
		fail_msg(
			"%s = %s accepted, bounds %" PRId64 "..%" PRId64,
			o->key, text, o->min, o->max);
	if (!want && find_problem(c, o->key) >= 0)
		fail_msg(
			"%s = %s rejected: %s", o->key, text,
			sluice_config_problem(c, 0));
	sluice_config_free(c);
}

static void test_registry__bounds_are_enforced(void **state)
{
	const sluice_option *o;
	int64_t tmax;
	size_t i, checked = 0;

	(void)state;
	for (i = 0; i < sluice_option_count(); i++) {
		o = sluice_option_at(i);
		if (o->min > o->max || o->type == SLUICE_OPT_ENUM)
			continue;
		tmax = o->type == SLUICE_OPT_INT ? INT32_MAX : INT64_MAX;
		expect_problem(o, o->min, 0);
		if (o->min >
		    (o->type == SLUICE_OPT_INT ? INT32_MIN : INT64_MIN))
			expect_problem(o, o->min - 1, 1);
		if (o->max < tmax) {
			expect_problem(o, o->max, 0);
			expect_problem(o, o->max + 1, 1);
		}
		checked++;
	}
	assert_true(checked > 30);
}

static void test_registry__garbage_rejected_for_typed_keys(void **state)
{
	const sluice_option *o;
	sluice_config *c;
	size_t i;
	char want[256];

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	for (i = 0; i < sluice_option_count(); i++) {
		o = sluice_option_at(i);
		if (o->type == SLUICE_OPT_STRING || o->type == SLUICE_OPT_URI)
			continue;
		sluice_config_set(c, o->key, "banana", SLUICE_CONFIG_FILE);
	}
	assert_int_equal(sluice_config_validate(c), SLUICE_EINVALID);
	for (i = 0; i < sluice_option_count(); i++) {
		o = sluice_option_at(i);
		if (o->type == SLUICE_OPT_STRING || o->type == SLUICE_OPT_URI)
			continue;
		snprintf(
			want, sizeof(want),
			"Could not parse value 'banana' for key '%s'.", o->key);
		if (find_problem(c, want) < 0)
			fail_msg("no problem for %s", o->key);
		assert_int_equal(get_typed(c, o), SLUICE_EINVALID);
		assert_contains(sluice_error_last()->message, want);
	}
	sluice_config_free(c);
}

static void test_registry__seed_keys_present(void **state)
{
	static const char *const seed[] = {
		"state.backend",
		"state.backend.latency-track.keyed-state-enabled",
		"state.backend.latency-track.sample-interval",
		"state.backend.latency-track.history-size",
		"table.exec.state.ttl",
		"execution.checkpointing.interval",
		"execution.checkpointing.mode",
		"state.backend.incremental",
		"execution.checkpointing.timeout",
		"execution.checkpointing.unaligned.enabled",
		"execution.checkpointing.unaligned.forced",
		"execution.checkpointing.max-concurrent-checkpoints",
		"execution.checkpointing.min-pause",
		"execution.checkpointing.tolerable-failed-checkpoints",
		"execution.checkpointing.aligned-checkpoint-timeout",
		"execution.checkpointing.alignment-timeout",
		"execution.checkpointing.force",
		"state.checkpoints.num-retained",
		"state.backend.async",
		"state.savepoints.dir",
		"state.checkpoints.dir",
		"state.storage.fs.memory-threshold",
		"state.storage.fs.write-buffer-size",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(seed) / sizeof(seed[0]); i++)
		if (!sluice_option_find(seed[i], NULL))
			fail_msg("seed key %s missing", seed[i]);
}

static void test_registry__seed_defaults_and_advice(void **state)
{
	sluice_config *c;
	int64_t ms;
	uint64_t b;
	int32_t i;
	int via;
	const sluice_option *o;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		sluice_config_get_duration(
			c, "execution.checkpointing.timeout", &ms),
		0);
	assert_int_equal(ms, 600000);
	assert_int_equal(
		sluice_config_get_memory(
			c, "state.storage.fs.memory-threshold", &b),
		0);
	assert_int_equal(b, 20480);
	assert_int_equal(
		sluice_config_get_int(
			c, "state.storage.fs.write-buffer-size", &i),
		0);
	assert_int_equal(i, 4096);
	assert_int_equal(
		sluice_config_get_int(
			c, "state.latency-track.sample-interval", &i),
		0);
	assert_int_equal(i, 100);
	o = sluice_option_find("state.backend", &via);
	assert_int_equal(via, 1);
	assert_string_equal(o->key, "state.backend.type");
	assert_string_equal(o->default_value, "hashmap");
	assert_contains(o->advice, "rocksdb");
	assert_contains(
		sluice_option_find("execution.checkpointing.interval", NULL)
			->advice,
		"1-10 min");
	assert_contains(
		sluice_option_find("execution.checkpointing.timeout", NULL)
			->advice,
		"30 min");
	assert_contains(
		sluice_option_find("state.backend.incremental", NULL)->advice,
		"on");
	assert_contains(
		sluice_option_find("execution.checkpointing.unaligned", NULL)
			->advice,
		"off");
	assert_contains(
		sluice_option_find(
			"state.backend.latency-track.keyed-state-enabled", NULL)
			->advice,
		"off");
	o = sluice_option_find("state.backend.async", NULL);
	assert_true(o->flags & SLUICE_OPTF_NOOP);
	o = sluice_option_find("execution.checkpointing.force", NULL);
	assert_true(o->flags & SLUICE_OPTF_DEPRECATED);
	assert_true(
		sluice_option_find("s3.secret-key", NULL)->flags &
		SLUICE_OPTF_SECRET);
	sluice_config_free(c);
}

static void test_registry__closest_key_suggests_typos(void **state)
{
	(void)state;
	assert_string_equal(
		sluice_option_closest("execution.checkpointing.intervall"),
		"execution.checkpointing.interval");
	assert_string_equal(
		sluice_option_closest("state.backend.incremntal"),
		"state.backend.incremental");
	assert_null(sluice_option_closest("jobmanager.rpc.address"));
	assert_null(sluice_option_closest(""));
}

static void test_registry__edit_distance(void **state)
{
	(void)state;
	assert_int_equal(sluice__edit_distance("kitten", "sitting", 10), 3);
	assert_int_equal(
		sluice__edit_distance("State.Backend", "state.backend", 10), 0);
	assert_int_equal(sluice__edit_distance("", "abc", 10), 3);
	assert_true(sluice__edit_distance("aaaaaaaa", "bbbbbbbb", 2) > 2);
}

static void test_registry__sensitive_keys(void **state)
{
	(void)state;
	assert_true(sluice_config_is_sensitive("s3.secret-key"));
	assert_true(sluice_config_is_sensitive("fs.obs.secret.key"));
	assert_true(sluice_config_is_sensitive("s3.secret.key"));
	assert_true(sluice_config_is_sensitive("my.db.Password"));
	assert_true(sluice_config_is_sensitive("some.auth.token"));
	assert_false(sluice_config_is_sensitive("s3.access-key"));
	assert_false(sluice_config_is_sensitive("execution.checkpointing.dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry__keys_and_aliases_are_unique),
		cmocka_unit_test(test_registry__every_option_is_documented),
		cmocka_unit_test(
			test_registry__every_default_parses_within_bounds),
		cmocka_unit_test(test_registry__bounds_are_enforced),
		cmocka_unit_test(
			test_registry__garbage_rejected_for_typed_keys),
		cmocka_unit_test(test_registry__seed_keys_present),
		cmocka_unit_test(test_registry__seed_defaults_and_advice),
		cmocka_unit_test(test_registry__closest_key_suggests_typos),
		cmocka_unit_test(test_registry__edit_distance),
		cmocka_unit_test(test_registry__sensitive_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
