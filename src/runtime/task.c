/*
 * One subtask: its thread, its mailbox loop and the task side of the
 * checkpoint protocol.
 *
 * Life: CREATED → INITIALIZING (operator initialize_state, open) →
 * RUNNING → FINISHING (inputs ended: end_input, end of partition sent
 * downstream, close) → FINISHED.  With the final-checkpoint option the
 * end comes in two steps: end of data (end_input, end of data sent
 * downstream, still RUNNING) and, once a checkpoint taken after it
 * completed and every input ended its partition, FINISHING.  A failing
 * callback makes the task
 * FAILED and stops the whole job; tasks stopped by that (or by
 * sluice_job_stop) end CANCELED.  close() is called on every path once
 * open was attempted.
 *
 * Loop: mails first (trigger, notify complete / aborted), then due timers,
 * then input: a source calls poll; other tasks take the next element of an
 * unblocked input channel (records go to process, barriers, cancel markers
 * and end-of-partition to the barrier handler).  With nothing to do the
 * task flushes its output buffers and waits on its inbox.
 *
 * Checkpoint (perform): skip ids aborted before their barrier arrived
 * (forward a cancel marker); decline with TASK_CLOSING when not running;
 * else send the barrier downstream, run the synchronous phase (operator
 * snapshot_state, provider snapshot_sync; failure fails the task) and
 * hand the frozen snapshot to the snapshot pool, whose asynchronous phase
 * acks with the handles or declines with CHECKPOINT_ASYNC_EXCEPTION.
 */
#include <string.h>

#include "runtime/runtime.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

static const char *const state_names[] = {
	"CREATED",  "INITIALIZING", "RUNNING", "FINISHING",
	"FINISHED", "CANCELED",     "FAILED"};

const char *sluice_task_state_name(sluice_task_state s)
{
	if ((int)s < 0 ||
	    (size_t)s >= sizeof(state_names) / sizeof(*state_names))
		return "UNKNOWN";
	return state_names[s];
}

int sluice__task_state_get(sluice__task *t)
{
	return __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
}

static void set_state(sluice__task *t, sluice_task_state s)
{
	__atomic_store_n(&t->state, (int)s, __ATOMIC_RELEASE);
}

void sluice__task_fill_info(sluice__task *t, sluice_task_info *out)
{
	int i, c;

	out->index = t->index;
	out->vertex = (int)(t->v - t->job->vertices);
	out->uid = t->v->uid;
	out->name = t->v->name;
	out->subtask = t->subtask;
	out->parallelism = t->v->parallelism;
	out->max_parallelism = t->v->max_parallelism;
	out->is_source = t->v->kind == SLUICE_VERTEX_SOURCE;
	out->state = (sluice_task_state)sluice__task_state_get(t);
	out->output_waits = 0;
	for (i = 0; i < t->num_outs; i++)
		for (c = 0; c < t->outs[i].num_channels; c++)
			out->output_waits +=
				sluice__channel_waits(t->outs[i].channels[c]);
}

void sluice__task_decline(
	sluice__task *t,
	int64_t id,
	sluice_failure_reason reason,
	const char *message)
{
	const sluice_job_responder *r = &t->job->resp;
	sluice_task_info info;

	if (!r->decline)
		return;
	sluice__task_fill_info(t, &info);
	r->decline(r->ctx, &info, id, reason, message);
}

/* ---- aborted-before-barrier ids (spec §2.7) -------------------------- */

static void aborted_remember(sluice__task *t, int64_t id)
{
	t->aborted[t->aborted_next] = id;
	t->aborted_next = (t->aborted_next + 1) % SLUICE__ABORTED_MAX;
	if (t->num_aborted < SLUICE__ABORTED_MAX)
		t->num_aborted++;
}

static int aborted_take(sluice__task *t, int64_t id)
{
	int i;

	for (i = 0; i < t->num_aborted; i++) {
		if (t->aborted[i] == id) {
			t->aborted[i] = -1;
			return 1;
		}
	}
	return 0;
}

/* ---- checkpoints ----------------------------------------------------- */

