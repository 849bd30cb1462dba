/*
 * Live metrics (include/sluice/monitor.h, src/runtime/metrics.c) and the
 * control channel (src/runtime/run_control.c).
 *
 * Metrics: a bounded run counts every source record in and every sink
 * record out and reports its latest completed checkpoint; counters stay
 * cumulative over a restart (replayed records count again); a source
 * blocked on credit accumulates backpressured time on the job's clock;
 * reads while the job runs are monotonic and need no lock on the tasks.
 *
 * Control channel: a savepoint requested through the directory is a real
 * savepoint (verifies, the job keeps running and finishes); two
 * concurrent requests both get their own savepoint; nobody serving, a
 * stale socket and a second server on the same directory give clear
 * errors; a target with a newline is refused; after the run ended a
 * request fails with the run's message.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/run.h"
#include "run_fixture.h"
#include "runtime_harness.h"
#include "sluice/config.h"
#include "sluice/monitor.h"
#include "sluice/sys/metadata.h"
#include "sluice/sys/storage.h"

/* ---- fixtures ---------------------------------------------------------- */

/* Checkpoints every 100 ms into <dir>/chk, savepoints into <dir>/sp,
 * plus NULL-terminated key/value pairs. */
static sluice_config *conf_of(const rf_fx *f, ...)
{
	sluice_config *c = rf_conf_begin(f, "chk");
	va_list ap;

	rf_conf_set(c, "execution.checkpointing.interval", "100 ms");
	va_start(ap, f);
	rf_conf_end(c, ap);
	va_end(ap);
	return c;
}

static int out_reached_400(void *arg)
{
	sluice_run_metrics m;

	assert_int_equal(sluice_run_metrics_read(arg, &m), 0);
	return m.job.records_out >= 400;
}

static int checkpoint_done(void *arg)
{
	sluice_run_metrics m;

	assert_int_equal(sluice_run_metrics_read(arg, &m), 0);
	return m.last_id >= 1;
}

/* ---- metrics ----------------------------------------------------------- */

