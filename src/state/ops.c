/*
 * Operations of the five keyed state kinds over the backend interface,
 * with Flink's semantics and TTL (spec §8).
 *
 * Stored forms: a value (value, reducing, aggregating states) is the user
 * bytes, prefixed by an 8-byte big-endian last-access timestamp when the
 * state has TTL.  A list is a sequence of elements `u32 length, [u64
 * timestamp], bytes`; adding appends through the backend's merge.  A map
 * user value is `[u64 timestamp] bytes`.
 *
 * TTL: expired <=> ts + min(ttl, INT64_MAX - ts) <= now.  Reads drop
 * expired data (and return it once more under
 * RETURN_EXPIRED_IF_NOT_CLEANED_UP); ON_READ_AND_WRITE refreshes the
 * timestamp on reads; reducing and aggregating treat an expired
 * accumulator as absent.  Every access of a TTL state first runs an
 * incremental cleanup step over `cleanup_size` entries (default 5).
 * Latency tracking wraps each public operation (LAT_BEGIN/LAT_END).
 */
#include <string.h>

#include "state/keyed.h"
#include "util/alloc.h"
#include "util/error.h"

#define TS 8

int sluice__ttl_expired(int64_t ts, int64_t ttl_ms, int64_t now)
{
	int64_t room = ts > 0 ? INT64_MAX - ts : INT64_MAX;

	return ts + (ttl_ms < room ? ttl_ms : room) <= now;
}

static int64_t now_ms(const sluice_state *st)
{
	return sluice_clock_wall_ms(st->kb->clock);
}

static int64_t ts_of(sluice_slice v)
{
	return (int64_t)sluice__rd64(v.data);
}

/* Parse one list element at p (< end); 0 when malformed. */
static size_t elem_size(const uint8_t *p, const uint8_t *end, int ttl)
{
	size_t hdr = 4 + (ttl ? TS : 0), len;

	if ((size_t)(end - p) < hdr)
		return 0;
	len = sluice__rd32(p);
	if ((size_t)(end - p) - hdr < len)
		return 0;
	return hdr + len;
}

int sluice__value_well_formed(
	sluice_state_kind kind, int ttl_on, sluice_slice v)
{
	const uint8_t *p = v.data, *end = p + v.len;

	if (kind != SLUICE_STATE_LIST)
		return !ttl_on || v.len >= TS;
	if (!v.len)
		return 0;
	while (p < end) {
		size_t n = elem_size(p, end, ttl_on);

		if (!n)
			return 0;
		p += n;
	}
	return 1;
}

/* Filter a stored list into buf: live elements only, optionally with
 * refreshed timestamps.  Returns the number of expired elements. */
static int filter_list(
	const sluice_state *st,
	sluice_slice v,
	int64_t now,
	int refresh,
	sluice_buf *buf,
	size_t *live,
	int *err)
{
	const uint8_t *p = v.data, *end = p + v.len;
	int expired = 0;

	*live = 0;
	*err = 0;
	sluice_buf_clear(buf);
	while (p < end) {
		size_t n = elem_size(p, end, 1);

		if (!n)
			break;
		if (sluice__ttl_expired(
			    (int64_t)sluice__rd64(p + 4), st->ttl_ms, now)) {
			expired++;
		} else {
			if (sluice_buf_put(buf, p, n) < 0) {
				*err = SLUICE_ENOMEM;
				return expired;
			}
			if (refresh)
				sluice__be64(
					buf->ptr + buf->len - n + 4,
					(uint64_t)now);
			(*live)++;
		}
		p += n;
	}
	return expired;
}

int sluice__ttl_filter(void *vctx, sluice_slice value, sluice_slice *rep)
{
	ttl_filter_ctx *c = vctx;
	size_t live;
	int expired, err;

	if (c->st->kind != SLUICE_STATE_LIST)
		return value.len < TS || sluice__ttl_expired(
						 ts_of(value), c->st->ttl_ms,
						 c->now)
			       ? SLUICE_FILTER_DROP
			       : SLUICE_FILTER_KEEP;
	expired = filter_list(c->st, value, c->now, 0, c->buf, &live, &err);
	if (err || !expired)
		return SLUICE_FILTER_KEEP;
	if (!live)
		return SLUICE_FILTER_DROP;
	*rep = SLUICE_SLICE(c->buf->ptr, c->buf->len);
	return SLUICE_FILTER_REPLACE;
}

/* Incremental TTL cleanup before an access (spec §8.4). */
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

/* buf = [now] v */
static int wrap(const sluice_state *st, sluice_buf *buf, sluice_slice v)
{
	sluice_buf_clear(buf);
	if (st->ttl_on)
		SLUICE_ERRCHECK(sluice_buf_put_u64(buf, (uint64_t)now_ms(st)));
	return sluice_buf_put(buf, v.data, v.len);
}

