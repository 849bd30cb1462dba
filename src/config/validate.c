/*
 * Validation of a whole configuration: every effective value against its
 * option's type and bounds, then the cross-key rules of Flink (spec §2.1,
 * §3.4, §3.5, §3.7).  Problems make the config invalid; rules Flink
 * answers with a log line and a fallback add warnings instead.
 *
 * Problems (one line each, naming key, value and what was expected):
 *  - a value that does not parse ("Could not parse value ..."), or is out
 *    of the option's bounds (Flink's own message where it has one);
 *  - interval set, non-zero and < 10 ms; timeout < 10 ms;
 *  - unaligned checkpoints with AT_LEAST_ONCE (checkpointing enabled);
 *  - unaligned checkpoints with max-concurrent-checkpoints > 1;
 *  - interval-during-backlog neither 0 nor >= interval;
 *  - latency tracking enabled with sample-interval < 1;
 *  - pipeline.max-parallelism 0, parallelism.default above it;
 *  - segment size not a power of two; exponential-delay multiplier < 1,
 *    jitter outside [0, 1], max-backoff < initial-backoff; file-merging
 *    space amplification < 1;
 *  - RocksDB: Bloom filter bits per key <= 0, a relative log.dir;
 *  - no network buffer at all (0 exclusive and 0 floating).
 * Warnings: inline threshold above 1 MiB (default used), num-retained
 * <= 0 (1 used), a key given both under its name and an alias (the name
 * wins), min-pause above the interval (it raises the interval),
 * incremental checkpoints with the hashmap backend (no effect).
 */
#include <stdio.h>
#include <string.h>

#include "config/internal.h"
#include "util/error.h"

#define MAX_INLINE (1u << 20)

/* Flink's messages for a value below an option's lower bound. */
static const struct {
	const char *key;
	const char *message;
} bound_messages[] = {
	{"execution.checkpointing.timeout",
	 "Checkpoint timeout must be larger than or equal to 10 ms"},
	{"execution.checkpointing.max-concurrent-checkpoints",
	 "The maximum number of concurrent attempts must be at least one."},
	{"execution.checkpointing.min-pause",
	 "Pause value must be zero or positive"},
	{"execution.checkpointing.tolerable-failed-checkpoints",
	 "The tolerable failure checkpoint number must be non-negative."},
	{"execution.checkpointing.write-buffer-size",
	 "Write buffer size must be zero or positive."},
};

static const char *shown(const char *key, const char *raw)
{
	return sluice_config_is_sensitive(key) ? "******" : raw;
}

static int
problem(sluice_config *conf, const char *key, const char *raw, const char *what)
{
	return sluice__strlist_addf(
		&conf->problems, "Invalid value '%s' for key '%s': %s",
		shown(key, raw), key, what);
}

static int check_bounds(
	sluice_config *conf,
	const sluice_option *opt,
	const sluice__cfg_entry *e,
	const sluice__cfg_value *v)
{
	char what[SLUICE__WHY_MAX];
	int64_t x;
	size_t i;

	if (opt->min > opt->max)
		return 0;
	if (opt->type == SLUICE_OPT_MEMORY)
		x = v->u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v->u;
	else if (
		opt->type == SLUICE_OPT_INT || opt->type == SLUICE_OPT_LONG ||
		opt->type == SLUICE_OPT_DURATION)
		x = v->i;
	else
		return 0;
	if (x >= opt->min && x <= opt->max)
		return 0;
	for (i = 0; i < sizeof(bound_messages) / sizeof(bound_messages[0]); i++)
		if (!strcmp(bound_messages[i].key, opt->key) && x < opt->min)
			return problem(
				conf, e->key, e->value,
				bound_messages[i].message);
	snprintf(
		what, sizeof(what), "expected a value from %lld to %lld%s",
		(long long)opt->min, (long long)opt->max,
		opt->type == SLUICE_OPT_DURATION ? " ms"
		: opt->type == SLUICE_OPT_MEMORY ? " bytes"
						 : "");
	return problem(conf, e->key, e->value, what);
}