typedef struct snapshot_work {
	sluice__work base;
	sluice__task *task;
	void *snap;
	int64_t id;
	int64_t sync_ms;
	int64_t align_ms;
	int64_t delay_ms;
} snapshot_work;

static uint64_t handle_size(const sluice_stream_handle *h)
{
	return h ? h->size : 0;
}

/* Bytes of all files of an incremental handle (reused ones included). */
static uint64_t incremental_size(const sluice_incremental_handle *h)
{
	uint64_t n = 0;
	uint32_t i;

	if (!h)
		return 0;
	n = handle_size(h->metadata);
	for (i = 0; i < h->num_shared; i++)
		n += handle_size(h->shared_files[i].handle);
	for (i = 0; i < h->num_private; i++)
		n += handle_size(h->private_files[i].handle);
	return n;
}

static int build_snapshot(
	snapshot_work *w,
	sluice_keyed_handle *keyed,
	sluice_opstate_handle *opstate,
	sluice_incremental_handle *inc,
	int64_t async_ms,
	sluice_task_snapshot **out)
{
	sluice__task *t = w->task;
	sluice_task_snapshot *s = sluice__calloc(1, sizeof(*s));

	if (!s || !(s->uid = sluice__strdup(t->v->uid))) {
		sluice__free(s);
		sluice_keyed_handle_free(keyed);
		sluice_opstate_handle_free(opstate);
		sluice_incremental_handle_free(inc);
		return sluice__error_oom();
	}
	s->subtask = t->subtask;
	s->parallelism = t->v->parallelism;
	s->max_parallelism = t->v->max_parallelism;
	s->keyed = keyed;
	s->opstate = opstate;
	s->sync_duration_ms = w->sync_ms;
	s->async_duration_ms = async_ms;
	s->alignment_duration_ms = w->align_ms;
	s->start_delay_ms = w->delay_ms;
	s->state_size = handle_size(keyed ? keyed->stream : NULL) +
			handle_size(opstate ? opstate->stream : NULL);
	s->checkpointed_size = s->state_size;
	s->incremental = inc;
	s->state_size += incremental_size(inc);
	s->checkpointed_size += inc ? inc->checkpointed_size : 0;
	*out = s;
	return 0;
}

static void snapshot_run(sluice__work *base)
{
	snapshot_work *w = (snapshot_work *)base;
	sluice__task *t = w->task;
	sluice_state_provider *p = t->provider;
	sluice_keyed_handle *keyed = NULL;
	sluice_opstate_handle *opstate = NULL;
	sluice_incremental_handle *inc = NULL;
	sluice_task_snapshot *snap = NULL;
	sluice_task_info info;
	int64_t t0 = sluice_clock_mono_ns(t->job->clock);
	int rc;

	rc = p->snapshot_async_incremental
		     ? p->snapshot_async_incremental(
			       p, w->snap, &keyed, &opstate, &inc)
		     : p->snapshot_async(p, w->snap, &keyed, &opstate);
	if (rc >= 0)
		rc = build_snapshot(
			w, keyed, opstate, inc,
			(sluice_clock_mono_ns(t->job->clock) - t0) / 1000000,
			&snap);
	if (rc < 0) {
		if (!sluice__job_stopping(t->job))
			sluice__task_decline(
				t, w->id, SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION,
				sluice_error_last()->message);
	} else if (sluice__job_stopping(t->job) || !t->job->resp.ack) {
		sluice_task_snapshot_free(snap);
	} else {
		sluice__task_fill_info(t, &info);
		t->job->resp.ack(t->job->resp.ctx, &info, w->id, snap);
	}
	sluice__free(w);
}

static void snapshot_discard(sluice__work *base)
{
	snapshot_work *w = (snapshot_work *)base;

	w->task->provider->snapshot_discard(w->task->provider, w->snap);
	sluice__free(w);
}

/* Give up checkpoint `id`: decline and tell downstream. */
static int
checkpoint_abort(sluice__task *t, int64_t id, sluice_failure_reason reason)
{
	sluice__barrier b;

	memset(&b, 0, sizeof(b));
	b.id = id;
	if (id > t->last_checkpoint)
		t->last_checkpoint = id;
	sluice__task_decline(t, id, reason, NULL);
	return sluice__output_event(t, SLUICE__ELEM_CANCEL, &b);
}

