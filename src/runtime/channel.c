/*
 * Bounded channels with credit-based backpressure and the per-subtask
 * inbox that multiplexes them with control mails (see channel.h for the
 * contract).  Owns the element and mail queues and the wake-up protocol
 * between producers and consumers.
 */
#include <string.h>

#include "runtime/channel.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/thread.h"

sluice__elem *sluice__elem_new(sluice__elem_kind kind)
{
	sluice__elem *e = sluice__calloc(1, sizeof(*e));

	if (e)
		e->kind = kind;
	return e;
}

sluice__btrack *sluice__btrack_new(void)
{
	sluice__btrack *b = sluice__calloc(1, sizeof(*b));

	if (b)
		b->refs = 1;
	return b;
}

void sluice__btrack_release(sluice__btrack *b)
{
	if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
		sluice__free(b);
}

void sluice__elem_free(sluice__elem *e)
{
	if (!e)
		return;
	sluice__btrack_release(e->track);
	sluice__free(e->data);
	sluice__free(e);
}

int sluice__inbox_init(sluice__inbox *in)
{
	memset(in, 0, sizeof(*in));
	if (pthread_mutex_init(&in->lock, NULL) != 0)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"inbox: could not create a mutex");
	if (sluice__cond_init(&in->cond) != 0) {
		pthread_mutex_destroy(&in->lock);
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"inbox: could not create a condition variable");
	}
	return 0;
}

void sluice__inbox_release(sluice__inbox *in)
{
	sluice__mail *m = in->mail_head;

	while (m) {
		sluice__mail *next = m->next;
		sluice__free(m);
		m = next;
	}
	sluice__free(in->channels);
	pthread_cond_destroy(&in->cond);
	pthread_mutex_destroy(&in->lock);
	memset(in, 0, sizeof(*in));
}

void sluice__inbox_close(sluice__inbox *in)
{
	int i;

	pthread_mutex_lock(&in->lock);
	in->closed = 1;
	pthread_cond_broadcast(&in->cond);
	for (i = 0; i < in->num_channels; i++)
		pthread_cond_broadcast(&in->channels[i]->credit);
	pthread_mutex_unlock(&in->lock);
}

void sluice__inbox_wakeup(sluice__inbox *in)
{
	pthread_mutex_lock(&in->lock);
	in->woken = 1;
	pthread_cond_signal(&in->cond);
	pthread_mutex_unlock(&in->lock);
}

int sluice__inbox_post(sluice__inbox *in, const sluice__mail *mail)
{
	sluice__mail *m = sluice__memdup(mail, sizeof(*mail));
	int rc = 0;

	if (!m)
		return sluice__error_oom();
	m->next = NULL;
	pthread_mutex_lock(&in->lock);
	if (in->closed) {
		rc = SLUICE_ECANCELED;
	} else {
		if (in->mail_tail)
			in->mail_tail->next = m;
		else
			in->mail_head = m;
		in->mail_tail = m;
		__atomic_store_n(&in->has_mail, 1, __ATOMIC_RELAXED);
		pthread_cond_signal(&in->cond);
	}
	pthread_mutex_unlock(&in->lock);
	if (rc < 0) {
		sluice__free(m);
		return sluice__error_set(
			rc, SLUICE_ERRCLS_RUNTIME, "task inbox is closed");
	}
	return 0;
}

/* A data buffer can join `ch` now (inbox lock held). */
static int credit_free(const sluice__channel *ch)
{
	const sluice__inbox *in = ch->inbox;

	return ch->data_queued < ch->credits ||
	       in->floating_used < in->floating;
}

/* A floating buffer came back (lock held): every producer waiting for
 * credit may take it. */
static void floating_returned(sluice__inbox *in)
{
	int i;

	for (i = 0; i < in->num_channels; i++)
		if (in->channels[i]->producer_waiting)
			pthread_cond_signal(&in->channels[i]->credit);
}

void sluice__inbox_add_floating(sluice__inbox *in, int input, int32_t n)
{
	pthread_mutex_lock(&in->lock);
	if (n > 0 && input >= 0 && input < 32 && !(in->gates & (1u << input))) {
		in->gates |= 1u << input;
		in->floating += n;
	}
	pthread_mutex_unlock(&in->lock);
}

/* Pop the head of `ch` (lock held); returns a credit for data and
 * hands back the producer inbox to wake (after unlocking) in `*wake`. */
