/*
 * W8: barriers under backpressure (BENCHMARKS.md).  source → map → slow
 * sink (200 µs per record), 2 lanes (parallelism 2, forward edges), the
 * in-memory state provider; the sources emit as fast as credit allows,
 * so every channel is full.  In one process, rounds alternate between
 * three checkpoint modes: aligned, unaligned, and aligned with a 1 ms
 * aligned-checkpoint timeout.  A checkpoint is triggered every 100 ms
 * after the previous one finished (at most one at a time); its duration
 * is trigger → last acknowledgement.  Medians and maxima per mode are
 * printed as JSON lines and a table.
 *
 * Usage: bench_unaligned [seconds-per-round] [rounds] [buffer-bytes]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_chain.h"
#include "bench_util.h"

#define MAX_CP 1024
#define TASKS  6

static int stop_sources;

static int src_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	int64_t *pos = bench_src_pos(ctx);
	int i, rc;

	if (!pos)
		return SLUICE_ENOMEM;
	for (i = 0; i < 64; i++, (*pos)++)
		if ((rc = bench_emit_u64(ctx, (uint64_t)*pos, *pos)) < 0)
			return rc;
	*status = __atomic_load_n(&stop_sources, __ATOMIC_RELAXED)
			  ? SLUICE_SOURCE_END
			  : SLUICE_SOURCE_MORE;
	return 0;
}

static int map_process(sluice_ctx *ctx, int input, const sluice_record *r)
{
	(void)input;
	return sluice_ctx_emit(ctx, r);
}

static int sink_process(sluice_ctx *ctx, int input, const sluice_record *r)
{
	struct timespec ts = {0, 200000L}; /* 200 µs per record */

	(void)ctx;
	(void)input;
	(void)r;
	while (nanosleep(&ts, &ts) != 0)
		;
	return 0;
}

static const sluice_operator source_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.poll = src_poll,
	.snapshot_state = bench_src_snapshot,
	.close = bench_src_close};
static const sluice_operator map_op = {
	.version = SLUICE_OPERATOR_VERSION, .process = map_process};
static const sluice_operator sink_op = {
	.version = SLUICE_OPERATOR_VERSION, .process = sink_process};

typedef struct coord {
	sluice_job *job;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int acks[MAX_CP];
	int declined[MAX_CP];
	double done_at[MAX_CP];
	int64_t persisted[MAX_CP];
} coord;

static void
on_ack(void *ctx,
       const sluice_task_info *t,
       int64_t id,
       sluice_task_snapshot *s)
{
	coord *c = ctx;

	(void)t;
	pthread_mutex_lock(&c->lock);
	if (id < MAX_CP) {
		c->persisted[id] += (int64_t)s->persisted_bytes;
		if (++c->acks[id] == TASKS) {
			c->done_at[id] = bench_now();
			pthread_cond_broadcast(&c->cond);
		}
	}
	pthread_mutex_unlock(&c->lock);
	sluice_task_snapshot_free(s);
}

static void on_decline(
	void *ctx,
	const sluice_task_info *t,
	int64_t id,
	sluice_failure_reason reason,
	const char *msg)
{
	coord *c = ctx;

	(void)t;
	(void)reason;
	(void)msg;
	pthread_mutex_lock(&c->lock);
	if (id < MAX_CP) {
		c->declined[id] = 1;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
}

static sluice_job *build(int unaligned, size_t buffer)
{
	sluice_job_options o;
	const bench_chain b = {
		.name = "w8",
		.options = &o,
		.source = &source_op,
		.mid_uid = "map",
		.mid = &map_op,
		.edge = SLUICE_EDGE_FORWARD,
		.sink = &sink_op};

	memset(&o, 0, sizeof(o));
	o.version = SLUICE_JOB_OPTIONS_VERSION;
	o.buffer_size = buffer;
	o.unaligned = unaligned;
	return bench_chain_build(&b);
}

/* Wait for checkpoint `id` (or `limit` seconds); its duration in ms,
 * -1 when it was declined or did not finish. */
static double await(coord *c, int64_t id, double t0, double limit)
{
	double ms = -1;

	pthread_mutex_lock(&c->lock);
	while (c->acks[id] < TASKS && !c->declined[id] &&
	       bench_now() < t0 + limit) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 5000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	}
	if (c->acks[id] == TASKS)
		ms = (c->done_at[id] - t0) * 1000.0;
	pthread_mutex_unlock(&c->lock);
	return ms;
}

