/*
 * Channels and inboxes: element order, credit-based backpressure (a
 * producer without credit waits and the consumer wakes it), events that
 * need no credit, alignment blocking, mail priority, wake-ups and close.
 * Floating buffers: an input's pool shared by its channels on top of
 * their exclusive credits (added once per input); a channel without
 * exclusive credits lives on the pool; a producer waiting for credit on
 * one channel gets a floating buffer another channel's consumer returned.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/channel.h"
#include "runtime_test_util.h"
#include "util/alloc.h"

static sluice__elem *data_elem(uint8_t tag)
{
	sluice__elem *e = sluice__elem_new(SLUICE__ELEM_DATA);

	assert_non_null(e);
	e->data = sluice__malloc(1);
	assert_non_null(e->data);
	e->data[0] = tag;
	e->len = 1;
	return e;
}

static sluice__elem *event_elem(sluice__elem_kind kind, int64_t id)
{
	sluice__elem *e = sluice__elem_new(kind);

	assert_non_null(e);
	e->barrier.id = id;
	return e;
}

/* Take the next element (no waiting) and check kind and tag / id. */
static void expect_next(sluice__inbox *in, int kind, int64_t v, int channel)
{
	sluice__mail *m;
	sluice__elem *e;
	int ch;

	assert_int_equal(sluice__inbox_next(in, 0, 0, &m, &e, &ch), 1);
	assert_null(m);
	assert_non_null(e);
	assert_int_equal(e->kind, kind);
	assert_int_equal(ch, channel);
	if (kind == SLUICE__ELEM_DATA)
		assert_int_equal(e->data[0], v);
	else
		assert_int_equal(e->barrier.id, v);
	sluice__elem_free(e);
}

static void expect_nothing(sluice__inbox *in)
{
	sluice__mail *m;
	sluice__elem *e;
	int ch;

	assert_int_equal(sluice__inbox_next(in, 0, 0, &m, &e, &ch), 0);
	assert_null(m);
	assert_null(e);
}

static void test_channel__keeps_records_and_events_in_order(void **state)
{
	sluice__inbox in;
	sluice__channel *ch;

	(void)state;
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__channel_new(&ch, &in, 0, 8), 0);
	assert_int_equal(sluice__channel_push(ch, data_elem(1)), 0);
	assert_int_equal(
		sluice__channel_push(ch, event_elem(SLUICE__ELEM_BARRIER, 7)),
		0);
	assert_int_equal(sluice__channel_push(ch, data_elem(2)), 0);
	assert_int_equal(
		sluice__channel_push(ch, event_elem(SLUICE__ELEM_CANCEL, 8)),
		0);
	assert_int_equal(
		sluice__channel_push(ch, event_elem(SLUICE__ELEM_END, 0)), 0);
	expect_next(&in, SLUICE__ELEM_DATA, 1, 0);
	expect_next(&in, SLUICE__ELEM_BARRIER, 7, 0);
	expect_next(&in, SLUICE__ELEM_DATA, 2, 0);
	expect_next(&in, SLUICE__ELEM_CANCEL, 8, 0);
	expect_next(&in, SLUICE__ELEM_END, 0, 0);
	expect_nothing(&in);
	sluice__channel_free(ch);
	sluice__inbox_release(&in);
}

typedef struct producer {
	sluice__channel *ch;
	int count;
	int pushed; /* atomic */
	int rc;
} producer;

