/*
 * Keyed state, with Apache Flink's semantics (spec §7–§9).
 *
 * A sluice_keyed_backend holds the keyed state of one subtask: the key
 * groups of its range (sluice_keygroup_range), one backend instance
 * (`hashmap`, later `rocksdb`), a current key and namespace, and the
 * states obtained from descriptors.  Keys, namespaces and values are byte
 * strings.  docs/state.md is the tour.
 *
 * Absent vs empty: value, reducing and aggregating states answer
 * SLUICE_ENOTFOUND (no last error set) for an absent value (a value
 * state with a default value returns the default instead).  A list or map
 * that is absent reads as empty; storing an empty list or removing the
 * last map entry makes it absent again.
 *
 * Borrowed results: slices and iterators returned by reads point into
 * memory of the backend; they are valid until the next call on the same
 * sluice_keyed_backend (any state), except snapshot calls.
 *
 * Threading: a keyed backend and its states are used by one thread (the
 * task thread).  sluice_keyed_snapshot_write and _free may run on another
 * thread, concurrently with the task thread.
 */
#ifndef SLUICE_STATE_H
#define SLUICE_STATE_H

#include "clock.h"
#include "common.h"
#include "sys/backend.h"
#include "sys/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- key groups (spec §7.1) ------------------------------------------ */

#define SLUICE_KEYGROUP_LOWER_BOUND 128   /* default max parallelism floor */
#define SLUICE_KEYGROUP_UPPER_BOUND 32768 /* max (max) parallelism */

/*
 * Flink's default max parallelism for `parallelism`:
 * min(max(roundUpPow2(p + p/2), 128), 32768).  p must be in (0, 32768].
 */
SLUICE_EXTERN(int32_t) sluice_keygroup_default_max_parallelism(int32_t p);
/*
 * Check parallelism and max parallelism: EINVALID with Flink's message
 * ("Operator parallelism not within bounds: <p>", "Maximum parallelism
 * must not be smaller than parallelism.", ...).
 */
SLUICE_EXTERN(int) sluice_keygroup_check(int32_t max_parallelism, int32_t p);
/* Key group of a key: (sluice hash32 of the bytes & 0x7fffffff) % maxP. */
SLUICE_EXTERN(int32_t)
sluice_keygroup_of(sluice_slice key, int32_t max_parallelism);
/* Subtask that owns key group `kg`: kg * p / maxP. */
SLUICE_EXTERN(int32_t)
sluice_keygroup_operator_index(int32_t kg, int32_t max_parallelism, int32_t p);
/*
 * Inclusive key-group range of subtask `index`:
 * start = ceil(index * maxP / p), end = ((index + 1) * maxP - 1) / p.
 * EINVALID when the arguments are out of bounds.
 */
SLUICE_EXTERN(int)
sluice_keygroup_range(
	int32_t *start,
	int32_t *end,
	int32_t max_parallelism,
	int32_t p,
	int32_t index);

/* ---- descriptors --------------------------------------------------- */

typedef enum sluice_state_kind {
	SLUICE_STATE_VALUE = 0,
	SLUICE_STATE_LIST = 1,
	SLUICE_STATE_MAP = 2,
	SLUICE_STATE_REDUCING = 3,
	SLUICE_STATE_AGGREGATING = 4
} sluice_state_kind;

typedef enum sluice_ttl_update {
	SLUICE_TTL_DISABLED = 0,
	SLUICE_TTL_ON_CREATE_AND_WRITE = 1, /* default when ttl_ms > 0 */
	SLUICE_TTL_ON_READ_AND_WRITE = 2
} sluice_ttl_update;

typedef enum sluice_ttl_visibility {
	SLUICE_TTL_NEVER_RETURN_EXPIRED = 0, /* default */
	SLUICE_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP = 1
} sluice_ttl_visibility;

/*
 * TTL of a state (spec §8).  All zero = no TTL of its own (the backend's
 * default TTL, `table.exec.state.ttl`, applies if set).  Timestamps come
 * from the backend's clock (wall milliseconds).
 */
