/*
 * Shared helpers of the built-in tests (test_builtins*.c), implemented in
 * helper_jobs.c: temporary output directories, reading a file sink's
 * committed output (every non-hidden file) as lines, checking keyed
 * running counts for exactly-once, and running a job file to the end
 * under the fake coordinator of runtime_harness.h.
 */
#ifndef SLUICE_TESTS_JOBS_HARNESS_H
#define SLUICE_TESTS_JOBS_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/jobfile.h"
#include "sluice/sys/runtime.h"

typedef struct jh_lines {
	char **v;
	size_t n, cap;
} jh_lines;

/* A new empty directory under /tmp; path written to `out` (>= 64). */
void jh_tmpdir(char *out);
/* Remove a directory tree made by a test. */
void jh_rmtree(const char *dir);
/* Lines of every non-hidden file in `dir` (sorted). */
void jh_read_committed(const char *dir, jh_lines *out);
void jh_lines_release(jh_lines *l);
/* Number of hidden files (names starting with '.') in `dir`. */
int jh_hidden_files(const char *dir);
/* Lines "k<k>,<c>": key k of `keys` must show counts exactly 1..n_k
 * where n_k = number of i < count with i % keys == k. */
void jh_expect_exact_counts(const jh_lines *l, int64_t count, int keys);
/*
 * A fake checkpoint coordinator that, like Flink with checkpoints after
 * tasks finish, completes a checkpoint when every task acknowledged it or
 * has finished (its newest acknowledged state stands in for it, as Flink
 * keeps finished operators finished), and notifies the job (unless
 * `manual`).  Checkpoints that
 * every task acknowledged are kept (the newest) for restore.
 */
typedef struct jh_coord jh_coord;
jh_coord *jh_coord_new(sluice_job *job, int manual);
void jh_coord_free(jh_coord *c);
sluice_job_responder jh_coord_responder(jh_coord *c);
void jh_coord_new_run(jh_coord *c); /* before a restart */
int64_t jh_coord_trigger(jh_coord *c);
void jh_coord_start_periodic(jh_coord *c, int interval_ms);
void jh_coord_stop_periodic(jh_coord *c);
int jh_coord_completed(jh_coord *c); /* checkpoints completed */
int jh_coord_acks(jh_coord *c, int64_t id);
/* The newest checkpoint every task acknowledged; 0 when there is one. */
int jh_coord_restore(jh_coord *c, sluice_job_restore *out);

/* Run job-file text to the end with periodic checkpoints and final
 * checkpoints; `clock` may be NULL.  Returns the final job state. */
int jh_run_yaml(const char *yaml, void *clock);

#endif
