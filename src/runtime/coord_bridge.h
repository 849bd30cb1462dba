/*
 * The bridge between a job (the runtime) and the checkpoint coordinator
 * (src/checkpoint/coordinator.h): it implements the coordinator's task
 * vtable over the job (subtask states, per-task trigger, notify complete /
 * aborted, fail job) and a job responder that forwards acks, declines and
 * task failures to the coordinator, converting identities and snapshots.
 *
 * Vertices: the coordinator wants them in topological order; the bridge
 * keeps the mapping from the job's vertex ids.  Attempts: every start of
 * the job is a new attempt of every subtask (the run number), so acks and
 * triggers of an earlier run are recognised as unknown.
 *
 * Use: validate the job, sluice__job_coord_new, build the coordinator
 * with sluice__job_coord_vertices / sluice__job_coord_tasks, attach it
 * with sluice__job_coord_attach, then start the job with the responder of
 * sluice__job_coord_responder.  Threading as both sides document.
 */
#ifndef SLUICE_RUNTIME_COORD_BRIDGE_H
#define SLUICE_RUNTIME_COORD_BRIDGE_H

#include "checkpoint/coordinator.h"
#include "sluice/sys/runtime.h"

typedef struct sluice__job_coord sluice__job_coord;

/* For a validated job (borrowed, outlives the bridge).  SLUICE_EINVALID
 * when not validated, SLUICE_ENOMEM. */
int sluice__job_coord_new(sluice__job_coord **out, sluice_job *job);
void sluice__job_coord_free(sluice__job_coord *b);

/* The job's vertices in topological order (borrowed from the bridge),
 * with their inputs; `*n` entries. */
const sluice__coord_vertex *
sluice__job_coord_vertices(sluice__job_coord *b, int32_t *n);
/* Job vertex id of coordinator vertex `v`, and back. */
int sluice__job_coord_job_vertex(const sluice__job_coord *b, int32_t v);
int32_t sluice__job_coord_coord_vertex(const sluice__job_coord *b, int vertex);

/* The coordinator's task vtable over the job (ctx = b). */
void sluice__job_coord_tasks(sluice__job_coord *b, sluice__coord_tasks *out);
/* Where acks and declines go (borrowed; set before starting the job). */
void sluice__job_coord_attach(sluice__job_coord *b, sluice__coord *c);
/* The responder to start the job with (ctx = b). */
void sluice__job_coord_responder(
	sluice__job_coord *b, sluice_job_responder *out);

#endif
