/*
 * The operator context (sluice_ctx): what an operator callback may do —
 * emit records, read its subtask identity, register processing-time
 * timers, and reach keyed and operator state through the subtask's state
 * provider.  A sluice_ctx is the subtask itself seen through the public
 * API; every function here runs on the subtask's thread.
 */
#include <string.h>

#include "runtime/runtime.h"
#include "util/alloc.h"
#include "util/error.h"

#define TASK(ctx) ((sluice__task *)(ctx))

int sluice_ctx_emit(sluice_ctx *ctx, const sluice_record *rec)
{
	sluice__metric_add_u64(&TASK(ctx)->m_emitted, 1);
	return sluice__output_emit(TASK(ctx), rec);
}

int32_t sluice_ctx_subtask(const sluice_ctx *ctx)
{
	return ((const sluice__task *)ctx)->subtask;
}

int32_t sluice_ctx_parallelism(const sluice_ctx *ctx)
{
	return ((const sluice__task *)ctx)->v->parallelism;
}

int32_t sluice_ctx_max_parallelism(const sluice_ctx *ctx)
{
	return ((const sluice__task *)ctx)->v->max_parallelism;
}

const char *sluice_ctx_uid(const sluice_ctx *ctx)
{
	return ((const sluice__task *)ctx)->v->uid;
}

void *sluice_ctx_arg(const sluice_ctx *ctx)
{
	return ((const sluice__task *)ctx)->v->arg;
}

void *sluice_ctx_local(const sluice_ctx *ctx)
{
	return ((const sluice__task *)ctx)->local;
}

void sluice_ctx_set_local(sluice_ctx *ctx, void *local)
{
	TASK(ctx)->local = local;
}

int64_t sluice_ctx_now_ms(sluice_ctx *ctx)
{
	return sluice_clock_wall_ms(TASK(ctx)->job->clock);
}

int sluice_ctx_timer_register(sluice_ctx *ctx, int64_t when_ms)
{
	sluice__task *t = TASK(ctx);
	size_t i = 0;

	while (i < t->num_timers && t->timers[i] < when_ms)
		i++;
	if (i < t->num_timers && t->timers[i] == when_ms)
		return 0; /* one timer per timestamp */
	if (t->num_timers == t->cap_timers) {
		size_t cap = t->cap_timers ? t->cap_timers * 2 : 8;
		int64_t *grown =
			sluice__reallocarray(t->timers, cap, sizeof(*grown));

		if (!grown)
			return sluice__error_oom();
		t->timers = grown;
		t->cap_timers = cap;
	}
	memmove(t->timers + i + 1, t->timers + i,
		(t->num_timers - i) * sizeof(*t->timers));
	t->timers[i] = when_ms;
	t->num_timers++;
	return 0;
}

int sluice_ctx_set_key(sluice_ctx *ctx, sluice_slice key)
{
	sluice__task *t = TASK(ctx);

	sluice_buf_clear(&t->key_buf);
	SLUICE_ERRCHECK(sluice_buf_put(&t->key_buf, key.data, key.len));
	t->key = SLUICE_SLICE(
		t->key_buf.ptr ? (const void *)t->key_buf.ptr : "", key.len);
	return 0;
}

int sluice_ctx_value_get(sluice_ctx *ctx, const char *state, sluice_slice *out)
{
	sluice__task *t = TASK(ctx);

	return t->provider->value_get(t->provider, state, t->key, out);
}

int sluice_ctx_value_put(sluice_ctx *ctx, const char *state, sluice_slice value)
{
	sluice__task *t = TASK(ctx);

	return t->provider->value_put(t->provider, state, t->key, value);
}

int sluice_ctx_value_remove(sluice_ctx *ctx, const char *state)
{
	sluice__task *t = TASK(ctx);

	return t->provider->value_remove(t->provider, state, t->key);
}

int sluice_ctx_value_get_i64(sluice_ctx *ctx, const char *state, int64_t *out)
{
	sluice_slice v;
	int rc;

	*out = 0;
	if ((rc = sluice_ctx_value_get(ctx, state, &v)) < 0)
		return rc;
	if (v.len != 8)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"state '%s': value of %zu bytes is not an int64", state,
			v.len);
	*out = (int64_t)sluice__rd64(v.data);
	return 0;
}

int sluice_ctx_value_put_i64(sluice_ctx *ctx, const char *state, int64_t value)
{
	uint8_t b[8];

	sluice__be64(b, (uint64_t)value);
	return sluice_ctx_value_put(ctx, state, SLUICE_SLICE(b, 8));
}

int sluice_ctx_opstate_get(
	sluice_ctx *ctx,
	const char *name,
	const sluice_slice **elems,
	size_t *count)
{
	sluice__task *t = TASK(ctx);

	return t->provider->opstate_get(t->provider, name, elems, count);
}

int sluice_ctx_opstate_set(
	sluice_ctx *ctx,
	const char *name,
	const sluice_slice *elems,
	size_t count)
{
	sluice__task *t = TASK(ctx);

	return t->provider->opstate_set(t->provider, name, elems, count);
}

int sluice_ctx_union_state_set(
	sluice_ctx *ctx,
	const char *name,
	const sluice_slice *elems,
	size_t count)
{
	sluice__task *t = TASK(ctx);

	if (!t->provider->opstate_set_mode)
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_RUNTIME,
			"union state '%s': the job's state provider keeps "
			"split "
			"lists only",
			name);
	return t->provider->opstate_set_mode(
		t->provider, name, SLUICE_OPSTATE_UNION, elems, count);
}
