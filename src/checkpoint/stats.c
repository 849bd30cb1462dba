/*
 * Checkpoint statistics tracker (spec §12): owns the per-checkpoint
 * records, the history, the counts and the summary windows, and renders
 * them as Flink's REST JSON documents (via cJSON).  See stats.h.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/stats.h"
#include "util/alloc.h"
#include "util/error.h"

const char *sluice__ckpt_kind_name(sluice__ckpt_kind kind)
{
	switch (kind) {
	case SLUICE_CKPT_SAVEPOINT:
		return "SAVEPOINT";
	case SLUICE_CKPT_SYNC_SAVEPOINT:
		return "SYNC_SAVEPOINT";
	case SLUICE_CKPT_CHECKPOINT:
		break;
	}
	return "CHECKPOINT";
}

const char *sluice__ckpt_status_name(sluice__ckpt_status status)
{
	switch (status) {
	case SLUICE_CKPT_COMPLETED:
		return "COMPLETED";
	case SLUICE_CKPT_FAILED:
		return "FAILED";
	case SLUICE_CKPT_IN_PROGRESS:
		break;
	}
	return "IN_PROGRESS";
}

int sluice__stats_init(
	sluice__stats *st,
	const char *const *names,
	int32_t n_vertices,
	size_t history_size)
{
	int32_t i;

	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	st->history_size = history_size ? history_size : 1;
	st->vertex_names = sluice__calloc(
		n_vertices > 0 ? (size_t)n_vertices : 1, sizeof(char *));
	if (!st->vertex_names) {
		pthread_mutex_destroy(&st->lock);
		return sluice__error_oom();
	}
	st->n_vertices = n_vertices;
	for (i = 0; i < n_vertices; i++) {
		st->vertex_names[i] = sluice__strdup(names[i] ? names[i] : "");
		if (!st->vertex_names[i]) {
			sluice__stats_release(st);
			return sluice__error_oom();
		}
	}
	return 0;
}

static void unref(sluice__ckpt_stats *c)
{
	if (!c || --c->refs > 0)
		return;
	sluice__ckpt_stats_free(c);
}

void sluice__ckpt_stats_free(sluice__ckpt_stats *c)
{
	if (!c)
		return;
	sluice__free(c->subtasks);
	sluice__free(c->external_path);
	sluice__free(c->failure_message);
	sluice__free(c);
}

void sluice__stats_release(sluice__stats *st)
{
	size_t i;

	if (!st->vertex_names)
		return;
	for (i = 0; i < (size_t)st->n_vertices; i++)
		sluice__free(st->vertex_names[i]);
	sluice__free(st->vertex_names);
	st->vertex_names = NULL;
	for (i = 0; i < st->n_history; i++)
		unref(st->history[i]);
	sluice__free(st->history);
	unref(st->latest_completed);
	unref(st->latest_savepoint);
	unref(st->latest_failed);
	sluice__free(st->restored_path);
	sluice__free(st->s_ckpt_size.v);
	sluice__free(st->s_state_size.v);
	sluice__free(st->s_e2e.v);
	sluice__free(st->s_processed.v);
	sluice__free(st->s_persisted.v);
	pthread_mutex_destroy(&st->lock);
}

static sluice__ckpt_stats *find(sluice__stats *st, int64_t id)
{
	size_t i;

	for (i = st->n_history; i-- > 0;)
		if (st->history[i]->id == id)
			return st->history[i];
	if (st->latest_completed && st->latest_completed->id == id)
		return st->latest_completed;
	if (st->latest_savepoint && st->latest_savepoint->id == id)
		return st->latest_savepoint;
	if (st->latest_failed && st->latest_failed->id == id)
		return st->latest_failed;
	return NULL;
}

/* Drop the oldest finished entries beyond history_size. */
static void trim(sluice__stats *st)
{
	size_t i = 0;

	while (st->n_history > st->history_size && i < st->n_history) {
		if (st->history[i]->status == SLUICE_CKPT_IN_PROGRESS) {
			i++;
			continue;
		}
		unref(st->history[i]);
		memmove(&st->history[i], &st->history[i + 1],
			(st->n_history - i - 1) * sizeof(*st->history));
		st->n_history--;
	}
}

