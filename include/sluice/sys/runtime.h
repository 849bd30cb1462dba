/*
 * The runtime's two seams, for people who implement a checkpoint
 * coordinator or a state backend.
 *
 * 1. Toward the coordinator.  The coordinator starts a job with a
 *    responder (a table of callbacks) and an optional restore set, triggers
 *    checkpoints on the source subtasks, and notifies completion and
 *    aborts.  Tasks answer through the responder: ack with the subtask's
 *    state handles, decline with a sluice_failure_reason (Flink's
 *    task-side reasons: TASK_NOT_READY, TASK_CLOSING, ASYNC_EXCEPTION,
 *    DECLINED_SUBSUMED, ON_CANCELLATION_BARRIER, INPUT_END_OF_STREAM),
 *    report a task failure or a finished task.
 *
 * 2. Toward state.  Each subtask owns one sluice_state_provider made by
 *    the job's provider factory.  Operators read and write keyed value
 *    state and operator list state through it (via sluice_ctx_*).  A
 *    checkpoint calls snapshot_sync on the subtask thread (short: freeze a
 *    consistent view) and snapshot_async on a snapshot-pool thread (write
 *    the frozen view into streams from the job's stream factory, e.g. the
 *    checkpoint's storage location, and produce handles).  Restore hands
 *    the provider the handles assigned to its subtask, with the storage
 *    to read them from.  sluice_mem_state_provider_new is a
 *    simple in-memory provider; the real keyed backends plug in here.
 *
 * Threading: responder callbacks are called from task threads and
 * snapshot-pool threads, concurrently; they must be thread-safe, return
 * quickly, and never call sluice_job_stop/start/free (hand such work to
 * another thread).  Provider methods are called from the subtask thread
 * except snapshot_async and snapshot_discard, which may run on a pool
 * thread concurrently with the subtask thread's get/put calls: the
 * snapshot object must be independent of live state.
 */
#ifndef SLUICE_SYS_RUNTIME_H
#define SLUICE_SYS_RUNTIME_H

#include "../job.h"
#include "../failure.h"
#include "../state.h"
#include "rocksdb.h"
#include "storage.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- tasks ---------------------------------------------------------------
 */

typedef enum sluice_task_state {
	SLUICE_TASK_STATE_CREATED = 0,
	SLUICE_TASK_STATE_INITIALIZING = 1, /* restoring state, opening */
	SLUICE_TASK_STATE_RUNNING = 2,
	SLUICE_TASK_STATE_FINISHING = 3, /* end of input reached, closing */
	SLUICE_TASK_STATE_FINISHED = 4,
	SLUICE_TASK_STATE_CANCELED = 5,
	SLUICE_TASK_STATE_FAILED = 6
} sluice_task_state;

/* Stable name of a task state ("RUNNING"), never NULL. */
SLUICE_EXTERN(const char *) sluice_task_state_name(sluice_task_state s);

typedef struct sluice_task_info {
	int index;       /* task index in the job, 0 .. task_count-1 */
	int vertex;      /* vertex id */
	const char *uid; /* vertex uid; valid while the job exists */
	const char *name;
	int32_t subtask;
	int32_t parallelism;
	int32_t max_parallelism;
	int is_source;
	sluice_task_state state; /* at the time of the call */
	/* backpressure: times this task waited for credit to send a
	 * buffer downstream (0 when the job is not started) */
	uint64_t output_waits;
} sluice_task_info;

/* Number of tasks (subtasks of all vertices) of the job once validated. */
SLUICE_EXTERN(int) sluice_job_task_count(sluice_job *job);

/* Info of task `index`.  SLUICE_EINVALID when out of range. */
SLUICE_EXTERN(int)
sluice_job_task_info(sluice_job *job, int index, sluice_task_info *out);

/* --- snapshots -----------------------------------------------------------
 */

