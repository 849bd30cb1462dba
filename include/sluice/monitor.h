/*
 * Watching and steering a running job from outside: live metrics of a job
 * and of a sluice_run (what `sluice run` shows in its status line), and the
 * control channel through which another process (`sluice savepoint
 * JOB-DIR`) asks a running sluice_run for a savepoint.
 *
 * Metrics are cumulative counters plus a timestamp; a viewer takes two
 * snapshots and divides the differences by the time between them (records
 * per second, share of time backpressured).  Counting costs a task a plain
 * add per record and two clock reads per network buffer it sends; readers
 * never block task threads.
 *
 * The control channel is a unix stream socket `JOB-DIR/.control/sock`
 * (mode 0700 directory, so only the job's user can connect) with the
 * owning process id in `JOB-DIR/.control/pid`.  One request per
 * connection, one line each way (docs/run.md):
 *
 *   client: "SAVEPOINT <target dir or empty>\n"
 *   server: "OK <savepoint path>\n"  or  "ERR <code> <message>\n"
 *
 * Requests are served one at a time in arrival order, each a real
 * savepoint through the coordinator; the job keeps running.  A socket
 * left behind by a process that died is recognised (nobody accepts on
 * it) and replaced by the next server; a client finding nobody reports
 * that the job is not running, naming the directory.
 */
#ifndef SLUICE_MONITOR_H
#define SLUICE_MONITOR_H

#include "common.h"
#include "job.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Cumulative counters of a job over all its starts (restarts included). */
typedef struct sluice_job_metrics {
	uint64_t records_in;  /* records emitted by source subtasks */
	uint64_t records_out; /* records received by sink subtasks */
	/* Time source subtasks spent handing full buffers to their output
	 * channels, summed over source subtasks: almost all of it is waiting
	 * for credit, i.e. backpressure from downstream.  Job clock, ns. */
	int64_t source_backpressured_ns;
	int32_t source_subtasks; /* per start (the graph's sources) */
	int32_t sink_subtasks;
} sluice_job_metrics;

/*
 * Read the job's counters into `*out`: those of earlier starts plus the
 * live ones of the running tasks.  Any thread, but not concurrently with
 * sluice_job_start / stop / free (the same rule as the checkpoint entry
 * points; sluice_run_metrics_read takes care of it for a run).  Never
 * fails; returns 0.
 */
SLUICE_EXTERN(int)
sluice_job_metrics_read(sluice_job *job, sluice_job_metrics *out);

/* A snapshot of a run: job counters, checkpoints, restarts. */
typedef struct sluice_run_metrics {
	int64_t mono_ms;        /* the run clock's monotonic ms at the read */
	sluice_job_state state; /* as sluice_run_state */
	int32_t restarts;
	sluice_job_metrics job;
	/* checkpoint counts as in the statistics (savepoints included) */
	int64_t checkpoints_completed;
	int64_t checkpoints_failed;
	int64_t checkpoints_in_progress;
	/* the latest completed checkpoint (not savepoint); id -1: none */
	int64_t last_id;
	int64_t last_duration_ms;        /* trigger to last acknowledgement */
	uint64_t last_state_size;        /* bytes of the full state */
	uint64_t last_checkpointed_size; /* bytes written by it */
	int64_t last_completed_wall_ms;  /* its last acknowledgement */
} sluice_run_metrics;

/*
 * Snapshot the run's metrics into `*out`.  Any thread while the run
 * exists (also after it ended); waits while the job is being started or
 * stopped (a restart).  Allocates nothing; returns 0.
 */
SLUICE_EXTERN(int)
sluice_run_metrics_read(sluice_run *run, sluice_run_metrics *out);

/*
 * Serve the control channel of `run` in directory `dir` (created with its
 * parents when missing; NULL = sluice_run_control_dir's default).  Starts a
 * thread that answers savepoint requests with sluice_job_trigger_savepoint
 * (target from the request, or execution.checkpointing.savepoint-dir).
 * Served until sluice_run_free.  Once per run.
 *
 * Returns 0; SLUICE_EBUSY when another live server holds `dir` (message
 * names the directory and its pid) or this run already serves one;
 * SLUICE_EIO for file system or socket errors; SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int)
sluice_run_serve_control(sluice_run *run, const char *dir);

/*
 * The default control directory of `run`, freed with sluice_free_bytes:
 * the job's checkpoint directory (`<execution.checkpointing.dir>/<job-id>`)
 * when it is on the local file system, else `$TMPDIR/sluice-<uid>/<job-id>`
 * (TMPDIR unset: /tmp).  Returns 0 or SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int) sluice_run_control_dir(sluice_run *run, char **out);

/*
 * Ask the process serving `dir` for a savepoint into `target` (NULL: its
 * configured savepoint directory) and wait for it; `*path` receives the
 * savepoint's directory (sluice_free_bytes).  Any thread, any process of
 * the same user.
 *
 * A relative local `target` is taken relative to the caller's working
 * directory; the returned path is absolute for local savepoints.
 *
 * Returns 0; SLUICE_ENOTFOUND when `dir` does not exist or nothing serves
 * it (no socket, or a stale one: "no running job serves DIR ...");
 * otherwise the server's code and message when the savepoint could not
 * be taken (SLUICE_EINVALID: the job is not running, e.g. it ended or is
 * restarting; SLUICE_ERROR: the savepoint failed, with the coordinator's
 * reason); SLUICE_EIO when the connection broke (the job stopped
 * meanwhile); SLUICE_EINVALID for a target with a newline or too long;
 * SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int)
sluice_savepoint_request(const char *dir, const char *target, char **path);

#ifdef __cplusplus
}
#endif
#endif
