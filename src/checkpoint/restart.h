/*
 * Restart strategies (restart-strategy.type): pure decision logic, driven
 * by the injectable clock, with Flink's semantics and defaults.
 *
 * - none: a failure is never restarted.
 * - fixed-delay: every failure is one attempt; restarting is allowed while
 *   attempts so far <= restart-strategy.fixed-delay.attempts (default 1);
 *   the backoff is restart-strategy.fixed-delay.delay (default 1 s).
 * - exponential-delay (Flink >= 1.19): failures that arrive before the
 *   scheduled restart time are merged into the attempt already planned.
 *   A failure arriving reset-backoff-threshold (default 1 h) or more after
 *   the previous planned restart resets the attempt count.  Backoff of
 *   attempt k (0-based) = initial * multiplier^k plus a jitter uniform in
 *   [-j, +j] with j = backoff * jitter-factor, clamped to
 *   [initial-backoff, max-backoff].  Restarting is allowed while attempts
 *   <= attempts-before-reset-backoff (default unlimited).  Defaults:
 *   initial 1 s, max 1 min, multiplier 1.5, jitter 0.1.
 *
 * - failure-rate: restarting is allowed unless max-failures-per-interval
 *   failures happened and the oldest of the last that many is no older
 *   than failure-rate-interval; the backoff is failure-rate.delay.
 *   Defaults: 1 failure per 1 min, delay 1 s.
 *
 * The default type is exponential-delay when checkpointing is enabled and
 * none otherwise (Flink 1.19+).
 *
 * Threading: a strategy is plain data; use it from one thread or guard it.
 */
#ifndef SLUICE_CHECKPOINT_RESTART_H
#define SLUICE_CHECKPOINT_RESTART_H

#include "sluice/clock.h"
#include "util/rng.h"

typedef enum sluice__restart_type {
	SLUICE_RESTART_NONE = 0,
	SLUICE_RESTART_FIXED_DELAY = 1,
	SLUICE_RESTART_EXPONENTIAL_DELAY = 2,
	SLUICE_RESTART_FAILURE_RATE = 3
} sluice__restart_type;

#define SLUICE_RESTART_MAX_RATE_WINDOW 4096

typedef struct sluice__restart_settings {
	sluice__restart_type type;
	int32_t fixed_attempts; /* restart-strategy.fixed-delay.attempts */
	int64_t fixed_delay_ms; /* restart-strategy.fixed-delay.delay */
	int64_t initial_backoff_ms;
	int64_t max_backoff_ms;
	double multiplier;
	int64_t reset_threshold_ms;
	double jitter;
	int32_t exp_attempts;      /* attempts-before-reset-backoff */
	int32_t rate_max_failures; /* failure-rate.max-failures-per-interval */
	int64_t rate_interval_ms;  /* failure-rate.failure-rate-interval */
	int64_t rate_delay_ms;     /* failure-rate.delay */
} sluice__restart_settings;

/* Flink's defaults; type by whether checkpointing is enabled. */
void sluice__restart_settings_default(
	sluice__restart_settings *s, int checkpointing_enabled);

/*
 * Parse a restart-strategy.type value: none/off/disable,
 * fixed-delay/fixeddelay, exponential-delay/exponentialdelay,
 * failure-rate/failurerate (case-insensitive).  SLUICE_EINVALID naming the
 * value otherwise.
 */
int sluice__restart_type_parse(sluice__restart_type *out, const char *text);

typedef struct sluice__restart {
	sluice__restart_settings s;
	sluice_clock *clock; /* borrowed */
	sluice__rng rng;
	int32_t attempts;
	int64_t next_restart_ms; /* exponential: planned restart, wall ms */
	int have_next;
	int64_t *failures; /* failure-rate: ring of failure times (wall ms) */
	size_t n_failures, next_failure;
} sluice__restart;

/*
 * Validate `s` and initialise `r`.  SLUICE_EINVALID with a message naming
 * the key and value when a setting is out of range.  `clock` is borrowed
 * and must outlive `r`; `seed` drives the jitter.  failure-rate keeps
 * at most SLUICE_RESTART_MAX_RATE_WINDOW failure times (larger
 * max-failures-per-interval is SLUICE_EINVALID); SLUICE_ENOMEM.  Release
 * with sluice__restart_release().
 */
int sluice__restart_init(
	sluice__restart *r,
	const sluice__restart_settings *s,
	sluice_clock *clock,
	uint64_t seed);
void sluice__restart_release(sluice__restart *r);

/*
 * Read the restart-strategy.* keys (Flink names and defaults) from
 * `conf`; an unset type means exponential-delay when
 * `checkpointing_enabled`, else none.  Codes of the config getters
 * (SLUICE_EINVALID naming key and value).  Lives in restart_config.c.
 */
typedef struct sluice_config sluice_config;
int sluice__restart_settings_from_config(
	sluice__restart_settings *out,
	const sluice_config *conf,
	int checkpointing_enabled);

/*
 * Record a failure.  Returns 1 when it starts a new restart attempt, 0
 * when it was merged into the attempt already planned (exponential-delay).
 */
int sluice__restart_notify_failure(sluice__restart *r);

/* 1 when the job may restart after the failures recorded so far. */
int sluice__restart_can_restart(const sluice__restart *r);

/* Milliseconds to wait before restarting (0 when due). */
int64_t sluice__restart_backoff_ms(const sluice__restart *r);

#endif
