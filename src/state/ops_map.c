/*
 * Map, reducing and aggregating state operations, and iteration over the
 * keys of a state; the same stored forms and TTL rules as ops.c (which
 * has value and list state).  A map user value is `[u64 ts] bytes`.
 */
#include <string.h>

#include "state/keyed.h"
#include "util/alloc.h"
#include "util/error.h"

#define TS 8

static int64_t now_ms(const sluice_state *st)
{
	return sluice_clock_wall_ms(st->kb->clock);
}

static int expired(const sluice_state *st, sluice_slice v, int64_t now)
{
	return st->ttl_on &&
	       (v.len < TS ||
		sluice__ttl_expired(
			(int64_t)sluice__rd64(v.data), st->ttl_ms, now));
}

static int cleanup(sluice_state *st)
{
	sluice_backend *be = st->kb->be;
	ttl_filter_ctx c;

	if (!st->ttl_on || st->cleanup_size <= 0 || !be->cleanup_step)
		return 0;
	c.st = st;
	c.now = now_ms(st);
	c.buf = &st->kb->filter;
	return be->cleanup_step(
		be, st->bs, (size_t)st->cleanup_size, sluice__ttl_filter, &c);
}

static int map_put_raw(sluice_state *st, sluice_slice ukey, sluice_slice v)
{
	sluice_keyed_backend *kb = st->kb;
	sluice_state_key k = sluice__state_key(kb);

	if (!st->ttl_on)
		return kb->be->map_put(kb->be, st->bs, &k, ukey, v);
	sluice_buf_clear(&kb->work);
	SLUICE_ERRCHECK(sluice_buf_put_u64(&kb->work, (uint64_t)now_ms(st)));
	SLUICE_ERRCHECK(sluice_buf_put(&kb->work, v.data, v.len));
	return kb->be->map_put(
		kb->be, st->bs, &k, ukey,
		SLUICE_SLICE(kb->work.ptr, kb->work.len));
}

static int map_get(sluice_state *st, sluice_slice ukey, sluice_slice *out)
{
	sluice_keyed_backend *kb = st->kb;
	sluice_state_key k = sluice__state_key(kb);
	sluice_slice raw;
	int rc = kb->be->map_get(kb->be, st->bs, &k, ukey, &raw);

	if (rc < 0 || !st->ttl_on) {
		*out = raw;
		return rc;
	}
	if (expired(st, raw, now_ms(st))) {
		int stale = st->visibility ==
			    SLUICE_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP;

		sluice_buf_clear(&kb->scratch);
		if (stale)
			SLUICE_ERRCHECK(sluice_buf_put(
				&kb->scratch, (const uint8_t *)raw.data + TS,
				raw.len - TS));
		SLUICE_ERRCHECK(kb->be->map_remove(kb->be, st->bs, &k, ukey));
		if (!stale)
			return SLUICE_ENOTFOUND;
		*out = SLUICE_SLICE(kb->scratch.ptr, kb->scratch.len);
		return 0;
	}
	*out = SLUICE_SLICE((const uint8_t *)raw.data + TS, raw.len - TS);
	if (st->update == SLUICE_TTL_ON_READ_AND_WRITE) {
		sluice_buf_clear(&kb->scratch);
		SLUICE_ERRCHECK(
			sluice_buf_put(&kb->scratch, out->data, out->len));
		SLUICE_ERRCHECK(map_put_raw(
			st, ukey,
			SLUICE_SLICE(kb->scratch.ptr, kb->scratch.len)));
		*out = SLUICE_SLICE(kb->scratch.ptr, kb->scratch.len);
	}
	return 0;
}

int sluice_map_get(sluice_state *st, sluice_slice ukey, sluice_slice *out)
{
	int rc;
	LAT_BEGIN(st, LAT_MAP_GET);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_MAP));
	SLUICE_ERRCHECK(cleanup(st));
	rc = map_get(st, ukey, out);
	LAT_END(st, LAT_MAP_GET);
	return rc;
}

