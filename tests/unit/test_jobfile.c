/*
 * Job files (src/jobs/, docs/jobs.md): the example loads, applies
 * its config: section with source "job" and builds the expected graph;
 * every kind of bad file fails with SLUICE_EINVALID and one message naming
 * file:line:column and the offending key or value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/jobfile.h"
#include "sluice/sys/runtime.h"
#include "util/alloc.h"

static const char example[] = "job:\n"
			      "  name: counts\n"
			      "  parallelism: 2\n"
			      "  max-parallelism: 128\n"
			      "pipeline:\n"
			      "  - source: sequence\n"
			      "    count: 3000000\n"
			      "    keys: 1000\n"
			      "    rate: 1000000\n"
			      "  - key-by: key\n"
			      "  - operator: count\n"
			      "  - sink: file\n"
			      "    path: out/\n"
			      "config:\n"
			      "  execution.checkpointing.interval: 200ms\n"
			      "  state:\n"
			      "    checkpoints.dir: file:///tmp/ck\n"
			      "  execution.checkpointing.timeout: ~\n";

static void test_jobfile__example_loads_applies_config_and_builds(void **state)
{
	sluice_config *conf;
	sluice_jobfile *jf;
	sluice_job *job;
	sluice_task_info info;
	const char *raw, *alias;
	sluice_config_source src;
	char id[33], id2[33];
	int i;

	(void)state;
	assert_int_equal(sluice_config_new(&conf), 0);
	assert_int_equal(
		sluice_jobfile_load_string(
			&jf, example, strlen(example), "job.yaml", conf),
		0);
	assert_string_equal(sluice_jobfile_name(jf), "counts");
	assert_int_equal(sluice_jobfile_parallelism(jf), 2);
	assert_int_equal(sluice_jobfile_max_parallelism(jf), 128);
	assert_int_equal(
		sluice_config_lookup(
			conf, "execution.checkpointing.interval", &raw, &src,
			&alias),
		0);
	assert_string_equal(raw, "200ms");
	assert_int_equal(src, SLUICE_CONFIG_JOB);
	assert_int_equal(
		sluice_config_lookup(
			conf, "state.checkpoints.dir", &raw, &src, &alias),
		0);
	assert_string_equal(raw, "file:///tmp/ck");
	assert_int_equal(sluice_config_entry_count(conf), 2); /* ~ = unset */

	sluice_jobfile_job_id(jf, id);
	sluice_job_id_of("counts", id2); /* what sluice_run uses */
	assert_string_equal(id, id2);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	assert_int_equal(sluice_jobfile_build(jf, conf, NULL, &job), 0);
	assert_int_equal(sluice_job_task_count(job), 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(sluice_job_task_info(job, i, &info), 0);
		assert_int_equal(info.parallelism, 2);
		assert_int_equal(info.max_parallelism, 128);
	}
	assert_int_equal(sluice_job_task_info(job, 0, &info), 0);
	assert_string_equal(info.uid, "0-sequence");
	assert_int_equal(sluice_job_task_info(job, 2, &info), 0);
	assert_string_equal(info.uid, "1-count");
	assert_int_equal(sluice_job_task_info(job, 4, &info), 0);
	assert_string_equal(info.uid, "2-file");
	assert_int_equal(
		sluice_jobfile_build(jf, conf, NULL, &job), SLUICE_EBUSY);
	sluice_jobfile_free(jf);

	/* the same name gives the same job id */
	assert_int_equal(
		sluice_jobfile_load_string(
			&jf, example, strlen(example), "other.yaml", NULL),
		0);
	sluice_jobfile_job_id(jf, id2);
	assert_string_equal(id, id2);
	sluice_jobfile_free(jf);
	sluice_config_free(conf);
}

/* Load `yaml`; expect SLUICE_EINVALID with exactly `msg`, and `conf`
 * untouched. */
static void expect_error(const char *yaml, const char *msg)
{
	sluice_config *conf;
	sluice_jobfile *jf = NULL;
	int rc;

	assert_int_equal(sluice_config_new(&conf), 0);
	rc = sluice_jobfile_load_string(
		&jf, yaml, strlen(yaml), "job.yaml", conf);
	if (rc != SLUICE_EINVALID || strcmp(sluice_error_last()->message, msg))
		fail_msg(
			"rc %d, message\n  '%s'\nexpected\n  '%s'", rc,
			sluice_error_last()->message, msg);
	assert_int_equal(sluice_config_entry_count(conf), 0);
	sluice_config_free(conf);
}

