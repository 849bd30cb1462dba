/*
 * The keyed-backend state provider (sluice_keyed_state_provider_factory)
 * under the runtime: the standard pipeline of runtime_harness.h fails and
 * restarts from a checkpoint on file storage with the hashmap and the
 * rocksdb backend and must count exactly; restores at a new counter
 * parallelism (2→3, 3→1) count exactly; operator state is redistributed
 * on rescale (SPLIT even split, UNION to all); and the provider alone:
 * absent values, snapshot isolation, restore of a snapshot, mode of
 * restored union state, configuration choosing the backend.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>
#include <sys/stat.h>

#include "runtime_harness.h"
#include "sluice/config.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

#define S(s) SLUICE_SLICE((s), strlen(s))

/* Provider configuration for a backend, small RocksDB buffers. */
static void provider_config(sluice_keyed_provider_config *pc, const char *be)
{
	sluice_keyed_provider_config_init(pc);
	pc->keyed.backend = be;
	pc->rocksdb.write_buffer_size = 1 << 20;
	pc->rocksdb.block_cache_size = 1 << 20;
}

/* Checkpoint storage in a fresh temp dir (every stream a file). */
static sluice_checkpoint_storage *file_storage(char *tmpl)
{
	sluice_storage_options o;
	sluice_checkpoint_storage *cs;

	assert_non_null(mkdtemp(tmpl));
	sluice_storage_options_init(&o);
	o.checkpoint_dir = tmpl;
	o.inline_threshold = 0;
	assert_int_equal(
		sluice_checkpoint_storage_new(
			&cs, &o, "0123456789abcdef0123456789abcdef"),
		0);
	return cs;
}

static void file_storage_free(sluice_checkpoint_storage *cs, const char *dir)
{
	sluice_checkpoint_storage_free(cs);
	assert_int_equal(
		sluice_storage_remove_tree(sluice_storage_file_get(), dir), 0);
	/* empty scope directories (shared/, taskowned/) go too */
	assert_int_equal(access(dir, F_OK), -1);
}

/* ---- fail and restart ------------------------------------------------- */

/*
 * The exact-count run of test_runtime.c on file storage with the keyed
 * provider: checkpoint at a third, fail the counter later with periodic
 * checkpoints flowing, restart from the newest completed checkpoint.
 */
