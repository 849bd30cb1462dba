/*
 * The checkpoint coordinator (spec §2, §1.4, §1.5, §12).
 *
 * It decides when checkpoints and savepoints are triggered, tracks them
 * from trigger to completion or abort, counts failures and keeps the
 * statistics.  It talks to the tasks and to checkpoint storage only
 * through the two injected vtables below, reads time only through the
 * injected sluice_clock and draws the first periodic delay from a seeded
 * generator, so it runs deterministically under a manual clock.  The
 * behaviour, rule by rule, is written down in docs/checkpointing.md.
 *
 * Driving it: the owner calls sluice__coord_poll() whenever the deadline
 * it returned has passed (periodic trigger, re-armed timer, checkpoint
 * timeouts fire only inside poll).  Tasks call sluice__coord_ack() /
 * sluice__coord_decline() from any thread.
 *
 * Threading and lock order: all state is guarded by one internal mutex.
 * Calls into the task vtable (trigger, notify_complete, notify_aborted,
 * fail_job) and request callbacks are queued while the mutex is held and
 * made after it is released, on the thread whose call caused them, in the
 * order they were queued across threads (a thread waits for the batches
 * queued before its own); they may call back into the coordinator, and
 * must not wait for another thread that may be calling into it.  The task
 * `state` callback and storage `init_location` are called without the mutex.
 * Storage `finalize`, `add_completed`, `discard` and `release` are called with
 * the mutex held and must not call into the coordinator (storage is a lower
 * layer; its locks are leaves to ours).  Statistics have their own leaf
 * mutex.  sluice__coord_free() must be called once no other thread uses
 * the coordinator.
 */
#ifndef SLUICE_CHECKPOINT_COORDINATOR_H
#define SLUICE_CHECKPOINT_COORDINATOR_H

#include "checkpoint/decider.h"
#include "checkpoint/failure_manager.h"
#include "checkpoint/pending.h"
#include "checkpoint/stats.h"
#include "sluice/clock.h"
#include "sluice/config.h"

/* Barrier alignment requested for a checkpoint (Flink's alignment type). */
typedef enum sluice__alignment {
	SLUICE_ALIGN_ALIGNED = 0,
	SLUICE_ALIGN_UNALIGNED = 1,     /* unaligned enabled, no timeout */
	SLUICE_ALIGN_AT_LEAST_ONCE = 2, /* barriers tracked, not aligned */
	SLUICE_ALIGN_FORCED_ALIGNED = 3 /* savepoints when unaligned is on */
} sluice__alignment;

/* Options sent with a trigger (spec §4.1). */
typedef struct sluice__trigger_options {
	sluice__ckpt_kind kind;
	sluice__alignment alignment;
	int64_t aligned_timeout_ms; /* 0 = none; aligned -> unaligned switch */
	/* Savepoint target directory, NULL = the default (or a checkpoint).
	 * Valid only during the trigger call.  Tasks reach the location of
	 * checkpoint <id> through storage by id: the coordinator's storage
	 * token may be discarded (abort) while a task still writes. */
	const char *target;
} sluice__trigger_options;

/*
 * Task side, implemented by the runtime.  `trigger`, `notify_*` return 0,
 * SLUICE_ENOTFOUND when the attempt is unknown, another negative code on
 * failure.  A failing trigger declines the checkpoint with
 * TASK_CHECKPOINT_FAILURE ("TaskManager received a checkpoint request for
 * unknown task <attempt>." for ENOTFOUND); a notification for an unknown
 * task is logged as UNKNOWN_TASK_CHECKPOINT_NOTIFICATION_FAILURE.
 */
typedef struct sluice__coord_tasks {
	int version; /* 1 */
	void *ctx;
	sluice__task_state_fn state;
	int (*trigger)(
		void *ctx,
		const sluice__task_ref *task,
		int64_t id,
		int64_t timestamp_ms,
		const sluice__trigger_options *options);
	int (*notify_complete)(
		void *ctx,
		const sluice__task_ref *task,
		int64_t id,
		int64_t timestamp_ms,
		int64_t last_subsumed_id);
	int (*notify_aborted)(
		void *ctx,
		const sluice__task_ref *task,
		int64_t id,
		int64_t latest_completed_id,
		int64_t timestamp_ms);
	/* Fail the job; `task` is the failing attempt or NULL (job level). */
	void (*fail_job)(
		void *ctx, const char *message, const sluice__task_ref *task);
} sluice__coord_tasks;

