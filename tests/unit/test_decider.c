/* The request queue and decision (spec §2.3), without a coordinator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "checkpoint/decider.h"
#include "util/alloc.h"

static uint64_t seq;

static sluice__ckpt_request *
req(int savepoint, int forced, int periodic, int64_t ts)
{
	sluice__ckpt_request *r = sluice__calloc(1, sizeof(*r));

	assert_non_null(r);
	r->savepoint = savepoint;
	r->forced = forced;
	r->periodic = periodic;
	r->created_ms = ts;
	r->seq = seq++;
	return r;
}

static void drain(sluice__decider *d)
{
	sluice__ckpt_request *r;

	while ((r = sluice__decider_pop(d)))
		sluice__ckpt_request_free(r);
	sluice__decider_release(d);
}

static void test_decider__priority_order(void **st)
{
	sluice__decider d;
	sluice__ckpt_request *r[6], *lost;
	int rej, i;

	(void)st;
	assert_int_equal(sluice__decider_init(&d, 1, 0, 1000), 0);
	r[0] = req(0, 0, 1, 100); /* periodic */
	r[1] = req(0, 0, 0, 200); /* user checkpoint, newer */
	r[2] = req(0, 0, 0, 150); /* user checkpoint, older */
	r[3] = req(1, 0, 0, 300); /* savepoint, not forced */
	r[4] = req(1, 1, 0, 400); /* savepoint, forced */
	r[5] = req(0, 0, 0, 150); /* same time as r[2]: submitted later */
	for (i = 0; i < 6; i++) {
		lost = sluice__decider_submit(&d, r[i], &rej);
		assert_null(lost);
	}
	assert_ptr_equal(sluice__decider_pop(&d), r[4]);
	assert_ptr_equal(sluice__decider_pop(&d), r[3]);
	assert_ptr_equal(sluice__decider_pop(&d), r[2]);
	assert_ptr_equal(sluice__decider_pop(&d), r[5]);
	assert_ptr_equal(sluice__decider_pop(&d), r[1]);
	assert_ptr_equal(sluice__decider_pop(&d), r[0]);
	for (i = 0; i < 6; i++)
		sluice__ckpt_request_free(r[i]);
	drain(&d);
}

static void test_decider__full_queue_evicts_newest_periodic_first(void **st)
{
	sluice__decider d;
	sluice__ckpt_request *p1, *p2, *u, *lost;
	int rej, i;

	(void)st;
	assert_int_equal(sluice__decider_init(&d, 1, 0, 4), 0);
	p1 = req(0, 0, 1, 10);
	p2 = req(0, 0, 1, 20);
	assert_null(sluice__decider_submit(&d, p1, &rej));
	assert_null(sluice__decider_submit(&d, p2, &rej));
	for (i = 0; i < 2; i++)
		assert_null(sluice__decider_submit(&d, req(0, 0, 0, 30), &rej));
	u = req(0, 0, 0, 40);
	lost = sluice__decider_submit(&d, u, &rej);
	assert_ptr_equal(lost, p2); /* worst: periodic, newest */
	assert_int_equal(rej, 0);
	assert_int_equal(d.n, 4);
	sluice__ckpt_request_free(lost);
	lost = sluice__decider_submit(&d, req(0, 0, 0, 50), &rej);
	assert_ptr_equal(lost, p1);
	sluice__ckpt_request_free(lost);
	/* only user requests left: the new one is rejected */
	u = req(1, 1, 0, 60);
	lost = sluice__decider_submit(&d, u, &rej);
	assert_ptr_equal(lost, u);
	assert_int_equal(rej, 1);
	assert_int_equal(d.n, 4);
	sluice__ckpt_request_free(lost);
	/* a new periodic request when the queue is full of user requests */
	u = req(0, 0, 1, 70);
	lost = sluice__decider_submit(&d, u, &rej);
	assert_ptr_equal(lost, u);
	sluice__ckpt_request_free(lost);
	drain(&d);
}

