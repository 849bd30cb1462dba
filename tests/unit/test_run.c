/*
 * sluice_run (include/sluice/job.h, src/runtime/run.c): a checkpointed job
 * run from configuration on file storage, with the runtime harness'
 * pipeline (replayable gated source -> map -> keyed counter -> collecting
 * sink).  Time is a manual clock advanced by a ticker thread (10 clock ms
 * per real ms), so checkpoint intervals and restart backoffs are clock
 * time.  Covered: a bounded job finishes after its final checkpoint,
 * which is triggered as soon as every task reached its end of data; a
 * task failure restarts from the latest checkpoint with exact counts;
 * restart strategy none fails with the task's message; restore-latest
 * after a crash; savepoint then restore at another parallelism (plain
 * savepoints do not notify); stop-with-savepoint and
 * ignore-unclaimed-state; retention on cancel; restore-latest of a
 * finished job (its job result record).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "runtime/run.h"
#include "util/alloc.h"
#include "run_fixture.h"
#include "runtime_harness.h"
#include "sluice/config.h"
#include "sluice/sys/metadata.h"

/* ---- fixtures ---------------------------------------------------------- */

/* A validated configuration: checkpoints into <dir>/<sub>, savepoints
 * into <dir>/sp, every state file a file (inline threshold 0), plus
 * NULL-terminated key/value pairs. */
static sluice_config *conf_of(const rf_fx *f, const char *sub, ...)
{
	sluice_config *c = rf_conf_begin(f, sub);
	va_list ap;

	rf_conf_set(c, "execution.checkpointing.data-inline-threshold", "0");
	va_start(ap, sub);
	rf_conf_end(c, ap);
	va_end(ap);
	return c;
}

#define INTERVAL "execution.checkpointing.interval", "100 ms"

/* Run the gated pipeline until `gate` records per source went through
 * the sink (and, with `ckpt`, a checkpoint completed after that). */
static void run_to_gate(pipeline *pl, int64_t gate, int ckpt)
{
	rf_sink_wait w = {&pl->sink, gate * pl->sp};
	int before = LOAD(&pl->notes.complete_calls);

	assert_true(rt_wait_for(rf_sink_reached, &w));
	if (ckpt) /* every map subtask heard of a newer checkpoint */
		assert_true(rt_wait_for(
			rf_notified_after,
			&(rf_notes_wait){&pl->notes, before + 2}));
}

static void open_gate(pipeline *pl, sluice_job *job)
{
	STORE(&pl->src.gate, pl->src.n);
	sluice_job_wakeup(job);
}

static int64_t json_count(const char *json, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":", name);
	p = strstr(json, key);
	assert_non_null(p);
	return atoll(p + strlen(key));
}

/* ---- tests ------------------------------------------------------------- */