int sluice_map_put(sluice_state *st, sluice_slice ukey, sluice_slice value)
{
	int rc;
	LAT_BEGIN(st, LAT_MAP_PUT);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_MAP));
	SLUICE_ERRCHECK(cleanup(st));
	rc = map_put_raw(st, ukey, value);
	LAT_END(st, LAT_MAP_PUT);
	return rc;
}

int sluice_map_put_all(
	sluice_state *st,
	const sluice_slice *ukeys,
	const sluice_slice *values,
	size_t n)
{
	size_t i;
	int rc = 0;
	LAT_BEGIN(st, LAT_MAP_PUT_ALL);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_MAP));
	SLUICE_ERRCHECK(cleanup(st));
	for (i = 0; i < n && rc == 0; i++)
		rc = map_put_raw(st, ukeys[i], values[i]);
	LAT_END(st, LAT_MAP_PUT_ALL);
	return rc;
}

int sluice_map_remove(sluice_state *st, sluice_slice ukey)
{
	sluice_state_key k;
	int rc;
	LAT_BEGIN(st, LAT_MAP_REMOVE);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_MAP));
	SLUICE_ERRCHECK(cleanup(st));
	k = sluice__state_key(st->kb);
	rc = st->kb->be->map_remove(st->kb->be, st->bs, &k, ukey);
	LAT_END(st, LAT_MAP_REMOVE);
	return rc;
}

int sluice_map_contains(sluice_state *st, sluice_slice ukey)
{
	sluice_slice v;
	int rc;
	LAT_BEGIN(st, LAT_MAP_CONTAINS);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_MAP));
	SLUICE_ERRCHECK(cleanup(st));
	rc = map_get(st, ukey, &v);
	LAT_END(st, LAT_MAP_CONTAINS);
	if (rc == SLUICE_ENOTFOUND)
		return 0;
	return rc < 0 ? rc : 1;
}

typedef struct foreach_ctx {
	sluice_state *st;
	int64_t now;
	sluice_map_entry_fn fn;
	void *ctx;
	size_t expired;
	sluice_buf *collect; /* second pass: expired user keys */
} foreach_ctx;

static int foreach_cb(void *vctx, const sluice_backend_entry *e)
{
	foreach_ctx *c = vctx;
	sluice_slice v = e->value;

	if (c->collect) {
		if (expired(c->st, v, c->now))
			return sluice_buf_put_bytes32(
				c->collect, e->ukey.data, e->ukey.len);
		return 0;
	}
	if (expired(c->st, v, c->now)) {
		c->expired++;
		if (c->st->visibility == SLUICE_TTL_NEVER_RETURN_EXPIRED)
			return 0;
	}
	if (c->st->ttl_on)
		v = SLUICE_SLICE((const uint8_t *)v.data + TS, v.len - TS);
	return c->fn ? c->fn(c->ctx, e->ukey, v) : 1;
}

/* Remove the expired user entries found by an iteration. */
static int drop_expired(foreach_ctx *c, const sluice_state_key *k)
{
	sluice_keyed_backend *kb = c->st->kb;
	sluice_reader r;
	int rc;

	c->collect = &kb->filter;
	sluice_buf_clear(&kb->filter);
	SLUICE_ERRCHECK(
		kb->be->map_iterate(kb->be, c->st->bs, k, foreach_cb, c));
	sluice_reader_init(&r, kb->filter.ptr, kb->filter.len);
	while (sluice_reader_left(&r)) {
		sluice_slice u = sluice_reader_bytes32(&r);

		if ((rc = kb->be->map_remove(kb->be, c->st->bs, k, u)) < 0)
			return rc;
	}
	return 0;
}

static int map_iterate(sluice_state *st, sluice_map_entry_fn fn, void *ctx)
{
	sluice_state_key k = sluice__state_key(st->kb);
	foreach_ctx c = {st, st->ttl_on ? now_ms(st) : 0, fn, ctx, 0, NULL};
	int rc;

	SLUICE_ERRCHECK(cleanup(st));
	rc = st->kb->be->map_iterate(st->kb->be, st->bs, &k, foreach_cb, &c);
	if (rc < 0)
		return rc;
	if (c.expired)
		SLUICE_ERRCHECK(drop_expired(&c, &k));
	return rc;
}