static void run_fail_and_restart(const char *backend, int sp, int mp, int cp)
{
	char tmpl[] = "/tmp/sluice-prov-XXXXXX";
	sluice_checkpoint_storage *cs = file_storage(tmpl);
	sluice_keyed_provider_config pc;
	pipeline pl;
	coord c;
	sluice_job_responder r;
	sluice_job_restore rs;
	wait_id w;
	int i, keyed = 0;

	provider_config(&pc, backend);
	rt_pipeline_build(&pl, sp, mp, cp, 2400, SLUICE_JOB_EXACTLY_ONCE);
	assert_int_equal(
		sluice_job_set_state_provider(
			pl.job, sluice_keyed_state_provider_factory, &pc),
		0);
	rt_coord_init(&c, pl.job);
	rt_coord_use_storage(&c, cs);
	r = rt_responder_of(&c);
	STORE(&pl.src.gate, pl.src.n / 3);
	rt_start_running(pl.job, &r, NULL);
	pl.count.target = pl.src.n / 3 * sp;
	assert_true(rt_wait_for(rt_counted_target, &pl.count));
	w = (wait_id){&c, rt_coord_trigger(&c)};
	assert_true(rt_wait_for(rt_completed_reached, &w));
	STORE(&pl.count.fail_at, LOAD(&pl.count.processed) + 500 + 97 * sp);
	rt_coord_start_periodic(&c, 2);
	STORE(&pl.src.gate, pl.src.n);
	sluice_job_wakeup(pl.job);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	rt_coord_stop_periodic(&c);
	assert_int_equal(sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FAILED);
	if (!strstr(sluice_job_failure(pl.job), "injected failure"))
		fail_msg("job failure: %s", sluice_job_failure(pl.job));
	sluice_job_stop(pl.job);
	for (i = 0; i < c.num_tasks; i++)
		if (c.completed[i]->keyed) {
			assert_int_equal(
				c.completed[i]->keyed->stream->kind,
				SLUICE_HANDLE_FILE);
			keyed++;
		}
	assert_int_equal(keyed, cp); /* every counter subtask has keys */

	rt_coord_reset_run(&c);
	STORE(&pl.count.fail_at, 0);
	rt_restore_of(&c, &rs);
	assert_non_null(rs.storage);
	assert_int_equal(sluice_job_start(pl.job, &r, &rs), 0);
	assert_int_equal(sluice_job_wait(pl.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(pl.job), SLUICE_JOB_STATE_FINISHED);
	assert_int_equal(LOAD(&pl.src.restored), sp);
	sluice_job_stop(pl.job);
	rt_sink_expect_exact(&pl.sink, &pl.src, sp);
	rt_coord_release(&c);
	rt_pipeline_free(&pl);
	file_storage_free(cs, tmpl);
}

static void
test_runtime_provider__hashmap_exactly_once_after_failure(void **state)
{
	(void)state;
	run_fail_and_restart("hashmap", 2, 2, 3);
}

static void
test_runtime_provider__rocksdb_exactly_once_after_failure(void **state)
{
	(void)state;
	run_fail_and_restart("rocksdb", 2, 2, 3);
}

/* ---- rescaled restore -------------------------------------------------- */

/*
 * Half the input at counter parallelism `from`, checkpoint on file
 * storage, stop; the same pipeline at counter parallelism `to` restores
 * and finishes: together the two runs count every key exactly.
 */
static void run_rescale(const char *backend, int from, int to)
{
	char tmpl[] = "/tmp/sluice-prov-XXXXXX";
	sluice_checkpoint_storage *cs = file_storage(tmpl);
	sluice_keyed_provider_config pc;
	pipeline a, b;
	coord ca, cb;
	sluice_job_responder ra, rb;
	sluice_job_restore rs;
	wait_id w;
	int k;

	provider_config(&pc, backend);
	rt_pipeline_build(&a, 2, 2, from, 1000, SLUICE_JOB_EXACTLY_ONCE);
	assert_int_equal(
		sluice_job_set_state_provider(
			a.job, sluice_keyed_state_provider_factory, &pc),
		0);
	rt_coord_init(&ca, a.job);
	rt_coord_use_storage(&ca, cs);
	ra = rt_responder_of(&ca);
	STORE(&a.src.gate, 500);
	rt_start_running(a.job, &ra, NULL);
	a.count.target = 500 * 2;
	assert_true(rt_wait_for(rt_counted_target, &a.count));
	w = (wait_id){&ca, rt_coord_trigger(&ca)};
	assert_true(rt_wait_for(rt_completed_reached, &w));
	sluice_job_stop(a.job);

	rt_pipeline_build(&b, 2, 2, to, 1000, SLUICE_JOB_EXACTLY_ONCE);
	assert_int_equal(
		sluice_job_set_state_provider(
			b.job, sluice_keyed_state_provider_factory, &pc),
		0);
	rt_coord_init(&cb, b.job);
	rb = rt_responder_of(&cb);
	rt_restore_of(&ca, &rs);
	assert_int_equal(sluice_job_start(b.job, &rb, &rs), 0);
	assert_int_equal(sluice_job_wait(b.job, RT_WAIT_MS), 0);
	assert_int_equal(
		sluice_job_state_get(b.job), SLUICE_JOB_STATE_FINISHED);
	sluice_job_stop(b.job);
	assert_int_equal(b.sink.wrong, 0);
	for (k = 0; k < MAX_KEYS; k++) {
		size_t i;

		for (i = 0; i < a.sink.cap && i < b.sink.cap; i++)
			b.sink.seen[k][i] |= a.sink.seen[k][i];
	}
	rt_sink_expect_exact(&b.sink, &b.src, 2);
	rt_coord_release(&ca);
	rt_coord_release(&cb);
	rt_pipeline_free(&a);
	rt_pipeline_free(&b);
	file_storage_free(cs, tmpl);
}

static void test_runtime_provider__rescale_2_to_3_counts_exactly(void **state)
{
	(void)state;
	run_rescale("hashmap", 2, 3);
}

static void test_runtime_provider__rescale_3_to_1_counts_exactly(void **state)
{
	(void)state;
	run_rescale("hashmap", 3, 1);
}

static void
test_runtime_provider__rocksdb_rescale_2_to_3_counts_exactly(void **state)
{
	(void)state;
	run_rescale("rocksdb", 2, 3);
}

/* ---- operator state redistribution ----------------------------------- */

#define MAX_SUB 4

/* What each subtask of the probe saw in initialize_state. */
typedef struct probe {
	pthread_mutex_t lock;
	int restored[MAX_SUB];
	char split[MAX_SUB][64]; /* elements concatenated with ',' */
	size_t nsplit[MAX_SUB];
	char uni[MAX_SUB][64];
	size_t nuni[MAX_SUB];
	int end; /* atomic: live probe sources end */
} probe;

static void
join(char *out, size_t cap, const sluice_slice *e, size_t n, size_t *count)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		size_t l = strlen(out);

		snprintf(
			out + l, cap - l, "%s%.*s", l ? "," : "", (int)e[i].len,
			(const char *)e[i].data);
	}
	*count = n;
}

