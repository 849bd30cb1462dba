/*
 * Incremental RocksDB checkpoints through jobs: sluice_run with
 * `state.backend.type: rocksdb` and `execution.checkpointing.incremental`
 * on file checkpoint storage, driving the runtime harness' pipeline
 * (gated source -> map -> keyed counter -> sink, exact counts checked).
 * A manual clock advanced by a ticker thread, as in test_run.c.
 *
 * Covered: many checkpoints with small changes upload only new files
 * (statistics: checkpointed_size well below state_size once the base is
 * uploaded); `_metadata` carries incremental handles with real shared
 * handles (no placeholders) and verifies; retention deletes shared files
 * no retained checkpoint references and never a referenced one; restoring
 * an older retained checkpoint after the live database compacted its
 * files away; rescaling 2->3 and 3->1 from incremental checkpoints; a
 * savepoint of rocksdb restores into hashmap and back (canonical); a
 * task failure restarts in-process from incremental state; incremental
 * state refused by the hashmap backend.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>
#include <cmocka.h>

#include "run_fixture.h"
#include "runtime_harness.h"
#include "sluice/config.h"
#include "sluice/log.h"
#include "sluice/sys/metadata.h"

/* ---- fixtures ---------------------------------------------------------- */

/*
 * A validated configuration: checkpoints into <dir>/<sub> (every file a
 * file: inline threshold 0), savepoints into <dir>/sp, rocksdb with its
 * instances under <dir>/local, plus NULL-terminated key/value pairs
 * (later ones win).
 */
static sluice_config *conf_of(const rf_fx *f, const char *sub, ...)
{
	sluice_config *c = rf_conf_begin(f, sub);
	va_list ap;

	rf_conf_set_path(c, f, "state.backend.rocksdb.localdir", "local");
	rf_conf_set(c, "execution.checkpointing.data-inline-threshold", "0");
	rf_conf_set(c, "execution.checkpointing.interval", "100 ms");
	rf_conf_set(c, "state.backend.type", "rocksdb");
	rf_conf_set(c, "execution.checkpointing.incremental", "true");
	rf_conf_set(c, "state.backend.rocksdb.writebuffer.size", "1 mb");
	va_start(ap, sub);
	rf_conf_end(c, ap);
	va_end(ap);
	return c;
}

#define RETAIN                                                       \
	"execution.checkpointing.externalized-checkpoint-retention", \
		"RETAIN_ON_CANCELLATION"

/* Let the sources emit up to `gate`, wait until the sink saw it all and
 * every map subtask (`mp` of them) heard of a checkpoint after that. */
static void advance(pipeline *pl, int64_t gate, int mp)
{
	rf_sink_wait w = {&pl->sink, gate * pl->sp};
	rf_notes_wait nw = {&pl->notes, 0};

	STORE(&pl->src.gate, gate);
	sluice_job_wakeup(pl->job);
	assert_true(rt_wait_for(rf_sink_reached, &w));
	nw.calls = LOAD(&pl->notes.complete_calls) + 2 * mp;
	assert_true(rt_wait_for(rf_notified_after, &nw));
}

static void job_dir(const rf_fx *f, const char *sub, char *out, size_t cap)
{
	char id[33];

	sluice_job_id_of("pipeline", id);
	snprintf(out, cap, "%s/%s/%s", f->dir, sub, id);
}

/* The newest checkpoint of <dir>/<sub> that reads and verifies.  The job
 * may be running: discovery can list chk-<n+1> before its `_metadata` is
 * there and chk-<n> just before retention deletes it, finding neither, so
 * a miss is retried a few times. */
static sluice_checkpoint_meta *
latest(const rf_fx *f, const char *sub, char **dir)
{
	sluice_checkpoint_meta *m = NULL;
	char jd[160];
	int rc, tries = 0;

	job_dir(f, sub, jd, sizeof(jd));
	while ((rc = sluice_checkpoint_discover(
			&m, dir, sluice_storage_file_get(), jd, NULL, NULL)) ==
		       SLUICE_ENOTFOUND &&
	       ++tries < 100)
		rt_pause_1ms();
	assert_int_equal(rc, 0);
	return m;
}

