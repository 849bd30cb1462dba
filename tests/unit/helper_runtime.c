/*
 * Implementation of the runtime test harness (runtime_harness.h): test
 * operators, the fake coordinator, the standard pipeline and a failing
 * state provider.  Linked into every unit test binary; everything it
 * exports is prefixed rt_.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime_harness.h"
#include "util/buf.h"
#include "util/error.h"

/* ---- operators -------------------------------------------------------- */

int rt_key_of(int32_t subtask, int64_t pos, int keys)
{
	return (int)((pos * 31 + subtask * 7) % keys);
}

static int src_init(sluice_ctx *ctx, int restored)
{
	src_cfg *cfg = sluice_ctx_arg(ctx);
	int64_t *pos = calloc(1, sizeof(*pos));
	const sluice_slice *el;
	size_t n, i;

	if (!pos)
		return sluice__error_oom();
	sluice_ctx_set_local(ctx, pos);
	STORE(&cfg->in_init, 1);
	while (LOAD(&cfg->hold_init))
		rt_pause_1ms();
	STORE(&cfg->in_init, 0);
	if (!restored)
		return 0;
	ADD(&cfg->restored, 1);
	if (sluice_ctx_opstate_get(ctx, "offset", &el, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) /* after rescale a subtask may own more */
		if (el[i].len == 8 && (int64_t)sluice__rd64(el[i].data) > *pos)
			*pos = (int64_t)sluice__rd64(el[i].data);
	return 0;
}

static int src_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	src_cfg *cfg = sluice_ctx_arg(ctx);
	int64_t *pos = sluice_ctx_local(ctx);
	int64_t limit = LOAD(&cfg->gate);
	int i, rc;

	if (limit > cfg->n)
		limit = cfg->n;
	for (i = 0; i < 64 && *pos < limit; i++, (*pos)++) {
		char key[32];
		uint8_t val[8];
		sluice_record rec;

		snprintf(
			key, sizeof(key), "k%d",
			rt_key_of(sluice_ctx_subtask(ctx), *pos, cfg->keys));
		sluice__be64(val, (uint64_t)*pos);
		rec.key = SLUICE_SLICE(key, strlen(key));
		rec.value = SLUICE_SLICE(val, 8);
		rec.timestamp = *pos;
		if ((rc = sluice_ctx_emit(ctx, &rec)) < 0)
			return rc;
	}
	*status = *pos >= cfg->n  ? SLUICE_SOURCE_END
		  : *pos >= limit ? SLUICE_SOURCE_IDLE
				  : SLUICE_SOURCE_MORE;
	return 0;
}

static int src_snapshot(sluice_ctx *ctx, int64_t id)
{
	src_cfg *cfg = sluice_ctx_arg(ctx);
	int64_t *pos = sluice_ctx_local(ctx);
	uint8_t b[8];
	sluice_slice el = SLUICE_SLICE(b, 8);

	ADD(&cfg->snapshots, 1);
	if (LOAD(&cfg->fail_sync) == id)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"injected snapshot failure");
	sluice__be64(b, (uint64_t)*pos);
	return sluice_ctx_opstate_set(ctx, "offset", &el, 1);
}

void rt_free_local(sluice_ctx *ctx, int failed)
{
	(void)failed;
	free(sluice_ctx_local(ctx));
}

const sluice_operator rt_source_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.initialize_state = src_init,
	.poll = src_poll,
	.snapshot_state = src_snapshot,
	.close = rt_free_local,
};

static int pass_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	(void)input;
	return sluice_ctx_emit(ctx, rec);
}

static int map_complete(sluice_ctx *ctx, int64_t id)
{
	notes *n = sluice_ctx_arg(ctx);

	STORE(&n->last_complete, id);
	ADD(&n->complete_calls, 1);
	return 0;
}

