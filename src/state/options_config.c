/*
 * Keyed backend options from configuration (spec §3.5): the adapter
 * between the option registry and sluice_keyed_options, kept apart from
 * the rest of the state layer so the state code itself needs no config.
 */
#include "sluice/config.h"
#include "sluice/state.h"
#include "util/error.h"

static const char *const backend_names[] = {"hashmap", "rocksdb"};

int sluice_keyed_options_from_config(
	sluice_keyed_options *opts, const sluice_config *conf)
{
	int backend = 0, on = 0, compress = 0, codec = 0;
	int32_t interval = 0, history = 0;
	int64_t ttl = 0;

	SLUICE_ERRCHECK(
		sluice_config_get_enum(conf, "state.backend.type", &backend));
	SLUICE_ERRCHECK(
		sluice_config_get_duration(conf, "table.exec.state.ttl", &ttl));
	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, "state.latency-track.keyed-state-enabled", &on));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, "state.latency-track.sample-interval", &interval));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, "state.latency-track.history-size", &history));
	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, "state.latency-track.state-name-as-variable",
		&opts->latency_name_as_variable));
	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, "execution.checkpointing.snapshot-compression",
		&compress));
	SLUICE_ERRCHECK(sluice_config_get_enum(
		conf, "sluice.snapshot-compression.codec", &codec));
	if (on && interval < 1)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"state.latency-track.sample-interval: must be >= 1 "
			"when "
			"latency tracking is enabled, got %d",
			(int)interval);
	opts->backend = backend_names[backend ? 1 : 0];
	opts->default_ttl_ms = ttl > 0 ? ttl : 0;
	opts->latency_enabled = on;
	opts->latency_interval = interval;
	opts->latency_history = history;
	opts->compression = !compress ? SLUICE_CODEC_NONE
			    : codec   ? SLUICE_CODEC_LZ4
				      : SLUICE_CODEC_ZSTD;
	return 0;
}
