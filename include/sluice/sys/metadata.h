/*
 * The in-memory model of a checkpoint's `_metadata`, its codec, and the
 * checkpoint-level operations built on it: finalize (commit), the
 * completed-checkpoint store with retention, the shared-state registry,
 * discovery on restart and verification.
 *
 * Model: a checkpoint (id, trigger/completion times, job id, properties)
 * holds operators (uid, name, parallelism, max parallelism); each operator
 * holds one record per subtask; a subtask holds keyed handles, operator
 * state handles, shared-file references (registry key → handle, for
 * incremental snapshots), and optional extension sections (tag + bytes;
 * channel state is added this way by a later format version, and readers
 * keep sections they do not understand).  See docs/format/metadata.md.
 *
 * Exclusive vs shared: the stream handles of keyed and operator state
 * belong to this checkpoint alone and are deleted with it.  A file that
 * several checkpoints use (an incremental SST in shared/) must appear as a
 * shared reference instead; the shared-state registry decides when it
 * goes.
 *
 * Ownership: a sluice_checkpoint_meta owns everything reachable from it;
 * free with sluice_checkpoint_meta_free().  Handles added with the
 * *_add_* functions are taken over (also on failure).
 *
 * Threading: a meta object is used by one thread at a time (immutable
 * metas may be read concurrently).  The store and the registry are not
 * thread-safe: the coordinator calls them from its own thread.
 */
#ifndef SLUICE_SYS_METADATA_H
#define SLUICE_SYS_METADATA_H

#include "../common.h"
#include "../config.h"
#include "storage.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_METADATA_MAGIC 0x534c434bu /* "SLCK" */
/* Newest version written; version 1 is still written (and read) when no
 * subtask has incremental handles, version 2 adds them. */
#define SLUICE_METADATA_VERSION 2

typedef enum sluice_snapshot_kind {
	SLUICE_SNAPSHOT_CHECKPOINT = 0,
	SLUICE_SNAPSHOT_SAVEPOINT = 1,
	SLUICE_SNAPSHOT_SYNC_SAVEPOINT = 2, /* stop-with-savepoint */
	SLUICE_SNAPSHOT_FULL_CHECKPOINT = 3 /* manual FULL checkpoint */
} sluice_snapshot_kind;

typedef enum sluice_snapshot_format {
	SLUICE_FORMAT_CANONICAL = 0,
	SLUICE_FORMAT_NATIVE = 1
} sluice_snapshot_format;

typedef struct sluice_checkpoint_props {
	sluice_snapshot_kind kind;
	sluice_snapshot_format format;
	sluice_retention retention; /* checkpoints only */
} sluice_checkpoint_props;

/* A reference to a shared file, keyed by its registry key. */
typedef struct sluice_shared_ref {
	char *key;
	sluice_stream_handle *handle; /* FILE or PLACEHOLDER */
} sluice_shared_ref;

/* An optional section; tag 1 is reserved for channel state. */
typedef struct sluice_meta_ext {
	uint16_t tag;
	uint32_t len;
	uint8_t *data;
} sluice_meta_ext;

#define SLUICE_META_EXT_CHANNEL_STATE 1

typedef struct sluice_subtask_state {
	int32_t index;
	int finished; /* finished subtask: no state */
	uint32_t num_keyed;
	sluice_keyed_handle **keyed;
	uint32_t num_opstate;
	sluice_opstate_handle **opstate;
	uint32_t num_shared;
	sluice_shared_ref *shared;
	uint32_t num_ext;
	sluice_meta_ext *ext;
	/* Incremental keyed handles (RocksDB native snapshots, format
	 * version 2).  Their shared files also appear as shared references
	 * (registry key = handle path), with real (never placeholder)
	 * handles once the coordinator registered them. */
	uint32_t num_incremental;
	sluice_incremental_handle **incremental;
} sluice_subtask_state;

typedef struct sluice_operator_state {
	char *uid;
	char *name;
	int32_t parallelism;
	int32_t max_parallelism;
	uint32_t num_subtasks;
	sluice_subtask_state *subtasks; /* index i = subtask i */
} sluice_operator_state;

typedef struct sluice_checkpoint_meta {
	int64_t checkpoint_id;
	int64_t trigger_ms;  /* wall clock */
	int64_t complete_ms; /* wall clock */
	char job_id[33];
	sluice_checkpoint_props props;
	uint32_t num_operators;
	sluice_operator_state *operators;
} sluice_checkpoint_meta;

/* New empty checkpoint `id` (props: checkpoint, canonical, no retention). */
SLUICE_EXTERN(int)
sluice_checkpoint_meta_new(sluice_checkpoint_meta **out, int64_t id);
SLUICE_EXTERN(void) sluice_checkpoint_meta_free(sluice_checkpoint_meta *m);
/* Add an operator with `parallelism` empty subtasks; `*op` is borrowed
 * from `m` (valid until the next add_operator or free). */
SLUICE_EXTERN(int)
sluice_checkpoint_meta_add_operator(
	sluice_operator_state **op,
	sluice_checkpoint_meta *m,
	const char *uid,
	const char *name,
	int32_t parallelism,
	int32_t max_parallelism);