static void test_run__bounded_job_finishes_with_final_checkpoint(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	char *json = NULL;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	c = conf_of(&f, "chk", INTERVAL, NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(res.restarts, 0);
	assert_int_equal(res.restored_id, -1);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	assert_int_equal(pl.sink.ended, 2);
	/* tasks waited for a checkpoint after their end of data */
	assert_true(LOAD(&pl.notes.complete_calls) >= 2);
	assert_int_equal(sluice_run_stats_json(run, -1, &json), 0);
	assert_true(json_count(json, "completed") >= 1);
	assert_int_equal(json_count(json, "restored"), 0);
	sluice_free_bytes(json);
	rf_teardown(&f, run, c, &pl);
}

/*
 * Flink triggers the final checkpoint as soon as every task reached its
 * end of data instead of waiting for the periodic trigger: with an
 * interval of an hour the bounded job still finishes after a few clock
 * seconds, committed exactly once.
 */
static void test_run__final_checkpoint_is_triggered_at_end_of_data(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	int64_t t0;
	char *json = NULL;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	c = conf_of(&f, "chk", "execution.checkpointing.interval", "1 h", NULL);
	t0 = sluice_clock_mono_ms(&f.tick.clock.base);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	/* far less than the hour of the periodic trigger */
	assert_true(sluice_clock_mono_ms(&f.tick.clock.base) - t0 < 600000);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	assert_int_equal(pl.sink.ended, 2);
	assert_true(LOAD(&pl.notes.complete_calls) >= 2);
	assert_int_equal(sluice_run_stats_json(run, -1, &json), 0);
	assert_int_equal(json_count(json, "completed"), 1);
	assert_int_equal(json_count(json, "failed"), 0);
	sluice_free_bytes(json);
	rf_teardown(&f, run, c, &pl);
}

static void test_run__task_failure_restarts_from_latest_checkpoint(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 200;
	c = conf_of(
		&f, "chk", INTERVAL, "restart-strategy.type", "fixed-delay",
		"restart-strategy.fixed-delay.attempts", "3",
		"restart-strategy.fixed-delay.delay", "200 ms", NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	run_to_gate(&pl, 200, 1);
	/* a "random" point in the rest of the input (fixed seed) */
	srand(42);
	STORE(&pl.count.fail_at, LOAD(&pl.count.processed) + 1 + rand() % 700);
	open_gate(&pl, pl.job);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(res.restarts, 1);
	assert_int_equal(sluice_run_restarts(run), 1);
	assert_int_equal(LOAD(&pl.src.restored), 2); /* from a checkpoint */
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	rf_teardown(&f, run, c, &pl);
}

static void
test_run__restart_strategy_none_fails_with_task_message(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.count.fail_at = 100;
	c = conf_of(&f, "chk", INTERVAL, "restart-strategy.type", "none", NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FAILED);
	assert_non_null(strstr(res.message, "injected failure"));
	assert_int_equal(res.restarts, 0);
	assert_int_equal(sluice_run_state(run), SLUICE_JOB_STATE_FAILED);
	/* the ended run takes no savepoints */
	assert_int_equal(
		sluice_job_trigger_savepoint(run, NULL, NULL), SLUICE_EINVALID);
	rf_teardown(&f, run, c, &pl);
}

static void test_run__restore_latest_after_crash(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	char *json = NULL;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 200;
	c = conf_of(
		&f, "chk", INTERVAL,
		"execution.checkpointing.externalized-checkpoint-retention",
		"RETAIN_ON_CANCELLATION", NULL);
	f.ro.restore_latest = 1;
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, 0, NULL), SLUICE_ETIMEOUT);
	assert_int_equal(sluice_run_restored_id(run), -1);
	run_to_gate(&pl, 200, 1);
	sluice_run_free(run); /* the process goes away */
	assert_int_equal(LOAD(&pl.src.restored), 0);
	STORE(&pl.src.gate, pl.src.n);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_true(sluice_run_restored_id(run) >= 1); /* known at start */
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(res.restored_id, sluice_run_restored_id(run));
	assert_int_equal(LOAD(&pl.src.restored), 2);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	assert_int_equal(sluice_run_stats_json(run, -1, &json), 0);
	assert_int_equal(json_count(json, "restored"), 1);
	sluice_free_bytes(json);
	rf_teardown(&f, run, c, &pl);
}

/* A finished job records so before retention discards its checkpoints:
 * restore-latest then refuses to run it again instead of starting from
 * nothing; a damaged record is an error naming it; a start without
 * restore-latest runs the job and clears the record. */
static void
test_run__restore_latest_of_a_finished_job_runs_nothing(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	char path[256];
	uint8_t *data;
	size_t len;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 1, 1, 1, 100, SLUICE_JOB_EXACTLY_ONCE);
	c = conf_of(&f, "chk", INTERVAL, NULL);
	f.ro.restore_latest = 1;
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	snprintf(
		path, sizeof(path), "%s/chk/%s/_job_result", f.dir,
		run->job_id);
	sluice_run_free(run);
	assert_int_equal(
		sluice_storage_read_all(
			&data, &len, sluice_storage_file_get(), path),
		0);
	assert_non_null(strstr((char *)data, "state FINISHED"));
	sluice_free_bytes(data);

	assert_int_equal(
		sluice_run_start(&run, pl.job, c, &f.ro), SLUICE_EEXISTS);
	assert_null(run);
	assert_non_null(
		strstr(sluice_error_last()->message, "already finished"));

	assert_int_equal(
		sluice_storage_write_file(
			sluice_storage_file_get(), path,
			"sluice-job-result 1\nx", 21),
		0);
	assert_int_equal(
		sluice_run_start(&run, pl.job, c, &f.ro), SLUICE_ECORRUPT);
	assert_non_null(strstr(sluice_error_last()->message, path));

	f.ro.restore_latest = 0; /* an explicit fresh run clears it */
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(
		sluice_storage_exists(sluice_storage_file_get(), path), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	sluice_run_free(run);
	assert_int_equal(
		sluice_storage_exists(sluice_storage_file_get(), path), 1);
	sluice_config_free(c);
	rt_pipeline_free(&pl);
	rf_fx_release(&f);
}