/*
 * Where tasks open the state streams of checkpoint `id` (for example the
 * coordinator's checkpoint store, by id).  `open` is called from
 * snapshot-pool threads, concurrently; it returns SLUICE_ENOTFOUND when
 * the checkpoint is no longer pending (the task then declines it with
 * CHECKPOINT_ASYNC_EXCEPTION).
 */
typedef struct sluice_stream_factory {
	void *ctx;
	int (*open)(
		void *ctx,
		int64_t id,
		sluice_scope scope,
		sluice_ostream **out);
	/* Optional (NULL: keep): delete the file of a handle opened through
	 * `open` whose snapshot then failed, so no checkpoint will name it
	 * (an incremental upload's new shared files).  Best effort. */
	void (*discard)(void *ctx, const sluice_stream_handle *h);
} sluice_stream_factory;

typedef struct sluice_checkpoint_options {
	int savepoint;      /* 1 for a savepoint */
	int sync_savepoint; /* 1 for stop-with-savepoint */
	/* Set by the runtime for the state provider: the job's stream
	 * factory (sluice_job_set_stream_factory), NULL = memory streams
	 * (INLINE handles). */
	const sluice_stream_factory *streams;
	/* Barrier alignment (spec §4.1), set from the coordinator's trigger
	 * options: 1 = the checkpoint may be unaligned (barriers overtake
	 * in-flight data, which is persisted as channel state); with
	 * `aligned_timeout_ms` > 0 it starts aligned and switches to
	 * unaligned once now − trigger timestamp exceeds the timeout.
	 * Ignored for savepoints and in AT_LEAST_ONCE mode. */
	int unaligned;
	int64_t aligned_timeout_ms;
} sluice_checkpoint_options;

/*
 * One subtask's part of a checkpoint, as acknowledged.  The coordinator
 * owns it after ack (free with sluice_task_snapshot_free) and passes
 * such records back in a sluice_job_restore.
 */
typedef struct sluice_task_snapshot {
	char *uid;
	int32_t subtask;
	int32_t parallelism;
	int32_t max_parallelism;
	sluice_keyed_handle *keyed;     /* NULL = no keyed state */
	sluice_opstate_handle *opstate; /* NULL = no operator state */
	/* statistics (spec §12) */
	int64_t sync_duration_ms;
	int64_t async_duration_ms;
	int64_t alignment_duration_ms;
	int64_t start_delay_ms; /* first barrier received − trigger time */
	uint64_t state_size;    /* bytes of all handles */
	/* Incremental keyed state (RocksDB native snapshot), NULL = none;
	 * owned.  Its shared files may be placeholders until the coordinator
	 * registered them. */
	sluice_incremental_handle *incremental;
	/* bytes this checkpoint persisted (state_size minus reused shared
	 * files of incremental handles) */
	uint64_t checkpointed_size;
	/* Unaligned checkpoints: the subtask's channel-state reference, the
	 * bytes of the `_metadata` section SLUICE_META_EXT_CHANNEL_STATE
	 * (docs/format/channel-state.md); NULL = no in-flight data. */
	uint8_t *channel_state;
	uint32_t channel_state_len;
	uint64_t processed_bytes; /* input processed while barriers were
				     pending (alignment) */
	uint64_t persisted_bytes; /* in-flight bytes persisted */
	int unaligned;            /* the subtask checkpointed unaligned */
	/* Restore only: the subtask had finished when the checkpoint was
	 * taken (spec §2.8); a source subtask restored from it at the same
	 * parallelism starts at its end instead of emitting again. */
	int finished;
} sluice_task_snapshot;

SLUICE_EXTERN(void) sluice_task_snapshot_free(sluice_task_snapshot *s);
/* Deep copy, NULL on allocation failure. */
SLUICE_EXTERN(sluice_task_snapshot *)
sluice_task_snapshot_dup(const sluice_task_snapshot *s);