static sluice__ckpt_stats *new_entry(
	sluice__stats *st,
	int64_t id,
	sluice__ckpt_kind kind,
	int64_t trigger_ts_ms,
	const sluice__plan *plan)
{
	sluice__ckpt_stats *c = sluice__calloc(1, sizeof(*c));
	size_t i, n = plan->n_running;

	(void)st;
	if (!c)
		return NULL;
	c->subtasks = sluice__calloc(n ? n : 1, sizeof(*c->subtasks));
	if (!c->subtasks) {
		sluice__free(c);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		c->subtasks[i].vertex = plan->running[i].vertex;
		c->subtasks[i].subtask = plan->running[i].subtask;
	}
	c->refs = 1;
	c->id = id;
	c->kind = kind;
	c->trigger_ts_ms = trigger_ts_ms;
	c->latest_ack_ts_ms = trigger_ts_ms;
	c->num_subtasks = (int32_t)n;
	return c;
}

int sluice__stats_report_pending(
	sluice__stats *st,
	int64_t id,
	sluice__ckpt_kind kind,
	int64_t trigger_ts_ms,
	const sluice__plan *plan)
{
	sluice__ckpt_stats *c, **h;

	c = new_entry(st, id, kind, trigger_ts_ms, plan);
	if (!c)
		return sluice__error_oom();
	pthread_mutex_lock(&st->lock);
	h = sluice__reallocarray(
		st->history, st->n_history + 1, sizeof(*st->history));
	if (!h) {
		pthread_mutex_unlock(&st->lock);
		sluice__ckpt_stats_free(c);
		return sluice__error_oom();
	}
	st->history = h;
	st->history[st->n_history++] = c;
	st->counts.total++;
	st->counts.in_progress++;
	trim(st);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

void sluice__stats_report_ack(
	sluice__stats *st,
	int64_t id,
	int32_t vertex,
	int32_t subtask,
	int64_t ack_ts_ms,
	const sluice__subtask_snapshot *snap)
{
	sluice__ckpt_stats *c;
	int32_t i;

	pthread_mutex_lock(&st->lock);
	c = find(st, id);
	for (i = 0; c && i < c->num_subtasks; i++) {
		sluice__subtask_stats *s = &c->subtasks[i];

		if (s->vertex != vertex || s->subtask != subtask || s->acked)
			continue;
		s->acked = 1;
		s->ack_ts_ms = ack_ts_ms;
		if (snap) {
			s->state_size = snap->state_size;
			s->checkpointed_size = snap->checkpointed_size;
			s->sync_ms = snap->sync_ms;
			s->async_ms = snap->async_ms;
			s->alignment_ms = snap->alignment_ns / 1000000;
			s->start_delay_ms = snap->start_delay_ns / 1000000;
			s->processed = snap->processed_bytes;
			s->persisted = snap->persisted_bytes;
			s->unaligned = snap->unaligned;
		}
		c->num_acked++;
		c->state_size += s->state_size;
		c->checkpointed_size += s->checkpointed_size;
		c->processed += s->processed;
		c->persisted += s->persisted;
		if (ack_ts_ms > c->latest_ack_ts_ms)
			c->latest_ack_ts_ms = ack_ts_ms;
		break;
	}
	pthread_mutex_unlock(&st->lock);
}

static void series_add(sluice__stats_series *s, int64_t v)
{
	if (!s->v) {
		s->v = sluice__calloc(SLUICE_STATS_WINDOW, sizeof(*s->v));
		if (!s->v)
			return; /* summary stays empty; counts are kept */
	}
	s->v[s->next] = v;
	s->next = (s->next + 1) % SLUICE_STATS_WINDOW;
	if (s->n < SLUICE_STATS_WINDOW)
		s->n++;
}

static void set_latest(sluice__ckpt_stats **slot, sluice__ckpt_stats *c)
{
	c->refs++;
	unref(*slot);
	*slot = c;
}

void sluice__stats_report_completed(
	sluice__stats *st, int64_t id, const char *external_path)
{
	sluice__ckpt_stats *c;

	pthread_mutex_lock(&st->lock);
	c = find(st, id);
	if (c && c->status == SLUICE_CKPT_IN_PROGRESS) {
		c->status = SLUICE_CKPT_COMPLETED;
		c->external_path =
			external_path ? sluice__strdup(external_path) : NULL;
		st->counts.in_progress--;
		st->counts.completed++;
		series_add(&st->s_ckpt_size, (int64_t)c->checkpointed_size);
		series_add(&st->s_state_size, (int64_t)c->state_size);
		series_add(&st->s_e2e, c->latest_ack_ts_ms - c->trigger_ts_ms);
		series_add(&st->s_processed, (int64_t)c->processed);
		series_add(&st->s_persisted, (int64_t)c->persisted);
		if (c->kind == SLUICE_CKPT_CHECKPOINT)
			set_latest(&st->latest_completed, c);
		else
			set_latest(&st->latest_savepoint, c);
		trim(st);
	}
	pthread_mutex_unlock(&st->lock);
}

void sluice__stats_report_failed(
	sluice__stats *st,
	int64_t id,
	int64_t failure_ts_ms,
	sluice_failure_reason reason,
	const char *message)
{
	sluice__ckpt_stats *c;

	pthread_mutex_lock(&st->lock);
	c = find(st, id);
	if (c && c->status == SLUICE_CKPT_IN_PROGRESS) {
		c->status = SLUICE_CKPT_FAILED;
		c->failure_ts_ms = failure_ts_ms;
		c->reason = reason;
		c->failure_message = message ? sluice__strdup(message) : NULL;
		st->counts.in_progress--;
		st->counts.failed++;
		set_latest(&st->latest_failed, c);
		trim(st);
	}
	pthread_mutex_unlock(&st->lock);
}

void sluice__stats_report_failed_without_pending(sluice__stats *st)
{
	pthread_mutex_lock(&st->lock);
	st->counts.failed++;
	st->counts.total++;
	pthread_mutex_unlock(&st->lock);
}

void sluice__stats_report_restored(
	sluice__stats *st,
	int64_t id,
	int64_t restore_ts_ms,
	int is_savepoint,
	const char *external_path)
{
	pthread_mutex_lock(&st->lock);
	st->counts.restored++;
	st->has_restored = 1;
	st->restored_id = id;
	st->restore_ts_ms = restore_ts_ms;
	st->restored_savepoint = is_savepoint;
	sluice__free(st->restored_path);
	st->restored_path =
		external_path ? sluice__strdup(external_path) : NULL;
	pthread_mutex_unlock(&st->lock);
}

void sluice__stats_counts_get(sluice__stats *st, sluice__stats_counts *out)
{
	pthread_mutex_lock(&st->lock);
	*out = st->counts;
	pthread_mutex_unlock(&st->lock);
}

int sluice__stats_latest_completed(sluice__stats *st, sluice__ckpt_stats *out)
{
	int found;

	pthread_mutex_lock(&st->lock);
	found = st->latest_completed != NULL;
	if (found) {
		*out = *st->latest_completed;
		out->refs = 0;
		out->subtasks = NULL;
		out->external_path = NULL;
		out->failure_message = NULL;
	}
	pthread_mutex_unlock(&st->lock);
	return found ? 0 : SLUICE_ENOTFOUND;
}

static sluice__ckpt_stats *dup_stats(const sluice__ckpt_stats *c)
{
	sluice__ckpt_stats *d = sluice__memdup(c, sizeof(*c));
	size_t n = c->num_subtasks > 0 ? (size_t)c->num_subtasks : 1;

	if (!d)
		return NULL;
	d->refs = 1;
	d->subtasks = sluice__memdup(c->subtasks, n * sizeof(*c->subtasks));
	d->external_path =
		c->external_path ? sluice__strdup(c->external_path) : NULL;
	d->failure_message =
		c->failure_message ? sluice__strdup(c->failure_message) : NULL;
	if (!d->subtasks || (c->external_path && !d->external_path) ||
	    (c->failure_message && !d->failure_message)) {
		sluice__ckpt_stats_free(d);
		return NULL;
	}
	return d;
}

int sluice__stats_get(sluice__stats *st, int64_t id, sluice__ckpt_stats **out)
{
	sluice__ckpt_stats *c;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&st->lock);
	c = find(st, id);
	if (!c)
		rc = sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_CHECKPOINT,
			"checkpoint %lld: no statistics (not in the history)",
			(long long)id);
	else if (!(*out = dup_stats(c)))
		rc = sluice__error_oom();
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---- JSON rendering ---------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile as Apache Commons Math's default estimator (p in percent). */
static double percentile(const int64_t *sorted, size_t n, double p)
{
	double pos = p * (double)(n + 1) / 100.0, fpos, d;
	size_t i;

	if (n == 0)
		return 0.0;
	if (n == 1 || pos < 1.0)
		return (double)sorted[0];
	if (pos >= (double)n)
		return (double)sorted[n - 1];
	fpos = floor(pos);
	d = pos - fpos;
	i = (size_t)fpos;
	return (double)sorted[i - 1] + d * (double)(sorted[i] - sorted[i - 1]);
}

