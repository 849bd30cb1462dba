/*
 * Live metrics of a job and of a run (include/sluice/monitor.h): the
 * numbers behind `sluice run`'s status line.
 *
 * Counting: each task owns its counters (records emitted, records handed
 * to process, time spent pushing output buffers) and is their only
 * writer, with relaxed atomic stores (runtime.h), so the hot path takes no
 * lock and no read-modify-write.  Readers load them atomically.  When a
 * run of the job stops, release_run folds the counters of its tasks into
 * job->totals before the tasks are freed, so the numbers stay cumulative
 * across restarts.  Which tasks count where: records_in = emitted by
 * source subtasks, records_out = received by sink subtasks,
 * backpressured time = source subtasks' output push time.
 *
 * A run's snapshot adds the run clock, its state and restarts, the
 * coordinator's checkpoint counts and the latest completed checkpoint.
 * It holds the run's ctl mutex while reading the job, which is what keeps
 * the tasks array alive (job start and stop happen under ctl).
 */
#include <string.h>

#include "runtime/run.h"
#include "sluice/monitor.h"

static void add_task(sluice_job_metrics *m, sluice__task *t)
{
	if (t->v->kind == SLUICE_VERTEX_SOURCE) {
		m->records_in +=
			__atomic_load_n(&t->m_emitted, __ATOMIC_RELAXED);
		m->source_backpressured_ns +=
			__atomic_load_n(&t->m_blocked_ns, __ATOMIC_RELAXED);
	} else if (t->v->kind == SLUICE_VERTEX_SINK) {
		m->records_out +=
			__atomic_load_n(&t->m_received, __ATOMIC_RELAXED);
	}
}

void sluice__metrics_fold(sluice_job *job)
{
	sluice_job_metrics m;
	int i;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < job->num_tasks && job->tasks; i++)
		if (job->tasks[i].v)
			add_task(&m, &job->tasks[i]);
	job->totals.records_in += m.records_in;
	job->totals.records_out += m.records_out;
	job->totals.source_blocked_ns += m.source_backpressured_ns;
}

int sluice_job_metrics_read(sluice_job *job, sluice_job_metrics *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < job->num_vertices; i++) {
		if (job->vertices[i].kind == SLUICE_VERTEX_SOURCE)
			out->source_subtasks += job->vertices[i].parallelism;
		else if (job->vertices[i].kind == SLUICE_VERTEX_SINK)
			out->sink_subtasks += job->vertices[i].parallelism;
	}
	if (sluice__job_started(job))
		for (i = 0; i < job->num_tasks && job->tasks; i++)
			if (job->tasks[i].v)
				add_task(out, &job->tasks[i]);
	out->records_in += job->totals.records_in;
	out->records_out += job->totals.records_out;
	out->source_backpressured_ns += job->totals.source_blocked_ns;
	return 0;
}

static void last_checkpoint(sluice_run *run, sluice_run_metrics *out)
{
	sluice__stats *st = sluice__coord_stats(run->coord);
	sluice__stats_counts counts;
	sluice__ckpt_stats last;

	sluice__stats_counts_get(st, &counts);
	out->checkpoints_completed = counts.completed;
	out->checkpoints_failed = counts.failed;
	out->checkpoints_in_progress = counts.in_progress;
	out->last_id = -1;
	if (sluice__stats_latest_completed(st, &last) == 0) {
		out->last_id = last.id;
		out->last_duration_ms =
			last.latest_ack_ts_ms - last.trigger_ts_ms;
		out->last_state_size = last.state_size;
		out->last_checkpointed_size = last.checkpointed_size;
		out->last_completed_wall_ms = last.latest_ack_ts_ms;
	}
}

int sluice_run_metrics_read(sluice_run *run, sluice_run_metrics *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&run->ctl);
	sluice_job_metrics_read(run->job, &out->job);
	pthread_mutex_unlock(&run->ctl);
	out->mono_ms = sluice_clock_mono_ms(run->clock);
	out->state = sluice_run_state(run);
	out->restarts = sluice_run_restarts(run);
	last_checkpoint(run, out);
	return 0;
}