/* A plain savepoint (no notification), then a job with the keyed part at
 * parallelism 3 restores it and finishes with exact counts. */
static void test_run__savepoint_restores_at_other_parallelism(void **state)
{
	rf_fx f;
	pipeline a, b;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	char *path = NULL, meta[256];
	struct stat st;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&a, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	a.src.gate = 200;
	c = conf_of(&f, "chk", NULL); /* no periodic checkpoints */
	assert_int_equal(sluice_run_start(&run, a.job, c, &f.ro), 0);
	run_to_gate(&a, 200, 0);
	assert_int_equal(sluice_job_trigger_savepoint(run, NULL, &path), 0);
	assert_non_null(path);
	assert_non_null(strstr(path, "/sp/savepoint-"));
	snprintf(meta, sizeof(meta), "%s/_metadata", path);
	assert_int_equal(stat(meta, &st), 0);
	assert_int_equal(LOAD(&a.notes.complete_calls), 0);
	sluice_run_free(run);
	sluice_config_free(c);

	rt_pipeline_build(&b, 2, 3, 3, 600, SLUICE_JOB_EXACTLY_ONCE);
	rf_sink_copy(&b.sink, &a.sink);
	c =
		conf_of(&f, "chk2", INTERVAL, "execution.state-recovery.path",
			path, NULL);
	assert_int_equal(sluice_run_start(&run, b.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_true(res.restored_id >= 1);
	assert_int_equal(LOAD(&b.src.restored), 2);
	rt_sink_expect_exact(&b.sink, &b.src, 2);
	/* NO_CLAIM: the savepoint is still there */
	assert_int_equal(stat(meta, &st), 0);
	sluice_run_free(run);
	sluice_config_free(c);
	sluice_free_bytes(path);
	rt_pipeline_free(&a);
	rt_pipeline_free(&b);
	rf_fx_release(&f);
}

/* src -> map -> sink: the pipeline without its keyed counter. */
typedef struct small {
	sluice_job *job;
	src_cfg src;
	notes notes;
	sink_out sink;
} small;

static void small_build(small *s)
{
	sluice_job_options o = {0};
	sluice_vertex_spec v;
	int a, m, k;

	memset(s, 0, sizeof(*s));
	s->src.n = 600;
	s->src.keys = 13;
	s->src.gate = 600;
	rt_sink_init(&s->sink, 1300);
	o.version = SLUICE_JOB_OPTIONS_VERSION;
	o.buffer_size = 256;
	assert_int_equal(sluice_job_new(&s->job, "pipeline", &o), 0);
	v = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "src",  NULL, 2, 0,
				 &rt_source_op,        &s->src};
	assert_int_equal(sluice_job_add(s->job, &a, &v), 0);
	v = (sluice_vertex_spec){SLUICE_VERTEX_OPERATOR,
				 "map",
				 NULL,
				 2,
				 0,
				 &rt_map_op,
				 &s->notes};
	assert_int_equal(sluice_job_add(s->job, &m, &v), 0);
	v = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "sink",  NULL, 2, 0,
				 &rt_sink_op,        &s->sink};
	assert_int_equal(sluice_job_add(s->job, &k, &v), 0);
	assert_int_equal(
		sluice_job_connect(s->job, a, m, 0, SLUICE_EDGE_REBALANCE), 0);
	assert_int_equal(
		sluice_job_connect(s->job, m, k, 0, SLUICE_EDGE_KEY_BY), 0);
}