static int probe_init(sluice_ctx *ctx, int restored)
{
	probe *p = sluice_ctx_arg(ctx);
	int32_t i = sluice_ctx_subtask(ctx);
	const sluice_slice *e;
	size_t n;
	int rc;

	pthread_mutex_lock(&p->lock);
	p->restored[i] = restored;
	if ((rc = sluice_ctx_opstate_get(ctx, "s", &e, &n)) >= 0) {
		join(p->split[i], sizeof(p->split[i]), e, n, &p->nsplit[i]);
		rc = sluice_ctx_opstate_get(ctx, "u", &e, &n);
	}
	if (rc >= 0)
		join(p->uni[i], sizeof(p->uni[i]), e, n, &p->nuni[i]);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static int probe_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	(void)ctx;
	*status = SLUICE_SOURCE_END;
	return 0;
}

static int drop(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	(void)ctx;
	(void)input;
	(void)rec;
	return 0;
}

static const sluice_operator probe_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.initialize_state = probe_init,
	.poll = probe_poll,
};

static const sluice_operator drop_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = drop,
};

/* Old subtask `i` of 2: split {s<3i>..}, union {u<i>}, INLINE handle. */
static sluice_task_snapshot *old_snapshot(int i)
{
	static const char *const split[2][3] = {
		{"s0", "s1", "s2"}, {"s3", "s4", NULL}};
	sluice_task_snapshot *t = calloc(1, sizeof(*t));
	sluice_operator_state *os;
	sluice_ostream *out;
	char u[8];
	int j;

	assert_non_null(t);
	assert_int_equal(sluice_operator_state_new(&os), 0);
	for (j = 0; j < 3 && split[i][j]; j++)
		assert_int_equal(
			sluice_operator_list_add(
				os, "s", SLUICE_OPSTATE_SPLIT, S(split[i][j])),
			0);
	snprintf(u, sizeof(u), "u%d", i);
	assert_int_equal(
		sluice_operator_list_add(os, "u", SLUICE_OPSTATE_UNION, S(u)),
		0);
	assert_int_equal(sluice_mem_ostream_new(&out, "opstate"), 0);
	assert_int_equal(
		sluice_operator_state_snapshot(os, out, &t->opstate), 0);
	sluice_operator_state_free(os);
	assert_non_null(t->uid = sluice__strdup("src"));
	t->subtask = i;
	t->parallelism = 2;
	t->max_parallelism = 128;
	return t;
}

/*
 * Restore the two old subtasks into a probe source of parallelism p;
 * `stacked`: both handles belong to old subtask 0 (a restore set with two
 * operator handles for one subtask).
 */
