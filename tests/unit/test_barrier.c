/*
 * Barrier handlers in isolation (spec §4.2, §4.3, §4.6, §4.7): aligned
 * exactly-once with 2–3 inputs (blocking, completion, obsolete barriers,
 * subsumption by a newer barrier, cancellation markers, end of partition
 * with checkpoints-after-finish on and off, alignment statistics) and the
 * at-least-once tracker (no blocking, completion, older entries dropped,
 * cancellation, end of partition, the 50-entry bound).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/barrier.h"

typedef struct ev {
	char kind; /* B block, U unblock all, T trigger, A abort */
	int channel;
	int64_t id;
	int reason;
	int64_t align_ms;
	int64_t delay_ms;
} ev;

typedef struct fake {
	ev evs[256];
	int n;
	int read; /* next event to check */
	sluice_manual_clock clock;
	sluice__barrier_handler h;
	sluice__barrier_actions act;
} fake;

static void f_block(void *ctx, int channel)
{
	fake *f = ctx;

	f->evs[f->n++] = (ev){'B', channel, 0, 0, 0, 0};
}

static void f_unblock(void *ctx)
{
	fake *f = ctx;

	f->evs[f->n++] = (ev){'U', -1, 0, 0, 0, 0};
}

static int f_trigger(
	void *ctx, const sluice__barrier *b, int64_t align_ms, int64_t delay_ms)
{
	fake *f = ctx;

	f->evs[f->n++] = (ev){'T', -1, b->id, 0, align_ms, delay_ms};
	return 0;
}

static int f_abort(void *ctx, int64_t id, sluice_failure_reason reason)
{
	fake *f = ctx;

	f->evs[f->n++] = (ev){'A', -1, id, (int)reason, 0, 0};
	return 0;
}

/* unaligned: X trigger (channel = channels already in), C channel's
 * barrier in, D all in */
static int f_trigger_unaligned(
	void *ctx,
	const sluice__barrier *b,
	const uint8_t *arrived,
	int64_t delay_ms)
{
	fake *f = ctx;
	int i, in = 0;

	for (i = 0; i < f->h.num_channels; i++)
		in += arrived[i];
	f->evs[f->n++] = (ev){'X', in, b->id, 0, 0, delay_ms};
	return 0;
}

static void f_channel_barrier(void *ctx, int channel)
{
	fake *f = ctx;

	f->evs[f->n++] = (ev){'C', channel, 0, 0, 0, 0};
}

static int f_unaligned_done(void *ctx, int64_t id, int64_t align_ms)
{
	fake *f = ctx;

	f->evs[f->n++] = (ev){'D', -1, id, 0, align_ms, 0};
	return 0;
}

static fake *fake_new(int exactly_once, int after_finish, int channels)
{
	fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	sluice_manual_clock_init(&f->clock, 1000000);
	f->act = (sluice__barrier_actions){
		f,
		f_block,
		f_unblock,
		f_trigger,
		f_abort,
		NULL,
		f_trigger_unaligned,
		f_channel_barrier,
		f_unaligned_done};
	assert_int_equal(
		sluice__barrier_handler_init(
			&f->h, exactly_once, after_finish, channels, &f->act,
			&f->clock.base),
		0);
	return f;
}

static void fake_free(fake *f)
{
	assert_int_equal(f->read, f->n); /* every event was checked */
	sluice__barrier_handler_release(&f->h);
	free(f);
}

static void barrier(fake *f, int channel, int64_t id)
{
	sluice__barrier b;

	memset(&b, 0, sizeof(b));
	b.id = id;
	b.timestamp = sluice_clock_wall_ms(&f->clock.base);
	assert_int_equal(sluice__barrier_on_barrier(&f->h, channel, &b), 0);
}

static void cancel(fake *f, int channel, int64_t id)
{
	assert_int_equal(sluice__barrier_on_cancel(&f->h, channel, id), 0);
}

static void end(fake *f, int channel)
{
	assert_int_equal(sluice__barrier_on_end(&f->h, channel), 0);
}

/* Skip unblock events (they are idempotent bookkeeping). */
static ev *next_ev(fake *f)
{
	while (f->read < f->n && f->evs[f->read].kind == 'U')
		f->read++;
	assert_true(f->read < f->n);
	return &f->evs[f->read++];
}

