/*
 * The checkpoint failure reason table (spec §1.2-1.3).  One static table
 * holds names, Flink's exact messages, the pre-flight flag and whether a
 * reason counts against tolerable-failed-checkpoints; everything else
 * (doctor, the failure manager, docs/operations.md) reads it.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sluice/failure.h"

#define R(sym, pre, cnt, leg, msg, where, meaning, check)                   \
	{                                                                   \
		SLUICE_CFR_##sym, #sym, msg, pre, cnt, leg, where, meaning, \
			check                                               \
	}

static const sluice_failure_info table[] = {
	R(PERIODIC_SCHEDULER_SHUTDOWN,
	  1,
	  0,
	  0,
	  "Periodic checkpoint scheduler is shut down.",
	  "coordinator, when a periodic request is picked or its pending "
	  "checkpoint is created while periodic scheduling is stopped",
	  "A periodic checkpoint was due but the scheduler had already been "
	  "stopped, usually because the job is leaving RUNNING.",
	  "Harmless during cancel, stop or failover.  If it repeats while the "
	  "job should be running, look for the job status change just before."),
	R(TOO_MANY_CHECKPOINT_REQUESTS,
	  1,
	  0,
	  0,
	  "The maximum number of queued checkpoint requests exceeded",
	  "coordinator request queue, when more than 1000 requests wait",
	  "Over 1000 checkpoint requests are queued.  Checkpoints are not "
	  "finishing as fast as they are requested; usually the job is "
	  "backpressured so barriers travel slowly.",
	  "Find the backpressured operator (slow sink, skewed key); raise "
	  "execution.checkpointing.interval or min-pause; consider unaligned "
	  "checkpoints or aligned-checkpoint-timeout."),
	R(MINIMUM_TIME_BETWEEN_CHECKPOINTS,
	  1,
	  0,
	  0,
	  "The minimum time between checkpoints is still pending. "
	  "Checkpoint will be triggered after the minimum time.",
	  "coordinator, when a periodic request comes before min-pause has "
	  "passed since the last completion",
	  "A periodic checkpoint was skipped because "
	  "execution.checkpointing.min-pause has not yet passed since the last "
	  "completed checkpoint; the timer is re-armed for the remaining time.",
	  "Expected with min-pause set.  If checkpoints take longer than the "
	  "interval, this is the pause doing its job; otherwise lower "
	  "min-pause."),
	R(NOT_ALL_REQUIRED_TASKS_RUNNING,
	  1,
	  0,
	  0,
	  "Not all required tasks are currently running.",
	  "coordinator checkpoint plan, when a task is not yet running or has "
	  "finished and checkpoints after finish are disabled",
	  "Some task the checkpoint needs is not running: still deploying, "
	  "restarting, or already finished.  Before Flink 1.13 a job with a "
	  "finished source (e.g. a dimension-table join) could not checkpoint "
	  "and might then fail to restore.",
	  "Check which tasks are not RUNNING; keep "
	  "execution.checkpointing.checkpoints-after-tasks-finish on (the "
	  "default) so finished tasks do not block checkpoints."),
	R(IO_EXCEPTION,
	  1,
	  1,
	  0,
	  "An Exception occurred while triggering the checkpoint. "
	  "IO-problem detected.",
	  "coordinator trigger, when an I/O error is in the cause chain "
	  "(e.g. creating chk-<n> in checkpoint storage)",
	  "Triggering failed on an I/O error, usually the checkpoint storage "
	  "(disk full, permissions, HDFS/OBS unreachable).  Counts against "
	  "tolerable-failed-checkpoints.",
	  "Check the checkpoint directory: exists, writable, space left, "
	  "credentials and endpoint for s3/obs/hdfs; the cause follows in the "
	  "log."),
	R(BLOCKING_OUTPUT_EXIST,
	  1,
	  0,
	  0,
	  "Blocking output edge exists in running tasks.",
	  "coordinator checkpoint plan, when a running task has a blocking "
	  "(batch) output",
	  "A running task writes a blocking (batch-style) result, which cannot "
	  "take part in a streaming checkpoint.",
	  "Use pipelined exchanges for jobs that checkpoint, or run the job in "
	  "batch mode without checkpoints."),
	R(CHECKPOINT_ASYNC_EXCEPTION,
	  0,
	  1,
	  0,
	  "Asynchronous task checkpoint failed.",
	  "task, when the asynchronous phase of a snapshot fails (writing "
	  "state "
	  "files, uploading)",
	  "A task's asynchronous snapshot part failed, usually writing state "
	  "to "
	  "checkpoint storage.  Counts against tolerable-failed-checkpoints.",
	  "Look for the task's cause: storage I/O errors, timeouts or quota on "
	  "the checkpoint storage, local disk for RocksDB."),
	R(CHANNEL_STATE_SHARED_STREAM_EXCEPTION,
	  0,
	  0,
	  0,
	  "The checkpoint was aborted due to exception of other subtasks "
	  "sharing the ChannelState file.",
	  "task, unaligned checkpoints, when another subtask writing the same "
	  "channel-state file failed",
	  "With unaligned checkpoints several subtasks share one channel-state "
	  "file; another subtask's write failed, so this one was aborted too.",
	  "Find the first failing subtask's error; set "
	  "execution.checkpointing.unaligned.max-subtasks-per-channel-state-"
	  "file to 1 to isolate subtasks."),
	R(CHECKPOINT_EXPIRED,
	  0,
	  1,
	  0,
	  "Checkpoint expired before completing.",
	  "coordinator, when execution.checkpointing.timeout passes while the "
	  "checkpoint is pending",
	  "The checkpoint did not complete within "
	  "execution.checkpointing.timeout (default 10 min).  Counts against "
	  "tolerable-failed-checkpoints.",
	  "Usually backpressure delays barriers or state is large/slow to "
	  "upload.  Find slow or backpressured tasks; raise the timeout (about "
	  "30 min is common advice); enable incremental checkpoints; consider "
	  "unaligned checkpoints."),
	R(CHECKPOINT_SUBSUMED,
	  0,
	  0,
	  0,
	  "Checkpoint has been subsumed.",
	  "coordinator, when a newer checkpoint completes while this one is "
	  "pending",
	  "A newer checkpoint completed first, so this older pending one is no "
	  "longer needed.",
	  "Harmless in itself; frequent occurrences mean checkpoints overlap "
	  "(max-concurrent-checkpoints > 1) and some take much longer than "
	  "others."),
	R(CHECKPOINT_DECLINED,
	  0,
	  1,
	  0,
	  "Checkpoint was declined.",
	  "task, generic decline with a cause",
	  "A task declined the checkpoint.  Counts against "
	  "tolerable-failed-checkpoints.",
	  "The task's cause in the log says why."),
	R(CHECKPOINT_DECLINED_TASK_NOT_READY,
	  0,
	  0,
	  0,
	  "Checkpoint was declined (tasks not ready)",
	  "task, when a barrier or trigger arrives before the task runs (e.g. "
	  "still restoring)",
	  "A task was not yet running (deploying or restoring state) when the "
	  "checkpoint reached it.",
	  "Normal just after start or restart; if it persists, restore is slow "
	  "(large state, slow storage)."),
	R(CHECKPOINT_DECLINED_TASK_CLOSING,
	  0,
	  0,
	  0,
	  "Checkpoint was declined (task is closing)",
	  "task, when the trigger arrives while the task is finishing or "
	  "closing",
	  "The task was finishing or closing when the checkpoint reached it.",
	  "Normal near the end of bounded input or during cancel."),
	R(CHECKPOINT_DECLINED_SUBSUMED,
	  0,
	  0,
	  0,
	  "Checkpoint was canceled because a barrier from newer checkpoint "
	  "was received.",
	  "task barrier alignment, when a newer barrier arrives before "
	  "alignment of this one finished",
	  "While a task was aligning barriers for this checkpoint a barrier of "
	  "a newer checkpoint arrived, so this one was canceled.",
	  "Alignment is slower than the checkpoint interval: look for "
	  "backpressure or data skew; raise the interval or use unaligned "
	  "checkpoints."),
	R(CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER,
	  0,
	  0,
	  0,
	  "Task received cancellation from one of its inputs",
	  "task, when a cancellation marker for the checkpoint arrives on an "
	  "input",
	  "An upstream task canceled this checkpoint and told its downstream "
	  "tasks.",
	  "Find the upstream task's own failure reason for the same "
	  "checkpoint."),
	R(CHECKPOINT_DECLINED_INPUT_END_OF_STREAM,
	  0,
	  0,
	  0,
	  "Checkpoint was declined because one input stream is finished",
	  "task barrier handler, when an input ends while the checkpoint is "
	  "pending and checkpoints after finish are disabled",
	  "An input of the task reached its end while the checkpoint was being "
	  "aligned.",
	  "Expected with bounded inputs; keep "
	  "execution.checkpointing.checkpoints-after-tasks-finish on."),
	R(CHECKPOINT_COORDINATOR_SHUTDOWN,
	  0,
	  0,
	  0,
	  "CheckpointCoordinator shutdown.",
	  "coordinator shutdown, for queued requests and pending checkpoints",
	  "The job reached a terminal state (or lost leadership); queued and "
	  "pending checkpoints were dropped.",
	  "Harmless when the job is ending; otherwise see why the job ended."),
	R(CHECKPOINT_COORDINATOR_SUSPEND,
	  0,
	  0,
	  0,
	  "Checkpoint Coordinator is suspending.",
	  "coordinator, when the scheduler stops because the job left RUNNING",
	  "The job left RUNNING (failing, restarting, suspending); queued and "
	  "pending checkpoints were aborted.",
	  "Look for the job failure or restart that happened at the same "
	  "time."),
	R(JOB_FAILOVER_REGION,
	  0,
	  0,
	  0,
	  "FailoverRegion is restarting.",
	  "coordinator, when a failover restarts tasks",
	  "Tasks are being restarted after a failure, so pending checkpoints "
	  "were aborted.",
	  "Find the task failure that triggered the failover."),
	R(TASK_FAILURE,
	  0,
	  0,
	  0,
	  "Task has failed.",
	  "coordinator, when a task attempt fails: pending checkpoints it has "
	  "not acknowledged are aborted",
	  "A task failed while the checkpoint was pending.",
	  "Find the task's exception; the job restarts per restart-strategy."),
	R(TASK_CHECKPOINT_FAILURE,
	  0,
	  0,
	  0,
	  "Task local checkpoint failure.",
	  "task executor, when a trigger reaches an unknown task or the "
	  "task's trigger call fails",
	  "The checkpoint could not be started in a task (unknown task, or "
	  "the trigger itself failed).",
	  "Usually a race with a restart; if it repeats, the task's log has "
	  "the cause."),
	R(UNKNOWN_TASK_CHECKPOINT_NOTIFICATION_FAILURE,
	  0,
	  0,
	  0,
	  "Unknown task for the checkpoint to notify.",
	  "task executor, when a complete/abort notification names an unknown "
	  "task",
	  "A checkpoint notification reached a task that no longer exists.",
	  "Harmless race with a restart or finish."),
	R(FINALIZE_CHECKPOINT_FAILURE,
	  0,
	  1,
	  0,
	  "Failure to finalize checkpoint.",
	  "coordinator completion, when writing _metadata or adding to the "
	  "completed store fails",
	  "All tasks acknowledged but the checkpoint could not be committed: "
	  "writing _metadata or registering the completed checkpoint failed.  "
	  "Counts against tolerable-failed-checkpoints.",
	  "Check the checkpoint storage (space, permissions, availability) at "
	  "the chk-<n> directory named in the log."),
	R(TRIGGER_CHECKPOINT_FAILURE,
	  0,
	  0,
	  0,
	  "Trigger checkpoint failure.",
	  "coordinator trigger, when a non-I/O error occurs while triggering",
	  "Triggering the checkpoint failed for a reason other than I/O (the "
	  "cause is in the log).",
	  "Read the cause that follows in the log."),
	R(LEGACY_ALREADY_QUEUED,
	  1,
	  0,
	  1,
	  "Another checkpoint request has already been queued.",
	  "Flink <= 1.9 coordinator, one queued request at a time",
	  "Old Flink allowed one queued request; a second was refused.",
	  "Only in old logs; current versions queue up to 1000 requests."),
	R(LEGACY_TOO_MANY_CONCURRENT_CHECKPOINTS,
	  1,
	  0,
	  1,
	  "The maximum number of concurrent checkpoints is exceeded",
	  "Flink <= 1.13 coordinator",
	  "Old Flink refused a trigger when max-concurrent-checkpoints "
	  "checkpoints were already in flight.",
	  "Only in old logs; now requests wait in the queue instead."),
	R(LEGACY_EXCEPTION,
	  1,
	  0,
	  1,
	  "An Exception occurred while triggering the checkpoint.",
	  "Flink <= 1.13 coordinator trigger; split since into IO_EXCEPTION "
	  "and TRIGGER_CHECKPOINT_FAILURE",
	  "Triggering the checkpoint failed with an exception (old Flink did "
	  "not separate I/O problems from others).",
	  "Read the cause that follows in the log; I/O causes point at the "
	  "checkpoint storage."),
	R(LEGACY_CHECKPOINT_DECLINED_TASK_NOT_CHECKPOINTING,
	  0,
	  0,
	  1,
	  "Task does not support checkpointing",
	  "Flink <= 1.13 task",
	  "A task declined because it could not take part in checkpoints.",
	  "Only in old logs."),
	R(LEGACY_CHECKPOINT_DECLINED_ALIGNMENT_LIMIT_EXCEEDED,
	  0,
	  0,
	  1,
	  "The checkpoint alignment phase needed to buffer more than the "
	  "configured maximum bytes",
	  "Flink <= 1.11 task alignment with a byte limit",
	  "Alignment buffered more data than the old max-alignment option "
	  "allowed.",
	  "Only in old logs; reduce backpressure or use unaligned "
	  "checkpoints."),
	R(LEGACY_JOB_FAILURE,
	  0,
	  0,
	  1,
	  "The job has failed.",
	  "Flink <= 1.14 coordinator",
	  "The job failed while the checkpoint "
	  "was pending.",
	  "Find the job failure's cause."),
};

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))

const sluice_failure_info *sluice_failure_info_get(sluice_failure_reason reason)
{
	size_t i;

	for (i = 0; i < TABLE_LEN; i++)
		if (table[i].reason == reason)
			return &table[i];
	return NULL;
}

const sluice_failure_info *sluice_failure_info_at(size_t i)
{
	return i < TABLE_LEN ? &table[i] : NULL;
}

const sluice_failure_info *sluice_failure_info_by_name(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < TABLE_LEN; i++) {
		const char *n = table[i].name;

		if (!strcasecmp(n, name))
			return &table[i];
		/* legacy names are also known without our LEGACY_ prefix */
		if (table[i].legacy && !strcasecmp(n + 7, name))
			return &table[i];
	}
	return NULL;
}

