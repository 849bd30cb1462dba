/*
 * Restart strategies: decides whether a failed job restarts and after how
 * long (see restart.h for the exact rules).  Pure logic: time comes from
 * the injected clock, jitter from a seeded generator.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "checkpoint/restart.h"
#include "util/alloc.h"
#include "util/error.h"

void sluice__restart_settings_default(
	sluice__restart_settings *s, int checkpointing_enabled)
{
	s->type = checkpointing_enabled ? SLUICE_RESTART_EXPONENTIAL_DELAY
					: SLUICE_RESTART_NONE;
	s->fixed_attempts = 1;
	s->fixed_delay_ms = 1000;
	s->initial_backoff_ms = 1000;
	s->max_backoff_ms = 60000;
	s->multiplier = 1.5;
	s->reset_threshold_ms = 3600000;
	s->jitter = 0.1;
	s->exp_attempts = INT32_MAX;
	s->rate_max_failures = 1;
	s->rate_interval_ms = 60000;
	s->rate_delay_ms = 1000;
}

int sluice__restart_type_parse(sluice__restart_type *out, const char *text)
{
	static const struct {
		const char *name;
		sluice__restart_type type;
	} names[] = {
		{"none", SLUICE_RESTART_NONE},
		{"off", SLUICE_RESTART_NONE},
		{"disable", SLUICE_RESTART_NONE},
		{"fixed-delay", SLUICE_RESTART_FIXED_DELAY},
		{"fixeddelay", SLUICE_RESTART_FIXED_DELAY},
		{"exponential-delay", SLUICE_RESTART_EXPONENTIAL_DELAY},
		{"exponentialdelay", SLUICE_RESTART_EXPONENTIAL_DELAY},
		{"failure-rate", SLUICE_RESTART_FAILURE_RATE},
		{"failurerate", SLUICE_RESTART_FAILURE_RATE},
	};
	size_t i;

	for (i = 0; text && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(text, names[i].name) == 0) {
			*out = names[i].type;
			return 0;
		}
	}
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
		"restart-strategy.type: unknown strategy '%s' (expected none, "
		"fixed-delay, failure-rate or exponential-delay)",
		text ? text : "(null)");
}

static int bad(const char *key, const char *rule, double value)
{
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
		"restart-strategy.%s: %s, got %g", key, rule, value);
}

static int validate(const sluice__restart_settings *s)
{
	if (s->type == SLUICE_RESTART_FIXED_DELAY) {
		if (s->fixed_attempts < 0)
			return bad(
				"fixed-delay.attempts", "must be at least 0",
				s->fixed_attempts);
		if (s->fixed_delay_ms < 0)
			return bad(
				"fixed-delay.delay", "must be at least 0 ms",
				(double)s->fixed_delay_ms);
	}
	if (s->type == SLUICE_RESTART_FAILURE_RATE) {
		if (s->rate_max_failures < 1 ||
		    s->rate_max_failures > SLUICE_RESTART_MAX_RATE_WINDOW)
			return bad(
				"failure-rate.max-failures-per-interval",
				"must be between 1 and 4096",
				s->rate_max_failures);
		if (s->rate_interval_ms < 1)
			return bad(
				"failure-rate.failure-rate-interval",
				"must be at least 1 ms",
				(double)s->rate_interval_ms);
		if (s->rate_delay_ms < 0)
			return bad(
				"failure-rate.delay", "must be at least 0 ms",
				(double)s->rate_delay_ms);
	}
	if (s->type != SLUICE_RESTART_EXPONENTIAL_DELAY)
		return 0;
	if (s->initial_backoff_ms < 1)
		return bad(
			"exponential-delay.initial-backoff",
			"must be at least 1 ms", (double)s->initial_backoff_ms);
	if (s->max_backoff_ms < s->initial_backoff_ms)
		return bad(
			"exponential-delay.max-backoff",
			"cannot be lower than the initial backoff",
			(double)s->max_backoff_ms);
	if (!(s->multiplier > 1.0))
		return bad(
			"exponential-delay.backoff-multiplier",
			"must be greater than 1", s->multiplier);
	if (s->reset_threshold_ms < 1)
		return bad(
			"exponential-delay.reset-backoff-threshold",
			"must be at least 1 ms", (double)s->reset_threshold_ms);
	if (!(s->jitter >= 0.0 && s->jitter <= 1.0))
		return bad(
			"exponential-delay.jitter-factor",
			"must be between 0 and 1", s->jitter);
	if (s->exp_attempts < 1)
		return bad(
			"exponential-delay.attempts-before-reset-backoff",
			"must be at least 1", s->exp_attempts);
	return 0;
}

int sluice__restart_init(
	sluice__restart *r,
	const sluice__restart_settings *s,
	sluice_clock *clock,
	uint64_t seed)
{
	SLUICE_ERRCHECK(validate(s));
	memset(r, 0, sizeof(*r));
	if (s->type == SLUICE_RESTART_FAILURE_RATE) {
		r->failures = sluice__calloc(
			(size_t)s->rate_max_failures, sizeof(*r->failures));
		if (!r->failures)
			return sluice__error_oom();
	}
	r->s = *s;
	r->clock = clock;
	sluice__rng_seed(&r->rng, seed);
	r->attempts = 0;
	r->next_restart_ms = 0;
	r->have_next = 0;
	return 0;
}

void sluice__restart_release(sluice__restart *r)
{
	sluice__free(r->failures);
	r->failures = NULL;
}

static int64_t exp_backoff(sluice__restart *r)
{
	double base = (double)r->s.initial_backoff_ms *
		      pow(r->s.multiplier, (double)r->attempts);
	int64_t cur, jitter = 0, v;

	cur = base >= 9.0e18 ? INT64_MAX / 2 : (int64_t)base;
	if (r->s.jitter > 0.0) {
		int64_t off = (int64_t)((double)cur * r->s.jitter);

		jitter = sluice__rng_range(&r->rng, -off, off);
	}
	v = cur + jitter;
	if (v > r->s.max_backoff_ms)
		v = r->s.max_backoff_ms;
	if (v < r->s.initial_backoff_ms)
		v = r->s.initial_backoff_ms;
	return v;
}

int sluice__restart_notify_failure(sluice__restart *r)
{
	int64_t now = sluice_clock_wall_ms(r->clock);

	switch (r->s.type) {
	case SLUICE_RESTART_NONE:
		return 1;
	case SLUICE_RESTART_FIXED_DELAY:
		if (r->attempts < INT32_MAX)
			r->attempts++;
		return 1;
	case SLUICE_RESTART_FAILURE_RATE:
		/* keep the last max-failures failure times */
		r->failures[r->next_failure] = now;
		r->next_failure =
			(r->next_failure + 1) % (size_t)r->s.rate_max_failures;
		if (r->n_failures < (size_t)r->s.rate_max_failures)
			r->n_failures++;
		return 1;
	case SLUICE_RESTART_EXPONENTIAL_DELAY:
		break;
	}
	if (r->have_next && now <= r->next_restart_ms)
		return 0; /* merged into the planned restart */
	if (r->have_next && now - r->next_restart_ms >= r->s.reset_threshold_ms)
		r->attempts = 0;
	r->next_restart_ms = now + exp_backoff(r);
	r->have_next = 1;
	if (r->attempts < INT32_MAX)
		r->attempts++;
	return 1;
}

