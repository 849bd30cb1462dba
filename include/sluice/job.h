/*
 * The job API: build a dataflow graph of sources, one- and two-input
 * operators and sinks, connect them with forward, rebalance, broadcast or
 * key-by edges, and run it.  Each vertex runs as `parallelism` subtasks,
 * one thread each; records travel between subtasks in buffers over bounded
 * channels with credit-based backpressure.  Checkpoints are driven from
 * outside (the checkpoint coordinator, see sluice/sys/runtime.h): barriers
 * flow with the records, operators snapshot their state, and a failed job
 * can be restarted from the state handles of a completed checkpoint.
 *
 * Records: a key, a value and a timestamp, all borrowed by callbacks for
 * the duration of the call.  A key-by edge sends a record to the subtask
 * owning the key group of its key: key group = (sluice__hash32(key) &
 * 0x7fffffff) % max_parallelism, subtask = key_group * parallelism /
 * max_parallelism (sluice_keygroup_* in sluice/state.h).
 *
 * Operators implement sluice_operator.  Every callback receives the
 * subtask's sluice_ctx; a negative return fails the task (and the job).
 * Sources implement `poll`, which emits a few records per call and reports
 * whether more will follow; they are replayable by keeping their position
 * in operator state (sluice_ctx_opstate_*) from `snapshot_state` and
 * reading it back in `initialize_state`.
 *
 * Threading: build, start, stop and free the job from one control thread.
 * sluice_job_wait, status and failure queries and the checkpoint entry
 * points (trigger / notify, sys/runtime.h) may be called from any thread
 * while the job is started, but not concurrently with start, stop or
 * free; sluice_job_wakeup from any thread until free, also while a
 * sluice_run restarts the job (a stopped job ignores it).  Operator callbacks
 * of one subtask run on that subtask's thread, one at a time; callbacks of
 * different subtasks run concurrently.  sluice_ctx functions may only be called
 * from the callback that received the ctx.
 */
#ifndef SLUICE_JOB_H
#define SLUICE_JOB_H

#include "common.h"
#include "clock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_job sluice_job;
typedef struct sluice_ctx sluice_ctx;

/* A record.  Inside callbacks all bytes are borrowed for the call only. */
typedef struct sluice_record {
	sluice_slice key;
	sluice_slice value;
	int64_t timestamp; /* milliseconds; user-defined meaning */
} sluice_record;

/* What a source's poll reports about the data that follows. */
typedef enum sluice_source_status {
	SLUICE_SOURCE_MORE = 0, /* call poll again soon */
	SLUICE_SOURCE_IDLE = 1, /* nothing now; poll after a mail, a timer
				   or sluice_job_wakeup() */
	SLUICE_SOURCE_END = 2   /* no more records, ever */
} sluice_source_status;

/*
 * Operator callbacks; every member may be NULL (nothing to do).  `input`
 * is 0 for one-input operators and 0 or 1 for two-input operators.
 * Return 0 or a negative code (set the last error to explain it); any
 * failure fails the task.
 */
typedef struct sluice_operator {
	int version; /* SLUICE_OPERATOR_VERSION */
	/* Restore: state of the checkpoint being restored is readable
	 * through sluice_ctx_opstate_get and the keyed functions;
	 * `restored` is 1 when restoring, 0 on a fresh start.  Runs before
	 * open. */
	int (*initialize_state)(sluice_ctx *ctx, int restored);
	int (*open)(sluice_ctx *ctx);
	/* Non-sources: one record from input `input`. */
	int (*process)(sluice_ctx *ctx, int input, const sluice_record *rec);
	/* Sources: emit some records, set *status. */
	int (*poll)(sluice_ctx *ctx, sluice_source_status *status);
	/* Synchronous part of a checkpoint: write operator state (and any
	 * keyed state not yet written) for checkpoint `id`. */
	int (*snapshot_state)(sluice_ctx *ctx, int64_t id);
	/* Checkpoint `id` completed / was aborted. */
	int (*notify_complete)(sluice_ctx *ctx, int64_t id);
	int (*notify_aborted)(sluice_ctx *ctx, int64_t id);
	/* A processing-time timer registered for `when_ms` fired. */
	int (*on_timer)(sluice_ctx *ctx, int64_t when_ms);
	/* No more records on input `input`: all its channels ended (end of
	 * data with final_checkpoint, else end of partition).  Checkpoints
	 * may still follow. */
	int (*end_input)(sluice_ctx *ctx, int input);
	/* Last call; also after failures (initialize_state's included:
	 * free what it set up so far) and cancellation.  `failed` is 1
	 * when the task did not finish normally. */
	void (*close)(sluice_ctx *ctx, int failed);
} sluice_operator;