#define JOB       "job:\n  name: j\n"
#define SEQ_COUNT "pipeline:\n  - source: sequence\n  - key-by: key\n"

static void test_jobfile__unexpected_keys_name_line_and_column(void **state)
{
	(void)state;
	expect_error(
		JOB "pipeline:\n  - source: sequence\n  - sink: null\n"
		    "jobs:\n  x: 1\n",
		"job.yaml:6:1: unexpected key 'jobs' (a job file has job, "
		"pipeline and config)");
	expect_error(
		"job:\n  name: j\n  parralelism: 2\n"
		"pipeline:\n  - source: sequence\n  - sink: null\n",
		"job.yaml:3:3: unexpected key 'parralelism' in job (expected "
		"name, parallelism, max-parallelism)");
	expect_error(
		JOB SEQ_COUNT "  - operator: count\n    windw: 5s\n"
			      "  - sink: null\n",
		"job.yaml:7:5: unexpected key 'windw' in operator 'count'");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n    count: 5\n"
		    "    count: 6\n  - sink: null\n",
		"job.yaml:6:5: key 'count' given twice in one stage");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n  - sink: null\n"
		    "    inputs:\n      - source: sequence\n",
		"job.yaml:6:5: unexpected key 'inputs' in sink 'null' (only "
		"two-input operators have a second input)");
}

static void test_jobfile__values_are_validated(void **state)
{
	(void)state;
	expect_error(
		"job:\n  name: j\n  parallelism: -2\n"
		"pipeline:\n  - source: sequence\n  - sink: null\n",
		"job.yaml:3:16: job: parallelism: '-2' is not a positive "
		"integer (1..32768)");
	expect_error(
		"job:\n  name: j\n  parallelism: 4\n  max-parallelism: 2\n"
		"pipeline:\n  - source: sequence\n  - sink: null\n",
		"job.yaml:2:3: job: max-parallelism 2 is smaller than "
		"parallelism 4");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n    keys: 0\n"
		    "  - sink: null\n",
		"job.yaml:5:5: source 'sequence': keys: '0' is not an "
		"integer >= 1");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n"
		    "  - operator: throttle\n    per-record: banana\n"
		    "  - sink: null\n",
		"job.yaml:6:5: operator 'throttle': per-record: could not "
		"parse 'banana' as a duration");
	expect_error(
		JOB SEQ_COUNT "  - operator: tumbling-window\n    size: 1s\n"
			      "    time: wall\n  - sink: null\n",
		"job.yaml:8:5: operator 'tumbling-window': time: 'wall' is "
		"not one of 'processing', 'event'");
}

static void test_jobfile__required_keys_and_sections(void **state)
{
	(void)state;
	expect_error(
		"job:\n  parallelism: 1\npipeline:\n  - source: sequence\n"
		"  - sink: null\n",
		"job.yaml:2:3: job: missing key 'name'");
	expect_error(
		JOB "config:\n  a.b: 1\n",
		"job.yaml:1:1: missing section 'pipeline'");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n  - sink: file\n",
		"job.yaml:5:5: sink 'file': missing key 'path'");
	expect_error(
		JOB SEQ_COUNT "  - operator: tumbling-window\n  - sink: null\n",
		"job.yaml:6:5: operator 'tumbling-window': missing key "
		"'size'");
	expect_error(
		"", "job.yaml:1:1: empty job file (expected job and "
		    "pipeline sections)");
}