/* Field `name` of the statistics document of checkpoint `id`. */
static double stat_of(sluice_run *run, int64_t id, const char *name)
{
	char *json = NULL;
	cJSON *doc, *v;
	double d;

	assert_int_equal(sluice_run_stats_json(run, id, &json), 0);
	assert_non_null(doc = cJSON_Parse(json));
	assert_non_null(v = cJSON_GetObjectItemCaseSensitive(doc, name));
	d = v->valuedouble;
	cJSON_Delete(doc);
	sluice_free_bytes(json);
	return d;
}

static const sluice_subtask_state *
subtask_of(const sluice_checkpoint_meta *m, const char *uid, int i)
{
	uint32_t o;

	for (o = 0; o < m->num_operators; o++)
		if (!strcmp(m->operators[o].uid, uid))
			return &m->operators[o].subtasks[i];
	fail_msg("no operator %s", uid);
	return NULL;
}

/* ---- tests ------------------------------------------------------------- */

/*
 * A big base (30011 keys), then rounds of 30 records:
 * after the base is uploaded, each checkpoint uploads only its new SST
 * and the private files, far below the state size; `_metadata` holds
 * incremental handles with real shared handles; the run finishes with
 * exact counts.
 */
static void test_rocksdb_jobs__small_changes_upload_only_new_files(void **s)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	sluice_checkpoint_meta *m;
	const sluice_subtask_state *st;
	double ratio, best = 1.0, sum_ck = 0, sum_state = 0;
	int64_t id, base, gate = 30011;
	uint32_t i;
	int round;

	(void)s;
	rf_fx_init(&f, "rdbjob");
	rt_pipeline_build(
		&pl, 1, 2, 2, 30011 + 9 * 30, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.keys = 30011;
	pl.src.gate = 0;
	c = conf_of(&f, "chk", RETAIN, NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	advance(&pl, gate, 2);
	base = LOAD(&pl.notes.last_complete);
	for (round = 0; round < 8; round++) {
		advance(&pl, gate += 30, 2);
		id = LOAD(&pl.notes.last_complete);
		assert_true(id > base);
		ratio = stat_of(run, id, "checkpointed_size") /
			stat_of(run, id, "state_size");
		assert_true(ratio < 1.0);
		sum_ck += stat_of(run, id, "checkpointed_size");
		sum_state += stat_of(run, id, "state_size");
		if (ratio < best)
			best = ratio;
		if (getenv("SLUICE_TEST_LOG"))
			fprintf(stderr, "checkpoint %lld: %.0f of %.0f bytes\n",
				(long long)id,
				stat_of(run, id, "checkpointed_size"),
				stat_of(run, id, "state_size"));
	}
	/* most rounds add one small SST to a base of ~4001 keys; a compaction
	 * now and then rewrites the base */
	assert_true(best < 0.3);
	assert_true(sum_ck < 0.7 * sum_state);
	m = latest(&f, "chk", NULL);
	st = subtask_of(m, "count", 0);
	assert_int_equal(st->num_incremental, 1);
	assert_int_equal(st->num_keyed, 0);
	assert_true(st->incremental[0]->num_shared >= 1);
	assert_int_equal(st->num_shared, st->incremental[0]->num_shared);
	for (i = 0; i < st->incremental[0]->num_shared; i++)
		assert_int_equal(
			st->incremental[0]->shared_files[i].handle->kind,
			SLUICE_HANDLE_FILE);
	sluice_checkpoint_meta_free(m);
	sluice_run_cancel(run);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_CANCELED);
	assert_int_equal(pl.sink.wrong, 0);
	rf_teardown(&f, run, c, &pl);
}

/* Paths of the shared references of every checkpoint seen so far. */
typedef struct seen_files {
	char **v;
	size_t n;
} seen_files;

static int seen_has(const seen_files *s, const char *p)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], p))
			return 1;
	return 0;
}

