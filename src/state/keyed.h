/*
 * Private structures of the keyed-state front end, shared by keyed.c
 * (backend object, current key, state registry), ops.c (operations of
 * the five kinds with TTL), latency.c (sampling histograms) and format.c
 * (canonical snapshot writer and restore).
 */
#ifndef SLUICE_STATE_KEYED_H
#define SLUICE_STATE_KEYED_H

#include "sluice/state.h"
#include "util/buf.h"

/* Keeps a rarely taken general path out of a hot function's frame. */
#if defined(__GNUC__)
#define SLUICE__NOINLINE __attribute__((noinline))
#define SLUICE__INLINE   inline __attribute__((always_inline))
#else
#define SLUICE__NOINLINE
#define SLUICE__INLINE inline
#endif

typedef enum lat_op {
	LAT_CLEAR = 0,
	LAT_VALUE_GET,
	LAT_VALUE_UPDATE,
	LAT_LIST_GET,
	LAT_LIST_ADD,
	LAT_LIST_ADD_ALL,
	LAT_LIST_UPDATE,
	LAT_MAP_GET,
	LAT_MAP_PUT,
	LAT_MAP_PUT_ALL,
	LAT_MAP_REMOVE,
	LAT_MAP_CONTAINS,
	LAT_MAP_ENTRIES_INIT,
	LAT_MAP_IS_EMPTY,
	LAT_REDUCING_GET,
	LAT_REDUCING_ADD,
	LAT_AGGREGATING_GET,
	LAT_AGGREGATING_ADD,
	LAT_NOPS
} lat_op;

typedef struct lat_hist {
	int64_t *ring; /* history-size samples, allocated on first sample */
	uint32_t len;  /* samples in the ring */
	uint32_t pos;  /* next write */
} lat_hist;

typedef struct lat_track {
	uint32_t interval;
	uint32_t history;
	uint32_t counter[LAT_NOPS];
	lat_hist hist[LAT_NOPS];
} lat_track;

struct sluice_state {
	sluice_keyed_backend *kb;
	sluice_backend_state *bs;
	char *name;
	sluice_state_kind kind;
	int bound; /* a descriptor was applied (not only restored) */
	/* from the descriptor */
	uint8_t *default_value;
	size_t default_len;
	int has_default;
	sluice_reduce_fn reduce;
	sluice_agg_add_fn agg_add;
	sluice_agg_result_fn agg_get;
	void *fn_ctx;
	/* TTL */
	int ttl_on;
	int64_t ttl_ms;
	sluice_ttl_update update;
	sluice_ttl_visibility visibility;
	int32_t cleanup_size;
	int full_cleanup;
	lat_track *lat; /* NULL when latency tracking is off */
	/* value get/update need nothing but the backend call: a VALUE state
	 * without TTL or latency tracking (get: and without a default);
	 * kept by sluice__state_fast_refresh */
	int fast_get, fast_put;
};

struct sluice_keyed_backend {
	sluice_backend *be;
	int32_t maxp, p, subtask, start, end;
	uint32_t maxp_mask; /* maxp - 1 when maxp is a power of two, else 0 */
	sluice_clock *clock;
	sluice_keyed_options opts;
	sluice_buf key, ns;
	uint32_t key_hash, ns_hash;
	int key_set;
	/* the current (key, namespace) as a backend address with its state
	 * hash, kept current by set_key and set_namespace: operations neither
	 * hash nor rebuild it */
	sluice_state_key sk;
	sluice_state **states;
	size_t nstates, scap;
	sluice_buf scratch; /* results handed to the caller */
	sluice_buf work;    /* encoding of values to store */
	sluice_buf filter;  /* TTL cleanup rewrites */
};

/* keyed.c */
int sluice__state_key_ready(const sluice_state *st, sluice_state_kind kind);
/* Recompute st->fast_get / fast_put after kind, TTL, latency tracking or
 * the default value changed. */
void sluice__state_fast_refresh(sluice_state *st);
uint32_t sluice__state_hash(uint32_t key_hash, uint32_t ns_hash);
uint32_t sluice__ns_hash(sluice_slice ns);
/* Find or create a state entry (restore path: no descriptor yet). */
int sluice__state_lookup(
	sluice_state **out,
	sluice_keyed_backend *kb,
	const char *name,
	sluice_state_kind kind,
	int ttl_on,
	int64_t ttl_ms);

/* The backend address of the current key and namespace (no hashing). */
static inline sluice_state_key sluice__state_key(const sluice_keyed_backend *kb)
{
	return kb->sk;
}

/* ops.c: TTL helpers shared with format.c */
int sluice__ttl_expired(int64_t ts, int64_t ttl_ms, int64_t now);
/* The cleanup filter of a state at time `now` (ctx = struct below). */
typedef struct ttl_filter_ctx {
	const sluice_state *st;
	int64_t now;
	sluice_buf *buf;
} ttl_filter_ctx;
int sluice__ttl_filter(void *ctx, sluice_slice value, sluice_slice *rep);
/* Validate the stored form of a value of `kind` (list framing, TTL). */
int sluice__value_well_formed(
	sluice_state_kind kind, int ttl_on, sluice_slice v);

/* latency.c */
int sluice__lat_new(lat_track **out, uint32_t interval, uint32_t history);
void sluice__lat_free(lat_track *t);
void sluice__lat_record(lat_track *t, lat_op op, int64_t ns);
const char *sluice__lat_name(lat_op op);

static inline int sluice__lat_sample(lat_track *t, lat_op op)
{
	uint32_t c = t->counter[op];

	t->counter[op] = c + 1 >= t->interval ? 0 : c + 1;
	return c == 0;
}

#define LAT_BEGIN(st, op)                                             \
	int64_t lat_t0_ = 0;                                          \
	int lat_on_ = (st)->lat && sluice__lat_sample((st)->lat, op); \
	if (lat_on_)                                                  \
	lat_t0_ = sluice_clock_mono_ns((st)->kb->clock)
#define LAT_END(st, op)                                                 \
	do {                                                            \
		if (lat_on_)                                            \
			sluice__lat_record(                             \
				(st)->lat, op,                          \
				sluice_clock_mono_ns((st)->kb->clock) - \
					lat_t0_);                       \
	} while (0)

#endif
