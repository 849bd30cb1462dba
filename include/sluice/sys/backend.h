/*
 * The keyed state backend plug-in interface: what a storage engine for
 * keyed state (the in-memory `hashmap` backend, the embedded `rocksdb`
 * backend) implements so the keyed-state front end (sluice/state.h) can
 * run on it.
 *
 * The front end owns the semantics (state kinds, TTL, latency tracking,
 * key groups, the canonical snapshot format); a backend only stores bytes:
 *
 *  - every state is either FLAT (one value per (key, namespace): value,
 *    list, reducing and aggregating states) or MAP (a map of user keys to
 *    values per (key, namespace));
 *  - entries are addressed by a sluice_state_key, which carries the key
 *    group and a 32-bit hash the front end computed once per key, so a
 *    backend need not hash keys and namespaces itself (user keys of MAP
 *    states it hashes as it likes);
 *  - `merge` appends bytes to a FLAT value (list state appends framed
 *    elements; RocksDB maps it to its merge operator);
 *  - a snapshot is a synchronous `snapshot_sync` (short: it must not copy
 *    entries) returning a frozen view, and `snapshot_iterate`, which may
 *    run on another thread while the task thread keeps modifying state,
 *    and reads that view key group by key group.  The front end turns the
 *    view into the canonical stream (docs/format/snapshot.md);
 *  - restore is done by the front end through put/map_put, keeping only
 *    this subtask's key groups, unless the backend supplies its own.
 *
 * Style: a table of function pointers with `version` first, implementations
 * embed `sluice_backend` as their first member.  Methods are only ever
 * appended.  Optional methods may be NULL, with the default documented.
 *
 * Slices returned by a backend (get, map_get, iteration callbacks) borrow
 * the backend's memory: valid until the next call that modifies the same
 * state (or, for iteration, until the callback returns).
 *
 * Threading: all methods except snapshot_iterate and snapshot_release are
 * called from one thread (the task thread).  snapshot_iterate and
 * snapshot_release may be called from any one other thread while the task
 * thread keeps calling the others.
 */
#ifndef SLUICE_SYS_BACKEND_H
#define SLUICE_SYS_BACKEND_H

#include "../clock.h"
#include "../common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_BACKEND_VERSION 1

typedef enum sluice_backend_shape {
	SLUICE_SHAPE_FLAT = 0, /* one value per (key, namespace) */
	SLUICE_SHAPE_MAP = 1   /* user key → value per (key, namespace) */
} sluice_backend_shape;

/*
 * Address of an entry.  `hash` is the front end's hash of (key,
 * namespace): backends may use it for their tables and must not rely on
 * any other property of it.  `key_group` is in the subtask's range.
 */
typedef struct sluice_state_key {
	int32_t key_group;
	uint32_t hash;
	sluice_slice key;
	sluice_slice ns;
} sluice_state_key;

/*
 * One entry of a state as seen by iteration.  For MAP states there is one
 * call per user entry, `ukey` set; all user entries of one (key, namespace)
 * come consecutively.  For FLAT states `ukey` is empty.
 */
typedef struct sluice_backend_entry {
	int32_t key_group;
	sluice_slice key;
	sluice_slice ns;
	sluice_slice ukey;
	sluice_slice value;
} sluice_backend_entry;

/* Iteration callback: 0 continues, > 0 stops (iteration returns 0), < 0
 * stops and is returned by the iteration. */
typedef int (*sluice_backend_entry_fn)(
	void *ctx, const sluice_backend_entry *entry);

/*
 * TTL cleanup filter: looks at one stored value (a FLAT value or one MAP
 * user value) and answers SLUICE_FILTER_KEEP, SLUICE_FILTER_DROP, or
 * SLUICE_FILTER_REPLACE with `*replacement` (FLAT only; borrowed until the
 * next call of the filter).
 */
enum {
	SLUICE_FILTER_KEEP = 0,
	SLUICE_FILTER_DROP = 1,
	SLUICE_FILTER_REPLACE = 2
};
typedef int (*sluice_backend_filter_fn)(
	void *ctx, sluice_slice value, sluice_slice *replacement);

typedef struct sluice_backend sluice_backend;
typedef struct sluice_backend_state sluice_backend_state;       /* opaque */
typedef struct sluice_backend_snapshot sluice_backend_snapshot; /* opaque */

struct sluice_backend {
	int version;      /* SLUICE_BACKEND_VERSION */
	const char *name; /* "hashmap", "rocksdb" */

	/*
	 * Create (or find, by name) a state.  States are numbered in
	 * registration order from 0; the number is the `state_index` of
	 * snapshot_iterate.  `*out` lives as long as the backend.
	 * EINVALID if the name exists with another shape.
	 */
	int (*register_state)(
		sluice_backend *b,
		const char *name,
		sluice_backend_shape shape,
		sluice_backend_state **out);

