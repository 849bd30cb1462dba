/*
 * The producer side of a subtask: serializes emitted records into one
 * pending buffer per output channel, routes them by the edge's
 * partitioning (forward, rebalance, broadcast, key-by key group), pushes a
 * buffer when it reaches the configured size, and flushes pending buffers
 * before every event so barriers and markers stay in order with records.
 *
 * Record wire format inside a buffer (records never span buffers; a
 * record bigger than the buffer size travels alone in an oversized
 * buffer): varint key length, key, varint value length, value, u64
 * timestamp.  Buffers live in memory between two threads of one
 * process; an unaligned checkpoint persists the ones its barrier overtook
 * (sluice__output_overtake, channel state in chstate.c).
 */
#include <string.h>

#include "runtime/runtime.h"
#include "util/alloc.h"
#include "util/error.h"

static int push_buffer(sluice__task *t, sluice__out_edge *e, int ci)
{
	sluice_buf *b = &e->bufs[ci];
	sluice__elem *el;
	int64_t t0;
	size_t len;
	int rc;

	if (b->len == 0)
		return 0;
	if (!(el = sluice__elem_new(SLUICE__ELEM_DATA)))
		return sluice__error_oom();
	el->data = sluice_buf_detach(b, &len);
	el->len = len;
	/* time spent here is mostly waiting for credit: backpressure */
	t0 = sluice_clock_mono_ns(t->job->clock);
	rc = sluice__channel_push(e->channels[ci], el);
	sluice__metric_add_i64(
		&t->m_blocked_ns, sluice_clock_mono_ns(t->job->clock) - t0);
	return rc;
}

static int write_record(
	sluice__task *t, sluice__out_edge *e, int ci, const sluice_record *rec)
{
	sluice_buf *b = &e->bufs[ci];
	int rc;

	if ((rc = sluice_buf_put_varint(b, rec->key.len)) < 0 ||
	    (rc = sluice_buf_put(b, rec->key.data, rec->key.len)) < 0 ||
	    (rc = sluice_buf_put_varint(b, rec->value.len)) < 0 ||
	    (rc = sluice_buf_put(b, rec->value.data, rec->value.len)) < 0 ||
	    (rc = sluice_buf_put_u64(b, (uint64_t)rec->timestamp)) < 0)
		return rc;
	if (b->len >= t->job->opts.buffer_size)
		return push_buffer(t, e, ci);
	return 0;
}

int sluice__output_emit(sluice__task *t, const sluice_record *rec)
{
	int i, ci, rc = 0;

	for (i = 0; i < t->num_outs && rc >= 0; i++) {
		sluice__out_edge *e = &t->outs[i];

		switch (e->part) {
		case SLUICE_EDGE_FORWARD:
			rc = write_record(t, e, 0, rec);
			break;
		case SLUICE_EDGE_REBALANCE:
			ci = e->rr;
			e->rr = (e->rr + 1) % e->num_channels;
			rc = write_record(t, e, ci, rec);
			break;
		case SLUICE_EDGE_BROADCAST:
			for (ci = 0; ci < e->num_channels && rc >= 0; ci++)
				rc = write_record(t, e, ci, rec);
			break;
		case SLUICE_EDGE_KEY_BY:
			ci = sluice_key_group_subtask(
				sluice_key_group(rec->key, e->target_maxp),
				e->target_p, e->target_maxp);
			rc = write_record(t, e, ci, rec);
			break;
		}
	}
	return rc;
}

int sluice__output_flush(sluice__task *t)
{
	int i, ci, rc;

	for (i = 0; i < t->num_outs; i++)
		for (ci = 0; ci < t->outs[i].num_channels; ci++)
			if ((rc = push_buffer(t, &t->outs[i], ci)) < 0)
				return rc;
	return 0;
}

int sluice__output_flush_available(sluice__task *t)
{
	int i, ci, rc;

	for (i = 0; i < t->num_outs; i++) {
		sluice__out_edge *e = &t->outs[i];

		/* one producer per channel: a credit seen stays ours */
		for (ci = 0; ci < e->num_channels; ci++)
			if (e->bufs[ci].len &&
			    sluice__channel_available(
				    e->channels[ci], &t->inbox) &&
			    (rc = push_buffer(t, e, ci)) < 0)
				return rc;
	}
	return 0;
}

int sluice__output_available(sluice__task *t, int hint)
{
	int i, ci;

	for (i = 0; i < t->num_outs; i++)
		for (ci = 0; ci < t->outs[i].num_channels; ci++) {
			sluice__channel *ch = t->outs[i].channels[ci];

			if (hint ? !sluice__channel_credit_hint(ch)
				 : !sluice__channel_available(ch, &t->inbox))
				return 0;
		}
	return 1;
}

typedef struct keep_arg {
	sluice__task *t;
	sluice__chs *cs;
	uint16_t edge;
	uint32_t channel;
} keep_arg;

