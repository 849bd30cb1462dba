/*
 * Internal structures of the dataflow runtime, shared by job.c (graph,
 * lifecycle, restore assignment), task.c (the per-subtask mailbox loop and
 * task-side checkpoints), output.c (record serialization and
 * partitioning), ctx.c (the operator context) and pool.c (snapshot
 * threads).
 *
 * Ownership: the job owns vertices, edges, tasks, channels and the pool.
 * A task owns its inbox, output buffers, barrier handler, timers and state
 * provider.  Channels are owned by the job and referenced by the producer
 * task (output edge) and the consumer task (inbox).
 */
#ifndef SLUICE_RUNTIME_RUNTIME_H
#define SLUICE_RUNTIME_RUNTIME_H

#include <pthread.h>

#include "sluice/job.h"
#include "sluice/sys/runtime.h"
#include "runtime/barrier.h"
#include "runtime/channel.h"
#include "runtime/chstate.h"
#include "util/buf.h"

#define SLUICE__ABORTED_MAX 128

typedef struct sluice__vertex {
	sluice_vertex_kind kind;
	char *uid;
	char *name;
	int32_t parallelism;
	int32_t max_parallelism;
	int max_parallelism_set; /* given explicitly in the spec */
	const sluice_operator *op;
	void *arg;
	int num_inputs;   /* 0, 1 or 2 */
	int connected[2]; /* edges into input 0 / 1 */
	int num_outputs;  /* outgoing edges */
	int first_task;   /* task index of subtask 0 */
} sluice__vertex;

typedef struct sluice__edge {
	int from;
	int to;
	int input;
	sluice_partitioning part;
} sluice__edge;

/* One outgoing edge of a producer subtask. */
typedef struct sluice__out_edge {
	sluice_partitioning part;
	int32_t target_p;
	int32_t target_maxp;
	int num_channels;
	sluice__channel **channels; /* by consumer subtask; forward: 1 */
	sluice_buf *bufs;           /* pending buffer per channel */
	int rr;
} sluice__out_edge;

/* Snapshot-pool work item. */
typedef struct sluice__work {
	struct sluice__work *next;
	void (*run)(struct sluice__work *w);
	void (*discard)(struct sluice__work *w);
} sluice__work;

typedef struct sluice__pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	sluice__work *head, *tail;
	pthread_t *threads;
	int num_threads;
	int stop;
	int inited;
} sluice__pool;

int sluice__pool_init(sluice__pool *pool, int threads);
/* Queue `w`; it runs once (or is discarded at shutdown). */
int sluice__pool_submit(sluice__pool *pool, sluice__work *w);
/* Run what is queued, join the threads.  Safe on a zeroed pool. */
void sluice__pool_shutdown(sluice__pool *pool);

typedef struct sluice__task sluice__task;

/* Cumulative live metrics of a job over all its runs (metrics.c). */
typedef struct sluice__job_totals {
	uint64_t records_in;  /* emitted by sources */
	uint64_t records_out; /* received by sinks */
	int64_t source_blocked_ns;
} sluice__job_totals;

struct sluice__task {
	sluice_job *job;
	int index;
	sluice__vertex *v;
	int32_t subtask;
	int32_t kg_start, kg_end;
	int state; /* sluice_task_state, atomic */
	pthread_t thread;
	int thread_started;
	sluice__inbox inbox;
	sluice__out_edge *outs;
	int num_outs;
	sluice__barrier_handler handler;
	int handler_inited;
	sluice_state_provider *provider;
	int restored;
	int restored_finished; /* a source that had finished: starts at END */
	int inputs_open[2];    /* channels without end of partition */
	int data_open[2];      /* channels without end of data */
	uint8_t *data_ended;   /* per input channel */
	int all_ended;         /* every channel ended its partition */
	int data_done;         /* end of data reached (all inputs / source) */
	int final_wait;        /* wait for a final checkpoint (option) */
	int64_t final_id;      /* first checkpoint after end of data, -1 */
	int final_done;        /* a checkpoint >= final_id completed */
	/* operator context */
	sluice_slice key;
	sluice_buf key_buf;
	void *local;
	int64_t *timers; /* sorted ascending */
	size_t num_timers, cap_timers;
	/* checkpoints */
	int64_t last_checkpoint; /* newest barrier taken or declined */
	int64_t aborted[SLUICE__ABORTED_MAX];
	int num_aborted;
	int aborted_next;
	/* live metrics (metrics.c): written by the task thread only, with
	 * relaxed atomic stores; read from any thread */
	uint64_t m_emitted;   /* records emitted */
	uint64_t m_received;  /* records handed to process */
	int64_t m_blocked_ns; /* time spent pushing output buffers */
	/* unaligned checkpoints (job option unaligned) */
	int unaligned;
	int64_t cs_id;         /* collecting channel state for it, -1 */
	uint8_t *cs_recording; /* per input channel: before its barrier */
	sluice__chs cs;        /* entries collected so far */
	void *cs_work;         /* its snapshot, submitted at the last barrier */
	uint64_t bytes_in;     /* data bytes taken from the inputs */
	uint64_t bytes_at_start; /* bytes_in when the checkpoint began */
	/* aligned barrier sent with a timeout, its snapshot held until every
	 * consumer took it or the timeout made it unaligned */
	int64_t out_id; /* -1 none */
	void *out_work;
	sluice__btrack *out_track; /* its barrier elements not yet taken */
	int64_t out_deadline;      /* wall ms */
	sluice__chs out_cs;
	/* the input buffer being processed, record by record */
	sluice__elem *cur;
	sluice_reader cur_r;
	int cur_ch;
	unsigned pause_tick;
	/* restored channel state, replayed before new input */
	uint8_t *replay;
	size_t replay_len;
};

