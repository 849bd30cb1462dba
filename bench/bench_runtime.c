/*
 * W6-style runtime overhead: a keyed count job (source p=2 → key-by →
 * counter p=2 → forward → discarding sink) over the in-memory state
 * provider, run with exactly-once aligned checkpoints every 100 ms and,
 * as the baseline in the same process, without checkpoints.  Rounds
 * alternate; medians and spreads are printed as JSON lines and a table.
 *
 * Usage: bench_runtime [records-per-source] [rounds]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_chain.h"
#include "bench_util.h"

#define KEYS 10000

typedef struct src_cfg {
	int64_t n;
} src_cfg;

static int src_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	src_cfg *cfg = sluice_ctx_arg(ctx);
	int64_t *pos = bench_src_pos(ctx);
	int i, rc;

	if (!pos)
		return SLUICE_ENOMEM;
	for (i = 0; i < 256 && *pos < cfg->n; i++, (*pos)++)
		if ((rc = bench_emit_u64(
			     ctx, (uint64_t)((*pos * 7919) % KEYS), *pos)) < 0)
			return rc;
	*status = *pos >= cfg->n ? SLUICE_SOURCE_END : SLUICE_SOURCE_MORE;
	return 0;
}

static int count_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	int64_t n = 0;
	int rc;

	(void)input;
	rc = sluice_ctx_value_get_i64(ctx, "count", &n);
	if (rc < 0 && rc != SLUICE_ENOTFOUND)
		return rc;
	if ((rc = sluice_ctx_value_put_i64(ctx, "count", n + 1)) < 0)
		return rc;
	return sluice_ctx_emit(ctx, rec);
}

static int sink_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	(void)ctx;
	(void)input;
	(void)rec;
	return 0;
}

static const sluice_operator source_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.poll = src_poll,
	.snapshot_state = bench_src_snapshot,
	.close = bench_src_close};
static const sluice_operator count_op = {
	.version = SLUICE_OPERATOR_VERSION, .process = count_process};
static const sluice_operator sink_op = {
	.version = SLUICE_OPERATOR_VERSION, .process = sink_process};

typedef struct coord {
	sluice_job *job;
	int num_tasks;
	pthread_mutex_t lock;
	int64_t acks[4096];
	int completed;
	int run;
} coord;

static void
on_ack(void *ctx,
       const sluice_task_info *t,
       int64_t id,
       sluice_task_snapshot *s)
{
	coord *c = ctx;
	int done = 0;

	(void)t;
	sluice_task_snapshot_free(s);
	pthread_mutex_lock(&c->lock);
	if (id < 4096 && ++c->acks[id] == c->num_tasks) {
		c->completed++;
		done = 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (done)
		sluice_job_notify_complete(c->job, id, -1);
}

static void *trigger_main(void *arg)
{
	coord *c = arg;
	int64_t id = 1;

	while (__atomic_load_n(&c->run, __ATOMIC_SEQ_CST)) {
		double until = bench_now() + 0.1;

		sluice_job_trigger_checkpoint(
			c->job, id++,
			sluice_clock_wall_ms(sluice_clock_system()), NULL);
		while (__atomic_load_n(&c->run, __ATOMIC_SEQ_CST) &&
		       bench_now() < until) {
			struct timespec ts = {0, 1000000L};

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static sluice_job *build(src_cfg *cfg)
{
	const bench_chain b = {
		.name = "bench",
		.source = &source_op,
		.source_arg = cfg,
		.mid_uid = "count",
		.mid = &count_op,
		.edge = SLUICE_EDGE_KEY_BY,
		.sink = &sink_op};

	return bench_chain_build(&b);
}

/* One run; returns records/s and the number of completed checkpoints. */
static double run_once(int64_t n, int checkpoints, int *completed)
{
	src_cfg cfg = {n};
	coord c;
	sluice_job_responder r = {
		SLUICE_RESPONDER_VERSION, &c, on_ack, NULL, NULL, NULL, NULL};
	pthread_t th;
	double t0, t1;
	sluice_job *job = build(&cfg);

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	c.job = job;
	c.num_tasks = 6;
	t0 = bench_now();
	if (!job || sluice_job_start(job, &r, NULL) < 0) {
		fprintf(stderr, "bench_runtime: %s\n",
			sluice_error_last()->message);
		exit(1);
	}
	if (checkpoints) {
		c.run = 1;
		pthread_create(&th, NULL, trigger_main, &c);
	}
	sluice_job_wait(job, -1);
	t1 = bench_now();
	if (checkpoints) {
		__atomic_store_n(&c.run, 0, __ATOMIC_SEQ_CST);
		pthread_join(th, NULL);
	}
	sluice_job_stop(job);
	pthread_mutex_lock(&c.lock);
	*completed = c.completed;
	pthread_mutex_unlock(&c.lock);
	sluice_job_free(job);
	pthread_mutex_destroy(&c.lock);
	return (double)(2 * n) / (t1 - t0);
}

int main(int argc, char **argv)
{
	int64_t n = argc > 1 ? atoll(argv[1]) : 1000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5, i, done, total = 0;
	double with[64], without[64], sw, so, mw, mo;

	if (rounds < 1 || rounds > 64)
		rounds = 5;
	run_once(n / 10, 1, &done); /* warm-up */
	for (i = 0; i < rounds; i++) {
		without[i] = run_once(n, 0, &done);
		with[i] = run_once(n, 1, &done);
		total += done;
	}
	mo = bench_median(without, rounds, &so);
	mw = bench_median(with, rounds, &sw);
	printf("{\"workload\":\"W6-runtime-keyed-count-p2\",\"ops_per_sec\":%."
	       "0f,"
	       "\"baseline_ops_per_sec\":%.0f,\"ratio\":%.3f,"
	       "\"spread\":%.3f,\"baseline_spread\":%.3f,"
	       "\"checkpoints_completed\":%d,\"rounds\":%d}\n",
	       mw, mo, mw / mo, sw, so, total, rounds);
	printf("%-34s %14s %14s %7s\n", "workload", "records/s", "baseline",
	       "ratio");
	printf("%-34s %14.0f %14.0f %7.3f\n", "keyed count, cp every 100 ms",
	       mw, mo, mw / mo);
	return 0;
}
