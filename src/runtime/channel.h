/*
 * Channels and inboxes: how records, barriers and control mails reach a
 * subtask.
 *
 * Every consumer subtask owns one inbox: a lock, a condition variable, a
 * queue of control mails (trigger, notify, wake-up) and the list of its
 * input channels.  A channel is a FIFO of elements from one producer
 * subtask: data buffers (serialized records), barriers, cancellation
 * markers and end-of-partition, strictly in the order the producer sent
 * them.  A channel is guarded by its consumer's inbox lock.
 *
 * Credit-based backpressure: a channel grants `credits` data buffers.  A
 * producer pushing a data buffer while all credits are taken waits on the
 * channel's credit condition (no spinning) until the consumer takes a
 * buffer, which returns one credit and wakes it.  Events (barriers,
 * markers, end-of-partition) need no credit, so control never deadlocks
 * behind data.  Closing an inbox (job stop) wakes every waiting producer
 * and consumer; their calls then fail with SLUICE_ECANCELED.
 *
 * Alignment blocking: the consumer may block a channel; next() then skips
 * it until unblocked, leaving its elements queued (and its producer
 * eventually out of credit).
 *
 * Mails take priority over channel elements.  Channels are served round
 * robin among those that are unblocked and non-empty.
 */
#ifndef SLUICE_RUNTIME_CHANNEL_H
#define SLUICE_RUNTIME_CHANNEL_H

#include <pthread.h>
#include <stdint.h>

#include "sluice/sys/runtime.h"

typedef enum sluice__elem_kind {
	SLUICE__ELEM_DATA = 0,
	SLUICE__ELEM_BARRIER = 1,
	SLUICE__ELEM_CANCEL = 2,  /* cancellation marker */
	SLUICE__ELEM_END = 3,     /* end of partition */
	SLUICE__ELEM_END_DATA = 4 /* no more records; events may follow */
} sluice__elem_kind;

typedef struct sluice__barrier {
	int64_t id;
	int64_t timestamp; /* trigger time, wall ms */
	sluice_checkpoint_options opts;
} sluice__barrier;

/* Consumption of one aligned barrier on every output channel (spec
 * §4.5): `left` elements not yet taken; freed with its last reference. */
typedef struct sluice__btrack {
	int left; /* atomic */
	int refs; /* atomic */
} sluice__btrack;

sluice__btrack *sluice__btrack_new(void);
void sluice__btrack_release(sluice__btrack *b);

typedef struct sluice__elem {
	struct sluice__elem *next;
	sluice__elem_kind kind;
	sluice__barrier barrier; /* BARRIER; CANCEL uses barrier.id */
	int prio;                /* unaligned barrier: served first */
	/* aligned barrier that may time out: `track->left` goes down when
	 * the consumer takes it, and `producer` is woken */
	sluice__btrack *track;
	struct sluice__inbox *producer;
	size_t len;    /* DATA: bytes in data */
	uint8_t *data; /* DATA: owned */
} sluice__elem;

/* New element; DATA takes ownership of `data`.  NULL on OOM. */
sluice__elem *sluice__elem_new(sluice__elem_kind kind);
void sluice__elem_free(sluice__elem *e);

typedef enum sluice__mail_kind {
	SLUICE__MAIL_TRIGGER = 0,
	SLUICE__MAIL_COMPLETE = 1,
	SLUICE__MAIL_ABORTED = 2
} sluice__mail_kind;

typedef struct sluice__mail {
	struct sluice__mail *next;
	sluice__mail_kind kind;
	int64_t id;
	int64_t arg; /* trigger: timestamp; complete: last subsumed */
	sluice_checkpoint_options opts;
} sluice__mail;

typedef struct sluice__channel sluice__channel;

typedef struct sluice__inbox {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* consumer waits here */
	sluice__mail *mail_head, *mail_tail;
	sluice__channel **channels; /* borrowed; owned by the job */
	int num_channels;
	int cap_channels;
	int rr; /* next channel to look at */
	int closed;
	int woken;
	int num_prio; /* priority elements at channel heads (atomic) */
	int has_mail; /* mails queued (atomic hint) */
	/* floating buffers (Flink's floating-buffers-per-gate): shared by
	 * the channels on top of their exclusive credits; a channel holding
	 * more data buffers than its credits holds the excess as floating */
	int32_t floating;      /* pool size: per-gate size x inputs */
	int32_t floating_used; /* atomic reads as a hint */
	unsigned gates;        /* inputs whose pool share was added */
} sluice__inbox;

struct sluice__channel {
	sluice__inbox *inbox;  /* consumer side; its lock guards us */
	pthread_cond_t credit; /* producer waits here */
	sluice__elem *head, *tail;
	int32_t credits;     /* exclusive data buffers (may be 0) */
	int32_t data_queued; /* data buffers in the queue */
	int blocked;         /* consumer skips us (alignment) */
	int index;           /* position in the consumer's inbox */
	int input;           /* consumer input number (0 or 1) */
	int producer_waiting;
	uint64_t waits; /* times a producer had to wait for credit */
	/* producer's inbox to wake when a credit comes back (set by
	 * sluice__channel_available when there was none) */
	sluice__inbox *wake;
};