static int
checkpoint_sync(sluice__task *t, const sluice__barrier *b, void **snap)
{
	const sluice_operator *op = t->v->op;
	sluice_checkpoint_options opts = b->opts;
	int rc;

	if (op->snapshot_state &&
	    (rc = op->snapshot_state((sluice_ctx *)t, b->id)) < 0)
		return rc;
	opts.streams = t->job->streams.open ? &t->job->streams : NULL;
	return t->provider->snapshot_sync(t->provider, b->id, &opts, snap);
}

static int checkpoint_perform(
	sluice__task *t,
	const sluice__barrier *b,
	int64_t align_ms,
	int64_t delay_ms)
{
	snapshot_work *w;
	int64_t t0;
	int rc;

	if (aborted_take(t, b->id)) {
		if (b->id > t->last_checkpoint)
			t->last_checkpoint = b->id;
		return sluice__output_event(t, SLUICE__ELEM_CANCEL, b);
	}
	if (b->id <= t->last_checkpoint)
		return 0; /* duplicate trigger */
	t->last_checkpoint = b->id;
	if (sluice__task_state_get(t) != SLUICE_TASK_STATE_RUNNING) {
		sluice__task_decline(
			t, b->id, SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING,
			NULL);
		return sluice__output_event(t, SLUICE__ELEM_CANCEL, b);
	}
	if ((rc = sluice__output_event(t, SLUICE__ELEM_BARRIER, b)) < 0)
		return rc;
	if (!(w = sluice__calloc(1, sizeof(*w))))
		return sluice__error_oom();
	t0 = sluice_clock_mono_ns(t->job->clock);
	if ((rc = checkpoint_sync(t, b, &w->snap)) < 0) {
		sluice__free(w);
		return sluice__error_wrap("checkpoint %lld", (long long)b->id);
	}
	w->base.run = snapshot_run;
	w->base.discard = snapshot_discard;
	w->task = t;
	w->id = b->id;
	w->sync_ms = (sluice_clock_mono_ns(t->job->clock) - t0) / 1000000;
	w->align_ms = align_ms;
	w->delay_ms = delay_ms;
	if (t->data_done && t->final_id < 0)
		t->final_id = b->id; /* the final checkpoint candidate */
	if ((rc = sluice__pool_submit(&t->job->pool, &w->base)) < 0)
		snapshot_discard(&w->base);
	return rc;
}

/* barrier handler actions */
static void act_block(void *ctx, int channel)
{
	sluice__task *t = ctx;

	sluice__channel_set_blocked(t->inbox.channels[channel], 1);
}

static void act_unblock_all(void *ctx)
{
	sluice__task *t = ctx;
	int i;

	for (i = 0; i < t->inbox.num_channels; i++)
		sluice__channel_set_blocked(t->inbox.channels[i], 0);
}

static int act_trigger(
	void *ctx, const sluice__barrier *b, int64_t align_ms, int64_t delay_ms)
{
	return checkpoint_perform(ctx, b, align_ms, delay_ms);
}

static int act_abort(void *ctx, int64_t id, sluice_failure_reason reason)
{
	return checkpoint_abort(ctx, id, reason);
}

static const sluice__barrier_actions task_actions = {
	NULL, act_block, act_unblock_all, act_trigger, act_abort};

/* ---- mails, timers, input --------------------------------------------- */

static int handle_mail(sluice__task *t, const sluice__mail *m)
{
	const sluice_operator *op = t->v->op;
	sluice__barrier b;
	int64_t delay;

	switch (m->kind) {
	case SLUICE__MAIL_TRIGGER:
		memset(&b, 0, sizeof(b));
		b.id = m->id;
		b.timestamp = m->arg;
		b.opts = m->opts;
		delay = sluice_clock_wall_ms(t->job->clock) - m->arg;
		return checkpoint_perform(t, &b, 0, delay > 0 ? delay : 0);
	case SLUICE__MAIL_COMPLETE:
		if (t->final_id >= 0 && m->id >= t->final_id)
			t->final_done = 1;
		t->provider->notify_complete(t->provider, m->id);
		if (op->notify_complete)
			return op->notify_complete((sluice_ctx *)t, m->id);
		return 0;
	case SLUICE__MAIL_ABORTED:
		if (m->id > t->last_checkpoint)
			aborted_remember(t, m->id);
		t->provider->notify_aborted(t->provider, m->id);
		if (op->notify_aborted)
			return op->notify_aborted((sluice_ctx *)t, m->id);
		return 0;
	}
	return 0;
}