/* Type and bounds of each set option; warnings for shadowed aliases. */
static int check_values(sluice_config *conf)
{
	char why[SLUICE__WHY_MAX], exp[256];
	const sluice__cfg_entry *e, *other;
	const sluice_option *opt;
	sluice__cfg_value v;
	size_t i, j;

	for (i = 0; i < sluice_option_count(); i++) {
		opt = sluice_option_at(i);
		e = sluice__cfg_resolve(conf, opt);
		if (!e)
			continue;
		for (j = 0; opt->aliases && opt->aliases[j]; j++) {
			other = sluice__cfg_entry_find(conf, opt->aliases[j]);
			if (other && other != e)
				SLUICE_ERRCHECK(sluice__strlist_addf(
					&conf->warnings,
					"'%s' is ignored: '%s' is also set and "
					"takes precedence",
					other->key, e->key));
		}
		if (sluice__cfg_parse(opt, e->value, &v, why, sizeof(why)) <
		    0) {
			sluice_option_expected(opt, exp, sizeof(exp));
			/* say what is expected unless the reason already does
			 */
			SLUICE_ERRCHECK(sluice__strlist_addf(
				&conf->problems,
				"Could not parse value '%s' for key '%s'. "
				"%s%s%s%s",
				shown(e->key, e->value), e->key, why,
				strstr(why, exp) ? "" : " (expected ",
				strstr(why, exp) ? "" : exp,
				strstr(why, exp) ? "" : ")"));
			continue;
		}
		SLUICE_ERRCHECK(check_bounds(conf, opt, e, &v));
	}
	return 0;
}

/*
 * The effective typed value of `key` when it parses, else its default.
 * Returns 1 when the value was explicitly set and parsed, 0 otherwise;
 * `*raw` is the text (set or default).
 */
static int
eff(const sluice_config *conf,
    const char *key,
    sluice__cfg_value *v,
    const char **raw,
    const char **used)
{
	const sluice_option *opt = sluice_option_find(key, NULL);
	const sluice__cfg_entry *e = sluice__cfg_resolve(conf, opt);
	char why[SLUICE__WHY_MAX];

	*raw = opt->default_value;
	*used = opt->key;
	memset(v, 0, sizeof(*v));
	if (e && sluice__cfg_parse(opt, e->value, v, why, sizeof(why)) == 0) {
		*raw = e->value;
		*used = e->key;
		return 1;
	}
	if (opt->default_value)
		sluice__cfg_parse(opt, opt->default_value, v, why, sizeof(why));
	return 0;
}

static int check_checkpointing(sluice_config *conf)
{
	sluice__cfg_value iv, mode, unal, conc, bl, mp;
	const char *iraw, *ikey, *r, *k, *ur, *uk, *cr, *ck;
	int interval_set, enabled;

	interval_set = eff(
		conf, "execution.checkpointing.interval", &iv, &iraw, &ikey);
	enabled = interval_set && iv.i > 0;
	if (enabled && iv.i < 10)
		SLUICE_ERRCHECK(problem(
			conf, ikey, iraw,
			"Checkpoint interval must be larger than or equal to "
			"10 ms"));
	eff(conf, "execution.checkpointing.mode", &mode, &r, &k);
	eff(conf, "execution.checkpointing.unaligned.enabled", &unal, &ur, &uk);
	eff(conf, "execution.checkpointing.max-concurrent-checkpoints", &conc,
	    &cr, &ck);
	if (enabled && unal.i && mode.i == SLUICE_AT_LEAST_ONCE)
		SLUICE_ERRCHECK(problem(
			conf, uk, ur,
			"Cannot use unaligned checkpoints with AT_LEAST_ONCE "
			"checkpointing mode"));
	if (unal.i && conc.i > 1)
		SLUICE_ERRCHECK(
			problem(conf, ck, cr,
				"maxConcurrentCheckpoints can't be > 1 if "
				"UnalignedCheckpoints enabled"));
	if (enabled &&
	    eff(conf, "execution.checkpointing.interval-during-backlog", &bl,
		&r, &k) &&
	    bl.i != 0 && bl.i < iv.i)
		SLUICE_ERRCHECK(problem(
			conf, k, r,
			"Checkpoint interval during backlog must be larger "
			"than or equal to that in normal situation."));
	if (enabled &&
	    eff(conf, "execution.checkpointing.min-pause", &mp, &r, &k) &&
	    mp.i > iv.i)
		SLUICE_ERRCHECK(sluice__strlist_addf(
			&conf->warnings,
			"'%s' (%s) is longer than '%s' (%s): checkpoints are "
			"triggered at most every %s",
			k, r, ikey, iraw, r));
	return 0;
}

