/*
 * Clocks: the real one (CLOCK_REALTIME / CLOCK_MONOTONIC) and a manual one
 * for deterministic tests.  Everything time-dependent reads a sluice_clock.
 */
#include <stdatomic.h>
#include <time.h>

#include "sluice/clock.h"

static int64_t sys_wall_ms(sluice_clock *c)
{
	struct timespec ts;

	(void)c;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t sys_mono_ns(sluice_clock *c)
{
	struct timespec ts;

	(void)c;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static sluice_clock system_clock = {
	SLUICE_CLOCK_VERSION, sys_wall_ms, sys_mono_ns};

sluice_clock *sluice_clock_system(void)
{
	return &system_clock;
}

static int64_t man_wall_ms(sluice_clock *c)
{
	sluice_manual_clock *m = (sluice_manual_clock *)c;

	return __atomic_load_n(&m->wall_ms, __ATOMIC_ACQUIRE);
}

static int64_t man_mono_ns(sluice_clock *c)
{
	sluice_manual_clock *m = (sluice_manual_clock *)c;

	return __atomic_load_n(&m->mono_ns, __ATOMIC_ACQUIRE);
}

void sluice_manual_clock_init(sluice_manual_clock *clock, int64_t wall_ms)
{
	clock->base.version = SLUICE_CLOCK_VERSION;
	clock->base.wall_ms = man_wall_ms;
	clock->base.mono_ns = man_mono_ns;
	clock->wall_ms = wall_ms;
	clock->mono_ns = wall_ms * 1000000;
}

void sluice_manual_clock_advance(sluice_manual_clock *clock, int64_t ms)
{
	__atomic_add_fetch(&clock->wall_ms, ms, __ATOMIC_RELEASE);
	__atomic_add_fetch(&clock->mono_ns, ms * 1000000, __ATOMIC_RELEASE);
}

int64_t sluice_clock_wall_ms(sluice_clock *clock)
{
	return clock->wall_ms(clock);
}

int64_t sluice_clock_mono_ns(sluice_clock *clock)
{
	return clock->mono_ns(clock);
}

int64_t sluice_clock_mono_ms(sluice_clock *clock)
{
	return clock->mono_ns(clock) / 1000000;
}