static void remember(seen_files *s, const sluice_checkpoint_meta *m)
{
	uint32_t o, t, k;

	for (o = 0; o < m->num_operators; o++)
		for (t = 0; t < m->operators[o].num_subtasks; t++) {
			const sluice_subtask_state *st =
				&m->operators[o].subtasks[t];

			for (k = 0; k < st->num_shared; k++) {
				const char *p = st->shared[k].handle->path;

				if (seen_has(s, p))
					continue;
				s->v = realloc(
					s->v, (s->n + 1) * sizeof(char *));
				assert_non_null(s->v);
				s->v[s->n++] = strdup(p);
			}
		}
}

static int referenced_by(const sluice_checkpoint_meta *m, const char *p)
{
	seen_files one = {NULL, 0};
	int r;
	size_t i;

	remember(&one, m);
	r = seen_has(&one, p);
	for (i = 0; i < one.n; i++)
		free(one.v[i]);
	free(one.v);
	return r;
}

static int exists(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0;
}

/* Run 12 rounds of 40 records per source into checkpoints of <dir>/chk
 * with `retained` kept, remembering every completed one's shared files;
 * cancel (checkpoints stay); the ids of the first and last round. */
static void
rounds(rf_fx *f,
       pipeline *pl,
       const char *retained,
       seen_files *seen,
       int64_t *first,
       int64_t *last)
{
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	sluice_checkpoint_meta *m;
	int64_t gate = 0;
	int round;

	c =
		conf_of(f, "chk", RETAIN,
			"execution.checkpointing.num-retained", retained, NULL);
	assert_int_equal(sluice_run_start(&run, pl->job, c, &f->ro), 0);
	for (round = 0; round < 12; round++) {
		advance(pl, gate += 40, 2);
		m = latest(f, "chk", NULL);
		remember(seen, m);
		if (!round)
			*first = m->checkpoint_id;
		*last = m->checkpoint_id;
		sluice_checkpoint_meta_free(m);
	}
	sluice_run_cancel(run);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_CANCELED);
	sluice_run_free(run);
	sluice_config_free(c);
}

static void seen_release(seen_files *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static sluice_checkpoint_meta *load_chk(const rf_fx *f, int64_t id, char *path)
{
	sluice_checkpoint_meta *m;
	char jd[160];

	job_dir(f, "chk", jd, sizeof(jd));
	snprintf(path, 200, "%s/chk-%lld", jd, (long long)id);
	assert_int_equal(
		sluice_checkpoint_load(
			&m, NULL, sluice_storage_file_get(), path),
		0);
	assert_int_equal(
		sluice_checkpoint_verify(
			sluice_storage_file_get(), path, m, NULL, NULL),
		0);
	return m;
}

/*
 * num-retained 2 over twelve checkpoints with compactions: every shared
 * file a completed checkpoint referenced exists exactly when one of the
 * two retained checkpoints references it, and they verify.
 */
static void test_rocksdb_jobs__retention_deletes_only_unreferenced(void **s)
{
	rf_fx f;
	pipeline pl;
	sluice_checkpoint_meta *newest, *older;
	seen_files seen = {NULL, 0};
	char path[200];
	int64_t first, last;
	size_t i, deleted = 0;

	(void)s;
	rf_fx_init(&f, "rdbjob");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 0;
	rounds(&f, &pl, "2", &seen, &first, &last);
	newest = latest(&f, "chk", NULL);
	assert_true(newest->checkpoint_id >= last);
	older = load_chk(&f, newest->checkpoint_id - 1, path);
	for (i = 0; i < seen.n; i++) {
		int ref = referenced_by(newest, seen.v[i]) ||
			  referenced_by(older, seen.v[i]);

		assert_int_equal(exists(seen.v[i]), ref);
		deleted += !ref;
	}
	assert_true(deleted > 0); /* compactions replaced files */
	seen_release(&seen);
	sluice_checkpoint_meta_free(older);
	sluice_checkpoint_meta_free(newest);
	rt_pipeline_free(&pl);
	rf_fx_release(&f);
}

/*
 * Every checkpoint retained: the first one's SST files were compacted
 * away in the live database (the newest no longer references them), and
 * it still restores into a new run that finishes with exact counts.
 */
static void test_rocksdb_jobs__restore_after_live_db_compacted(void **s)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	sluice_checkpoint_meta *newest, *oldest;
	const sluice_subtask_state *st;
	seen_files seen = {NULL, 0};
	char path[200];
	int64_t first, last;
	uint32_t i, gone = 0;

	(void)s;
	rf_fx_init(&f, "rdbjob");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 0;
	rounds(&f, &pl, "100", &seen, &first, &last);
	newest = latest(&f, "chk", NULL);
	oldest = load_chk(&f, first, path);
	st = subtask_of(oldest, "count", 0);
	assert_int_equal(st->num_incremental, 1);
	for (i = 0; i < st->num_shared; i++)
		gone += !referenced_by(newest, st->shared[i].handle->path);
	assert_true(gone > 0);

	c = conf_of(&f, "chk2", "execution.state-recovery.path", path, NULL);
	STORE(&pl.src.gate, pl.src.n);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(res.restored_id, first);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	sluice_run_free(run);
	seen_release(&seen);
	sluice_checkpoint_meta_free(oldest);
	sluice_checkpoint_meta_free(newest);
	sluice_config_free(c);
	rt_pipeline_free(&pl);
	rf_fx_release(&f);
}