#define SLUICE_OPERATOR_VERSION 1

typedef enum sluice_vertex_kind {
	SLUICE_VERTEX_SOURCE = 0,
	SLUICE_VERTEX_OPERATOR = 1,  /* one input */
	SLUICE_VERTEX_OPERATOR2 = 2, /* two inputs */
	SLUICE_VERTEX_SINK = 3       /* one input, no outputs */
} sluice_vertex_kind;

/* Description of a vertex; strings are copied. */
typedef struct sluice_vertex_spec {
	sluice_vertex_kind kind;
	const char *uid;  /* stable id matching state on restore; unique */
	const char *name; /* for messages; NULL = uid */
	int32_t parallelism;
	int32_t max_parallelism;   /* 0 = Flink's default for parallelism */
	const sluice_operator *op; /* borrowed; must outlive the job */
	void *arg;                 /* user pointer, sluice_ctx_arg() */
} sluice_vertex_spec;

typedef enum sluice_partitioning {
	SLUICE_EDGE_FORWARD = 0, /* subtask i → subtask i; equal parallelism */
	SLUICE_EDGE_REBALANCE = 1, /* round robin over all consumers */
	SLUICE_EDGE_BROADCAST = 2, /* every consumer gets every record */
	SLUICE_EDGE_KEY_BY = 3     /* by key group of the record key */
} sluice_partitioning;

typedef enum sluice_checkpointing_mode {
	SLUICE_JOB_EXACTLY_ONCE = 0, /* aligned barriers */
	SLUICE_JOB_AT_LEAST_ONCE = 1 /* tracked barriers, nothing blocked */
} sluice_checkpointing_mode;

/* Runtime options; zero fields take the documented default. */
typedef struct sluice_job_options {
	int version;         /* SLUICE_JOB_OPTIONS_VERSION */
	sluice_clock *clock; /* borrowed; NULL = system clock */
	size_t buffer_size;  /* bytes per network buffer; 32 KiB */
	/* exclusive buffers in flight per channel; 4.  -1: none (each
	 * buffer takes a floating one: floating_buffers must be > 0) */
	int32_t channel_credits;
	int32_t snapshot_threads; /* async snapshot pool size; 2 */
	sluice_checkpointing_mode mode;
	/* execution.checkpointing.checkpoints-after-tasks-finish:
	 * 0 = default (enabled), 1 = enabled, -1 = disabled. */
	int checkpoints_after_tasks_finish;
	/*
	 * 1: wait for a final checkpoint (spec §2.8).  A task whose input
	 * ended (a source returning SLUICE_SOURCE_END, or every input
	 * delivering end of data) calls end_input, tells downstream, keeps
	 * running and finishes only after a checkpoint it took after the end
	 * completed, so two-phase-commit sinks commit everything.  The
	 * coordinator must keep triggering checkpoints.  Ignored when
	 * checkpoints after tasks finish are disabled.  0 = finish at once.
	 */
	int final_checkpoint;
	/*
	 * execution.checkpointing.unaligned.enabled (effective: EXACTLY_ONCE
	 * only).  1: checkpoints whose options ask for it are unaligned
	 * (docs/runtime.md "Unaligned checkpoints"); tasks also stop taking
	 * input while an output channel has no credit, so barriers and mails
	 * are served under backpressure.  0 = aligned only.
	 */
	int unaligned;
	/* execution.checkpointing.unaligned.max-subtasks-per-channel-state-
	 * file: subtasks writing one channel-state file; 0 = 5. */
	int32_t max_subtasks_per_channel_state_file;
	/* floating buffers per input of a subtask, shared by that input's
	 * channels on top of their exclusive credits (Flink's
	 * floating-buffers-per-gate); 0 = none */
	int32_t floating_buffers;
} sluice_job_options;

