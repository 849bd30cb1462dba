/*
 * The checkpoint request queue and decision (spec §2.3, Flink's
 * CheckpointRequestDecider).
 *
 * Queue order, best first: savepoint before checkpoint; forced before not
 * forced; user (non-periodic) before periodic; older creation time first;
 * ties by submission sequence.
 *
 * Submit: when the queue holds SLUICE_DECIDER_QUEUE_LIMIT (1000) requests
 * and its worst is a user request, the new request is rejected; otherwise
 * it is inserted and, if the queue now exceeds the limit, the worst request
 * (a periodic one) is evicted.  Either way the loser is handed back to be
 * failed with TOO_MANY_CHECKPOINT_REQUESTS.
 *
 * Choose: nothing while a trigger is in flight, the queue is empty or more
 * than max-concurrent checkpoints are being cleaned.  With #pending >=
 * max-concurrent only a forced head may go.  A periodic, non-forced head
 * inside min-pause (delay = last completion + min-pause - now > 0) is
 * dropped, to be failed with MINIMUM_TIME_BETWEEN_CHECKPOINTS, and the
 * periodic timer re-armed with that delay.  Otherwise the head is popped.
 *
 * Threading: none; the coordinator calls it under its lock.
 */
#ifndef SLUICE_CHECKPOINT_DECIDER_H
#define SLUICE_CHECKPOINT_DECIDER_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_DECIDER_QUEUE_LIMIT 1000

typedef struct sluice__ckpt_result sluice__ckpt_result;

/* Called once with the outcome of a request (see coordinator.h). */
typedef void (*sluice__ckpt_done_fn)(void *arg, const sluice__ckpt_result *r);

typedef struct sluice__ckpt_request {
	int64_t created_ms; /* wall clock at submission */
	int64_t queued_mono_ms;
	uint64_t seq; /* submission order, the final tie breaker */
	int savepoint;
	int sync_savepoint; /* stop-with-savepoint */
	int forced;
	int periodic;
	char *target; /* savepoint directory or NULL; owned */
	sluice__ckpt_done_fn done;
	void *done_arg;
} sluice__ckpt_request;

typedef struct sluice__decider {
	int32_t max_concurrent;
	int64_t min_pause_ms;
	size_t limit;
	sluice__ckpt_request **queue; /* sorted best first */
	size_t n;
} sluice__decider;

typedef enum sluice__decision {
	SLUICE_DECIDE_NOTHING = 0,
	SLUICE_DECIDE_TRIGGER = 1,  /* *req popped: trigger it */
	SLUICE_DECIDE_MIN_PAUSE = 2 /* *req popped: fail it; re-arm timer */
} sluice__decision;

/* Allocates the queue (limit + 1 slots).  SLUICE_ENOMEM. */
int sluice__decider_init(
	sluice__decider *d,
	int32_t max_concurrent,
	int64_t min_pause_ms,
	size_t limit);
/* Frees the queue; queued requests must have been taken out first. */
void sluice__decider_release(sluice__decider *d);

/* -1 when a is better (earlier in the queue) than b, 1 when worse. */
int sluice__decider_compare(
	const sluice__ckpt_request *a, const sluice__ckpt_request *b);

/*
 * Queue `req` (ownership moves to the queue).  Returns the request that
 * lost (req itself or an evicted one) for the caller to fail with
 * TOO_MANY_CHECKPOINT_REQUESTS, or NULL.  `*rejected_new` is set to 1 when
 * it was the new request (then the caller must not choose).
 */
sluice__ckpt_request *sluice__decider_submit(
	sluice__decider *d, sluice__ckpt_request *req, int *rejected_new);

/*
 * Decide what to do next; see the header comment.  On MIN_PAUSE
 * `*delay_ms` is the remaining pause.
 */
sluice__decision sluice__decider_choose(
	sluice__decider *d,
	int triggering,
	int64_t now_mono_ms,
	int64_t last_completion_mono_ms,
	int32_t n_pending,
	int32_t n_cleaning,
	sluice__ckpt_request **req,
	int64_t *delay_ms);

/* Pop every queued request, best first (NULL when empty). */
sluice__ckpt_request *sluice__decider_pop(sluice__decider *d);

void sluice__ckpt_request_free(sluice__ckpt_request *req);

#endif