/* Run a fresh `pl` into <f>/chk (retained) until `gate` records per
 * source went through and two more checkpoints completed, then let the
 * process go away; the newest checkpoint, its directory in *dir. */
static sluice_checkpoint_meta *
run_then_crash(rf_fx *f, pipeline *pl, int64_t gate, char **dir)
{
	sluice_config *c = conf_of(f, "chk", RETAIN, NULL);
	sluice_run *run;

	pl->src.gate = 0;
	assert_int_equal(sluice_run_start(&run, pl->job, c, &f->ro), 0);
	advance(pl, gate, 2);
	sluice_run_free(run);
	sluice_config_free(c);
	return latest(f, "chk", dir);
}

/* Restore checkpoint `id` in `dir` into the built pipeline `to` (its sink
 * carrying what `from`'s saw), checkpointing into <f>/<sub>, and run it to
 * the end: finished, restored from `id`, exactly once over both runs. */
static void finish_restored(
	rf_fx *f,
	pipeline *to,
	const pipeline *from,
	const char *sub,
	const char *dir,
	int64_t id)
{
	sluice_config *c =
		conf_of(f, sub, "execution.state-recovery.path", dir, NULL);
	sluice_run *run;
	sluice_run_result res;

	rf_sink_copy(&to->sink, &from->sink);
	assert_int_equal(sluice_run_start(&run, to->job, c, &f->ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(res.restored_id, id);
	rt_sink_expect_exact(&to->sink, &to->src, 2);
	sluice_run_free(run);
	sluice_config_free(c);
}

/* Run `from_p` counters to a checkpoint at 200 records per source, crash,
 * and restore the newest checkpoint with `to_p` counters. */
static void rescale(int from_p, int to_p)
{
	rf_fx f;
	pipeline a, b;
	sluice_checkpoint_meta *m;
	char *dir = NULL;

	rf_fx_init(&f, "rdbjob");
	rt_pipeline_build(&a, 2, 2, from_p, 600, SLUICE_JOB_EXACTLY_ONCE);
	m = run_then_crash(&f, &a, 200, &dir);
	assert_int_equal(subtask_of(m, "count", 0)->num_incremental, 1);

	rt_pipeline_build(&b, 2, 2, to_p, 600, SLUICE_JOB_EXACTLY_ONCE);
	finish_restored(&f, &b, &a, "chk2", dir, m->checkpoint_id);
	assert_int_equal(LOAD(&b.src.restored), 2);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
	rt_pipeline_free(&a);
	rt_pipeline_free(&b);
	rf_fx_release(&f);
}

/* A subtask restored from three keeps them as shards; its checkpoints
 * carry one handle of three parts, which restores at parallelism 2. */
static void test_rocksdb_jobs__rescale_3_to_1_then_1_to_2(void **s)
{
	rf_fx f;
	pipeline a, b, c2;
	sluice_config *c;
	sluice_run *run;
	sluice_checkpoint_meta *m;
	const sluice_subtask_state *st;
	char *dir = NULL;
	uint32_t i, framed = 0;

	(void)s;
	rf_fx_init(&f, "rdbjob");
	rt_pipeline_build(&a, 2, 2, 3, 900, SLUICE_JOB_EXACTLY_ONCE);
	m = run_then_crash(&f, &a, 100, &dir);

	rt_pipeline_build(&b, 2, 2, 1, 900, SLUICE_JOB_EXACTLY_ONCE);
	rf_sink_copy(&b.sink, &a.sink);
	STORE(&b.src.gate, 100);
	c = conf_of(
		&f, "chk2", RETAIN, "execution.state-recovery.path", dir, NULL);
	sluice_free_bytes(dir);
	sluice_checkpoint_meta_free(m);
	assert_int_equal(sluice_run_start(&run, b.job, c, &f.ro), 0);
	{
		/* this run emits at least 200 per source, then two more
		 * checkpoints complete */
		rf_sink_wait w = {&b.sink, 400};
		rf_notes_wait nw = {&b.notes, 0};

		STORE(&b.src.gate, 300);
		sluice_job_wakeup(b.job);
		assert_true(rt_wait_for(rf_sink_reached, &w));
		nw.calls = LOAD(&b.notes.complete_calls) + 4;
		assert_true(rt_wait_for(rf_notified_after, &nw));
	}
	sluice_run_free(run);
	sluice_config_free(c);
	m = latest(&f, "chk2", &dir);
	st = subtask_of(m, "count", 0);
	assert_int_equal(st->num_incremental, 1);
	for (i = 0; i < st->incremental[0]->num_shared; i++)
		framed += !strncmp(
			st->incremental[0]->shared_files[i].name, "kg-", 3);
	assert_true(framed > 0);
	assert_int_equal(framed, st->incremental[0]->num_shared);

	rt_pipeline_build(&c2, 2, 2, 2, 900, SLUICE_JOB_EXACTLY_ONCE);
	finish_restored(&f, &c2, &b, "chk3", dir, m->checkpoint_id);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
	rt_pipeline_free(&a);
	rt_pipeline_free(&b);
	rt_pipeline_free(&c2);
	rf_fx_release(&f);
}

static void test_rocksdb_jobs__rescale_2_to_3(void **s)
{
	(void)s;
	rescale(2, 3);
}

static void test_rocksdb_jobs__rescale_3_to_1(void **s)
{
	(void)s;
	rescale(3, 1);
}

/* Take a savepoint at `gate` records per source with `backend`, restoring
 * from `from` (NULL: fresh); returns its path. */
static char *savepoint_step(
	rf_fx *f,
	pipeline *pl,
	const char *sub,
	const char *backend,
	const char *from,
	int64_t gate)
{
	sluice_config *c;
	sluice_run *run;
	char *path = NULL;

	c = from ? conf_of(f, sub, "state.backend.type", backend,
			   "execution.state-recovery.path", from, NULL)
		 : conf_of(f, sub, "state.backend.type", backend, NULL);
	assert_int_equal(sluice_run_start(&run, pl->job, c, &f->ro), 0);
	advance(pl, gate, 2);
	assert_int_equal(sluice_job_trigger_savepoint(run, NULL, &path), 0);
	sluice_run_free(run);
	sluice_config_free(c);
	return path;
}

/*
 * rocksdb (incremental checkpoints) -> savepoint -> hashmap -> savepoint
 * -> rocksdb finishes with exact counts: savepoints stay canonical.
 */
static void test_rocksdb_jobs__savepoint_moves_between_backends(void **s)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;
	sluice_checkpoint_meta *m;
	char *sp1, *sp2;

	(void)s;
	rf_fx_init(&f, "rdbjob");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 0;
	sp1 = savepoint_step(&f, &pl, "a", "rocksdb", NULL, 150);
	assert_int_equal(
		sluice_checkpoint_load(
			&m, NULL, sluice_storage_file_get(), sp1),
		0);
	assert_int_equal(subtask_of(m, "count", 0)->num_incremental, 0);
	assert_int_equal(subtask_of(m, "count", 0)->num_keyed, 1);
	sluice_checkpoint_meta_free(m);
	sp2 = savepoint_step(&f, &pl, "b", "hashmap", sp1, 300);
	c = conf_of(&f, "c", "execution.state-recovery.path", sp2, NULL);
	STORE(&pl.src.gate, pl.src.n);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	sluice_run_free(run);
	sluice_config_free(c);
	sluice_free_bytes(sp1);
	sluice_free_bytes(sp2);
	rt_pipeline_free(&pl);
	rf_fx_release(&f);
}

/* A task failure mid-run restarts the job in-process from the newest
 * incremental checkpoint (restart strategy): exact counts at the end. */
static void test_rocksdb_jobs__failover_restores_incremental_state(void **s)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run;
	sluice_run_result res;

	(void)s;
	rf_fx_init(&f, "rdbjob");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 0;
	c =
		conf_of(&f, "chk", "restart-strategy.type", "fixed-delay",
			"restart-strategy.fixed-delay.attempts", "3",
			"restart-strategy.fixed-delay.delay", "200 ms", NULL);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &f.ro), 0);
	advance(&pl, 100, 2);
	advance(&pl, 200, 2);
	STORE(&pl.count.fail_at, LOAD(&pl.count.processed) + 150);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(res.restarts, 1);
	assert_int_equal(LOAD(&pl.src.restored), 2);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	rf_teardown(&f, run, c, &pl);
}

