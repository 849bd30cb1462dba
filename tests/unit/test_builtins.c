/*
 * The built-in sources and operators, each run as a small job file to the
 * end (periodic checkpoints, final checkpoint, exactly-once file sink) and
 * checked on the committed output: count gives every key the counts
 * 1..n; sum ends at the key's total; dedup forwards the first record per
 * key; tumbling windows count and sum per key per window by event and by
 * processing time; join pairs the two inputs by key; throttle slows each
 * record down; the file source reads the lines of a directory's files.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "jobs_harness.h"
#include "sluice/sys/runtime.h"

static char yaml[4096];

static void test_builtins__count_gives_exact_running_counts(void **state)
{
	char dir[64];
	jh_lines l;

	(void)state;
	jh_tmpdir(dir);
	snprintf(
		yaml, sizeof(yaml),
		"job: {name: c, parallelism: 2}\n"
		"pipeline:\n"
		"  - source: sequence\n    count: 3001\n    keys: 7\n"
		"  - key-by: key\n"
		"  - operator: count\n"
		"  - sink: file\n    path: %s/out\n",
		dir);
	assert_int_equal(jh_run_yaml(yaml, NULL), SLUICE_JOB_STATE_FINISHED);
	jh_read_committed(strcat(dir, "/out"), &l);
	jh_expect_exact_counts(&l, 3001, 7);
	assert_int_equal(jh_hidden_files(dir), 0);
	jh_lines_release(&l);
	dir[strlen(dir) - 4] = '\0';
	jh_rmtree(dir);
}

static void test_builtins__sum_ends_at_each_keys_total(void **state)
{
	char dir[64];
	int64_t best[4] = {0}, total[4] = {0}, n[4] = {0}, lines[4] = {0};
	jh_lines l;
	size_t i;
	int k;

	(void)state;
	jh_tmpdir(dir);
	snprintf(
		yaml, sizeof(yaml),
		"job: {name: s, parallelism: 3}\n"
		"pipeline:\n"
		"  - source: sequence\n    count: 1000\n    keys: 4\n"
		"  - key-by: key\n"
		"  - operator: sum\n"
		"  - sink: file\n    path: %s\n",
		dir);
	assert_int_equal(jh_run_yaml(yaml, NULL), SLUICE_JOB_STATE_FINISHED);
	for (i = 0; i < 1000; i++) {
		total[i % 4] += (int64_t)i;
		n[i % 4]++;
	}
	jh_read_committed(dir, &l);
	for (i = 0; i < l.n; i++) {
		long long s;

		assert_int_equal(sscanf(l.v[i], "k%d,%lld", &k, &s), 2);
		assert_true(k >= 0 && k < 4);
		lines[k]++;
		if (s > best[k])
			best[k] = s;
	}
	for (k = 0; k < 4; k++) {
		assert_int_equal(best[k], total[k]);
		assert_int_equal(lines[k], n[k]);
	}
	jh_lines_release(&l);
	jh_rmtree(dir);
}

static void test_builtins__dedup_forwards_first_record_per_key(void **state)
{
	char dir[64];
	jh_lines l;

	(void)state;
	jh_tmpdir(dir);
	snprintf(
		yaml, sizeof(yaml),
		"job: {name: d, parallelism: 1}\n"
		"pipeline:\n"
		"  - source: sequence\n    count: 100\n    keys: 5\n"
		"  - key-by: key\n"
		"  - operator: dedup\n    ttl: 1h\n"
		"  - sink: file\n    path: %s\n",
		dir);
	assert_int_equal(jh_run_yaml(yaml, NULL), SLUICE_JOB_STATE_FINISHED);
	jh_read_committed(dir, &l);
	assert_int_equal(l.n, 5);
	assert_string_equal(l.v[0], "0");
	assert_string_equal(l.v[4], "4");
	jh_lines_release(&l);
	jh_rmtree(dir);
}

static void run_window(const char *extra, const char *const *expect, size_t n)
{
	char dir[64];
	jh_lines l;
	size_t i;

	jh_tmpdir(dir);
	snprintf(
		yaml, sizeof(yaml),
		"job: {name: w, parallelism: 1}\n"
		"pipeline:\n"
		"  - source: sequence\n    count: 40\n    keys: 2\n"
		"  - key-by: key\n"
		"  - operator: tumbling-window\n    size: 10ms\n%s"
		"  - sink: file\n    path: %s\n",
		extra, dir);
	assert_int_equal(jh_run_yaml(yaml, NULL), SLUICE_JOB_STATE_FINISHED);
	jh_read_committed(dir, &l);
	assert_int_equal(l.n, n);
	for (i = 0; i < n; i++)
		assert_string_equal(l.v[i], expect[i]);
	jh_lines_release(&l);
	jh_rmtree(dir);
}

static void test_builtins__event_time_windows_count_and_sum(void **state)
{
	static const char *const counts[] = {
		"k0,0,10,5", "k0,10,20,5", "k0,20,30,5", "k0,30,40,5",
		"k1,0,10,5", "k1,10,20,5", "k1,20,30,5", "k1,30,40,5"};
	static const char *const sums[] = {
		"k0,0,10,20", "k0,10,20,70", "k0,20,30,120", "k0,30,40,170",
		"k1,0,10,25", "k1,10,20,75", "k1,20,30,125", "k1,30,40,175"};

	(void)state;
	run_window("    time: event\n", counts, 8);
	run_window("    time: event\n    aggregate: sum\n", sums, 8);
}

static void test_builtins__processing_time_window_uses_the_clock(void **state)
{
	static const char *const expect[] = {
		"k0,1000,1010,10", "k1,1000,1010,10"};
	sluice_manual_clock clk;
	char dir[64];
	jh_lines l;

	(void)state;
	sluice_manual_clock_init(&clk, 1003); /* time stands still */
	jh_tmpdir(dir);
	snprintf(
		yaml, sizeof(yaml),
		"job: {name: w, parallelism: 1}\n"
		"pipeline:\n"
		"  - source: sequence\n    count: 20\n    keys: 2\n"
		"  - key-by: key\n"
		"  - operator: tumbling-window\n    size: 10ms\n"
		"  - sink: file\n    path: %s\n",
		dir);
	assert_int_equal(jh_run_yaml(yaml, &clk), SLUICE_JOB_STATE_FINISHED);
	jh_read_committed(dir, &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], expect[0]);
	assert_string_equal(l.v[1], expect[1]);
	jh_lines_release(&l);
	jh_rmtree(dir);
}