static void *produce(void *arg)
{
	producer *p = arg;
	int i;

	for (i = 0; i < p->count; i++) {
		p->rc = sluice__channel_push(p->ch, data_elem((uint8_t)i));
		if (p->rc < 0)
			break;
		__atomic_add_fetch(&p->pushed, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static int producer_waits(void *arg)
{
	return sluice__channel_producer_waiting(((producer *)arg)->ch);
}

static int pushed_all(void *arg)
{
	producer *p = arg;

	return __atomic_load_n(&p->pushed, __ATOMIC_SEQ_CST) == p->count;
}

static void
test_channel__producer_without_credit_blocks_until_consumer_takes(void **state)
{
	sluice__inbox in;
	producer p = {NULL, 5, 0, 0};
	pthread_t th;
	int i;

	(void)state;
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__channel_new(&p.ch, &in, 0, 2), 0);
	assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
	/* two credits: the third push must wait */
	assert_true(rt_wait_for(producer_waits, &p));
	assert_int_equal(__atomic_load_n(&p.pushed, __ATOMIC_SEQ_CST), 2);
	assert_int_equal(sluice__channel_queued(p.ch), 2);
	/* taking one buffer returns a credit and wakes the producer */
	expect_next(&in, SLUICE__ELEM_DATA, 0, 0);
	for (i = 1; i < 5; i++) {
		sluice__mail *m;
		sluice__elem *e;
		int c;

		assert_int_equal(
			sluice__inbox_next(&in, RT_WAIT_MS, 0, &m, &e, &c), 1);
		assert_non_null(e);
		assert_int_equal(e->data[0], i);
		assert_true(sluice__channel_queued(p.ch) <= 2);
		sluice__elem_free(e);
	}
	pthread_join(th, NULL);
	assert_true(pushed_all(&p));
	assert_int_equal(p.rc, 0);
	assert_true(p.ch->waits >= 1);
	sluice__channel_free(p.ch);
	sluice__inbox_release(&in);
}

static void test_channel__floating_buffers_are_shared_by_an_input(void **state)
{
	sluice__inbox in;
	sluice__channel *b;
	producer p = {NULL, 3, 0, 0};
	pthread_t th;

	(void)state;
	assert_int_equal(sluice__inbox_init(&in), 0);
	/* a: no exclusive credit; b: one; input 0 has two floating */
	assert_int_equal(sluice__channel_new(&p.ch, &in, 0, 0), 0);
	assert_int_equal(sluice__channel_new(&b, &in, 0, 1), 0);
	sluice__inbox_add_floating(&in, 0, 2);
	sluice__inbox_add_floating(&in, 0, 2); /* once per input */
	assert_int_equal(in.floating, 2);
	assert_true(sluice__channel_available(b, NULL));
	assert_int_equal(sluice__channel_push(b, data_elem(10)), 0);
	assert_int_equal(sluice__channel_push(b, data_elem(11)), 0);
	assert_int_equal(in.floating_used, 1); /* b's second is floating */
	/* a gets the last floating buffer, then waits */
	assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
	assert_true(rt_wait_for(producer_waits, &p));
	assert_int_equal(__atomic_load_n(&p.pushed, __ATOMIC_SEQ_CST), 1);
	assert_false(sluice__channel_credit_hint(p.ch));
	assert_false(sluice__channel_credit_hint(b));
	/* each buffer taken returns a floating one, a's included; the one
	 * b's consumer returns goes to a as well */
	expect_next(&in, SLUICE__ELEM_DATA, 0, 0);
	expect_next(&in, SLUICE__ELEM_DATA, 10, 1);
	assert_true(rt_wait_for(pushed_all, &p));
	pthread_join(th, NULL);
	assert_int_equal(p.rc, 0);
	assert_int_equal(in.floating_used, 2);
	expect_next(&in, SLUICE__ELEM_DATA, 1, 0);
	expect_next(&in, SLUICE__ELEM_DATA, 11, 1);
	expect_next(&in, SLUICE__ELEM_DATA, 2, 0);
	assert_int_equal(in.floating_used, 0);
	expect_nothing(&in);
	/* another input brings its own share */
	sluice__inbox_add_floating(&in, 1, 3);
	assert_int_equal(in.floating, 5);
	sluice__channel_free(p.ch);
	sluice__channel_free(b);
	sluice__inbox_release(&in);
}

static void test_channel__events_need_no_credit(void **state)
{
	sluice__inbox in;
	sluice__channel *ch;

	(void)state;
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__channel_new(&ch, &in, 0, 1), 0);
	assert_int_equal(sluice__channel_push(ch, data_elem(1)), 0);
	/* no credit left, yet barrier, marker and end go through at once */
	assert_int_equal(
		sluice__channel_push(ch, event_elem(SLUICE__ELEM_BARRIER, 3)),
		0);
	assert_int_equal(
		sluice__channel_push(ch, event_elem(SLUICE__ELEM_CANCEL, 3)),
		0);
	assert_int_equal(
		sluice__channel_push(ch, event_elem(SLUICE__ELEM_END, 0)), 0);
	assert_int_equal(sluice__channel_queued(ch), 1);
	assert_int_equal(ch->waits, 0);
	expect_next(&in, SLUICE__ELEM_DATA, 1, 0);
	expect_next(&in, SLUICE__ELEM_BARRIER, 3, 0);
	sluice__channel_free(ch); /* frees the queued rest */
	sluice__inbox_release(&in);
}

static void
test_channel__blocked_channel_is_skipped_until_unblocked(void **state)
{
	sluice__inbox in;
	sluice__channel *a, *b;

	(void)state;
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__channel_new(&a, &in, 0, 4), 0);
	assert_int_equal(sluice__channel_new(&b, &in, 1, 4), 0);
	assert_int_equal(a->index, 0);
	assert_int_equal(b->index, 1);
	assert_int_equal(b->input, 1);
	assert_int_equal(sluice__channel_push(a, data_elem(10)), 0);
	assert_int_equal(sluice__channel_push(b, data_elem(20)), 0);
	assert_int_equal(sluice__channel_push(b, data_elem(21)), 0);
	sluice__channel_set_blocked(a, 1);
	expect_next(&in, SLUICE__ELEM_DATA, 20, 1);
	expect_next(&in, SLUICE__ELEM_DATA, 21, 1);
	expect_nothing(&in);
	sluice__channel_set_blocked(a, 0);
	expect_next(&in, SLUICE__ELEM_DATA, 10, 0);
	sluice__channel_free(a);
	sluice__channel_free(b);
	sluice__inbox_release(&in);
}