static void restore_probe_as(probe *pr, int p, int stacked)
{
	sluice_task_snapshot *old[2] = {old_snapshot(0), old_snapshot(1)};
	sluice_job_restore rs;
	sluice_vertex_spec spec;
	sluice_job *job;
	int s, d;

	if (stacked)
		old[1]->subtask = 0;
	memset(pr, 0, sizeof(*pr));
	pthread_mutex_init(&pr->lock, NULL);
	assert_int_equal(sluice_job_new(&job, "probe", NULL), 0);
	assert_int_equal(
		sluice_job_set_state_provider(
			job, sluice_keyed_state_provider_factory, NULL),
		0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_SOURCE, "src", NULL, p, 0, &probe_op, pr};
	assert_int_equal(sluice_job_add(job, &s, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "sink", NULL, 1, 0,
				    &drop_op,           NULL};
	assert_int_equal(sluice_job_add(job, &d, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, s, d, 0, SLUICE_EDGE_REBALANCE), 0);
	memset(&rs, 0, sizeof(rs));
	rs.checkpoint_id = 1;
	rs.tasks = (const sluice_task_snapshot *const *)old;
	rs.num_tasks = 2;
	assert_int_equal(sluice_job_start(job, NULL, &rs), 0);
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_state_get(job), SLUICE_JOB_STATE_FINISHED);
	sluice_job_free(job);
	sluice_task_snapshot_free(old[0]);
	sluice_task_snapshot_free(old[1]);
	pthread_mutex_destroy(&pr->lock);
}

static void restore_probe(probe *pr, int p)
{
	restore_probe_as(pr, p, 0);
}

static void
test_runtime_provider__split_state_is_dealt_evenly_on_rescale(void **state)
{
	probe pr;
	char all[256] = "";
	int i;

	(void)state;
	restore_probe(&pr, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pr.restored[i], 1);
		strcat(all, pr.split[i]);
		strcat(all, ";");
	}
	/* 5 elements over 3 subtasks: 2, 2, 1 in consecutive runs */
	assert_int_equal(pr.nsplit[0] + pr.nsplit[1] + pr.nsplit[2], 5);
	for (i = 0; i < 3; i++)
		assert_true(pr.nsplit[i] == 1 || pr.nsplit[i] == 2);
	for (i = 0; i < 5; i++) {
		char e[4];

		snprintf(e, sizeof(e), "s%d", i);
		assert_non_null(strstr(all, e));
	}
	restore_probe(&pr, 1);
	assert_int_equal(pr.nsplit[0], 5);
	assert_string_equal(pr.split[0], "s0,s1,s2,s3,s4");
}

static void
test_runtime_provider__union_state_goes_to_every_subtask(void **state)
{
	probe pr;
	int i;

	(void)state;
	restore_probe(&pr, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pr.nuni[i], 2);
		assert_string_equal(pr.uni[i], "u0,u1");
	}
	restore_probe(&pr, 1);
	assert_string_equal(pr.uni[0], "u0,u1");
}

/* Two handles of one old subtask: every element still lands once. */
static void
test_runtime_provider__stacked_handles_of_a_subtask_are_assigned(void **state)
{
	probe pr;
	char all[256] = "";
	int i;

	(void)state;
	restore_probe_as(&pr, 3, 1);
	for (i = 0; i < 3; i++) {
		strcat(all, pr.split[i]);
		strcat(all, ";");
		assert_string_equal(pr.uni[i], "u0,u1");
	}
	assert_int_equal(pr.nsplit[0] + pr.nsplit[1] + pr.nsplit[2], 5);
	for (i = 0; i < 5; i++) {
		char e[4];

		snprintf(e, sizeof(e), "s%d", i);
		assert_non_null(strstr(all, e));
	}
}

/* ---- union state from operators ----------------------------------------
 */

/* Fresh start: subtask i sets split {s..} and union {u<i>}, then waits. */
static int live_init(sluice_ctx *ctx, int restored)
{
	static const char *const split[2][3] = {
		{"s0", "s1", "s2"}, {"s3", "s4", NULL}};
	int32_t i = sluice_ctx_subtask(ctx);
	sluice_slice e[3];
	char u[8];
	int n = 0;

	if (!restored && i < 2) {
		while (n < 3 && split[i][n]) {
			e[n] = S(split[i][n]);
			n++;
		}
		snprintf(u, sizeof(u), "u%d", (int)i);
		SLUICE_ERRCHECK(sluice_ctx_opstate_set(ctx, "s", e, (size_t)n));
		SLUICE_ERRCHECK(sluice_ctx_union_state_set(ctx, "u", &S(u), 1));
		/* a split list cannot turn into a union list */
		if (sluice_ctx_union_state_set(ctx, "s", e, 1) !=
		    SLUICE_EINVALID)
			return SLUICE_ERROR;
	}
	return probe_init(ctx, restored);
}

