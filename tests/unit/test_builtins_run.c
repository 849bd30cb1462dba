/*
 * Built-ins under sluice_run (the real checkpoint coordinator, file
 * checkpoint storage and restart strategy): a job file whose config:
 * section configures checkpointing and the keyed backend (hashmap and
 * rocksdb) runs to FINISHED with every key's
 * counts committed exactly once; a job of built-ins that fails mid-run is
 * restarted by the restart strategy from its latest checkpoint and still
 * commits every count exactly once, with no hidden leftovers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/builtins.h"
#include "jobs_harness.h"
#include "runtime_harness.h"
#include "sluice/config.h"
#include "util/error.h"

static void run_job_file(const char *backend)
{
	char dir[64], yaml[1024], out[128];
	sluice_config *conf;
	sluice_jobfile *jf;
	sluice_job *job;
	sluice_run *run;
	sluice_run_result res;
	jh_lines l;

	jh_tmpdir(dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(
		yaml, sizeof(yaml),
		"job:\n  name: run-counts\n  parallelism: 2\n"
		"pipeline:\n"
		"  - source: sequence\n    count: 4000\n    keys: 9\n"
		"    rate: 20000\n"
		"  - key-by: key\n"
		"  - operator: count\n"
		"  - sink: file\n    path: %s\n"
		"config:\n"
		"  execution.checkpointing.interval: 20 ms\n"
		"  execution.checkpointing.dir: %s/ck\n"
		"  state.backend.type: %s\n",
		out, dir, backend);
	assert_int_equal(sluice_config_new(&conf), 0);
	assert_int_equal(
		sluice_jobfile_load_string(&jf, yaml, strlen(yaml), "r", conf),
		0);
	assert_int_equal(sluice_config_validate(conf), 0);
	assert_int_equal(sluice_jobfile_build(jf, conf, NULL, &job), 0);
	assert_int_equal(sluice_run_start(&run, job, conf, NULL), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	sluice_run_free(run);
	jh_read_committed(out, &l);
	jh_expect_exact_counts(&l, 4000, 9);
	assert_int_equal(jh_hidden_files(out), 0);
	jh_lines_release(&l);
	sluice_jobfile_free(jf);
	sluice_config_free(conf);
	jh_rmtree(dir);
}

static void test_run__job_file_config_drives_an_exactly_once_run(void **state)
{
	(void)state;
	run_job_file("hashmap");
	run_job_file("rocksdb");
}

typedef struct failer {
	int64_t seen;    /* atomic */
	int64_t fail_at; /* fixed */
} failer;

static int fail_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	failer *f = sluice_ctx_arg(ctx);

	(void)input;
	if (ADD(&f->seen, 1) == f->fail_at)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"injected failure");
	return sluice_ctx_emit(ctx, rec);
}

static const sluice_operator fail_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = fail_process,
};

static void test_run__failure_restarts_and_commits_exactly_once(void **state)
{
	sluice__sequence_arg seq = {6000, 7, 12000};
	sluice__file_sink_arg sink;
	failer f = {0, 1500};
	char dir[64], out[128], ck[128];
	const sluice_operator *ops[4] = {
		&sluice__sequence_op, &sluice__count_op, &fail_op,
		&sluice__file_sink_op};
	void *args[4] = {&seq, NULL, &f, &sink};
	const sluice_vertex_kind kinds[4] = {
		SLUICE_VERTEX_SOURCE, SLUICE_VERTEX_OPERATOR,
		SLUICE_VERTEX_OPERATOR, SLUICE_VERTEX_SINK};
	const char *uids[4] = {"src", "count", "fail", "sink"};
	sluice_vertex_spec spec;
	sluice_config *conf;
	sluice_keyed_provider_config pc;
	sluice_job *job;
	sluice_run *run;
	sluice_run_result res;
	jh_lines l;
	int ids[4], i;

	(void)state;
	jh_tmpdir(dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(ck, sizeof(ck), "%s/ck", dir);
	sink.path = out;
	assert_int_equal(sluice_job_new(&job, "run-failure", NULL), 0);
	for (i = 0; i < 4; i++) {
		spec = (sluice_vertex_spec){kinds[i], uids[i], NULL,   2,
					    0,        ops[i],  args[i]};
		assert_int_equal(sluice_job_add(job, &ids[i], &spec), 0);
	}
	assert_int_equal(
		sluice_job_connect(job, ids[0], ids[1], 0, SLUICE_EDGE_KEY_BY),
		0);
	for (i = 1; i < 3; i++)
		assert_int_equal(
			sluice_job_connect(
				job, ids[i], ids[i + 1], 0,
				SLUICE_EDGE_FORWARD),
			0);
	assert_int_equal(sluice_config_new(&conf), 0);
	assert_int_equal(
		sluice_config_set(
			conf, "execution.checkpointing.interval", "20 ms",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf, "execution.checkpointing.dir", ck,
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf, "restart-strategy.type", "fixed-delay",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf, "restart-strategy.fixed-delay.delay", "10 ms",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(sluice_config_validate(conf), 0);
	/* state in the keyed hashmap backend, as job files do */
	assert_int_equal(
		sluice_keyed_provider_config_from_config(&pc, conf), 0);
	assert_int_equal(
		sluice_job_set_state_provider(
			job, sluice_keyed_state_provider_factory, &pc),
		0);
	assert_int_equal(sluice_run_start(&run, job, conf, NULL), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(res.restarts, 1);
	sluice_run_free(run);
	jh_read_committed(out, &l);
	jh_expect_exact_counts(&l, 6000, 7);
	assert_int_equal(jh_hidden_files(out), 0);
	jh_lines_release(&l);
	sluice_job_free(job);
	sluice_config_free(conf);
	jh_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_run__job_file_config_drives_an_exactly_once_run),
		cmocka_unit_test(
			test_run__failure_restarts_and_commits_exactly_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
