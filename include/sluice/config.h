/*
 * Configuration with Flink's keys.
 *
 * One static registry (src/config/options.c) lists every option: its Flink
 * 2.x key, its deprecated aliases in Flink's fallback order, type, default,
 * bounds and description.  A sluice_config holds raw string values with the
 * source each came from; typed getters parse on read.  Precedence is
 * default < file < job file < -D (a later layer overrides an earlier one).
 *
 * Ownership: a sluice_config is created with sluice_config_new() and freed
 * with sluice_config_free().  Strings returned by getters are owned by the
 * config and live until the key is set again or the config is freed.
 *
 * Threading: a config is not synchronised.  Build it on one thread; after
 * that, concurrent reads (getters only) are safe.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sluice_option_type {
	SLUICE_OPT_BOOL = 0,
	SLUICE_OPT_INT = 1,      /* 32-bit signed */
	SLUICE_OPT_LONG = 2,     /* 64-bit signed */
	SLUICE_OPT_DURATION = 3, /* Flink duration syntax, stored as ms */
	SLUICE_OPT_MEMORY = 4,   /* Flink memory-size syntax, bytes */
	SLUICE_OPT_ENUM = 5,     /* one of enum_values, case-insensitive */
	SLUICE_OPT_STRING = 6,
	SLUICE_OPT_URI = 7, /* a path or scheme://... */
	SLUICE_OPT_DOUBLE = 8,
	SLUICE_OPT_ENUM_LIST = 9 /* ';'-separated enum_values, 1 to
				    SLUICE_CONFIG_LIST_MAX of them */
} sluice_option_type;

#define SLUICE_CONFIG_LIST_MAX 16

/* Option flags */
#define SLUICE_OPTF_SECRET     0x01u /* never printed: shown as ****** */
#define SLUICE_OPTF_NOOP       0x02u /* accepted, deprecated, no effect */
#define SLUICE_OPTF_DEPRECATED 0x04u /* the key itself is deprecated */
/* Flink's key, not implemented in sluice: accepted (a configuration
 * written for Flink still loads) with a warning when set; the
 * description says why */
#define SLUICE_OPTF_NO_EFFECT 0x08u

typedef struct sluice_option {
	const char *key;            /* Flink 2.x name */
	const char *const *aliases; /* NULL-terminated; fallback order */
	sluice_option_type type;
	const char *default_value;      /* textual; NULL = no default */
	const char *const *enum_values; /* NULL-terminated, for ENUM */
	int64_t min;                    /* inclusive bounds for INT/LONG/ */
	int64_t max; /* DURATION(ms)/MEMORY; min > max = none */
	unsigned flags;
	const char *description; /* one paragraph */
	const char *advice;      /* the seed's advice, or NULL */
	/* ENUM only: NULL-terminated pairs {synonym, value in enum_values},
	 * e.g. {"off", "none"}: a synonym parses to its value's index. */
	const char *const *enum_synonyms;
} sluice_option;

typedef enum sluice_config_source {
	SLUICE_CONFIG_DEFAULT = 0,
	SLUICE_CONFIG_FILE = 1,    /* --config FILE / sluice.yaml */
	SLUICE_CONFIG_JOB = 2,     /* a job file's config: section */
	SLUICE_CONFIG_DYNAMIC = 3, /* -D key=value */
	SLUICE_CONFIG_API = 4      /* sluice_config_set() from code */
} sluice_config_source;

typedef struct sluice_config sluice_config;

/* The registry: number of options and the i-th (NULL past the end).  Static. */
SLUICE_EXTERN(size_t) sluice_option_count(void);
SLUICE_EXTERN(const sluice_option *) sluice_option_at(size_t i);
/* Find an option by key or alias; `*via_alias` (may be NULL) set to 1 for an
 * alias. */
SLUICE_EXTERN(const sluice_option *)
sluice_option_find(const char *key, int *via_alias);
/* "bool", "int", "duration", ... */
SLUICE_EXTERN(const char *) sluice_option_type_name(sluice_option_type type);

