/*
 * A pending checkpoint: the plan it was triggered with (which subtasks to
 * trigger, wait for and commit to, which are finished), the
 * acknowledgements collected so far with their state handles, its storage
 * location and timeout deadline.  Also the task identities and the ack
 * payload shared with the runtime.
 *
 * Ack outcomes (spec §2.5): SUCCESS (first ack of a planned attempt),
 * DUPLICATE (already acked), UNKNOWN (the attempt is not in the plan: the
 * caller discards the state), DISCARDED (the checkpoint is disposed).
 *
 * Threading: none; the coordinator calls it under its lock.
 */
#ifndef SLUICE_CHECKPOINT_PENDING_H
#define SLUICE_CHECKPOINT_PENDING_H

#include "checkpoint/decider.h"
#include "sluice/failure.h"
#include "sluice/sys/stream.h"

/* One execution attempt of one subtask. */
typedef struct sluice__task_ref {
	int32_t vertex;   /* index into the coordinator's topology */
	int32_t subtask;  /* 0 .. parallelism-1 */
	uint64_t attempt; /* changes on every restart of the subtask */
} sluice__task_ref;

/*
 * What a subtask acknowledges: its state handles and the numbers the
 * statistics need.  Owned by whoever holds it; ack() takes ownership.
 */
typedef struct sluice__subtask_snapshot {
	sluice_keyed_handle **keyed; /* owned, n_keyed entries */
	size_t n_keyed;
	sluice_opstate_handle **opstate; /* owned, n_opstate entries */
	size_t n_opstate;
	/* owned, n_incremental entries (RocksDB native snapshots) */
	sluice_incremental_handle **incremental;
	size_t n_incremental;
	uint64_t state_size;        /* full size incl. reused shared state */
	uint64_t checkpointed_size; /* bytes persisted by this checkpoint */
	int64_t sync_ms;            /* synchronous phase duration */
	int64_t async_ms;           /* asynchronous phase duration */
	int64_t alignment_ns;       /* barrier alignment duration */
	int64_t start_delay_ns;     /* trigger -> first barrier */
	uint64_t processed_bytes;   /* processed during alignment */
	uint64_t persisted_bytes;   /* in-flight data persisted (unaligned) */
	int unaligned;
	/* channel-state reference (owned, sluice__malloc family): becomes
	 * the subtask's SLUICE_META_EXT_CHANNEL_STATE section; NULL none */
	uint8_t *channel_state;
	uint32_t channel_state_len;
} sluice__subtask_snapshot;

/*
 * A zeroed snapshot.  The snapshot and its `keyed` / `opstate` arrays must
 * come from the sluice__malloc family (sluice__subtask_snapshot_free
 * releases them with sluice__free).  SLUICE_ENOMEM.
 */
int sluice__subtask_snapshot_new(sluice__subtask_snapshot **out);

/* Frees the handles and the snapshot (NULL-safe). */
void sluice__subtask_snapshot_free(sluice__subtask_snapshot *s);

/*
 * The checkpoint plan (spec §2.4 step 2, §2.8).  `running` are the tasks to
 * wait for and to commit to; `trigger` is a subset of them.
 */
typedef struct sluice__plan {
	sluice__task_ref *trigger;
	size_t n_trigger;
	sluice__task_ref *running;
	size_t n_running;
	sluice__task_ref *finished; /* finished subtasks (no state) */
	size_t n_finished;
	int32_t *fully_finished; /* vertices whose subtasks all finished */
	size_t n_fully_finished;
} sluice__plan;

void sluice__plan_release(sluice__plan *p);

/* How a vertex consumes an upstream vertex. */
typedef enum sluice__edge_pattern {
	SLUICE_EDGE_ALL_TO_ALL = 0, /* rebalance, broadcast, key-by */
	SLUICE_EDGE_POINTWISE = 1   /* forward (and rescale) */
} sluice__edge_pattern;

typedef struct sluice__coord_input {
	int32_t vertex; /* upstream vertex index (< this vertex's index) */
	sluice__edge_pattern pattern;
} sluice__coord_input;

/* One job vertex.  Vertices are listed in topological order. */
typedef struct sluice__coord_vertex {
	const char *name;
	int32_t parallelism;
	const sluice__coord_input *inputs;
	size_t n_inputs;
} sluice__coord_vertex;

