/*
 * State latency tracking (spec §9): per state and operation kind, every
 * `interval`-th access is timed (accesses #1, #1+N, #1+2N, ...; N = 1
 * times every access) and the duration in nanoseconds goes into a sliding
 * window of the last `history` samples.  Statistics are computed on
 * demand from the window.  When tracking is off a state has no tracker
 * and operations pay one NULL check.
 */
#include <stdlib.h>
#include <string.h>

#include "state/keyed.h"
#include "util/alloc.h"
#include "util/error.h"

static const char *const names[LAT_NOPS] = {
	[LAT_CLEAR] = "stateClearLatency",
	[LAT_VALUE_GET] = "valueStateGetLatency",
	[LAT_VALUE_UPDATE] = "valueStateUpdateLatency",
	[LAT_LIST_GET] = "listStateGetLatency",
	[LAT_LIST_ADD] = "listStateAddLatency",
	[LAT_LIST_ADD_ALL] = "listStateAddAllLatency",
	[LAT_LIST_UPDATE] = "listStateUpdateLatency",
	[LAT_MAP_GET] = "mapStateGetLatency",
	[LAT_MAP_PUT] = "mapStatePutLatency",
	[LAT_MAP_PUT_ALL] = "mapStatePutAllLatency",
	[LAT_MAP_REMOVE] = "mapStateRemoveLatency",
	[LAT_MAP_CONTAINS] = "mapStateContainsLatency",
	[LAT_MAP_ENTRIES_INIT] = "mapStateEntriesInitLatency",
	[LAT_MAP_IS_EMPTY] = "mapStateIsEmptyLatency",
	[LAT_REDUCING_GET] = "reducingStateGetLatency",
	[LAT_REDUCING_ADD] = "reducingStateAddLatency",
	[LAT_AGGREGATING_GET] = "aggregatingStateGetLatency",
	[LAT_AGGREGATING_ADD] = "aggregatingStateAddLatency",
};

const char *sluice__lat_name(lat_op op)
{
	return names[op];
}

int sluice__lat_new(lat_track **out, uint32_t interval, uint32_t history)
{
	lat_track *t = sluice__calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return sluice__error_oom();
	t->interval = interval;
	t->history = history;
	*out = t;
	return 0;
}

void sluice__lat_free(lat_track *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < LAT_NOPS; i++)
		sluice__free(t->hist[i].ring);
	sluice__free(t);
}

void sluice__lat_record(lat_track *t, lat_op op, int64_t ns)
{
	lat_hist *h = &t->hist[op];

	if (!h->ring &&
	    !(h->ring = sluice__calloc(t->history, sizeof(*h->ring))))
		return; /* out of memory: the sample is lost, not the op */
	h->ring[h->pos] = ns < 0 ? 0 : ns;
	h->pos = (h->pos + 1) % t->history;
	if (h->len < t->history)
		h->len++;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Quantile as Apache Commons Math's default estimator (Flink's). */
static int64_t quantile(const int64_t *v, size_t n, double q)
{
	double pos = q * (double)(n + 1), d;
	size_t lo;

	if (pos < 1)
		return v[0];
	if (pos >= (double)n)
		return v[n - 1];
	lo = (size_t)pos;
	d = pos - (double)lo;
	return v[lo - 1] + (int64_t)(d * (double)(v[lo] - v[lo - 1]));
}

static int stats_of(const lat_hist *h, sluice_latency_stats *out)
{
	int64_t *v;
	double sum = 0;
	size_t i;

	if (!h->len)
		return SLUICE_ENOTFOUND;
	if (!(v = sluice__memdup(h->ring, h->len * sizeof(*v))))
		return sluice__error_oom();
	qsort(v, h->len, sizeof(*v), cmp_i64);
	for (i = 0; i < h->len; i++)
		sum += (double)v[i];
	out->count = h->len;
	out->min = v[0];
	out->max = v[h->len - 1];
	out->mean = sum / h->len;
	out->p50 = quantile(v, h->len, 0.5);
	out->p95 = quantile(v, h->len, 0.95);
	out->p99 = quantile(v, h->len, 0.99);
	out->p999 = quantile(v, h->len, 0.999);
	sluice__free(v);
	return 0;
}

int sluice_state_latency(
	const sluice_state *st, const char *metric, sluice_latency_stats *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!st->lat)
		return SLUICE_ENOTFOUND;
	for (i = 0; i < LAT_NOPS; i++)
		if (!strcmp(names[i], metric))
			return stats_of(&st->lat->hist[i], out);
	return SLUICE_ENOTFOUND;
}

int sluice_keyed_backend_latency_foreach(
	sluice_keyed_backend *kb, sluice_latency_fn fn, void *ctx)
{
	sluice_buf scope = SLUICE_BUF_INIT;
	size_t s, i;
	int rc = 0;

	for (s = 0; s < kb->nstates && rc == 0; s++) {
		sluice_state *st = kb->states[s];

		if (!st->lat)
			continue;
		sluice_buf_clear(&scope);
		if ((rc = sluice_buf_printf(
			     &scope, "%s%s",
			     kb->opts.latency_name_as_variable ? "state_name="
							       : "",
			     st->name)) < 0)
			break;
		for (i = 0; i < LAT_NOPS && rc == 0; i++) {
			sluice_latency_stats stats;

			if (stats_of(&st->lat->hist[i], &stats) == 0)
				rc = fn(ctx, (const char *)scope.ptr, names[i],
					&stats);
			else if (st->lat->hist[i].len)
				rc = SLUICE_ENOMEM;
		}
	}
	sluice_buf_release(&scope);
	return rc < 0 ? rc : 0;
}