static int fire_timers(sluice__task *t)
{
	int64_t now = sluice_clock_wall_ms(t->job->clock);
	int rc;

	while (t->num_timers > 0 && t->timers[0] <= now) {
		int64_t when = t->timers[0];

		memmove(t->timers, t->timers + 1,
			(t->num_timers - 1) * sizeof(*t->timers));
		t->num_timers--;
		if (t->v->op->on_timer &&
		    (rc = t->v->op->on_timer((sluice_ctx *)t, when)) < 0)
			return rc;
	}
	return 0;
}

/* Real-time wait bound for an idle task: until the next timer. */
static int64_t idle_wait_ms(sluice__task *t)
{
	int64_t d;

	if (t->num_timers == 0)
		return -1;
	d = t->timers[0] - sluice_clock_wall_ms(t->job->clock);
	return d < 1 ? 1 : d > 100 ? 100 : d;
}

static int handle_data(sluice__task *t, int channel, const sluice__elem *e)
{
	sluice__channel *ch = t->inbox.channels[channel];
	sluice_reader r;
	sluice_record rec;
	uint64_t n = 0;
	int rc;

	sluice_reader_init(&r, e->data, e->len);
	while ((rc = sluice__record_read(&r, &rec)) > 0) {
		t->key = rec.key;
		n++;
		rc = t->v->op->process((sluice_ctx *)t, ch->input, &rec);
		if (rc < 0)
			break;
	}
	sluice__metric_add_u64(&t->m_received, n);
	t->key = SLUICE_SLICE("", 0); /* the buffer is about to be freed */
	return rc;
}

/* End of data reached and told downstream: tell the responder (the
 * runner may trigger the final checkpoint once every task has). */
static void data_ended(sluice__task *t)
{
	const sluice_job_responder *r = &t->job->resp;
	sluice_task_info info;

	if (!r->task_data_ended)
		return;
	sluice__task_fill_info(t, &info);
	r->task_data_ended(r->ctx, &info);
}

/* No more records on `channel`: end_input when an input is done; at the
 * end of all inputs, end of data travels on when waiting for a final
 * checkpoint. */
static int handle_end_data(sluice__task *t, int channel)
{
	sluice__channel *ch = t->inbox.channels[channel];
	int rc;

	if (t->data_ended[channel])
		return 0;
	t->data_ended[channel] = 1;
	if (--t->data_open[ch->input] == 0 && t->v->op->end_input &&
	    (rc = t->v->op->end_input((sluice_ctx *)t, ch->input)) < 0)
		return rc;
	if (t->data_open[0] > 0 || t->data_open[1] > 0)
		return 0;
	t->data_done = 1;
	if (!t->final_wait)
		return 0;
	if ((rc = sluice__output_event(t, SLUICE__ELEM_END_DATA, NULL)) < 0)
		return rc;
	data_ended(t);
	return 0;
}

static int handle_end(sluice__task *t, int channel)
{
	sluice__channel *ch = t->inbox.channels[channel];
	int rc;

	if ((rc = handle_end_data(t, channel)) < 0 ||
	    (rc = sluice__barrier_on_end(&t->handler, channel)) < 0)
		return rc;
	if (--t->inputs_open[ch->input] <= 0 && t->inputs_open[0] <= 0 &&
	    t->inputs_open[1] <= 0)
		t->all_ended = 1;
	return 0;
}

