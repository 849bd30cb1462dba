/*
 * The request queue and trigger decision (spec §2.3).  Owns the sorted
 * queue of checkpoint requests; the coordinator owns everything around it
 * (failing requests, timers, triggering).  Rules in decider.h.
 */
#include <string.h>

#include "checkpoint/decider.h"
#include "util/alloc.h"
#include "util/error.h"

int sluice__decider_init(
	sluice__decider *d,
	int32_t max_concurrent,
	int64_t min_pause_ms,
	size_t limit)
{
	d->max_concurrent = max_concurrent;
	d->min_pause_ms = min_pause_ms;
	d->limit = limit;
	d->n = 0;
	d->queue = sluice__calloc(limit + 1, sizeof(*d->queue));
	return d->queue ? 0 : sluice__error_oom();
}

void sluice__decider_release(sluice__decider *d)
{
	sluice__free(d->queue);
	d->queue = NULL;
	d->n = 0;
}

void sluice__ckpt_request_free(sluice__ckpt_request *req)
{
	if (!req)
		return;
	sluice__free(req->target);
	sluice__free(req);
}

static int flag_first(int a, int b)
{
	if (a != b)
		return a ? -1 : 1;
	return 0;
}

int sluice__decider_compare(
	const sluice__ckpt_request *a, const sluice__ckpt_request *b)
{
	int c;

	if ((c = flag_first(a->savepoint, b->savepoint)) != 0)
		return c;
	if ((c = flag_first(a->forced, b->forced)) != 0)
		return c;
	if ((c = flag_first(!a->periodic, !b->periodic)) != 0)
		return c;
	if (a->created_ms != b->created_ms)
		return a->created_ms < b->created_ms ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

static void insert_sorted(sluice__decider *d, sluice__ckpt_request *req)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sluice__decider_compare(d->queue[mid], req) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&d->queue[lo + 1], &d->queue[lo],
		(d->n - lo) * sizeof(*d->queue));
	d->queue[lo] = req;
	d->n++;
}

sluice__ckpt_request *sluice__decider_submit(
	sluice__decider *d, sluice__ckpt_request *req, int *rejected_new)
{
	*rejected_new = 0;
	if (d->n >= d->limit && !d->queue[d->n - 1]->periodic) {
		*rejected_new = 1;
		return req;
	}
	insert_sorted(d, req);
	if (d->n > d->limit)
		return d->queue[--d->n];
	return NULL;
}

sluice__ckpt_request *sluice__decider_pop(sluice__decider *d)
{
	sluice__ckpt_request *head;

	if (d->n == 0)
		return NULL;
	head = d->queue[0];
	memmove(&d->queue[0], &d->queue[1], (d->n - 1) * sizeof(*d->queue));
	d->n--;
	return head;
}

sluice__decision sluice__decider_choose(
	sluice__decider *d,
	int triggering,
	int64_t now_mono_ms,
	int64_t last_completion_mono_ms,
	int32_t n_pending,
	int32_t n_cleaning,
	sluice__ckpt_request **req,
	int64_t *delay_ms)
{
	sluice__ckpt_request *head;

	*req = NULL;
	*delay_ms = 0;
	if (triggering || d->n == 0 || n_cleaning > d->max_concurrent)
		return SLUICE_DECIDE_NOTHING;
	head = d->queue[0];
	if (n_pending >= d->max_concurrent) {
		if (!head->forced)
			return SLUICE_DECIDE_NOTHING;
		*req = sluice__decider_pop(d);
		return SLUICE_DECIDE_TRIGGER;
	}
	if (head->periodic && !head->forced) {
		int64_t delay =
			last_completion_mono_ms - now_mono_ms + d->min_pause_ms;

		if (delay > 0) {
			*req = sluice__decider_pop(d);
			*delay_ms = delay;
			return SLUICE_DECIDE_MIN_PAUSE;
		}
	}
	*req = sluice__decider_pop(d);
	return SLUICE_DECIDE_TRIGGER;
}