/* Case-insensitive search for `needle[0..n)` in `hay`. */
static int contains_ci(const char *hay, const char *needle, size_t n)
{
	size_t hl = strlen(hay), i, j;

	if (n == 0 || n > hl)
		return 0;
	for (i = 0; i + n <= hl; i++) {
		for (j = 0; j < n; j++)
			if (tolower((unsigned char)hay[i + j]) !=
			    tolower((unsigned char)needle[j]))
				break;
		if (j == n)
			return 1;
	}
	return 0;
}

/*
 * Score how well `text` names message `m`: the whole message (trailing dots
 * optional) scores 2n+1, a leading run of its sentences (the seed quotes
 * only the first sentence of some) scores 2n, where n is the matched length.
 */
static size_t match_score(const char *text, const char *m)
{
	size_t n = strlen(m), i;

	while (n > 0 && m[n - 1] == '.')
		n--;
	if (contains_ci(text, m, n))
		return 2 * n + 1;
	for (i = n; i > 0; i--) {
		if (m[i - 1] == '.' && m[i] == ' ' &&
		    contains_ci(text, m, i - 1))
			return 2 * (i - 1);
	}
	return 0;
}

const sluice_failure_info *sluice_failure_info_match(const char *text)
{
	const sluice_failure_info *best = NULL;
	size_t best_score = 0, i;

	if (!text)
		return NULL;
	for (i = 0; i < TABLE_LEN; i++) {
		size_t score = match_score(text, table[i].message);

		if (score > best_score) {
			best = &table[i];
			best_score = score;
		}
	}
	return best;
}