static cJSON *summary_obj(const sluice__stats_series *s)
{
	cJSON *o = cJSON_CreateObject();
	int64_t *v = NULL;
	double sum = 0;
	size_t i;

	if (!o)
		return NULL;
	if (s && s->n)
		v = sluice__memdup(s->v, s->n * sizeof(*v));
	if (v) {
		qsort(v, s->n, sizeof(*v), cmp_i64);
		for (i = 0; i < s->n; i++)
			sum += (double)v[i];
	}
	cJSON_AddNumberToObject(o, "min", v ? (double)v[0] : 0);
	cJSON_AddNumberToObject(o, "max", v ? (double)v[s->n - 1] : 0);
	cJSON_AddNumberToObject(o, "avg", v ? floor(sum / (double)s->n) : 0);
	cJSON_AddNumberToObject(o, "p50", v ? percentile(v, s->n, 50) : 0);
	cJSON_AddNumberToObject(o, "p90", v ? percentile(v, s->n, 90) : 0);
	cJSON_AddNumberToObject(o, "p95", v ? percentile(v, s->n, 95) : 0);
	cJSON_AddNumberToObject(o, "p99", v ? percentile(v, s->n, 99) : 0);
	cJSON_AddNumberToObject(o, "p999", v ? percentile(v, s->n, 99.9) : 0);
	sluice__free(v);
	return o;
}

