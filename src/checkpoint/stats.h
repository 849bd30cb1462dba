/*
 * Checkpoint statistics (spec §12, the data behind Flink's REST
 * /checkpoints endpoints and job metrics).
 *
 * Per checkpoint: id, kind (CHECKPOINT / SAVEPOINT / SYNC_SAVEPOINT),
 * status, trigger time, latest ack, end-to-end duration (latest ack -
 * trigger), state size, checkpointed size, processed and persisted
 * in-flight bytes, acknowledged/total subtasks, per subtask ack time,
 * sync/async durations, alignment duration and start delay (reported in
 * ns, shown in ms truncated), and for failed ones the failure time, reason
 * and message; completed ones their external path.
 *
 * Counts: restored, total (triggered + failed before a pending checkpoint
 * existed), in progress, completed, failed.  Summary (min, max, avg, p50,
 * p90, p95, p99, p999) of sizes and durations over the last
 * SLUICE_STATS_WINDOW completed checkpoints.  History: the most recent
 * `history_size` checkpoints (in progress included), newest first.
 *
 * Threading: every function is safe from any thread (one internal mutex,
 * a leaf lock: it never calls out).
 */
#ifndef SLUICE_CHECKPOINT_STATS_H
#define SLUICE_CHECKPOINT_STATS_H

#include <pthread.h>

#include "checkpoint/pending.h"

#define SLUICE_STATS_WINDOW          10000
#define SLUICE_STATS_DEFAULT_HISTORY 10

typedef enum sluice__ckpt_status {
	SLUICE_CKPT_IN_PROGRESS = 0,
	SLUICE_CKPT_COMPLETED = 1,
	SLUICE_CKPT_FAILED = 2
} sluice__ckpt_status;

typedef enum sluice__ckpt_kind {
	SLUICE_CKPT_CHECKPOINT = 0,
	SLUICE_CKPT_SAVEPOINT = 1,
	SLUICE_CKPT_SYNC_SAVEPOINT = 2
} sluice__ckpt_kind;

typedef struct sluice__subtask_stats {
	int32_t vertex, subtask;
	int acked;
	int64_t ack_ts_ms;
	uint64_t state_size, checkpointed_size;
	int64_t sync_ms, async_ms, alignment_ms, start_delay_ms;
	uint64_t processed, persisted;
	int unaligned;
} sluice__subtask_stats;

typedef struct sluice__ckpt_stats {
	int refs; /* internal */
	int64_t id;
	sluice__ckpt_status status;
	sluice__ckpt_kind kind;
	int64_t trigger_ts_ms, latest_ack_ts_ms, failure_ts_ms;
	uint64_t state_size, checkpointed_size, processed, persisted;
	int32_t num_subtasks, num_acked;
	sluice__subtask_stats *subtasks; /* num_subtasks entries */
	char *external_path;             /* completed only */
	int discarded;
	sluice_failure_reason reason; /* failed only */
	char *failure_message;        /* failed only */
} sluice__ckpt_stats;

typedef struct sluice__stats_counts {
	int64_t restored, total, in_progress, completed, failed;
} sluice__stats_counts;

typedef struct sluice__stats_series {
	int64_t *v;
	size_t n, next; /* ring of up to SLUICE_STATS_WINDOW values */
} sluice__stats_series;

typedef struct sluice__stats {
	pthread_mutex_t lock;
	char **vertex_names; /* owned copies */
	int32_t n_vertices;
	size_t history_size;
	sluice__ckpt_stats **history; /* newest last; up to history_size */
	size_t n_history;             /* + every in-progress entry */
	sluice__stats_counts counts;
	sluice__ckpt_stats *latest_completed, *latest_savepoint, *latest_failed;
	int has_restored;
	int64_t restored_id, restore_ts_ms;
	int restored_savepoint;
	char *restored_path;
	sluice__stats_series s_ckpt_size, s_state_size, s_e2e, s_processed,
		s_persisted;
} sluice__stats;

/* `names`: n_vertices vertex names (copied).  SLUICE_ENOMEM. */
int sluice__stats_init(
	sluice__stats *st,
	const char *const *names,
	int32_t n_vertices,
	size_t history_size);
void sluice__stats_release(sluice__stats *st);

/* A pending checkpoint was created for `plan.running` subtasks. */
int sluice__stats_report_pending(
	sluice__stats *st,
	int64_t id,
	sluice__ckpt_kind kind,
	int64_t trigger_ts_ms,
	const sluice__plan *plan);
/* A subtask acknowledged (snap may be NULL: no state). */
void sluice__stats_report_ack(
	sluice__stats *st,
	int64_t id,
	int32_t vertex,
	int32_t subtask,
	int64_t ack_ts_ms,
	const sluice__subtask_snapshot *snap);
void sluice__stats_report_completed(
	sluice__stats *st, int64_t id, const char *external_path);
void sluice__stats_report_failed(
	sluice__stats *st,
	int64_t id,
	int64_t failure_ts_ms,
	sluice_failure_reason reason,
	const char *message);
/* A request failed before a pending checkpoint existed. */
void sluice__stats_report_failed_without_pending(sluice__stats *st);
void sluice__stats_report_restored(
	sluice__stats *st,
	int64_t id,
	int64_t restore_ts_ms,
	int is_savepoint,
	const char *external_path);

void sluice__stats_counts_get(sluice__stats *st, sluice__stats_counts *out);
/*
 * The scalar fields of the latest completed checkpoint (not savepoint),
 * copied into `*out` without its pointers (subtasks, paths, messages are
 * NULL): a cheap read for live status displays.  0, or SLUICE_ENOTFOUND
 * (no error set) when none completed yet.
 */
int sluice__stats_latest_completed(sluice__stats *st, sluice__ckpt_stats *out);

/*
 * Deep copy of the statistics of checkpoint `id` if still in the history
 * (or the latest completed / savepoint / failed).  Free with
 * sluice__ckpt_stats_free.  SLUICE_ENOTFOUND, SLUICE_ENOMEM.
 */
int sluice__stats_get(sluice__stats *st, int64_t id, sluice__ckpt_stats **out);
void sluice__ckpt_stats_free(sluice__ckpt_stats *c);

/*
 * The JSON document of Flink's GET /jobs/:id/checkpoints (counts,
 * summary, latest, history) when `id` < 0, or the details of one
 * checkpoint (with per-task and per-subtask data) otherwise.  `*out` is a
 * NUL-terminated string freed with sluice__free.  SLUICE_ENOTFOUND,
 * SLUICE_ENOMEM.
 */
int sluice__stats_json(sluice__stats *st, int64_t id, char **out);

/* Kind / status names as in the REST API ("SAVEPOINT", "COMPLETED"). */
const char *sluice__ckpt_kind_name(sluice__ckpt_kind kind);
const char *sluice__ckpt_status_name(sluice__ckpt_status status);

#endif
