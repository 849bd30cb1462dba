/*
 * Implementation of the job-run fixture (run_fixture.h): the manual-clock
 * ticker thread, the temporary-directory fixture, configuration building
 * blocks and wait conditions shared by the tests that run jobs through
 * sluice_run.  Linked into every unit test binary; everything it exports
 * is prefixed rf_.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "run_fixture.h"
#include "sluice/sys/storage.h"

static void *tick_main(void *arg)
{
	rf_ticker *t = arg;

	while (LOAD(&t->run)) {
		sluice_manual_clock_advance(&t->clock, 10);
		rt_pause_1ms();
	}
	return NULL;
}

void rf_ticker_start(rf_ticker *t)
{
	sluice_manual_clock_init(&t->clock, 1700000000000);
	STORE(&t->run, 1);
	assert_int_equal(pthread_create(&t->th, NULL, tick_main, t), 0);
}

void rf_ticker_stop(rf_ticker *t)
{
	STORE(&t->run, 0);
	pthread_join(t->th, NULL);
}

void rf_fx_init(rf_fx *f, const char *tag)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sluice-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(f->dir));
	rf_ticker_start(&f->tick);
	f->ro.version = SLUICE_RUN_OPTIONS_VERSION;
	f->ro.clock = &f->tick.clock.base;
	f->ro.seed = 7;
}

void rf_fx_release(rf_fx *f)
{
	rf_ticker_stop(&f->tick);
	assert_int_equal(
		sluice_storage_remove_tree(sluice_storage_file_get(), f->dir),
		0);
}

void rf_teardown(rf_fx *f, sluice_run *run, sluice_config *c, pipeline *pl)
{
	sluice_run_free(run);
	sluice_config_free(c);
	rt_pipeline_free(pl);
	rf_fx_release(f);
}

void rf_conf_set(sluice_config *c, const char *key, const char *val)
{
	assert_int_equal(sluice_config_set(c, key, val, SLUICE_CONFIG_API), 0);
}

void rf_conf_set_path(
	sluice_config *c, const rf_fx *f, const char *key, const char *sub)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", f->dir, sub);
	rf_conf_set(c, key, path);
}

sluice_config *rf_conf_begin(const rf_fx *f, const char *sub)
{
	sluice_config *c;

	assert_int_equal(sluice_config_new(&c), 0);
	rf_conf_set_path(c, f, "execution.checkpointing.dir", sub);
	rf_conf_set_path(c, f, "execution.checkpointing.savepoint-dir", "sp");
	return c;
}

void rf_conf_end(sluice_config *c, va_list ap)
{
	const char *k;

	while ((k = va_arg(ap, const char *)) != NULL)
		rf_conf_set(c, k, va_arg(ap, const char *));
	assert_int_equal(sluice_config_validate(c), 0);
}

int64_t rf_sink_records(sink_out *s)
{
	int64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->records;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void rf_sink_copy(sink_out *to, const sink_out *from)
{
	int k;

	for (k = 0; k < MAX_KEYS; k++) {
		memcpy(to->seen[k], from->seen[k], from->cap);
		to->max[k] = from->max[k];
	}
}

int rf_sink_reached(void *arg)
{
	rf_sink_wait *w = arg;

	return rf_sink_records(w->sink) >= w->n;
}

int rf_notified_after(void *arg)
{
	rf_notes_wait *w = arg;

	return LOAD(&w->n->complete_calls) >= w->calls;
}