#define CK        "execution.checkpointing."
#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct {
	sluice_failure_reason reason;
	const char *const *keys;
} reason_keys[] = {
	{SLUICE_CFR_TOO_MANY_CHECKPOINT_REQUESTS,
	 KEYS(CK "interval",
	      CK "min-pause",
	      CK "timeout",
	      CK "unaligned.enabled",
	      CK "aligned-checkpoint-timeout")},
	{SLUICE_CFR_MINIMUM_TIME_BETWEEN_CHECKPOINTS,
	 KEYS(CK "min-pause", CK "interval")},
	{SLUICE_CFR_NOT_ALL_REQUIRED_TASKS_RUNNING,
	 KEYS(CK "checkpoints-after-tasks-finish")},
	{SLUICE_CFR_IO_EXCEPTION, KEYS(CK "dir",
				       CK "savepoint-dir",
				       CK "storage",
				       CK "tolerable-failed-checkpoints")},
	{SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION,
	 KEYS(CK "dir",
	      CK "tolerable-failed-checkpoints",
	      "state.backend.type",
	      "state.backend.rocksdb.localdir")},
	{SLUICE_CFR_CHANNEL_STATE_SHARED_STREAM_EXCEPTION,
	 KEYS(CK "unaligned.max-subtasks-per-channel-state-file", CK "dir")},
	{SLUICE_CFR_CHECKPOINT_EXPIRED,
	 KEYS(CK "timeout",
	      CK "interval",
	      CK "incremental",
	      CK "unaligned.enabled",
	      CK "aligned-checkpoint-timeout",
	      CK "tolerable-failed-checkpoints")},
	{SLUICE_CFR_CHECKPOINT_SUBSUMED,
	 KEYS(CK "max-concurrent-checkpoints", CK "interval")},
	{SLUICE_CFR_CHECKPOINT_DECLINED,
	 KEYS(CK "tolerable-failed-checkpoints")},
	{SLUICE_CFR_CHECKPOINT_DECLINED_SUBSUMED,
	 KEYS(CK "interval",
	      CK "unaligned.enabled",
	      CK "aligned-checkpoint-timeout")},
	{SLUICE_CFR_CHECKPOINT_DECLINED_INPUT_END_OF_STREAM,
	 KEYS(CK "checkpoints-after-tasks-finish")},
	{SLUICE_CFR_TASK_FAILURE, KEYS("restart-strategy.type")},
	{SLUICE_CFR_JOB_FAILOVER_REGION, KEYS("restart-strategy.type")},
	{SLUICE_CFR_FINALIZE_CHECKPOINT_FAILURE,
	 KEYS(CK "dir", CK "num-retained", CK "tolerable-failed-checkpoints")},
	{SLUICE_CFR_LEGACY_EXCEPTION, KEYS(CK "dir", CK "storage")},
	{SLUICE_CFR_LEGACY_CHECKPOINT_DECLINED_ALIGNMENT_LIMIT_EXCEEDED,
	 KEYS(CK "unaligned.enabled", CK "aligned-checkpoint-timeout")},
};

const char *const *sluice_failure_keys(sluice_failure_reason reason)
{
	static const char *const none[] = {NULL};
	size_t i;

	for (i = 0; i < sizeof(reason_keys) / sizeof(reason_keys[0]); i++)
		if (reason_keys[i].reason == reason)
			return reason_keys[i].keys;
	return none;
}

int sluice_failure_format(
	char *out, size_t size, sluice_failure_reason reason, const char *text)
{
	const sluice_failure_info *fi = sluice_failure_info_get(reason);
	const char *msg =
		fi ? fi->message : "Unknown checkpoint failure reason";

	if (text)
		return snprintf(out, size, "%s Failure reason: %s", text, msg);
	return snprintf(out, size, "%s", msg);
}