static sluice__elem *channel_pop(sluice__channel *ch, sluice__inbox **wake)
{
	sluice__elem *e = ch->head;

	ch->head = e->next;
	if (!ch->head)
		ch->tail = NULL;
	e->next = NULL;
	/* num_prio counts priority elements at the head of a channel */
	if (e->prio)
		__atomic_sub_fetch(&ch->inbox->num_prio, 1, __ATOMIC_RELAXED);
	if (ch->head && ch->head->prio)
		__atomic_add_fetch(&ch->inbox->num_prio, 1, __ATOMIC_RELAXED);
	if (e->track) {
		__atomic_sub_fetch(&e->track->left, 1, __ATOMIC_ACQ_REL);
		*wake = e->producer;
	}
	if (e->kind == SLUICE__ELEM_DATA) {
		sluice__inbox *in = ch->inbox;

		if (ch->data_queued > ch->credits) {
			__atomic_store_n(
				&in->floating_used, in->floating_used - 1,
				__ATOMIC_RELAXED);
			floating_returned(in);
		}
		__atomic_store_n(
			&ch->data_queued, ch->data_queued - 1,
			__ATOMIC_RELAXED);
		pthread_cond_signal(&ch->credit);
		if (ch->wake) {
			*wake = ch->wake;
			ch->wake = NULL;
		}
	}
	return e;
}

/* A priority element at the head of an unblocked channel (lock held). */
static int take_prio(
	sluice__inbox *in, sluice__elem **elem, int *chan, sluice__inbox **wake)
{
	int i;

	if (__atomic_load_n(&in->num_prio, __ATOMIC_RELAXED) <= 0)
		return 0;
	for (i = 0; i < in->num_channels; i++) {
		sluice__channel *ch = in->channels[i];

		if (!ch->blocked && ch->head && ch->head->prio) {
			*elem = channel_pop(ch, wake);
			*chan = i;
			return 1;
		}
	}
	return 0;
}

/* Look for something to hand out (lock held); 1 if found. */
static int inbox_take(
	sluice__inbox *in,
	int prio_only,
	sluice__mail **mail,
	sluice__elem **elem,
	int *chan,
	sluice__inbox **wake)
{
	int i;

	if (in->mail_head) {
		*mail = in->mail_head;
		in->mail_head = (*mail)->next;
		if (!in->mail_head) {
			in->mail_tail = NULL;
			__atomic_store_n(&in->has_mail, 0, __ATOMIC_RELAXED);
		}
		(*mail)->next = NULL;
		return 1;
	}
	if (take_prio(in, elem, chan, wake))
		return 1;
	if (prio_only)
		return 0;
	for (i = 0; i < in->num_channels; i++) {
		int idx = (in->rr + i) % in->num_channels;
		sluice__channel *ch = in->channels[idx];

		if (ch->blocked || !ch->head)
			continue;
		*elem = channel_pop(ch, wake);
		*chan = idx;
		in->rr = (idx + 1) % in->num_channels;
		return 1;
	}
	return 0;
}

int sluice__inbox_next(
	sluice__inbox *in,
	int64_t wait_ms,
	int prio_only,
	sluice__mail **mail,
	sluice__elem **elem,
	int *channel)
{
	sluice__inbox *wake = NULL;
	int rc = 0;

	*mail = NULL;
	*elem = NULL;
	*channel = -1;
	pthread_mutex_lock(&in->lock);
	for (;;) {
		if (in->closed) {
			rc = SLUICE_ECANCELED;
			break;
		}
		if (inbox_take(in, prio_only, mail, elem, channel, &wake)) {
			rc = 1;
			break;
		}
		if (in->woken) {
			in->woken = 0;
			break;
		}
		if (wait_ms == 0)
			break;
		if (sluice__cond_wait_ms(&in->cond, &in->lock, wait_ms)) {
			wait_ms = 0; /* one last look, then report nothing */
		}
	}
	pthread_mutex_unlock(&in->lock);
	if (wake)
		sluice__inbox_wakeup(wake);
	return rc;
}

int sluice__inbox_prio(sluice__inbox *in)
{
	return __atomic_load_n(&in->num_prio, __ATOMIC_RELAXED) > 0 ||
	       __atomic_load_n(&in->has_mail, __ATOMIC_RELAXED);
}