static void test_decider__nothing_while_triggering_or_cleaning(void **st)
{
	sluice__decider d;
	sluice__ckpt_request *r;
	int64_t delay;
	int rej;

	(void)st;
	assert_int_equal(sluice__decider_init(&d, 1, 0, 1000), 0);
	assert_int_equal(
		sluice__decider_choose(&d, 0, 0, 0, 0, 0, &r, &delay),
		SLUICE_DECIDE_NOTHING); /* empty */
	sluice__decider_submit(&d, req(1, 1, 0, 1), &rej);
	assert_int_equal(
		sluice__decider_choose(&d, 1, 0, 0, 0, 0, &r, &delay),
		SLUICE_DECIDE_NOTHING);
	assert_int_equal(
		sluice__decider_choose(&d, 0, 0, 0, 0, 2, &r, &delay),
		SLUICE_DECIDE_NOTHING); /* cleaning 2 > max 1 */
	assert_int_equal(
		sluice__decider_choose(&d, 0, 0, 0, 0, 1, &r, &delay),
		SLUICE_DECIDE_TRIGGER);
	sluice__ckpt_request_free(r);
	drain(&d);
}

static void test_decider__max_concurrent_lets_only_forced_head_go(void **st)
{
	sluice__decider d;
	sluice__ckpt_request *r, *forced;
	int64_t delay;
	int rej;

	(void)st;
	assert_int_equal(sluice__decider_init(&d, 2, 0, 1000), 0);
	sluice__decider_submit(&d, req(0, 0, 0, 1), &rej);
	assert_int_equal(
		sluice__decider_choose(&d, 0, 0, 0, 2, 0, &r, &delay),
		SLUICE_DECIDE_NOTHING);
	assert_int_equal(d.n, 1);
	forced = req(1, 1, 0, 2);
	sluice__decider_submit(&d, forced, &rej);
	assert_int_equal(
		sluice__decider_choose(&d, 0, 0, 0, 5, 0, &r, &delay),
		SLUICE_DECIDE_TRIGGER);
	assert_ptr_equal(r, forced);
	sluice__ckpt_request_free(r);
	assert_int_equal(
		sluice__decider_choose(&d, 0, 0, 0, 1, 0, &r, &delay),
		SLUICE_DECIDE_TRIGGER);
	sluice__ckpt_request_free(r);
	drain(&d);
}

static void
test_decider__min_pause_drops_periodic_head_with_remaining_delay(void **st)
{
	sluice__decider d;
	sluice__ckpt_request *r, *p;
	int64_t delay;
	int rej;

	(void)st;
	assert_int_equal(sluice__decider_init(&d, 1, 1000, 1000), 0);
	p = req(0, 0, 1, 1);
	sluice__decider_submit(&d, p, &rej);
	/* last completion at 5000, now 5300: 700 ms of pause left */
	assert_int_equal(
		sluice__decider_choose(&d, 0, 5300, 5000, 0, 0, &r, &delay),
		SLUICE_DECIDE_MIN_PAUSE);
	assert_ptr_equal(r, p);
	assert_int_equal(delay, 700);
	assert_int_equal(d.n, 0);
	sluice__ckpt_request_free(r);
	/* exactly at the end of the pause it goes */
	sluice__decider_submit(&d, req(0, 0, 1, 2), &rej);
	assert_int_equal(
		sluice__decider_choose(&d, 0, 6000, 5000, 0, 0, &r, &delay),
		SLUICE_DECIDE_TRIGGER);
	sluice__ckpt_request_free(r);
	/* user requests ignore the pause */
	sluice__decider_submit(&d, req(0, 0, 0, 3), &rej);
	assert_int_equal(
		sluice__decider_choose(&d, 0, 5001, 5000, 0, 0, &r, &delay),
		SLUICE_DECIDE_TRIGGER);
	sluice__ckpt_request_free(r);
	drain(&d);
}

static void test_decider__compare_is_a_total_order(void **st)
{
	sluice__ckpt_request *a = req(0, 0, 1, 5), *b = req(0, 0, 1, 5);

	(void)st;
	assert_int_equal(sluice__decider_compare(a, b), -1);
	assert_int_equal(sluice__decider_compare(b, a), 1);
	assert_int_equal(sluice__decider_compare(a, a), 0);
	sluice__ckpt_request_free(a);
	sluice__ckpt_request_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decider__priority_order),
		cmocka_unit_test(
			test_decider__full_queue_evicts_newest_periodic_first),
		cmocka_unit_test(
			test_decider__nothing_while_triggering_or_cleaning),
		cmocka_unit_test(
			test_decider__max_concurrent_lets_only_forced_head_go),
		cmocka_unit_test(
			test_decider__min_pause_drops_periodic_head_with_remaining_delay),
		cmocka_unit_test(test_decider__compare_is_a_total_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