/*
 * Storage side.  `location` is an opaque token owned by storage.  Exactly
 * one of add_completed (completed checkpoint: the store takes it), release
 * (completed savepoint: data stays, token freed) or discard (aborted:
 * delete what was written, free the token) ends a location.
 */
typedef struct sluice__coord_storage {
	int version; /* 1 */
	void *ctx;
	/* Create the location of checkpoint `id` or of a savepoint (into
	 * `target`, NULL = default dir).  SLUICE_EIO for I/O problems. */
	int (*init_location)(
		void *ctx,
		int64_t id,
		int savepoint,
		const char *target,
		void **location);
	/* Write `_metadata` from the acks in `p`; `*external_path` (allocated
	 * with sluice__malloc, may stay NULL) is where it lives.  Return
	 * SLUICE_EUNSUPPORTED when an operator with partially finished
	 * subtasks uses state that cannot be checkpointed then (the abort
	 * reason is CHECKPOINT_DECLINED_TASK_CLOSING instead of
	 * FINALIZE_CHECKPOINT_FAILURE). */
	int (*finalize)(
		void *ctx,
		void *location,
		const sluice__pending *p,
		char **external_path);
	/* Add to the completed store (retention); `*last_subsumed_id` = id of
	 * the newest checkpoint dropped and discarded, else -1. */
	int (*add_completed)(
		void *ctx,
		int64_t id,
		void *location,
		const char *external_path,
		int64_t *last_subsumed_id);
	/* Discard state: of an aborted checkpoint (`location` may be NULL
	 * when it was never initialised) or of a rejected ack (`location`
	 * NULL).  The snapshot structs stay with the caller. */
	void (*discard)(
		void *ctx,
		int64_t id,
		void *location,
		sluice__subtask_snapshot *const *acks,
		size_t n_acks);
	/* Optional: a savepoint completed; forget the location token. */
	void (*release)(void *ctx, void *location);
	/* Optional: register the shared state of an ack with the shared-state
	 * registry.  Called for every ack carrying a snapshot, before its
	 * checkpoint's status is looked at (also for late and unknown acks),
	 * except when the checkpoint is a known savepoint (spec §2.5). */
	void (*register_shared)(
		void *ctx,
		int64_t id,
		const sluice__subtask_snapshot *snapshot);
} sluice__coord_storage;

/* Outcome of one checkpoint request, delivered once to its callback. */
struct sluice__ckpt_result {
	int64_t id;                   /* -1 when no id was assigned */
	sluice_failure_reason reason; /* SLUICE_CFR_NONE on success */
	const char *message;          /* failure message; NULL on success */
	const char *external_path;    /* on success; may be NULL */
	int savepoint;
};

typedef struct sluice__coord_options {
	const sluice_checkpoint_settings *settings; /* copied */
	const char *job_id;                         /* copied */
	const sluice__coord_vertex *vertices;       /* deep-copied */
	int32_t n_vertices;
	sluice_clock *clock; /* borrowed; outlives the coordinator */
	uint64_t seed;       /* first periodic delay */
	const sluice__coord_tasks *tasks;     /* copied */
	const sluice__coord_storage *storage; /* copied */
	size_t history_size;                  /* 0 = 10 */
	/*
	 * Optional: called (without the lock) when the next deadline moved
	 * earlier than the one sluice__coord_poll() last returned, e.g. a new
	 * pending checkpoint's timeout or a started scheduler, so a thread
	 * sleeping until that deadline wakes up and polls.
	 */
	void (*wakeup)(void *ctx);
	void *wakeup_ctx;
} sluice__coord_options;

typedef struct sluice__coord sluice__coord;

/*
 * Create a coordinator.  Normalises the settings (§2.1: min-pause capped
 * at one year, interval raised to min-pause, disabled = INT64_MAX) and
 * validates them: SLUICE_EINVALID with a message for interval or timeout
 * < 10 ms, negative min-pause, max-concurrent < 1, negative tolerable
 * failures, or "maxConcurrentCheckpoints can't be > 1 if
 * UnalignedCheckpoints enabled".  SLUICE_ENOMEM.
 */