/* Take over `h` (freed on failure too). */
SLUICE_EXTERN(int)
sluice_subtask_add_keyed(sluice_subtask_state *s, sluice_keyed_handle *h);
SLUICE_EXTERN(int)
sluice_subtask_add_opstate(sluice_subtask_state *s, sluice_opstate_handle *h);
SLUICE_EXTERN(int)
sluice_subtask_add_shared(
	sluice_subtask_state *s, const char *key, sluice_stream_handle *h);
/* Take over `h` (freed on failure too). */
SLUICE_EXTERN(int)
sluice_subtask_add_incremental(
	sluice_subtask_state *s, sluice_incremental_handle *h);
/* Copy `len` bytes into a new section. */
SLUICE_EXTERN(int)
sluice_subtask_add_ext(
	sluice_subtask_state *s, uint16_t tag, const void *data, uint32_t len);

/*
 * Codec.  encode: the bytes of `_metadata` (free with sluice_free_bytes).
 * decode: `name` (the file, for messages) is borrowed.  Errors are
 * SLUICE_ECORRUPT with the reason and byte offset ("<name>: truncated at
 * byte 123", "<name>: checksum mismatch", "<name>: not a sluice _metadata
 * file (magic 0x...)"), SLUICE_EUNSUPPORTED for an unknown version.
 */
SLUICE_EXTERN(int)
sluice_metadata_encode(
	uint8_t **out, size_t *len, const sluice_checkpoint_meta *m);
SLUICE_EXTERN(int)
sluice_metadata_decode(
	sluice_checkpoint_meta **out,
	const void *data,
	size_t len,
	const char *name);

/* Visit every stream handle of `m` (keyed, operator, the metadata stream
 * and private files of incremental handles, shared references; `shared` =
 * 1 for the latter -- the shared files of incremental handles are visited
 * through their shared references only).  A non-zero return stops and is
 * returned. */
typedef int (*sluice_meta_handle_cb)(
	const sluice_stream_handle *h, int shared, void *ctx);
SLUICE_EXTERN(int)
sluice_checkpoint_meta_each_handle(
	const sluice_checkpoint_meta *m, sluice_meta_handle_cb cb, void *ctx);

/*
 * Coordinator: commit `meta` to its location (encode + the storage's commit
 * protocol, see sluice_location_commit).  0 = the checkpoint is complete.
 */
SLUICE_EXTERN(int)
sluice_location_finalize(
	sluice_location *loc, const sluice_checkpoint_meta *meta);

/*
 * Load `_metadata` from `path` (a checkpoint directory or the
 * `_metadata` file itself).  `*dir` receives the directory (free with
 * sluice_free_bytes; may be NULL).  Errors use Flink's messages for a
 * missing path or directory without `_metadata`.
 */
SLUICE_EXTERN(int)
sluice_checkpoint_load(
	sluice_checkpoint_meta **out,
	char **dir,
	sluice_storage *st,
	const char *path);

/* A problem found by verification: one line naming file and handle. */
typedef void (*sluice_verify_cb)(const char *problem, void *ctx);
/*
 * Check every handle of `m` (in checkpoint directory `dir`): files exist
 * with the recorded size and checksum, inline bytes match their checksum.
 * Placeholders are checked to exist.  Every problem is reported to `cb`
 * (may be NULL); returns 0 when none, else the code of the first problem
 * (SLUICE_ENOTFOUND / SLUICE_ECORRUPT) with the last error describing it.
 */
SLUICE_EXTERN(int)
sluice_checkpoint_verify(
	sluice_storage *st,
	const char *dir,
	const sluice_checkpoint_meta *m,
	sluice_verify_cb cb,
	void *ctx);

/*
 * Discovery on restart: the newest `chk-<n>` under `job_dir` whose
 * `_metadata` reads and verifies.  Every newer candidate that failed is
 * reported through `cb` ("chk-7: <reason>") and logged as a warning.
 * SLUICE_ENOTFOUND ("No completed checkpoint available") when none.
 * `*dir` (may be NULL) receives the checkpoint directory.
 */
SLUICE_EXTERN(int)
sluice_checkpoint_discover(
	sluice_checkpoint_meta **out,
	char **dir,
	sluice_storage *st,
	const char *job_dir,
	sluice_verify_cb cb,
	void *ctx);

/* ------------------------------------------------------------------
 * Shared-state registry (spec §6.3).  Entries are keyed by registry key
 * (the identity of a physical shared file): handle, created-by id,
 * last-used id, confirmed.  A shared file is deleted only when no
 * retained checkpoint uses it any more.
 */
typedef struct sluice_shared_registry sluice_shared_registry;

