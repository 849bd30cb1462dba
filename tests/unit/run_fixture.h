/*
 * The shared fixture of the tests that drive whole jobs through
 * sluice_run (test_run.c, test_run_monitor.c, test_rocksdb_jobs.c,
 * test_storage_entropy.c), implemented in helper_run_fixture.c:
 *
 * - a manual clock advanced by a ticker thread, 10 clock ms per real ms
 *   (about), starting at 1700000000000 ms, so checkpoint intervals and
 *   restart backoffs are clock time;
 * - a per-test temporary directory under /tmp (removed on release) and
 *   run options (version, the ticker's clock, seed 7);
 * - building blocks for a validated configuration: checkpoints into
 *   <dir>/<sub>, savepoints into <dir>/sp, then whatever the test file
 *   adds, then NULL-terminated key/value pairs (later ones win);
 * - wait conditions for rt_wait_for: sink record counts and checkpoint
 *   completion notifications.
 *
 * Every failure is a cmocka assertion.  Everything exported is rf_.
 */
#ifndef SLUICE_TESTS_RUN_FIXTURE_H
#define SLUICE_TESTS_RUN_FIXTURE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "runtime_harness.h"
#include "sluice/clock.h"
#include "sluice/config.h"
#include "sluice/job.h"

/* A manual clock advanced by 10 ms per (real) millisecond. */
typedef struct rf_ticker {
	sluice_manual_clock clock;
	int run; /* atomic */
	pthread_t th;
} rf_ticker;

/* Start the clock at 1700000000000 ms and its ticker thread. */
void rf_ticker_start(rf_ticker *t);
/* Stop and join the ticker thread (the clock stays readable). */
void rf_ticker_stop(rf_ticker *t);

typedef struct rf_fx {
	char dir[64]; /* /tmp/sluice-<tag>-XXXXXX */
	rf_ticker tick;
	sluice_run_options ro; /* version, &tick.clock.base, seed 7 */
} rf_fx;

/* Make the temporary directory named after `tag`, start the ticker and
 * fill the run options. */
void rf_fx_init(rf_fx *f, const char *tag);
/* Stop the ticker and remove the directory tree. */
void rf_fx_release(rf_fx *f);

/* End of a test: free `run` (may be NULL), the configuration and the
 * pipeline, then release the fixture. */
void rf_teardown(rf_fx *f, sluice_run *run, sluice_config *c, pipeline *pl);

/* Set one option through the API (asserting success). */
void rf_conf_set(sluice_config *c, const char *key, const char *val);
/* Set `key` to the path <f->dir>/<sub>. */
void rf_conf_set_path(
	sluice_config *c, const rf_fx *f, const char *key, const char *sub);
/* A new configuration: checkpoints into <dir>/<sub>, savepoints into
 * <dir>/sp. */
sluice_config *rf_conf_begin(const rf_fx *f, const char *sub);
/* Set the NULL-terminated key/value pairs of `ap`, then validate. */
void rf_conf_end(sluice_config *c, va_list ap);

/* Records the sink collected so far (under its lock). */
int64_t rf_sink_records(sink_out *s);

/* Carry what sink `from` saw (per key) into `to`, so a restored job's
 * sink checks exactly-once over both runs. */
void rf_sink_copy(sink_out *to, const sink_out *from);

typedef struct rf_sink_wait {
	sink_out *sink;
	int64_t n;
} rf_sink_wait;

/* rt_wait_for condition: the sink collected at least n records. */
int rf_sink_reached(void *arg);

typedef struct rf_notes_wait {
	notes *n;
	int calls;
} rf_notes_wait;

/* rt_wait_for condition: at least `calls` checkpoint-complete
 * notifications reached the map subtasks. */
int rf_notified_after(void *arg);

#endif