static void test_jobfile__graph_rules(void **state)
{
	(void)state;
	expect_error(
		JOB "pipeline:\n  - source: sequence\n  - operator: count\n"
		    "  - sink: null\n",
		"job.yaml:5:5: operator 'count' keeps keyed state: put '- "
		"key-by: key' before it");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n  - operator: count\n",
		"job.yaml:5:5: the pipeline must end with a sink, not "
		"operator 'count'");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n  - sink: null\n"
		    "  - sink: null\n",
		"job.yaml:5:5: sink 'null' must be the last stage of the "
		"pipeline");
	expect_error(
		JOB "pipeline:\n  - operator: count\n  - sink: null\n",
		"job.yaml:4:5: operator 'count': a chain must start with a "
		"source");
	expect_error(
		JOB SEQ_COUNT "  - operator: join\n  - sink: null\n",
		"job.yaml:6:5: operator 'join' takes two inputs: give the "
		"second as a chain under 'inputs'");
	expect_error(
		JOB SEQ_COUNT "  - operator: join\n    inputs:\n"
			      "      - source: sequence\n  - sink: null\n",
		"job.yaml:7:5: operator 'join': its 'inputs' chain must end "
		"with key-by");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n  - key-by: value\n"
		    "  - sink: null\n",
		"job.yaml:5:5: key-by 'value': only 'key' (the record key) "
		"is supported");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n  - operator: mapp\n"
		    "  - sink: null\n",
		"job.yaml:5:5: unknown operator 'mapp' (known: count, sum, "
		"tumbling-window, dedup, join, throttle)");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n    sink: null\n",
		"job.yaml:5:5: stage has two kinds ('sink' after another of "
		"source, key-by, operator, sink)");
}

static void test_jobfile__malformed_yaml_and_wrong_shapes(void **state)
{
	(void)state;
	expect_error(
		"job:\n  name: [a\n",
		"job.yaml:3:1: malformed YAML: did not find expected ',' or "
		"']'");
	expect_error(
		"job:\n  name: j\npipeline:\n  source: sequence\n",
		"job.yaml:4:3: pipeline must be a list, not a map");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n    count: [1, 2]\n"
		    "  - sink: null\n",
		"job.yaml:5:12: count must be a value, not a list");
	expect_error(
		JOB "pipeline:\n  - source: sequence\n  - sink: null\n"
		    "config:\n  a: [1]\n",
		"job.yaml:7:6: a must be a value, not a list");
}

static void test_jobfile__two_input_join_builds(void **state)
{
	static const char yaml[] = "job:\n  name: joined\n"
				   "pipeline:\n"
				   "  - source: sequence\n"
				   "    count: 10\n"
				   "  - key-by: key\n"
				   "  - operator: join\n"
				   "    uid: my-join\n"
				   "    inputs:\n"
				   "      - source: sequence\n"
				   "        count: 5\n"
				   "      - key-by: key\n"
				   "  - sink: stdout\n";
	sluice_jobfile *jf;
	sluice_job *job;
	sluice_task_info info;

	(void)state;
	assert_int_equal(
		sluice_jobfile_load_string(
			&jf, yaml, strlen(yaml), "join.yaml", NULL),
		0);
	assert_int_equal(sluice_jobfile_build(jf, NULL, NULL, &job), 0);
	assert_int_equal(sluice_job_task_count(job), 4);
	assert_int_equal(sluice_job_task_info(job, 1, &info), 0);
	assert_string_equal(info.uid, "my-join");
	sluice_jobfile_free(jf);
}

static void test_jobfile__loads_from_a_file(void **state)
{
	char path[] = "/tmp/sluice-jobfile-XXXXXX";
	sluice_jobfile *jf;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(
		write(fd, example, strlen(example)), (ssize_t)strlen(example));
	close(fd);
	assert_int_equal(sluice_jobfile_load(&jf, path, NULL), 0);
	assert_string_equal(sluice_jobfile_name(jf), "counts");
	sluice_jobfile_free(jf);
	unlink(path);
	assert_true(sluice_jobfile_load(&jf, path, NULL) < 0);
	assert_non_null(strstr(sluice_error_last()->message, path));
}

/* Every allocation failure while loading and building is reported as
 * SLUICE_ENOMEM and leaks nothing (ASan); the config stays untouched. */
static void test_jobfile__allocation_failures_are_reported(void **state)
{
	sluice_config *conf;
	sluice_jobfile *jf = NULL;
	sluice_job *job;
	long n;
	int rc;

	(void)state;
	for (n = 0;; n++) {
		assert_int_equal(sluice_config_new(&conf), 0);
		sluice__alloc_fail_after(n);
		rc = sluice_jobfile_load_string(
			&jf, example, strlen(example), "job.yaml", conf);
		if (rc == 0)
			rc = sluice_jobfile_build(jf, conf, NULL, &job);
		sluice__alloc_fail_after(-1);
		if (rc == 0)
			break;
		assert_int_equal(rc, SLUICE_ENOMEM);
		sluice_jobfile_free(jf);
		jf = NULL;
		sluice_config_free(conf);
	}
	assert_true(n > 10);
	sluice_jobfile_free(jf);
	sluice_config_free(conf);
}