#define SLUICE_JOB_OPTIONS_VERSION 1

struct sluice_checkpoint_settings;
/*
 * Fill the checkpoint-related runtime options from configuration settings
 * (include/sluice/config.h, sluice_config_checkpoint_settings):
 * execution.checkpointing.mode → mode; checkpoints-after-tasks-finish →
 * checkpoints_after_tasks_finish (1 / -1) and, when checkpointing is
 * enabled, final_checkpoint; unaligned.enabled (effective) → unaligned;
 * unaligned.max-subtasks-per-channel-state-file →
 * max_subtasks_per_channel_state_file.  Other fields are left as they
 * are.  Returns 0.
 */
SLUICE_EXTERN(int)
sluice_job_options_from_settings(
	sluice_job_options *opts, const struct sluice_checkpoint_settings *s);

struct sluice_config;
/*
 * The network keys: taskmanager.memory.segment-size → buffer_size;
 * taskmanager.network.memory.buffers-per-channel → channel_credits (0 →
 * -1, no exclusive buffers); floating-buffers-per-gate →
 * floating_buffers.  SLUICE_EINVALID naming the keys when both counts
 * are 0 (no buffer could ever be sent) or a value does not parse.
 */
SLUICE_EXTERN(int)
sluice_job_options_from_config(
	sluice_job_options *opts, const struct sluice_config *conf);

/*
 * Create an empty job named `name` (copied).  `opts` may be NULL.
 * Returns 0, SLUICE_ENOMEM or SLUICE_EINVALID (bad option value).
 * Free with sluice_job_free().
 */
SLUICE_EXTERN(int)
sluice_job_new(
	sluice_job **out, const char *name, const sluice_job_options *opts);

/* Stop (as sluice_job_stop) and free the job.  NULL-safe. */
SLUICE_EXTERN(void) sluice_job_free(sluice_job *job);

/*
 * Add a vertex; its id (0, 1, ...) is stored in `*out_id`.  Fails with
 * SLUICE_EINVALID for a missing or duplicate uid, parallelism outside
 * (0, 32768], max parallelism smaller than parallelism, a missing poll on
 * a source or process on a non-source, or when the job was started.
 */
SLUICE_EXTERN(int)
sluice_job_add(sluice_job *job, int *out_id, const sluice_vertex_spec *spec);

/*
 * Connect vertex `from` to input `input` (0 or 1) of vertex `to`.
 * SLUICE_EINVALID for unknown vertices, a sink as producer, a source as
 * consumer, an input index the consumer does not have, or a forward edge
 * between different parallelisms.
 */
SLUICE_EXTERN(int)
sluice_job_connect(
	sluice_job *job,
	int from,
	int to,
	int input,
	sluice_partitioning partitioning);

/*
 * Check the graph: every non-source input connected, every non-sink
 * vertex has an output, no cycles.  sluice_job_start validates too.
 * Returns 0 or SLUICE_EINVALID naming the vertex.
 */
SLUICE_EXTERN(int) sluice_job_validate(sluice_job *job);

typedef enum sluice_job_state {
	SLUICE_JOB_STATE_CREATED = 0,
	SLUICE_JOB_STATE_RUNNING = 1,
	SLUICE_JOB_STATE_FINISHED = 2, /* every task finished */
	SLUICE_JOB_STATE_FAILED = 3,   /* a task failed; all tasks stopped */
	SLUICE_JOB_STATE_CANCELED = 4
} sluice_job_state;

/* Current status; safe from any thread. */
SLUICE_EXTERN(sluice_job_state) sluice_job_state_get(sluice_job *job);

/*
 * Wait until every task reached a terminal state or `timeout_ms` of real
 * time passed (< 0: no limit).  Returns 0 or SLUICE_ETIMEOUT.
 */
SLUICE_EXTERN(int) sluice_job_wait(sluice_job *job, int64_t timeout_ms);

/*
 * Stop a started job: cancel every task still running, join all task
 * threads and the snapshot pool, free channels and state providers.  The
 * graph stays, so the job can be started again (a restart).  No-op when
 * not started.  The message of a task failure (if any) stays readable
 * through sluice_job_failure() until the next start.
 */