static void expect_block(fake *f, int channel)
{
	ev *e = next_ev(f);

	assert_int_equal(e->kind, 'B');
	assert_int_equal(e->channel, channel);
}

static ev *expect_trigger(fake *f, int64_t id)
{
	ev *e = next_ev(f);

	assert_int_equal(e->kind, 'T');
	assert_int_equal(e->id, id);
	return e;
}

static void expect_abort(fake *f, int64_t id, sluice_failure_reason reason)
{
	ev *e = next_ev(f);

	assert_int_equal(e->kind, 'A');
	assert_int_equal(e->id, id);
	assert_int_equal(e->reason, reason);
}

static void expect_quiet(fake *f)
{
	while (f->read < f->n && f->evs[f->read].kind == 'U')
		f->read++;
	assert_int_equal(f->read, f->n);
}

static void
test_barrier__aligned_blocks_each_channel_until_all_arrive(void **state)
{
	fake *f = fake_new(1, 1, 3);
	sluice__barrier b;
	ev *t;
	int i;

	(void)state;
	memset(&b, 0, sizeof(b));
	b.id = 1;
	b.timestamp = sluice_clock_wall_ms(&f->clock.base) - 3;
	assert_int_equal(sluice__barrier_on_barrier(&f->h, 0, &b), 0);
	expect_block(f, 0);
	assert_true(sluice__barrier_pending(&f->h));
	sluice_manual_clock_advance(&f->clock, 2);
	assert_int_equal(sluice__barrier_on_barrier(&f->h, 2, &b), 0);
	expect_block(f, 2);
	expect_quiet(f);
	sluice_manual_clock_advance(&f->clock, 3);
	assert_int_equal(sluice__barrier_on_barrier(&f->h, 1, &b), 0);
	expect_block(f, 1);
	t = expect_trigger(f, 1);
	assert_int_equal(t->align_ms, 5); /* last − first barrier */
	assert_int_equal(t->delay_ms, 3); /* first barrier − trigger time */
	assert_false(sluice__barrier_pending(&f->h));
	/* all channels were unblocked with the trigger */
	for (i = f->n - 1; i >= 0 && f->evs[i].kind != 'U'; i--)
		;
	assert_true(i >= 0);
	fake_free(f);
}

static void
test_barrier__aligned_ignores_obsolete_and_duplicate_barriers(void **state)
{
	fake *f = fake_new(1, 1, 2);

	(void)state;
	barrier(f, 0, 5);
	barrier(f, 1, 5);
	expect_block(f, 0);
	expect_block(f, 1);
	expect_trigger(f, 5);
	barrier(f, 0, 5); /* duplicate of a completed checkpoint */
	barrier(f, 1, 4); /* older */
	expect_quiet(f);
	fake_free(f);
}

static void
test_barrier__newer_barrier_during_alignment_subsumes_older(void **state)
{
	fake *f = fake_new(1, 1, 3);

	(void)state;
	barrier(f, 0, 1);
	expect_block(f, 0);
	barrier(f, 1, 2);
	expect_abort(f, 1, SLUICE_CFR_CHECKPOINT_DECLINED_SUBSUMED);
	expect_block(f, 1);
	barrier(f, 2, 1); /* late barrier of the dropped checkpoint */
	expect_quiet(f);
	barrier(f, 0, 2);
	expect_block(f, 0);
	barrier(f, 2, 2);
	expect_block(f, 2);
	expect_trigger(f, 2);
	fake_free(f);
}

