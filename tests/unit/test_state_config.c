/* Keyed backend options from Flink configuration keys (spec §3.5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/config.h"
#include "sluice/state.h"

static void set(sluice_config *c, const char *arg)
{
	assert_int_equal(sluice_config_set_arg(c, arg), 0);
}

static void test_state_config__defaults(void **state)
{
	sluice_config *c;
	sluice_keyed_options o;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	sluice_keyed_options_init(&o);
	assert_int_equal(sluice_keyed_options_from_config(&o, c), 0);
	assert_string_equal(o.backend, "hashmap");
	assert_int_equal(o.default_ttl_ms, 0);
	assert_int_equal(o.latency_enabled, 0);
	assert_int_equal(o.latency_interval, 100);
	assert_int_equal(o.latency_history, 128);
	assert_int_equal(o.latency_name_as_variable, 1);
	assert_int_equal(o.compression, SLUICE_CODEC_NONE);
	sluice_config_free(c);
}

static void test_state_config__keys_and_aliases_apply(void **state)
{
	sluice_config *c;
	sluice_keyed_options o;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	set(c, "table.exec.state.ttl=90 s");
	set(c, "state.backend.latency-track.keyed-state-enabled=true");
	set(c, "state.latency-track.sample-interval=1");
	set(c, "state.latency-track.history-size=16");
	set(c, "state.latency-track.state-name-as-variable=false");
	set(c, "execution.checkpointing.snapshot-compression=true");
	set(c, "sluice.snapshot-compression.codec=lz4");
	sluice_keyed_options_init(&o);
	assert_int_equal(sluice_keyed_options_from_config(&o, c), 0);
	assert_int_equal(o.default_ttl_ms, 90000);
	assert_int_equal(o.latency_enabled, 1);
	assert_int_equal(o.latency_interval, 1);
	assert_int_equal(o.latency_history, 16);
	assert_int_equal(o.latency_name_as_variable, 0);
	assert_int_equal(o.compression, SLUICE_CODEC_LZ4);
	set(c, "sluice.snapshot-compression.codec=zstd");
	assert_int_equal(sluice_keyed_options_from_config(&o, c), 0);
	assert_int_equal(o.compression, SLUICE_CODEC_ZSTD);
	sluice_config_free(c);
}

static void test_state_config__bad_values_are_rejected(void **state)
{
	sluice_config *c;
	sluice_keyed_options o;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	set(c, "state.latency-track.keyed-state-enabled=true");
	set(c, "state.latency-track.sample-interval=0");
	sluice_keyed_options_init(&o);
	assert_int_equal(
		sluice_keyed_options_from_config(&o, c), SLUICE_EINVALID);
	assert_non_null(
		strstr(sluice_error_last()->message, "sample-interval"));
	sluice_config_free(c);
	assert_int_equal(sluice_config_new(&c), 0);
	set(c, "table.exec.state.ttl=banana");
	assert_int_equal(
		sluice_keyed_options_from_config(&o, c), SLUICE_EINVALID);
	sluice_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_config__defaults),
		cmocka_unit_test(test_state_config__keys_and_aliases_apply),
		cmocka_unit_test(test_state_config__bad_values_are_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