int sluice__inbox_init(sluice__inbox *in);
/* Frees queued mails; channels are not freed. */
void sluice__inbox_release(sluice__inbox *in);
/* Close: wake everyone; later push/next return SLUICE_ECANCELED. */
void sluice__inbox_close(sluice__inbox *in);
/* Wake the consumer once (next() returns 0 if nothing is queued). */
void sluice__inbox_wakeup(sluice__inbox *in);
/* Queue a mail (copied).  0 or SLUICE_ENOMEM / SLUICE_ECANCELED. */
int sluice__inbox_post(sluice__inbox *in, const sluice__mail *mail);

/*
 * Next thing for the consumer: a mail (priority), a priority element at
 * the head of an unblocked channel (an unaligned barrier), or, unless
 * `prio_only`, an element of an unblocked channel.  Waits up to `wait_ms`
 * of real time (< 0 forever, 0 not at all).  Returns 1 with `*mail` or
 * `*elem` (and `*channel`) set (caller frees), 0 when nothing arrived
 * (timeout or wake-up), SLUICE_ECANCELED when closed.  Taking a data
 * buffer returns a credit and wakes a producer that asked for it.
 */
int sluice__inbox_next(
	sluice__inbox *in,
	int64_t wait_ms,
	int prio_only,
	sluice__mail **mail,
	sluice__elem **elem,
	int *channel);
/* Whether a mail or a priority element waits (cheap hint). */
int sluice__inbox_prio(sluice__inbox *in);

/* New channel into `in` for consumer input `input` with `credits`
 * exclusive buffers (>= 0; a channel with none needs floating ones). */
int sluice__channel_new(
	sluice__channel **out, sluice__inbox *in, int input, int32_t credits);
/* Add `n` floating buffers to `in` for input `input`, once per input
 * (Flink: per input gate). */
void sluice__inbox_add_floating(sluice__inbox *in, int input, int32_t n);
/* Free with queued elements.  Call only when no thread uses it. */
void sluice__channel_free(sluice__channel *ch);
/*
 * Append `e` (ownership passes, also on failure).  A DATA element waits
 * for a credit.  Returns 0 or SLUICE_ECANCELED (inbox closed).
 */
int sluice__channel_push(sluice__channel *ch, sluice__elem *e);
/* 1 when a data buffer can be pushed without waiting (an exclusive
 * credit or a floating buffer is free); otherwise 0 and `producer` is
 * woken when this channel's consumer takes one of its buffers. */
int sluice__channel_available(sluice__channel *ch, sluice__inbox *producer);
/* Cheap unlocked hint of sluice__channel_available. */
int sluice__channel_credit_hint(sluice__channel *ch);
/*
 * Unaligned barrier (spec §4.4): put `e` ahead of everything queued
 * except earlier priority elements, without waiting for credit, as a
 * priority element (like Flink's priority events).  The overtaken
 * elements stay queued in their order; `keep` is called with each
 * overtaken data buffer, in order, so the producer persists them.  0, the first
 * negative code of `keep`, or SLUICE_ECANCELED.  `e` is taken over.
 */
int sluice__channel_push_overtaking(
	sluice__channel *ch,
	sluice__elem *e,
	int (*keep)(void *arg, const uint8_t *data, size_t len),
	void *arg);
/* Append a DATA element without waiting for credit (before an event of
 * an unaligned-enabled job).  0 or SLUICE_ECANCELED. */
int sluice__channel_push_force(sluice__channel *ch, sluice__elem *e);
/*
 * Aligned checkpoint timeout on the output side (spec §4.5): if the
 * aligned barrier of checkpoint `id` is still queued, make it a priority
 * element ahead of everything but earlier priority elements; `keep` gets
 * each data buffer it overtakes.  1 converted, 0 not queued (already
 * consumed), < 0 from `keep` or SLUICE_ECANCELED.
 */
int sluice__channel_prioritize(
	sluice__channel *ch,
	int64_t id,
	int (*keep)(void *arg, const uint8_t *data, size_t len),
	void *arg);
/* Queue event `e` (not DATA) before a queued end of partition, else at
 * the tail (consumer thread: a barrier injected for a finished
 * producer).  0 or SLUICE_ECANCELED. */
int sluice__channel_push_before_end(sluice__channel *ch, sluice__elem *e);
/* Call `keep` with every queued data buffer, in order (consumer
 * thread); 0 or the first negative code of `keep`. */
int sluice__channel_peek_data(
	sluice__channel *ch,
	int (*keep)(void *arg, const uint8_t *data, size_t len),
	void *arg);
/* Block or unblock consumption (consumer thread). */
void sluice__channel_set_blocked(sluice__channel *ch, int blocked);
/* Whether a producer is waiting for credit right now (tests, stats). */
int sluice__channel_producer_waiting(sluice__channel *ch);
/* Times a producer had to wait for credit on this channel. */
uint64_t sluice__channel_waits(sluice__channel *ch);
/* Number of queued data buffers. */
int32_t sluice__channel_queued(sluice__channel *ch);

#endif