static int handle_elem(sluice__task *t, int channel, const sluice__elem *e)
{
	switch (e->kind) {
	case SLUICE__ELEM_DATA:
		return handle_data(t, channel, e);
	case SLUICE__ELEM_BARRIER:
		return sluice__barrier_on_barrier(
			&t->handler, channel, &e->barrier);
	case SLUICE__ELEM_CANCEL:
		return sluice__barrier_on_cancel(
			&t->handler, channel, e->barrier.id);
	case SLUICE__ELEM_END:
		return handle_end(t, channel);
	case SLUICE__ELEM_END_DATA:
		return handle_end_data(t, channel);
	}
	return 0;
}

/* One step of the inbox: 1 handled something, 0 nothing, < 0 error. */
static int inbox_step(sluice__task *t, int64_t wait_ms)
{
	sluice__mail *m;
	sluice__elem *e;
	int ch, rc;

	rc = sluice__inbox_next(&t->inbox, wait_ms, &m, &e, &ch);
	if (rc <= 0)
		return rc == SLUICE_ECANCELED
			       ? sluice__error_set(
					 SLUICE_ECANCELED,
					 SLUICE_ERRCLS_RUNTIME, "task canceled")
			       : rc;
	if (m) {
		rc = handle_mail(t, m);
		sluice__free(m);
	} else {
		rc = handle_elem(t, ch, e);
		sluice__elem_free(e);
	}
	return rc < 0 ? rc : 1;
}

/* A source at its end: with a final checkpoint, tell downstream and keep
 * serving mails until a checkpoint taken after the end completed. */
static int source_final(sluice__task *t)
{
	int rc;

	t->data_done = 1;
	if (!t->final_wait)
		return 0;
	if ((rc = sluice__output_event(t, SLUICE__ELEM_END_DATA, NULL)) < 0)
		return rc;
	data_ended(t);
	while (!t->final_done) {
		if ((rc = fire_timers(t)) < 0 ||
		    (rc = inbox_step(t, idle_wait_ms(t))) < 0)
			return rc;
	}
	return 0;
}

static int source_loop(sluice__task *t)
{
	sluice_source_status status = SLUICE_SOURCE_MORE;
	int rc;

	for (;;) {
		while ((rc = inbox_step(t, 0)) > 0)
			;
		if (rc < 0 || (rc = fire_timers(t)) < 0)
			return rc;
		if (status == SLUICE_SOURCE_END)
			return source_final(t);
		if ((rc = t->v->op->poll((sluice_ctx *)t, &status)) < 0)
			return rc;
		if (status == SLUICE_SOURCE_IDLE) {
			if ((rc = sluice__output_flush(t)) < 0)
				return rc;
			if ((rc = inbox_step(t, idle_wait_ms(t))) < 0)
				return rc;
		}
	}
}

static int input_loop(sluice__task *t)
{
	int rc;

	while (!t->all_ended || (t->final_wait && !t->final_done)) {
		if ((rc = fire_timers(t)) < 0)
			return rc;
		if ((rc = inbox_step(t, 0)) < 0)
			return rc;
		if (rc > 0)
			continue;
		if ((rc = sluice__output_flush(t)) < 0)
			return rc;
		if ((rc = inbox_step(t, idle_wait_ms(t))) < 0)
			return rc;
	}
	return 0;
}

/* ---- life cycle -------------------------------------------------------- */

/* Close our inbox; decline triggers that can no longer run. */
static void close_inbox(sluice__task *t)
{
	sluice__mail *m, *next;

	pthread_mutex_lock(&t->inbox.lock);
	t->inbox.closed = 1;
	m = t->inbox.mail_head;
	t->inbox.mail_head = t->inbox.mail_tail = NULL;
	pthread_mutex_unlock(&t->inbox.lock);
	for (; m; m = next) {
		next = m->next;
		if (m->kind == SLUICE__MAIL_TRIGGER &&
		    !sluice__job_stopping(t->job))
			sluice__task_decline(
				t, m->id,
				SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING,
				NULL);
		sluice__free(m);
	}
}

