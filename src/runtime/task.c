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

	if (t->unaligned)
		sluice__csw_withdraw(&t->job->csw, t->index, id);
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
	uint64_t processed; /* input bytes taken while barriers were pending */
	int unaligned;
	int grouped;   /* acknowledged through the channel-state writer */
	uint8_t *blob; /* channel state (unaligned), NULL = none */
	size_t blob_len;
	uint64_t persisted; /* in-flight bytes in `blob` */
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
			handle_size(opstate ? opstate->stream : NULL) +
			w->persisted;
	s->checkpointed_size = s->state_size;
	s->incremental = inc;
	s->state_size += incremental_size(inc);
	s->checkpointed_size += inc ? inc->checkpointed_size : 0;
	s->processed_bytes = w->processed;
	s->persisted_bytes = w->persisted;
	s->unaligned = w->unaligned;
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
	} else if (w->grouped) {
		sluice__task_fill_info(t, &info);
		sluice__csw_contribute(
			&t->job->csw, t->index, w->id, &info, snap, w->blob,
			w->blob_len);
		w->blob = NULL;
	} else if (sluice__job_stopping(t->job) || !t->job->resp.ack) {
		sluice_task_snapshot_free(snap);
	} else {
		sluice__task_fill_info(t, &info);
		t->job->resp.ack(t->job->resp.ctx, &info, w->id, snap);
	}
	sluice__free(w->blob);
	sluice__free(w);
}

static void snapshot_discard(sluice__work *base)
{
	snapshot_work *w = (snapshot_work *)base;

	w->task->provider->snapshot_discard(w->task->provider, w->snap);
	sluice__free(w->blob);
	sluice__free(w);
}

/* Stop collecting channel state; its snapshot is dropped. */
static void cs_drop(sluice__task *t)
{
	if (t->cs_work)
		snapshot_discard(t->cs_work);
	t->cs_work = NULL;
	t->cs_id = -1;
	sluice__chs_release(&t->cs);
}

/* Whether checkpoint `b` goes through the channel-state writer. */
static int grouped(const sluice__task *t, const sluice__barrier *b)
{
	return t->unaligned && b->opts.unaligned && !b->opts.savepoint;
}

static int attach_out_cs(sluice__task *t, snapshot_work *w);

/* Forget the aligned barrier waiting for its consumers; its snapshot is
 * dropped. */
static void out_drop(sluice__task *t)
{
	if (t->out_work)
		snapshot_discard(t->out_work);
	t->out_work = NULL;
	t->out_id = -1;
	sluice__btrack_release(t->out_track);
	t->out_track = NULL;
	sluice__chs_release(&t->out_cs);
}

/*
 * The aligned barrier of out_id: once every consumer took it the snapshot
 * goes to the pool as an aligned one; when the aligned timeout passes
 * first, the barriers still queued become priority elements and the
 * buffers they overtook are the checkpoint's output channel state.
 */
