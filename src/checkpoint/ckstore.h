/*
 * The coordinator's storage side, over real checkpoint storage: creates
 * chk-<n> / savepoint locations, lets tasks open state streams in the
 * location of checkpoint n by id, writes `_metadata` from the acks (the
 * commit point), keeps completed checkpoints with retention and the
 * shared-state registry, and discards aborted checkpoints.
 *
 * It implements sluice__coord_storage (coordinator.h).  The coordinator
 * calls finalize/add_completed/discard under its own lock; tasks call
 * sluice__ckstore_open_stream() from snapshot threads concurrently.  An
 * internal mutex guards the table of open locations, so a task opening a
 * stream while its checkpoint is being discarded gets SLUICE_ENOTFOUND
 * instead of a dangling location; a stream already open keeps working (it
 * holds no reference to the location) and its handle is discarded with
 * the late ack.
 */
#ifndef SLUICE_CHECKPOINT_CKSTORE_H
#define SLUICE_CHECKPOINT_CKSTORE_H

#include "checkpoint/coordinator.h"
#include "sluice/clock.h"
#include "sluice/sys/metadata.h"
#include "sluice/sys/storage.h"

/* What `_metadata` records per job vertex (index = coordinator vertex). */
typedef struct sluice__ckstore_vertex {
	const char *uid;  /* stable operator id; restore matches on it */
	const char *name; /* display name */
	int32_t parallelism;
	int32_t max_parallelism;
} sluice__ckstore_vertex;

typedef struct sluice__ckstore sluice__ckstore;

/*
 * New adapter over `cs` (borrowed, outlives the adapter).  Copies the
 * vertices and `job_id`.  `settings` gives num-retained and the retention
 * recorded in checkpoint properties; `clock` (borrowed) the completion
 * time.  SLUICE_ENOMEM.
 */
int sluice__ckstore_new(
	sluice__ckstore **out,
	sluice_checkpoint_storage *cs,
	const sluice_checkpoint_settings *settings,
	const char *job_id,
	sluice_clock *clock,
	const sluice__ckstore_vertex *vertices,
	int32_t n_vertices);
/* Frees locations still open (without deleting them) and the store. */
void sluice__ckstore_free(sluice__ckstore *s);

/* The vtable to hand to sluice__coord_new(); ctx = s. */
void sluice__ckstore_vtable(sluice__ckstore *s, sluice__coord_storage *out);

/*
 * Open a state stream in the location of checkpoint `id` (a task's async
 * phase).  SLUICE_ENOTFOUND when the checkpoint is no longer pending.
 */
int sluice__ckstore_open_stream(
	sluice_ostream **out,
	sluice__ckstore *s,
	int64_t id,
	sluice_scope scope);

/*
 * Delete the file of a stream handle an async phase uploaded and then
 * gave up on (its checkpoint never names it): FILE handles only, best
 * effort (a failure is logged; `sluice checkpoint gc` finds the file).
 */
void sluice__ckstore_discard_stream(
	sluice__ckstore *s, const sluice_stream_handle *h);

/*
 * Seed the completed store with a restored checkpoint (takes over `m`),
 * so retention counts it and its shared files are registered.
 */
int sluice__ckstore_add_restored(
	sluice__ckstore *s, sluice_checkpoint_meta *m, const char *dir);

/*
 * NO_CLAIM restore of checkpoint `id`: shared files created by checkpoints
 * up to `id` are never deleted by this job (spec §10).  Call before the
 * coordinator runs.
 */
void sluice__ckstore_protect_upto(sluice__ckstore *s, int64_t id);

/* The completed store (borrowed; for statistics and shutdown). */
sluice_completed_store *sluice__ckstore_completed(sluice__ckstore *s);

#endif