/*
 * State to restore a job from: the task snapshots of one checkpoint
 * (borrowed for the duration of sluice_job_start).  Keyed handles go to
 * every new subtask whose key-group range intersects theirs; operator
 * state is redistributed as Flink's round-robin repartitioner (spec
 * §7.3, sluice_opstate_assign): SPLIT lists even-split, UNION lists to
 * every subtask, BROADCAST state from old subtask i % old parallelism.  As
 * Flink (spec §5.4), with SLUICE_EINVALID and Flink's messages: state whose uid
 * matches no vertex fails the start unless `allow_non_restored` (then it
 * is skipped; snapshots without state are always skipped), and a vertex
 * whose max parallelism was set explicitly must match the state's; one
 * left to the default adopts the state's max parallelism.
 */
typedef struct sluice_job_restore {
	int64_t checkpoint_id;
	const sluice_task_snapshot *const *tasks;
	size_t num_tasks;
	/* For FILE / RELATIVE handles: the storage and the directory of the
	 * checkpoint's `_metadata` (borrowed during start); NULL when every
	 * handle is INLINE. */
	sluice_storage *storage;
	const char *dir;
	/* execution.state-recovery.ignore-unclaimed-state */
	int allow_non_restored;
	/* execution.state-recovery.without-channel-state.checkpoint-id named
	 * this checkpoint: its channel state (the in-flight data of an
	 * unaligned checkpoint) is not restored, so it also restores at
	 * another parallelism; those records are lost */
	int ignore_channel_state;
} sluice_job_restore;

struct sluice_checkpoint_meta;

/*
 * A restore set built from a completed checkpoint's `_metadata` (see
 * sys/metadata.h: sluice_checkpoint_load / sluice_checkpoint_discover):
 * one task snapshot per state handle of every operator subtask (handles
 * duplicated), and `restore` ready for sluice_job_start, reading FILE /
 * RELATIVE handles through `st` relative to `dir` (both copied / borrowed:
 * `st` must outlive the set).  Free with sluice_restore_set_free.
 * Returns 0 or SLUICE_ENOMEM.
 */
typedef struct sluice_restore_set {
	sluice_job_restore restore;
	sluice_task_snapshot **tasks;
	size_t num_tasks;
	char *dir;
} sluice_restore_set;

SLUICE_EXTERN(int)
sluice_restore_set_from_meta(
	sluice_restore_set **out,
	const struct sluice_checkpoint_meta *m,
	sluice_storage *st,
	const char *dir);
SLUICE_EXTERN(void) sluice_restore_set_free(sluice_restore_set *s);

/* --- the coordinator seam ------------------------------------------------
 */

typedef struct sluice_job_responder {
	int version; /* SLUICE_RESPONDER_VERSION */
	void *ctx;
	/* Task acknowledged checkpoint `id`; takes ownership of `snap`. */
	void (*ack)(
		void *ctx,
		const sluice_task_info *task,
		int64_t id,
		sluice_task_snapshot *snap);
	/* Task declined checkpoint `id`; `message` may be NULL. */
	void (*decline)(
		void *ctx,
		const sluice_task_info *task,
		int64_t id,
		sluice_failure_reason reason,
		const char *message);
	/* Task failed (the job is stopping all its tasks). */
	void (*task_failed)(
		void *ctx, const sluice_task_info *task, const char *message);
	/* Task finished normally. */
	void (*task_finished)(void *ctx, const sluice_task_info *task);
	/*
	 * Optional (NULL: not told).  With final_checkpoint: the task reached
	 * the end of its data (a source's end, or end of data on every
	 * input), told downstream, and now waits for a checkpoint taken
	 * after that point before it finishes.  Once per task and start, on
	 * the task thread.  A runner can trigger the final checkpoint as
	 * soon as every task reported (Flink does not wait for the periodic
	 * trigger then).
	 */
	void (*task_data_ended)(void *ctx, const sluice_task_info *task);
} sluice_job_responder;