static int keep_out(void *arg, const uint8_t *data, size_t len)
{
	keep_arg *k = arg;

	return sluice__chs_add(
		k->cs, SLUICE__CHS_OUTPUT, k->edge, k->channel, data, len);
}

static int keep_buffer(void *arg, const uint8_t *data, size_t len)
{
	keep_arg *k = arg;

	return sluice__chs_add(
		&k->t->cs, SLUICE__CHS_OUTPUT, k->edge, k->channel, data, len);
}

int sluice__output_overtake(sluice__task *t, const sluice__barrier *b)
{
	keep_arg k;
	int i, ci, rc;

	k.t = t;
	for (i = 0; i < t->num_outs; i++) {
		for (ci = 0; ci < t->outs[i].num_channels; ci++) {
			sluice_buf *pend = &t->outs[i].bufs[ci];
			sluice__elem *el =
				sluice__elem_new(SLUICE__ELEM_BARRIER);

			if (!el)
				return sluice__error_oom();
			el->barrier = *b;
			k.edge = (uint16_t)i;
			k.channel = (uint32_t)ci;
			rc = sluice__channel_push_overtaking(
				t->outs[i].channels[ci], el, keep_buffer, &k);
			if (rc < 0)
				return rc;
			if (pend->len &&
			    (rc = keep_buffer(&k, pend->ptr, pend->len)) < 0)
				return rc;
		}
	}
	return 0;
}

/* Before an event of an unaligned-enabled job: pending buffers go out
 * without waiting for credit, so the event is never stuck. */
static int flush_force(sluice__task *t)
{
	int i, ci, rc;

	for (i = 0; i < t->num_outs; i++) {
		sluice__out_edge *e = &t->outs[i];

		for (ci = 0; ci < e->num_channels; ci++) {
			sluice__elem *el;
			size_t len;

			if (e->bufs[ci].len == 0)
				continue;
			if (!(el = sluice__elem_new(SLUICE__ELEM_DATA)))
				return sluice__error_oom();
			el->data = sluice_buf_detach(&e->bufs[ci], &len);
			el->len = len;
			if ((rc = sluice__channel_push_force(
				     e->channels[ci], el)) < 0)
				return rc;
		}
	}
	return 0;
}

int sluice__output_event(
	sluice__task *t, sluice__elem_kind kind, const sluice__barrier *b)
{
	int i, ci, rc;

	if ((rc = t->unaligned && kind != SLUICE__ELEM_END_DATA &&
				  kind != SLUICE__ELEM_END
			  ? flush_force(t)
			  : sluice__output_flush(t)) < 0)
		return rc;
	for (i = 0; i < t->num_outs; i++) {
		for (ci = 0; ci < t->outs[i].num_channels; ci++) {
			sluice__elem *el = sluice__elem_new(kind);

			if (!el)
				return sluice__error_oom();
			if (b)
				el->barrier = *b;
			rc = sluice__channel_push(t->outs[i].channels[ci], el);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int sluice__output_barrier_timeoutable(
	sluice__task *t, const sluice__barrier *b, sluice__btrack *track)
{
	int i, ci, rc;

	if ((rc = flush_force(t)) < 0)
		return rc;
	for (i = 0; i < t->num_outs; i++) {
		for (ci = 0; ci < t->outs[i].num_channels; ci++) {
			sluice__elem *el =
				sluice__elem_new(SLUICE__ELEM_BARRIER);

			if (!el)
				return sluice__error_oom();
			el->barrier = *b;
			el->track = track;
			el->producer = &t->inbox;
			__atomic_add_fetch(&track->refs, 1, __ATOMIC_ACQ_REL);
			__atomic_add_fetch(&track->left, 1, __ATOMIC_ACQ_REL);
			rc = sluice__channel_push(t->outs[i].channels[ci], el);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int sluice__output_prioritize(sluice__task *t, int64_t id, sluice__chs *cs)
{
	keep_arg k;
	int i, ci, rc;

	k.t = t;
	k.cs = cs;
	for (i = 0; i < t->num_outs; i++)
		for (ci = 0; ci < t->outs[i].num_channels; ci++) {
			k.edge = (uint16_t)i;
			k.channel = (uint32_t)ci;
			rc = sluice__channel_prioritize(
				t->outs[i].channels[ci], id, keep_out, &k);
			if (rc < 0)
				return rc;
		}
	return 0;
}

int sluice__record_read(sluice_reader *r, sluice_record *rec)
{
	uint64_t n;

	if (sluice_reader_left(r) == 0)
		return 0;
	n = sluice_reader_varint(r);
	rec->key.len = (size_t)n;
	rec->key.data = n ? sluice_reader_take(r, (size_t)n) : "";
	n = sluice_reader_varint(r);
	rec->value.len = (size_t)n;
	rec->value.data = n ? sluice_reader_take(r, (size_t)n) : "";
	rec->timestamp = (int64_t)sluice_reader_u64(r);
	if (r->failed || !rec->key.data || !rec->value.data)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_RUNTIME,
			"network buffer: truncated record");
	return 1;
}