SLUICE_EXTERN(int) sluice_config_new(sluice_config **out);
SLUICE_EXTERN(void) sluice_config_free(sluice_config *conf);
/* Deep copy. */
SLUICE_EXTERN(int)
sluice_config_dup(sluice_config **out, const sluice_config *conf);

/*
 * Set `key` (a key, an alias, or an unknown key) to the raw `value` from
 * `source`.  An alias is stored under its own name and resolved by the
 * getters in Flink's fallback order (new key, then aliases in order); using
 * an alias records a deprecation warning naming the new key.  An unknown
 * key is kept and records a warning with the closest known key.  Values
 * are not validated here: see sluice_config_validate().
 */
SLUICE_EXTERN(int)
sluice_config_set(
	sluice_config *conf,
	const char *key,
	const char *value,
	sluice_config_source source);

/* Parse "key=value" (as given to -D) and set it with SLUICE_CONFIG_DYNAMIC. */
SLUICE_EXTERN(int) sluice_config_set_arg(sluice_config *conf, const char *arg);

/*
 * Load a YAML file: flat ("a.b.c: v") and nested maps (flattened with dots)
 * both accepted.  Malformed YAML fails with SLUICE_EINVALID and a message
 * naming file, line and column.
 */
SLUICE_EXTERN(int)
sluice_config_load_file(
	sluice_config *conf, const char *path, sluice_config_source source);
/* The same from a string; `name` is used in messages. */
SLUICE_EXTERN(int)
sluice_config_load_string(
	sluice_config *conf,
	const char *yaml,
	size_t len,
	const char *name,
	sluice_config_source source);

/*
 * Check every value against its type and bounds and the cross-key rules
 * (docs/configuration.md).  Returns 0 when valid, SLUICE_EINVALID when not;
 * each problem is one line naming key, value and what was expected,
 * available through sluice_config_problem().  Rules that Flink answers with
 * a warning and a fallback (invalid inline threshold, num-retained <= 0)
 * add warnings instead.
 */
SLUICE_EXTERN(int) sluice_config_validate(sluice_config *conf);
SLUICE_EXTERN(size_t) sluice_config_problem_count(const sluice_config *conf);
SLUICE_EXTERN(const char *)
sluice_config_problem(const sluice_config *conf, size_t i);
SLUICE_EXTERN(size_t) sluice_config_warning_count(const sluice_config *conf);
SLUICE_EXTERN(const char *)
sluice_config_warning(const sluice_config *conf, size_t i);

/*
 * Where the effective value of `key` comes from: its raw string (NULL when
 * absent and no default), source, and the alias it was read through (NULL
 * when the key itself or the default).  Returns SLUICE_ENOTFOUND for keys
 * not in the registry and not set.
 */
SLUICE_EXTERN(int)
sluice_config_lookup(
	const sluice_config *conf,
	const char *key,
	const char **raw,
	sluice_config_source *source,
	const char **alias);

/*
 * Typed getters for registry keys.  Return 0 and the value (the default
 * when unset); SLUICE_ENOTFOUND when unset with no default;
 * SLUICE_EINVALID when the value does not parse ("Could not parse value
 * '<raw>' for key '<key>'." plus the reason).
 */
SLUICE_EXTERN(int)
sluice_config_get_bool(const sluice_config *conf, const char *key, int *out);
SLUICE_EXTERN(int)
sluice_config_get_int(const sluice_config *conf, const char *key, int32_t *out);
SLUICE_EXTERN(int)
sluice_config_get_long(
	const sluice_config *conf, const char *key, int64_t *out);
SLUICE_EXTERN(int)
sluice_config_get_duration(
	const sluice_config *conf, const char *key, int64_t *out_ms);
SLUICE_EXTERN(int)
sluice_config_get_memory(
	const sluice_config *conf, const char *key, uint64_t *out_bytes);
SLUICE_EXTERN(int)
sluice_config_get_double(
	const sluice_config *conf, const char *key, double *out);
/* Enum: index into the option's enum_values. */
SLUICE_EXTERN(int)
sluice_config_get_enum(const sluice_config *conf, const char *key, int *out);
/* Enum list: `*n` indexes into enum_values (out has SLUICE_CONFIG_LIST_MAX
 * room). */