static const char *clazz(sluice__ckpt_status s)
{
	return s == SLUICE_CKPT_COMPLETED ? "completed"
	       : s == SLUICE_CKPT_FAILED  ? "failed"
					  : "in_progress";
}

static cJSON *
subtask_obj(const sluice__ckpt_stats *c, const sluice__subtask_stats *s)
{
	cJSON *o = cJSON_CreateObject(), *cp, *al;

	if (!o)
		return NULL;
	if (!s->acked) {
		cJSON_AddStringToObject(o, "clazz", "pending_or_failed");
		cJSON_AddNumberToObject(o, "index", s->subtask);
		return o;
	}
	cJSON_AddStringToObject(o, "clazz", "completed");
	cJSON_AddNumberToObject(o, "index", s->subtask);
	cJSON_AddNumberToObject(o, "ack_timestamp", (double)s->ack_ts_ms);
	cJSON_AddNumberToObject(
		o, "end_to_end_duration",
		(double)(s->ack_ts_ms - c->trigger_ts_ms));
	cJSON_AddNumberToObject(
		o, "checkpointed_size", (double)s->checkpointed_size);
	cJSON_AddNumberToObject(o, "state_size", (double)s->state_size);
	cp = cJSON_AddObjectToObject(o, "checkpoint");
	cJSON_AddNumberToObject(cp, "sync", (double)s->sync_ms);
	cJSON_AddNumberToObject(cp, "async", (double)s->async_ms);
	al = cJSON_AddObjectToObject(o, "alignment");
	cJSON_AddNumberToObject(al, "buffered", 0);
	cJSON_AddNumberToObject(al, "processed", (double)s->processed);
	cJSON_AddNumberToObject(al, "persisted", (double)s->persisted);
	cJSON_AddNumberToObject(al, "duration", (double)s->alignment_ms);
	cJSON_AddNumberToObject(o, "start_delay", (double)s->start_delay_ms);
	cJSON_AddBoolToObject(o, "unaligned_checkpoint", s->unaligned);
	cJSON_AddBoolToObject(o, "aborted", c->status == SLUICE_CKPT_FAILED);
	return o;
}