int sluice__restart_can_restart(const sluice__restart *r)
{
	switch (r->s.type) {
	case SLUICE_RESTART_FIXED_DELAY:
		return r->attempts <= r->s.fixed_attempts;
	case SLUICE_RESTART_EXPONENTIAL_DELAY:
		return r->attempts <= r->s.exp_attempts;
	case SLUICE_RESTART_FAILURE_RATE:
		if (r->n_failures < (size_t)r->s.rate_max_failures)
			return 1;
		/* the ring is full: next_failure holds the oldest */
		return sluice_clock_wall_ms(r->clock) -
			       r->failures[r->next_failure] >
		       r->s.rate_interval_ms;
	case SLUICE_RESTART_NONE:
		break;
	}
	return 0;
}

int64_t sluice__restart_backoff_ms(const sluice__restart *r)
{
	int64_t left;

	switch (r->s.type) {
	case SLUICE_RESTART_FIXED_DELAY:
		return r->s.fixed_delay_ms;
	case SLUICE_RESTART_FAILURE_RATE:
		return r->s.rate_delay_ms;
	case SLUICE_RESTART_EXPONENTIAL_DELAY:
		if (!r->have_next)
			return 0;
		left = r->next_restart_ms - sluice_clock_wall_ms(r->clock);
		return left > 0 ? left : 0;
	case SLUICE_RESTART_NONE:
		break;
	}
	return 0;
}