/* State of a subtask's current execution attempt (Flink's ExecutionState). */
typedef enum sluice__task_state {
	SLUICE_TASK_NO_ATTEMPT = 0, /* no current execution attempt */
	SLUICE_TASK_CREATED = 1,
	SLUICE_TASK_SCHEDULED = 2,
	SLUICE_TASK_DEPLOYING = 3,
	SLUICE_TASK_INITIALIZING = 4,
	SLUICE_TASK_RUNNING = 5,
	SLUICE_TASK_FINISHED = 6,
	SLUICE_TASK_CANCELING = 7,
	SLUICE_TASK_CANCELED = 8,
	SLUICE_TASK_FAILED = 9
} sluice__task_state;

/* Reads the state and attempt of one subtask (see coordinator.h). */
typedef sluice__task_state (*sluice__task_state_fn)(
	void *ctx, int32_t vertex, int32_t subtask, uint64_t *attempt);

/*
 * Compute the checkpoint plan (Flink's DefaultCheckpointPlanCalculator):
 * - some subtask FINISHED while checkpoints after finish are disabled:
 *   NOT_ALL_REQUIRED_TASKS_RUNNING "some tasks of job <job> has been
 *   finished, abort the checkpoint";
 * - a subtask without execution attempt: "task <name> (<i+1>/<p>) of job
 *   <job> is not being executed at the moment. Aborting checkpoint.";
 * - all running: trigger the sources (vertices without inputs), wait for
 *   and commit to every subtask;
 * - some finished (§2.8): vertices with every subtask finished are fully
 *   finished; a running subtask is waited for and committed to, and
 *   triggered when none of its predecessors runs (an ALL_TO_ALL input
 *   with any running upstream subtask, or a POINTWISE input whose upstream
 *   subtasks all run, rules out the whole vertex; otherwise its own
 *   POINTWISE producers decide);
 * - a trigger subtask still CREATED/SCHEDULED/DEPLOYING: "Checkpoint
 *   triggering task <name> (<i+1>/<p>) of job <job> has not being executed
 *   at the moment. Aborting checkpoint.".
 * Returns 0, SLUICE_ENOMEM, or SLUICE_EBUSY with the detail message in
 * `msg` (size `msg_size`) for NOT_ALL_REQUIRED_TASKS_RUNNING.
 */
int sluice__plan_compute(
	sluice__plan *out,
	const sluice__coord_vertex *vertices,
	int32_t n_vertices,
	sluice__task_state_fn state,
	void *ctx,
	int after_finish_enabled,
	const char *job,
	char *msg,
	size_t msg_size);

typedef enum sluice__ack_result {
	SLUICE_ACK_SUCCESS = 0,
	SLUICE_ACK_DUPLICATE = 1,
	SLUICE_ACK_UNKNOWN = 2,
	SLUICE_ACK_DISCARDED = 3
} sluice__ack_result;

typedef struct sluice__pending {
	int64_t id;
	int64_t trigger_ts_ms;    /* wall clock */
	int64_t created_mono_ms;  /* timeout counts from here */
	int64_t deadline_mono_ms; /* created + checkpoint timeout */
	int savepoint, sync_savepoint, forced, periodic;
	char *target; /* savepoint target dir or NULL; owned */
	sluice__plan plan;
	sluice__subtask_snapshot **acks; /* per running task; may be NULL */
	uint8_t *acked;                  /* per running task: 1 = acked */
	size_t n_acked;
	void *location; /* storage location, NULL until initialised */
	int location_ready;
	int disposed;
	sluice__ckpt_done_fn done;
	void *done_arg;
} sluice__pending;

/*
 * New pending checkpoint taking ownership of `plan` (emptied) and of the
 * request's target and callback.  SLUICE_ENOMEM (plan left untouched).
 */
int sluice__pending_new(
	sluice__pending **out,
	int64_t id,
	int64_t trigger_ts_ms,
	int64_t created_mono_ms,
	int64_t timeout_ms,
	sluice__ckpt_request *req,
	sluice__plan *plan);

/* Frees the pending checkpoint and any snapshot still held (NULL-safe). */
void sluice__pending_free(sluice__pending *p);

/*
 * Record an ack; `*snap` may be NULL (a subtask without state).  On
 * SUCCESS the pending takes `*snap` (set to NULL); on
 * the other results `*snap` stays with the caller.  `*index` is the
 * position of the task in plan.running (SUCCESS/DUPLICATE).
 */
sluice__ack_result sluice__pending_ack(
	sluice__pending *p,
	const sluice__task_ref *task,
	sluice__subtask_snapshot **snap,
	size_t *index);

/* Position of the task (vertex, subtask) in plan.running, or -1. */
long sluice__pending_find(
	const sluice__pending *p, int32_t vertex, int32_t subtask);

/* 1 when every planned task acknowledged. */
int sluice__pending_fully_acked(const sluice__pending *p);

#endif
