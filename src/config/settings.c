/*
 * Checkpointing settings as the coordinator and the storage use them,
 * after Flink's normalisation (spec §2.1, §3.4):
 *  - enabled iff the interval is set and > 0; mode is AT_LEAST_ONCE when
 *    disabled, whatever was configured;
 *  - min-pause capped at one year; interval raised to min-pause;
 *  - unaligned is effective only when enabled and EXACTLY_ONCE;
 *  - an inline threshold above 1 MiB is replaced by the default (20 kb);
 *    effective write buffer = max(write buffer, inline threshold);
 *  - num-retained <= 0 is replaced by 1;
 *  - storage: the configured one, else filesystem when a directory is
 *    set, else jobmanager.
 */
#include <string.h>

#include "config/internal.h"
#include "util/error.h"

#define MS_YEAR     (365LL * 24 * 3600 * 1000)
#define INLINE_MAX  (1u << 20)
#define INLINE_DFLT (20u * 1024u)
#define KEY(x)      "execution.checkpointing." x

/* True when `key` has a value (set or default). */
static int is_set(const sluice_config *conf, const char *key)
{
	sluice_config_source src;
	const char *raw = NULL, *alias;

	return sluice_config_lookup(conf, key, &raw, &src, &alias) == 0 &&
	       raw != NULL;
}

static int durations(const sluice_config *conf, sluice_checkpoint_settings *s)
{
	int64_t interval = 0;

	if (is_set(conf, KEY("interval")))
		SLUICE_ERRCHECK(sluice_config_get_duration(
			conf, KEY("interval"), &interval));
	s->enabled = interval > 0;
	SLUICE_ERRCHECK(sluice_config_get_duration(
		conf, KEY("timeout"), &s->timeout_ms));
	SLUICE_ERRCHECK(sluice_config_get_duration(
		conf, KEY("min-pause"), &s->min_pause_ms));
	if (s->min_pause_ms > MS_YEAR)
		s->min_pause_ms = MS_YEAR;
	s->interval_ms = s->enabled ? interval : INT64_MAX;
	if (s->enabled && s->interval_ms < s->min_pause_ms)
		s->interval_ms = s->min_pause_ms;
	return sluice_config_get_duration(
		conf, KEY("aligned-checkpoint-timeout"),
		&s->aligned_timeout_ms);
}

static int behaviour(const sluice_config *conf, sluice_checkpoint_settings *s)
{
	int mode, retention;

	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, KEY("max-concurrent-checkpoints"), &s->max_concurrent));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, KEY("tolerable-failed-checkpoints"),
		&s->tolerable_failures));
	SLUICE_ERRCHECK(sluice_config_get_enum(conf, KEY("mode"), &mode));
	s->mode = s->enabled ? (sluice_checkpoint_mode)mode
			     : SLUICE_AT_LEAST_ONCE;
	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, KEY("unaligned.enabled"), &s->unaligned));
	s->unaligned =
		s->unaligned && s->enabled && s->mode == SLUICE_EXACTLY_ONCE;
	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, KEY("unaligned.forced"), &s->unaligned_forced));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, KEY("unaligned.max-subtasks-per-channel-state-file"),
		&s->max_subtasks_per_channel_state_file));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, KEY("num-retained"), &s->num_retained));
	if (s->num_retained <= 0)
		s->num_retained = 1;
	SLUICE_ERRCHECK(sluice_config_get_enum(
		conf, KEY("externalized-checkpoint-retention"), &retention));
	s->retention = (sluice_retention)retention;
	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, KEY("checkpoints-after-tasks-finish"),
		&s->checkpoints_after_tasks_finish));
	return 0;
}

static int storage(const sluice_config *conf, sluice_checkpoint_settings *s)
{
	const sluice_option *opt = sluice_option_find(KEY("storage"), NULL);
	int32_t wb;
	int st;

	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, KEY("incremental"), &s->incremental));
	SLUICE_ERRCHECK(sluice_config_get_memory(
		conf, KEY("data-inline-threshold"), &s->inline_threshold));
	if (s->inline_threshold > INLINE_MAX)
		s->inline_threshold = INLINE_DFLT;
	SLUICE_ERRCHECK(
		sluice_config_get_int(conf, KEY("write-buffer-size"), &wb));
	s->write_buffer_size = wb < 0 ? 0 : (uint64_t)wb;
	if (s->write_buffer_size < s->inline_threshold)
		s->write_buffer_size = s->inline_threshold;
	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, KEY("snapshot-compression"), &s->snapshot_compression));
	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, KEY("create-subdir"), &s->create_subdir));
	SLUICE_ERRCHECK(sluice_config_get_string(conf, KEY("dir"), &s->dir));
	SLUICE_ERRCHECK(sluice_config_get_string(
		conf, KEY("savepoint-dir"), &s->savepoint_dir));
	if (!is_set(conf, KEY("storage"))) {
		s->storage = s->dir ? "filesystem" : "jobmanager";
		return 0;
	}
	SLUICE_ERRCHECK(sluice_config_get_enum(conf, KEY("storage"), &st));
	s->storage = opt->enum_values[st];
	return 0;
}

int sluice_config_checkpoint_settings(
	const sluice_config *conf, sluice_checkpoint_settings *out)
{
	sluice_checkpoint_settings s;

	memset(&s, 0, sizeof(s));
	SLUICE_ERRCHECK(durations(conf, &s));
	SLUICE_ERRCHECK(behaviour(conf, &s));
	SLUICE_ERRCHECK(storage(conf, &s));
	*out = s;
	return 0;
}