typedef struct sluice_ttl_config {
	int64_t ttl_ms;                   /* > 0 enables TTL; < 0 is invalid */
	sluice_ttl_update update;         /* 0 with ttl_ms > 0: on write */
	sluice_ttl_visibility visibility; /* default never return expired */
	int32_t cleanup_size; /* incremental cleanup: entries per access;
				 0 = default 5, < 0 disables */
	int no_full_snapshot_cleanup; /* keep expired entries in snapshots */
} sluice_ttl_config;

/*
 * Functions of reducing and aggregating states.  Each writes its result
 * to `*out`, which must point to bytes that stay valid until the next call
 * of a function of this descriptor on this thread (a buffer in `ctx` is
 * the usual choice).  Return 0 or a negative code.
 */
typedef int (*sluice_reduce_fn)(
	void *ctx, sluice_slice a, sluice_slice b, sluice_slice *out);
/* Aggregating: fold `in` into accumulator `acc` (acc.data == NULL: no
 * accumulator yet, start a new one). */
typedef int (*sluice_agg_add_fn)(
	void *ctx, sluice_slice acc, sluice_slice in, sluice_slice *out);
typedef int (*sluice_agg_result_fn)(
	void *ctx, sluice_slice acc, sluice_slice *out);

typedef struct sluice_state_desc {
	const char *name; /* unique within the backend, <= 65535 bytes */
	sluice_state_kind kind;
	sluice_ttl_config ttl;
	sluice_slice default_value;   /* VALUE only; data NULL = none */
	sluice_reduce_fn reduce;      /* REDUCING: required */
	sluice_agg_add_fn agg_add;    /* AGGREGATING: required */
	sluice_agg_result_fn agg_get; /* AGGREGATING: NULL = acc is result */
	void *fn_ctx;                 /* passed to the functions */
} sluice_state_desc;

/* ---- the keyed backend ---------------------------------------------- */

typedef enum sluice_snapshot_codec {
	SLUICE_CODEC_NONE = 0,
	SLUICE_CODEC_ZSTD = 1,
	SLUICE_CODEC_LZ4 = 2
} sluice_snapshot_codec;

typedef struct sluice_keyed_options {
	int version;                    /* SLUICE_KEYED_OPTIONS_VERSION */
	const char *backend;            /* "hashmap" (default when NULL) */
	sluice_backend_factory factory; /* overrides `backend` if set */
	void *factory_ctx;
	int32_t parallelism;      /* default 1 */
	int32_t max_parallelism;  /* 0 = Flink's default for parallelism */
	int32_t subtask;          /* index in [0, parallelism) */
	sluice_clock *clock;      /* NULL = system clock */
	int64_t default_ttl_ms;   /* table.exec.state.ttl; 0 = off */
	int latency_enabled;      /* state.latency-track.keyed-state-enabled */
	int32_t latency_interval; /* sample-interval, default 100, >= 1 */
	int32_t latency_history;  /* history-size, default 128, >= 1 */
	int latency_name_as_variable; /* state-name-as-variable, default 1 */
	sluice_snapshot_codec compression; /* snapshot block compression */
} sluice_keyed_options;

#define SLUICE_KEYED_OPTIONS_VERSION 1

/* Defaults: hashmap, parallelism 1, subtask 0, latency off (100/128). */
SLUICE_EXTERN(void) sluice_keyed_options_init(sluice_keyed_options *opts);

typedef struct sluice_config sluice_config;
/*
 * Fill options from configuration: state.backend.type (alias
 * state.backend; legacy jobmanager/filesystem = hashmap),
 * table.exec.state.ttl, state.latency-track.*,
 * execution.checkpointing.snapshot-compression and
 * sluice.snapshot-compression.codec (zstd|lz4, default zstd).
 * Parallelism fields are left as they are.  EINVALID on bad values.
 */
SLUICE_EXTERN(int)
sluice_keyed_options_from_config(
	sluice_keyed_options *opts, const sluice_config *conf);

typedef struct sluice_keyed_backend sluice_keyed_backend;
typedef struct sluice_state sluice_state;

/*
 * New keyed backend for one subtask.  EINVALID for bad parallelism
 * (Flink's messages), unknown backend names or bad latency settings.
 */
SLUICE_EXTERN(int)
sluice_keyed_backend_new(
	sluice_keyed_backend **out, const sluice_keyed_options *opts);