static int out_check(sluice__task *t)
{
	snapshot_work *w = t->out_work;
	int rc;

	if (!w)
		return 0;
	if (__atomic_load_n(&t->out_track->left, __ATOMIC_ACQUIRE) > 0) {
		if (sluice_clock_wall_ms(t->job->clock) < t->out_deadline)
			return 0;
		if ((rc = sluice__output_prioritize(t, t->out_id, &t->out_cs)) <
		    0)
			return rc;
	}
	if ((rc = attach_out_cs(t, w)) < 0)
		return rc;
	t->out_work = NULL;
	out_drop(t);
	if ((rc = sluice__pool_submit(&t->job->pool, &w->base)) < 0)
		snapshot_discard(&w->base);
	return rc;
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
	if (t->cs_id == id)
		cs_drop(t);
	if (t->out_id == id)
		out_drop(t);
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

/* Checks before checkpoint `b`: 1 go on, 0 skipped, < 0 error. */
static int checkpoint_admit(sluice__task *t, const sluice__barrier *b)
{
	int rc;

	if (aborted_take(t, b->id)) {
		if (b->id > t->last_checkpoint)
			t->last_checkpoint = b->id;
		if (t->unaligned)
			sluice__csw_withdraw(&t->job->csw, t->index, b->id);
		rc = sluice__output_event(t, SLUICE__ELEM_CANCEL, b);
		return rc < 0 ? rc : 0;
	}
	if (b->id <= t->last_checkpoint)
		return 0; /* duplicate trigger */
	t->last_checkpoint = b->id;
	if (sluice__task_state_get(t) != SLUICE_TASK_STATE_RUNNING) {
		sluice__task_decline(
			t, b->id, SLUICE_CFR_CHECKPOINT_DECLINED_TASK_CLOSING,
			NULL);
		rc = sluice__output_event(t, SLUICE__ELEM_CANCEL, b);
		return rc < 0 ? rc : 0;
	}
	return 1;
}

/* Synchronous phase into a new work item (not submitted yet). */
static int checkpoint_work(
	sluice__task *t,
	const sluice__barrier *b,
	int64_t align_ms,
	int64_t delay_ms,
	snapshot_work **out)
{
	snapshot_work *w;
	int64_t t0;

	*out = NULL;
	if (!(w = sluice__calloc(1, sizeof(*w))))
		return sluice__error_oom();
	t0 = sluice_clock_mono_ns(t->job->clock);
	if (checkpoint_sync(t, b, &w->snap) < 0) {
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
	w->grouped = grouped(t, b);
	w->processed = t->bytes_in - t->bytes_at_start;
	if (t->data_done && t->final_id < 0)
		t->final_id = b->id; /* the final checkpoint candidate */
	*out = w;
	return 0;
}

static int process_cur(sluice__task *t);

/*
 * An aligned checkpoint completing while an input buffer is half done
 * (a priority barrier was taken between its records): the rest came
 * before the barrier.  Savepoints process it first; checkpoints record it
 * as input channel state (in out_cs) so the task need not block.
 */
static int rest_of_buffer(sluice__task *t, const sluice__barrier *b)
{
	int rc, unaligned = t->unaligned;

	sluice__chs_release(&t->out_cs);
	if (!t->cur || sluice_reader_left(&t->cur_r) == 0)
		return 0;
	if (grouped(t, b))
		return sluice__chs_add(
			&t->out_cs, SLUICE__CHS_INPUT,
			(uint16_t)t->inbox.channels[t->cur_ch]->input,
			(uint32_t)t->cur_ch, t->cur_r.p + t->cur_r.pos,
			sluice_reader_left(&t->cur_r));
	t->unaligned = 0; /* process it whole */
	rc = process_cur(t);
	t->unaligned = unaligned;
	return rc;
}

/* What out_cs collected becomes the work's channel state. */
static int attach_out_cs(sluice__task *t, snapshot_work *w)
{
	if (t->out_cs.entries == 0)
		return 0;
	w->unaligned = 1;
	w->persisted = t->out_cs.bytes;
	return sluice__chs_finish(&t->out_cs, &w->blob, &w->blob_len);
}

/* Aligned with a timeout (spec §4.5): the barrier goes behind the
 * queued output, the snapshot waits in out_work (see out_check). */
static int checkpoint_timeoutable(
	sluice__task *t,
	const sluice__barrier *b,
	int64_t align_ms,
	int64_t delay_ms)
{
	snapshot_work *w;
	int rc;

	if (t->out_work) { /* an older one never finished here */
		snapshot_discard(t->out_work);
		t->out_work = NULL;
	}
	sluice__btrack_release(t->out_track);
	if (!(t->out_track = sluice__btrack_new()))
		return sluice__error_oom();
	if ((rc = sluice__output_barrier_timeoutable(t, b, t->out_track)) < 0 ||
	    (rc = checkpoint_work(t, b, align_ms, delay_ms, &w)) < 0)
		return rc;
	t->out_id = b->id;
	t->out_work = w;
	t->out_deadline = b->timestamp + b->opts.aligned_timeout_ms;
	return out_check(t);
}

static int checkpoint_perform(
	sluice__task *t,
	const sluice__barrier *b,
	int64_t align_ms,
	int64_t delay_ms)
{
	snapshot_work *w;
	int rc;

	if ((rc = checkpoint_admit(t, b)) <= 0)
		return rc;
	if ((rc = rest_of_buffer(t, b)) < 0)
		return rc;
	if (grouped(t, b) && b->opts.aligned_timeout_ms > 0 && t->num_outs > 0)
		return checkpoint_timeoutable(t, b, align_ms, delay_ms);
	if ((rc = sluice__output_event(t, SLUICE__ELEM_BARRIER, b)) < 0 ||
	    (rc = checkpoint_work(t, b, align_ms, delay_ms, &w)) < 0 ||
	    (rc = attach_out_cs(t, w)) < 0)
		return rc;
	if ((rc = sluice__pool_submit(&t->job->pool, &w->base)) < 0)
		snapshot_discard(&w->base);
	return rc;
}

/*
 * Unaligned checkpoint (spec §4.4): the barrier overtakes the output
 * queues (overtaken and pending buffers recorded), the rest of the input
 * buffer being processed is recorded, the operator state is snapshotted
 * now, and input channels whose barrier is not in yet are recorded until
 * it arrives; the snapshot is submitted when the last one did.
 */
static int checkpoint_unaligned(
	sluice__task *t,
	const sluice__barrier *b,
	const uint8_t *arrived,
	int64_t delay_ms)
{
	snapshot_work *w;
	int i, rc;

	if ((rc = checkpoint_admit(t, b)) <= 0)
		return rc;
	cs_drop(t);
	if ((rc = sluice__output_overtake(t, b)) < 0)
		return rc;
	if (t->cur && sluice_reader_left(&t->cur_r) > 0 &&
	    (rc = sluice__chs_add(
		     &t->cs, SLUICE__CHS_INPUT,
		     (uint16_t)t->inbox.channels[t->cur_ch]->input,
		     (uint32_t)t->cur_ch, t->cur_r.p + t->cur_r.pos,
		     sluice_reader_left(&t->cur_r))) < 0)
		return rc;
	if ((rc = checkpoint_work(t, b, 0, delay_ms, &w)) < 0)
		return rc;
	w->unaligned = 1;
	for (i = 0; i < t->inbox.num_channels; i++)
		t->cs_recording[i] = arrived ? !arrived[i] : 0;
	t->cs_id = b->id;
	t->cs_work = w;
	return 0;
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

static void act_started(void *ctx, int64_t id)
{
	sluice__task *t = ctx;

	t->bytes_at_start = t->bytes_in;
	if (t->out_id >= 0 && t->out_id < id)
		out_drop(t); /* an older checkpoint never finished here */
}

static int act_trigger_unaligned(
	void *ctx,
	const sluice__barrier *b,
	const uint8_t *arrived,
	int64_t delay_ms)
{
	return checkpoint_unaligned(ctx, b, arrived, delay_ms);
}

static void act_channel_barrier(void *ctx, int channel)
{
	sluice__task *t = ctx;

	t->cs_recording[channel] = 0;
}

/* Every barrier of `id` is in: the channel state is complete. */
static int act_unaligned_done(void *ctx, int64_t id, int64_t align_ms)
{
	sluice__task *t = ctx;
	snapshot_work *w = t->cs_work;
	int rc;

	if (t->cs_id != id || !w)
		return 0;
	w->persisted = t->cs.bytes;
	w->processed = t->bytes_in - t->bytes_at_start;
	w->align_ms = align_ms;
	if ((rc = sluice__chs_finish(&t->cs, &w->blob, &w->blob_len)) < 0) {
		cs_drop(t);
		return rc;
	}
	t->cs_work = NULL;
	t->cs_id = -1;
	if ((rc = sluice__pool_submit(&t->job->pool, &w->base)) < 0)
		snapshot_discard(&w->base);
	return rc;
}

static const sluice__barrier_actions task_actions = {
	NULL,
	act_block,
	act_unblock_all,
	act_trigger,
	act_abort,
	act_started,
	act_trigger_unaligned,
	act_channel_barrier,
	act_unaligned_done};

typedef struct keep_in {
	sluice__task *t;
	int channel;
} keep_in;

static int keep_input(void *arg, const uint8_t *data, size_t len)
{
	keep_in *k = arg;

	return sluice__chs_add(
		&k->t->cs, SLUICE__CHS_INPUT,
		(uint16_t)k->t->inbox.channels[k->channel]->input,
		(uint32_t)k->channel, data, len);
}

/* An aligned checkpoint triggered on a task with inputs (its upstream
 * finished): the barrier goes behind what is still queued on every
 * input, as if the finished tasks had sent it (Flink does the same), and
 * the barrier handler aligns it (and may time it out).  Channels whose
 * end was consumed get none; a queued end stays behind the barrier. */
static int inject_barriers(sluice__task *t, const sluice__barrier *b)
{
	int i, rc;

	for (i = 0; i < t->inbox.num_channels; i++) {
		sluice__elem *e;

		if (t->handler.ended[i])
			continue;
		if (!(e = sluice__elem_new(SLUICE__ELEM_BARRIER)))
			return sluice__error_oom();
		e->barrier = *b;
		rc = sluice__channel_push_before_end(t->inbox.channels[i], e);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * A trigger mail: a source, or a task whose every upstream finished
 * (spec §2.8).  A source checkpoints unaligned when the options allow it
 * and the aligned timeout is 0 or already over, else aligned (its
 * barriers may still time out on the output side).  A task with inputs
 * checkpoints unaligned whenever the options allow it: what is still
 * queued on its inputs came before the (never sent) barriers of the
 * finished upstream tasks, so it is channel state; otherwise (savepoints)
 * the barriers are injected behind it.
 */
static int trigger_source(sluice__task *t, sluice__barrier *b, int64_t delay)
{
	keep_in k;
	int rc;

	if (t->unaligned && t->handler.num_open > 0 && !grouped(t, b))
		return inject_barriers(t, b);
	if (!grouped(t, b) ||
	    (t->inbox.num_channels == 0 && b->opts.aligned_timeout_ms > 0 &&
	     sluice_clock_wall_ms(t->job->clock) <
		     b->timestamp + b->opts.aligned_timeout_ms))
		return checkpoint_perform(t, b, 0, delay);
	if ((rc = checkpoint_unaligned(t, b, NULL, delay)) < 0)
		return rc;
	k.t = t;
	for (k.channel = 0; k.channel < t->inbox.num_channels; k.channel++)
		if (t->cs_id == b->id &&
		    (rc = sluice__channel_peek_data(
			     t->inbox.channels[k.channel], keep_input, &k)) < 0)
			return rc;
	return act_unaligned_done(t, b->id, 0);
}

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
		return trigger_source(t, &b, delay > 0 ? delay : 0);
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
		if (t->cs_id == m->id)
			cs_drop(t);
		if (t->out_id == m->id)
			out_drop(t);
		if (t->unaligned)
			sluice__csw_withdraw(&t->job->csw, t->index, m->id);
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

/* Real-time wait bound for an idle task: until the next timer or the
 * aligned-checkpoint deadline. */
static int64_t idle_wait_ms(sluice__task *t)
{
	int64_t now, d = -1, dl = sluice__barrier_deadline(&t->handler);

	if (t->num_timers == 0 && dl < 0 && !t->out_work)
		return -1;
	now = sluice_clock_wall_ms(t->job->clock);
	if (t->num_timers > 0)
		d = t->timers[0] - now;
	if (dl >= 0 && (d < 0 || dl - now < d))
		d = dl - now;
	if (t->out_work && (d < 0 || t->out_deadline - now < d))
		d = t->out_deadline - now;
	return d < 1 ? 1 : d > 100 ? 100 : d;
}

/* Unaligned mode: stop processing the current buffer for now? */
static int must_pause(sluice__task *t)
{
	int64_t dl;

	if (sluice__inbox_prio(&t->inbox) || !sluice__output_available(t, 1))
		return 1;
	if (t->out_work &&
	    __atomic_load_n(&t->out_track->left, __ATOMIC_ACQUIRE) == 0)
		return 1;
	if ((++t->pause_tick & 15) != 0)
		return 0;
	dl = sluice__barrier_deadline(&t->handler);
	if (t->out_work && (dl < 0 || t->out_deadline < dl))
		dl = t->out_deadline;
	return dl >= 0 && sluice_clock_wall_ms(t->job->clock) >= dl;
}

/* Process records of the current input buffer; in unaligned mode it may
 * stop early (priority barrier waiting, an output without credit, the
 * aligned timeout due) and keep the rest for later. */
static int process_cur(sluice__task *t)
{
	int input = t->inbox.channels[t->cur_ch]->input;
	sluice_record rec;
	uint64_t n = 0;
	int rc = 0;

	while (sluice_reader_left(&t->cur_r) > 0) {
		if ((rc = sluice__record_read(&t->cur_r, &rec)) <= 0)
			break;
		t->key = rec.key;
		n++;
		rc = t->v->op->process((sluice_ctx *)t, input, &rec);
		if (rc < 0)
			break;
		/* checked after a record, so every call makes progress */
		if (t->unaligned && sluice_reader_left(&t->cur_r) > 0 &&
		    must_pause(t)) {
			sluice__metric_add_u64(&t->m_received, n);
			t->key = SLUICE_SLICE("", 0);
			return 0;
		}
	}
	sluice__metric_add_u64(&t->m_received, n);
	t->key = SLUICE_SLICE("", 0); /* the buffer is about to be freed */
	sluice__elem_free(t->cur);
	t->cur = NULL;
	return rc < 0 ? rc : 0;
}

/* A data buffer from `channel` (taken over): recorded when it is
 * in-flight data of an unaligned checkpoint, then processed. */
static int take_data(sluice__task *t, int channel, sluice__elem *e)
{
	int rc;

	t->bytes_in += e->len;
	if (t->cs_id >= 0 && t->cs_recording[channel] &&
	    (rc = sluice__chs_add(
		     &t->cs, SLUICE__CHS_INPUT,
		     (uint16_t)t->inbox.channels[channel]->input,
		     (uint32_t)channel, e->data, e->len)) < 0) {
		sluice__elem_free(e);
		return rc;
	}
	t->cur = e;
	t->cur_ch = channel;
	sluice_reader_init(&t->cur_r, e->data, e->len);
	return process_cur(t);
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
		return 0; /* take_data */
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

/* One step of the inbox: 1 handled something, 0 nothing, < 0 error.
 * `prio_only`: mails and priority barriers only. */
static int inbox_step(sluice__task *t, int64_t wait_ms, int prio_only)
{
	sluice__mail *m;
	sluice__elem *e;
	int ch, rc;

	rc = sluice__inbox_next(&t->inbox, wait_ms, prio_only, &m, &e, &ch);
	if (rc <= 0)
		return rc == SLUICE_ECANCELED
			       ? sluice__error_set(
					 SLUICE_ECANCELED,
					 SLUICE_ERRCLS_RUNTIME, "task canceled")
			       : rc;
	if (m) {
		rc = handle_mail(t, m);
		sluice__free(m);
	} else if (e->kind == SLUICE__ELEM_DATA) {
		rc = take_data(t, ch, e);
	} else {
		rc = handle_elem(t, ch, e);
		sluice__elem_free(e);
	}
	return rc < 0 ? rc : 1;
}

/* Nothing to do: push pending output (only where there is credit in
 * unaligned mode, so barriers and mails are never stuck behind it). */
static int flush_idle(sluice__task *t)
{
	if (t->unaligned)
		return sluice__output_flush_available(t);
	return sluice__output_flush(t);
}

/* Unaligned mode, before an end event: push the pending output as
 * credit allows while serving mails and priority barriers, so a
 * backpressured task never blocks in a push with a checkpoint waiting. */
static int drain_output(sluice__task *t)
{
	int rc;

	if (!t->unaligned)
		return 0;
	for (;;) {
		if ((rc = out_check(t)) < 0 ||
		    (rc = sluice__output_flush_available(t)) < 0)
			return rc;
		if (sluice__output_available(t, 0) &&
		    (rc = sluice__output_flush(t)) >= 0)
			return 0; /* pushed without waiting */
		if (rc < 0 || (rc = inbox_step(t, idle_wait_ms(t), 1)) < 0)
			return rc;
	}
}

/* A source at its end: with a final checkpoint, tell downstream and keep
 * serving mails until a checkpoint taken after the end completed. */
static int source_final(sluice__task *t)
{
	int rc;

	t->data_done = 1;
	if (!t->final_wait)
		return 0;
	if ((rc = drain_output(t)) < 0 ||
	    (rc = sluice__output_event(t, SLUICE__ELEM_END_DATA, NULL)) < 0)
		return rc;
	data_ended(t);
	while (!t->final_done) {
		if ((rc = fire_timers(t)) < 0 || (rc = out_check(t)) < 0 ||
		    (rc = inbox_step(t, idle_wait_ms(t), 0)) < 0)
			return rc;
	}
	return 0;
}

static int source_loop(sluice__task *t)
{
	sluice_source_status status =
		t->restored_finished ? SLUICE_SOURCE_END : SLUICE_SOURCE_MORE;
	int rc;

	for (;;) {
		while ((rc = inbox_step(t, 0, 0)) > 0)
			;
		if (rc < 0 || (rc = fire_timers(t)) < 0 ||
		    (rc = out_check(t)) < 0)
			return rc;
		if (status == SLUICE_SOURCE_END)
			return source_final(t);
		if (t->unaligned && !sluice__output_available(t, 0)) {
			/* backpressured: serve mails, wait for a credit */
			if ((rc = inbox_step(t, idle_wait_ms(t), 1)) < 0)
				return rc;
			continue;
		}
		if ((rc = t->v->op->poll((sluice_ctx *)t, &status)) < 0)
			return rc;
		if (status == SLUICE_SOURCE_IDLE) {
			if ((rc = flush_idle(t)) < 0)
				return rc;
			if ((rc = inbox_step(t, idle_wait_ms(t), 0)) < 0)
				return rc;
		}
	}
}

/* Unaligned mode: the aligned timeout may be due; an output without
 * credit stops input (mails and priority barriers are still served).
 * 1 when it used the turn. */
static int input_backpressured(sluice__task *t, int *rc)
{
	if (!t->unaligned)
		return 0;
	if ((*rc = sluice__barrier_check_timeout(&t->handler)) < 0 ||
	    (*rc = out_check(t)) < 0)
		return 1;
	if (!sluice__output_available(t, 0)) {
		*rc = inbox_step(t, idle_wait_ms(t), 1);
		return 1;
	}
	return 0;
}

static int input_loop(sluice__task *t)
{
	int rc;

	while (!t->all_ended || (t->final_wait && !t->final_done)) {
		if ((rc = fire_timers(t)) < 0)
			return rc;
		if (input_backpressured(t, &rc)) {
			if (rc < 0)
				return rc;
			continue;
		}
		if (t->cur) {
			if ((rc = process_cur(t)) < 0 ||
			    (t->cur && (rc = inbox_step(t, 0, 1)) < 0))
				return rc;
			continue;
		}
		if ((rc = inbox_step(t, 0, 0)) < 0)
			return rc;
		if (rc > 0)
			continue;
		if ((rc = flush_idle(t)) < 0)
			return rc;
		if ((rc = inbox_step(t, idle_wait_ms(t), 0)) < 0)
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
	__atomic_store_n(&t->inbox.has_mail, 0, __ATOMIC_RELAXED);
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

/* Restored channel state (spec §4.4): output buffers go to their
 * channels again, input buffers are processed, before any new input. */
static int replay(sluice__task *t)
{
	sluice__chs_entry *en = NULL;
	size_t n = 0, i;
	int rc, unaligned = t->unaligned;

	if (!t->replay)
		return 0;
	rc = sluice__chs_parse(t->replay, t->replay_len, t->v->uid, &en, &n);
	for (i = 0; rc >= 0 && i < n; i++) {
		sluice__elem *e = sluice__elem_new(SLUICE__ELEM_DATA);

		if (!e || !(e->data = sluice__memdup(en[i].data, en[i].len))) {
			sluice__elem_free(e);
			rc = sluice__error_oom();
			break;
		}
		e->len = en[i].len;
		if (en[i].kind == SLUICE__CHS_OUTPUT) {
			rc = sluice__channel_push(
				t->outs[en[i].gate].channels[en[i].channel], e);
			continue;
		}
		t->cur = e;
		t->cur_ch = (int)en[i].channel;
		sluice_reader_init(&t->cur_r, e->data, e->len);
		t->unaligned = 0; /* process it whole */
		rc = process_cur(t);
		t->unaligned = unaligned;
	}
	sluice__free(en);
	sluice__free(t->replay);
	t->replay = NULL;
	return rc;
}

static int task_run(sluice__task *t, int *opened)
{
	const sluice_operator *op = t->v->op;
	int rc;

	set_state(t, SLUICE_TASK_STATE_INITIALIZING);
	*opened = 1; /* close follows, also when restoring fails half-way */
	if (op->initialize_state &&
	    (rc = op->initialize_state((sluice_ctx *)t, t->restored)) < 0)
		return rc;
	if (op->open && (rc = op->open((sluice_ctx *)t)) < 0)
		return rc;
	if ((rc = replay(t)) < 0)
		return rc;
	set_state(t, SLUICE_TASK_STATE_RUNNING);
	if (t->v->kind == SLUICE_VERTEX_SOURCE)
		rc = source_loop(t);
	else
		rc = input_loop(t);
	if (rc < 0 || (rc = drain_output(t)) < 0)
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
	cs_drop(t);
	out_drop(t);
	if (t->unaligned)
		sluice__csw_leave(&t->job->csw, t->index);
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
	t->cs_recording = sluice__calloc(
		t->inbox.num_channels ? (size_t)t->inbox.num_channels : 1, 1);
	if (!t->data_ended || !t->cs_recording) {
		sluice__free(act);
		return sluice__error_oom();
	}
	t->cs_id = -1;
	t->out_id = -1;
	sluice__chs_init(&t->cs);
	sluice__chs_init(&t->out_cs);
	t->unaligned = t->job->opts.unaligned &&
		       t->job->opts.mode == SLUICE_JOB_EXACTLY_ONCE;
	rc = sluice__barrier_handler_init(
		&t->handler, t->job->opts.mode == SLUICE_JOB_EXACTLY_ONCE,
		t->job->opts.checkpoints_after_tasks_finish >= 0,
		t->inbox.num_channels, act, t->job->clock);
	if (rc < 0) {
		sluice__free(act);
		return rc;
	}
	t->handler.unaligned_enabled = t->unaligned;
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
	if (t->provider) {
		cs_drop(t); /* snapshots held for channel state */
		out_drop(t);
		t->provider->free(t->provider);
	}
	t->provider = NULL;
	sluice__chs_release(&t->cs);
	sluice__chs_release(&t->out_cs);
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

	sluice__free(t->cs_recording);
	t->cs_recording = NULL;
	sluice__elem_free(t->cur);
	t->cur = NULL;
	sluice__free(t->replay);
	t->replay = NULL;
	sluice__free(t->timers);
	t->timers = NULL;
	t->num_timers = t->cap_timers = 0;
}