static void
test_run__stop_with_savepoint_and_ignore_unclaimed_state(void **state)
{
	rf_fx f;
	pipeline a;
	small b;
	sluice_config *c;
	sluice_run *run = NULL;
	sluice_run_result res;
	char *path = NULL;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&a, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	a.src.gate = 200;
	c = conf_of(&f, "chk", INTERVAL, NULL);
	assert_int_equal(sluice_run_start(&run, a.job, c, &f.ro), 0);
	run_to_gate(&a, 200, 0);
	assert_int_equal(sluice_job_stop_with_savepoint(run, NULL, &path), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	sluice_run_free(run);
	sluice_config_free(c);

	/* the counter's state has no operator any more */
	small_build(&b);
	c =
		conf_of(&f, "chk2", INTERVAL, "execution.state-recovery.path",
			path, NULL);
	assert_int_equal(
		sluice_run_start(&run, b.job, c, &f.ro), SLUICE_EINVALID);
	assert_null(run);
	assert_non_null(strstr(sluice_error_last()->message, "count"));
	sluice_config_free(c);
	c =
		conf_of(&f, "chk2", INTERVAL, "execution.state-recovery.path",
			path, "execution.state-recovery.ignore-unclaimed-state",
			"true", NULL);
	assert_int_equal(sluice_run_start(&run, b.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(LOAD(&b.src.restored), 2);
	assert_int_equal(rf_sink_records(&b.sink), 2 * (600 - 200));
	sluice_run_free(run);
	sluice_config_free(c);
	sluice_free_bytes(path);
	rt_pipeline_free(&a);
	sluice_job_free(b.job);
	rt_sink_release(&b.sink);
	rf_fx_release(&f);
}

/* Cancel a run with a completed checkpoint; 1 when one is left. */
static int cancel_leaves_checkpoint(rf_fx *f, const char *sub, const char *ret)
{
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	sluice_checkpoint_meta *m = NULL;
	char jobdir[160], id[33];
	int rc;

	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 200;
	c = conf_of(
		f, sub, INTERVAL,
		"execution.checkpointing.externalized-checkpoint-retention",
		ret, NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f->ro), 0);
	run_to_gate(&pl, 200, 1);
	sluice_run_cancel(run);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_CANCELED);
	sluice_run_free(run);
	sluice_job_id_of("pipeline", id);
	snprintf(jobdir, sizeof(jobdir), "%s/%s/%s", f->dir, sub, id);
	rc = sluice_checkpoint_discover(
		&m, NULL, sluice_storage_file_get(), jobdir, NULL, NULL);
	sluice_checkpoint_meta_free(m);
	sluice_config_free(c);
	rt_pipeline_free(&pl);
	return rc == 0;
}

static void test_run__retention_on_cancel(void **state)
{
	rf_fx f;

	(void)state;
	rf_fx_init(&f, "run");
	assert_true(
		cancel_leaves_checkpoint(&f, "keep", "RETAIN_ON_CANCELLATION"));
	assert_false(
		cancel_leaves_checkpoint(&f, "drop", "DELETE_ON_CANCELLATION"));
	assert_false(cancel_leaves_checkpoint(
		&f, "none", "NO_EXTERNALIZED_CHECKPOINTS"));
	rf_fx_release(&f);
}

/* Run the gated pipeline into a checkpoint (or `n` of them) and drop the
 * run as a crashing process would (checkpoints retained); returns the
 * directory of the newest one. */
static char *
crash_after_checkpoints(rf_fx *f, pipeline *pl, sluice_config *c, int n)
{
	sluice_run *run;
	sluice_checkpoint_meta *m = NULL;
	char jobdir[160], id[33], *dir = NULL;
	rf_notes_wait w = {&pl->notes, 0};

	assert_int_equal(sluice_run_start(&run, pl->job, c, &f->ro), 0);
	run_to_gate(pl, 200, 1);
	w.calls = LOAD(&pl->notes.complete_calls) + 2 * (n - 1);
	assert_true(rt_wait_for(rf_notified_after, &w));
	sluice_run_free(run);
	sluice_job_id_of("pipeline", id);
	snprintf(jobdir, sizeof(jobdir), "%s/chk/%s", f->dir, id);
	assert_int_equal(
		sluice_checkpoint_discover(
			&m, &dir, sluice_storage_file_get(), jobdir, NULL,
			NULL),
		0);
	sluice_checkpoint_meta_free(m);
	return dir;
}

static int file_exists(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

/* Newer checkpoints and failovers continue after the restored id. */
static void expect_ids_after(sluice_run *run, int64_t restored)
{
	sluice__coord_info info;

	sluice__coord_info_get(run->coord, &info);
	assert_true(info.next_id > restored + 1);
	assert_true(info.latest_completed_id > restored);
}

static void test_run__restore_latest_skips_a_broken_checkpoint(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	char *newest, meta[256];
	FILE *fp;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 200;
	c = conf_of(
		&f, "chk", INTERVAL, "execution.checkpointing.num-retained",
		"3",
		"execution.checkpointing.externalized-checkpoint-retention",
		"RETAIN_ON_CANCELLATION", NULL);
	f.ro.restore_latest = 1;
	newest = crash_after_checkpoints(&f, &pl, c, 2);
	snprintf(meta, sizeof(meta), "%s/_metadata", newest);
	assert_non_null(fp = fopen(meta, "wb")); /* a torn write */
	fputs("SLCK", fp);
	fclose(fp);
	STORE(&pl.src.gate, pl.src.n);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_true(res.restored_id >= 1);
	/* an older checkpoint than the broken one */
	assert_non_null(strstr(newest, "/chk-"));
	assert_true(res.restored_id < atoll(strstr(newest, "/chk-") + 5));
	assert_int_equal(LOAD(&pl.src.restored), 2);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	expect_ids_after(run, res.restored_id);
	sluice_run_free(run);
	sluice_free_bytes(newest);
	sluice_config_free(c);
	rt_pipeline_free(&pl);
	rf_fx_release(&f);
}

/* CLAIM: the job owns the restored checkpoint and deletes it once it is
 * subsumed; NO_CLAIM: it is never deleted. */
static void restore_claimed(const char *mode, int expect_kept)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	char *dir;

	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 200;
	c = conf_of(
		&f, "chk", INTERVAL,
		"execution.checkpointing.externalized-checkpoint-retention",
		"RETAIN_ON_CANCELLATION", "execution.state-recovery.claim-mode",
		mode, NULL);
	f.ro.restore_latest = 1;
	dir = crash_after_checkpoints(&f, &pl, c, 1);
	assert_true(file_exists(dir, "_metadata"));
	STORE(&pl.src.gate, pl.src.n);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	assert_int_equal(file_exists(dir, "_metadata"), expect_kept);
	sluice_run_free(run);
	sluice_free_bytes(dir);
	sluice_config_free(c);
	rt_pipeline_free(&pl);
	rf_fx_release(&f);
}

static void test_run__claim_mode_decides_who_deletes_the_snapshot(void **state)
{
	(void)state;
	restore_claimed("CLAIM", 0);
	restore_claimed("NO_CLAIM", 1);
}

/* Without restart-strategy.* and with checkpointing: exponential-delay
 * (initial backoff 1 s of clock time) restarts the job. */
static void test_run__default_restart_strategy_restarts(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.count.fail_at = 300;
	c = conf_of(&f, "chk", INTERVAL, NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(res.restarts, 1);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	rf_teardown(&f, run, c, &pl);
}

static void test_run__missing_recovery_path_fails_the_start(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run = NULL;
	char path[128];

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	snprintf(path, sizeof(path), "%s/nothing-here", f.dir);
	c =
		conf_of(&f, "chk", INTERVAL, "execution.state-recovery.path",
			path, NULL);
	assert_true(sluice_run_start(&run, pl.job, c, &f.ro) < 0);
	assert_null(run);
	assert_non_null(strstr(sluice_error_last()->message, "nothing-here"));
	/* the job is untouched and can run without the path */
	sluice_config_free(c);
	c = conf_of(&f, "chk", INTERVAL, NULL);
	assert_int_equal(sluice_job_run(pl.job, c, &f.ro, NULL), 0);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	sluice_config_free(c);
	rt_pipeline_free(&pl);
	rf_fx_release(&f);
}

/* Every allocation failure while setting a run up is reported as
 * SLUICE_ENOMEM and releases what was built (ASan checks leaks). */
static void test_run__start_out_of_memory_is_clean(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run = NULL;
	long n;
	int rc = -1;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 1, 1, 1, 50, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.hold_init = 1; /* tasks allocate nothing before we stop */
	c = conf_of(&f, "chk", INTERVAL, "restart-strategy.type", "none", NULL);
	for (n = 0; n < 2000 && rc != 0; n++) {
		sluice__alloc_fail_after(n);
		rc = sluice_run_start(&run, pl.job, c, &f.ro);
		sluice__alloc_fail_after(-1);
		if (rc != 0) {
			assert_int_equal(rc, SLUICE_ENOMEM);
			assert_null(run);
		}
	}
	assert_int_equal(rc, 0);
	STORE(&pl.src.hold_init, 0);
	rf_teardown(&f, run, c, &pl);
}

/* The upload of checkpoint 2 fails: ASYNC_EXCEPTION counts against
 * tolerable-failed-checkpoints (0), the coordinator fails the job, and
 * without restarts the run ends with Flink's message. */
static void test_run__upload_failure_exceeds_tolerable_threshold(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	int64_t fail_id = 2;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 200;
	assert_int_equal(
		sluice_job_set_state_provider(pl.job, rt_flaky_new, &fail_id),
		0);
	c = conf_of(&f, "chk", INTERVAL, "restart-strategy.type", "none", NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FAILED);
	assert_non_null(
		strstr(res.message,
		       "Exceeded checkpoint tolerable failure threshold."));
	rf_teardown(&f, run, c, &pl);
}

static int restarted(void *arg)
{
	return sluice_run_restarts(arg) > 0;
}

/* A source fails in the synchronous phase of checkpoint 2: the task
 * fails, the job restarts and still counts exactly once. */
static void test_run__snapshot_failure_restarts(void **state)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;

	(void)state;
	rf_fx_init(&f, "run");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 200;
	pl.src.fail_sync = 2;
	c = conf_of(
		&f, "chk", INTERVAL, "restart-strategy.type", "fixed-delay",
		"restart-strategy.fixed-delay.attempts", "2", NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_true(rt_wait_for(restarted, run));
	open_gate(&pl, pl.job);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(res.restarts, 1);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	rf_teardown(&f, run, c, &pl);
}

static void test_run__job_id_is_stable_hex(void **state)
{
	char a[33], b[33], c[33];
	int i;

	(void)state;
	sluice_job_id_of("orders", a);
	sluice_job_id_of("orders", b);
	sluice_job_id_of("orders2", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 32);
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run__job_id_is_stable_hex),
		cmocka_unit_test(
			test_run__bounded_job_finishes_with_final_checkpoint),
		cmocka_unit_test(
			test_run__final_checkpoint_is_triggered_at_end_of_data),
		cmocka_unit_test(
			test_run__task_failure_restarts_from_latest_checkpoint),
		cmocka_unit_test(
			test_run__restart_strategy_none_fails_with_task_message),
		cmocka_unit_test(test_run__restore_latest_after_crash),
		cmocka_unit_test(
			test_run__restore_latest_of_a_finished_job_runs_nothing),
		cmocka_unit_test(
			test_run__savepoint_restores_at_other_parallelism),
		cmocka_unit_test(
			test_run__stop_with_savepoint_and_ignore_unclaimed_state),
		cmocka_unit_test(test_run__retention_on_cancel),
		cmocka_unit_test(
			test_run__restore_latest_skips_a_broken_checkpoint),
		cmocka_unit_test(
			test_run__claim_mode_decides_who_deletes_the_snapshot),
		cmocka_unit_test(test_run__default_restart_strategy_restarts),
		cmocka_unit_test(
			test_run__missing_recovery_path_fails_the_start),
		cmocka_unit_test(test_run__start_out_of_memory_is_clean),
		cmocka_unit_test(
			test_run__upload_failure_exceeds_tolerable_threshold),
		cmocka_unit_test(test_run__snapshot_failure_restarts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