/* NULL-safe.  Every snapshot must have been freed first. */
SLUICE_EXTERN(void) sluice_keyed_backend_free(sluice_keyed_backend *kb);

/* Key-group range of this backend (inclusive). */
SLUICE_EXTERN(void)
sluice_keyed_backend_range(
	const sluice_keyed_backend *kb, int32_t *start, int32_t *end);
SLUICE_EXTERN(int32_t)
sluice_keyed_backend_max_parallelism(const sluice_keyed_backend *kb);

/*
 * Bytes of memory the backend holds for state (0 if the backend does not
 * say); for the bytes-per-entry figure of benchmarks.
 */
SLUICE_EXTERN(size_t) sluice_keyed_backend_memory(sluice_keyed_backend *kb);

/*
 * Set the current key (copied).  EINVALID if the key's group is not in
 * this subtask's range.  The namespace resets to empty only via
 * sluice_keyed_backend_set_namespace.
 */
SLUICE_EXTERN(int)
sluice_keyed_backend_set_key(sluice_keyed_backend *kb, sluice_slice key);
/* Set the current namespace (copied); empty by default. */
SLUICE_EXTERN(int)
sluice_keyed_backend_set_namespace(sluice_keyed_backend *kb, sluice_slice ns);

/*
 * The state for a descriptor, created on first use (or after restore,
 * checked against the restored meta data).  `*out` lives as long as the
 * backend.  EINVALID: kind differs from an existing state of that name,
 * TTL switched on/off against restored state, missing reduce/add
 * function, negative TTL ("TTL is expected to be positive.").
 */
SLUICE_EXTERN(int)
sluice_keyed_backend_state(
	sluice_state **out,
	sluice_keyed_backend *kb,
	const sluice_state_desc *desc);

SLUICE_EXTERN(const char *) sluice_state_name(const sluice_state *st);
SLUICE_EXTERN(sluice_state_kind) sluice_state_kind_of(const sluice_state *st);

/* Any kind: remove the value of the current key and namespace. */
SLUICE_EXTERN(int) sluice_state_clear(sluice_state *st);

/*
 * Any kind: call `fn` for every key that has a value in namespace `ns`
 * (every namespace when ns is NULL), each key once per namespace.  The
 * callback must not modify state.  Expired entries are skipped.
 */
typedef int (*sluice_state_key_fn)(
	void *ctx, sluice_slice key, sluice_slice ns);
SLUICE_EXTERN(int)
sluice_state_keys(
	sluice_state *st,
	const sluice_slice *ns,
	sluice_state_key_fn fn,
	void *ctx);

/* VALUE */
SLUICE_EXTERN(int) sluice_value_get(sluice_state *st, sluice_slice *out);
SLUICE_EXTERN(int) sluice_value_update(sluice_state *st, sluice_slice value);
SLUICE_EXTERN(int) sluice_value_get_i64(sluice_state *st, int64_t *out);
SLUICE_EXTERN(int) sluice_value_put_i64(sluice_state *st, int64_t v);

/* LIST: elements are byte strings (may be empty). */
typedef struct sluice_list_iter {
	const uint8_t *p, *end;
	size_t count; /* elements in the list */
	int ttl;      /* elements carry a timestamp (internal) */
} sluice_list_iter;
/* Borrowed iterator over the current list (empty when absent). */
SLUICE_EXTERN(int) sluice_list_get(sluice_state *st, sluice_list_iter *it);
/* 1 and the next element, or 0 at the end. */
SLUICE_EXTERN(int) sluice_list_next(sluice_list_iter *it, sluice_slice *out);
SLUICE_EXTERN(int) sluice_list_add(sluice_state *st, sluice_slice value);
SLUICE_EXTERN(int)
sluice_list_add_all(sluice_state *st, const sluice_slice *values, size_t n);
/* Replace the list; n == 0 clears it. */
SLUICE_EXTERN(int)
sluice_list_update(sluice_state *st, const sluice_slice *values, size_t n);

/* MAP */
SLUICE_EXTERN(int)
sluice_map_get(sluice_state *st, sluice_slice ukey, sluice_slice *out);
SLUICE_EXTERN(int)
sluice_map_put(sluice_state *st, sluice_slice ukey, sluice_slice value);
SLUICE_EXTERN(int)
sluice_map_put_all(
	sluice_state *st,
	const sluice_slice *ukeys,
	const sluice_slice *values,
	size_t n);