static int check_storage(sluice_config *conf)
{
	sluice__cfg_value v, b;
	const char *r, *k, *br, *bk;

	if (eff(conf, "execution.checkpointing.data-inline-threshold", &v, &r,
		&k) &&
	    v.u > MAX_INLINE)
		SLUICE_ERRCHECK(sluice__strlist_addf(
			&conf->warnings,
			"Ignoring invalid file size threshold value (%s): %llu "
			"- using default value %u instead.",
			"execution.checkpointing.data-inline-threshold",
			(unsigned long long)v.u, 20u * 1024u));
	if (eff(conf, "execution.checkpointing.num-retained", &v, &r, &k) &&
	    v.i <= 0)
		SLUICE_ERRCHECK(sluice__strlist_addf(
			&conf->warnings,
			"The setting for '%s : %lld' is invalid. Using default "
			"value of 1",
			"execution.checkpointing.num-retained",
			(long long)v.i));
	if (eff(conf, "execution.checkpointing.incremental", &v, &r, &k) &&
	    v.i) {
		eff(conf, "state.backend.type", &b, &br, &bk);
		if (b.i == 0)
			SLUICE_ERRCHECK(sluice__strlist_addf(
				&conf->warnings,
				"'%s' has no effect with state.backend.type "
				"hashmap: only rocksdb checkpoints "
				"incrementally",
				k));
	}
	if (eff(conf, "taskmanager.memory.segment-size", &v, &r, &k) &&
	    (v.u & (v.u - 1)) != 0)
		SLUICE_ERRCHECK(
			problem(conf, k, r,
				"Memory segment size must be a power of 2."));
	eff(conf, "taskmanager.network.memory.buffers-per-channel", &v, &r, &k);
	eff(conf, "taskmanager.network.memory.floating-buffers-per-gate", &b,
	    &br, &bk);
	if (v.i == 0 && b.i == 0)
		SLUICE_ERRCHECK(problem(
			conf, bk, br,
			"with taskmanager.network.memory.buffers-per-channel 0 "
			"a channel needs floating buffers"));
	return 0;
}

static int check_misc(sluice_config *conf)
{
	sluice__cfg_value on, si, p, mp, a, b;
	const char *r, *k, *r2, *k2;

	eff(conf, "state.latency-track.keyed-state-enabled", &on, &r, &k);
	eff(conf, "state.latency-track.sample-interval", &si, &r, &k);
	if (on.i && si.i < 1)
		SLUICE_ERRCHECK(problem(
			conf, k, r,
			"the sample interval of latency tracking must be at "
			"least 1"));
	if (eff(conf, "pipeline.max-parallelism", &mp, &r, &k) && mp.i == 0)
		SLUICE_ERRCHECK(problem(
			conf, k, r, "expected -1 or a value from 1 to 32768"));
	if (eff(conf, "parallelism.default", &p, &r2, &k2) && mp.i > 0 &&
	    p.i > mp.i)
		SLUICE_ERRCHECK(
			problem(conf, k2, r2,
				"the parallelism must not exceed "
				"pipeline.max-parallelism"));
	if (eff(conf, "restart-strategy.exponential-delay.backoff-multiplier",
		&a, &r, &k) &&
	    a.d < 1.0)
		SLUICE_ERRCHECK(problem(
			conf, k, r, "the backoff multiplier must be >= 1"));
	if (eff(conf, "restart-strategy.exponential-delay.jitter-factor", &a,
		&r, &k) &&
	    (a.d < 0.0 || a.d > 1.0))
		SLUICE_ERRCHECK(problem(
			conf, k, r, "the jitter factor must be from 0 to 1"));
	eff(conf, "restart-strategy.exponential-delay.initial-backoff", &a, &r2,
	    &k2);
	if (eff(conf, "restart-strategy.exponential-delay.max-backoff", &b, &r,
		&k) &&
	    b.i < a.i)
		SLUICE_ERRCHECK(problem(
			conf, k, r,
			"max-backoff must be at least the initial-backoff"));
	if (eff(conf,
		"execution.checkpointing.file-merging.max-space-amplification",
		&a, &r, &k) &&
	    a.d < 1.0)
		SLUICE_ERRCHECK(problem(
			conf, k, r, "the space amplification must be >= 1"));
	return 0;
}

/* RocksDB tuning values the types alone do not rule out (Flink's
 * RocksDBConfigurableOptions.checkArgumentValid). */
static int check_rocksdb(sluice_config *conf)
{
	sluice__cfg_value v;
	const char *r, *k;

	if (eff(conf, "state.backend.rocksdb.bloom-filter.bits-per-key", &v, &r,
		&k) &&
	    !(v.d > 0.0))
		SLUICE_ERRCHECK(problem(
			conf, k, r, "bits per key must be larger than 0"));
	if (eff(conf, "state.backend.rocksdb.log.dir", &v, &r, &k) &&
	    v.s[0] != '/')
		SLUICE_ERRCHECK(problem(
			conf, k, r,
			"Configured path for key state.backend.rocksdb.log.dir "
			"is not absolute."));
	return 0;
}

int sluice_config_validate(sluice_config *conf)
{
	sluice__strlist_clear(&conf->problems);
	SLUICE_ERRCHECK(check_values(conf));
	SLUICE_ERRCHECK(check_checkpointing(conf));
	SLUICE_ERRCHECK(check_storage(conf));
	SLUICE_ERRCHECK(check_misc(conf));
	SLUICE_ERRCHECK(check_rocksdb(conf));
	if (conf->problems.n == 0)
		return 0;
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG, "%s%s",
		conf->problems.items[0],
		conf->problems.n > 1 ? " (and more problems)" : "");
}
