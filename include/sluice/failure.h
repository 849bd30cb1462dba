/*
 * Checkpoint failure reasons: Flink's CheckpointFailureReason as data.
 *
 * Each reason carries Flink's exact message, whether it is pre-flight
 * (raised on the coordinator before any task saw the checkpoint) and
 * whether it counts against execution.checkpointing.tolerable-failed-
 * checkpoints (Flink 2.x rules).  Legacy reasons (removed from Flink) are
 * kept so old logs can be explained; they are never raised and never
 * counted.
 *
 * Numbers are stable: never renumbered, never reused.
 * Threading: all functions are pure and safe from any thread.
 */
#ifndef SLUICE_FAILURE_H
#define SLUICE_FAILURE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sluice_failure_reason {
	SLUICE_CFR_NONE = 0,
	/* current (Flink 2.x, identical since ~1.17) */
	SLUICE_CFR_PERIODIC_SCHEDULER_SHUTDOWN = 1,
	SLUICE_CFR_TOO_MANY_CHECKPOINT_REQUESTS = 2,
	SLUICE_CFR_MINIMUM_TIME_BETWEEN_CHECKPOINTS = 3,
	SLUICE_CFR_NOT_ALL_REQUIRED_TASKS_RUNNING = 4,
	SLUICE_CFR_IO_EXCEPTION = 5,
	SLUICE_CFR_BLOCKING_OUTPUT_EXIST = 6,
	SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION = 7,
	SLUICE_CFR_CHANNEL_STATE_SHARED_STREAM_EXCEPTION = 8,
	SLUICE_CFR_CHECKPOINT_EXPIRED = 9,
	SLUICE_CFR_CHECKPOINT_SUBSUMED = 10,
	SLUICE_CFR_CHECKPOINT_DECLINED = 11,
	SLUICE_CFR_CHECKPOINT_DECLINED_TASK_NOT_READY = 12,
	SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING = 13,
	SLUICE_CFR_CHECKPOINT_DECLINED_SUBSUMED = 14,
	SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER = 15,
	SLUICE_CFR_CHECKPOINT_DECLINED_INPUT_END_OF_STREAM = 16,
	SLUICE_CFR_CHECKPOINT_COORDINATOR_SHUTDOWN = 17,
	SLUICE_CFR_CHECKPOINT_COORDINATOR_SUSPEND = 18,
	SLUICE_CFR_JOB_FAILOVER_REGION = 19,
	SLUICE_CFR_TASK_FAILURE = 20,
	SLUICE_CFR_TASK_CHECKPOINT_FAILURE = 21,
	SLUICE_CFR_UNKNOWN_TASK_CHECKPOINT_NOTIFICATION_FAILURE = 22,
	SLUICE_CFR_FINALIZE_CHECKPOINT_FAILURE = 23,
	SLUICE_CFR_TRIGGER_CHECKPOINT_FAILURE = 24,
	/* legacy (removed from Flink; for reading old logs only) */
	SLUICE_CFR_LEGACY_ALREADY_QUEUED = 101,
	SLUICE_CFR_LEGACY_TOO_MANY_CONCURRENT_CHECKPOINTS = 102,
	SLUICE_CFR_LEGACY_EXCEPTION = 103,
	SLUICE_CFR_LEGACY_CHECKPOINT_DECLINED_TASK_NOT_CHECKPOINTING = 104,
	SLUICE_CFR_LEGACY_CHECKPOINT_DECLINED_ALIGNMENT_LIMIT_EXCEEDED = 105,
	SLUICE_CFR_LEGACY_JOB_FAILURE = 106
} sluice_failure_reason;

#define SLUICE_CFR_CURRENT_COUNT 24
#define SLUICE_CFR_LEGACY_COUNT  6

typedef struct sluice_failure_info {
	sluice_failure_reason reason;
	const char *name;    /* Flink's enum name, e.g. "CHECKPOINT_EXPIRED" */
	const char *message; /* Flink's exact message */
	int pre_flight;      /* 1 if raised before tasks saw the checkpoint */
	int counted;         /* 1 if it counts against tolerable failures */
	int legacy;          /* 1 if removed from current Flink */
	const char *where;   /* where sluice raises it (legacy: where it was) */
	const char *meaning; /* what it means for the operator */
	const char *check;   /* what to check or do about it */
} sluice_failure_info;

/* Info for a reason; NULL for values that are not reasons.  Static. */
SLUICE_EXTERN(const sluice_failure_info *)
sluice_failure_info_get(sluice_failure_reason reason);

/* The i-th reason in table order (current first, then legacy); NULL past the
 * end. */
SLUICE_EXTERN(const sluice_failure_info *) sluice_failure_info_at(size_t i);

/* Look a reason up by its enum name (case-insensitive). */
SLUICE_EXTERN(const sluice_failure_info *)
sluice_failure_info_by_name(const char *name);

/*
 * Find the reason whose message appears in `text` (a log line, an exception
 * message).  Tolerates missing trailing dots, surrounding text, the
 * "<text> Failure reason: <message>" form and case differences.  Prefers
 * the longest matching message, so IO_EXCEPTION wins over the legacy
 * EXCEPTION it extends.  NULL when nothing matches.
 */
SLUICE_EXTERN(const sluice_failure_info *)
sluice_failure_info_match(const char *text);

/*
 * The configuration keys an operator should look at for `reason`, as a
 * NULL-terminated static list (never NULL; empty when none applies).
 */
SLUICE_EXTERN(const char *const *)
sluice_failure_keys(sluice_failure_reason reason);

/*
 * Format a checkpoint exception message as Flink does: the reason message
 * alone, or "<text> Failure reason: <message>" when `text` is not NULL.
 * Writes at most `size` bytes including the NUL; returns the length the
 * full message needs (like snprintf).
 */
SLUICE_EXTERN(int)
sluice_failure_format(
	char *out, size_t size, sluice_failure_reason reason, const char *text);

#ifdef __cplusplus
}
#endif
#endif