int sluice_map_foreach(sluice_state *st, sluice_map_entry_fn fn, void *ctx)
{
	int rc;
	LAT_BEGIN(st, LAT_MAP_ENTRIES_INIT);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_MAP));
	rc = map_iterate(st, fn, ctx);
	LAT_END(st, LAT_MAP_ENTRIES_INIT);
	return rc;
}

static int count_one(void *ctx, sluice_slice ukey, sluice_slice value)
{
	(void)ukey;
	(void)value;
	*(int *)ctx = 1;
	return 1; /* stop */
}

int sluice_map_is_empty(sluice_state *st)
{
	int found = 0, rc;
	LAT_BEGIN(st, LAT_MAP_IS_EMPTY);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_MAP));
	rc = map_iterate(st, count_one, &found);
	LAT_END(st, LAT_MAP_IS_EMPTY);
	return rc < 0 ? rc : !found;
}

/* ---- reducing and aggregating ---- */

/* The current accumulator; expired counts as absent (spec §8.3). */
static int acc_get(sluice_state *st, sluice_slice *out, int as_absent)
{
	sluice_keyed_backend *kb = st->kb;
	sluice_state_key k = sluice__state_key(kb);
	sluice_slice raw;
	int rc = kb->be->get(kb->be, st->bs, &k, &raw);

	if (rc < 0 || !st->ttl_on) {
		*out = raw;
		return rc;
	}
	if (expired(st, raw, now_ms(st))) {
		int stale = !as_absent &&
			    st->visibility ==
				    SLUICE_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP;

		sluice_buf_clear(&kb->scratch);
		if (stale)
			SLUICE_ERRCHECK(sluice_buf_put(
				&kb->scratch, (const uint8_t *)raw.data + TS,
				raw.len - TS));
		SLUICE_ERRCHECK(kb->be->remove(kb->be, st->bs, &k));
		if (!stale)
			return SLUICE_ENOTFOUND;
		*out = SLUICE_SLICE(kb->scratch.ptr, kb->scratch.len);
		return 0;
	}
	*out = SLUICE_SLICE((const uint8_t *)raw.data + TS, raw.len - TS);
	return 0;
}

static int acc_put(sluice_state *st, sluice_slice v)
{
	sluice_keyed_backend *kb = st->kb;
	sluice_state_key k = sluice__state_key(kb);

	if (!st->ttl_on)
		return kb->be->put(kb->be, st->bs, &k, v);
	sluice_buf_clear(&kb->work);
	SLUICE_ERRCHECK(sluice_buf_put_u64(&kb->work, (uint64_t)now_ms(st)));
	SLUICE_ERRCHECK(sluice_buf_put(&kb->work, v.data, v.len));
	return kb->be->put(
		kb->be, st->bs, &k, SLUICE_SLICE(kb->work.ptr, kb->work.len));
}

/* Read for get(): refresh on ON_READ_AND_WRITE. */
static int acc_read(sluice_state *st, sluice_slice *out)
{
	sluice_keyed_backend *kb = st->kb;
	int rc = acc_get(st, out, 0);

	if (rc == 0 && st->ttl_on &&
	    st->update == SLUICE_TTL_ON_READ_AND_WRITE) {
		sluice_buf_clear(&kb->scratch);
		SLUICE_ERRCHECK(
			sluice_buf_put(&kb->scratch, out->data, out->len));
		*out = SLUICE_SLICE(kb->scratch.ptr, kb->scratch.len);
		SLUICE_ERRCHECK(acc_put(st, *out));
	}
	return rc;
}

int sluice_reducing_add(sluice_state *st, sluice_slice value)
{
	sluice_slice cur, res;
	int rc;
	LAT_BEGIN(st, LAT_REDUCING_ADD);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_REDUCING));
	SLUICE_ERRCHECK(cleanup(st));
	rc = acc_get(st, &cur, 1);
	if (rc == SLUICE_ENOTFOUND)
		rc = acc_put(st, value);
	else if (
		rc == 0 && (rc = st->reduce(st->fn_ctx, cur, value, &res)) == 0)
		rc = acc_put(st, res);
	LAT_END(st, LAT_REDUCING_ADD);
	return rc;
}