/* Incremental (native) state does not restore into hashmap: the start
 * fails naming the backend, instead of losing state. */
static void test_rocksdb_jobs__hashmap_refuses_incremental_state(void **s)
{
	rf_fx f;
	pipeline pl;
	sluice_config *c;
	sluice_run *run = NULL;
	char *dir = NULL;
	sluice_checkpoint_meta *m;

	(void)s;
	rf_fx_init(&f, "rdbjob");
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	m = run_then_crash(&f, &pl, 100, &dir);
	c =
		conf_of(&f, "chk2", "state.backend.type", "hashmap",
			"execution.state-recovery.path", dir, NULL);
	run = NULL;
	assert_true(sluice_run_start(&run, pl.job, c, &f.ro) < 0);
	assert_null(run);
	assert_non_null(strstr(
		sluice_error_last()->message, "state.backend.type: rocksdb"));
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
	sluice_config_free(c);
	rt_pipeline_free(&pl);
	rf_fx_release(&f);
}

/* SLUICE_TEST_LOG=1 prints the library's log (debugging). */
static void log_line(sluice_log_level l, const char *line, void *p)
{
	(void)p;
	fprintf(stderr, "[%s] %s\n", sluice_log_level_name(l), line);
}

int main(void)
{
	if (getenv("SLUICE_TEST_LOG"))
		sluice_log_set(log_line, NULL, SLUICE_LOG_INFO);
	if (getenv("SLUICE_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SLUICE_TEST_FILTER"));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_rocksdb_jobs__small_changes_upload_only_new_files),
		cmocka_unit_test(
			test_rocksdb_jobs__retention_deletes_only_unreferenced),
		cmocka_unit_test(
			test_rocksdb_jobs__restore_after_live_db_compacted),
		cmocka_unit_test(test_rocksdb_jobs__rescale_2_to_3),
		cmocka_unit_test(test_rocksdb_jobs__rescale_3_to_1),
		cmocka_unit_test(test_rocksdb_jobs__rescale_3_to_1_then_1_to_2),
		cmocka_unit_test(
			test_rocksdb_jobs__savepoint_moves_between_backends),
		cmocka_unit_test(
			test_rocksdb_jobs__failover_restores_incremental_state),
		cmocka_unit_test(
			test_rocksdb_jobs__hashmap_refuses_incremental_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