static int map_aborted(sluice_ctx *ctx, int64_t id)
{
	notes *n = sluice_ctx_arg(ctx);

	STORE(&n->last_aborted, id);
	ADD(&n->aborted_calls, 1);
	return 0;
}

const sluice_operator rt_map_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = pass_process,
	.notify_complete = map_complete,
	.notify_aborted = map_aborted,
};

int rt_counted_target(void *arg)
{
	count_cfg *cfg = arg;

	return LOAD(&cfg->processed) >= cfg->target;
}

static int count_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	count_cfg *cfg = sluice_ctx_arg(ctx);
	int64_t n = 0, fail = LOAD(&cfg->fail_at);
	uint8_t val[8];
	sluice_record out;
	int rc;

	(void)input;
	if (ADD(&cfg->processed, 1) == fail && fail > 0)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"injected failure");
	rc = sluice_ctx_value_get_i64(ctx, "count", &n);
	if (rc < 0 && rc != SLUICE_ENOTFOUND)
		return rc;
	if ((rc = sluice_ctx_value_put_i64(ctx, "count", ++n)) < 0)
		return rc;
	sluice__be64(val, (uint64_t)n);
	out.key = rec->key;
	out.value = SLUICE_SLICE(val, 8);
	out.timestamp = rec->timestamp;
	return sluice_ctx_emit(ctx, &out);
}

const sluice_operator rt_count_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = count_process,
};

static int sink_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	sink_out *out = sluice_ctx_arg(ctx);
	int k = atoi((const char *)rec->key.data + 1);
	int64_t c = (int64_t)sluice__rd64(rec->value.data);
	int32_t kg =
		sluice_key_group(rec->key, sluice_ctx_max_parallelism(ctx));

	(void)input;
	pthread_mutex_lock(&out->lock);
	if (sluice_key_group_subtask(
		    kg, sluice_ctx_parallelism(ctx),
		    sluice_ctx_max_parallelism(ctx)) != sluice_ctx_subtask(ctx))
		out->wrong++;
	if (k >= 0 && k < MAX_KEYS && c > 0 && (size_t)c < out->cap) {
		out->seen[k][c] = 1;
		if (c > out->max[k])
			out->max[k] = c;
	}
	out->records++;
	pthread_mutex_unlock(&out->lock);
	return 0;
}

static int sink_end(sluice_ctx *ctx, int input)
{
	sink_out *out = sluice_ctx_arg(ctx);

	(void)input;
	pthread_mutex_lock(&out->lock);
	out->ended++;
	pthread_mutex_unlock(&out->lock);
	return 0;
}

const sluice_operator rt_sink_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = sink_process,
	.end_input = sink_end,
};

void rt_sink_init(sink_out *out, size_t cap)
{
	int k;

	memset(out, 0, sizeof(*out));
	pthread_mutex_init(&out->lock, NULL);
	out->cap = cap;
	for (k = 0; k < MAX_KEYS; k++)
		assert_non_null(out->seen[k] = calloc(cap, 1));
}

void rt_sink_release(sink_out *out)
{
	int k;

	for (k = 0; k < MAX_KEYS; k++)
		free(out->seen[k]);
	pthread_mutex_destroy(&out->lock);
}

/* Every key shows counts 1..expected and nothing above (exactly once). */
void rt_sink_expect_exact(sink_out *out, const src_cfg *cfg, int sp)
{
	int64_t expected[MAX_KEYS] = {0}, c, pos;
	int k, s;

	for (s = 0; s < sp; s++)
		for (pos = 0; pos < cfg->n; pos++)
			expected[rt_key_of(s, pos, cfg->keys)]++;
	pthread_mutex_lock(&out->lock);
	for (k = 0; k < cfg->keys; k++) {
		assert_int_equal(out->max[k], expected[k]);
		for (c = 1; c <= expected[k]; c++)
			assert_int_equal(out->seen[k][c], 1);
	}
	assert_int_equal(out->wrong, 0);
	pthread_mutex_unlock(&out->lock);
}