#define SLUICE_RESPONDER_VERSION 1

/*
 * Start (or restart) the job: validate, expand the graph into subtasks,
 * create channels, restore state from `restore` (NULL: fresh start) and
 * launch one thread per subtask.  `responder` is copied; NULL means no
 * one listens.  Returns 0, SLUICE_EINVALID (graph, restore set),
 * SLUICE_EBUSY (already started: stop first), SLUICE_ENOMEM, or the code
 * of a failing provider factory or restore.
 */
SLUICE_EXTERN(int)
sluice_job_start(
	sluice_job *job,
	const sluice_job_responder *responder,
	const sluice_job_restore *restore);

/*
 * Trigger checkpoint `id` with trigger time `timestamp` (wall ms) on every
 * source subtask.  A task that is not yet running declines with
 * CHECKPOINT_DECLINED_TASK_NOT_READY, a finishing or finished one with
 * CHECKPOINT_DECLINED_TASK_CLOSING.  Returns 0, SLUICE_EINVALID (job not
 * started) or SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int)
sluice_job_trigger_checkpoint(
	sluice_job *job,
	int64_t id,
	int64_t timestamp,
	const sluice_checkpoint_options *opts);

/* Trigger on a single task (e.g. a non-source whose inputs finished). */
SLUICE_EXTERN(int)
sluice_job_trigger_task(
	sluice_job *job,
	int task,
	int64_t id,
	int64_t timestamp,
	const sluice_checkpoint_options *opts);

/*
 * Checkpoint `id` completed; `last_subsumed` is the newest checkpoint
 * dropped from the store (−1 none).  Delivered to every live task.
 */
SLUICE_EXTERN(int)
sluice_job_notify_complete(sluice_job *job, int64_t id, int64_t last_subsumed);

/*
 * Checkpoint `id` was aborted.  Tasks that did not see its barrier yet
 * remember the id (the newest 128) and, when the barrier arrives, skip
 * the snapshot and forward a cancellation marker instead (spec §2.7).
 */
SLUICE_EXTERN(int) sluice_job_notify_aborted(sluice_job *job, int64_t id);

/* --- the state seam ------------------------------------------------------
 */

typedef struct sluice_state_provider sluice_state_provider;

/* Handles assigned to one subtask on restore (borrowed during restore). */
typedef struct sluice_subtask_restore {
	const sluice_keyed_handle *const *keyed;
	size_t num_keyed;
	const sluice_opstate_handle *const *opstate;
	size_t num_opstate;
	sluice_storage *storage; /* as in sluice_job_restore; may be NULL */
	const char *dir;
	/* incremental keyed handles whose key groups intersect the subtask's */
	const sluice_incremental_handle *const *incremental;
	size_t num_incremental;
} sluice_subtask_restore;

