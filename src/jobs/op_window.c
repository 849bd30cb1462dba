/*
 * The `tumbling-window` operator: per key, the count (or sum of the
 * decimal values) of the records in each window [start, start + size),
 * start a multiple of `size`.  Windows are assigned by processing time
 * (the job's clock at arrival) or by event time (the record timestamp).
 * Output on firing: value "<key>,<start>,<end>,<result>".
 *
 * Each key has at most one open window, in keyed value state "window"
 * (start, count, sum: 24 bytes).  The subtask also keeps the list of keys
 * with an open window to fire them, as operator state: an owned list
 * (owned_list.c: union "window-keys", or the split "window-open-keys" of
 * older checkpoints and union-less providers), so after a restore at
 * another parallelism each subtask lists the keys of its key groups:
 * - processing time: a timer at each window end fires every open window
 *   that ended;
 * - event time: the watermark is the largest timestamp seen by the
 *   subtask; windows ending at or before it fire; a record whose window
 *   already ended (or is older than its key's open window) is late and
 *   dropped;
 * - a record for a later window than its key's open one fires that one
 *   first;
 * - end of input fires every open window.
 */
#include <inttypes.h>
#include <string.h>

#include "jobs/builtins.h"
#include "sluice/sys/runtime.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

#define STATE     "window"
#define KEYS_NAME "window-keys"      /* union list */
#define KEYS_OLD  "window-open-keys" /* split list */

typedef struct win_local {
	sluice_slice *keys; /* open windows' keys, owned copies */
	size_t num_keys, cap_keys;
	int64_t watermark; /* event time */
	int64_t last_timer;
	sluice__owned_list state;
} win_local;

typedef struct win_state {
	int64_t start, count, sum;
} win_state;

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int key_add(win_local *l, sluice_slice key)
{
	void *copy;

	if (l->num_keys == l->cap_keys) {
		size_t cap = l->cap_keys ? l->cap_keys * 2 : 64;
		sluice_slice *k =
			sluice__reallocarray(l->keys, cap, sizeof(*k));

		if (!k)
			return sluice__error_oom();
		l->keys = k;
		l->cap_keys = cap;
	}
	if (!(copy = sluice__malloc(key.len + 1)))
		return sluice__error_oom();
	if (key.len)
		memcpy(copy, key.data, key.len);
	((char *)copy)[key.len] = '\0';
	l->keys[l->num_keys++] = SLUICE_SLICE(copy, key.len);
	return 0;
}

static int get_state(sluice_ctx *ctx, win_state *ws)
{
	sluice_slice v;
	int rc = sluice_ctx_value_get(ctx, STATE, &v);

	if (rc < 0)
		return rc;
	if (v.len != 24)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"tumbling-window '%s': state holds %zu bytes, "
			"expected 24",
			sluice_ctx_uid(ctx), v.len);
	ws->start = (int64_t)sluice__rd64(v.data);
	ws->count = (int64_t)sluice__rd64((const uint8_t *)v.data + 8);
	ws->sum = (int64_t)sluice__rd64((const uint8_t *)v.data + 16);
	return 0;
}

static int put_state(sluice_ctx *ctx, const win_state *ws)
{
	uint8_t b[24];

	sluice__be64(b, (uint64_t)ws->start);
	sluice__be64(b + 8, (uint64_t)ws->count);
	sluice__be64(b + 16, (uint64_t)ws->sum);
	return sluice_ctx_value_put(ctx, STATE, SLUICE_SLICE(b, 24));
}

/* Emit the current key's window and clear its state. */
static int emit_window(sluice_ctx *ctx, sluice_slice key, const win_state *ws)
{
	const sluice__window_arg *a = sluice_ctx_arg(ctx);
	sluice_buf out = SLUICE_BUF_INIT;
	sluice_record rec;
	int rc;

	if ((rc = sluice_buf_printf(
		     &out, "%.*s,%" PRId64 ",%" PRId64 ",%" PRId64,
		     (int)key.len, (const char *)key.data, ws->start,
		     ws->start + a->size_ms, a->sum ? ws->sum : ws->count)) < 0)
		return rc;
	rec.key = key;
	rec.value = SLUICE_SLICE(out.ptr, out.len);
	rec.timestamp = ws->start + a->size_ms - 1;
	rc = sluice_ctx_emit(ctx, &rec);
	sluice_buf_release(&out);
	if (rc == 0)
		rc = sluice_ctx_value_remove(ctx, STATE);
	return rc;
}

