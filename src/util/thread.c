/*
 * Threading helpers (see thread.h): monotonic-clock condition variables
 * with bounded waits, used by the runtime's channels, mailboxes and pools.
 */
#include <errno.h>
#include <time.h>

#include "util/thread.h"

int sluice__cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int rc;

	if ((rc = pthread_condattr_init(&attr)) != 0)
		return rc;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return rc;
}

int sluice__cond_wait_ms(
	pthread_cond_t *cond, pthread_mutex_t *mutex, int64_t ms)
{
	struct timespec ts;

	if (ms < 0) {
		pthread_cond_wait(cond, mutex);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_cond_timedwait(cond, mutex, &ts) == ETIMEDOUT ? 1 : 0;
}
