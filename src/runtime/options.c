/*
 * The bridge from configuration to runtime options: which checkpointing
 * mode the barrier handlers use, whether checkpoints continue after tasks
 * finish, whether tasks wait for a final checkpoint, and whether
 * checkpoints may be unaligned (with how many subtasks share one
 * channel-state file), and the network buffers (size, exclusive credits
 * per channel, floating buffers per input).  Kept apart from job.c so the
 * runtime core does not depend on the configuration module.
 */
#include "sluice/config.h"
#include "sluice/job.h"
#include "util/error.h"

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

#define NET "taskmanager.network.memory."

int sluice_job_options_from_config(
	sluice_job_options *opts, const struct sluice_config *conf)
{
	uint64_t segment;
	int32_t exclusive, floating;

	SLUICE_ERRCHECK(sluice_config_get_memory(
		conf, "taskmanager.memory.segment-size", &segment));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, NET "buffers-per-channel", &exclusive));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, NET "floating-buffers-per-gate", &floating));
	if (exclusive < 0 || floating < 0 || (exclusive == 0 && floating == 0))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"%sbuffers-per-channel (%d) and "
			"%sfloating-buffers-per-gate (%d): a channel needs at "
			"least one buffer, exclusive or floating",
			NET, (int)exclusive, NET, (int)floating);
	opts->buffer_size = (size_t)segment;
	opts->channel_credits = exclusive > 0 ? exclusive : -1;
	opts->floating_buffers = floating;
	return 0;
}