int sluice_reducing_get(sluice_state *st, sluice_slice *out)
{
	int rc;
	LAT_BEGIN(st, LAT_REDUCING_GET);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_REDUCING));
	SLUICE_ERRCHECK(cleanup(st));
	rc = acc_read(st, out);
	LAT_END(st, LAT_REDUCING_GET);
	return rc;
}

int sluice_aggregating_add(sluice_state *st, sluice_slice in)
{
	sluice_slice acc, res;
	int rc;
	LAT_BEGIN(st, LAT_AGGREGATING_ADD);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_AGGREGATING));
	SLUICE_ERRCHECK(cleanup(st));
	rc = acc_get(st, &acc, 1);
	if (rc == SLUICE_ENOTFOUND) {
		acc = SLUICE_SLICE(NULL, 0);
		rc = 0;
	}
	if (rc == 0 && (rc = st->agg_add(st->fn_ctx, acc, in, &res)) == 0)
		rc = acc_put(st, res);
	LAT_END(st, LAT_AGGREGATING_ADD);
	return rc;
}

int sluice_aggregating_get(sluice_state *st, sluice_slice *out)
{
	sluice_slice acc;
	int rc;
	LAT_BEGIN(st, LAT_AGGREGATING_GET);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_AGGREGATING));
	SLUICE_ERRCHECK(cleanup(st));
	rc = acc_read(st, &acc);
	if (rc == 0)
		rc = st->agg_get ? st->agg_get(st->fn_ctx, acc, out)
				 : (*out = acc, 0);
	LAT_END(st, LAT_AGGREGATING_GET);
	return rc;
}

/* ---- keys of a state ---- */

typedef struct keys_ctx {
	sluice_state *st;
	int64_t now;
	sluice_state_key_fn fn;
	void *ctx;
	sluice_buf last; /* u32 key length | key | ns of the last entry: a
			    copy, the entry's slices die with the callback */
	int have_last;
} keys_ctx;

static int live(const sluice_state *st, sluice_slice v, int64_t now)
{
	const uint8_t *p = v.data, *end = p + v.len;

	if (!st->ttl_on)
		return 1;
	if (st->kind != SLUICE_STATE_LIST)
		return !expired(st, v, now);
	while (end - p >= 12) {
		uint32_t n = sluice__rd32(p);

		if (!sluice__ttl_expired(
			    (int64_t)sluice__rd64(p + 4), st->ttl_ms, now))
			return 1;
		if ((size_t)(end - p) - 12 < n)
			break;
		p += 12 + n;
	}
	return 0;
}

static int same(sluice_slice a, sluice_slice b)
{
	return a.len == b.len && (!a.len || !memcmp(a.data, b.data, a.len));
}

static int keys_cb(void *vctx, const sluice_backend_entry *e)
{
	keys_ctx *c = vctx;

	if (!live(c->st, e->value, c->now))
		return 0;
	if (c->have_last && c->last.len == 4 + e->key.len + e->ns.len &&
	    sluice__rd32(c->last.ptr) == e->key.len &&
	    same(SLUICE_SLICE(c->last.ptr + 4, e->key.len), e->key) &&
	    same(SLUICE_SLICE(c->last.ptr + 4 + e->key.len, e->ns.len), e->ns))
		return 0; /* another user entry of the same map */
	sluice_buf_clear(&c->last);
	SLUICE_ERRCHECK(sluice_buf_put_u32(&c->last, (uint32_t)e->key.len));
	SLUICE_ERRCHECK(sluice_buf_put(&c->last, e->key.data, e->key.len));
	SLUICE_ERRCHECK(sluice_buf_put(&c->last, e->ns.data, e->ns.len));
	c->have_last = 1;
	return c->fn(c->ctx, e->key, e->ns);
}

int sluice_state_keys(
	sluice_state *st,
	const sluice_slice *ns,
	sluice_state_key_fn fn,
	void *ctx)
{
	keys_ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.st = st;
	c.now = st->ttl_on ? now_ms(st) : 0;
	c.fn = fn;
	c.ctx = ctx;
	rc = st->kb->be->iterate(st->kb->be, st->bs, ns, keys_cb, &c);
	sluice_buf_release(&c.last);
	return rc;
}