static int live_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	probe *p = sluice_ctx_arg(ctx);

	*status = LOAD(&p->end) ? SLUICE_SOURCE_END : SLUICE_SOURCE_IDLE;
	return 0;
}

static const sluice_operator live_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.initialize_state = live_init,
	.poll = live_poll,
};

static sluice_job *live_job(probe *pr, int p)
{
	sluice_vertex_spec spec;
	sluice_job *job;
	int s, d;

	memset(pr, 0, sizeof(*pr));
	pthread_mutex_init(&pr->lock, NULL);
	assert_int_equal(sluice_job_new(&job, "live", NULL), 0);
	assert_int_equal(
		sluice_job_set_state_provider(
			job, sluice_keyed_state_provider_factory, NULL),
		0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_SOURCE, "src", NULL, p, 0, &live_op, pr};
	assert_int_equal(sluice_job_add(job, &s, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "sink", NULL, 1, 0,
				    &drop_op,           NULL};
	assert_int_equal(sluice_job_add(job, &d, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, s, d, 0, SLUICE_EDGE_REBALANCE), 0);
	assert_int_equal(sluice_job_validate(job), 0);
	return job;
}

/*
 * Operators keep union and split lists through sluice_ctx; a checkpoint at
 * parallelism 2 restored at 3 gives every subtask all union elements and
 * deals the split elements out.
 */
static void
test_runtime_provider__union_state_from_operators_survives_rescale(void **st)
{
	probe a, b;
	sluice_job *ja = live_job(&a, 2), *jb;
	coord c;
	sluice_job_responder r;
	sluice_job_restore rs;
	wait_id w;
	int i;

	(void)st;
	rt_coord_init(&c, ja);
	r = rt_responder_of(&c);
	rt_start_running(ja, &r, NULL);
	w = (wait_id){&c, rt_coord_trigger(&c)};
	assert_true(rt_wait_for(rt_completed_reached, &w));
	sluice_job_stop(ja);
	assert_string_equal(a.uni[0], "u0");
	assert_string_equal(a.uni[1], "u1");

	jb = live_job(&b, 3);
	STORE(&b.end, 1);
	rt_restore_of(&c, &rs);
	assert_int_equal(sluice_job_start(jb, NULL, &rs), 0);
	assert_int_equal(sluice_job_wait(jb, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_state_get(jb), SLUICE_JOB_STATE_FINISHED);
	for (i = 0; i < 3; i++) {
		assert_int_equal(b.restored[i], 1);
		assert_int_equal(b.nuni[i], 2);
		assert_string_equal(b.uni[i], "u0,u1");
	}
	assert_int_equal(b.nsplit[0] + b.nsplit[1] + b.nsplit[2], 5);
	sluice_job_free(jb);
	rt_coord_release(&c);
	sluice_job_free(ja);
	pthread_mutex_destroy(&a.lock);
	pthread_mutex_destroy(&b.lock);
}

/* ---- the provider alone ----------------------------------------------- */

static sluice_manual_clock clk;

static sluice_state_provider *
provider(const sluice_keyed_provider_config *pc, int32_t sub, int32_t p)
{
	sluice_state_provider_info info;
	sluice_state_provider *sp;

	sluice_manual_clock_init(&clk, 1000);
	memset(&info, 0, sizeof(info));
	info.uid = "op";
	info.subtask = sub;
	info.parallelism = p;
	info.max_parallelism = 128;
	sluice_key_group_range(
		sub, p, 128, &info.key_group_start, &info.key_group_end);
	info.clock = &clk.base;
	assert_int_equal(
		sluice_keyed_state_provider_factory(&sp, &info, (void *)pc), 0);
	return sp;
}

static void
check_value(sluice_state_provider *sp, const char *key, const char *want)
{
	sluice_slice v;
	int rc = sp->value_get(sp, "v", S(key), &v);

	if (!want) {
		assert_int_equal(rc, SLUICE_ENOTFOUND);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(v.len, strlen(want));
	assert_memory_equal(v.data, want, v.len);
}

/* Values: absent, put, snapshot isolation, restore of the snapshot. */
static void run_snapshot_roundtrip_with(const sluice_keyed_provider_config *pc)
{
	sluice_state_provider *a, *b;
	sluice_keyed_handle *kh;
	sluice_opstate_handle *oh;
	sluice_subtask_restore r;
	const sluice_slice *e;
	size_t n;
	void *snap;

	a = provider(pc, 0, 1);
	check_value(a, "k1", NULL);
	assert_int_equal(a->value_put(a, "v", S("k1"), S("one")), 0);
	assert_int_equal(a->value_put(a, "v", S("k2"), S("two")), 0);
	assert_int_equal(a->opstate_set(a, "pos", &S("p1"), 1), 0);
	assert_int_equal(a->snapshot_sync(a, 1, NULL, &snap), 0);
	/* changes after the sync phase stay out of the snapshot */
	assert_int_equal(a->value_put(a, "v", S("k1"), S("uno")), 0);
	assert_int_equal(a->value_remove(a, "v", S("k2")), 0);
	assert_int_equal(a->opstate_set(a, "pos", &S("p2"), 1), 0);
	check_value(a, "k1", "uno");
	check_value(a, "k2", NULL);
	assert_int_equal(a->snapshot_async(a, snap, &kh, &oh), 0);
	assert_non_null(kh);
	assert_non_null(oh);
	assert_int_equal(kh->stream->kind, SLUICE_HANDLE_INLINE);

	b = provider(pc, 0, 1);
	memset(&r, 0, sizeof(r));
	r.keyed = (const sluice_keyed_handle *const *)&kh;
	r.num_keyed = 1;
	r.opstate = (const sluice_opstate_handle *const *)&oh;
	r.num_opstate = 1;
	assert_int_equal(b->restore(b, &r), 0);
	check_value(b, "k1", "one");
	check_value(b, "k2", "two");
	assert_int_equal(b->opstate_get(b, "pos", &e, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(e[0].data, "p1", 2);
	a->free(a);
	b->free(b);
	sluice_keyed_handle_free(kh);
	sluice_opstate_handle_free(oh);
}

static void run_snapshot_roundtrip(const char *backend)
{
	sluice_keyed_provider_config pc;

	provider_config(&pc, backend);
	run_snapshot_roundtrip_with(&pc);
}

static void test_runtime_provider__hashmap_snapshot_is_isolated(void **state)
{
	(void)state;
	run_snapshot_roundtrip("hashmap");
}

static void test_runtime_provider__rocksdb_snapshot_is_isolated(void **state)
{
	(void)state;
	run_snapshot_roundtrip("rocksdb");
}

/* Restored UNION state stays UNION in the next checkpoint. */
static void test_runtime_provider__union_mode_survives_checkpoints(void **state)
{
	sluice_task_snapshot *old = old_snapshot(0);
	sluice_state_provider *sp = provider(NULL, 0, 1);
	sluice_subtask_restore r;
	sluice_keyed_handle *kh;
	sluice_opstate_handle *oh;
	void *snap;
	uint32_t i;
	int seen = 0;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.opstate = (const sluice_opstate_handle *const *)&old->opstate;
	r.num_opstate = 1;
	assert_int_equal(sp->restore(sp, &r), 0);
	assert_int_equal(sp->opstate_set(sp, "u", &S("u9"), 1), 0);
	assert_int_equal(sp->snapshot_sync(sp, 2, NULL, &snap), 0);
	assert_int_equal(sp->snapshot_async(sp, snap, &kh, &oh), 0);
	assert_null(kh); /* no keyed state */
	assert_non_null(oh);
	for (i = 0; i < oh->num_states; i++) {
		if (!strcmp(oh->states[i].name, "u")) {
			assert_int_equal(
				oh->states[i].mode, SLUICE_OPSTATE_UNION);
			assert_int_equal(oh->states[i].count, 1);
			seen++;
		}
		if (!strcmp(oh->states[i].name, "s")) {
			assert_int_equal(
				oh->states[i].mode, SLUICE_OPSTATE_SPLIT);
			assert_int_equal(oh->states[i].count, 3);
			seen++;
		}
	}
	assert_int_equal(seen, 2);
	sluice_opstate_handle_free(oh);
	sp->free(sp);
	sluice_task_snapshot_free(old);
}

/* A key outside the subtask's key groups is refused, not stored. */
static void test_runtime_provider__foreign_key_is_refused(void **state)
{
	sluice_state_provider *sp = provider(NULL, 0, 2);
	char k[16];
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		if (sluice_key_group(S(k), 128) >= 64)
			break;
	}
	assert_int_equal(sp->value_put(sp, "v", S(k), S("x")), SLUICE_EINVALID);
	sp->free(sp);
}

/* state.backend.type picks the backend; a bad value is refused. */
static void test_runtime_provider__config_chooses_backend(void **state)
{
	sluice_keyed_provider_config pc;
	sluice_config *conf;

	(void)state;
	assert_int_equal(sluice_config_new(&conf), 0);
	assert_int_equal(
		sluice_keyed_provider_config_from_config(&pc, conf), 0);
	assert_string_equal(pc.keyed.backend, "hashmap");
	assert_int_equal(
		sluice_config_set(
			conf, "state.backend.type", "rocksdb",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf, "state.backend.rocksdb.writebuffer.size", "2mb",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_keyed_provider_config_from_config(&pc, conf), 0);
	assert_string_equal(pc.keyed.backend, "rocksdb");
	assert_int_equal(pc.rocksdb.write_buffer_size, 2 << 20);
	run_snapshot_roundtrip_with(&pc);
	assert_int_equal(
		sluice_config_set(
			conf, "state.backend.type", "banana",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_keyed_provider_config_from_config(&pc, conf),
		SLUICE_EINVALID);
	sluice_config_free(conf);
}

/* A damaged keyed stream fails the restore with SLUICE_ECORRUPT. */
static void test_runtime_provider__damaged_snapshot_is_corrupt(void **state)
{
	sluice_state_provider *a = provider(NULL, 0, 1), *b;
	sluice_keyed_handle *kh;
	sluice_opstate_handle *oh;
	sluice_subtask_restore r;
	void *snap;
	int i;

	(void)state;
	for (i = 0; i < 50; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(a->value_put(a, "v", S(k), S("value")), 0);
	}
	assert_int_equal(a->snapshot_sync(a, 1, NULL, &snap), 0);
	assert_int_equal(a->snapshot_async(a, snap, &kh, &oh), 0);
	assert_null(oh);
	kh->stream->data[kh->stream->size / 2] ^= 0x10;
	b = provider(NULL, 0, 1);
	memset(&r, 0, sizeof(r));
	r.keyed = (const sluice_keyed_handle *const *)&kh;
	r.num_keyed = 1;
	assert_int_equal(b->restore(b, &r), SLUICE_ECORRUPT);
	assert_non_null(strstr(sluice_error_last()->message, "checksum"));
	a->free(a);
	b->free(b);
	sluice_keyed_handle_free(kh);
}

/* One provider life (put, snapshot, restore) for the OOM loop. */
static int oom_round(void)
{
	sluice_state_provider *a = NULL, *b = NULL;
	sluice_keyed_handle *kh = NULL;
	sluice_opstate_handle *oh = NULL;
	sluice_state_provider_info info = {"op", 0, 1, 128, 0, 127, NULL};
	sluice_subtask_restore r;
	sluice_slice v;
	void *snap = NULL;
	int rc;

	info.clock = &clk.base;
	if ((rc = sluice_keyed_state_provider_factory(&a, &info, NULL)) < 0 ||
	    (rc = a->value_put(a, "v", S("k1"), S("one"))) < 0 ||
	    (rc = a->opstate_set(a, "pos", &S("p1"), 1)) < 0 ||
	    (rc = a->snapshot_sync(a, 1, NULL, &snap)) < 0 ||
	    (rc = a->snapshot_async(a, snap, &kh, &oh)) < 0 ||
	    (rc = sluice_keyed_state_provider_factory(&b, &info, NULL)) < 0)
		goto done;
	memset(&r, 0, sizeof(r));
	r.keyed = (const sluice_keyed_handle *const *)&kh;
	r.num_keyed = 1;
	r.opstate = (const sluice_opstate_handle *const *)&oh;
	r.num_opstate = 1;
	if ((rc = b->restore(b, &r)) >= 0)
		rc = b->value_get(b, "v", S("k1"), &v);
done:
	if (a)
		a->free(a);
	if (b)
		b->free(b);
	sluice_keyed_handle_free(kh);
	sluice_opstate_handle_free(oh);
	return rc;
}

/* Every allocation failure is SLUICE_ENOMEM, never a crash or a leak. */
static void
test_runtime_provider__allocation_failures_are_reported(void **state)
{
	long n;
	int rc = SLUICE_ENOMEM;

	(void)state;
	sluice_manual_clock_init(&clk, 1000);
	for (n = 0; n < 5000 && rc == SLUICE_ENOMEM; n++) {
		sluice__alloc_fail_after(n);
		rc = oom_round();
		sluice__alloc_fail_after(-1);
		if (rc != 0 && rc != SLUICE_ENOMEM)
			fail_msg(
				"allocation %ld: %d %s", n, rc,
				sluice_error_last()->message);
	}
	assert_int_equal(rc, 0);
	assert_true(n > 10);
}

/* table.exec.state.ttl (the keyed default TTL) applies to provider state,
 * on the subtask's clock. */
static void test_runtime_provider__default_ttl_expires_values(void **state)
{
	sluice_keyed_provider_config pc;
	sluice_state_provider *sp;

	(void)state;
	provider_config(&pc, "hashmap");
	pc.keyed.default_ttl_ms = 1000;
	sp = provider(&pc, 0, 1);
	assert_int_equal(sp->value_put(sp, "v", S("k"), S("x")), 0);
	sluice_manual_clock_advance(&clk, 999);
	check_value(sp, "k", "x");
	sluice_manual_clock_advance(&clk, 1001);
	check_value(sp, "k", NULL);
	sp->free(sp);
}

static void
test_runtime_provider__rocksdb_rescale_3_to_1_counts_exactly(void **state)
{
	(void)state;
	run_rescale("rocksdb", 3, 1);
}

/* A provider whose routed key groups differ from the backend's fails. */
static void test_runtime_provider__range_mismatch_is_refused(void **state)
{
	sluice_state_provider_info info = {"op", 1, 2, 128, 60, 127, NULL};
	sluice_state_provider *sp = NULL;

	(void)state;
	assert_int_equal(
		sluice_keyed_state_provider_factory(&sp, &info, NULL),
		SLUICE_EINVALID);
	assert_null(sp);
	assert_non_null(
		strstr(sluice_error_last()->message, "runtime routes 60-127"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_runtime_provider__hashmap_snapshot_is_isolated),
		cmocka_unit_test(
			test_runtime_provider__rocksdb_snapshot_is_isolated),
		cmocka_unit_test(
			test_runtime_provider__union_mode_survives_checkpoints),
		cmocka_unit_test(test_runtime_provider__foreign_key_is_refused),
		cmocka_unit_test(
			test_runtime_provider__range_mismatch_is_refused),
		cmocka_unit_test(test_runtime_provider__config_chooses_backend),
		cmocka_unit_test(
			test_runtime_provider__damaged_snapshot_is_corrupt),
		cmocka_unit_test(
			test_runtime_provider__allocation_failures_are_reported),
		cmocka_unit_test(
			test_runtime_provider__split_state_is_dealt_evenly_on_rescale),
		cmocka_unit_test(
			test_runtime_provider__union_state_goes_to_every_subtask),
		cmocka_unit_test(
			test_runtime_provider__stacked_handles_of_a_subtask_are_assigned),
		cmocka_unit_test(
			test_runtime_provider__union_state_from_operators_survives_rescale),
		cmocka_unit_test(
			test_runtime_provider__hashmap_exactly_once_after_failure),
		cmocka_unit_test(
			test_runtime_provider__rocksdb_exactly_once_after_failure),
		cmocka_unit_test(
			test_runtime_provider__rescale_2_to_3_counts_exactly),
		cmocka_unit_test(
			test_runtime_provider__rescale_3_to_1_counts_exactly),
		cmocka_unit_test(
			test_runtime_provider__rocksdb_rescale_2_to_3_counts_exactly),
		cmocka_unit_test(
			test_runtime_provider__rocksdb_rescale_3_to_1_counts_exactly),
		cmocka_unit_test(
			test_runtime_provider__default_ttl_expires_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
