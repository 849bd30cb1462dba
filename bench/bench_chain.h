/*
 * Shared pieces of the runtime benchmarks that drive a job graph directly
 * (bench_runtime.c, bench_unaligned.c): a generated source's position,
 * records keyed by 8 big-endian bytes, the source's operator state (its
 * offset) and the three-vertex chain source -> operator -> sink at
 * parallelism 2 both use.  Header-only, like bench_util.h, so each
 * bench_*.c stays one self-contained program.
 */
#ifndef SLUICE_BENCH_CHAIN_H
#define SLUICE_BENCH_CHAIN_H

#include <stdint.h>
#include <stdlib.h>

#include "sluice/sys/runtime.h"
#include "util/buf.h"

/* The position of a generated source subtask: its task-local counter,
 * allocated (zero) on the first call; NULL when out of memory. */
static inline int64_t *bench_src_pos(sluice_ctx *ctx)
{
	int64_t *pos = sluice_ctx_local(ctx);

	if (!pos) {
		if (!(pos = calloc(1, sizeof(*pos))))
			return NULL;
		sluice_ctx_set_local(ctx, pos);
	}
	return pos;
}

/* Emit a record whose key and value are the 8 big-endian bytes of `k`,
 * with timestamp `ts`; sluice_ctx_emit's return code. */
static inline int bench_emit_u64(sluice_ctx *ctx, uint64_t k, int64_t ts)
{
	uint8_t key[8];
	sluice_record rec;

	sluice__be64(key, k);
	rec.key = SLUICE_SLICE(key, 8);
	rec.value = SLUICE_SLICE(key, 8);
	rec.timestamp = ts;
	return sluice_ctx_emit(ctx, &rec);
}

/* snapshot_state of a generated source: its position as operator state
 * "offset" (one 8-byte big-endian element). */
static inline int bench_src_snapshot(sluice_ctx *ctx, int64_t id)
{
	int64_t *pos = sluice_ctx_local(ctx);
	uint8_t b[8];
	sluice_slice el = SLUICE_SLICE(b, 8);

	(void)id;
	sluice__be64(b, pos ? (uint64_t)*pos : 0);
	return sluice_ctx_opstate_set(ctx, "offset", &el, 1);
}

/* close of a generated source: frees its position. */
static inline void bench_src_close(sluice_ctx *ctx, int failed)
{
	(void)failed;
	free(sluice_ctx_local(ctx));
}

/* source "src" -(edge)-> operator `mid_uid` -(forward)-> sink "sink",
 * every vertex at parallelism 2. */
typedef struct bench_chain {
	const char *name;
	const sluice_job_options *options; /* NULL: the defaults */
	const sluice_operator *source;
	void *source_arg;
	const char *mid_uid;
	const sluice_operator *mid;
	sluice_partitioning edge;
	const sluice_operator *sink;
} bench_chain;

/* The job of `b`; NULL (last error set) when it cannot be created. */
static inline sluice_job *bench_chain_build(const bench_chain *b)
{
	sluice_job *job;
	sluice_vertex_spec spec;
	int s, m, k;

	if (sluice_job_new(&job, b->name, b->options) < 0)
		return NULL;
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_SOURCE, "src", NULL, 2, 0, b->source,
		b->source_arg};
	sluice_job_add(job, &s, &spec);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_OPERATOR, b->mid_uid, NULL, 2, 0, b->mid, NULL};
	sluice_job_add(job, &m, &spec);
	spec = (sluice_vertex_spec){
		SLUICE_VERTEX_SINK, "sink", NULL, 2, 0, b->sink, NULL};
	sluice_job_add(job, &k, &spec);
	sluice_job_connect(job, s, m, 0, b->edge);
	sluice_job_connect(job, m, k, 0, SLUICE_EDGE_FORWARD);
	return job;
}

#endif
