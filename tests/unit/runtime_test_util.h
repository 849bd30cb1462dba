/*
 * Shared bits of the runtime tests (test_channel, test_barrier,
 * test_runtime*): bounded waits on conditions.  A wait polls a condition
 * every millisecond for at most a few seconds of real time and reports
 * whether it became true; tests then assert on it.  Nothing here sleeps to
 * synchronise.
 */
#ifndef SLUICE_TESTS_RUNTIME_TEST_UTIL_H
#define SLUICE_TESTS_RUNTIME_TEST_UTIL_H

#include <time.h>

#define RT_WAIT_MS 10000

static inline void rt_pause_1ms(void)
{
	struct timespec ts = {0, 1000000L};

	nanosleep(&ts, NULL);
}

/* Wait until cond(arg) is true, at most RT_WAIT_MS; returns cond(arg). */
static inline int rt_wait_for(int (*cond)(void *), void *arg)
{
	int i;

	for (i = 0; i < RT_WAIT_MS; i++) {
		if (cond(arg))
			return 1;
		rt_pause_1ms();
	}
	return cond(arg);
}

#endif
