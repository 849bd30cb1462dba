/*
 * Bridge from the configuration (sluice_checkpoint_settings, filled by
 * sluice_config_checkpoint_settings) to storage options.  Reads struct
 * fields only, so it does not depend on the configuration implementation.
 */
#include <string.h>

#include "sluice/config.h"
#include "sluice/sys/storage.h"
#include "util/error.h"

int sluice_storage_options_from_settings(
	sluice_storage_options *o, const sluice_checkpoint_settings *s)
{
	sluice_storage_options_init(o);
	o->checkpoint_dir = s->dir;
	o->savepoint_dir = s->savepoint_dir;
	o->inline_threshold = s->inline_threshold;
	o->write_buffer_size = s->write_buffer_size;
	o->create_subdir = s->create_subdir;
	if (s->storage && !strcmp(s->storage, "jobmanager")) {
		o->checkpoint_dir = NULL; /* everything inline, in memory */
		return 0;
	}
	if (s->storage && !strcmp(s->storage, "filesystem") && !s->dir)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"execution.checkpointing.storage: 'filesystem' needs "
			"execution.checkpointing.dir");
	if (s->storage && strcmp(s->storage, "filesystem") &&
	    strcmp(s->storage, "jobmanager"))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"execution.checkpointing.storage: unknown storage '%s' "
			"(use jobmanager or filesystem)",
			s->storage);
	return 0;
}