	/* FLAT: the value, or SLUICE_ENOTFOUND (no last error set). */
	int (*get)(
		sluice_backend *b,
		sluice_backend_state *st,
		const sluice_state_key *k,
		sluice_slice *out);
	/* FLAT: insert or replace. */
	int (*put)(
		sluice_backend *b,
		sluice_backend_state *st,
		const sluice_state_key *k,
		sluice_slice value);
	/* FLAT: append `bytes` to the value (creating it when absent). */
	int (*merge)(
		sluice_backend *b,
		sluice_backend_state *st,
		const sluice_state_key *k,
		sluice_slice bytes);
	/* FLAT or MAP: remove the whole entry; absent is not an error. */
	int (*remove)(
		sluice_backend *b,
		sluice_backend_state *st,
		const sluice_state_key *k);

	/* MAP: user value, or SLUICE_ENOTFOUND (no last error set). */
	int (*map_get)(
		sluice_backend *b,
		sluice_backend_state *st,
		const sluice_state_key *k,
		sluice_slice ukey,
		sluice_slice *out);
	int (*map_put)(
		sluice_backend *b,
		sluice_backend_state *st,
		const sluice_state_key *k,
		sluice_slice ukey,
		sluice_slice value);
	/* MAP: remove one user key; absent is not an error.  A map whose
	 * last user key is removed disappears (absent == empty). */
	int (*map_remove)(
		sluice_backend *b,
		sluice_backend_state *st,
		const sluice_state_key *k,
		sluice_slice ukey);
	/* MAP: every user entry of (key, namespace); the callback must not
	 * modify the state. */
	int (*map_iterate)(
		sluice_backend *b,
		sluice_backend_state *st,
		const sluice_state_key *k,
		sluice_backend_entry_fn fn,
		void *ctx);

	/*
	 * Every entry of the state, or only those in namespace `*ns` when ns
	 * is not NULL.  Order unspecified.  The callback must not modify the
	 * state.
	 */
	int (*iterate)(
		sluice_backend *b,
		sluice_backend_state *st,
		const sluice_slice *ns,
		sluice_backend_entry_fn fn,
		void *ctx);

	/*
	 * Optional (NULL: no incremental cleanup).  Look at up to `n` entries
	 * after a cursor that persists between calls (wrapping around), and
	 * apply `filter` to each stored value.
	 */
	int (*cleanup_step)(
		sluice_backend *b,
		sluice_backend_state *st,
		size_t n,
		sluice_backend_filter_fn filter,
		void *ctx);

	/*
	 * Synchronous phase: freeze a consistent view of every state
	 * registered so far.  Must be short (no copy of entries).
	 */
	int (*snapshot_sync)(sluice_backend *b, sluice_backend_snapshot **out);
	/*
	 * Asynchronous phase, any one thread: call `fn` for every entry of
	 * state `state_index` in key group `key_group` of the view, ordered
	 * by (key, namespace) bytes (shorter first on a common prefix).
	 * state_index beyond the view's states yields nothing.
	 */
	int (*snapshot_iterate)(
		sluice_backend_snapshot *s,
		size_t state_index,
		int32_t key_group,
		sluice_backend_entry_fn fn,
		void *ctx);
	/* Any thread, once per snapshot.  NULL-safe. */
	void (*snapshot_release)(sluice_backend_snapshot *s);

	/* Number of entries ((key, namespace) pairs) of a state. */
	size_t (*count)(sluice_backend *b, sluice_backend_state *st);
	/* Bytes of memory held, for the bytes-per-entry figure (0 unknown). */
	size_t (*memory)(sluice_backend *b);

	/* Free the backend; every snapshot must have been released. */
	void (*free)(sluice_backend *b);

	/*
	 * Optional (NULL: nothing to do).  Tell the backend that a state has
	 * TTL `ttl_ms` (> 0) measured on `clock` (borrowed, outlives the
	 * backend), so it can drop expired entries in the background
	 * (RocksDB's compaction filter, spec §8.4).  Stored forms as the
	 * front end writes them: a value or map user value starts with an
	 * 8-byte big-endian timestamp; with `list` set, a FLAT value is a
	 * sequence of `u32 length, u64 timestamp, bytes` elements.
	 */
	int (*configure_ttl)(
		sluice_backend *b,
		sluice_backend_state *st,
		int64_t ttl_ms,
		int list,
		sluice_clock *clock);
};

/* Creates a backend instance; used by the front end and contract tests. */
typedef int (*sluice_backend_factory)(sluice_backend **out, void *ctx);

/* The in-memory copy-on-write hash map backend (src/state/hashmap). */
SLUICE_EXTERN(int) sluice_backend_hashmap_new(sluice_backend **out, void *ctx);
/* The embedded RocksDB backend (src/state/rocksdb, sluice/sys/rocksdb.h);
 * `ctx`: const sluice_rocksdb_options * or NULL. */
SLUICE_EXTERN(int) sluice_backend_rocksdb_new(sluice_backend **out, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