SLUICE_EXTERN(int) sluice_map_remove(sluice_state *st, sluice_slice ukey);
/* 1 if present, 0 if not, negative on error. */
SLUICE_EXTERN(int) sluice_map_contains(sluice_state *st, sluice_slice ukey);
/* 1 if the map of the current key/namespace is empty (or absent). */
SLUICE_EXTERN(int) sluice_map_is_empty(sluice_state *st);
/*
 * Iterate the user entries: `fn(ctx, ukey, value)`; 0 continues, > 0
 * stops, < 0 stops and is returned.  The callback must not modify state.
 * keys()/values()/entries() of Flink are this with the part you need.
 */
typedef int (*sluice_map_entry_fn)(
	void *ctx, sluice_slice ukey, sluice_slice value);
SLUICE_EXTERN(int)
sluice_map_foreach(sluice_state *st, sluice_map_entry_fn fn, void *ctx)
	;

/* REDUCING */
SLUICE_EXTERN(int) sluice_reducing_add(sluice_state *st, sluice_slice value);
SLUICE_EXTERN(int) sluice_reducing_get(sluice_state *st, sluice_slice *out);

/* AGGREGATING */
SLUICE_EXTERN(int) sluice_aggregating_add(sluice_state *st, sluice_slice in);
SLUICE_EXTERN(int) sluice_aggregating_get(sluice_state *st, sluice_slice *out);

/* ---- latency tracking (spec §9) ------------------------------------- */

typedef struct sluice_latency_stats {
	uint64_t count; /* samples in the window */
	int64_t min, max;
	double mean;
	int64_t p50, p95, p99, p999; /* nanoseconds */
} sluice_latency_stats;

/*
 * Histogram `metric` of a state ("valueStateGetLatency", ...: Flink's
 * names).  ENOTFOUND when tracking is off or nothing was sampled yet.
 */
SLUICE_EXTERN(int)
sluice_state_latency(
	const sluice_state *st, const char *metric, sluice_latency_stats *out);
/*
 * Every histogram with samples: `fn(ctx, scope, metric, stats)` where scope
 * is "<state>" when state-name-as-variable is off (the metric lives in a
 * sub-group named after the state) and "state_name=<state>" when on.
 */
typedef int (*sluice_latency_fn)(
	void *ctx,
	const char *scope,
	const char *metric,
	const sluice_latency_stats *stats);
SLUICE_EXTERN(int)
sluice_keyed_backend_latency_foreach(
	sluice_keyed_backend *kb, sluice_latency_fn fn, void *ctx);

/* ---- snapshots and restore ----------------------------------------- */

typedef struct sluice_keyed_snapshot sluice_keyed_snapshot;

/*
 * Synchronous phase, task thread: freeze a consistent view of all states
 * (O(states + table pages); no entry is copied).  Free with
 * sluice_keyed_snapshot_free.
 */
SLUICE_EXTERN(int)
sluice_keyed_snapshot_sync(
	sluice_keyed_snapshot **out, sluice_keyed_backend *kb);
/*
 * Asynchronous phase, any one thread: write the view in the canonical
 * format (docs/format/snapshot.md) to `os`, close it and return the
 * handle (key-group range, per-group offsets, stream handle) in `*out`.
 * `os` is consumed (closed or aborted).  With no states, nothing is
 * written and `*out` is NULL.  Expired TTL entries are left out.
 */
SLUICE_EXTERN(int)
sluice_keyed_snapshot_write(
	sluice_keyed_snapshot *snap,
	sluice_ostream *os,
	sluice_keyed_handle **out);
/* Any thread; NULL-safe. */
SLUICE_EXTERN(void) sluice_keyed_snapshot_free(sluice_keyed_snapshot *snap);

/* Opens a stream for a handle (checkpoint storage plugs in here). */
typedef int (*sluice_open_fn)(
	void *ctx, const sluice_stream_handle *h, sluice_istream **out);
/* Default opener: INLINE handles only (memory istream over the bytes). */
SLUICE_EXTERN(int)
sluice_open_inline(
	void *ctx, const sluice_stream_handle *h, sluice_istream **out);

