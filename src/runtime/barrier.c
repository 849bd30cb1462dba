/*
 * Barrier alignment (exactly-once, aligned or unaligned with the aligned
 * timeout) and barrier tracking (at-least-once), following Flink's
 * SingleCheckpointBarrierHandler (with its alternating aligned /
 * unaligned behaviour) and CheckpointBarrierTracker; the rules are listed
 * in barrier.h.
 */
#include <string.h>

#include "runtime/barrier.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

int sluice__barrier_handler_init(
	sluice__barrier_handler *h,
	int exactly_once,
	int after_finish,
	int num_channels,
	const sluice__barrier_actions *act,
	sluice_clock *clock)
{
	size_t n = num_channels > 0 ? (size_t)num_channels : 1;

	memset(h, 0, sizeof(*h));
	h->exactly_once = exactly_once;
	h->after_finish = after_finish;
	h->act = act;
	h->clock = clock;
	h->num_channels = num_channels;
	h->num_open = num_channels;
	h->current = -1;
	h->last_done = -1;
	h->latest = -1;
	h->deadline_ms = -1;
	h->ended = sluice__calloc(n, 1);
	h->aligned = sluice__calloc(n, 1);
	if (!h->ended || !h->aligned) {
		sluice__barrier_handler_release(h);
		return sluice__error_oom();
	}
	return 0;
}

static void tracked_drop_first(sluice__barrier_handler *h, int count)
{
	int i;

	for (i = 0; i < count; i++)
		sluice__free(h->tracked[i].seen);
	memmove(h->tracked, h->tracked + count,
		(size_t)(h->num_tracked - count) * sizeof(h->tracked[0]));
	h->num_tracked -= count;
}

void sluice__barrier_handler_release(sluice__barrier_handler *h)
{
	tracked_drop_first(h, h->num_tracked);
	sluice__free(h->ended);
	sluice__free(h->aligned);
	h->ended = NULL;
	h->aligned = NULL;
}

int sluice__barrier_pending(const sluice__barrier_handler *h)
{
	if (!h->exactly_once)
		return h->num_tracked > 0;
	return h->current != h->last_done && h->current >= 0;
}

static int64_t now_ns(sluice__barrier_handler *h)
{
	return sluice_clock_mono_ns(h->clock);
}

/* ---- aligned -------------------------------------------------------- */

static void align_reset(sluice__barrier_handler *h)
{
	memset(h->aligned, 0,
	       h->num_channels > 0 ? (size_t)h->num_channels : 1);
	h->num_aligned = 0;
	h->target = 0;
	h->unaligned_now = 0;
	h->deadline_ms = -1;
	if (h->act->unblock_all)
		h->act->unblock_all(h->act->ctx);
}

static int align_abort(
	sluice__barrier_handler *h, int64_t id, sluice_failure_reason reason)
{
	if (id > h->current)
		h->current = id;
	if (id > h->last_done)
		h->last_done = id;
	align_reset(h);
	return h->act->abort(h->act->ctx, id, reason);
}

/* Channel counted as aligned; completes the checkpoint when all are. */
static int align_mark(sluice__barrier_handler *h, int channel, int block)
{
	sluice__barrier b;
	int64_t align_ms, delay_ms;

	if (!h->aligned[channel]) {
		h->aligned[channel] = 1;
		if (h->num_aligned++ == 0) {
			h->first_ns = now_ns(h);
			h->first_wall_ms = sluice_clock_wall_ms(h->clock);
		}
		if (block && h->act->block)
			h->act->block(h->act->ctx, channel);
	}
	if (h->num_aligned < h->target)
		return 0;
	b = h->pending;
	align_ms = h->target > 1 ? (now_ns(h) - h->first_ns) / 1000000 : 0;
	delay_ms = h->first_wall_ms - b.timestamp;
	if (delay_ms < 0)
		delay_ms = 0;
	h->last_done = h->current;
	align_reset(h);
	return h->act->trigger(h->act->ctx, &b, align_ms, delay_ms);
}

/* ---- unaligned ------------------------------------------------------ */

static int unaligned_check_done(sluice__barrier_handler *h)
{
	int64_t id = h->current, align_ms;

	if (h->num_aligned < h->target)
		return 0;
	align_ms = h->target > 1 ? (now_ns(h) - h->first_ns) / 1000000 : 0;
	h->last_done = h->current;
	align_reset(h);
	return h->act->unaligned_done(h->act->ctx, id, align_ms);
}

/* Turn the pending checkpoint unaligned and trigger it. */
static int unaligned_switch(sluice__barrier_handler *h)
{
	sluice__barrier b = h->pending;
	int64_t delay_ms = h->first_wall_ms - b.timestamp;
	int rc;

	h->unaligned_now = 1;
	h->deadline_ms = -1;
	if (h->act->unblock_all)
		h->act->unblock_all(h->act->ctx);
	b.opts.unaligned = 1;
	b.opts.aligned_timeout_ms = 0;
	rc = h->act->trigger_unaligned(
		h->act->ctx, &b, h->aligned, delay_ms < 0 ? 0 : delay_ms);
	if (rc < 0)
		return rc;
	return unaligned_check_done(h);
}