/* Fire every open window ending at or before `limit`. */
static int fire_upto(sluice_ctx *ctx, int64_t limit)
{
	const sluice__window_arg *a = sluice_ctx_arg(ctx);
	win_local *l = sluice_ctx_local(ctx);
	size_t i, keep = 0;
	int rc = 0;

	for (i = 0; i < l->num_keys; i++) {
		win_state ws;
		sluice_slice k = l->keys[i];

		if (rc == 0 && (rc = sluice_ctx_set_key(ctx, k)) == 0) {
			rc = get_state(ctx, &ws);
			if (rc == SLUICE_ENOTFOUND) {
				rc = 0; /* fired by a later record */
				sluice__free((void *)k.data);
				continue;
			}
			if (rc == 0 && ws.start + a->size_ms <= limit) {
				rc = emit_window(ctx, k, &ws);
				if (rc == 0) {
					sluice__free((void *)k.data);
					continue;
				}
			}
		}
		l->keys[keep++] = k;
	}
	l->num_keys = keep;
	return rc;
}

static int arm_timer(sluice_ctx *ctx, int64_t end)
{
	win_local *l = sluice_ctx_local(ctx);

	if (end == l->last_timer)
		return 0;
	l->last_timer = end;
	return sluice_ctx_timer_register(ctx, end);
}

/* Add the record to its key's window (opening one when needed). */
static int add_record(sluice_ctx *ctx, const sluice_record *rec, int64_t t)
{
	const sluice__window_arg *a = sluice_ctx_arg(ctx);
	win_local *l = sluice_ctx_local(ctx);
	int64_t start = floor_div(t, a->size_ms) * a->size_ms, v = 0;
	win_state ws;
	int rc;

	if (a->sum && (rc = sluice__value_i64(rec->value, &v)) < 0)
		return sluice__error_wrap(
			"tumbling-window '%s'", sluice_ctx_uid(ctx));
	if (a->event_time && start + a->size_ms <= l->watermark + 1)
		return 0; /* late */
	rc = get_state(ctx, &ws);
	if (rc < 0 && rc != SLUICE_ENOTFOUND)
		return rc;
	if (rc == 0 && ws.start > start)
		return 0; /* older than the key's open window: late */
	if (rc == 0 && ws.start < start) {
		if ((rc = emit_window(ctx, rec->key, &ws)) < 0)
			return rc;
		rc = SLUICE_ENOTFOUND; /* key stays in the list */
	} else if (rc == SLUICE_ENOTFOUND && (rc = key_add(l, rec->key)) == 0) {
		rc = SLUICE_ENOTFOUND;
	}
	if (rc == SLUICE_ENOTFOUND)
		ws = (win_state){start, 0, 0};
	else if (rc < 0)
		return rc;
	ws.count++;
	ws.sum += v;
	if ((rc = put_state(ctx, &ws)) < 0)
		return rc;
	return a->event_time ? 0 : arm_timer(ctx, start + a->size_ms);
}

static int win_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	const sluice__window_arg *a = sluice_ctx_arg(ctx);
	win_local *l = sluice_ctx_local(ctx);
	int rc;

	(void)input;
	if (!a->event_time)
		return add_record(ctx, rec, sluice_ctx_now_ms(ctx));
	if ((rc = add_record(ctx, rec, rec->timestamp)) < 0)
		return rc;
	if (rec->timestamp > l->watermark) {
		int64_t old = floor_div(l->watermark + 1, a->size_ms);

		l->watermark = rec->timestamp;
		if (floor_div(l->watermark + 1, a->size_ms) != old)
			return fire_upto(ctx, l->watermark + 1);
	}
	return 0;
}