struct sluice_state_provider {
	int version; /* SLUICE_STATE_PROVIDER_VERSION */
	/* Keyed value state; get borrows `*out` until the next call;
	 * SLUICE_ENOTFOUND when absent. */
	int (*value_get)(
		sluice_state_provider *p,
		const char *state,
		sluice_slice key,
		sluice_slice *out);
	int (*value_put)(
		sluice_state_provider *p,
		const char *state,
		sluice_slice key,
		sluice_slice value);
	int (*value_remove)(
		sluice_state_provider *p, const char *state, sluice_slice key);
	/* Operator list state (see sluice_ctx_opstate_get/set). */
	int (*opstate_get)(
		sluice_state_provider *p,
		const char *name,
		const sluice_slice **elems,
		size_t *count);
	int (*opstate_set)(
		sluice_state_provider *p,
		const char *name,
		const sluice_slice *elems,
		size_t count);
	/* Load the given handles (keeping only this subtask's key groups).
	 * SLUICE_ECORRUPT when a checksum or format check fails. */
	int (*restore)(
		sluice_state_provider *p, const sluice_subtask_restore *r);
	/* Synchronous phase: freeze a consistent view into `*snap`. */
	int (*snapshot_sync)(
		sluice_state_provider *p,
		int64_t id,
		const sluice_checkpoint_options *opts,
		void **snap);
	/* Asynchronous phase (pool thread): write `snap` and free it, also on
	 * failure; handles may be NULL when there is no state of a kind. */
	int (*snapshot_async)(
		sluice_state_provider *p,
		void *snap,
		sluice_keyed_handle **keyed,
		sluice_opstate_handle **opstate);
	/* Drop a snapshot that will not be written. */
	void (*snapshot_discard)(sluice_state_provider *p, void *snap);
	void (*notify_complete)(sluice_state_provider *p, int64_t id);
	void (*notify_aborted)(sluice_state_provider *p, int64_t id);
	void (*free)(sluice_state_provider *p);
	/* Optional, NULL = operators get SPLIT lists only: replace list
	 * `name` kept with redistribution `mode` (SPLIT or UNION, spec
	 * §7.3); SLUICE_EINVALID when it exists with another mode. */
	int (*opstate_set_mode)(
		sluice_state_provider *p,
		const char *name,
		sluice_opstate_mode mode,
		const sluice_slice *elems,
		size_t count);
	/* Optional, NULL = snapshot_async: as snapshot_async, and the
	 * keyed state may come back as an incremental handle (a RocksDB
	 * native snapshot) in `*incremental` instead of `*keyed`. */
	int (*snapshot_async_incremental)(
		sluice_state_provider *p,
		void *snap,
		sluice_keyed_handle **keyed,
		sluice_opstate_handle **opstate,
		sluice_incremental_handle **incremental);
};

#define SLUICE_STATE_PROVIDER_VERSION 1

/* What a provider is made for. */
typedef struct sluice_state_provider_info {
	const char *uid; /* borrowed for the call */
	int32_t subtask;
	int32_t parallelism;
	int32_t max_parallelism;
	int32_t key_group_start; /* inclusive, spec §7.1 */
	int32_t key_group_end;   /* inclusive */
	sluice_clock *clock;
} sluice_state_provider_info;

typedef int (*sluice_state_provider_factory)(
	sluice_state_provider **out,
	const sluice_state_provider_info *info,
	void *arg);

/*
 * State streams of every checkpoint go through `f` (copied; its ctx must
 * outlive the job); without one they stay in memory.  Only before start.
 * Returns 0 or SLUICE_EINVALID.
 */
SLUICE_EXTERN(int)
sluice_job_set_stream_factory(sluice_job *job, const sluice_stream_factory *f);

/*
 * Use `factory` (called with `arg`) for every subtask's provider; the
 * default is sluice_mem_state_provider_new.  Only before start.
 */
SLUICE_EXTERN(int)
sluice_job_set_state_provider(
	sluice_job *job, sluice_state_provider_factory factory, void *arg);

/*
 * The in-memory provider: keyed values in a hash map, operator lists in
 * a small table.  The sync phase copies everything (cost proportional to
 * state size); the async phase writes keyed state key group by key group
 * with an offset per group, and operator state one element per offset,
 * through the job's stream factory (options.streams) or, without one,
 * memory streams (INLINE handles).  Every handle carries an xxh3-64
 * checksum that restore verifies; FILE / RELATIVE handles are read through
 * the restore's storage (without one: SLUICE_EUNSUPPORTED).  `arg` is
 * unused.
 */
SLUICE_EXTERN(int)
sluice_mem_state_provider_new(
	sluice_state_provider **out,
	const sluice_state_provider_info *info,
	void *arg);

/*
 * Key-group helpers of spec §7.1, thin wrappers over the state layer's
 * (sluice_keygroup_* in sluice/state.h, the one mechanism): key group =
 * (sluice__hash32 & 0x7fffffff) % max_p.
 */
