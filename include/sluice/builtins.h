/*
 * Built-in operators of job files (docs/jobs.md) for C programs that
 * build their own job (include/sluice/job.h): the `file` source and the
 * exactly-once `file` sink, the two pieces most programs would otherwise
 * have to write with care.  examples/wordcount.c shows them in a job.
 *
 * Use: a vertex spec with the operator and a pointer to the options as
 * its `arg`; the options (and the strings they point to) are borrowed and
 * must outlive the job.
 *
 *   sluice_file_source_options in = {"input/", 0, 0};
 *   sluice_vertex_spec s = {SLUICE_VERTEX_SOURCE, "lines", NULL, 1, 0,
 *                           sluice_file_source_operator(), &in};
 *
 * File source: the lines of a file, or of the regular non-hidden files of
 * a directory in name order; each line is one record with key and value
 * the line (without its newline) and timestamp the processing time.  A
 * file belongs to subtask hash32(name) % parallelism.  The byte offset
 * reached in every file is checkpointed, so a restore continues after the
 * last checkpointed line (restoring at another parallelism is refused).
 * Bounded unless `follow`: the source ends after its last line.
 *
 * File sink: exactly-once through two-phase commit.  Each subtask writes
 * the record values, one per line, to hidden in-progress files in `path`,
 * pre-commits them at a checkpoint and renames them to visible
 * `part-<uid>-<subtask>-<checkpoint>` files when that checkpoint completes;
 * leftovers of failed attempts are removed on restore.  Run the job with
 * checkpoints (sluice_run_start, with a final checkpoint as the
 * configuration gives by default) so everything gets committed.
 *
 * Threading: the operators run on task threads as any operator.
 */
#ifndef SLUICE_BUILTINS_H
#define SLUICE_BUILTINS_H

#include "common.h"
#include "job.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_file_source_options {
	const char *path; /* a file or a directory */
	int follow;       /* 1: never end; poll for new lines and files */
	int64_t poll_ms;  /* follow: wait between looks at the end; 0: 100 */
} sluice_file_source_options;

typedef struct sluice_file_sink_options {
	const char *path; /* output directory, created when missing */
} sluice_file_sink_options;

/* The file source (vertex kind SLUICE_VERTEX_SOURCE; arg: options). */
SLUICE_EXTERN(const sluice_operator *) sluice_file_source_operator(void);
/* The exactly-once file sink (SLUICE_VERTEX_SINK; arg: options). */
SLUICE_EXTERN(const sluice_operator *) sluice_file_sink_operator(void);

#ifdef __cplusplus
}
#endif
#endif