/* ---- fake coordinator -------------------------------------------------- */

static void snaps_free(sluice_task_snapshot **s, int n)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < n; i++)
		sluice_task_snapshot_free(s[i]);
	free(s);
}

static pending *slot_for(coord *c, int64_t id)
{
	pending *oldest = NULL;
	int i;

	for (i = 0; i < SLOTS; i++)
		if (c->slots[i].id == id)
			return &c->slots[i];
	for (i = 0; i < SLOTS; i++)
		if (!oldest || c->slots[i].id < oldest->id)
			oldest = &c->slots[i];
	snaps_free(oldest->snaps, c->num_tasks);
	oldest->id = id;
	oldest->acks = 0;
	oldest->snaps = calloc((size_t)c->num_tasks, sizeof(*oldest->snaps));
	return oldest;
}

static void
on_ack(void *ctx,
       const sluice_task_info *task,
       int64_t id,
       sluice_task_snapshot *snap)
{
	coord *c = ctx;
	pending *p;
	int complete = 0, i;

	if (getenv("RT_DEBUG"))
		fprintf(stderr, "ack task %d id %lld\n", task->index,
			(long long)id);
	pthread_mutex_lock(&c->lock);
	if (c->num_acked < 1024)
		c->acked_ids[c->num_acked++] = (id << 8) | task->index;
	if (id <= c->completed_id || c->failed) {
		sluice_task_snapshot_free(snap);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	p = slot_for(c, id);
	if (p->snaps[task->index])
		sluice_task_snapshot_free(p->snaps[task->index]);
	else
		p->acks++;
	p->snaps[task->index] = snap;
	if (p->acks == c->num_tasks) {
		snaps_free(c->completed, c->num_tasks);
		c->completed = p->snaps;
		c->completed_id = id;
		if (c->cs && id < 1024 && c->locs[id])
			snprintf(
				c->completed_dir, sizeof(c->completed_dir),
				"%s", sluice_location_dir(c->locs[id]));
		c->num_completed++;
		p->snaps = NULL;
		p->id = 0;
		for (i = 0; i < SLOTS; i++) /* subsume older pending */
			if (c->slots[i].id && c->slots[i].id < id) {
				snaps_free(c->slots[i].snaps, c->num_tasks);
				c->slots[i].snaps = NULL;
				c->slots[i].id = 0;
			}
		complete = 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (complete)
		sluice_job_notify_complete(c->job, id, -1);
}

static void on_decline_dbg(const sluice_task_info *task, int64_t id, int reason)
{
	if (getenv("RT_DEBUG"))
		fprintf(stderr, "decline task %d id %lld reason %d\n",
			task->index, (long long)id, reason);
}

static void on_decline(
	void *ctx,
	const sluice_task_info *task,
	int64_t id,
	sluice_failure_reason reason,
	const char *message)
{
	coord *c = ctx;
	int i;

	(void)message;
	on_decline_dbg(task, id, reason);
	pthread_mutex_lock(&c->lock);
	if (c->num_declines < 512) {
		c->declines[c->num_declines].task = task->index;
		c->declines[c->num_declines].id = id;
		c->declines[c->num_declines].reason = reason;
		c->num_declines++;
	}
	for (i = 0; i < SLOTS; i++)
		if (c->slots[i].id == id) {
			snaps_free(c->slots[i].snaps, c->num_tasks);
			c->slots[i].snaps = NULL;
			c->slots[i].id = 0;
		}
	pthread_mutex_unlock(&c->lock);
}

static void on_failed(void *ctx, const sluice_task_info *task, const char *msg)
{
	coord *c = ctx;

	(void)task;
	(void)msg;
	pthread_mutex_lock(&c->lock);
	c->failed++;
	pthread_mutex_unlock(&c->lock);
}

static void on_finished(void *ctx, const sluice_task_info *task)
{
	coord *c = ctx;

	(void)task;
	pthread_mutex_lock(&c->lock);
	c->finished++;
	pthread_mutex_unlock(&c->lock);
}

sluice_job_responder rt_responder_of(coord *c)
{
	sluice_job_responder r = {SLUICE_RESPONDER_VERSION,
				  c,
				  on_ack,
				  on_decline,
				  on_failed,
				  on_finished,
				  NULL};

	return r;
}

void rt_coord_init(coord *c, sluice_job *job)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->job = job;
	c->num_tasks = sluice_job_task_count(job);
	assert_true(c->num_tasks > 0); /* validate first */
	c->next_id = 1;
}

void rt_coord_reset_run(coord *c)
{
	int i;

	for (i = 0; i < SLOTS; i++) {
		snaps_free(c->slots[i].snaps, c->num_tasks);
		c->slots[i].snaps = NULL;
		c->slots[i].id = 0;
	}
	c->failed = 0;
	c->finished = 0;
}

void rt_coord_release(coord *c)
{
	int i;

	rt_coord_reset_run(c);
	snaps_free(c->completed, c->num_tasks);
	for (i = 0; i < 1024; i++)
		sluice_location_free(c->locs[i]);
	pthread_mutex_destroy(&c->lock);
}

static void *trigger_main(void *arg)
{
	coord *c = arg;
	sluice_clock *clk = sluice_clock_system();

	while (LOAD(&c->run)) {
		int64_t until = sluice_clock_mono_ms(clk) + c->interval_ms;

		rt_coord_trigger_id(c, ADD(&c->next_id, 1) - 1);
		while (LOAD(&c->run) && sluice_clock_mono_ms(clk) < until)
			rt_pause_1ms();
	}
	return NULL;
}

void rt_coord_start_periodic(coord *c, int interval_ms)
{
	c->interval_ms = interval_ms;
	STORE(&c->run, 1);
	assert_int_equal(pthread_create(&c->th, NULL, trigger_main, c), 0);
}

void rt_coord_stop_periodic(coord *c)
{
	STORE(&c->run, 0);
	pthread_join(c->th, NULL);
}

/* The stream factory: the location of checkpoint `id`, by id. */
static int coord_open_stream(
	void *ctx, int64_t id, sluice_scope scope, sluice_ostream **out)
{
	coord *c = ctx;
	sluice_location *loc = NULL;

	pthread_mutex_lock(&c->lock);
	if (id > 0 && id < 1024)
		loc = c->locs[id];
	pthread_mutex_unlock(&c->lock);
	if (!loc)
		return sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_CHECKPOINT,
			"checkpoint %lld is not pending", (long long)id);
	return sluice_location_open_stream(out, loc, scope);
}

