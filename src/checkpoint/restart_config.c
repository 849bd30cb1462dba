/*
 * Reads the restart-strategy.* configuration keys into restart settings.
 * Kept apart from restart.c so the decision logic does not depend on the
 * configuration module.
 */
#include "checkpoint/restart.h"
#include "sluice/config.h"
#include "util/error.h"

#define KEY(k) "restart-strategy." k

static int read_type(
	sluice__restart_type *type,
	const sluice_config *conf,
	int checkpointing_enabled)
{
	const sluice_option *opt = sluice_option_find(KEY("type"), NULL);
	int idx, rc;

	rc = sluice_config_get_enum(conf, KEY("type"), &idx);
	if (rc == SLUICE_ENOTFOUND) {
		sluice_error_clear();
		*type = checkpointing_enabled ? SLUICE_RESTART_EXPONENTIAL_DELAY
					      : SLUICE_RESTART_NONE;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!opt || !opt->enum_values)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"restart-strategy.type: not in the option registry");
	return sluice__restart_type_parse(type, opt->enum_values[idx]);
}

int sluice__restart_settings_from_config(
	sluice__restart_settings *out,
	const sluice_config *conf,
	int checkpointing_enabled)
{
	sluice__restart_settings s;

	sluice__restart_settings_default(&s, checkpointing_enabled);
	SLUICE_ERRCHECK(read_type(&s.type, conf, checkpointing_enabled));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, KEY("fixed-delay.attempts"), &s.fixed_attempts));
	SLUICE_ERRCHECK(sluice_config_get_duration(
		conf, KEY("fixed-delay.delay"), &s.fixed_delay_ms));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, KEY("failure-rate.max-failures-per-interval"),
		&s.rate_max_failures));
	SLUICE_ERRCHECK(sluice_config_get_duration(
		conf, KEY("failure-rate.failure-rate-interval"),
		&s.rate_interval_ms));
	SLUICE_ERRCHECK(sluice_config_get_duration(
		conf, KEY("failure-rate.delay"), &s.rate_delay_ms));
	SLUICE_ERRCHECK(sluice_config_get_duration(
		conf, KEY("exponential-delay.initial-backoff"),
		&s.initial_backoff_ms));
	SLUICE_ERRCHECK(sluice_config_get_duration(
		conf, KEY("exponential-delay.max-backoff"), &s.max_backoff_ms));
	SLUICE_ERRCHECK(sluice_config_get_double(
		conf, KEY("exponential-delay.backoff-multiplier"),
		&s.multiplier));
	SLUICE_ERRCHECK(sluice_config_get_duration(
		conf, KEY("exponential-delay.reset-backoff-threshold"),
		&s.reset_threshold_ms));
	SLUICE_ERRCHECK(sluice_config_get_double(
		conf, KEY("exponential-delay.jitter-factor"), &s.jitter));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, KEY("exponential-delay.attempts-before-reset-backoff"),
		&s.exp_attempts));
	*out = s;
	return 0;
}