static int put_value(sluice_state *st, sluice_slice v)
{
	sluice_keyed_backend *kb = st->kb;
	sluice_state_key k = sluice__state_key(kb);

	if (!st->ttl_on)
		return kb->be->put(kb->be, st->bs, &k, v);
	SLUICE_ERRCHECK(wrap(st, &kb->work, v));
	return kb->be->put(
		kb->be, st->bs, &k, SLUICE_SLICE(kb->work.ptr, kb->work.len));
}

/*
 * Read a FLAT value with TTL applied.  `as_absent`: expired is absent
 * whatever the visibility (reducing/aggregating merges).
 */
static int get_value(sluice_state *st, sluice_slice *out, int as_absent)
{
	sluice_keyed_backend *kb = st->kb;
	sluice_state_key k = sluice__state_key(kb);
	sluice_slice raw, user;
	int64_t now;
	int rc = kb->be->get(kb->be, st->bs, &k, &raw);

	if (rc < 0 || !st->ttl_on) {
		*out = raw;
		return rc;
	}
	user = SLUICE_SLICE((const uint8_t *)raw.data + TS, raw.len - TS);
	now = now_ms(st);
	if (sluice__ttl_expired(ts_of(raw), st->ttl_ms, now)) {
		int stale = !as_absent &&
			    st->visibility ==
				    SLUICE_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP;

		sluice_buf_clear(&kb->scratch);
		if (stale)
			SLUICE_ERRCHECK(sluice_buf_put(
				&kb->scratch, user.data, user.len));
		SLUICE_ERRCHECK(kb->be->remove(kb->be, st->bs, &k));
		if (!stale)
			return SLUICE_ENOTFOUND;
		*out = SLUICE_SLICE(kb->scratch.ptr, kb->scratch.len);
		return 0;
	}
	if (st->update == SLUICE_TTL_ON_READ_AND_WRITE) {
		SLUICE_ERRCHECK(wrap(st, &kb->scratch, user));
		SLUICE_ERRCHECK(kb->be->put(
			kb->be, st->bs, &k,
			SLUICE_SLICE(kb->scratch.ptr, kb->scratch.len)));
		user = SLUICE_SLICE(kb->scratch.ptr + TS, kb->scratch.len - TS);
	}
	*out = user;
	return 0;
}

int sluice_state_clear(sluice_state *st)
{
	sluice_keyed_backend *kb = st->kb;
	sluice_state_key k;
	int rc;
	LAT_BEGIN(st, LAT_CLEAR);

	if (!kb->key_set)
		return sluice__state_key_ready(st, st->kind);
	k = sluice__state_key(kb);
	rc = kb->be->remove(kb->be, st->bs, &k);
	LAT_END(st, LAT_CLEAR);
	return rc;
}

/* ---- value ---- */

/*
 * Lean paths of a plain value state (st->fast_get / fast_put: no TTL, no
 * latency tracking, get: no default) with a current key: one flag test
 * and a tail call into the backend, no frame, so that consecutive
 * operations are short enough for the CPU to overlap their cache misses.
 * Everything else takes the general path below.
 */

/* The general path: latency tracking, key check, TTL cleanup and read. */
static SLUICE__NOINLINE int value_get_full(sluice_state *st, sluice_slice *out)
{
	int rc;
	LAT_BEGIN(st, LAT_VALUE_GET);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_VALUE));
	SLUICE_ERRCHECK(cleanup(st));
	rc = get_value(st, out, 0);
	if (rc == SLUICE_ENOTFOUND && st->has_default) {
		*out = SLUICE_SLICE(st->default_value, st->default_len);
		rc = 0;
	}
	LAT_END(st, LAT_VALUE_GET);
	return rc;
}

int sluice_value_get(sluice_state *st, sluice_slice *out)
{
	sluice_keyed_backend *kb = st->kb;

	if (__builtin_expect(st->fast_get & kb->key_set, 1))
		return kb->be->get(kb->be, st->bs, &kb->sk, out);
	return value_get_full(st, out);
}

static SLUICE__NOINLINE int
value_update_full(sluice_state *st, sluice_slice value)
{
	int rc;
	LAT_BEGIN(st, LAT_VALUE_UPDATE);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_VALUE));
	SLUICE_ERRCHECK(cleanup(st));
	rc = put_value(st, value);
	LAT_END(st, LAT_VALUE_UPDATE);
	return rc;
}

int sluice_value_update(sluice_state *st, sluice_slice value)
{
	sluice_keyed_backend *kb = st->kb;

	if (__builtin_expect(st->fast_put & kb->key_set, 1))
		return kb->be->put(kb->be, st->bs, &kb->sk, value);
	return value_update_full(st, value);
}

int sluice_value_get_i64(sluice_state *st, int64_t *out)
{
	sluice_slice v;

	SLUICE_ERRCHECK(sluice_value_get(st, &v));
	if (v.len != 8)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state '%s': value of %zu bytes is "
			"not an int64",
			st->name, v.len);
	*out = (int64_t)sluice__rd64(v.data);
	return 0;
}

int sluice_value_put_i64(sluice_state *st, int64_t v)
{
	uint8_t b[8];

	sluice__be64(b, (uint64_t)v);
	return sluice_value_update(st, SLUICE_SLICE(b, 8));
}

