/*
 * Which snapshot a run restores, and how it is handed to the job and the
 * coordinator (spec §5.4, §10):
 *
 * - first start: execution.state-recovery.path (a checkpoint or savepoint
 *   directory or its `_metadata`, on the storage of its URI) or, when the
 *   run asks for the latest, the newest `chk-<n>` under the job's
 *   checkpoint directory whose `_metadata` reads and whose files verify
 *   (sluice_checkpoint_discover skips newer broken ones with a warning);
 *   nothing found is a fresh start.  The snapshot then seeds the completed
 *   store (so a failover before the first new checkpoint restores it
 *   again) and the coordinator's id counter.  CLAIM: seeded as it is, so
 *   retention subsumes and deletes it like the job's own checkpoints.
 *   NO_CLAIM / LEGACY: seeded as an unowned snapshot (kept like a
 *   savepoint: never deleted) and, for NO_CLAIM, shared files created up
 *   to its id are protected in the registry.
 * - restart after a failure: the newest entry of the completed store
 *   whose files verify; entries that do not are skipped with a warning
 *   naming the problem; none left is a fresh start.
 *
 * In both cases state whose uid matches no vertex fails the start with
 * Flink's message unless execution.state-recovery.ignore-unclaimed-state.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/run.h"
#include "sluice/sys/metadata.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/log.h"

void sluice_job_id_of(const char *name, char out[33])
{
	uint64_t a = sluice__xxh3(name, strlen(name));
	uint64_t b = sluice__fmix64(a ^ 0x9e3779b97f4a7c15ull);

	snprintf(
		out, 33, "%016llx%016llx", (unsigned long long)a,
		(unsigned long long)b);
}

static int is_savepoint(const sluice_checkpoint_meta *m)
{
	return m->props.kind == SLUICE_SNAPSHOT_SAVEPOINT ||
	       m->props.kind == SLUICE_SNAPSHOT_SYNC_SAVEPOINT;
}

static int has_channel_state(const sluice_restore_set *rs)
{
	size_t i;

	for (i = 0; i < rs->restore.num_tasks; i++)
		if (rs->restore.tasks[i]->channel_state)
			return 1;
	return 0;
}

/* Start the job with the state of `m` in `dir` read through `st`. */
static int start_from(
	sluice_run *run,
	const sluice_checkpoint_meta *m,
	sluice_storage *st,
	const char *dir)
{
	sluice_restore_set *rs = NULL;
	int rc;

	SLUICE_ERRCHECK(sluice_restore_set_from_meta(&rs, m, st, dir));
	rs->restore.allow_non_restored = run->allow_non_restored;
	if (run->without_cs_id >= 0 && m->checkpoint_id == run->without_cs_id &&
	    has_channel_state(rs)) {
		rs->restore.ignore_channel_state = 1;
		sluice__warn(
			"job %s: restoring checkpoint %lld without its channel "
			"state (execution.state-recovery.without-channel-state."
			"checkpoint-id): the in-flight records it held are "
			"lost",
			run->job_id, (long long)m->checkpoint_id);
	}
	rc = sluice_job_start(run->job, &run->resp, &rs->restore);
	sluice_restore_set_free(rs);
	return rc;
}

/* Load what execution.state-recovery.path names, or discover the newest
 * checkpoint; *m stays NULL for a fresh start. */
static int find_initial(
	sluice_run *run,
	const char *path,
	int latest,
	sluice_checkpoint_meta **m,
	char **dir,
	sluice_storage **st)
{
	int rc;

	*m = NULL;
	*dir = NULL;
	if (path) {
		SLUICE_ERRCHECK(sluice_storage_for_uri(st, path));
		return sluice_checkpoint_load(m, dir, *st, path);
	}
	if (!latest)
		return 0;
	SLUICE_ERRCHECK(sluice__run_result_check(run));
	*st = sluice_checkpoint_storage_backend(run->cs);
	rc = sluice_checkpoint_discover(
		m, dir, *st, sluice_checkpoint_storage_job_dir(run->cs), NULL,
		NULL);
	if (rc == SLUICE_ENOTFOUND) {
		sluice__info(
			"job %s: no completed checkpoint under %s; starting "
			"without state",
			run->job_id,
			sluice_checkpoint_storage_job_dir(run->cs));
		sluice_error_clear();
		return 0;
	}
	return rc;
}

/* Hand the restored snapshot (taken over) to the coordinator and store. */
static int seed(sluice_run *run, sluice_checkpoint_meta *m, const char *dir)
{
	int64_t id = m->checkpoint_id;
	int sp = is_savepoint(m);

	sluice__coord_restored(run->coord, id, sp, dir);
	if (run->claim != SLUICE__CLAIM) {
		if (run->claim == SLUICE__NO_CLAIM)
			sluice__ckstore_protect_upto(run->ks, id);
		/* unowned: retention never deletes it */
		m->props.kind = SLUICE_SNAPSHOT_SAVEPOINT;
	}
	run->result.restored_id = id;
	sluice__info(
		"job %s: restored %s %lld from %s", run->job_id,
		sp ? "savepoint" : "checkpoint", (long long)id, dir);
	return sluice__ckstore_add_restored(run->ks, m, dir);
}

int sluice__run_first_start(sluice_run *run, const char *path, int latest)
{
	sluice_checkpoint_meta *m = NULL;
	sluice_storage *st = NULL;
	char *dir = NULL;
	int rc;

	if ((rc = find_initial(run, path, latest, &m, &dir, &st)) < 0 ||
	    (rc = sluice__run_result_clear(run)) < 0)
		goto out;
	if (!m) {
		rc = sluice_job_start(run->job, &run->resp, NULL);
		goto out;
	}
	if ((rc = start_from(run, m, st, dir)) < 0)
		goto out;
	rc = seed(run, m, dir);
	m = NULL;
	if (rc < 0) /* the job runs from it anyway; retention misses it */
		sluice__warn(
			"job %s: could not register the restored snapshot: %s",
			run->job_id, sluice_error_last()->message);
	rc = 0;
out:
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
	return rc;
}

static void verify_problem(const char *problem, void *ctx)
{
	sluice__warn(
		"job %s: skipping a retained checkpoint on restart: %s",
		(const char *)ctx, problem);
}

int sluice__run_restart_job(sluice_run *run)
{
	sluice_completed_store *cs = sluice__ckstore_completed(run->ks);
	size_t i = sluice_completed_store_count(cs);

	while (i-- > 0) {
		const char *dir = NULL;
		const sluice_checkpoint_meta *m =
			sluice_completed_store_get(cs, i, &dir);
		sluice_storage *st;
		int rc;

		if (!m || sluice_storage_for_uri(&st, dir) < 0 ||
		    sluice_checkpoint_verify(
			    st, dir, m, verify_problem, run->job_id) < 0) {
			sluice_error_clear();
			continue;
		}
		if ((rc = start_from(run, m, st, dir)) < 0)
			return rc;
		sluice__coord_restored(run->coord, m->checkpoint_id, 0, dir);
		sluice__info(
			"job %s: restarted from checkpoint %lld", run->job_id,
			(long long)m->checkpoint_id);
		return 0;
	}
	sluice__info(
		"job %s: no retained checkpoint verifies; restarting without "
		"state",
		run->job_id);
	return sluice_job_start(run->job, &run->resp, NULL);
}