static void task_obj(
	const sluice__stats *st,
	const sluice__ckpt_stats *c,
	int32_t vertex,
	cJSON *tasks)
{
	cJSON *o = cJSON_CreateObject(), *subs;
	uint64_t ckpt = 0, state = 0, proc = 0, pers = 0;
	int64_t latest = -1;
	int32_t i, n = 0, acked = 0;

	if (!o)
		return;
	subs = cJSON_AddArrayToObject(o, "subtasks");
	for (i = 0; i < c->num_subtasks; i++) {
		const sluice__subtask_stats *s = &c->subtasks[i];

		if (s->vertex != vertex)
			continue;
		n++;
		cJSON_AddItemToArray(subs, subtask_obj(c, s));
		if (!s->acked)
			continue;
		acked++;
		ckpt += s->checkpointed_size;
		state += s->state_size;
		proc += s->processed;
		pers += s->persisted;
		if (s->ack_ts_ms > latest)
			latest = s->ack_ts_ms;
	}
	cJSON_AddStringToObject(o, "id", st->vertex_names[vertex]);
	cJSON_AddStringToObject(
		o, "status", sluice__ckpt_status_name(c->status));
	cJSON_AddNumberToObject(o, "latest_ack_timestamp", (double)latest);
	cJSON_AddNumberToObject(o, "checkpointed_size", (double)ckpt);
	cJSON_AddNumberToObject(o, "state_size", (double)state);
	cJSON_AddNumberToObject(
		o, "end_to_end_duration",
		latest < 0 ? -1.0 : (double)(latest - c->trigger_ts_ms));
	cJSON_AddNumberToObject(o, "alignment_buffered", 0);
	cJSON_AddNumberToObject(o, "processed_data", (double)proc);
	cJSON_AddNumberToObject(o, "persisted_data", (double)pers);
	cJSON_AddNumberToObject(o, "num_subtasks", n);
	cJSON_AddNumberToObject(o, "num_acknowledged_subtasks", acked);
	if (n == 0) {
		cJSON_Delete(o);
		return;
	}
	cJSON_AddItemToObject(tasks, st->vertex_names[vertex], o);
}

static cJSON *
entry_obj(const sluice__stats *st, const sluice__ckpt_stats *c, int details)
{
	cJSON *o = cJSON_CreateObject(), *tasks;
	int32_t v;
	int unaligned;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "clazz", clazz(c->status));
	cJSON_AddNumberToObject(o, "id", (double)c->id);
	cJSON_AddStringToObject(
		o, "status", sluice__ckpt_status_name(c->status));
	cJSON_AddBoolToObject(
		o, "is_savepoint", c->kind != SLUICE_CKPT_CHECKPOINT);
	cJSON_AddNumberToObject(
		o, "trigger_timestamp", (double)c->trigger_ts_ms);
	cJSON_AddNumberToObject(
		o, "latest_ack_timestamp", (double)c->latest_ack_ts_ms);
	cJSON_AddNumberToObject(
		o, "checkpointed_size", (double)c->checkpointed_size);
	cJSON_AddNumberToObject(o, "state_size", (double)c->state_size);
	cJSON_AddNumberToObject(
		o, "end_to_end_duration",
		(double)(c->latest_ack_ts_ms - c->trigger_ts_ms));
	cJSON_AddNumberToObject(o, "alignment_buffered", 0);
	cJSON_AddNumberToObject(o, "processed_data", (double)c->processed);
	cJSON_AddNumberToObject(o, "persisted_data", (double)c->persisted);
	cJSON_AddNumberToObject(o, "num_subtasks", c->num_subtasks);
	cJSON_AddNumberToObject(o, "num_acknowledged_subtasks", c->num_acked);
	/* Flink's REST type: a checkpoint some subtask took unaligned */
	for (v = 0, unaligned = 0; c->subtasks && v < c->num_subtasks; v++)
		unaligned |= c->subtasks[v].acked && c->subtasks[v].unaligned;
	cJSON_AddStringToObject(
		o, "checkpoint_type",
		c->kind == SLUICE_CKPT_CHECKPOINT && unaligned
			? "UNALIGNED_CHECKPOINT"
			: sluice__ckpt_kind_name(c->kind));
	tasks = cJSON_AddObjectToObject(o, "tasks");
	for (v = 0; details && tasks && v < st->n_vertices; v++)
		task_obj(st, c, v, tasks);
	if (c->status == SLUICE_CKPT_COMPLETED) {
		if (c->external_path)
			cJSON_AddStringToObject(
				o, "external_path", c->external_path);
		else
			cJSON_AddNullToObject(o, "external_path");
		cJSON_AddBoolToObject(o, "discarded", c->discarded);
	} else if (c->status == SLUICE_CKPT_FAILED) {
		const sluice_failure_info *fi =
			sluice_failure_info_get(c->reason);

		cJSON_AddStringToObject(
			o, "failure_reason", fi ? fi->name : "UNKNOWN");
		cJSON_AddNumberToObject(
			o, "failure_timestamp", (double)c->failure_ts_ms);
		cJSON_AddStringToObject(
			o, "failure_message",
			c->failure_message ? c->failure_message : "");
	}
	return o;
}

