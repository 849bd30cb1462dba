/*
 * Task-side barrier handling (spec §4.2, §4.3, §4.6, §4.7): decides, from
 * the barriers, cancellation markers and end-of-partition events arriving
 * on a subtask's input channels, when the subtask takes a checkpoint and
 * when it gives one up.  Pure state machine: it owns no threads and calls
 * the task back through sluice__barrier_actions, so it is unit-tested in
 * isolation.
 *
 * EXACTLY_ONCE (aligned):
 *  - barrier n on channel c: older than the current checkpoint, or equal
 *    to it when nothing is pending → ignored.  Newer: a pending older one
 *    is aborted with CHECKPOINT_DECLINED_SUBSUMED, then n starts with
 *    target = open channels.  Channel c counts as aligned and is blocked
 *    until the alignment ends.  When all target channels are aligned:
 *    channels unblocked, the task checkpoints.
 *  - cancel marker n: if n > current, or n == current with some channel
 *    already aligned → abort with CHECKPOINT_DECLINED_ON_CANCELLATION_
 *    BARRIER; current and last-done move to max(·, n); channels unblocked.
 *  - end of partition on c: one fewer open channel.  With checkpoints
 *    after tasks finish disabled, a pending checkpoint is aborted with
 *    CHECKPOINT_DECLINED_INPUT_END_OF_STREAM; enabled, c counts as
 *    aligned for the pending checkpoint (and may complete it).
 * AT_LEAST_ONCE (tracker): nothing is blocked; up to 50 checkpoints are
 *  tracked (oldest dropped); a checkpoint triggers when all its target
 *  channels delivered its barrier (then it and all older entries are
 *  dropped); one open channel and a newer id triggers at once; cancel
 *  markers abort once every older entry and this one (an unknown newer id
 *  becomes an aborted placeholder); end of partition aborts everything
 *  (after-finish disabled) or counts as aligned for the newest entry.
 *
 * Every abort calls actions->abort(id, reason) exactly once per id; the
 * task declines and forwards a cancellation marker.
 *
 * Unaligned (spec §4.4, §4.5; only with `unaligned_enabled`, EXACTLY_ONCE,
 * and a barrier whose options allow it, never for savepoints):
 *  - aligned_timeout_ms == 0: the first barrier of checkpoint n triggers
 *    at once (trigger_unaligned with the channels whose barrier is in);
 *    nothing is blocked; every later barrier of n (or end of partition
 *    with after-finish enabled) calls channel_barrier for its channel;
 *    when all target channels delivered, unaligned_done(n).
 *  - aligned_timeout_ms > 0: n starts aligned (channels blocked) and
 *    switches to unaligned once the wall clock reaches barrier timestamp
 *    + timeout (the timeout includes the start delay, as Flink measures
 *    it), checked on every barrier, end of partition and whenever the
 *    task calls sluice__barrier_check_timeout; the switch unblocks every
 *    channel and triggers unaligned as above.  An alignment that ends
 *    before the deadline stays an aligned checkpoint.
 *  - cancel markers, subsumption and end of partition abort an unaligned
 *    checkpoint exactly like an aligned one.
 */
#ifndef SLUICE_RUNTIME_BARRIER_H
#define SLUICE_RUNTIME_BARRIER_H

#include <stdint.h>

#include "runtime/channel.h"

#define SLUICE__TRACKER_MAX 50

typedef struct sluice__barrier_actions {
	void *ctx;
	/* aligned mode: stop / resume consuming a channel */
	void (*block)(void *ctx, int channel);
	void (*unblock_all)(void *ctx);
	/* all barriers of `b` are in: take the checkpoint */
	int (*trigger)(
		void *ctx,
		const sluice__barrier *b,
		int64_t alignment_ms,
		int64_t start_delay_ms);
	/* give checkpoint `id` up (decline, forward a cancel marker) */
	int (*abort)(void *ctx, int64_t id, sluice_failure_reason reason);
	/* exactly-once: checkpoint `id` begins at this task (optional) */
	void (*started)(void *ctx, int64_t id);
	/* unaligned: snapshot now; `arrived[c]` = barrier of `b` already in
	 * on channel c (in-flight data of the others is recorded) */
	int (*trigger_unaligned)(
		void *ctx,
		const sluice__barrier *b,
		const uint8_t *arrived,
		int64_t start_delay_ms);
	/* unaligned: the barrier of the current checkpoint reached `channel`
	 * (stop recording it) */
	void (*channel_barrier)(void *ctx, int channel);
	/* unaligned: every barrier of `id` is in */
	int (*unaligned_done)(void *ctx, int64_t id, int64_t alignment_ms);
} sluice__barrier_actions;

typedef struct sluice__tracked {
	int64_t id;
	int count;
	int target;
	int aborted;
	sluice__barrier barrier;
	int64_t first_ns;
	int64_t first_wall_ms;
	uint8_t *seen; /* per channel */
} sluice__tracked;

typedef struct sluice__barrier_handler {
	int exactly_once;
	int after_finish; /* checkpoints after tasks finish enabled */
	const sluice__barrier_actions *act;
	sluice_clock *clock;
	int num_channels;
	int num_open;
	uint8_t *ended; /* per channel */
	/* aligned */
	int64_t current;
	int64_t last_done;
	uint8_t *aligned; /* per channel */
	int num_aligned;
	int target;
	sluice__barrier pending;
	int64_t first_ns;
	int64_t first_wall_ms;
	/* unaligned */
	int unaligned_enabled; /* set by the owner after init */
	int unaligned_now;     /* current checkpoint runs unaligned */
	int64_t deadline_ms;   /* aligned timeout (wall), -1 none */
	/* tracker */
	sluice__tracked tracked[SLUICE__TRACKER_MAX];
	int num_tracked;
	int64_t latest;
} sluice__barrier_handler;

/* 0 or SLUICE_ENOMEM.  `act` and `clock` are borrowed. */
int sluice__barrier_handler_init(
	sluice__barrier_handler *h,
	int exactly_once,
	int after_finish,
	int num_channels,
	const sluice__barrier_actions *act,
	sluice_clock *clock);
void sluice__barrier_handler_release(sluice__barrier_handler *h);

/* Events from channel `channel`.  Return the first negative code an
 * action returned (the task fails), else 0. */
int sluice__barrier_on_barrier(
	sluice__barrier_handler *h, int channel, const sluice__barrier *b);
int sluice__barrier_on_cancel(
	sluice__barrier_handler *h, int channel, int64_t id);
int sluice__barrier_on_end(sluice__barrier_handler *h, int channel);

/* Aligned checkpoint timeout: switch to unaligned when its deadline has
 * passed.  0 or the first negative code an action returned. */
int sluice__barrier_check_timeout(sluice__barrier_handler *h);
/* Wall-clock deadline of the pending aligned checkpoint, -1 none. */
int64_t sluice__barrier_deadline(const sluice__barrier_handler *h);

/* Whether a checkpoint is being aligned / tracked. */
int sluice__barrier_pending(const sluice__barrier_handler *h);

#endif