SLUICE_EXTERN(void) sluice_job_stop(sluice_job *job);

/* Message of the first task failure of the current run, or NULL. */
SLUICE_EXTERN(const char *) sluice_job_failure(sluice_job *job);

/* Wake idle sources (SLUICE_SOURCE_IDLE) so they poll again. */
SLUICE_EXTERN(void) sluice_job_wakeup(sluice_job *job);

/* --- operator context (callbacks only) --------------------------------- */

/*
 * Emit a record to every outgoing edge of the vertex.  Bytes are copied.
 * May block while downstream has no credit (backpressure).  Returns 0,
 * SLUICE_ECANCELED when the job is stopping, SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int) sluice_ctx_emit(sluice_ctx *ctx, const sluice_record *rec);

SLUICE_EXTERN(int32_t) sluice_ctx_subtask(const sluice_ctx *ctx);
SLUICE_EXTERN(int32_t) sluice_ctx_parallelism(const sluice_ctx *ctx);
SLUICE_EXTERN(int32_t) sluice_ctx_max_parallelism(const sluice_ctx *ctx);
/* The vertex's uid and user pointer (sluice_vertex_spec.arg). */
SLUICE_EXTERN(const char *) sluice_ctx_uid(const sluice_ctx *ctx);
SLUICE_EXTERN(void *) sluice_ctx_arg(const sluice_ctx *ctx);
/* A per-subtask user pointer (NULL until set). */
SLUICE_EXTERN(void *) sluice_ctx_local(const sluice_ctx *ctx);
SLUICE_EXTERN(void) sluice_ctx_set_local(sluice_ctx *ctx, void *local);

/* Processing time: wall milliseconds of the job's clock. */
SLUICE_EXTERN(int64_t) sluice_ctx_now_ms(sluice_ctx *ctx);
/*
 * Register a processing-time timer: on_timer(when_ms) runs on the
 * subtask's thread once the clock reached `when_ms`.  Timers are not part
 * of checkpoints.  Returns 0 or SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int) sluice_ctx_timer_register(sluice_ctx *ctx, int64_t when_ms);

/*
 * Keyed value state of the current key (the key of the record being
 * processed; sluice_ctx_set_key changes it, e.g. in timers).  `state` names
 * the state.  get: `*out` borrows the value until the next state call of
 * this subtask; SLUICE_ENOTFOUND when absent.
 */
SLUICE_EXTERN(int) sluice_ctx_set_key(sluice_ctx *ctx, sluice_slice key);
SLUICE_EXTERN(int)
sluice_ctx_value_get(sluice_ctx *ctx, const char *state, sluice_slice *out);
SLUICE_EXTERN(int)
sluice_ctx_value_put(sluice_ctx *ctx, const char *state, sluice_slice value);
SLUICE_EXTERN(int) sluice_ctx_value_remove(sluice_ctx *ctx, const char *state);
/* int64 helpers over the above (8 bytes big-endian). */
SLUICE_EXTERN(int)
sluice_ctx_value_get_i64(sluice_ctx *ctx, const char *state, int64_t *out);
SLUICE_EXTERN(int)
sluice_ctx_value_put_i64(sluice_ctx *ctx, const char *state, int64_t value);

/*
 * Operator list state (split-distributed on rescale).  get: `*elems`
 * borrows an array of `*count` slices until the next state call;
 * count 0 when absent.  set replaces the list (elements copied).
 */
SLUICE_EXTERN(int)
sluice_ctx_opstate_get(
	sluice_ctx *ctx,
	const char *name,
	const sluice_slice **elems,
	size_t *count);
SLUICE_EXTERN(int)
sluice_ctx_opstate_set(
	sluice_ctx *ctx,
	const char *name,
	const sluice_slice *elems,
	size_t count);
/*
 * Union list state (Flink's union list state, spec §7.3): replace list
 * `name` (elements copied); on restore every subtask receives the
 * elements of all old subtasks.  Read it with sluice_ctx_opstate_get.
 * SLUICE_EINVALID when `name` is a split list (sluice_ctx_opstate_set
 * keeps a union list union); SLUICE_EUNSUPPORTED when the job's state
 * provider keeps split lists only (the in-memory provider).
 */