/*
 * Restore from the handles of any number of old subtasks (any old
 * parallelism, same max parallelism), keeping only the key groups of this
 * backend's range.  Every block read is verified; SLUICE_ECORRUPT names
 * the stream, key group and state.  Call before using states; on failure
 * the backend holds partial state and must be freed.
 */
SLUICE_EXTERN(int)
sluice_keyed_backend_restore(
	sluice_keyed_backend *kb,
	const sluice_keyed_handle *const *handles,
	size_t n,
	sluice_open_fn open,
	void *open_ctx);

/* ---- operator (non-keyed) state (spec §7.3) --------------------------- */

/*
 * Named lists of byte elements per operator subtask.  A list's mode says
 * how it is redistributed when parallelism changes: SPLIT (even split of
 * all elements), UNION (every subtask gets every element) or BROADCAST
 * (a map, identical on all subtasks; subtask i restores old subtask
 * i % old_p's copy).  Broadcast maps keep one element per entry.
 *
 * Threading: one thread at a time.  Borrowed results as for keyed state.
 */
typedef struct sluice_operator_state sluice_operator_state;

SLUICE_EXTERN(int) sluice_operator_state_new(sluice_operator_state **out);
SLUICE_EXTERN(void) sluice_operator_state_free(sluice_operator_state *os);

/* SPLIT or UNION list: append / replace (n == 0 clears) / iterate. EINVALID
 * when the name exists with another mode. */
SLUICE_EXTERN(int)
sluice_operator_list_add(
	sluice_operator_state *os,
	const char *name,
	sluice_opstate_mode mode,
	sluice_slice value);
SLUICE_EXTERN(int)
sluice_operator_list_update(
	sluice_operator_state *os,
	const char *name,
	sluice_opstate_mode mode,
	const sluice_slice *values,
	size_t n);
/* Iterator over the elements (empty when the list does not exist). */
SLUICE_EXTERN(int)
sluice_operator_list_get(
	sluice_operator_state *os, const char *name, sluice_list_iter *it);

/* BROADCAST map state. */
SLUICE_EXTERN(int)
sluice_broadcast_put(
	sluice_operator_state *os,
	const char *name,
	sluice_slice key,
	sluice_slice value);
/* ENOTFOUND (no last error) when absent. */
SLUICE_EXTERN(int)
sluice_broadcast_get(
	sluice_operator_state *os,
	const char *name,
	sluice_slice key,
	sluice_slice *out);
SLUICE_EXTERN(int)
sluice_broadcast_remove(
	sluice_operator_state *os, const char *name, sluice_slice key);
SLUICE_EXTERN(int)
sluice_broadcast_foreach(
	sluice_operator_state *os,
	const char *name,
	sluice_map_entry_fn fn,
	void *ctx);

/*
 * Write every operator state to `out` (consumed) and return the handle
 * (per state: name, mode, element offsets).  No states: `*h` NULL.
 */
SLUICE_EXTERN(int)
sluice_operator_state_snapshot(
	sluice_operator_state *os,
	sluice_ostream *out,
	sluice_opstate_handle **h);

/*
 * Redistribution (Flink's RoundRobinOperatorStateRepartitioner): from the
 * handles of `old_p` old subtasks (old[i] may be NULL), the handles new
 * subtask `index` of `new_p` restores.  `*out` is an array of `*n`
 * handles, free each with sluice_opstate_handle_free and the array with
 * sluice_opstate_handles_free.
 */
SLUICE_EXTERN(int)
sluice_opstate_assign(
	sluice_opstate_handle ***out,
	size_t *n,
	const sluice_opstate_handle *const *old,
	size_t old_p,
	size_t new_p,
	size_t index);
SLUICE_EXTERN(void)
sluice_opstate_handles_free(sluice_opstate_handle **hs, size_t n);

/* Restore (adds to what `os` holds); elements are verified. */
SLUICE_EXTERN(int)
sluice_operator_state_restore(
	sluice_operator_state *os,
	const sluice_opstate_handle *const *handles,
	size_t n,
	sluice_open_fn open,
	void *open_ctx);

#ifdef __cplusplus
}
#endif
#endif