int sluice__channel_new(
	sluice__channel **out, sluice__inbox *in, int input, int32_t credits)
{
	sluice__channel *ch;
	sluice__channel **grown;

	*out = NULL;
	if (!(ch = sluice__calloc(1, sizeof(*ch))))
		return sluice__error_oom();
	if (sluice__cond_init(&ch->credit) != 0) {
		sluice__free(ch);
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"channel: could not create a condition variable");
	}
	ch->inbox = in;
	ch->input = input;
	ch->credits = credits < 0 ? 0 : credits;
	pthread_mutex_lock(&in->lock);
	if (in->num_channels == in->cap_channels) {
		int cap = in->cap_channels ? in->cap_channels * 2 : 4;

		grown = sluice__reallocarray(
			in->channels, (size_t)cap, sizeof(*grown));
		if (!grown) {
			pthread_mutex_unlock(&in->lock);
			pthread_cond_destroy(&ch->credit);
			sluice__free(ch);
			return sluice__error_oom();
		}
		in->channels = grown;
		in->cap_channels = cap;
	}
	ch->index = in->num_channels;
	in->channels[in->num_channels++] = ch;
	pthread_mutex_unlock(&in->lock);
	*out = ch;
	return 0;
}

void sluice__channel_free(sluice__channel *ch)
{
	sluice__elem *e;

	if (!ch)
		return;
	e = ch->head;
	while (e) {
		sluice__elem *next = e->next;
		sluice__elem_free(e);
		e = next;
	}
	pthread_cond_destroy(&ch->credit);
	sluice__free(ch);
}

/* With the inbox lock held: when the inbox is closed, release the lock,
 * free `e` and return SLUICE_ECANCELED; else 0 (still locked). */
static int refuse_if_closed(sluice__channel *ch, sluice__elem *e)
{
	if (!ch->inbox->closed)
		return 0;
	pthread_mutex_unlock(&ch->inbox->lock);
	sluice__elem_free(e);
	return sluice__error_set(
		SLUICE_ECANCELED, SLUICE_ERRCLS_RUNTIME,
		"channel closed: the job is stopping");
}

/* Append `e` at the tail and wake the consumer; called with the inbox
 * lock held, returns with it released.  A closed inbox frees `e`. */
static int append_unlock(sluice__channel *ch, sluice__elem *e)
{
	sluice__inbox *in = ch->inbox;
	int rc;

	if ((rc = refuse_if_closed(ch, e)) < 0)
		return rc;
	if (ch->tail)
		ch->tail->next = e;
	else
		ch->head = e;
	ch->tail = e;
	if (e->kind == SLUICE__ELEM_DATA) {
		if (ch->data_queued >= ch->credits)
			__atomic_store_n(
				&in->floating_used, in->floating_used + 1,
				__ATOMIC_RELAXED);
		__atomic_store_n(
			&ch->data_queued, ch->data_queued + 1,
			__ATOMIC_RELAXED);
	}
	pthread_cond_signal(&in->cond);
	pthread_mutex_unlock(&in->lock);
	return 0;
}

int sluice__channel_push(sluice__channel *ch, sluice__elem *e)
{
	sluice__inbox *in = ch->inbox;
	int waited = 0;

	e->next = NULL;
	pthread_mutex_lock(&in->lock);
	while (!in->closed && e->kind == SLUICE__ELEM_DATA &&
	       !credit_free(ch)) {
		if (!waited) {
			ch->waits++;
			waited = 1;
		}
		ch->producer_waiting = 1;
		sluice__cond_wait_ms(&ch->credit, &in->lock, -1);
		ch->producer_waiting = 0;
	}
	return append_unlock(ch, e);
}

int sluice__channel_available(sluice__channel *ch, sluice__inbox *producer)
{
	sluice__inbox *in = ch->inbox;
	int ok;

	pthread_mutex_lock(&in->lock);
	ok = in->closed || credit_free(ch);
	if (!ok)
		ch->wake = producer;
	pthread_mutex_unlock(&in->lock);
	return ok;
}

int sluice__channel_credit_hint(sluice__channel *ch)
{
	return __atomic_load_n(&ch->data_queued, __ATOMIC_RELAXED) <
		       ch->credits ||
	       __atomic_load_n(&ch->inbox->floating_used, __ATOMIC_RELAXED) <
		       ch->inbox->floating;
}

int sluice__channel_push_force(sluice__channel *ch, sluice__elem *e)
{
	sluice__inbox *in = ch->inbox;

	e->next = NULL;
	pthread_mutex_lock(&in->lock);
	return append_unlock(ch, e);
}

