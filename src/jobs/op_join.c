/*
 * The `join` operator: two inputs joined by key.  Each side keeps the
 * latest value of every key in keyed value state ("join-left" for input
 * 0, "join-right" for input 1), stamped with the processing time it
 * arrived.  A record updates its side and, when the other side holds a
 * live value for the key, emits "<key>,<left>,<right>".  State is bounded
 * by a TTL (the stage's `ttl`, else table.exec.state.ttl; 0 = never): a
 * value older than the TTL is treated as absent and removed when met.
 */
#include <inttypes.h>
#include <string.h>

#include "jobs/builtins.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

static const char *const sides[2] = {"join-left", "join-right"};

/* The other side's live value of the current key; found: 1, absent: 0. */
static int other_side(sluice_ctx *ctx, int input, int64_t now, sluice_buf *copy)
{
	const sluice__ttl_arg *a = sluice_ctx_arg(ctx);
	sluice_slice v;
	int rc = sluice_ctx_value_get(ctx, sides[1 - input], &v);

	if (rc == SLUICE_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (v.len < 8)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"join '%s': state %s holds %zu bytes, expected >= 8",
			sluice_ctx_uid(ctx), sides[1 - input], v.len);
	if (a->ttl_ms > 0 && now - (int64_t)sluice__rd64(v.data) >= a->ttl_ms) {
		rc = sluice_ctx_value_remove(ctx, sides[1 - input]);
		return rc < 0 ? rc : 0;
	}
	if ((rc = sluice_buf_put(
		     copy, (const uint8_t *)v.data + 8, v.len - 8)) < 0)
		return rc;
	return 1;
}

static int join_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	int64_t now = sluice_ctx_now_ms(ctx);
	sluice_buf mine = SLUICE_BUF_INIT, other = SLUICE_BUF_INIT;
	sluice_buf out = SLUICE_BUF_INIT;
	sluice_record o = *rec;
	int rc, found;

	if ((rc = sluice_buf_put_u64(&mine, (uint64_t)now)) < 0 ||
	    (rc = sluice_buf_put(&mine, rec->value.data, rec->value.len)) < 0)
		goto done;
	if ((rc = sluice_ctx_value_put(
		     ctx, sides[input], SLUICE_SLICE(mine.ptr, mine.len))) < 0)
		goto done;
	if ((found = rc = other_side(ctx, input, now, &other)) <= 0)
		goto done;
	{
		const sluice_buf *l = input == 0 ? NULL : &other;
		const sluice_buf *r = input == 0 ? &other : NULL;

		rc = sluice_buf_printf(
			&out, "%.*s,%.*s,%.*s", (int)rec->key.len,
			(const char *)rec->key.data,
			(int)(l ? l->len : rec->value.len),
			l ? (const char *)l->ptr
			  : (const char *)rec->value.data,
			(int)(r ? r->len : rec->value.len),
			r ? (const char *)r->ptr
			  : (const char *)rec->value.data);
	}
	if (rc < 0)
		goto done;
	o.value = SLUICE_SLICE(out.ptr, out.len);
	rc = sluice_ctx_emit(ctx, &o);
done:
	(void)found;
	sluice_buf_release(&mine);
	sluice_buf_release(&other);
	sluice_buf_release(&out);
	return rc;
}

const sluice_operator sluice__join_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = join_process,
};

static int join_configure(
	void **arg,
	const sluice__jobspec *js,
	sluice__stage *st,
	const sluice_config *conf)
{
	sluice__ttl_arg *a = sluice__calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return sluice__error_oom();
	if (conf && (rc = sluice_config_get_duration(
			     conf, "table.exec.state.ttl", &a->ttl_ms)) < 0)
		goto fail;
	if ((rc = sluice__param_duration(js, st, "ttl", 0, &a->ttl_ms)) < 0)
		goto fail;
	*arg = a;
	return 0;
fail:
	sluice__free(a);
	return rc;
}

const sluice__builtin sluice__builtin_join = {
	SLUICE__STAGE_OPERATOR,
	"join",
	SLUICE_VERTEX_OPERATOR2,
	1,
	&sluice__join_op,
	join_configure,
	sluice__free};