void rt_coord_use_storage(coord *c, sluice_checkpoint_storage *cs)
{
	sluice_stream_factory f = {c, coord_open_stream, NULL};

	c->cs = cs;
	assert_int_equal(sluice_job_set_stream_factory(c->job, &f), 0);
}

int rt_coord_trigger_id(coord *c, int64_t id)
{
	sluice_checkpoint_options opts;
	int rc;

	memset(&opts, 0, sizeof(opts));
	if (c->cs && id > 0 && id < 1024) {
		sluice_location *loc = NULL;

		if ((rc = sluice_checkpoint_location_new(&loc, c->cs, id)) < 0)
			return rc;
		pthread_mutex_lock(&c->lock);
		c->locs[id] = loc;
		pthread_mutex_unlock(&c->lock);
	}
	return sluice_job_trigger_checkpoint(
		c->job, id, sluice_clock_wall_ms(sluice_clock_system()), &opts);
}

int64_t rt_coord_trigger(coord *c)
{
	int64_t id = ADD(&c->next_id, 1) - 1;

	assert_int_equal(rt_coord_trigger_id(c, id), 0);
	return id;
}

int rt_completed_reached(void *arg)
{
	wait_id *w = arg;
	int ok;

	pthread_mutex_lock(&w->c->lock);
	ok = w->c->completed_id >= w->id;
	pthread_mutex_unlock(&w->c->lock);
	return ok;
}