int sluice__channel_prioritize(
	sluice__channel *ch,
	int64_t id,
	int (*keep)(void *arg, const uint8_t *data, size_t len),
	void *arg)
{
	sluice__inbox *in = ch->inbox;
	sluice__elem *after = NULL, *prev = NULL, *x, *b = NULL;
	int rc = 0;

	pthread_mutex_lock(&in->lock);
	for (x = ch->head; x && x->prio; x = x->next)
		after = x;
	for (x = after ? after->next : ch->head; x; prev = x, x = x->next)
		if (x->kind == SLUICE__ELEM_BARRIER && x->barrier.id == id) {
			b = x;
			break;
		}
	if (!b) {
		pthread_mutex_unlock(&in->lock);
		return 0;
	}
	for (x = after ? after->next : ch->head; x != b && rc >= 0; x = x->next)
		if (x->kind == SLUICE__ELEM_DATA)
			rc = keep(arg, x->data, x->len);
	if (prev != after) { /* unlink b, insert it behind `after` */
		prev->next = b->next;
		if (ch->tail == b)
			ch->tail = prev;
		if (after) {
			b->next = after->next;
			after->next = b;
		} else {
			b->next = ch->head;
			ch->head = b;
		}
	}
	b->prio = 1;
	if (ch->head == b)
		__atomic_add_fetch(&in->num_prio, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&in->cond);
	pthread_mutex_unlock(&in->lock);
	return rc < 0 ? rc : 1;
}

int sluice__channel_push_before_end(sluice__channel *ch, sluice__elem *e)
{
	sluice__inbox *in = ch->inbox;
	sluice__elem *prev = NULL, *x;
	int rc;

	e->next = NULL;
	pthread_mutex_lock(&in->lock);
	if ((rc = refuse_if_closed(ch, e)) < 0)
		return rc;
	for (x = ch->head; x && x->kind != SLUICE__ELEM_END; x = x->next)
		prev = x;
	e->next = x;
	if (prev)
		prev->next = e;
	else
		ch->head = e;
	if (!x)
		ch->tail = e;
	pthread_cond_signal(&in->cond);
	pthread_mutex_unlock(&in->lock);
	return 0;
}

int sluice__channel_peek_data(
	sluice__channel *ch,
	int (*keep)(void *arg, const uint8_t *data, size_t len),
	void *arg)
{
	sluice__elem *x;
	int rc = 0;

	pthread_mutex_lock(&ch->inbox->lock);
	for (x = ch->head; x && rc >= 0; x = x->next)
		if (x->kind == SLUICE__ELEM_DATA)
			rc = keep(arg, x->data, x->len);
	pthread_mutex_unlock(&ch->inbox->lock);
	return rc;
}

int sluice__channel_push_overtaking(
	sluice__channel *ch,
	sluice__elem *e,
	int (*keep)(void *arg, const uint8_t *data, size_t len),
	void *arg)
{
	sluice__inbox *in = ch->inbox;
	sluice__elem *after = NULL, *x;
	int rc = 0;

	e->next = NULL;
	e->prio = 1;
	pthread_mutex_lock(&in->lock);
	if ((rc = refuse_if_closed(ch, e)) < 0)
		return rc;
	for (x = ch->head; x && x->prio; x = x->next)
		after = x; /* behind earlier priority elements */
	for (x = after ? after->next : ch->head; x && rc >= 0; x = x->next)
		if (x->kind == SLUICE__ELEM_DATA)
			rc = keep(arg, x->data, x->len);
	if (after) {
		e->next = after->next;
		after->next = e;
	} else {
		e->next = ch->head;
		ch->head = e;
	}
	if (!e->next)
		ch->tail = e;
	if (ch->head == e)
		__atomic_add_fetch(&in->num_prio, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&in->cond);
	pthread_mutex_unlock(&in->lock);
	return rc;
}

void sluice__channel_set_blocked(sluice__channel *ch, int blocked)
{
	pthread_mutex_lock(&ch->inbox->lock);
	ch->blocked = blocked;
	pthread_mutex_unlock(&ch->inbox->lock);
}

int sluice__channel_producer_waiting(sluice__channel *ch)
{
	int w;

	pthread_mutex_lock(&ch->inbox->lock);
	w = ch->producer_waiting;
	pthread_mutex_unlock(&ch->inbox->lock);
	return w;
}

uint64_t sluice__channel_waits(sluice__channel *ch)
{
	uint64_t n;

	pthread_mutex_lock(&ch->inbox->lock);
	n = ch->waits;
	pthread_mutex_unlock(&ch->inbox->lock);
	return n;
}

int32_t sluice__channel_queued(sluice__channel *ch)
{
	int32_t n;

	pthread_mutex_lock(&ch->inbox->lock);
	n = ch->data_queued;
	pthread_mutex_unlock(&ch->inbox->lock);
	return n;
}
