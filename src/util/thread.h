/*
 * Small threading helpers: condition variables that wait on the monotonic
 * OS clock for a bounded real time.  These bound how long a thread sleeps
 * while waiting for a condition (a wake-up safety net); they are not
 * logical time, which always comes from a sluice_clock.
 */
#ifndef SLUICE_UTIL_THREAD_H
#define SLUICE_UTIL_THREAD_H

#include <pthread.h>
#include <stdint.h>

/* pthread_cond_init with CLOCK_MONOTONIC; returns 0 or an errno value. */
int sluice__cond_init(pthread_cond_t *cond);

/*
 * Wait on `cond` (with `mutex` held) for at most `ms` milliseconds of real
 * time; ms < 0 waits without a limit.  Returns 0 when woken (possibly
 * spuriously) and 1 when the time ran out.
 */
int sluice__cond_wait_ms(
	pthread_cond_t *cond, pthread_mutex_t *mutex, int64_t ms);

#endif