/* The fuzzer's seed job files are valid and build. */
static void test_jobfile__seed_corpus_files_are_valid(void **state)
{
	static const char *const names[] = {
		"counts.yaml", "join.yaml", "dedup.yaml"};
	const char *src = getenv("SLUICE_SOURCE_DIR");
	char path[1024];
	sluice_jobfile *jf;
	sluice_job *job;
	size_t i;

	(void)state;
	if (!src)
		src = ".";
	for (i = 0; i < 3; i++) {
		snprintf(
			path, sizeof(path), "%s/tests/fuzz/corpus/jobfile/%s",
			src, names[i]);
		if (sluice_jobfile_load(&jf, path, NULL) < 0)
			fail_msg("%s", sluice_error_last()->message);
		assert_int_equal(sluice_jobfile_build(jf, NULL, NULL, &job), 0);
		sluice_jobfile_free(jf);
	}
}

/* Tasks of the job built from `yaml` with `conf`: all at parallelism p and
 * max parallelism mp. */
static void
built_at(const char *yaml, sluice_config *conf, int32_t p, int32_t mp)
{
	sluice_jobfile *jf;
	sluice_job *job;
	sluice_task_info info;
	int i, n;

	assert_int_equal(
		sluice_jobfile_load_string(
			&jf, yaml, strlen(yaml), "j.yaml", conf),
		0);
	assert_int_equal(sluice_jobfile_build(jf, conf, NULL, &job), 0);
	n = sluice_job_task_count(job);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(sluice_job_task_info(job, i, &info), 0);
		assert_int_equal(info.parallelism, p);
		assert_int_equal(info.max_parallelism, mp);
	}
	sluice_jobfile_free(jf); /* frees the job it built */
}

/* Without `parallelism` in the file the job runs at parallelism.default
 * (also from -D, i.e. set after loading), and without `max-parallelism`
 * with pipeline.max-parallelism when set; the file's own values win. */
static void test_jobfile__parallelism_falls_back_to_the_config(void **state)
{
	static const char bare[] = "job:\n  name: bare\n"
				   "pipeline:\n  - source: sequence\n"
				   "    count: 10\n  - sink: null\n";
	static const char set[] = "job:\n  name: set\n  parallelism: 2\n"
				  "  max-parallelism: 256\n"
				  "pipeline:\n  - source: sequence\n"
				  "    count: 10\n  - sink: null\n";
	sluice_config *conf;

	(void)state;
	assert_int_equal(sluice_config_new(&conf), 0);
	built_at(bare, conf, 1, 128);
	assert_int_equal(
		sluice_config_set(
			conf, "parallelism.default", "3",
			SLUICE_CONFIG_DYNAMIC),
		0);
	built_at(bare, conf, 3, 128);
	assert_int_equal(
		sluice_config_set(
			conf, "pipeline.max-parallelism", "64",
			SLUICE_CONFIG_DYNAMIC),
		0);
	built_at(bare, conf, 3, 64);
	built_at(set, conf, 2, 256);
	sluice_config_free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_jobfile__parallelism_falls_back_to_the_config),
		cmocka_unit_test(
			test_jobfile__example_loads_applies_config_and_builds),
		cmocka_unit_test(
			test_jobfile__unexpected_keys_name_line_and_column),
		cmocka_unit_test(test_jobfile__values_are_validated),
		cmocka_unit_test(test_jobfile__required_keys_and_sections),
		cmocka_unit_test(test_jobfile__graph_rules),
		cmocka_unit_test(test_jobfile__malformed_yaml_and_wrong_shapes),
		cmocka_unit_test(test_jobfile__two_input_join_builds),
		cmocka_unit_test(test_jobfile__loads_from_a_file),
		cmocka_unit_test(
			test_jobfile__allocation_failures_are_reported),
		cmocka_unit_test(test_jobfile__seed_corpus_files_are_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