int rt_declines_of(coord *c, int64_t id, int reason)
{
	int i, n = 0;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->num_declines; i++)
		if (c->declines[i].id == id &&
		    (reason < 0 || c->declines[i].reason == reason))
			n++;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int rt_acks_of(coord *c, int64_t id)
{
	int i, n = 0;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->num_acked; i++)
		if ((c->acked_ids[i] >> 8) == id)
			n++;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int rt_declines_reached(void *arg)
{
	wait_decl *w = arg;

	return rt_declines_of(w->c, w->id, w->reason) >= w->n;
}

int rt_all_running(void *arg)
{
	sluice_job *job = arg;
	sluice_task_info info;
	int i;

	for (i = 0; i < sluice_job_task_count(job); i++)
		if (sluice_job_task_info(job, i, &info) < 0 ||
		    info.state != SLUICE_TASK_STATE_RUNNING)
			return 0;
	return 1;
}

/* Start and wait until every task runs (triggers are then accepted). */
void rt_start_running(
	sluice_job *job,
	const sluice_job_responder *r,
	const sluice_job_restore *rs)
{
	assert_int_equal(sluice_job_start(job, r, rs), 0);
	assert_true(rt_wait_for(rt_all_running, job));
}

void rt_restore_of(coord *c, sluice_job_restore *r)
{
	memset(r, 0, sizeof(*r));
	r->checkpoint_id = c->completed_id;
	r->tasks = (const sluice_task_snapshot *const *)c->completed;
	r->num_tasks = (size_t)c->num_tasks;
	r->storage = c->cs ? sluice_checkpoint_storage_backend(c->cs) : NULL;
	r->dir = c->cs ? c->completed_dir : NULL;
}

/* ---- pipeline --------------------------------------------------------- */