static void unaligned_mark(sluice__barrier_handler *h, int channel)
{
	if (h->aligned[channel])
		return;
	h->aligned[channel] = 1;
	h->num_aligned++;
	if (h->act->channel_barrier)
		h->act->channel_barrier(h->act->ctx, channel);
}

int64_t sluice__barrier_deadline(const sluice__barrier_handler *h)
{
	if (!h->exactly_once || h->unaligned_now || !sluice__barrier_pending(h))
		return -1;
	return h->deadline_ms;
}

int sluice__barrier_check_timeout(sluice__barrier_handler *h)
{
	int64_t d = sluice__barrier_deadline(h);

	if (d < 0 || sluice_clock_wall_ms(h->clock) < d)
		return 0;
	return unaligned_switch(h);
}

/* A new checkpoint `b` begins (nothing pending any more). */
static int align_begin(sluice__barrier_handler *h, const sluice__barrier *b)
{
	h->current = b->id;
	h->pending = *b;
	align_reset(h);
	h->target = h->num_open;
	if (h->act->started)
		h->act->started(h->act->ctx, b->id);
	if (h->unaligned_enabled && b->opts.unaligned && !b->opts.savepoint &&
	    h->act->trigger_unaligned)
		h->deadline_ms =
			b->opts.aligned_timeout_ms > 0
				? b->timestamp + b->opts.aligned_timeout_ms
				: b->timestamp;
	return 0;
}

static int aligned_barrier(
	sluice__barrier_handler *h, int channel, const sluice__barrier *b)
{
	int rc = 0;

	if (b->id < h->current ||
	    (b->id == h->current && !sluice__barrier_pending(h)))
		return 0; /* obsolete: the channel was never blocked for it */
	if (b->id > h->current) {
		if (sluice__barrier_pending(h)) {
			sluice__warn(
				"Received checkpoint barrier for checkpoint "
				"%lld before completing current checkpoint "
				"%lld. Skipping current checkpoint.",
				(long long)b->id, (long long)h->current);
			rc = align_abort(
				h, h->current,
				SLUICE_CFR_CHECKPOINT_DECLINED_SUBSUMED);
			if (rc < 0)
				return rc;
		}
		align_begin(h, b);
		if (h->deadline_ms >= 0 && b->opts.aligned_timeout_ms <= 0) {
			/* unaligned from the start */
			h->aligned[channel] = 1;
			h->num_aligned = 1;
			h->first_ns = now_ns(h);
			h->first_wall_ms = sluice_clock_wall_ms(h->clock);
			return unaligned_switch(h);
		}
	}
	if (h->unaligned_now) {
		unaligned_mark(h, channel);
		return unaligned_check_done(h);
	}
	if ((rc = align_mark(h, channel, 1)) < 0)
		return rc;
	return sluice__barrier_check_timeout(h);
}

/* ---- tracker -------------------------------------------------------- */

static int tracked_find(sluice__barrier_handler *h, int64_t id)
{
	int i;

	for (i = 0; i < h->num_tracked; i++)
		if (h->tracked[i].id == id)
			return i;
	return -1;
}

/* Entry `pos` saw channel `channel`; trigger when complete. */
static int tracked_mark(sluice__barrier_handler *h, int pos, int channel)
{
	sluice__tracked *t = &h->tracked[pos];
	sluice__barrier b;
	int64_t align_ms, delay_ms;
	int aborted;

	if (!t->seen[channel]) {
		t->seen[channel] = 1;
		t->count++;
	}
	if (t->count < t->target)
		return 0;
	b = t->barrier;
	aborted = t->aborted;
	align_ms = (now_ns(h) - t->first_ns) / 1000000;
	delay_ms = t->first_wall_ms - b.timestamp;
	tracked_drop_first(h, pos + 1);
	if (aborted)
		return 0;
	return h->act->trigger(
		h->act->ctx, &b, align_ms, delay_ms < 0 ? 0 : delay_ms);
}

/* New entry for `id` at the tail (or head when `first`). */
static int tracked_add(
	sluice__barrier_handler *h,
	const sluice__barrier *b,
	int64_t id,
	int first)
{
	sluice__tracked t;
	size_t n = h->num_channels > 0 ? (size_t)h->num_channels : 1;

	memset(&t, 0, sizeof(t));
	if (!(t.seen = sluice__calloc(n, 1)))
		return sluice__error_oom();
	t.id = id;
	t.target = h->num_open;
	t.first_ns = now_ns(h);
	t.first_wall_ms = sluice_clock_wall_ms(h->clock);
	if (b)
		t.barrier = *b;
	if (h->num_tracked == SLUICE__TRACKER_MAX)
		tracked_drop_first(h, 1);
	if (first) {
		memmove(h->tracked + 1, h->tracked,
			(size_t)h->num_tracked * sizeof(t));
		h->tracked[0] = t;
		h->num_tracked++;
		return 0;
	}
	h->tracked[h->num_tracked++] = t;
	return h->num_tracked - 1;
}