/* `st` (borrowed) deletes files; `dir` resolves relative handles. */
SLUICE_EXTERN(int)
sluice_shared_registry_new(sluice_shared_registry **out, sluice_storage *st);
SLUICE_EXTERN(void) sluice_shared_registry_free(sluice_shared_registry *r);
/*
 * Register `h` under `key` for checkpoint `id`.  A new key must not be a
 * placeholder (SLUICE_EINVALID "Attempt to reference unknown state:
 * <key>").  An existing key with a different handle: if the entry is
 * confirmed or `h` is a placeholder, `h`'s file is a duplicate and is
 * deleted (unless a placeholder); else the entry takes `h` and the old
 * file is deleted.  `*kept` (may be NULL) is a borrowed pointer to the
 * handle to keep in the checkpoint (valid until the next registry call):
 * the coordinator records a copy of it in the checkpoint's metadata in
 * place of a placeholder, so `_metadata` names real files that
 * verification and `sluice checkpoint gc` can see.  `h` is borrowed.
 */
SLUICE_EXTERN(int)
sluice_shared_registry_register(
	sluice_shared_registry *r,
	const char *key,
	const sluice_stream_handle *h,
	int64_t id,
	const sluice_stream_handle **kept);
/* Register every shared reference of `m` with its id. */
SLUICE_EXTERN(int)
sluice_shared_registry_register_all(
	sluice_shared_registry *r, const sluice_checkpoint_meta *m);
/* Entries last used by `id` become confirmed. */
SLUICE_EXTERN(void)
sluice_shared_registry_checkpoint_completed(
	sluice_shared_registry *r, int64_t id);
/* Remove entries with last-used < `lowest_retained`; delete their files
 * (in one batch: sluice_storage_remove_many) unless created by a
 * checkpoint ≤ the highest not-claimed id.  A failed delete is logged,
 * not returned (the checkpoint is gone either way; `sluice checkpoint gc`
 * finds the file).  0 or SLUICE_ENOMEM. */
SLUICE_EXTERN(int)
sluice_shared_registry_unregister_unused(
	sluice_shared_registry *r, int64_t lowest_retained);
/* Restored in NO_CLAIM mode: never delete state created up to `id`. */
SLUICE_EXTERN(void)
sluice_shared_registry_protect_upto(sluice_shared_registry *r, int64_t id);
/* Number of entries (tests, statistics). */
SLUICE_EXTERN(size_t)
sluice_shared_registry_size(const sluice_shared_registry *r);

/* ------------------------------------------------------------------
 * Completed-checkpoint store and retention (spec §5.5).
 */
typedef struct sluice_completed_store sluice_completed_store;

typedef enum sluice_job_status {
	SLUICE_JOB_FINISHED = 0,
	SLUICE_JOB_CANCELED = 1,
	SLUICE_JOB_FAILED = 2,
	SLUICE_JOB_SUSPENDED = 3
} sluice_job_status;

/*
 * `num_retained` ≤ 0 means 1.  `st` and `registry` are borrowed (registry
 * may be NULL).  Not thread-safe.
 */
SLUICE_EXTERN(int)
sluice_completed_store_new(
	sluice_completed_store **out,
	sluice_storage *st,
	sluice_shared_registry *registry,
	int32_t num_retained);
/* Frees the store and its metas; deletes nothing. */
SLUICE_EXTERN(void) sluice_completed_store_free(sluice_completed_store *s);
/*
 * Add a completed checkpoint (takes over `m`, copies `dir`).  The registry
 * is told the checkpoint completed; then, while more than num-retained are
 * kept, the oldest subsumable entry is dropped (never the newest; a
 * savepoint always; a checkpoint unless it is the newest real checkpoint
 * and the newest is not a stop-with-savepoint) and, unless it is a
 * savepoint, discarded: `_metadata` first, then its exclusive files, then
 * its directory.  Finally shared state no retained checkpoint uses is
 * released.  Discard failures are logged, not returned (Flink leaves the
 * files for manual cleanup).  `m` is taken over also on failure (then the
 * committed checkpoint stays on storage but is not retained here).
 */
SLUICE_EXTERN(int)
sluice_completed_store_add(
	sluice_completed_store *s, sluice_checkpoint_meta *m, const char *dir);
SLUICE_EXTERN(size_t)
sluice_completed_store_count(const sluice_completed_store *s);
/* Borrowed entry `i` (0 = oldest); NULL when out of range. */
SLUICE_EXTERN(const sluice_checkpoint_meta *)
sluice_completed_store_get(
	const sluice_completed_store *s, size_t i, const char **dir);
/* Newest entry or NULL. */
SLUICE_EXTERN(const sluice_checkpoint_meta *)
sluice_completed_store_latest(
	const sluice_completed_store *s, const char **dir);
/*
 * The job ended with `status`: discard every retained checkpoint whose
 * retention says so (table in spec §5.5: NONE discards always;
 * DELETE_ON_CANCELLATION keeps on FAILED; RETAIN_ON_CANCELLATION keeps on
 * CANCELED/FAILED/SUSPENDED; savepoints are never discarded) and release
 * their shared state.  The store is empty afterwards.
 */
SLUICE_EXTERN(int)
sluice_completed_store_shutdown(
	sluice_completed_store *s, sluice_job_status status);
/* Discard one checkpoint's files (metadata first, exclusive files, dir);
 * shared files are left to the registry. */
SLUICE_EXTERN(int)
sluice_checkpoint_discard(
	sluice_storage *st, const char *dir, const sluice_checkpoint_meta *m);

#ifdef __cplusplus
}
#endif
#endif