void rt_pipeline_build(
	pipeline *pl,
	int sp,
	int mp,
	int cp,
	int64_t n,
	sluice_checkpointing_mode mode)
{
	sluice_job_options opts = {0};
	sluice_vertex_spec spec = {0};
	int s, m, k, o;

	memset(pl, 0, sizeof(*pl));
	pl->sp = sp;
	pl->src.n = n;
	pl->src.keys = 13;
	pl->src.gate = n;
	rt_sink_init(&pl->sink, (size_t)(n * sp + 2));
	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.buffer_size = 256; /* many small buffers */
	opts.channel_credits = 2;
	opts.mode = mode;
	assert_int_equal(sluice_job_new(&pl->job, "pipeline", &opts), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_SOURCE, "src",   "source", sp, 0,
		&rt_source_op,        &pl->src};
	assert_int_equal(sluice_job_add(pl->job, &s, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_OPERATOR,
				    "map",
				    NULL,
				    mp,
				    0,
				    &rt_map_op,
				    &pl->notes};
	assert_int_equal(sluice_job_add(pl->job, &m, &spec), 0);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_OPERATOR, "count",   NULL, cp, 0,
		&rt_count_op,           &pl->count};
	assert_int_equal(sluice_job_add(pl->job, &k, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "sink",   NULL, cp, 0,
				    &rt_sink_op,        &pl->sink};
	assert_int_equal(sluice_job_add(pl->job, &o, &spec), 0);
	assert_int_equal(
		sluice_job_connect(pl->job, s, m, 0, SLUICE_EDGE_REBALANCE), 0);
	assert_int_equal(
		sluice_job_connect(pl->job, m, k, 0, SLUICE_EDGE_KEY_BY), 0);
	assert_int_equal(
		sluice_job_connect(pl->job, k, o, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_validate(pl->job), 0);
}

void rt_pipeline_free(pipeline *pl)
{
	sluice_job_free(pl->job);
	rt_sink_release(&pl->sink);
}
/* A provider whose asynchronous phase fails for one checkpoint id. */
typedef struct flaky {
	sluice_state_provider base;
	sluice_state_provider *inner;
	int64_t *fail_id;
} flaky;

static int
fl_get(sluice_state_provider *p, const char *s, sluice_slice k, sluice_slice *o)
{
	flaky *f = (flaky *)p;

	return f->inner->value_get(f->inner, s, k, o);
}

static int
fl_put(sluice_state_provider *p, const char *s, sluice_slice k, sluice_slice v)
{
	flaky *f = (flaky *)p;

	return f->inner->value_put(f->inner, s, k, v);
}

static int fl_remove(sluice_state_provider *p, const char *s, sluice_slice k)
{
	flaky *f = (flaky *)p;

	return f->inner->value_remove(f->inner, s, k);
}

static int fl_opget(
	sluice_state_provider *p,
	const char *n,
	const sluice_slice **e,
	size_t *c)
{
	flaky *f = (flaky *)p;

	return f->inner->opstate_get(f->inner, n, e, c);
}

static int fl_opset(
	sluice_state_provider *p,
	const char *n,
	const sluice_slice *e,
	size_t c)
{
	flaky *f = (flaky *)p;

	return f->inner->opstate_set(f->inner, n, e, c);
}

static int fl_restore(sluice_state_provider *p, const sluice_subtask_restore *r)
{
	flaky *f = (flaky *)p;

	return f->inner->restore(f->inner, r);
}

typedef struct fl_snap {
	int64_t id;
	void *inner;
} fl_snap;

static int
fl_sync(sluice_state_provider *p,
	int64_t id,
	const sluice_checkpoint_options *o,
	void **snap)
{
	flaky *f = (flaky *)p;
	fl_snap *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return sluice__error_oom();
	s->id = id;
	if ((rc = f->inner->snapshot_sync(f->inner, id, o, &s->inner)) < 0) {
		free(s);
		return rc;
	}
	*snap = s;
	return 0;
}

static int fl_async(
	sluice_state_provider *p,
	void *snap,
	sluice_keyed_handle **k,
	sluice_opstate_handle **o)
{
	flaky *f = (flaky *)p;
	fl_snap *s = snap;
	int rc;

	if (s->id == LOAD(f->fail_id)) {
		f->inner->snapshot_discard(f->inner, s->inner);
		free(s);
		return sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
			"injected upload failure");
	}
	rc = f->inner->snapshot_async(f->inner, s->inner, k, o);
	free(s);
	return rc;
}

static void fl_discard(sluice_state_provider *p, void *snap)
{
	flaky *f = (flaky *)p;
	fl_snap *s = snap;

	f->inner->snapshot_discard(f->inner, s->inner);
	free(s);
}

static void fl_notify(sluice_state_provider *p, int64_t id)
{
	(void)p;
	(void)id;
}

static void fl_free(sluice_state_provider *p)
{
	flaky *f = (flaky *)p;

	f->inner->free(f->inner);
	free(f);
}

int rt_flaky_new(
	sluice_state_provider **out,
	const sluice_state_provider_info *info,
	void *arg)
{
	flaky *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return sluice__error_oom();
	if ((rc = sluice_mem_state_provider_new(&f->inner, info, NULL)) < 0) {
		free(f);
		return rc;
	}
	f->fail_id = arg;
	f->base = (sluice_state_provider){
		SLUICE_STATE_PROVIDER_VERSION,
		fl_get,
		fl_put,
		fl_remove,
		fl_opget,
		fl_opset,
		fl_restore,
		fl_sync,
		fl_async,
		fl_discard,
		fl_notify,
		fl_notify,
		fl_free,
		NULL,
		NULL};
	*out = &f->base;
	return 0;
}