static void add_entry_or_null(
	const sluice__stats *st,
	cJSON *obj,
	const char *key,
	const sluice__ckpt_stats *c)
{
	if (c)
		cJSON_AddItemToObject(obj, key, entry_obj(st, c, 0));
	else
		cJSON_AddNullToObject(obj, key);
}

static cJSON *overview(sluice__stats *st)
{
	cJSON *o = cJSON_CreateObject(), *counts, *sum, *latest, *hist, *r;
	size_t i;

	if (!o)
		return NULL;
	counts = cJSON_AddObjectToObject(o, "counts");
	cJSON_AddNumberToObject(
		counts, "restored", (double)st->counts.restored);
	cJSON_AddNumberToObject(counts, "total", (double)st->counts.total);
	cJSON_AddNumberToObject(
		counts, "in_progress", (double)st->counts.in_progress);
	cJSON_AddNumberToObject(
		counts, "completed", (double)st->counts.completed);
	cJSON_AddNumberToObject(counts, "failed", (double)st->counts.failed);
	sum = cJSON_AddObjectToObject(o, "summary");
	cJSON_AddItemToObject(
		sum, "checkpointed_size", summary_obj(&st->s_ckpt_size));
	cJSON_AddItemToObject(
		sum, "state_size", summary_obj(&st->s_state_size));
	cJSON_AddItemToObject(
		sum, "end_to_end_duration", summary_obj(&st->s_e2e));
	cJSON_AddItemToObject(sum, "alignment_buffered", summary_obj(NULL));
	cJSON_AddItemToObject(
		sum, "processed_data", summary_obj(&st->s_processed));
	cJSON_AddItemToObject(
		sum, "persisted_data", summary_obj(&st->s_persisted));
	latest = cJSON_AddObjectToObject(o, "latest");
	add_entry_or_null(st, latest, "completed", st->latest_completed);
	add_entry_or_null(st, latest, "savepoint", st->latest_savepoint);
	add_entry_or_null(st, latest, "failed", st->latest_failed);
	if (st->has_restored &&
	    (r = cJSON_AddObjectToObject(latest, "restored"))) {
		cJSON_AddNumberToObject(r, "id", (double)st->restored_id);
		cJSON_AddNumberToObject(
			r, "restore_timestamp", (double)st->restore_ts_ms);
		cJSON_AddBoolToObject(
			r, "is_savepoint", st->restored_savepoint);
		if (st->restored_path)
			cJSON_AddStringToObject(
				r, "external_path", st->restored_path);
		else
			cJSON_AddNullToObject(r, "external_path");
	} else {
		cJSON_AddNullToObject(latest, "restored");
	}
	hist = cJSON_AddArrayToObject(o, "history");
	for (i = st->n_history; hist && i-- > 0;)
		cJSON_AddItemToArray(hist, entry_obj(st, st->history[i], 0));
	return o;
}

int sluice__stats_json(sluice__stats *st, int64_t id, char **out)
{
	cJSON *doc = NULL;
	char *text;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&st->lock);
	if (id < 0) {
		doc = overview(st);
	} else {
		sluice__ckpt_stats *c = find(st, id);

		if (!c) {
			pthread_mutex_unlock(&st->lock);
			return sluice__error_set(
				SLUICE_ENOTFOUND, SLUICE_ERRCLS_CHECKPOINT,
				"checkpoint %lld: no statistics (not in the "
				"history)",
				(long long)id);
		}
		doc = entry_obj(st, c, 1);
	}
	pthread_mutex_unlock(&st->lock);
	text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	cJSON_Delete(doc);
	if (!text)
		return sluice__error_oom();
	*out = sluice__strdup(text);
	cJSON_free(text);
	if (!*out)
		rc = sluice__error_oom();
	return rc;
}