static void
test_barrier__cancel_marker_aborts_pending_and_newer_checkpoints(void **state)
{
	fake *f = fake_new(1, 1, 3);

	(void)state;
	barrier(f, 0, 3);
	expect_block(f, 0);
	cancel(f, 1, 3);
	expect_abort(
		f, 3, SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
	assert_false(sluice__barrier_pending(&f->h));
	barrier(f, 2, 3); /* remaining barrier of the cancelled id */
	cancel(f, 2, 3);  /* and its marker from another input */
	cancel(f, 0, 2);  /* older: ignored */
	expect_quiet(f);
	cancel(f, 0, 5); /* never seen, newer: aborts at once */
	expect_abort(
		f, 5, SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
	cancel(f, 1, 5);
	barrier(f, 2, 5);
	expect_quiet(f);
	barrier(f, 0, 6);
	barrier(f, 1, 6);
	barrier(f, 2, 6);
	expect_block(f, 0);
	expect_block(f, 1);
	expect_block(f, 2);
	expect_trigger(f, 6);
	fake_free(f);
}

static void
test_barrier__end_of_partition_counts_as_aligned_after_finish(void **state)
{
	fake *f = fake_new(1, 1, 2);

	(void)state;
	barrier(f, 0, 1);
	expect_block(f, 0);
	end(f, 1);
	expect_trigger(f, 1);
	/* one open channel left: the next barrier completes at once */
	barrier(f, 0, 2);
	expect_block(f, 0);
	expect_trigger(f, 2);
	fake_free(f);
}

static void
test_barrier__end_of_partition_aborts_pending_without_after_finish(void **state)
{
	fake *f = fake_new(1, 0, 3);

	(void)state;
	end(f, 2); /* nothing pending: just one channel fewer */
	expect_quiet(f);
	barrier(f, 0, 1);
	expect_block(f, 0);
	end(f, 1);
	expect_abort(f, 1, SLUICE_CFR_CHECKPOINT_DECLINED_INPUT_END_OF_STREAM);
	assert_false(sluice__barrier_pending(&f->h));
	barrier(f, 0, 2);
	expect_block(f, 0);
	expect_trigger(f, 2);
	fake_free(f);
}

static void
test_barrier__tracker_blocks_nothing_and_triggers_when_all_seen(void **state)
{
	fake *f = fake_new(0, 1, 3);

	(void)state;
	barrier(f, 0, 1);
	barrier(f, 1, 1);
	barrier(f, 1, 1); /* duplicate from one channel counts once */
	expect_quiet(f);
	assert_true(sluice__barrier_pending(&f->h));
	barrier(f, 2, 1);
	expect_trigger(f, 1);
	assert_false(sluice__barrier_pending(&f->h));
	fake_free(f);
}

static void
test_barrier__tracker_completion_drops_older_checkpoints(void **state)
{
	fake *f = fake_new(0, 1, 2);

	(void)state;
	barrier(f, 0, 2);
	barrier(f, 0, 3);
	barrier(f, 1, 3);
	expect_trigger(f, 3);
	barrier(f, 1, 2); /* older than the latest: ignored */
	expect_quiet(f);
	assert_false(sluice__barrier_pending(&f->h));
	fake_free(f);
}

static void
test_barrier__tracker_cancel_aborts_once_older_and_unknown_ids(void **state)
{
	fake *f = fake_new(0, 1, 2);

	(void)state;
	barrier(f, 0, 1);
	barrier(f, 0, 2);
	cancel(f, 1, 2);
	expect_abort(
		f, 1, SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
	expect_abort(
		f, 2, SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
	cancel(f, 0, 2); /* second marker of the same id: no new abort */
	expect_quiet(f);
	cancel(f, 0, 7); /* unknown newer id → aborted placeholder */
	expect_abort(
		f, 7, SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
	barrier(f, 1, 7); /* completes the placeholder without triggering */
	expect_quiet(f);
	barrier(f, 0, 8);
	barrier(f, 1, 8);
	expect_trigger(f, 8);
	fake_free(f);
}

static void test_barrier__tracker_single_channel_triggers_at_once(void **state)
{
	fake *f = fake_new(0, 1, 1);

	(void)state;
	barrier(f, 0, 4);
	expect_trigger(f, 4);
	cancel(f, 0, 5);
	expect_abort(
		f, 5, SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
	fake_free(f);
}

static void test_barrier__tracker_end_of_partition(void **state)
{
	fake *off = fake_new(0, 0, 2), *on = fake_new(0, 1, 2);

	(void)state;
	barrier(off, 0, 1);
	end(off, 1);
	expect_abort(
		off, 1, SLUICE_CFR_CHECKPOINT_DECLINED_INPUT_END_OF_STREAM);
	barrier(on, 0, 1);
	end(on, 1);
	expect_trigger(on, 1);
	fake_free(off);
	fake_free(on);
}

static void test_barrier__tracker_keeps_at_most_fifty_checkpoints(void **state)
{
	fake *f = fake_new(0, 1, 2);
	int64_t id;

	(void)state;
	for (id = 1; id <= 51; id++)
		barrier(f, 0, id);
	assert_int_equal(f->h.num_tracked, SLUICE__TRACKER_MAX);
	assert_int_equal(f->h.tracked[0].id, 2); /* 1 was evicted */
	barrier(f, 1, 1);
	expect_quiet(f);
	barrier(f, 1, 30);
	expect_trigger(f, 30);
	assert_int_equal(f->h.num_tracked, 21);
	fake_free(f);
}

/* ---- unaligned (spec §4.4, §4.5) ---------------------------------------- */

static void ubarrier(fake *f, int channel, int64_t id, int64_t ts, int64_t to)
{
	sluice__barrier b;

	memset(&b, 0, sizeof(b));
	b.id = id;
	b.timestamp = ts;
	b.opts.unaligned = 1;
	b.opts.aligned_timeout_ms = to;
	assert_int_equal(sluice__barrier_on_barrier(&f->h, channel, &b), 0);
}

static ev *expect_kind(fake *f, char kind)
{
	ev *e = next_ev(f);

	assert_int_equal(e->kind, kind);
	return e;
}

static void test_barrier__unaligned_first_barrier_triggers_at_once(void **state)
{
	fake *f = fake_new(1, 1, 3);
	int64_t now = sluice_clock_wall_ms(&f->clock.base);
	ev *e;

	(void)state;
	f->h.unaligned_enabled = 1;
	sluice_manual_clock_advance(&f->clock, 7);
	ubarrier(f, 1, 4, now, 0);
	e = expect_kind(f, 'X');
	assert_int_equal(e->id, 4);
	assert_int_equal(e->channel, 1);  /* one channel's barrier is in */
	assert_int_equal(e->delay_ms, 7); /* start delay */
	/* nothing blocked; the others' barriers are bookkeeping */
	ubarrier(f, 0, 4, now, 0);
	assert_int_equal(expect_kind(f, 'C')->channel, 0);
	expect_quiet(f);
	sluice_manual_clock_advance(&f->clock, 5);
	ubarrier(f, 2, 4, now, 0);
	assert_int_equal(expect_kind(f, 'C')->channel, 2);
	e = expect_kind(f, 'D');
	assert_int_equal(e->id, 4);
	assert_int_equal(e->align_ms, 5);
	expect_quiet(f);
	/* a late duplicate is ignored */
	ubarrier(f, 2, 4, now, 0);
	expect_quiet(f);
	fake_free(f);
}

static void
test_barrier__unaligned_needs_the_option_and_no_savepoint(void **state)
{
	fake *f = fake_new(1, 1, 2);
	sluice__barrier b;

	(void)state;
	/* the job did not enable unaligned: aligned */
	ubarrier(f, 0, 1, 0, 0);
	expect_block(f, 0);
	ubarrier(f, 1, 1, 0, 0);
	expect_block(f, 1);
	expect_trigger(f, 1);
	/* savepoints stay aligned */
	f->h.unaligned_enabled = 1;
	memset(&b, 0, sizeof(b));
	b.id = 2;
	b.opts.unaligned = 1;
	b.opts.savepoint = 1;
	assert_int_equal(sluice__barrier_on_barrier(&f->h, 0, &b), 0);
	expect_block(f, 0);
	expect_quiet(f);
	fake_free(f);
}

static void test_barrier__aligned_timeout_switches_to_unaligned(void **state)
{
	fake *f = fake_new(1, 1, 3);
	int64_t ts = sluice_clock_wall_ms(&f->clock.base);
	ev *e;

	(void)state;
	f->h.unaligned_enabled = 1;
	/* the timeout counts from the trigger: 10 ms of start delay */
	sluice_manual_clock_advance(&f->clock, 10);
	ubarrier(f, 0, 3, ts, 30);
	expect_block(f, 0);
	assert_int_equal(sluice__barrier_deadline(&f->h), ts + 30);
	sluice_manual_clock_advance(&f->clock, 19);
	assert_int_equal(sluice__barrier_check_timeout(&f->h), 0);
	expect_quiet(f);
	sluice_manual_clock_advance(&f->clock, 1);
	assert_int_equal(sluice__barrier_check_timeout(&f->h), 0);
	e = expect_kind(f, 'X');
	assert_int_equal(e->id, 3);
	assert_int_equal(e->channel, 1); /* channel 0 was aligned */
	assert_int_equal(sluice__barrier_deadline(&f->h), -1);
	ubarrier(f, 1, 3, ts, 30);
	assert_int_equal(expect_kind(f, 'C')->channel, 1);
	ubarrier(f, 2, 3, ts, 30);
	assert_int_equal(expect_kind(f, 'C')->channel, 2);
	assert_int_equal(expect_kind(f, 'D')->id, 3);
	expect_quiet(f);
	fake_free(f);
}

static void
test_barrier__aligned_timeout_not_reached_stays_aligned(void **state)
{
	fake *f = fake_new(1, 1, 2);
	int64_t ts = sluice_clock_wall_ms(&f->clock.base);

	(void)state;
	f->h.unaligned_enabled = 1;
	ubarrier(f, 0, 1, ts, 50);
	expect_block(f, 0);
	sluice_manual_clock_advance(&f->clock, 49);
	ubarrier(f, 1, 1, ts, 50);
	expect_block(f, 1);
	expect_trigger(f, 1);
	assert_int_equal(sluice__barrier_deadline(&f->h), -1);
	/* a barrier arriving after the deadline switches at once */
	sluice_manual_clock_advance(&f->clock, 100);
	ubarrier(f, 0, 2, ts + 50, 50);
	expect_block(f, 0);
	assert_int_equal(expect_kind(f, 'X')->id, 2);
	expect_quiet(f);
	fake_free(f);
}

static void test_barrier__unaligned_abort_and_end_of_partition(void **state)
{
	fake *f = fake_new(1, 1, 2);

	(void)state;
	f->h.unaligned_enabled = 1;
	ubarrier(f, 0, 5, 0, 0);
	expect_kind(f, 'X');
	cancel(f, 1, 5);
	expect_abort(
		f, 5, SLUICE_CFR_CHECKPOINT_DECLINED_ON_CANCELLATION_BARRIER);
	ubarrier(f, 1, 5, 0, 0);
	expect_quiet(f);
	/* subsumed by a newer barrier */
	ubarrier(f, 0, 6, 0, 0);
	expect_kind(f, 'X');
	ubarrier(f, 0, 7, 0, 0);
	expect_abort(f, 6, SLUICE_CFR_CHECKPOINT_DECLINED_SUBSUMED);
	expect_kind(f, 'X');
	/* an ended channel counts as delivered */
	end(f, 1);
	assert_int_equal(expect_kind(f, 'C')->channel, 1);
	assert_int_equal(expect_kind(f, 'D')->id, 7);
	expect_quiet(f);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_barrier__unaligned_first_barrier_triggers_at_once),
		cmocka_unit_test(
			test_barrier__unaligned_needs_the_option_and_no_savepoint),
		cmocka_unit_test(
			test_barrier__aligned_timeout_switches_to_unaligned),
		cmocka_unit_test(
			test_barrier__aligned_timeout_not_reached_stays_aligned),
		cmocka_unit_test(
			test_barrier__unaligned_abort_and_end_of_partition),
		cmocka_unit_test(
			test_barrier__aligned_blocks_each_channel_until_all_arrive),
		cmocka_unit_test(
			test_barrier__aligned_ignores_obsolete_and_duplicate_barriers),
		cmocka_unit_test(
			test_barrier__newer_barrier_during_alignment_subsumes_older),
		cmocka_unit_test(
			test_barrier__cancel_marker_aborts_pending_and_newer_checkpoints),
		cmocka_unit_test(
			test_barrier__end_of_partition_counts_as_aligned_after_finish),
		cmocka_unit_test(
			test_barrier__end_of_partition_aborts_pending_without_after_finish),
		cmocka_unit_test(
			test_barrier__tracker_blocks_nothing_and_triggers_when_all_seen),
		cmocka_unit_test(
			test_barrier__tracker_completion_drops_older_checkpoints),
		cmocka_unit_test(
			test_barrier__tracker_cancel_aborts_once_older_and_unknown_ids),
		cmocka_unit_test(
			test_barrier__tracker_single_channel_triggers_at_once),
		cmocka_unit_test(test_barrier__tracker_end_of_partition),
		cmocka_unit_test(
			test_barrier__tracker_keeps_at_most_fifty_checkpoints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