struct sluice_job {
	char *name;
	sluice_job_options opts;
	sluice_clock *clock;
	sluice__vertex *vertices;
	int num_vertices;
	sluice__edge *edges;
	int num_edges;
	sluice_state_provider_factory factory;
	void *factory_arg;
	sluice_stream_factory streams; /* open == NULL: memory streams */
	int num_tasks;                 /* after validation */
	uint64_t runs; /* atomic: starts so far (the attempt number) */
	/* one run */
	int started;
	sluice__task *tasks;
	sluice__channel **channels;
	int num_channels;
	sluice__pool pool;
	sluice__csw csw; /* shared channel-state files (unaligned) */
	sluice_job_responder resp;
	pthread_mutex_t lock; /* guards the fields below */
	pthread_cond_t cond;
	int live_tasks;
	int status;    /* sluice_job_state */
	int stopping;  /* atomic: tasks must stop */
	int failed;    /* a task failed in this run */
	char *failure; /* first task failure message (NULL if OOM) */
	int wakeable;  /* the tasks' inboxes exist (sluice_job_wakeup) */
	/* metrics of runs already stopped, folded in by release_run */
	sluice__job_totals totals;
};

/* task.c */
void *sluice__task_main(void *arg);
/* Set up the barrier handler once the task's channels exist. */
int sluice__task_prepare(sluice__task *t);
void sluice__task_fill_info(sluice__task *t, sluice_task_info *out);
int sluice__task_state_get(sluice__task *t);
void sluice__task_decline(
	sluice__task *t,
	int64_t id,
	sluice_failure_reason reason,
	const char *message);
void sluice__task_release(sluice__task *t);

/* output.c */
int sluice__output_emit(sluice__task *t, const sluice_record *rec);
int sluice__output_flush(sluice__task *t);
/* Push the pending buffers of channels with credit (never waits). */
int sluice__output_flush_available(sluice__task *t);
/* 1 when every output channel has a credit; else 0, and the task's inbox
 * is woken when one comes back.  `hint`: unlocked check only. */
int sluice__output_available(sluice__task *t, int hint);
/* Unaligned barrier on every output channel, ahead of queued buffers;
 * the overtaken buffers and the pending ones go into t->cs. */
int sluice__output_overtake(sluice__task *t, const sluice__barrier *b);
/* Aligned barrier that may time out (spec §4.5): pending buffers go out
 * without waiting for credit; each barrier element holds `track` and
 * counts it down when its consumer takes it (waking this task). */
int sluice__output_barrier_timeoutable(
	sluice__task *t, const sluice__barrier *b, sluice__btrack *track);
/* The timeout passed: barriers of `id` still queued become priority
 * elements; the buffers they overtake go into `cs`. */
int sluice__output_prioritize(sluice__task *t, int64_t id, sluice__chs *cs);
int sluice__output_event(
	sluice__task *t, sluice__elem_kind kind, const sluice__barrier *b);
/* Decode one record from `r`; 1 ok, 0 at end, SLUICE_ECORRUPT. */
int sluice__record_read(sluice_reader *r, sluice_record *rec);

/* metrics.c: add the counters of the stopped run's tasks to job->totals
 * (job stop, after the task threads were joined). */
void sluice__metrics_fold(sluice_job *job);

/* Task-thread counter updates: the only writer, so a relaxed load and
 * store (no read-modify-write, no lock) keep readers on other threads
 * race-free at the cost of a plain add. */
static inline void sluice__metric_add_u64(uint64_t *c, uint64_t n)
{
	__atomic_store_n(
		c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void sluice__metric_add_i64(int64_t *c, int64_t n)
{
	__atomic_store_n(
		c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* job.c */
/* First failure of the run: record it and stop every task. */
void sluice__job_fail(sluice_job *job, const char *message);
int sluice__job_stopping(sluice_job *job);
void sluice__job_task_done(sluice_job *job);
/* Queue `m` for task `task` only; SLUICE_ECANCELED when it ended. */
int sluice__job_post(sluice_job *job, int task, const sluice__mail *m);
/* 1 while started (readable from other threads). */
int sluice__job_started(sluice_job *job);

#endif