static int tracker_barrier(
	sluice__barrier_handler *h, int channel, const sluice__barrier *b)
{
	int pos;

	if (h->num_open == 1) {
		if (b->id > h->latest) {
			int64_t delay =
				sluice_clock_wall_ms(h->clock) - b->timestamp;
			return h->act->trigger(
				h->act->ctx, b, 0, delay < 0 ? 0 : delay);
		}
		return 0;
	}
	if ((pos = tracked_find(h, b->id)) >= 0)
		return tracked_mark(h, pos, channel);
	if (b->id <= h->latest)
		return 0;
	h->latest = b->id;
	if ((pos = tracked_add(h, b, b->id, 0)) < 0)
		return pos;
	return tracked_mark(h, pos, channel);
}

static int tracker_cancel(sluice__barrier_handler *h, int channel, int64_t id)
{
	sluice__tracked *t;
	int rc = 0;

	if (h->num_open == 1) {
		if (id > h->latest) {
			h->latest = id;
			return h->act->abort(
				h->act->ctx, id,
				SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
		}
		return 0;
	}
	while (h->num_tracked > 0 && h->tracked[0].id < id) {
		int aborted = h->tracked[0].aborted;
		int64_t old = h->tracked[0].id;

		tracked_drop_first(h, 1);
		if (!aborted && rc >= 0)
			rc = h->act->abort(
				h->act->ctx, old,
				SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
	}
	if (rc < 0)
		return rc;
	if (h->num_tracked > 0 && h->tracked[0].id == id) {
		t = &h->tracked[0];
		if (!t->aborted) {
			t->aborted = 1;
			rc = h->act->abort(
				h->act->ctx, id,
				SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
		}
		if (!t->seen[channel]) {
			t->seen[channel] = 1;
			if (++t->count >= t->target)
				tracked_drop_first(h, 1);
		}
		return rc;
	}
	if (id > h->latest) {
		h->latest = id;
		if ((rc = tracked_add(h, NULL, id, 1)) < 0)
			return rc;
		h->tracked[0].aborted = 1;
		h->tracked[0].seen[channel] = 1;
		h->tracked[0].count = 1;
		return h->act->abort(
			h->act->ctx, id,
			SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
	}
	return 0;
}

static int tracker_end(sluice__barrier_handler *h, int channel)
{
	int rc = 0;

	if (!h->after_finish) {
		while (h->num_tracked > 0) {
			int aborted = h->tracked[0].aborted;
			int64_t id = h->tracked[0].id;

			tracked_drop_first(h, 1);
			if (!aborted && rc >= 0)
				rc = h->act->abort(
					h->act->ctx, id,
					SLUICE_CFR_CHECKPOINT_DECLINED_INPUT_END_OF_STREAM);
		}
		return rc;
	}
	if (h->num_tracked == 0)
		return 0;
	return tracked_mark(h, h->num_tracked - 1, channel);
}

/* ---- entry points --------------------------------------------------- */

int sluice__barrier_on_barrier(
	sluice__barrier_handler *h, int channel, const sluice__barrier *b)
{
	if (channel < 0 || channel >= h->num_channels || h->ended[channel])
		return 0;
	if (h->exactly_once)
		return aligned_barrier(h, channel, b);
	return tracker_barrier(h, channel, b);
}

int sluice__barrier_on_cancel(
	sluice__barrier_handler *h, int channel, int64_t id)
{
	if (channel < 0 || channel >= h->num_channels)
		return 0;
	if (!h->exactly_once)
		return tracker_cancel(h, channel, id);
	if (id > h->current || (id == h->current && h->num_aligned > 0))
		return align_abort(
			h, id,
			SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
	return 0;
}

int sluice__barrier_on_end(sluice__barrier_handler *h, int channel)
{
	int rc;

	if (channel < 0 || channel >= h->num_channels || h->ended[channel])
		return 0;
	h->ended[channel] = 1;
	h->num_open--;
	if (!h->exactly_once)
		return tracker_end(h, channel);
	if (!sluice__barrier_pending(h))
		return 0;
	if (!h->after_finish) {
		sluice__warn(
			"Received EndOfPartition(-1) before completing current "
			"checkpoint %lld. Skipping current checkpoint.",
			(long long)h->current);
		return align_abort(
			h, h->current,
			SLUICE_CFR_CHECKPOINT_DECLINED_INPUT_END_OF_STREAM);
	}
	if (h->unaligned_now) {
		unaligned_mark(h, channel);
		return unaligned_check_done(h);
	}
	if ((rc = align_mark(h, channel, 0)) < 0)
		return rc;
	return sluice__barrier_check_timeout(h);
}
