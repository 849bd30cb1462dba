/*
 * The job result record: `<job dir>/_job_result`, our counterpart of
 * Flink's job result store (FLIP-194).
 *
 * When a run ends FINISHED (sources done and the final checkpoint
 * committed, or stop-with-savepoint), it records so in the job directory
 * *before* retention discards the job's checkpoints.  A process killed
 * between the two leaves the record, so `--restore latest` learns that
 * the job already finished instead of finding no checkpoint and running
 * the whole job again (which would emit its output twice).  Any later
 * start of the job (fresh, or from a path) removes the record: the job is
 * live again.  FAILED and CANCELED runs write nothing: their retained
 * checkpoints are what `--restore latest` should find.
 *
 * Format (docs/format.md), text, written atomically:
 *
 *     sluice-job-result 1
 *     job <32 hex>
 *     state FINISHED
 *     time <wall clock ms>
 *     xxh3 <16 hex of every byte before this line>
 *
 * A record that fails the checksum or does not parse is an error naming
 * the file (never read as "not finished"): the operator decides.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/run.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"

#define RESULT_FILE "_job_result"
#define MAGIC       "sluice-job-result 1\n"

static char *result_path(sluice_run *r)
{
	const char *dir = sluice_checkpoint_storage_job_dir(r->cs);
	size_t n = strlen(dir) + sizeof(RESULT_FILE) + 1;
	char *p = sluice__malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, RESULT_FILE);
	return p;
}

int sluice__run_result_write(sluice_run *r)
{
	sluice_storage *st = sluice_checkpoint_storage_backend(r->cs);
	char body[256], *path = result_path(r);
	int n, rc;

	if (!path)
		return sluice__error_oom();
	n = snprintf(
		body, sizeof(body),
		MAGIC "job %s\nstate FINISHED\ntime %" PRId64 "\n", r->job_id,
		sluice_clock_wall_ms(r->clock));
	n += snprintf(
		body + n, sizeof(body) - (size_t)n, "xxh3 %016" PRIx64 "\n",
		sluice__xxh3(body, (size_t)n));
	rc = sluice_storage_mkdirs(
		st, sluice_checkpoint_storage_job_dir(r->cs));
	if (rc == 0)
		rc = sluice_storage_write_atomic(st, path, body, (size_t)n);
	sluice__free(path);
	return rc;
}

/* Parse and verify `data`; *time_ms on success. */
static int
parse(const char *path,
      const char *job_id,
      const char *data,
      size_t len,
      int64_t *time_ms)
{
	const size_t magic = sizeof(MAGIC) - 1;
	char job[64], state[32];
	unsigned long long t, sum;
	size_t body;

	/* `data` is NUL-terminated at len; an inner NUL is no record */
	if (strlen(data) != len || len <= magic || memcmp(data, MAGIC, magic) ||
	    data[len - 1] != '\n')
		goto bad;
	for (body = len - 1; body > 0 && data[body - 1] != '\n'; body--)
		;
	if (sscanf(data + body, "xxh3 %16llx\n", &sum) != 1 ||
	    sum != sluice__xxh3(data, body))
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_JOB,
			"job result record '%s' is damaged (checksum "
			"mismatch); "
			"delete it to restore the job's newest checkpoint",
			path);
	if (sscanf(data + magic, "job %63s\nstate %31s\ntime %llu\n", job,
		   state, &t) != 3 ||
	    strcmp(state, "FINISHED"))
		goto bad;
	if (strcmp(job, job_id))
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_JOB,
			"job result record '%s' belongs to job %s, not %s",
			path, job, job_id);
	*time_ms = (int64_t)t;
	return 0;
bad:
	return sluice__error_set(
		SLUICE_ECORRUPT, SLUICE_ERRCLS_JOB,
		"job result record '%s' is not a sluice job result; delete it "
		"to restore the job's newest checkpoint",
		path);
}

int sluice__run_result_read(sluice_run *r, int64_t *finished_ms)
{
	sluice_storage *st = sluice_checkpoint_storage_backend(r->cs);
	char *path = result_path(r), *copy = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	*finished_ms = -1;
	if (!path)
		return sluice__error_oom();
	rc = sluice_storage_read_all(&data, &len, st, path);
	if (rc == SLUICE_ENOTFOUND) {
		sluice_error_clear();
		rc = 0;
	} else if (rc == 0) {
		if (!(copy = sluice__malloc(len + 1))) {
			rc = sluice__error_oom();
		} else {
			memcpy(copy, data, len);
			copy[len] = '\0';
			rc = parse(path, r->job_id, copy, len, finished_ms);
		}
	}
	sluice_free_bytes(data);
	sluice__free(copy);
	sluice__free(path);
	return rc;
}

int sluice__run_result_clear(sluice_run *r)
{
	sluice_storage *st = sluice_checkpoint_storage_backend(r->cs);
	char *path = result_path(r);
	int rc;

	if (!path)
		return sluice__error_oom();
	rc = sluice_storage_remove(st, path);
	if (rc == SLUICE_ENOTFOUND) {
		sluice_error_clear();
		rc = 0;
	}
	sluice__free(path);
	return rc;
}

int sluice__run_result_check(sluice_run *r)
{
	int64_t when;
	time_t secs;
	struct tm tm;
	char at[32] = "an unknown time";

	SLUICE_ERRCHECK(sluice__run_result_read(r, &when));
	if (when < 0)
		return 0;
	secs = (time_t)(when / 1000);
	if (gmtime_r(&secs, &tm))
		strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return sluice__error_set(
		SLUICE_EEXISTS, SLUICE_ERRCLS_JOB,
		"job %s already finished at %s (recorded in %s/" RESULT_FILE
		"): nothing to restore; run it without --restore to start it "
		"again, or restore its savepoint by path",
		r->job_id, at, sluice_checkpoint_storage_job_dir(r->cs));
}
