/*
 * The injectable clock.  Every timeout, interval, TTL and statistic in
 * sluice reads time through a sluice_clock, never from time() directly, so
 * tests can drive time by hand.
 *
 * Threading: the system clock is safe from any thread.  A manual clock may
 * be read from any thread and advanced from one thread at a time.
 */
#ifndef SLUICE_CLOCK_H
#define SLUICE_CLOCK_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_clock sluice_clock;
struct sluice_clock {
	int version; /* SLUICE_CLOCK_VERSION */
	/* Wall-clock time, milliseconds since the epoch. */
	int64_t (*wall_ms)(sluice_clock *clock);
	/* Monotonic time in nanoseconds (arbitrary origin). */
	int64_t (*mono_ns)(sluice_clock *clock);
};

#define SLUICE_CLOCK_VERSION 1

/* The process-wide real clock.  Never NULL, never freed. */
SLUICE_EXTERN(sluice_clock *) sluice_clock_system(void);

/*
 * A manual clock for tests: time stands still until advanced.  Starts at
 * wall time `wall_ms` and monotonic time `wall_ms * 1e6`.
 */
typedef struct sluice_manual_clock {
	sluice_clock base;
	int64_t wall_ms;
	int64_t mono_ns; /* accessed atomically */
} sluice_manual_clock;

SLUICE_EXTERN(void)
sluice_manual_clock_init(sluice_manual_clock *clock, int64_t wall_ms);
/* Move both wall and monotonic time forward by `ms` milliseconds. */
SLUICE_EXTERN(void)
sluice_manual_clock_advance(sluice_manual_clock *clock, int64_t ms);

/* Convenience readers. */
SLUICE_EXTERN(int64_t) sluice_clock_wall_ms(sluice_clock *clock);
SLUICE_EXTERN(int64_t) sluice_clock_mono_ns(sluice_clock *clock);
SLUICE_EXTERN(int64_t) sluice_clock_mono_ms(sluice_clock *clock);

#ifdef __cplusplus
}
#endif
#endif