static void test_channel__round_robin_between_channels(void **state)
{
	sluice__inbox in;
	sluice__channel *a, *b;

	(void)state;
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__channel_new(&a, &in, 0, 4), 0);
	assert_int_equal(sluice__channel_new(&b, &in, 0, 4), 0);
	assert_int_equal(sluice__channel_push(a, data_elem(1)), 0);
	assert_int_equal(sluice__channel_push(a, data_elem(2)), 0);
	assert_int_equal(sluice__channel_push(b, data_elem(3)), 0);
	assert_int_equal(sluice__channel_push(b, data_elem(4)), 0);
	expect_next(&in, SLUICE__ELEM_DATA, 1, 0);
	expect_next(&in, SLUICE__ELEM_DATA, 3, 1);
	expect_next(&in, SLUICE__ELEM_DATA, 2, 0);
	expect_next(&in, SLUICE__ELEM_DATA, 4, 1);
	sluice__channel_free(a);
	sluice__channel_free(b);
	sluice__inbox_release(&in);
}

static void test_channel__mails_come_before_channel_elements(void **state)
{
	sluice__inbox in;
	sluice__channel *ch;
	sluice__mail mail = {
		NULL, SLUICE__MAIL_TRIGGER, 42, 1000, {0, 0, NULL, 0, 0}};
	sluice__mail *m;
	sluice__elem *e;
	int c;

	(void)state;
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__channel_new(&ch, &in, 0, 4), 0);
	assert_int_equal(sluice__channel_push(ch, data_elem(1)), 0);
	assert_int_equal(sluice__inbox_post(&in, &mail), 0);
	assert_int_equal(sluice__inbox_next(&in, 0, 0, &m, &e, &c), 1);
	assert_non_null(m);
	assert_null(e);
	assert_int_equal(m->kind, SLUICE__MAIL_TRIGGER);
	assert_int_equal(m->id, 42);
	assert_int_equal(m->arg, 1000);
	sluice__free(m);
	expect_next(&in, SLUICE__ELEM_DATA, 1, 0);
	sluice__channel_free(ch);
	sluice__inbox_release(&in);
}