/* ---- list ---- */

static int
frame(const sluice_state *st, sluice_buf *buf, sluice_slice v, int64_t now)
{
	if (v.len > UINT32_MAX)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state '%s': element exceeds 4 GiB", st->name);
	SLUICE_ERRCHECK(sluice_buf_put_u32(buf, (uint32_t)v.len));
	if (st->ttl_on)
		SLUICE_ERRCHECK(sluice_buf_put_u64(buf, (uint64_t)now));
	return sluice_buf_put(buf, v.data, v.len);
}

static int list_get(sluice_state *st, sluice_list_iter *it)
{
	sluice_keyed_backend *kb = st->kb;
	sluice_state_key k = sluice__state_key(kb);
	sluice_slice raw;
	size_t live;
	int expired, err, refresh;
	int rc = kb->be->get(kb->be, st->bs, &k, &raw);

	memset(it, 0, sizeof(*it));
	it->ttl = st->ttl_on;
	if (rc == SLUICE_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (!st->ttl_on) {
		it->p = raw.data;
		it->end = it->p + raw.len;
		return 0;
	}
	refresh = st->update == SLUICE_TTL_ON_READ_AND_WRITE;
	sluice_buf_clear(&kb->scratch);
	SLUICE_ERRCHECK(sluice_buf_put(&kb->scratch, raw.data, raw.len));
	raw = SLUICE_SLICE(kb->scratch.ptr, kb->scratch.len);
	expired = filter_list(
		st, raw, now_ms(st), refresh, &kb->work, &live, &err);
	if (err)
		return err;
	if (expired && !live)
		SLUICE_ERRCHECK(kb->be->remove(kb->be, st->bs, &k));
	else if (expired || refresh)
		SLUICE_ERRCHECK(kb->be->put(
			kb->be, st->bs, &k,
			SLUICE_SLICE(kb->work.ptr, kb->work.len)));
	if (st->visibility == SLUICE_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP) {
		it->p = kb->scratch.ptr;
		it->end = it->p + kb->scratch.len;
	} else {
		it->p = kb->work.ptr;
		it->end = it->p + kb->work.len;
	}
	return 0;
}

int sluice_list_get(sluice_state *st, sluice_list_iter *it)
{
	const uint8_t *p;
	int rc;
	LAT_BEGIN(st, LAT_LIST_GET);

	memset(it, 0, sizeof(*it));
	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_LIST));
	SLUICE_ERRCHECK(cleanup(st));
	if ((rc = list_get(st, it)) == 0)
		for (p = it->p; p && p < it->end; it->count++) {
			size_t n = elem_size(p, it->end, it->ttl);

			if (!n)
				break;
			p += n;
		}
	LAT_END(st, LAT_LIST_GET);
	return rc;
}

int sluice_list_next(sluice_list_iter *it, sluice_slice *out)
{
	size_t n, hdr = 4 + (it->ttl ? TS : 0);

	if (!it->p || it->p >= it->end ||
	    !(n = elem_size(it->p, it->end, it->ttl)))
		return 0;
	*out = SLUICE_SLICE(it->p + hdr, n - hdr);
	it->p += n;
	return 1;
}

static int
list_write(sluice_state *st, const sluice_slice *values, size_t n, int replace)
{
	sluice_keyed_backend *kb = st->kb;
	sluice_state_key k = sluice__state_key(kb);
	int64_t now = st->ttl_on ? now_ms(st) : 0;
	size_t i;

	SLUICE_ERRCHECK(cleanup(st));
	if (!n)
		return replace ? kb->be->remove(kb->be, st->bs, &k) : 0;
	sluice_buf_clear(&kb->work);
	for (i = 0; i < n; i++)
		SLUICE_ERRCHECK(frame(st, &kb->work, values[i], now));
	if (replace)
		return kb->be->put(
			kb->be, st->bs, &k,
			SLUICE_SLICE(kb->work.ptr, kb->work.len));
	return kb->be->merge(
		kb->be, st->bs, &k, SLUICE_SLICE(kb->work.ptr, kb->work.len));
}

int sluice_list_add(sluice_state *st, sluice_slice value)
{
	int rc;
	LAT_BEGIN(st, LAT_LIST_ADD);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_LIST));
	rc = list_write(st, &value, 1, 0);
	LAT_END(st, LAT_LIST_ADD);
	return rc;
}

int sluice_list_add_all(sluice_state *st, const sluice_slice *values, size_t n)
{
	int rc;
	LAT_BEGIN(st, LAT_LIST_ADD_ALL);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_LIST));
	rc = list_write(st, values, n, 0);
	LAT_END(st, LAT_LIST_ADD_ALL);
	return rc;
}

int sluice_list_update(sluice_state *st, const sluice_slice *values, size_t n)
{
	int rc;
	LAT_BEGIN(st, LAT_LIST_UPDATE);

	SLUICE_ERRCHECK(sluice__state_key_ready(st, SLUICE_STATE_LIST));
	rc = list_write(st, values, n, 1);
	LAT_END(st, LAT_LIST_UPDATE);
	return rc;
}