SLUICE_EXTERN(int)
sluice_config_get_enum_list(
	const sluice_config *conf, const char *key, int *out, size_t *n);
/* String / URI: `*out` borrowed from the config, NULL when absent. */
SLUICE_EXTERN(int)
sluice_config_get_string(
	const sluice_config *conf, const char *key, const char **out);

/* Flink's syntaxes, exposed for tools and tests. */
SLUICE_EXTERN(int) sluice_parse_duration(const char *text, int64_t *out_ms);
SLUICE_EXTERN(int) sluice_parse_memory(const char *text, uint64_t *out_bytes);

/*
 * Checkpointing settings after Flink's normalisation (spec §2.1, §3.4):
 * min-pause capped at one year, interval raised to min-pause, effective
 * write buffer = max(write buffer, inline threshold), invalid inline
 * threshold and num-retained replaced by defaults.  Call after validate.
 */
typedef enum sluice_checkpoint_mode {
	SLUICE_EXACTLY_ONCE = 0,
	SLUICE_AT_LEAST_ONCE = 1
} sluice_checkpoint_mode;

typedef enum sluice_retention {
	SLUICE_RETAIN_NONE = 0, /* NO_EXTERNALIZED_CHECKPOINTS */
	SLUICE_RETAIN_DELETE_ON_CANCELLATION = 1,
	SLUICE_RETAIN_ON_CANCELLATION = 2
} sluice_retention;

typedef struct sluice_checkpoint_settings {
	int enabled;         /* interval configured and > 0 */
	int64_t interval_ms; /* base interval = max(interval, min-pause) */
	int64_t timeout_ms;
	int64_t min_pause_ms;
	int32_t max_concurrent;
	int32_t tolerable_failures; /* INT32_MAX = unlimited */
	sluice_checkpoint_mode mode;
	int unaligned; /* effective: enabled and EXACTLY_ONCE */
	int unaligned_forced;
	int64_t aligned_timeout_ms;
	int32_t max_subtasks_per_channel_state_file;
	int32_t num_retained;
	sluice_retention retention;
	int incremental;
	uint64_t inline_threshold;  /* bytes */
	uint64_t write_buffer_size; /* effective */
	int snapshot_compression;
	int create_subdir;
	int checkpoints_after_tasks_finish;
	const char *dir;           /* borrowed; NULL = none */
	const char *savepoint_dir; /* borrowed; NULL = none */
	const char *storage;       /* "jobmanager", "filesystem" or NULL */
} sluice_checkpoint_settings;

SLUICE_EXTERN(int)
sluice_config_checkpoint_settings(
	const sluice_config *conf, sluice_checkpoint_settings *out);

/* Name of a source: "default", "file", "job", "-D", "api". */
SLUICE_EXTERN(const char *)
sluice_config_source_name(sluice_config_source source);

/*
 * Raw entries exactly as set (keys, aliases and unknown keys), in the order
 * first set.  `*key` and `*raw` are borrowed from the config.  Returns
 * SLUICE_ENOTFOUND past the end.
 */
SLUICE_EXTERN(size_t) sluice_config_entry_count(const sluice_config *conf);
SLUICE_EXTERN(int)
sluice_config_entry_at(
	const sluice_config *conf,
	size_t i,
	const char **key,
	const char **raw,
	sluice_config_source *source);

/*
 * True when values of `key` must never be shown (printed as "******"):
 * options flagged SLUICE_OPTF_SECRET, their aliases, and unknown keys whose
 * name looks like a secret (password, secret, token, ...).
 */
SLUICE_EXTERN(int) sluice_config_is_sensitive(const char *key);

/* The registry key or alias closest to `key` (edit distance), or NULL. */
SLUICE_EXTERN(const char *) sluice_option_closest(const char *key);

/*
 * A short phrase saying what a valid value of `opt` looks like, e.g.
 * "a duration such as '10 min', '30 s' or '100 ms'"; written into `buf`.
 */
SLUICE_EXTERN(void)
sluice_option_expected(const sluice_option *opt, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
