/*
 * Internal model of a job file (src/jobs/): what jobfile.c parses out of
 * the YAML and build.c turns into a sluice_job.  Stages keep the marks
 * (file, line, column) of their keys so every later check can name the
 * exact place; parameter accessors mark what a built-in consumed so that
 * anything left over is reported as an unexpected key.
 */
#ifndef SLUICE_JOBS_SPEC_H
#define SLUICE_JOBS_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/config.h"
#include "sluice/job.h"

typedef enum sluice__stage_kind {
	SLUICE__STAGE_SOURCE = 0,
	SLUICE__STAGE_KEY_BY = 1,
	SLUICE__STAGE_OPERATOR = 2,
	SLUICE__STAGE_SINK = 3
} sluice__stage_kind;

typedef struct sluice__param {
	char *key;
	char *value;
	size_t line, col; /* 1-based position of the key */
	int used;
} sluice__param;

typedef struct sluice__stage sluice__stage;
typedef struct sluice__chain {
	sluice__stage *stages;
	size_t count;
} sluice__chain;

struct sluice__stage {
	sluice__stage_kind kind;
	char *type; /* "sequence", "count", "key" for key-by, ... */
	size_t line, col;
	sluice__param *params;
	size_t num_params;
	sluice__chain inputs; /* second input chain (two-input operators) */
	int has_inputs;
	size_t inputs_line, inputs_col;
};

typedef struct sluice__jobspec {
	char *file; /* name used in messages */
	char *name;
	int32_t parallelism;
	int32_t max_parallelism; /* 0 = default */
	sluice__chain pipeline;
	/* the config: section, flattened (nested maps joined with dots) */
	char **config_keys;
	char **config_values;
	size_t num_config;
} sluice__jobspec;

/*
 * Parse a job file's YAML into `js` (released by the caller with
 * sluice__jobspec_release, also on failure).  `name` is used in
 * messages.  Returns 0, SLUICE_EINVALID (file:line:column) or
 * SLUICE_ENOMEM.
 */
int sluice__jobspec_parse(
	sluice__jobspec *js, const char *yaml, size_t len, const char *name);
void sluice__jobspec_release(sluice__jobspec *js);
void sluice__chain_release(sluice__chain *c);

/*
 * Parameter accessors for built-ins.  Each looks `key` up in `st`, marks
 * it used and parses it; absent optional keys leave `*out` untouched and
 * return 0; absent required keys fail.  Errors are SLUICE_EINVALID naming
 * file:line:column, the stage and the value.
 */
int sluice__param_str(
	const sluice__jobspec *js,
	sluice__stage *st,
	const char *key,
	int required,
	const char **out);
int sluice__param_i64(
	const sluice__jobspec *js,
	sluice__stage *st,
	const char *key,
	int required,
	int64_t min,
	int64_t *out);
int sluice__param_duration(
	const sluice__jobspec *js,
	sluice__stage *st,
	const char *key,
	int required,
	int64_t *out_ms);
int sluice__param_bool(
	const sluice__jobspec *js,
	sluice__stage *st,
	const char *key,
	int *out);
int sluice__param_choice(
	const sluice__jobspec *js,
	sluice__stage *st,
	const char *key,
	const char *const *choices,
	int *out);
/* Fail naming the first parameter no accessor consumed. */
int sluice__param_check_unused(
	const sluice__jobspec *js, const sluice__stage *st);
/* Error at a position: "file:line:col: message". */
int sluice__jobspec_error(
	const sluice__jobspec *js,
	size_t line,
	size_t col,
	const char *fmt,
	...) SLUICE_PRINTF(4, 5);

#endif