static int task_run(sluice__task *t, int *opened)
{
	const sluice_operator *op = t->v->op;
	int rc;

	set_state(t, SLUICE_TASK_STATE_INITIALIZING);
	if (op->initialize_state &&
	    (rc = op->initialize_state((sluice_ctx *)t, t->restored)) < 0)
		return rc;
	*opened = 1;
	if (op->open && (rc = op->open((sluice_ctx *)t)) < 0)
		return rc;
	set_state(t, SLUICE_TASK_STATE_RUNNING);
	if (t->v->kind == SLUICE_VERTEX_SOURCE)
		rc = source_loop(t);
	else
		rc = input_loop(t);
	if (rc < 0)
		return rc;
	set_state(t, SLUICE_TASK_STATE_FINISHING);
	return sluice__output_event(t, SLUICE__ELEM_END, NULL);
}

static void task_failed(sluice__task *t, int rc)
{
	const sluice_job_responder *r = &t->job->resp;
	sluice_task_info info;
	char *msg;

	if (rc == SLUICE_ECANCELED && sluice__job_stopping(t->job)) {
		set_state(t, SLUICE_TASK_STATE_CANCELED);
		return;
	}
	msg = sluice__strdup(sluice_error_last()->message);
	sluice__warn(
		"task %s (%d/%d) failed: %s", t->v->name, (int)t->subtask + 1,
		(int)t->v->parallelism, msg ? msg : "out of memory");
	set_state(t, SLUICE_TASK_STATE_FAILED);
	sluice__job_fail(t->job, msg ? msg : "out of memory");
	if (r->task_failed) {
		sluice__task_fill_info(t, &info);
		r->task_failed(r->ctx, &info, msg ? msg : "out of memory");
	}
	sluice__free(msg);
}

void *sluice__task_main(void *arg)
{
	sluice__task *t = arg;
	const sluice_job_responder *r = &t->job->resp;
	sluice_task_info info;
	int opened = 0;
	int rc = task_run(t, &opened);

	if (rc < 0) /* before closing our inbox: producers must see the
		       job stopping, not a closed channel */
		task_failed(t, rc);
	close_inbox(t);
	if (opened && t->v->op->close)
		t->v->op->close((sluice_ctx *)t, rc < 0);
	if (rc >= 0) {
		set_state(t, SLUICE_TASK_STATE_FINISHED);
		if (r->task_finished) {
			sluice__task_fill_info(t, &info);
			r->task_finished(r->ctx, &info);
		}
	}
	sluice__job_task_done(t->job);
	return NULL;
}

int sluice__task_prepare(sluice__task *t)
{
	sluice__barrier_actions *act = sluice__calloc(1, sizeof(*act));
	int rc;

	if (!act)
		return sluice__error_oom();
	*act = task_actions;
	act->ctx = t;
	t->data_ended = sluice__calloc(
		t->inbox.num_channels ? (size_t)t->inbox.num_channels : 1, 1);
	if (!t->data_ended) {
		sluice__free(act);
		return sluice__error_oom();
	}
	rc = sluice__barrier_handler_init(
		&t->handler, t->job->opts.mode == SLUICE_JOB_EXACTLY_ONCE,
		t->job->opts.checkpoints_after_tasks_finish >= 0,
		t->inbox.num_channels, act, t->job->clock);
	if (rc < 0) {
		sluice__free(act);
		return rc;
	}
	t->handler_inited = 1;
	return 0;
}

void sluice__task_release(sluice__task *t)
{
	int i;

	if (t->handler_inited) {
		sluice__free((void *)t->handler.act);
		sluice__barrier_handler_release(&t->handler);
		t->handler_inited = 0;
	}
	if (t->provider)
		t->provider->free(t->provider);
	t->provider = NULL;
	for (i = 0; i < t->num_outs; i++) {
		int ci;

		for (ci = 0; ci < t->outs[i].num_channels; ci++)
			sluice_buf_release(&t->outs[i].bufs[ci]);
		sluice__free(t->outs[i].bufs);
		sluice__free(t->outs[i].channels);
	}
	sluice__free(t->outs);
	t->outs = NULL;
	t->num_outs = 0;
	sluice_buf_release(&t->key_buf);
	sluice__free(t->data_ended);
	t->data_ended = NULL;
	sluice__free(t->timers);
	t->timers = NULL;
	t->num_timers = t->cap_timers = 0;
}
