/*
 * The `sequence` source: records i = 0, 1, ... count-1 (forever when
 * count is 0) with key "k<i mod keys>", value i in decimal and timestamp
 * i.  Subtask s of p emits i = s, s+p, s+2p, ...; its next index is its
 * operator state ("sequence-next", one 8-byte element), so a restore
 * rewinds exactly to the checkpointed position.  An optional rate limits
 * the total records per second: each subtask emits rate/p per second of
 * the job's clock, waiting on a processing-time timer when ahead.
 * Restoring at a different parallelism is refused (the index split would
 * change).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jobs/builtins.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

#define BATCH      64
#define STATE_NAME "sequence-next"

typedef struct seq_local {
	int64_t next;    /* next index to emit */
	int64_t t0;      /* processing time of open (rate) */
	int64_t emitted; /* since open (rate) */
} seq_local;

static int seq_init(sluice_ctx *ctx, int restored)
{
	seq_local *l = sluice__calloc(1, sizeof(*l));
	const sluice_slice *el;
	size_t n;
	int rc;

	if (!l)
		return sluice__error_oom();
	sluice_ctx_set_local(ctx, l);
	l->next = sluice_ctx_subtask(ctx);
	if (!restored)
		return 0;
	if ((rc = sluice_ctx_opstate_get(ctx, STATE_NAME, &el, &n)) < 0)
		return rc;
	if (n == 0)
		return 0;
	if (n != 1 || el[0].len != 8)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"sequence source '%s' subtask %d: restored %zu "
			"positions; restoring at another parallelism is not "
			"supported",
			sluice_ctx_uid(ctx), (int)sluice_ctx_subtask(ctx), n);
	l->next = (int64_t)sluice__rd64(el[0].data);
	if (l->next < 0 ||
	    l->next % sluice_ctx_parallelism(ctx) != sluice_ctx_subtask(ctx))
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_JOB,
			"sequence source '%s' subtask %d: restored position "
			"%" PRId64 " does not belong to this subtask",
			sluice_ctx_uid(ctx), (int)sluice_ctx_subtask(ctx),
			l->next);
	return 0;
}

static int seq_open(sluice_ctx *ctx)
{
	seq_local *l = sluice_ctx_local(ctx);

	l->t0 = sluice_ctx_now_ms(ctx);
	return 0;
}

/* With a rate: how many more records may go now; registers a timer for
 * the next one when none may. */
static int64_t seq_allowance(sluice_ctx *ctx, const sluice__sequence_arg *a)
{
	seq_local *l = sluice_ctx_local(ctx);
	int64_t p = sluice_ctx_parallelism(ctx);
	int64_t now = sluice_ctx_now_ms(ctx), due, next_at;

	if (a->rate <= 0)
		return BATCH;
	due = (now - l->t0) * a->rate / (1000 * p) + 1;
	if (due > l->emitted)
		return due - l->emitted;
	next_at = l->t0 + (l->emitted * 1000 * p + a->rate - 1) / a->rate;
	if (next_at <= now)
		next_at = now + 1;
	if (sluice_ctx_timer_register(ctx, next_at) < 0)
		return -1;
	return 0;
}

static int seq_emit(sluice_ctx *ctx, const sluice__sequence_arg *a, int64_t i)
{
	char key[32], val[32];
	sluice_record rec;
	int kl = snprintf(key, sizeof(key), "k%" PRId64, i % a->keys);
	int vl = snprintf(val, sizeof(val), "%" PRId64, i);

	rec.key = SLUICE_SLICE(key, (size_t)kl);
	rec.value = SLUICE_SLICE(val, (size_t)vl);
	rec.timestamp = i;
	return sluice_ctx_emit(ctx, &rec);
}

static int seq_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	const sluice__sequence_arg *a = sluice_ctx_arg(ctx);
	seq_local *l = sluice_ctx_local(ctx);
	int64_t p = sluice_ctx_parallelism(ctx);
	int64_t allow = seq_allowance(ctx, a), i;
	int rc;

	if (allow < 0)
		return sluice__error_oom();
	if (allow > BATCH)
		allow = BATCH;
	for (i = 0; i < allow; i++) {
		if (a->count > 0 && l->next >= a->count)
			break;
		if ((rc = seq_emit(ctx, a, l->next)) < 0)
			return rc;
		l->next += p;
		l->emitted++;
	}
	if (a->count > 0 && l->next >= a->count)
		*status = SLUICE_SOURCE_END;
	else
		*status = allow == 0 ? SLUICE_SOURCE_IDLE : SLUICE_SOURCE_MORE;
	return 0;
}

static int seq_snapshot(sluice_ctx *ctx, int64_t id)
{
	seq_local *l = sluice_ctx_local(ctx);
	uint8_t b[8];
	sluice_slice el = SLUICE_SLICE(b, 8);

	(void)id;
	sluice__be64(b, (uint64_t)l->next);
	return sluice_ctx_opstate_set(ctx, STATE_NAME, &el, 1);
}

static void seq_close(sluice_ctx *ctx, int failed)
{
	(void)failed;
	sluice__free(sluice_ctx_local(ctx));
	sluice_ctx_set_local(ctx, NULL);
}

const sluice_operator sluice__sequence_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.initialize_state = seq_init,
	.open = seq_open,
	.poll = seq_poll,
	.snapshot_state = seq_snapshot,
	.close = seq_close,
};

static int seq_configure(
	void **arg,
	const sluice__jobspec *js,
	sluice__stage *st,
	const sluice_config *conf)
{
	sluice__sequence_arg *a = sluice__calloc(1, sizeof(*a));
	int rc;

	(void)conf;
	if (!a)
		return sluice__error_oom();
	a->keys = 1000;
	if ((rc = sluice__param_i64(js, st, "count", 0, 0, &a->count)) < 0 ||
	    (rc = sluice__param_i64(js, st, "keys", 0, 1, &a->keys)) < 0 ||
	    (rc = sluice__param_i64(js, st, "rate", 0, 1, &a->rate)) < 0) {
		sluice__free(a);
		return rc;
	}
	*arg = a;
	return 0;
}

const sluice__builtin sluice__builtin_sequence = {
	SLUICE__STAGE_SOURCE, "sequence",    SLUICE_VERTEX_SOURCE, 0,
	&sluice__sequence_op, seq_configure, sluice__free};