static void
test_monitor__bounded_run_counts_records_and_checkpoints(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	sluice_run_metrics m;

	(void)state;
	rf_fx_init(&f, "mon");
	rt_pipeline_build(&pl, 2, 2, 3, 600, SLUICE_JOB_EXACTLY_ONCE);
	c = conf_of(&f, NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(sluice_run_metrics_read(run, &m), 0);
	assert_int_equal(m.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(m.restarts, 0);
	assert_int_equal(m.job.records_in, 2 * 600);
	assert_int_equal(m.job.records_out, 2 * 600);
	assert_int_equal(m.job.source_subtasks, 2);
	assert_int_equal(m.job.sink_subtasks, 3);
	assert_true(m.job.source_backpressured_ns >= 0);
	/* the final checkpoint at least */
	assert_true(m.checkpoints_completed >= 1);
	assert_int_equal(m.checkpoints_in_progress, 0);
	assert_true(m.last_id >= 1);
	assert_true(m.last_duration_ms >= 0);
	assert_true(m.last_completed_wall_ms >= 1700000000000);
	assert_true(m.mono_ms > 0);
	rf_teardown(&f, run, c, &pl);
}

static void test_monitor__live_reads_grow_and_survive_a_restart(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	sluice_run_metrics a, b;

	(void)state;
	rf_fx_init(&f, "mon");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 200;
	c =
		conf_of(&f, "restart-strategy.type", "fixed-delay",
			"restart-strategy.fixed-delay.attempts", "3",
			"restart-strategy.fixed-delay.delay", "100 ms", NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_true(
		rt_wait_for(rf_sink_reached, &(rf_sink_wait){&pl.sink, 400}));
	assert_true(rt_wait_for(checkpoint_done, run));
	assert_true(rt_wait_for(out_reached_400, run));
	assert_int_equal(sluice_run_metrics_read(run, &a), 0);
	assert_int_equal(a.state, SLUICE_JOB_STATE_RUNNING);
	assert_int_equal(a.job.records_in, 400); /* gated: exactly */
	assert_int_equal(a.job.records_out, 400);
	/* fail once in the rest of the input: records are replayed */
	STORE(&pl.count.fail_at, LOAD(&pl.count.processed) + 300);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(res.restarts, 1);
	assert_int_equal(sluice_run_metrics_read(run, &b), 0);
	assert_int_equal(b.restarts, 1);
	assert_true(b.mono_ms > a.mono_ms);
	assert_true(b.last_id > a.last_id);
	/* counted over both starts: more than the input after a replay */
	assert_true(b.job.records_in > 1200);
	assert_true(b.job.records_out >= 1200);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	rf_teardown(&f, run, c, &pl);
}

/* A source of `n` 1 KiB records into a sink that holds while gated. */
typedef struct bp_cfg {
	int64_t n;
	int gate; /* atomic: sink holds while 1 */
	int64_t got;
} bp_cfg;

static int bp_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	bp_cfg *cfg = sluice_ctx_arg(ctx);
	int64_t *pos = sluice_ctx_local(ctx);
	static char value[1024];
	sluice_record rec = {
		SLUICE_SLICE("k", 1), SLUICE_SLICE(value, sizeof(value)), 0};
	int rc;

	if (!pos) {
		pos = calloc(1, sizeof(*pos));
		if (!pos)
			return SLUICE_ENOMEM;
		sluice_ctx_set_local(ctx, pos);
	}
	if (*pos >= cfg->n) {
		*status = SLUICE_SOURCE_END;
		return 0;
	}
	if ((rc = sluice_ctx_emit(ctx, &rec)) < 0)
		return rc;
	++*pos;
	*status = SLUICE_SOURCE_MORE;
	return 0;
}

static void bp_close(sluice_ctx *ctx, int failed)
{
	(void)failed;
	free(sluice_ctx_local(ctx));
}

static int bp_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	bp_cfg *cfg = sluice_ctx_arg(ctx);

	(void)input;
	(void)rec;
	while (LOAD(&cfg->gate))
		rt_pause_1ms();
	ADD(&cfg->got, 1);
	return 0;
}

static const sluice_operator bp_source = {
	.version = SLUICE_OPERATOR_VERSION, .poll = bp_poll, .close = bp_close};
static const sluice_operator bp_sink = {
	.version = SLUICE_OPERATOR_VERSION, .process = bp_process};

static int producer_blocked(void *arg)
{
	sluice_job *job = arg;

	return sluice__channel_producer_waiting(job->channels[0]);
}

static void test_monitor__blocked_source_counts_backpressured_time(void **state)
{
	sluice_manual_clock clock;
	sluice_job_options o = {0};
	bp_cfg cfg = {50, 1, 0};
	sluice_vertex_spec s = {SLUICE_VERTEX_SOURCE, "src", NULL, 1, 0,
				&bp_source,           &cfg};
	sluice_vertex_spec k = {SLUICE_VERTEX_SINK, "sink", NULL, 1, 0,
				&bp_sink,           &cfg};
	sluice_job_metrics m;
	sluice_job *job;
	int a, b;

	(void)state;
	sluice_manual_clock_init(&clock, 1700000000000);
	o.version = SLUICE_JOB_OPTIONS_VERSION;
	o.clock = &clock.base;
	o.buffer_size = 512; /* one record per buffer */
	o.channel_credits = 1;
	assert_int_equal(sluice_job_new(&job, "bp", &o), 0);
	assert_int_equal(sluice_job_add(job, &a, &s), 0);
	assert_int_equal(sluice_job_add(job, &b, &k), 0);
	assert_int_equal(
		sluice_job_connect(job, a, b, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_metrics_read(job, &m), 0);
	assert_int_equal(m.records_in, 0);
	assert_int_equal(m.source_subtasks, 1);
	assert_int_equal(m.sink_subtasks, 1);
	assert_int_equal(sluice_job_start(job, NULL, NULL), 0);
	assert_true(rt_wait_for(producer_blocked, job));
	sluice_manual_clock_advance(&clock, 700);
	STORE(&cfg.gate, 0);
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_state_get(job), SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(sluice_job_metrics_read(job, &m), 0);
	assert_int_equal(m.records_in, 50);
	assert_int_equal(m.records_out, 50);
	assert_true(m.source_backpressured_ns >= 700 * 1000000LL);
	assert_true(m.source_backpressured_ns < 701 * 1000000LL);
	/* folded into the totals when stopped, then counted again */
	sluice_job_stop(job);
	assert_int_equal(sluice_job_metrics_read(job, &m), 0);
	assert_int_equal(m.records_in, 50);
	assert_int_equal(m.records_out, 50);
	assert_int_equal(sluice_job_start(job, NULL, NULL), 0);
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_metrics_read(job, &m), 0);
	assert_int_equal(m.records_in, 100);
	assert_int_equal(m.records_out, 100);
	assert_int_equal(LOAD(&cfg.got), 100);
	sluice_job_free(job);
}

/* ---- control channel --------------------------------------------------- */

/* A savepoint directory that loads and verifies. */
static void expect_savepoint(const char *path)
{
	sluice_checkpoint_meta *m = NULL;
	char *dir = NULL;

	assert_non_null(strstr(path, "/sp/savepoint-"));
	assert_int_equal(
		sluice_checkpoint_load(
			&m, &dir, sluice_storage_file_get(), path),
		0);
	assert_int_equal(
		sluice_checkpoint_verify(
			sluice_storage_file_get(), dir, m, NULL, NULL),
		0);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
}

typedef struct req {
	const char *dir;
	int rc;
	char *path;
	pthread_t th;
} req;

static void *req_main(void *arg)
{
	req *r = arg;

	r->rc = sluice_savepoint_request(r->dir, NULL, &r->path);
	return NULL;
}

static void
start_gated(rf_fx *f, pipeline *pl, sluice_config **c, sluice_run **run)
{
	rt_pipeline_build(pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl->src.gate = 100;
	*c = conf_of(f, NULL);
	assert_int_equal(sluice_run_start(run, pl->job, *c, &f->ro), 0);
	assert_true(
		rt_wait_for(rf_sink_reached, &(rf_sink_wait){&pl->sink, 200}));
}

static void
finish_gated(rf_fx *f, pipeline *pl, sluice_config *c, sluice_run *run)
{
	sluice_run_result res;

	STORE(&pl->src.gate, pl->src.n);
	sluice_job_wakeup(pl->job);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	rt_sink_expect_exact(&pl->sink, &pl->src, 2);
	sluice_run_free(run);
	sluice_config_free(c);
	rt_pipeline_free(pl);
	rf_fx_release(f);
}

static void test_control__savepoints_on_request_while_running(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	char *def = NULL, *path = NULL, want[128], pidf[160];
	req r[2];
	int i;

	(void)state;
	rf_fx_init(&f, "mon");
	start_gated(&f, &pl, &c, &run);
	/* the default directory: the job's checkpoint directory */
	assert_int_equal(sluice_run_control_dir(run, &def), 0);
	snprintf(want, sizeof(want), "%s/chk/%s", f.dir, run->job_id);
	assert_string_equal(def, want);
	assert_int_equal(sluice_run_serve_control(run, NULL), 0);
	assert_int_equal(sluice_run_serve_control(run, NULL), SLUICE_EBUSY);
	snprintf(pidf, sizeof(pidf), "%s/.control/pid", def);
	assert_int_equal(access(pidf, R_OK), 0);
	assert_int_equal(sluice_savepoint_request(def, NULL, &path), 0);
	expect_savepoint(path);
	sluice_free_bytes(path);
	assert_int_equal(sluice_run_state(run), SLUICE_JOB_STATE_RUNNING);
	/* two at once: two savepoints, one after the other */
	for (i = 0; i < 2; i++) {
		r[i] = (req){def, 1, NULL, 0};
		assert_int_equal(
			pthread_create(&r[i].th, NULL, req_main, &r[i]), 0);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(r[i].th, NULL);
		assert_int_equal(r[i].rc, 0);
		expect_savepoint(r[i].path);
	}
	assert_string_not_equal(r[0].path, r[1].path);
	sluice_free_bytes(r[0].path);
	sluice_free_bytes(r[1].path);
	/* an explicit target */
	snprintf(want, sizeof(want), "%s/sp", f.dir);
	assert_int_equal(sluice_savepoint_request(def, want, &path), 0);
	expect_savepoint(path);
	sluice_free_bytes(path);
	assert_int_equal(
		sluice_savepoint_request(def, "a\nb", &path), SLUICE_EINVALID);
	finish_gated(&f, &pl, c, run);
	/* the run is freed: nobody serves the directory any more */
	assert_int_equal(access(pidf, F_OK), -1);
	assert_int_equal(
		sluice_savepoint_request(def, NULL, &path), SLUICE_ENOTFOUND);
	assert_non_null(strstr(sluice_error_last()->message, def));
	sluice_free_bytes(def);
}

static void test_control__nobody_serving_names_the_directory(void **state)
{
	char dir[64], ctl[96], *path = (char *)"x";
	struct sockaddr_un sa = {AF_UNIX, {0}};
	FILE *pf;
	int fd;

	(void)state;
	assert_int_equal(
		sluice_savepoint_request("/nonexistent/job", NULL, &path),
		SLUICE_ENOTFOUND);
	assert_null(path);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "/nonexistent/job: no such job directory"));
	snprintf(dir, sizeof(dir), "/tmp/sluice-ctl-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(
		sluice_savepoint_request(dir, NULL, &path), SLUICE_ENOTFOUND);
	assert_non_null(strstr(sluice_error_last()->message, "no running job"));
	assert_non_null(strstr(sluice_error_last()->message, dir));
	/* a stale socket and pid file of a process that died */
	snprintf(ctl, sizeof(ctl), "%s/.control", dir);
	assert_int_equal(mkdir(ctl, 0700), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", ctl);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	snprintf(ctl, sizeof(ctl), "%s/.control/pid", dir);
	assert_non_null(pf = fopen(ctl, "w"));
	fprintf(pf, "999999\n");
	fclose(pf);
	assert_int_equal(
		sluice_savepoint_request(dir, NULL, &path), SLUICE_ENOTFOUND);
	assert_non_null(strstr(sluice_error_last()->message, "stale"));
	assert_non_null(strstr(sluice_error_last()->message, "999999"));
	assert_int_equal(
		sluice_storage_remove_tree(sluice_storage_file_get(), dir), 0);
}

static void test_control__stale_files_replaced_live_server_kept(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	char dir[200], lock[260], *path = NULL;
	int fd, lk;

	(void)state;
	rf_fx_init(&f, "mon");
	/* longer than a socket path: reached through /proc/self/fd */
	snprintf(
		dir, sizeof(dir), "%s/%s/%s", f.dir,
		"a-rather-long-directory-name-for-the-control-channel",
		"and-another-one-to-pass-the-limit-of-sun-path");
	start_gated(&f, &pl, &c, &run);
	/* a live server elsewhere holds the lock: busy, names the dir */
	assert_int_equal(
		sluice_storage_mkdirs(sluice_storage_file_get(), dir), 0);
	snprintf(lock, sizeof(lock), "%s/.control", dir);
	assert_int_equal(mkdir(lock, 0700), 0);
	snprintf(lock, sizeof(lock), "%s/.control/lock", dir);
	assert_true((lk = open(lock, O_RDWR | O_CREAT, 0600)) >= 0);
	assert_int_equal(flock(lk, LOCK_EX), 0);
	assert_int_equal(sluice_run_serve_control(run, dir), SLUICE_EBUSY);
	assert_non_null(strstr(sluice_error_last()->message, "already served"));
	close(lk); /* that process "died", leaving its socket file */
	snprintf(lock, sizeof(lock), "%s/.control/sock", dir);
	assert_true((fd = open(lock, O_RDWR | O_CREAT, 0600)) >= 0);
	close(fd);
	assert_int_equal(sluice_run_serve_control(run, dir), 0);
	assert_int_equal(sluice_savepoint_request(dir, NULL, &path), 0);
	expect_savepoint(path);
	sluice_free_bytes(path);
	finish_gated(&f, &pl, c, run);
}

static void test_control__request_after_the_end_fails_clearly(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	char dir[128], *path = NULL;

	(void)state;
	rf_fx_init(&f, "mon");
	rt_pipeline_build(&pl, 1, 1, 1, 100, SLUICE_JOB_EXACTLY_ONCE);
	c = conf_of(&f, NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	snprintf(dir, sizeof(dir), "%s/ctl", f.dir);
	assert_int_equal(sluice_run_serve_control(run, dir), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(
		sluice_savepoint_request(dir, NULL, &path), SLUICE_EINVALID);
	assert_null(path);
	assert_non_null(strstr(sluice_error_last()->message, "not running"));
	rf_teardown(&f, run, c, &pl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_monitor__bounded_run_counts_records_and_checkpoints),
		cmocka_unit_test(
			test_monitor__live_reads_grow_and_survive_a_restart),
		cmocka_unit_test(
			test_monitor__blocked_source_counts_backpressured_time),
		cmocka_unit_test(
			test_control__savepoints_on_request_while_running),
		cmocka_unit_test(
			test_control__nobody_serving_names_the_directory),
		cmocka_unit_test(
			test_control__stale_files_replaced_live_server_kept),
		cmocka_unit_test(
			test_control__request_after_the_end_fails_clearly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
