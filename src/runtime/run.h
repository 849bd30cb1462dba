/*
 * Internals of sluice_run (include/sluice/job.h), shared by run.c (the
 * lifecycle: construction, the coordinator thread, failover, savepoints,
 * shutdown) and run_restore.c (which snapshot a start or a restart
 * restores).  Not a public interface.
 */
#ifndef SLUICE_RUNTIME_RUN_H
#define SLUICE_RUNTIME_RUN_H

#include <pthread.h>

#include "checkpoint/ckstore.h"
#include "checkpoint/coordinator.h"
#include "checkpoint/restart.h"
#include "runtime/coord_bridge.h"
#include "runtime/runtime.h"

/* execution.state-recovery.claim-mode, in the option's enum order. */
typedef enum sluice__claim_mode {
	SLUICE__CLAIM = 0,
	SLUICE__NO_CLAIM = 1,
	SLUICE__LEGACY = 2
} sluice__claim_mode;

/* The control channel of a run (run_control.c); NULL when not served. */
typedef struct sluice__run_control sluice__run_control;
/* Stop serving (joins the thread; a request in progress finishes first)
 * and free.  NULL-safe. */
void sluice__run_control_free(sluice__run_control *c);

struct sluice_run {
	sluice_job *job; /* borrowed */
	sluice_clock *clock;
	char job_id[33];
	int checkpointing; /* periodic checkpoints configured */
	int allow_non_restored;
	int64_t without_cs_id; /* restore this one without channel state */
	sluice__claim_mode claim;
	sluice_checkpoint_storage *cs;
	sluice__ckstore *ks;
	sluice__job_coord *bridge;
	sluice__coord *coord;
	sluice__restart restart;
	int restart_inited;
	/* the keyed backends of state.backend.type, when the job did not
	 * choose a provider: the config copy owns the strings kpc borrows */
	sluice_config *conf;
	sluice_keyed_provider_config kpc;
	int keyed_provider;
	sluice_job_responder inner; /* the bridge's responder */
	sluice_job_responder resp;  /* wraps inner; given to the job */
	pthread_t thread;
	int thread_started;
	/* ctl serialises job start/stop (run thread) with checkpoint entry
	 * points called from other threads (savepoint triggers) */
	pthread_mutex_t ctl;
	int job_running; /* under ctl */
	/* lock guards the fields below; cond signals wake-ups and the end */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int woken;
	int cancel;         /* cancel requested */
	int stop_savepoint; /* stop-with-savepoint completed: stop */
	int ended;
	/* tasks of the current start that reached their end of data: the
	 * first one sets first_end_due (the run thread notes the next
	 * checkpoint id then, in first_end_id), the last one final_due (the
	 * run thread triggers the final checkpoint unless one was triggered
	 * since the first end) */
	int data_ended;
	int first_end_due;
	int final_due;
	int64_t first_end_id; /* run thread only */
	int32_t restarts;
	sluice_run_result result;
	sluice__run_control *control; /* sluice_run_serve_control */
};

/*
 * The job result record `<job dir>/_job_result` (run_result.c): write
 * that the job FINISHED (before retention discards its checkpoints);
 * read it (*finished_ms = the wall time it finished, -1 when there is no
 * record; SLUICE_ECORRUPT naming the file when damaged); clear it when
 * the job starts again.  Storage codes otherwise.
 */
int sluice__run_result_write(sluice_run *r);
int sluice__run_result_read(sluice_run *r, int64_t *finished_ms);
int sluice__run_result_clear(sluice_run *r);
/* 0 without a record; SLUICE_EEXISTS saying when the job finished. */
int sluice__run_result_check(sluice_run *r);

/*
 * Start the job for the first time, restoring what `path` names (NULL:
 * the newest verified checkpoint when `latest`, else nothing).  On
 * success the snapshot seeds the completed store and the coordinator's
 * id counter, and `run->result.restored_id` is set.  With `latest` and
 * a job result record saying the job finished, nothing starts:
 * SLUICE_EEXISTS with a message saying when.  Codes of loading, matching
 * and sluice_job_start.
 */
int sluice__run_first_start(sluice_run *run, const char *path, int latest);

/*
 * Restart the job from the newest retained snapshot that verifies (none:
 * fresh).  Called with run->ctl held and the job stopped.  Codes of
 * sluice_job_start.
 */
int sluice__run_restart_job(sluice_run *run);

#endif
