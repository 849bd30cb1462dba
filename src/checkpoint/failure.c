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

#define R(sym, pre, cnt, leg, msg)                         \
	{                                                  \
		SLUICE_CFR_##sym, #sym, msg, pre, cnt, leg \
	}

static const sluice_failure_info table[] = {
	R(PERIODIC_SCHEDULER_SHUTDOWN,
	  1,
	  0,
	  0,
	  "Periodic checkpoint scheduler is shut down."),
	R(TOO_MANY_CHECKPOINT_REQUESTS,
	  1,
	  0,
	  0,
	  "The maximum number of queued checkpoint requests exceeded"),
	R(MINIMUM_TIME_BETWEEN_CHECKPOINTS,
	  1,
	  0,
	  0,
	  "The minimum time between checkpoints is still pending. "
	  "Checkpoint will be triggered after the minimum time."),
	R(NOT_ALL_REQUIRED_TASKS_RUNNING,
	  1,
	  0,
	  0,
	  "Not all required tasks are currently running."),
	R(IO_EXCEPTION,
	  1,
	  1,
	  0,
	  "An Exception occurred while triggering the checkpoint. "
	  "IO-problem detected."),
	R(BLOCKING_OUTPUT_EXIST,
	  1,
	  0,
	  0,
	  "Blocking output edge exists in running tasks."),
	R(CHECKPOINT_ASYNC_EXCEPTION,
	  0,
	  1,
	  0,
	  "Asynchronous task checkpoint failed."),
	R(CHANNEL_STATE_SHARED_STREAM_EXCEPTION,
	  0,
	  0,
	  0,
	  "The checkpoint was aborted due to exception of other subtasks "
	  "sharing the ChannelState file."),
	R(CHECKPOINT_EXPIRED, 0, 1, 0, "Checkpoint expired before completing."),
	R(CHECKPOINT_SUBSUMED, 0, 0, 0, "Checkpoint has been subsumed."),
	R(CHECKPOINT_DECLINED, 0, 1, 0, "Checkpoint was declined."),
	R(CHECKPOINT_DECLINED_TASK_NOT_READY,
	  0,
	  0,
	  0,
	  "Checkpoint was declined (tasks not ready)"),
	R(CHECKPOINT_DECLINED_TASK_CLOSING,
	  0,
	  0,
	  0,
	  "Checkpoint was declined (task is closing)"),
	R(CHECKPOINT_DECLINED_SUBSUMED,
	  0,
	  0,
	  0,
	  "Checkpoint was canceled because a barrier from newer checkpoint "
	  "was received."),
	R(CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER,
	  0,
	  0,
	  0,
	  "Task received cancellation from one of its inputs"),
	R(CHECKPOINT_DECLINED_INPUT_END_OF_STREAM,
	  0,
	  0,
	  0,
	  "Checkpoint was declined because one input stream is finished"),
	R(CHECKPOINT_COORDINATOR_SHUTDOWN,
	  0,
	  0,
	  0,
	  "CheckpointCoordinator shutdown."),
	R(CHECKPOINT_COORDINATOR_SUSPEND,
	  0,
	  0,
	  0,
	  "Checkpoint Coordinator is suspending."),
	R(JOB_FAILOVER_REGION, 0, 0, 0, "FailoverRegion is restarting."),
	R(TASK_FAILURE, 0, 0, 0, "Task has failed."),
	R(TASK_CHECKPOINT_FAILURE, 0, 0, 0, "Task local checkpoint failure."),
	R(UNKNOWN_TASK_CHECKPOINT_NOTIFICATION_FAILURE,
	  0,
	  0,
	  0,
	  "Unknown task for the checkpoint to notify."),
	R(FINALIZE_CHECKPOINT_FAILURE,
	  0,
	  1,
	  0,
	  "Failure to finalize checkpoint."),
	R(TRIGGER_CHECKPOINT_FAILURE, 0, 0, 0, "Trigger checkpoint failure."),
	R(LEGACY_ALREADY_QUEUED,
	  1,
	  0,
	  1,
	  "Another checkpoint request has already been queued."),
	R(LEGACY_TOO_MANY_CONCURRENT_CHECKPOINTS,
	  1,
	  0,
	  1,
	  "The maximum number of concurrent checkpoints is exceeded"),
	R(LEGACY_EXCEPTION,
	  1,
	  0,
	  1,
	  "An Exception occurred while triggering the checkpoint."),
	R(LEGACY_CHECKPOINT_DECLINED_TASK_NOT_CHECKPOINTING,
	  0,
	  0,
	  1,
	  "Task does not support checkpointing"),
	R(LEGACY_CHECKPOINT_DECLINED_ALIGNMENT_LIMIT_EXCEEDED,
	  0,
	  0,
	  1,
	  "The checkpoint alignment phase needed to buffer more than the "
	  "configured maximum bytes"),
	R(LEGACY_JOB_FAILURE, 0, 0, 1, "The job has failed."),
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

const sluice_failure_info *sluice_failure_info_match(const char *text)
{
	const sluice_failure_info *best = NULL;
	size_t best_len = 0, i;

	if (!text)
		return NULL;
	for (i = 0; i < TABLE_LEN; i++) {
		const char *m = table[i].message;
		size_t n = strlen(m);

		/* the seed drops trailing dots: match without them */
		while (n > 0 && m[n - 1] == '.')
			n--;
		if (n > best_len && contains_ci(text, m, n)) {
			best = &table[i];
			best_len = n;
		}
	}
	return best;
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