SLUICE_EXTERN(int32_t) sluice_key_group(sluice_slice key, int32_t max_p);
SLUICE_EXTERN(int32_t)
sluice_key_group_subtask(int32_t key_group, int32_t p, int32_t max_p);
SLUICE_EXTERN(void)
sluice_key_group_range(
	int32_t subtask,
	int32_t p,
	int32_t max_p,
	int32_t *start,
	int32_t *end);
/* Flink's default max parallelism for parallelism `p`. */
SLUICE_EXTERN(int32_t) sluice_default_max_parallelism(int32_t p);

/* --- the keyed-backend state provider ------------------------------------
 */

/*
 * What sluice_keyed_state_provider_factory makes providers from: the keyed
 * backend options (backend name, TTL default, latency tracking, snapshot
 * compression) and the RocksDB options used when `keyed.backend` is
 * "rocksdb".  Parallelism, max parallelism, subtask and clock are taken
 * from each subtask's sluice_state_provider_info.  Strings are borrowed
 * (from the sluice_config when filled from one): keep them alive while the
 * job runs.
 */
typedef struct sluice_keyed_provider_config {
	int version; /* SLUICE_KEYED_PROVIDER_CONFIG_VERSION */
	sluice_keyed_options keyed;
	sluice_rocksdb_options rocksdb;
	/* execution.checkpointing.incremental: rocksdb checkpoints (not
	 * savepoints) are incremental native snapshots */
	int incremental;
} sluice_keyed_provider_config;

#define SLUICE_KEYED_PROVIDER_CONFIG_VERSION 1

/* Defaults: hashmap backend, Flink's RocksDB defaults. */
SLUICE_EXTERN(void)
sluice_keyed_provider_config_init(sluice_keyed_provider_config *c);

/*
 * Fill `c` from configuration (state.backend.type, table.exec.state.ttl,
 * state.latency-track.*, snapshot compression, state.backend.rocksdb.*;
 * see sluice_keyed_options_from_config and
 * sluice_rocksdb_options_from_config).  Returns 0 or the getters'
 * SLUICE_EINVALID.  `conf` must outlive the providers (borrowed strings).
 */
SLUICE_EXTERN(int)
sluice_keyed_provider_config_from_config(
	sluice_keyed_provider_config *c, const sluice_config *conf);

/*
 * A sluice_state_provider_factory over the real keyed backends: one
 * sluice_keyed_backend (hashmap or rocksdb) per subtask with its key-group
 * range; keyed value state through VALUE states named as the provider's
 * state names; operator list state through sluice_operator_state (lists
 * set by operators are SPLIT, or UNION through sluice_ctx_union_state_set;
 * restored UNION / BROADCAST state keeps its mode).
 *
 * Snapshot sync is the backend's copy-on-write sync phase plus a copy of
 * the operator lists; the async phase writes the canonical keyed format
 * and the operator stream through the job's stream factory (or memory
 * streams).  Restore keeps only this subtask's key groups and opens FILE /
 * RELATIVE handles through the restore's storage.  With `rocksdb` and
 * `incremental` set, checkpoints written through a stream factory are
 * incremental native snapshots (sluice_incremental_handle: new SST files
 * to the shared scope, earlier confirmed ones referenced), notify
 * complete / aborted move the backend's base, and restore takes
 * incremental handles (rescaling: merged and clipped to the range).
 * Savepoints and incremental off stay canonical, portable between the
 * backends.
 *
 * `arg`: a `const sluice_keyed_provider_config *` (NULL: hashmap with
 * defaults), borrowed for the job's life.  Errors: those of
 * sluice_keyed_backend_new (SLUICE_EINVALID, SLUICE_EIO for RocksDB),
 * SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int)
sluice_keyed_state_provider_factory(
	sluice_state_provider **out,
	const sluice_state_provider_info *info,
	void *arg);

#ifdef __cplusplus
}
#endif
#endif
