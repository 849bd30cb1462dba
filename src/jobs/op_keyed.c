/*
 * The simple built-in operators: `count` (keyed running count, emits
 * "<key>,<count>"), `sum` (keyed running sum of the decimal values, emits
 * "<key>,<sum>"), `dedup` (forwards the first record of each key; with a
 * TTL a key is forgotten `ttl` after it was first seen, by processing
 * time) and `throttle` (sleeps `per-record` before forwarding each record:
 * a deliberately slow operator for backpressure tests; it sleeps in real
 * time, not on the job's clock).  All keyed state is keyed value state
 * through sluice_ctx, so it is checkpointed and restored by the job's
 * state provider.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jobs/builtins.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

int sluice__value_i64(sluice_slice v, int64_t *out)
{
	const char *s = v.data;
	int64_t n = 0;
	size_t i = 0;
	int neg = 0;

	if (v.len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == v.len || v.len - i > 19)
		goto bad;
	for (; i < v.len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		if (n > (INT64_MAX - (s[i] - '0')) / 10)
			goto bad;
		n = n * 10 + (s[i] - '0');
	}
	*out = neg ? -n : n;
	return 0;
bad:
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
		"value '%.*s' is not a decimal integer",
		(int)(v.len > 64 ? 64 : v.len), v.len ? s : "");
}

int sluice__emit_key_count(sluice_ctx *ctx, const sluice_record *rec, int64_t n)
{
	char buf[512];
	sluice_buf big = SLUICE_BUF_INIT;
	sluice_record out = *rec;
	int len, rc;

	len = snprintf(
		buf, sizeof(buf), "%.*s,%" PRId64, (int)rec->key.len,
		(const char *)rec->key.data, n);
	if (len >= 0 && (size_t)len < sizeof(buf)) {
		out.value = SLUICE_SLICE(buf, (size_t)len);
		return sluice_ctx_emit(ctx, &out);
	}
	if ((rc = sluice_buf_printf(
		     &big, "%.*s,%" PRId64, (int)rec->key.len,
		     (const char *)rec->key.data, n)) < 0)
		return rc;
	out.value = SLUICE_SLICE(big.ptr, big.len);
	rc = sluice_ctx_emit(ctx, &out);
	sluice_buf_release(&big);
	return rc;
}

/* Add `delta` to the keyed int64 `state` and emit the new total. */
static int add_and_emit(
	sluice_ctx *ctx,
	const sluice_record *rec,
	const char *state,
	int64_t delta)
{
	int64_t n = 0;
	int rc = sluice_ctx_value_get_i64(ctx, state, &n);

	if (rc < 0 && rc != SLUICE_ENOTFOUND)
		return rc;
	n += delta;
	if ((rc = sluice_ctx_value_put_i64(ctx, state, n)) < 0)
		return rc;
	return sluice__emit_key_count(ctx, rec, n);
}

static int count_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	(void)input;
	return add_and_emit(ctx, rec, "count", 1);
}

const sluice_operator sluice__count_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = count_process,
};

static int sum_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	int64_t v;
	int rc;

	(void)input;
	if ((rc = sluice__value_i64(rec->value, &v)) < 0)
		return sluice__error_wrap("sum '%s'", sluice_ctx_uid(ctx));
	return add_and_emit(ctx, rec, "sum", v);
}

const sluice_operator sluice__sum_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = sum_process,
};

static int dedup_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	const sluice__ttl_arg *a = sluice_ctx_arg(ctx);
	int64_t now = sluice_ctx_now_ms(ctx), seen;
	int rc = sluice_ctx_value_get_i64(ctx, "dedup-first-seen", &seen);

	(void)input;
	if (rc < 0 && rc != SLUICE_ENOTFOUND)
		return rc;
	if (rc == 0 && (a->ttl_ms <= 0 || now - seen < a->ttl_ms))
		return 0;
	if ((rc = sluice_ctx_value_put_i64(ctx, "dedup-first-seen", now)) < 0)
		return rc;
	return sluice_ctx_emit(ctx, rec);
}

const sluice_operator sluice__dedup_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = dedup_process,
};

static int
throttle_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	const sluice__throttle_arg *a = sluice_ctx_arg(ctx);

	(void)input;
	if (a->per_record_ms > 0) {
		struct timespec ts = {
			(time_t)(a->per_record_ms / 1000),
			(long)(a->per_record_ms % 1000) * 1000000L};

		while (nanosleep(&ts, &ts) != 0)
			; /* interrupted: sleep the rest */
	}
	return sluice_ctx_emit(ctx, rec);
}

const sluice_operator sluice__throttle_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = throttle_process,
};

static int no_params(
	void **arg,
	const sluice__jobspec *js,
	sluice__stage *st,
	const sluice_config *conf)
{
	(void)js;
	(void)st;
	(void)conf;
	*arg = NULL;
	return 0;
}

static int ttl_configure(
	void **arg,
	const sluice__jobspec *js,
	sluice__stage *st,
	const sluice_config *conf)
{
	sluice__ttl_arg *a = sluice__calloc(1, sizeof(*a));
	int rc;

	(void)conf;
	if (!a)
		return sluice__error_oom();
	if ((rc = sluice__param_duration(js, st, "ttl", 0, &a->ttl_ms)) < 0) {
		sluice__free(a);
		return rc;
	}
	*arg = a;
	return 0;
}

static int throttle_configure(
	void **arg,
	const sluice__jobspec *js,
	sluice__stage *st,
	const sluice_config *conf)
{
	sluice__throttle_arg *a = sluice__calloc(1, sizeof(*a));
	int rc;

	(void)conf;
	if (!a)
		return sluice__error_oom();
	if ((rc = sluice__param_duration(
		     js, st, "per-record", 1, &a->per_record_ms)) < 0) {
		sluice__free(a);
		return rc;
	}
	*arg = a;
	return 0;
}

static void no_free(void *arg)
{
	(void)arg;
}

const sluice__builtin sluice__builtin_count = {
	SLUICE__STAGE_OPERATOR,
	"count",
	SLUICE_VERTEX_OPERATOR,
	1,
	&sluice__count_op,
	no_params,
	no_free};
const sluice__builtin sluice__builtin_sum = {
	SLUICE__STAGE_OPERATOR,
	"sum",
	SLUICE_VERTEX_OPERATOR,
	1,
	&sluice__sum_op,
	no_params,
	no_free};
const sluice__builtin sluice__builtin_dedup = {
	SLUICE__STAGE_OPERATOR,
	"dedup",
	SLUICE_VERTEX_OPERATOR,
	1,
	&sluice__dedup_op,
	ttl_configure,
	sluice__free};
const sluice__builtin sluice__builtin_throttle = {
	SLUICE__STAGE_OPERATOR,
	"throttle",
	SLUICE_VERTEX_OPERATOR,
	0,
	&sluice__throttle_op,
	throttle_configure,
	sluice__free};