static void test_channel__wakeup_and_timeout_return_nothing(void **state)
{
	sluice__inbox in;
	sluice__mail *m;
	sluice__elem *e;
	int c;

	(void)state;
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__inbox_next(&in, 1, 0, &m, &e, &c), 0);
	sluice__inbox_wakeup(&in);
	/* a pending wake-up ends even an unbounded wait at once */
	assert_int_equal(sluice__inbox_next(&in, -1, 0, &m, &e, &c), 0);
	assert_null(m);
	assert_null(e);
	sluice__inbox_release(&in);
}

static void test_channel__close_wakes_a_blocked_producer(void **state)
{
	sluice__inbox in;
	producer p = {NULL, 3, 0, 0};
	sluice__mail mail;
	sluice__mail *m;
	sluice__elem *e;
	pthread_t th;
	int c;

	(void)state;
	memset(&mail, 0, sizeof(mail));
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__channel_new(&p.ch, &in, 0, 1), 0);
	assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
	assert_true(rt_wait_for(producer_waits, &p));
	sluice__inbox_close(&in);
	pthread_join(th, NULL);
	assert_int_equal(p.rc, SLUICE_ECANCELED);
	assert_int_equal(p.pushed, 1);
	assert_int_equal(
		sluice__inbox_next(&in, -1, 0, &m, &e, &c), SLUICE_ECANCELED);
	assert_int_equal(sluice__inbox_post(&in, &mail), SLUICE_ECANCELED);
	sluice__channel_free(p.ch);
	sluice__inbox_release(&in);
}

/* ---- unaligned checkpoints ------------------------------------------------
 */

typedef struct kept {
	uint8_t tags[16];
	int n;
} kept;

static int keep_tag(void *arg, const uint8_t *data, size_t len)
{
	kept *k = arg;

	assert_int_equal(len, 1);
	k->tags[k->n++] = data[0];
	return 0;
}

static void
test_channel__overtaking_barrier_goes_first_and_keeps_the_data(void **state)
{
	sluice__inbox in;
	sluice__channel *a, *b;
	kept k = {{0}, 0};

	(void)state;
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__channel_new(&a, &in, 0, 4), 0);
	assert_int_equal(sluice__channel_new(&b, &in, 0, 4), 0);
	assert_int_equal(sluice__channel_push(a, data_elem(9)), 0);
	assert_int_equal(sluice__channel_push(b, data_elem(1)), 0);
	assert_int_equal(
		sluice__channel_push(b, event_elem(SLUICE__ELEM_END_DATA, 0)),
		0);
	assert_int_equal(sluice__channel_push(b, data_elem(2)), 0);
	assert_false(sluice__inbox_prio(&in));
	/* the barrier overtakes data and events; the data is reported */
	assert_int_equal(
		sluice__channel_push_overtaking(
			b, event_elem(SLUICE__ELEM_BARRIER, 5), keep_tag, &k),
		0);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.tags[0], 1);
	assert_int_equal(k.tags[1], 2);
	assert_true(sluice__inbox_prio(&in));
	/* served before channel a's data (round robin would pick a) */
	expect_next(&in, SLUICE__ELEM_BARRIER, 5, 1);
	assert_false(sluice__inbox_prio(&in));
	/* a second one queues behind the first priority element only */
	assert_int_equal(
		sluice__channel_push_overtaking(
			b, event_elem(SLUICE__ELEM_BARRIER, 6), keep_tag, &k),
		0);
	assert_int_equal(k.n, 4);
	expect_next(&in, SLUICE__ELEM_BARRIER, 6, 1);
	expect_next(&in, SLUICE__ELEM_DATA, 9, 0);
	expect_next(&in, SLUICE__ELEM_DATA, 1, 1);
	expect_next(&in, SLUICE__ELEM_END_DATA, 0, 1);
	expect_next(&in, SLUICE__ELEM_DATA, 2, 1);
	expect_nothing(&in);
	sluice__channel_free(a);
	sluice__channel_free(b);
	sluice__inbox_release(&in);
}

