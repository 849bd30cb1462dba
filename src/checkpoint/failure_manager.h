/*
 * The checkpoint failure manager (spec §1.5): counts failed checkpoints
 * against execution.checkpointing.tolerable-failed-checkpoints and decides
 * when a failure fails the whole job.
 *
 * Rules:
 * - JM-side failure (pre-flight reason, or no task attempt attached):
 *   ignored for savepoints; checkpoints are checked against the counter.
 * - TM-side failure (a task declined): a synchronous savepoint
 *   (stop-with-savepoint) fails the whole job at once with the checkpoint
 *   exception's message; anything else is checked against the counter and
 *   on exceeding fails the job "due to task failure" of that attempt.
 * - Counter check: only when id == SLUICE_FM_UNKNOWN_ID or id > the last
 *   succeeded id.  A countable reason (sluice_failure_info.counted) adds 1
 *   when the id is unknown or seen for the first time (one checkpoint counts
 *   once however many tasks decline it), unless tolerable is unlimited
 *   (INT32_MAX).  When the counter is then > tolerable the counter and the
 *   set reset and the job fails with "Exceeded checkpoint tolerable failure
 *   threshold.".
 * - success(id) with id > last succeeded id: remember it, reset counter and
 *   set.
 * Log lines as Flink's: NOT_ALL_REQUIRED_TASKS_RUNNING at INFO, the rest at
 * WARN with the consecutive-failure count.
 *
 * Threading: none; the coordinator calls it under its lock.
 */
#ifndef SLUICE_CHECKPOINT_FAILURE_MANAGER_H
#define SLUICE_CHECKPOINT_FAILURE_MANAGER_H

#include "sluice/failure.h"

#define SLUICE_FM_UNKNOWN_ID (-1)
#define SLUICE_FM_UNLIMITED  INT32_MAX
#define SLUICE_FM_EXCEEDED   "Exceeded checkpoint tolerable failure threshold."

typedef struct sluice__failure_manager {
	int32_t tolerable;
	int32_t counter;
	int64_t last_succeeded_id; /* INT64_MIN until the first success */
	int64_t *counted;          /* ids counted since the last reset */
	size_t n_counted, cap_counted;
} sluice__failure_manager;

/* What the caller must do after a failure. */
typedef enum sluice__fm_verdict {
	SLUICE_FM_CONTINUE = 0, /* nothing: the job keeps running */
	SLUICE_FM_FAIL_JOB = 1, /* fail the job (message in the out param) */
	SLUICE_FM_FAIL_JOB_TASK = 2 /* fail the job due to the task's failure */
} sluice__fm_verdict;

typedef struct sluice__fm_failure {
	int64_t id; /* checkpoint id or SLUICE_FM_UNKNOWN_ID */
	sluice_failure_reason reason;
	const char *message; /* the checkpoint exception's message */
	int savepoint;       /* the failed request was a savepoint */
	int sync_savepoint;  /* ... a stop-with-savepoint */
	int tm_side;         /* a task attempt declined it */
	const char *job;     /* job id for the log line */
} sluice__fm_failure;

/*
 * Initialise with `tolerable` >= 0.  SLUICE_EINVALID with Flink's message
 * otherwise.
 */
int sluice__fm_init(sluice__failure_manager *fm, int32_t tolerable);
void sluice__fm_release(sluice__failure_manager *fm);

/*
 * Handle one failure.  Returns the verdict; `*fail_message` (borrowed:
 * static or f->message) is set when the job must fail.
 */
sluice__fm_verdict sluice__fm_on_failure(
	sluice__failure_manager *fm,
	const sluice__fm_failure *f,
	const char **fail_message);

/* A checkpoint completed. */
void sluice__fm_on_success(sluice__failure_manager *fm, int64_t id);

#endif
