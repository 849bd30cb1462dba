/*
 * Channel state of unaligned checkpoints (spec §4.4): the in-flight
 * buffers a barrier overtook, their persisted form, and the writer that
 * lets several subtasks share one channel-state file.
 *
 * Behaviour:
 *  - A subtask's channel state for checkpoint n is a list of entries in
 *    arrival order: INPUT entries (input number, inbox channel index,
 *    buffer) for buffers taken from a channel after the checkpoint
 *    started at the task and before that channel's barrier; OUTPUT
 *    entries (output edge, channel, buffer) for buffers the barrier
 *    overtook in the output queues and the producer's pending buffer.
 *    The buffers are network buffers (records in the wire format of
 *    output.c), replayed on restore before any new input: OUTPUT entries
 *    are pushed to their channels again, INPUT entries are processed.
 *  - Blob (one subtask, one checkpoint; docs/format/channel-state.md):
 *    u32 magic "SLCS", u16 version 1, entries (u8 kind 1 input / 2
 *    output, u16 gate, u32 channel, u32 length, bytes), u32 entry count,
 *    u64 xxh3-64 of every byte before it.  Parsing checks magic,
 *    version, bounds, the count and the checksum; errors are
 *    SLUICE_ECORRUPT naming `what` and the byte offset.
 *  - Reference (the `_metadata` section SLUICE_META_EXT_CHANNEL_STATE of
 *    the subtask): u16 version 1, the stream handle of the file (u8 kind,
 *    str16 path, u64 size, u64 xxh3-64, inline bytes when INLINE), u64
 *    offset and u64 length of the subtask's blob in that file, u64
 *    xxh3-64 of the blob.  Reading verifies the file's checksum and then
 *    the blob's.
 *  - Shared files (execution.checkpointing.unaligned.max-subtasks-per-
 *    channel-state-file, k): task i belongs to group i / k.  For every
 *    checkpoint that may be unaligned, each live member of a group either
 *    contributes (its acknowledged snapshot and blob, possibly empty) or
 *    withdraws (it declined or skipped the checkpoint); a member that
 *    ends leaves the group.  When every live member acted, the last one
 *    writes one file with all non-empty blobs (no file when all are
 *    empty), fills in each member's reference and acknowledges for all.
 *    A withdrawal means the checkpoint fails: contributed snapshots are
 *    dropped.  A write failure declines the member whose blob could not
 *    be written with CHECKPOINT_ASYNC_EXCEPTION and, first, every other
 *    member with CHANNEL_STATE_SHARED_STREAM_EXCEPTION.  A group holds
 *    one checkpoint at a time: an action for a newer id drops an
 *    unfinished older one (it was aborted: max-concurrent is 1 with
 *    unaligned checkpoints); actions for older ids are ignored.
 *
 * Threading: the writer is thread-safe (task and snapshot-pool threads);
 * files are written outside its lock by the completing thread.
 */
#ifndef SLUICE_RUNTIME_CHSTATE_H
#define SLUICE_RUNTIME_CHSTATE_H

#include <pthread.h>

#include "sluice/sys/runtime.h"
#include "sluice/sys/storage.h"
#include "util/buf.h"

#define SLUICE__CHS_MAGIC   0x534c4353u /* "SLCS" */
#define SLUICE__CHS_VERSION 1
#define SLUICE__CHS_INPUT   1
#define SLUICE__CHS_OUTPUT  2

/* Entries being collected for one checkpoint. */
typedef struct sluice__chs {
	sluice_buf buf;
	uint32_t entries;
	uint64_t bytes; /* buffer bytes (persisted in-flight data) */
} sluice__chs;

void sluice__chs_init(sluice__chs *c);
void sluice__chs_release(sluice__chs *c);
/* Append one buffer.  0 or SLUICE_ENOMEM. */
int sluice__chs_add(
	sluice__chs *c,
	int kind,
	uint16_t gate,
	uint32_t channel,
	const void *data,
	size_t len);
/* The blob of what was added (caller frees; NULL with *len 0 when
 * nothing was), then `c` is empty again.  0 or SLUICE_ENOMEM. */
int sluice__chs_finish(sluice__chs *c, uint8_t **out, size_t *len);

typedef struct sluice__chs_entry {
	int kind;
	uint16_t gate;
	uint32_t channel;
	const uint8_t *data; /* points into the blob */
	uint32_t len;
} sluice__chs_entry;

/* Parse and verify a blob; `*out` (caller frees) points into `blob`.
 * 0, SLUICE_ECORRUPT (naming `what`), SLUICE_ENOMEM. */
int sluice__chs_parse(
	const uint8_t *blob,
	size_t len,
	const char *what,
	sluice__chs_entry **out,
	size_t *n);

/* Encode a reference to `len` bytes at `off` of the file `h`. */
int sluice__chs_ref_encode(
	uint8_t **out,
	uint32_t *out_len,
	const sluice_stream_handle *h,
	uint64_t off,
	uint64_t len,
	uint64_t checksum);
/* Resolve a reference: read the file through `st` / `dir` (INLINE needs
 * neither), verify it and the blob; `*blob` is the caller's.  Errors
 * SLUICE_ECORRUPT / I/O codes, messages naming `what`. */
int sluice__chs_read(
	uint8_t **blob,
	size_t *len,
	const uint8_t *ref,
	size_t ref_len,
	sluice_storage *st,
	const char *dir,
	const char *what);

/* ---- shared channel-state files ---------------------------------------- */

typedef struct sluice__csw_entry sluice__csw_entry;

typedef struct sluice__csw {
	pthread_mutex_t lock;
	int inited;
	int per_file;
	int num_tasks;
	int num_groups;
	uint8_t *left;           /* per task */
	sluice__csw_entry **cur; /* per group: its open checkpoint */
	int64_t *floor;          /* per group: newest id finished */
	const sluice_stream_factory *streams; /* open NULL: memory */
	const sluice_job_responder *resp;
	const int *stopping; /* atomic; acks are dropped once set */
} sluice__csw;

/* 0 or SLUICE_ENOMEM / SLUICE_ERROR.  `streams`, `resp`, `stopping`
 * are borrowed. */
int sluice__csw_init(
	sluice__csw *w,
	int num_tasks,
	int per_file,
	const sluice_stream_factory *streams,
	const sluice_job_responder *resp,
	const int *stopping);
/* Drops unfinished checkpoints (their snapshots are freed). */
void sluice__csw_release(sluice__csw *w);
/* Task `task` acknowledges `id` with `snap` and its channel-state blob
 * (both taken over; `blob` may be NULL). */
void sluice__csw_contribute(
	sluice__csw *w,
	int task,
	int64_t id,
	const sluice_task_info *info,
	sluice_task_snapshot *snap,
	uint8_t *blob,
	size_t len);
/* Task `task` gives `id` up (declined, skipped, aborted). */
void sluice__csw_withdraw(sluice__csw *w, int task, int64_t id);
/* Task `task` ended: no more actions from it. */
void sluice__csw_leave(sluice__csw *w, int task);

#endif
