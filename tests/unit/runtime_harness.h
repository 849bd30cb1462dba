/*
 * The shared harness of the runtime tests (test_runtime*.c), implemented
 * in helper_runtime.c: a replayable gated sequence source, a pass-through
 * map with notification counters, a keyed counter that can fail on
 * demand, a collecting sink that checks exactly-once counts, a fake
 * checkpoint coordinator (triggers, acks, declines, completion, restore
 * sets, a periodic trigger thread), the standard pipeline
 * source -> rebalance -> map -> key-by -> count -> forward -> sink, and a
 * state provider whose uploads fail for a chosen checkpoint id.
 */
#ifndef SLUICE_TESTS_RUNTIME_HARNESS_H
#define SLUICE_TESTS_RUNTIME_HARNESS_H

#include <pthread.h>
#include <stdint.h>

#include "runtime_test_util.h"
#include "sluice/sys/runtime.h"

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v)   __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

#define MAX_KEYS 64
#define SLOTS    32

typedef struct src_cfg {
	int64_t n;     /* records per subtask */
	int keys;      /* distinct keys */
	int64_t gate;  /* atomic: emit while position < gate */
	int hold_init; /* atomic: initialize_state waits while 1 */
	int in_init;   /* atomic: set while waiting */
	int snapshots; /* atomic: snapshot_state calls */
	int restored;  /* atomic: subtasks restored */
	int fail_sync; /* atomic: checkpoint id whose snapshot fails */
} src_cfg;

/* What the map's notification hooks saw (all subtasks). */
typedef struct notes {
	int64_t last_complete; /* atomic */
	int complete_calls;    /* atomic */
	int64_t last_aborted;  /* atomic */
	int aborted_calls;     /* atomic */
} notes;

typedef struct count_cfg {
	int64_t processed; /* atomic, all subtasks and attempts */
	int64_t fail_at;   /* atomic: fail when processed reaches it */
	int64_t target;    /* for counted_target */
} count_cfg;

typedef struct sink_out {
	pthread_mutex_t lock;
	size_t cap; /* counts per key we can record */
	uint8_t *seen[MAX_KEYS];
	int64_t max[MAX_KEYS];
	int64_t records;
	int ended; /* end_input calls */
	int wrong; /* records on a subtask not owning their key */
} sink_out;

typedef struct pending {
	int64_t id; /* 0 = free slot */
	int acks;
	sluice_task_snapshot **snaps;
} pending;

typedef struct coord {
	pthread_mutex_t lock;
	sluice_job *job;
	int num_tasks;
	pending slots[SLOTS];
	int64_t completed_id;
	sluice_task_snapshot **completed;
	int num_completed; /* checkpoints completed */
	struct {
		int task;
		int64_t id;
		int reason;
	} declines[512];
	int num_declines;
	int64_t acked_ids[1024]; /* (id << 8) | task, for ack checks */
	int num_acked;
	int failed;
	int finished;
	/* periodic trigger thread */
	pthread_t th;
	int run;         /* atomic */
	int64_t next_id; /* atomic */
	int interval_ms;
	/* optional checkpoint storage: one location per checkpoint */
	sluice_checkpoint_storage *cs;
	sluice_location *locs[1024]; /* by checkpoint id */
	char completed_dir[1024];    /* location dir of completed_id */
} coord;

typedef struct wait_id {
	coord *c;
	int64_t id;
} wait_id;

typedef struct wait_decl {
	coord *c;
	int64_t id;
	int reason;
	int n;
} wait_decl;

typedef struct pipeline {
	sluice_job *job;
	src_cfg src;
	count_cfg count;
	sink_out sink;
	notes notes;
	int sp;
} pipeline;

extern const sluice_operator rt_source_op; /* arg: src_cfg */
extern const sluice_operator rt_map_op;    /* arg: notes */
extern const sluice_operator rt_count_op;  /* arg: count_cfg */
extern const sluice_operator rt_sink_op;   /* arg: sink_out */

int rt_key_of(int32_t subtask, int64_t pos, int keys);
void rt_free_local(sluice_ctx *ctx, int failed);
int rt_counted_target(void *arg);
void rt_sink_init(sink_out *out, size_t cap);
void rt_sink_release(sink_out *out);
void rt_sink_expect_exact(sink_out *out, const src_cfg *cfg, int sp);
void rt_coord_init(coord *c, sluice_job *job);
void rt_coord_reset_run(coord *c);
void rt_coord_release(coord *c);
/* Write state through `cs` (borrowed), one location per checkpoint. */
void rt_coord_use_storage(coord *c, sluice_checkpoint_storage *cs);
/* Trigger checkpoint `id` (with its location when storage is used);
 * 0 or the failing call's code. */
int rt_coord_trigger_id(coord *c, int64_t id);
void rt_coord_start_periodic(coord *c, int interval_ms);
void rt_coord_stop_periodic(coord *c);
int64_t rt_coord_trigger(coord *c);
int rt_completed_reached(void *arg);
int rt_declines_of(coord *c, int64_t id, int reason);
int rt_acks_of(coord *c, int64_t id);
int rt_declines_reached(void *arg);
int rt_all_running(void *arg);
void rt_start_running(
	sluice_job *job,
	const sluice_job_responder *r,
	const sluice_job_restore *rs);
void rt_restore_of(coord *c, sluice_job_restore *r);
sluice_job_responder rt_responder_of(coord *c);
void rt_pipeline_build(
	pipeline *pl,
	int sp,
	int mp,
	int cp,
	int64_t n,
	sluice_checkpointing_mode mode);
void rt_pipeline_free(pipeline *pl);
int rt_flaky_new(
	sluice_state_provider **out,
	const sluice_state_provider_info *info,
	void *arg);

#endif
