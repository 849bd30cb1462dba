/*
 * YAML loading: flat and nested keys (and both mixed) give the same
 * configuration; empty input is fine; null values are skipped; malformed
 * YAML, lists, aliases, non-map documents and extra documents fail with
 * file:line:column; a failed load changes nothing; files are read and a
 * missing file is named.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "helper_config.h"
#include "sluice/common.h"

static int load(sluice_config *c, const char *yaml)
{
	return sluice_config_load_string(
		c, yaml, strlen(yaml), "t.yaml", SLUICE_CONFIG_FILE);
}

static void check_loaded(const sluice_config *c)
{
	const char *raw, *alias;
	sluice_config_source src;
	int64_t ms;
	int e;

	assert_int_equal(
		sluice_config_get_duration(
			c, "execution.checkpointing.interval", &ms),
		0);
	assert_int_equal(ms, 10000);
	assert_int_equal(
		sluice_config_get_enum(c, "state.backend.type", &e), 0);
	assert_int_equal(e, 1);
	assert_int_equal(
		sluice_config_lookup(
			c, "execution.checkpointing.timeout", &raw, &src,
			&alias),
		0);
	assert_string_equal(raw, "30 min");
	assert_int_equal(src, SLUICE_CONFIG_FILE);
}

static void test_yaml__flat_nested_and_mixed_agree(void **state)
{
	static const char *const docs[] = {
		"execution.checkpointing.interval: 10 s\n"
		"execution.checkpointing.timeout: 30 min\n"
		"state.backend.type: rocksdb\n",
		"execution:\n"
		"  checkpointing:\n"
		"    interval: 10 s\n"
		"    timeout: '30 min'\n"
		"state:\n"
		"  backend:\n"
		"    type: rocksdb\n",
		"execution.checkpointing:\n"
		"  interval: 10 s\n"
		"  timeout: \"30 min\"\n"
		"state: {backend.type: rocksdb}\n",
	};
	sluice_config *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		assert_int_equal(sluice_config_new(&c), 0);
		if (load(c, docs[i]) != 0)
			fail_msg(
				"doc %zu: %s", i, sluice_error_last()->message);
		check_loaded(c);
		assert_int_equal(sluice_config_entry_count(c), 3);
		sluice_config_free(c);
	}
}

static void test_yaml__empty_input_and_nulls(void **state)
{
	static const char *const docs[] = {
		"", "# only a comment\n", "~\n", "---\n", "a.b:\nc.d: ~\n",
	};
	sluice_config *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		assert_int_equal(sluice_config_new(&c), 0);
		if (load(c, docs[i]) != 0)
			fail_msg(
				"doc %zu: %s", i, sluice_error_last()->message);
		assert_int_equal(sluice_config_entry_count(c), 0);
		sluice_config_free(c);
	}
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		sluice_config_load_string(c, NULL, 0, NULL, SLUICE_CONFIG_FILE),
		0);
	sluice_config_free(c);
}

static void expect_error(const char *yaml, const char *message)
{
	sluice_config *c;

	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(load(c, yaml), SLUICE_EINVALID);
	assert_contains(sluice_error_last()->message, message);
	assert_int_equal(sluice_config_entry_count(c), 0);
	sluice_config_free(c);
}

static void test_yaml__errors_name_file_line_column(void **state)
{
	(void)state;
	expect_error(
		"a: 1\nb: c: d\n",
		"t.yaml:2:5: malformed YAML: mapping values are not allowed");
	expect_error("a: \"open\n", "t.yaml:2:1: malformed YAML:");
	expect_error("\t- x", "t.yaml:1:1: malformed YAML");
	expect_error(
		"a: 1\nb:\n  - 1\n",
		"t.yaml:3:3: key 'b': lists are not supported");
	expect_error("a: [1, 2]\n", "t.yaml:1:4: key 'a': lists are not");
	expect_error(
		"x: &A 1\ny: *A\n",
		"t.yaml:2:4: key 'y': YAML aliases (*name) are not supported");
	expect_error(
		"hello\n",
		"t.yaml:1:1: the top level must be a map of keys to values");
	expect_error("- a\n", "t.yaml:1:1: the top level must be a map");
	expect_error(
		"a: 1\n---\nb: 2\n", "t.yaml:2:1: more than one YAML "
				     "document");
	expect_error("? [a]\n: 1\n", "t.yaml:1:3: map keys must be plain");
}

static void test_yaml__deep_nesting_is_refused(void **state)
{
	char yaml[4096];
	size_t off = 0;
	int i;

	(void)state;
	for (i = 0; i < 40; i++)
		off += (size_t)snprintf(
			yaml + off, sizeof(yaml) - off, "%*sk%d:\n", i, "", i);
	snprintf(yaml + off, sizeof(yaml) - off, "%*sv: 1\n", i, "");
	expect_error(yaml, "maps nested too deeply");
}

static void test_yaml__duplicate_key_warns_last_wins(void **state)
{
	sluice_config *c;
	const char *s;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		load(c, "s3.endpoint: http://a\n"
			"s3:\n  endpoint: http://b\n"),
		0);
	assert_int_equal(sluice_config_get_string(c, "s3.endpoint", &s), 0);
	assert_string_equal(s, "http://b");
	assert_true(
		find_warning(
			c, "t.yaml:3:13: key 's3.endpoint' is given "
			   "more than once; the last value wins") >= 0);
	sluice_config_free(c);
}

static void test_yaml__failed_load_changes_nothing(void **state)
{
	sluice_config *c;
	const char *s;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(load(c, "s3.endpoint: http://a\n"), 0);
	assert_int_equal(
		load(c, "s3.endpoint: http://b\nx: [\n"), SLUICE_EINVALID);
	assert_int_equal(sluice_config_get_string(c, "s3.endpoint", &s), 0);
	assert_string_equal(s, "http://a");
	assert_int_equal(sluice_config_entry_count(c), 1);
	sluice_config_free(c);
}

static void test_yaml__quoted_values_kept_verbatim(void **state)
{
	sluice_config *c;
	const char *raw, *alias;
	sluice_config_source src;
	int32_t i;

	(void)state;
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		load(c, "state.storage.fs.write-buffer-size: 4 * 1024\n"), 0);
	assert_int_equal(
		sluice_config_lookup(
			c, "execution.checkpointing.write-buffer-size", &raw,
			&src, &alias),
		0);
	assert_string_equal(raw, "4 * 1024");
	assert_string_equal(alias, "state.storage.fs.write-buffer-size");
	assert_int_equal(
		sluice_config_get_int(
			c, "execution.checkpointing.write-buffer-size", &i),
		SLUICE_EINVALID);
	assert_contains(
		sluice_error_last()->message,
		"Could not parse value '4 * 1024' for key "
		"'state.storage.fs.write-buffer-size'.");
	assert_int_equal(sluice_config_validate(c), SLUICE_EINVALID);
	sluice_config_free(c);
}

static void test_yaml__file_is_read_and_missing_file_named(void **state)
{
	char path[] = "/tmp/sluice-config-test-XXXXXX";
	const char text[] = "execution.checkpointing.interval: 10 s\n"
			    "execution.checkpointing.timeout: 30 min\n"
			    "state.backend: rocksdb\n";
	sluice_config *c;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(
		write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		sluice_config_load_file(c, path, SLUICE_CONFIG_FILE), 0);
	check_loaded(c);
	assert_true(
		find_warning(
			c, "deprecated configuration key "
			   "'state.backend'") >= 0);
	unlink(path);
	assert_int_equal(
		sluice_config_load_file(c, path, SLUICE_CONFIG_FILE),
		SLUICE_ENOTFOUND);
	assert_contains(sluice_error_last()->message, path);
	assert_int_equal(
		sluice_config_load_file(c, "/", SLUICE_CONFIG_FILE),
		SLUICE_EIO);
	assert_contains(sluice_error_last()->message, "configuration file '/'");
	sluice_config_free(c);
}

static void test_yaml__oversized_file_is_refused(void **state)
{
	char path[] = "/tmp/sluice-config-big-XXXXXX";
	static char chunk[1 << 16];
	sluice_config *c;
	int fd, i;

	(void)state;
	memset(chunk, '#', sizeof(chunk));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	for (i = 0; i < 257; i++) /* 16 MiB + 64 KiB of comment */
		assert_int_equal(
			write(fd, chunk, sizeof(chunk)),
			(ssize_t)sizeof(chunk));
	close(fd);
	assert_int_equal(sluice_config_new(&c), 0);
	assert_int_equal(
		sluice_config_load_file(c, path, SLUICE_CONFIG_FILE),
		SLUICE_EINVALID);
	assert_contains(sluice_error_last()->message, "larger than 16777216");
	assert_contains(sluice_error_last()->message, path);
	unlink(path);
	sluice_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml__flat_nested_and_mixed_agree),
		cmocka_unit_test(test_yaml__empty_input_and_nulls),
		cmocka_unit_test(test_yaml__errors_name_file_line_column),
		cmocka_unit_test(test_yaml__deep_nesting_is_refused),
		cmocka_unit_test(test_yaml__failed_load_changes_nothing),
		cmocka_unit_test(test_yaml__quoted_values_kept_verbatim),
		cmocka_unit_test(
			test_yaml__file_is_read_and_missing_file_named),
		cmocka_unit_test(test_yaml__oversized_file_is_refused),
		cmocka_unit_test(test_yaml__duplicate_key_warns_last_wins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
