/*
 * Job files: a YAML description of a job (docs/jobs.md) built into a
 * sluice_job from the built-in sources, operators and sinks.
 *
 *   job:      name, parallelism (default: parallelism.default, 1),
 *             max-parallelism (default: pipeline.max-parallelism, derived)
 *   pipeline: a linear chain of stages (source, key-by, operator, sink);
 *             a two-input operator (join) names its second input chain
 *             under `inputs:`
 *   config:   configuration keys, applied with SLUICE_CONFIG_JOB
 *
 * Usage: sluice_jobfile_load() parses and checks the file and applies its
 * config: section to a config; the caller may then layer -D values on
 * top; sluice_jobfile_build() creates the job with that final config.
 *
 * Ownership: the job file owns the built job and the built-ins'
 * arguments; sluice_jobfile_free() frees both (stop the job first).
 * Threading: a job file is used from one thread.
 */
#ifndef SLUICE_JOBFILE_H
#define SLUICE_JOBFILE_H

#include "common.h"
#include "config.h"
#include "job.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_jobfile sluice_jobfile;

/*
 * Load the job file at `path`.  Every problem — malformed YAML, an
 * unexpected section or key, a bad value, an unknown built-in, a keyed
 * operator without a key-by before it — fails with SLUICE_EINVALID and
 * one message naming file:line:column.  When `conf` is not NULL the
 * config: section is set into it with source SLUICE_CONFIG_JOB (only when
 * the whole file is valid — only an allocation failure while setting
 * them can leave some set; values are not validated here, see
 * sluice_config_validate).  Returns 0, SLUICE_EINVALID, SLUICE_EIO (file
 * unreadable) or SLUICE_ENOMEM.  Free with sluice_jobfile_free().
 */
SLUICE_EXTERN(int)
sluice_jobfile_load(
	sluice_jobfile **out, const char *path, sluice_config *conf);

/* The same from a string; `name` stands for the file in messages. */
SLUICE_EXTERN(int)
sluice_jobfile_load_string(
	sluice_jobfile **out,
	const char *yaml,
	size_t len,
	const char *name,
	sluice_config *conf);

/* job: name (borrowed from the job file), parallelism, max parallelism
 * (0 when not given: the job then runs at `parallelism.default` and with
 * `pipeline.max-parallelism` when set, else the derived default). */
SLUICE_EXTERN(const char *) sluice_jobfile_name(const sluice_jobfile *jf);
SLUICE_EXTERN(int32_t) sluice_jobfile_parallelism(const sluice_jobfile *jf);
SLUICE_EXTERN(int32_t)
sluice_jobfile_max_parallelism(const sluice_jobfile *jf);

/*
 * The job id derived from the name: 32 lowercase hex digits (like a
 * Flink JobID), the same for the same name in every run, and the one
 * sluice_run uses for the job's checkpoint directory (job.h).  `out` receives
 * 33 bytes including the terminating NUL.
 */
SLUICE_EXTERN(void)
sluice_jobfile_job_id(const sluice_jobfile *jf, char out[33]);

/*
 * Build the job: one vertex per source, operator and sink stage (uid
 * "<n>-<type>", n = the vertex number in build order, unless the stage
 * sets `uid:`), all at the job's parallelism, connected forward, or by
 * key after a key-by stage.
 * `conf` (may be NULL) supplies keys built-ins read (the join's
 * table.exec.state.ttl); `opts` (may be NULL) are the runtime options.
 * Run the job with sluice_job_run / sluice_run_start (job.h), which keep
 * its state in the keyed backend the configuration names.
 * `*job` is owned by the job file.  Fails with SLUICE_EBUSY when already
 * built, else as sluice_jobfile_load or sluice_job_new / add / connect.
 */
SLUICE_EXTERN(int)
sluice_jobfile_build(
	sluice_jobfile *jf,
	const sluice_config *conf,
	const sluice_job_options *opts,
	sluice_job **job);

/* Free the job (sluice_job_free) and the job file.  NULL-safe. */
SLUICE_EXTERN(void) sluice_jobfile_free(sluice_jobfile *jf);

#ifdef __cplusplus
}
#endif
#endif