static void
test_channel__timed_out_barrier_is_prioritized_once_queued(void **state)
{
	sluice__inbox in;
	sluice__channel *ch;
	sluice__btrack *t = sluice__btrack_new();
	sluice__inbox prod;
	sluice__elem *bar = event_elem(SLUICE__ELEM_BARRIER, 3);
	kept k = {{0}, 0};

	(void)state;
	assert_non_null(t);
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__inbox_init(&prod), 0);
	assert_int_equal(sluice__channel_new(&ch, &in, 0, 4), 0);
	assert_int_equal(sluice__channel_push(ch, data_elem(1)), 0);
	assert_int_equal(sluice__channel_push(ch, data_elem(2)), 0);
	bar->track = t;
	bar->producer = &prod;
	t->refs++;
	t->left = 1;
	assert_int_equal(sluice__channel_push(ch, bar), 0);
	assert_int_equal(sluice__channel_push(ch, data_elem(3)), 0);
	expect_next(&in, SLUICE__ELEM_DATA, 1, 0);
	/* the timeout: the barrier jumps ahead of data 2, which is kept */
	assert_int_equal(sluice__channel_prioritize(ch, 3, keep_tag, &k), 1);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.tags[0], 2);
	assert_true(sluice__inbox_prio(&in));
	expect_next(&in, SLUICE__ELEM_BARRIER, 3, 0);
	assert_int_equal(t->left, 0); /* taken: the producer is told */
	/* once taken there is nothing to prioritize */
	assert_int_equal(sluice__channel_prioritize(ch, 3, keep_tag, &k), 0);
	expect_next(&in, SLUICE__ELEM_DATA, 2, 0);
	expect_next(&in, SLUICE__ELEM_DATA, 3, 0);
	sluice__btrack_release(t);
	sluice__channel_free(ch);
	sluice__inbox_release(&in);
	sluice__inbox_release(&prod);
}

static void
test_channel__injected_barrier_goes_before_end_of_partition(void **state)
{
	sluice__inbox in;
	sluice__channel *ch;
	kept k = {{0}, 0};

	(void)state;
	assert_int_equal(sluice__inbox_init(&in), 0);
	assert_int_equal(sluice__channel_new(&ch, &in, 0, 1), 0);
	assert_int_equal(sluice__channel_push(ch, data_elem(1)), 0);
	assert_int_equal(
		sluice__channel_push(ch, event_elem(SLUICE__ELEM_END, 0)), 0);
	assert_int_equal(
		sluice__channel_push_before_end(
			ch, event_elem(SLUICE__ELEM_BARRIER, 8)),
		0);
	assert_int_equal(sluice__channel_peek_data(ch, keep_tag, &k), 0);
	assert_int_equal(k.n, 1);
	/* no credit left, but the consumer sees the producer may wait */
	assert_false(sluice__channel_credit_hint(ch));
	expect_next(&in, SLUICE__ELEM_DATA, 1, 0);
	assert_true(sluice__channel_credit_hint(ch));
	expect_next(&in, SLUICE__ELEM_BARRIER, 8, 0);
	expect_next(&in, SLUICE__ELEM_END, 0, 0);
	sluice__channel_free(ch);
	sluice__inbox_release(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_channel__overtaking_barrier_goes_first_and_keeps_the_data),
		cmocka_unit_test(
			test_channel__timed_out_barrier_is_prioritized_once_queued),
		cmocka_unit_test(
			test_channel__injected_barrier_goes_before_end_of_partition),
		cmocka_unit_test(
			test_channel__keeps_records_and_events_in_order),
		cmocka_unit_test(
			test_channel__producer_without_credit_blocks_until_consumer_takes),
		cmocka_unit_test(
			test_channel__floating_buffers_are_shared_by_an_input),
		cmocka_unit_test(test_channel__events_need_no_credit),
		cmocka_unit_test(
			test_channel__blocked_channel_is_skipped_until_unblocked),
		cmocka_unit_test(test_channel__round_robin_between_channels),
		cmocka_unit_test(
			test_channel__mails_come_before_channel_elements),
		cmocka_unit_test(
			test_channel__wakeup_and_timeout_return_nothing),
		cmocka_unit_test(test_channel__close_wakes_a_blocked_producer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