SLUICE_EXTERN(int)
sluice_ctx_union_state_set(
	sluice_ctx *ctx,
	const char *name,
	const sluice_slice *elems,
	size_t count);

/* --- running a checkpointed job from configuration (src/runtime/run.c) -- */

/*
 * sluice_run drives one job the way a Flink JobManager does: from a
 * sluice_config it builds the checkpoint settings, the job's checkpoint
 * storage, the checkpoint coordinator (on its own thread, sleeping until
 * the coordinator's next deadline and woken when it moves earlier) and the
 * restart strategy (restart-strategy.*; Flink's default: exponential-delay
 * when checkpointing is enabled, none otherwise), then starts the job and
 * keeps it running until it finishes, fails for good or is stopped.
 *
 * Job id: 32 lowercase hex characters derived from the job name only, so
 * a restarted process finds its own checkpoints: the first 16 are the
 * xxh3-64 of the name, the last 16 sluice__fmix64 of that value xor
 * 0x9e3779b97f4a7c15.
 *
 * Restore at start: execution.state-recovery.path (a checkpoint or
 * savepoint directory or its `_metadata`), else with
 * sluice_run_options.restore_latest the newest `chk-<n>` under the job's
 * checkpoint directory that verifies (newer broken ones are skipped with a
 * warning naming the problem), else a fresh start.  State is matched to
 * vertices by uid; state of an unknown uid fails the start with Flink's
 * message unless execution.state-recovery.ignore-unclaimed-state.  Claim
 * mode (execution.state-recovery.claim-mode): CLAIM hands the snapshot to
 * the job (subsumed like its own checkpoints, so a restored checkpoint is
 * deleted once newer ones are retained); NO_CLAIM and LEGACY keep it
 * unowned (never deleted; shared files it created are protected in the
 * shared-state registry).  Checkpoint ids continue after the restored id.
 *
 * Failover: when a task fails, pending checkpoints abort with
 * TASK_FAILURE, the job stops, and the restart strategy decides: give up
 * (the run ends FAILED with the task's message) or wait its backoff on the
 * run's clock and restart every task from the newest retained checkpoint
 * that verifies (the restored snapshot counts; none: a fresh start).
 *
 * End: a finished job ends FINISHED (with final_checkpoint set from the
 * configuration, tasks wait for a checkpoint after their end of data, so
 * two-phase-commit sinks commit everything; it is triggered as soon as
 * every task reached its end of data, not at the next periodic trigger);
 * sluice_run_cancel ends it CANCELED; stop-with-savepoint ends it
 * FINISHED.  Retained checkpoints are then kept or deleted as
 * execution.checkpointing.externalized-checkpoint-retention says for that
 * job status.
 *
 * Threading: one thread starts, waits for, cancels and frees a run; the
 * savepoint and statistics functions may be called from any thread while
 * the run exists.  The job (borrowed) must not be used by anyone else
 * while the run exists.  Operator callbacks run on task threads as usual.
 */
/*
 * The job id of a job named `name`: 32 lowercase hex digits (like a Flink
 * JobID), xxh3-64 of the name followed by its fmix64 with a fixed salt, so
 * every run of the same job finds the same checkpoint directory.  `out`
 * receives 33 bytes including the NUL.  Pure; any thread.
 */
SLUICE_EXTERN(void) sluice_job_id_of(const char *name, char out[33]);

typedef struct sluice_run sluice_run;
struct sluice_config;

typedef struct sluice_run_options {
	int version;         /* SLUICE_RUN_OPTIONS_VERSION */
	sluice_clock *clock; /* borrowed; NULL = system clock */
	/* 1: without execution.state-recovery.path, restore the newest
	 * verified checkpoint under the job's checkpoint directory. */
	int restore_latest;
	/* Seed of the first periodic delay and of restart jitter; 0 =
	 * derived from the job id. */
	uint64_t seed;
} sluice_run_options;

#define SLUICE_RUN_OPTIONS_VERSION 1

