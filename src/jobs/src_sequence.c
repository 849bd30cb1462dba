/*
 * The `sequence` source: records i = 0, 1, ... count-1 (forever when
 * count is 0) with key "k<i mod keys>", value i in decimal and timestamp
 * i.  The index space is cut into splits: at the first start subtask s of
 * p owns split {first s, stride p} and emits s, s+p, s+2p, ...  Each split
 * with its next index is one element of the operator list state
 * "sequence-splits" (24 bytes: first, stride, next, big-endian), so a
 * restore rewinds every split exactly, and a restore at another
 * parallelism deals the splits out to the new subtasks (even-split
 * redistribution) without losing or repeating an index: a subtask may then
 * own several splits (emitted in turn) or none.  An optional rate limits
 * the total records per second: each subtask emits rate/p per second of
 * the job's clock, waiting on a processing-time timer when ahead.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jobs/builtins.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

#define BATCH      64
#define STATE_NAME "sequence-splits"
#define SPLIT_SIZE 24

typedef struct split {
	int64_t first, stride, next;
} split;

typedef struct seq_local {
	split *splits; /* owned splits */
	size_t n;
	size_t cur;      /* split emitted from next */
	int64_t t0;      /* processing time of open (rate) */
	int64_t emitted; /* since open (rate) */
} seq_local;

static int seq_init(sluice_ctx *ctx, int restored)
{
	seq_local *l = sluice__calloc(1, sizeof(*l));
	const sluice_slice *el = NULL;
	size_t n = 0, i;
	int rc;

	if (!l)
		return sluice__error_oom();
	sluice_ctx_set_local(ctx, l);
	if (restored &&
	    (rc = sluice_ctx_opstate_get(ctx, STATE_NAME, &el, &n)) < 0)
		return rc;
	if (!restored || n == 0) {
		/* fresh start (or restored state without splits: a fresh
		 * subtask of a job that never checkpointed this source) */
		if (restored)
			return 0;
		if (!(l->splits = sluice__calloc(1, sizeof(*l->splits))))
			return sluice__error_oom();
		l->splits[0].first = l->splits[0].next =
			sluice_ctx_subtask(ctx);
		l->splits[0].stride = sluice_ctx_parallelism(ctx);
		l->n = 1;
		return 0;
	}
	if (!(l->splits = sluice__calloc(n, sizeof(*l->splits))))
		return sluice__error_oom();
	for (i = 0; i < n; i++) {
		const uint8_t *b = el[i].data;
		split *sp = &l->splits[i];

		if (el[i].len != SPLIT_SIZE)
			return sluice__error_set(
				SLUICE_ECORRUPT, SLUICE_ERRCLS_JOB,
				"sequence source '%s' subtask %d: restored "
				"split %zu has %zu bytes, expected %d",
				sluice_ctx_uid(ctx),
				(int)sluice_ctx_subtask(ctx), i, el[i].len,
				SPLIT_SIZE);
		sp->first = (int64_t)sluice__rd64(b);
		sp->stride = (int64_t)sluice__rd64(b + 8);
		sp->next = (int64_t)sluice__rd64(b + 16);
		if (sp->first < 0 || sp->stride < 1 || sp->next < sp->first ||
		    (sp->next - sp->first) % sp->stride)
			return sluice__error_set(
				SLUICE_ECORRUPT, SLUICE_ERRCLS_JOB,
				"sequence source '%s' subtask %d: restored "
				"split %zu (first %" PRId64 ", stride %" PRId64
				", next %" PRId64 ") is inconsistent",
				sluice_ctx_uid(ctx),
				(int)sluice_ctx_subtask(ctx), i, sp->first,
				sp->stride, sp->next);
	}
	l->n = n;
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

static int split_done(const split *sp, int64_t count)
{
	return count > 0 && sp->next >= count;
}

/* The next split with indices left, from the cursor on; NULL when all
 * are done. */
static split *next_split(seq_local *l, int64_t count)
{
	size_t k;

	for (k = 0; k < l->n; k++) {
		split *sp = &l->splits[(l->cur + k) % l->n];

		if (!split_done(sp, count)) {
			l->cur = (l->cur + k) % l->n;
			return sp;
		}
	}
	return NULL;
}

static int seq_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	const sluice__sequence_arg *a = sluice_ctx_arg(ctx);
	seq_local *l = sluice_ctx_local(ctx);
	int64_t allow = seq_allowance(ctx, a), i;
	split *sp = NULL;
	int rc;

	if (allow < 0)
		return sluice__error_oom();
	if (allow > BATCH)
		allow = BATCH;
	for (i = 0; i < allow; i++) {
		if (!(sp = next_split(l, a->count)))
			break;
		if ((rc = seq_emit(ctx, a, sp->next)) < 0)
			return rc;
		sp->next += sp->stride;
		l->cur = (l->cur + 1) % l->n; /* take turns between splits */
		l->emitted++;
	}
	if (!next_split(l, a->count))
		*status = SLUICE_SOURCE_END;
	else
		*status = allow == 0 ? SLUICE_SOURCE_IDLE : SLUICE_SOURCE_MORE;
	return 0;
}

static int seq_snapshot(sluice_ctx *ctx, int64_t id)
{
	seq_local *l = sluice_ctx_local(ctx);
	uint8_t *b = sluice__malloc(l->n * SPLIT_SIZE + 1);
	sluice_slice *el = sluice__calloc(l->n + 1, sizeof(*el));
	size_t i;
	int rc;

	(void)id;
	if (!b || !el) {
		sluice__free(b);
		sluice__free(el);
		return sluice__error_oom();
	}
	for (i = 0; i < l->n; i++) {
		uint8_t *p = b + i * SPLIT_SIZE;

		sluice__be64(p, (uint64_t)l->splits[i].first);
		sluice__be64(p + 8, (uint64_t)l->splits[i].stride);
		sluice__be64(p + 16, (uint64_t)l->splits[i].next);
		el[i] = SLUICE_SLICE(p, SPLIT_SIZE);
	}
	rc = sluice_ctx_opstate_set(ctx, STATE_NAME, el, l->n);
	sluice__free(b);
	sluice__free(el);
	return rc;
}

static void seq_close(sluice_ctx *ctx, int failed)
{
	seq_local *l = sluice_ctx_local(ctx);

	(void)failed;
	if (l)
		sluice__free(l->splits);
	sluice__free(l);
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