int sluice__coord_new(sluice__coord **out, const sluice__coord_options *opts);
/* Free (NULL-safe).  Pending checkpoints are dropped without callbacks:
 * call sluice__coord_shutdown() first to abort them properly. */
void sluice__coord_free(sluice__coord *c);

/*
 * Start periodic checkpoints: first after a delay uniform in [min-pause,
 * interval], then every interval.  Errors: "Checkpoint coordinator is shut
 * down" / "Can not start checkpoint scheduler, if no periodic
 * checkpointing is configured" (SLUICE_EINVALID).
 */
int sluice__coord_start_scheduler(sluice__coord *c);
/* Stop periodic checkpoints; abort queued and pending ones with
 * CHECKPOINT_COORDINATOR_SUSPEND. */
void sluice__coord_stop_scheduler(sluice__coord *c);
/* Shut down for good: abort queued and pending ones with
 * CHECKPOINT_COORDINATOR_SHUTDOWN; later requests fail the same way. */
void sluice__coord_shutdown(sluice__coord *c);

/*
 * Fire what is due (periodic trigger, checkpoint timeouts).  Returns the
 * next deadline on the clock's monotonic time in ms, INT64_MAX for none.
 */
int64_t sluice__coord_poll(sluice__coord *c);

/*
 * Request a checkpoint (user-triggered: not periodic, not forced) or a
 * savepoint (forced iff unaligned checkpoints are disabled; `sync` = stop-
 * with-savepoint; `target` NULL = default dir).  `done` (may be NULL) is
 * called exactly once with the outcome, possibly before this returns.
 * Returns 0 or SLUICE_ENOMEM (then `done` is not called).
 */
int sluice__coord_trigger_checkpoint(
	sluice__coord *c, sluice__ckpt_done_fn done, void *arg);
int sluice__coord_trigger_savepoint(
	sluice__coord *c,
	const char *target,
	int sync,
	sluice__ckpt_done_fn done,
	void *arg);

/*
 * A task acknowledges checkpoint `id` with its snapshot (ownership moves to
 * the coordinator in every case; NULL = no state).  State of unknown,
 * late or rejected acks is discarded through storage.
 */
void sluice__coord_ack(
	sluice__coord *c,
	const sluice__task_ref *task,
	int64_t id,
	sluice__subtask_snapshot *snapshot);
/* A task declines checkpoint `id`: the checkpoint aborts with `reason`
 * and message "<text> Failure reason: <reason message>" (or the reason
 * message alone when `text` is NULL); a TM-side failure. */
void sluice__coord_decline(
	sluice__coord *c,
	const sluice__task_ref *task,
	int64_t id,
	sluice_failure_reason reason,
	const char *text);
/* A task attempt failed: pending checkpoints waiting for it abort with
 * TASK_FAILURE. */
void sluice__coord_task_failed(sluice__coord *c, const sluice__task_ref *task);
/* (Region) failover: every pending checkpoint aborts with
 * JOB_FAILOVER_REGION. */
void sluice__coord_failover(sluice__coord *c);

/* The job restored checkpoint/savepoint `id`: the next id is at least
 * id + 1 (exactly id + 1 for a savepoint); counted in the statistics. */
void sluice__coord_restored(
	sluice__coord *c,
	int64_t id,
	int is_savepoint,
	const char *external_path);

/* Statistics (borrowed; lives as long as the coordinator). */
sluice__stats *sluice__coord_stats(sluice__coord *c);

/* Introspection (thread-safe snapshots of the current values). */
typedef struct sluice__coord_info {
	size_t queued;
	size_t pending;
	int64_t next_id;
	int64_t latest_completed_id; /* -1: none */
	int32_t failure_counter;
	int periodic;          /* scheduler running */
	int64_t next_periodic; /* mono ms, INT64_MAX when off */
	int64_t interval_ms;   /* normalised base interval */
	int64_t min_pause_ms;  /* normalised */
} sluice__coord_info;
void sluice__coord_info_get(sluice__coord *c, sluice__coord_info *out);

#endif