static void test_builtins__join_pairs_inputs_by_key(void **state)
{
	char dir[64];
	jh_lines l;
	int i;

	(void)state;
	jh_tmpdir(dir);
	snprintf(
		yaml, sizeof(yaml),
		"job: {name: j, parallelism: 2}\n"
		"pipeline:\n"
		"  - source: sequence\n    count: 10\n    keys: 10\n"
		"  - key-by: key\n"
		"  - operator: join\n"
		"    inputs:\n"
		"      - source: sequence\n        count: 5\n"
		"        keys: 5\n"
		"      - key-by: key\n"
		"  - sink: file\n    path: %s\n",
		dir);
	assert_int_equal(jh_run_yaml(yaml, NULL), SLUICE_JOB_STATE_FINISHED);
	jh_read_committed(dir, &l);
	assert_int_equal(l.n, 5);
	for (i = 0; i < 5; i++) {
		char want[32];

		snprintf(want, sizeof(want), "k%d,%d,%d", i, i, i);
		assert_string_equal(l.v[i], want);
	}
	jh_lines_release(&l);
	jh_rmtree(dir);
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_builtins__throttle_sleeps_per_record(void **state)
{
	int64_t t0;

	(void)state;
	snprintf(
		yaml, sizeof(yaml),
		"job: {name: t}\n"
		"pipeline:\n"
		"  - source: sequence\n    count: 20\n"
		"  - operator: throttle\n    per-record: 5ms\n"
		"  - sink: null\n");
	t0 = real_ms();
	assert_int_equal(jh_run_yaml(yaml, NULL), SLUICE_JOB_STATE_FINISHED);
	assert_true(real_ms() - t0 >= 100);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(f = fopen(p, "wb"));
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
}

static void test_builtins__file_source_reads_lines_of_every_file(void **state)
{
	static const char *const expect[] = {"x,1", "x,2", "y,1",
					     "y,2", "y,3", "z,1"};
	char in[64], out[64];
	jh_lines l;
	size_t i;

	(void)state;
	jh_tmpdir(in);
	jh_tmpdir(out);
	write_file(in, "a.txt", "x\ny\r\nx\n");
	write_file(in, "b.txt", "y\nz\ny"); /* last line without newline */
	write_file(in, ".hidden", "w\n");
	snprintf(
		yaml, sizeof(yaml),
		"job: {name: f, parallelism: 2}\n"
		"pipeline:\n"
		"  - source: file\n    path: %s\n"
		"  - key-by: key\n"
		"  - operator: count\n"
		"  - sink: file\n    path: %s\n",
		in, out);
	assert_int_equal(jh_run_yaml(yaml, NULL), SLUICE_JOB_STATE_FINISHED);
	jh_read_committed(out, &l);
	assert_int_equal(l.n, 6);
	for (i = 0; i < 6; i++)
		assert_string_equal(l.v[i], expect[i]);
	jh_lines_release(&l);
	jh_rmtree(in);
	jh_rmtree(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_builtins__count_gives_exact_running_counts),
		cmocka_unit_test(test_builtins__sum_ends_at_each_keys_total),
		cmocka_unit_test(
			test_builtins__dedup_forwards_first_record_per_key),
		cmocka_unit_test(
			test_builtins__event_time_windows_count_and_sum),
		cmocka_unit_test(
			test_builtins__processing_time_window_uses_the_clock),
		cmocka_unit_test(test_builtins__join_pairs_inputs_by_key),
		cmocka_unit_test(test_builtins__throttle_sleeps_per_record),
		cmocka_unit_test(
			test_builtins__file_source_reads_lines_of_every_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