static int win_timer(sluice_ctx *ctx, int64_t when)
{
	return fire_upto(ctx, when);
}

static int win_end(sluice_ctx *ctx, int input)
{
	(void)input;
	return fire_upto(ctx, INT64_MAX);
}

static int key_owned(sluice_ctx *ctx, sluice_slice key, void *arg)
{
	int32_t mp = sluice_ctx_max_parallelism(ctx);

	(void)arg;
	return sluice_key_group_subtask(
		       sluice_key_group(key, mp), sluice_ctx_parallelism(ctx),
		       mp) == sluice_ctx_subtask(ctx);
}

static int key_take(sluice_ctx *ctx, sluice_slice key, void *arg)
{
	(void)ctx;
	return key_add(arg, key);
}

static const sluice__owned_ops key_ops = {
	"tumbling-window", "a key with an open window", key_owned, key_take};

static int win_init(sluice_ctx *ctx, int restored)
{
	win_local *l = sluice__calloc(1, sizeof(*l));

	if (!l)
		return sluice__error_oom();
	l->watermark = INT64_MIN / 2; /* no overflow in + 1 */
	l->last_timer = INT64_MIN;
	l->state = (sluice__owned_list){KEYS_NAME, KEYS_OLD, 0};
	sluice_ctx_set_local(ctx, l);
	if (!restored)
		return 0;
	return sluice__owned_list_restore(ctx, &l->state, &key_ops, l);
}

static int win_open(sluice_ctx *ctx)
{
	const sluice__window_arg *a = sluice_ctx_arg(ctx);
	win_local *l = sluice_ctx_local(ctx);

	/* restored processing-time windows: fire what is due now */
	if (!a->event_time && l->num_keys)
		return sluice_ctx_timer_register(ctx, sluice_ctx_now_ms(ctx));
	return 0;
}

static int win_snapshot(sluice_ctx *ctx, int64_t id)
{
	win_local *l = sluice_ctx_local(ctx);

	(void)id;
	return sluice__owned_list_save(ctx, &l->state, l->keys, l->num_keys);
}

static void win_close(sluice_ctx *ctx, int failed)
{
	win_local *l = sluice_ctx_local(ctx);
	size_t i;

	(void)failed;
	if (!l)
		return;
	for (i = 0; i < l->num_keys; i++)
		sluice__free((void *)l->keys[i].data);
	sluice__free(l->keys);
	sluice__free(l);
	sluice_ctx_set_local(ctx, NULL);
}

const sluice_operator sluice__window_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.initialize_state = win_init,
	.open = win_open,
	.process = win_process,
	.snapshot_state = win_snapshot,
	.on_timer = win_timer,
	.end_input = win_end,
	.close = win_close,
};

static int win_configure(
	void **arg,
	const sluice__jobspec *js,
	sluice__stage *st,
	const sluice_config *conf)
{
	static const char *const times[] = {"processing", "event", NULL};
	static const char *const aggs[] = {"count", "sum", NULL};
	sluice__window_arg *a = sluice__calloc(1, sizeof(*a));
	int rc;

	(void)conf;
	if (!a)
		return sluice__error_oom();
	if ((rc = sluice__param_duration(js, st, "size", 1, &a->size_ms)) < 0 ||
	    (rc = sluice__param_choice(js, st, "time", times, &a->event_time)) <
		    0 ||
	    (rc = sluice__param_choice(js, st, "aggregate", aggs, &a->sum)) < 0)
		goto fail;
	if (a->size_ms <= 0) {
		rc = sluice__jobspec_error(
			js, st->line, st->col,
			"operator 'tumbling-window': size must be > 0");
		goto fail;
	}
	*arg = a;
	return 0;
fail:
	sluice__free(a);
	return rc;
}

const sluice__builtin sluice__builtin_window = {
	SLUICE__STAGE_OPERATOR,
	"tumbling-window",
	SLUICE_VERTEX_OPERATOR,
	1,
	&sluice__window_op,
	win_configure,
	sluice__free};