/* One round of `mode` (0 aligned, 1 unaligned, 2 aligned timeout 1 ms):
 * durations of its checkpoints into `out`; returns how many. */
static int round_once(
	int mode,
	double seconds,
	size_t buffer,
	double *out,
	int64_t *persisted)
{
	coord c;
	sluice_job_responder r = {SLUICE_RESPONDER_VERSION,
				  &c,
				  on_ack,
				  on_decline,
				  NULL,
				  NULL,
				  NULL};
	sluice_checkpoint_options opts;
	sluice_job *job = build(mode != 0, buffer);
	double start, t0;
	int64_t id;
	int n = 0;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	c.job = job;
	__atomic_store_n(&stop_sources, 0, __ATOMIC_RELAXED);
	if (!job || sluice_job_start(job, &r, NULL) < 0) {
		fprintf(stderr, "bench_unaligned: %s\n",
			sluice_error_last()->message);
		exit(1);
	}
	memset(&opts, 0, sizeof(opts));
	opts.unaligned = mode != 0;
	opts.aligned_timeout_ms = mode == 2 ? 1 : 0;
	start = bench_now();
	for (id = 1; id < MAX_CP && bench_now() < start + seconds; id++) {
		struct timespec gap = {0, 100000000L};
		double ms;

		nanosleep(&gap, NULL); /* fill the channels */
		t0 = bench_now();
		sluice_job_trigger_checkpoint(
			job, id, sluice_clock_wall_ms(sluice_clock_system()),
			&opts);
		ms = await(&c, id, t0, 30.0);
		if (ms >= 0) {
			out[n++] = ms;
			*persisted += c.persisted[id];
			sluice_job_notify_complete(job, id, -1);
		} else {
			sluice_job_notify_aborted(job, id);
		}
	}
	__atomic_store_n(&stop_sources, 1, __ATOMIC_RELAXED);
	sluice_job_stop(job);
	sluice_job_free(job);
	pthread_cond_destroy(&c.cond);
	pthread_mutex_destroy(&c.lock);
	return n;
}

int main(int argc, char **argv)
{
	static const char *const names[] = {
		"aligned", "unaligned", "aligned-timeout-1ms"};
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	int rounds = argc > 2 ? atoi(argv[2]) : 3, i, m, k;
	size_t buffer = argc > 3 ? (size_t)atoll(argv[3]) : 32768;
	static double d[3][MAX_CP * 8];
	int n[3] = {0, 0, 0};
	int64_t persisted[3] = {0, 0, 0};
	double med[3], spread[3], mx[3];

	if (rounds < 1 || rounds > 8)
		rounds = 3;
	for (i = 0; i < rounds; i++)
		for (m = 0; m < 3; m++)
			n[m] += round_once(
				m, seconds, buffer, d[m] + n[m], &persisted[m]);
	for (m = 0; m < 3; m++) {
		mx[m] = 0;
		for (k = 0; k < n[m]; k++)
			if (d[m][k] > mx[m])
				mx[m] = d[m][k];
		med[m] = n[m] ? bench_median(d[m], n[m], &spread[m]) : -1;
		printf("{\"workload\":\"W8-%s\",\"checkpoint_ms_median\":%.1f,"
		       "\"checkpoint_ms_max\":%.1f,\"checkpoints\":%d,"
		       "\"spread\":%.3f,\"persisted_bytes_per_checkpoint\":%"
		       ".0f,\"rounds\":%d,\"buffer_bytes\":%zu}\n",
		       names[m], med[m], mx[m], n[m], n[m] ? spread[m] : 0,
		       n[m] ? (double)persisted[m] / n[m] : 0, rounds, buffer);
	}
	printf("%-22s %12s %12s %6s %12s\n", "W8 mode", "median ms", "max ms",
	       "n", "vs aligned");
	for (m = 0; m < 3; m++)
		printf("%-22s %12.1f %12.1f %6d %12.3f\n", names[m], med[m],
		       mx[m], n[m], med[0] > 0 ? med[m] / med[0] : 0);
	return 0;
}
