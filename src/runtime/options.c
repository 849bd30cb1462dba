/*
 * The bridge from configuration to runtime options: which checkpointing
 * mode the barrier handlers use, whether checkpoints continue after tasks
 * finish, whether tasks wait for a final checkpoint, and whether
 * checkpoints may be unaligned (with how many subtasks share one
 * channel-state file).  Kept apart from
 * job.c so the runtime core does not depend on the configuration module.
 */
#include "sluice/config.h"
#include "sluice/job.h"

int sluice_job_options_from_settings(
	sluice_job_options *opts, const struct sluice_checkpoint_settings *s)
{
	opts->mode = s->mode == SLUICE_AT_LEAST_ONCE ? SLUICE_JOB_AT_LEAST_ONCE
						     : SLUICE_JOB_EXACTLY_ONCE;
	opts->checkpoints_after_tasks_finish =
		s->checkpoints_after_tasks_finish ? 1 : -1;
	opts->final_checkpoint =
		s->enabled && s->checkpoints_after_tasks_finish ? 1 : 0;
	opts->unaligned =
		s->unaligned && s->enabled && s->mode == SLUICE_EXACTLY_ONCE;
	if (s->max_subtasks_per_channel_state_file > 0)
		opts->max_subtasks_per_channel_state_file =
			s->max_subtasks_per_channel_state_file;
	return 0;
}