typedef struct sluice_run_result {
	sluice_job_state state; /* FINISHED, FAILED or CANCELED */
	int32_t restarts;       /* automatic restarts after failures */
	int64_t restored_id;    /* checkpoint restored at start, -1: none */
	char message[512];      /* FAILED: why (the task's message) */
} sluice_run_result;

/*
 * Start running `job` (built, not started; borrowed until
 * sluice_run_free) with configuration `conf` (read during the call only;
 * validate it first) and `opts` (may be NULL).  Applies the checkpointing
 * mode and final-checkpoint options to the job and sets its stream
 * factory to the run's checkpoint storage.  Returns 0, SLUICE_EINVALID
 * (configuration, graph, restore: unclaimed state, max parallelism),
 * SLUICE_ENOTFOUND / SLUICE_ECORRUPT (execution.state-recovery.path
 * missing or damaged), SLUICE_EEXISTS (`restore_latest` of a job whose
 * last run finished: its job result record `<job dir>/_job_result` says
 * so and nothing is started), SLUICE_EIO, SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int)
sluice_run_start(
	sluice_run **out,
	sluice_job *job,
	const struct sluice_config *conf,
	const sluice_run_options *opts);

/*
 * Wait until the run ended or `timeout_ms` of real time passed (< 0: no
 * limit).  `out` (may be NULL) receives the result once ended.  Returns 0
 * or SLUICE_ETIMEOUT.
 */
SLUICE_EXTERN(int)
sluice_run_wait(sluice_run *run, int64_t timeout_ms, sluice_run_result *out);

/* Cancel a running run (it ends CANCELED); no-op once ended. */
SLUICE_EXTERN(void) sluice_run_cancel(sluice_run *run);

/* Cancel if still running, wait for the end and free.  NULL-safe. */
SLUICE_EXTERN(void) sluice_run_free(sluice_run *run);

/* Current state of the run (RUNNING while restarting); any thread. */
SLUICE_EXTERN(sluice_job_state) sluice_run_state(sluice_run *run);

/* Automatic restarts so far; any thread. */
SLUICE_EXTERN(int32_t) sluice_run_restarts(sluice_run *run);

/* The checkpoint or savepoint id restored when the run started, -1 when
 * it started without state (known once sluice_run_start returned); any
 * thread. */
SLUICE_EXTERN(int64_t) sluice_run_restored_id(sluice_run *run);

/*
 * Take a savepoint (canonical format) into directory `target` (NULL =
 * execution.checkpointing.savepoint-dir) and wait for it.  Operators are
 * not notified of its completion.  `*path` (may be NULL) receives its
 * directory, freed with sluice_free_bytes.  Returns 0, SLUICE_EINVALID
 * (the run ended), or SLUICE_ERROR with the coordinator's failure message
 * (e.g. tasks not running).
 */
SLUICE_EXTERN(int)
sluice_job_trigger_savepoint(sluice_run *run, const char *target, char **path);

/*
 * Stop-with-savepoint: stop periodic checkpoints, take a synchronous
 * savepoint (operators are notified of it) and, when it completed, stop
 * the job; the run ends FINISHED.  On failure the run goes on and
 * periodic checkpoints resume.  Codes as sluice_job_trigger_savepoint.
 */
SLUICE_EXTERN(int)
sluice_job_stop_with_savepoint(
	sluice_run *run, const char *target, char **path);

/*
 * The coordinator's statistics as JSON, as Flink's REST API: the overview
 * (counts, summary, latest, history) for `id` < 0, or checkpoint `id`'s
 * details.  `*out` is freed with sluice_free_bytes.  Valid also after the
 * run ended (until freed).  SLUICE_ENOTFOUND, SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int)
sluice_run_stats_json(sluice_run *run, int64_t id, char **out);

/*
 * Convenience: start, wait without limit, free.  `out` (may be NULL)
 * receives the result.  Returns the code of sluice_run_start, else 0
 * (look at out->state for the outcome).
 */
SLUICE_EXTERN(int)
sluice_job_run(
	sluice_job *job,
	const struct sluice_config *conf,
	const sluice_run_options *opts,
	sluice_run_result *out);

#ifdef __cplusplus
}
#endif
#endif
