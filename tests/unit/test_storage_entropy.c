/*
 * Entropy injection (Flink's s3.entropy.key / s3.entropy.length) in the
 * location layer, on the memory storage given an entropy key, and batched
 * deletes through sluice_storage_remove_many.
 *
 * Covered: path rewriting (inject, remove, key absent, key only in the
 * authority, '/' runs collapsed); a checkpoint location puts state files
 * under random prefixes (FILE handles, also in savepoints, which are
 * otherwise RELATIVE) and `_metadata` under the path without the key, and
 * reads them back; discarding an aborted location deletes its injected
 * files; a real job run by sluice_run writes its checkpoints that way, is
 * killed, and restores exactly once from them; remove_many without the method
 * removes one by one and tolerates missing files.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/run.h"
#include "run_fixture.h"
#include "runtime_harness.h"
#include "sluice/config.h"
#include "sluice/sys/metadata.h"
#include "sluice/sys/storage.h"

#define KEY    "_entropy_"
#define JOB_ID "0123456789abcdef0123456789abcdef"

static int alnum_run(const char *p, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9')))
			return 0;
	return 1;
}

/* `path` is `before` + 4 alphanumerics + `after`. */
static void
assert_injected(const char *path, const char *before, const char *after)
{
	size_t b = strlen(before);

	assert_true(strlen(path) == b + 4 + strlen(after));
	assert_memory_equal(path, before, b);
	assert_true(alnum_run(path + b, 4));
	assert_string_equal(path + b + 4, after);
}

static sluice_storage *entropy_memory(void)
{
	sluice_storage *st = NULL;

	assert_int_equal(sluice_storage_memory_new(&st), 0);
	st->entropy_key = KEY;
	st->entropy_length = 4;
	return st;
}

static void test_entropy__paths_inject_and_remove_the_key(void **state)
{
	sluice_storage *st = entropy_memory();
	char *p = NULL;

	(void)state;
	assert_int_equal(
		sluice_storage_entropy_path(
			&p, st, "s3://bkt/" KEY "/ck/chk-1/f", 1),
		0);
	assert_injected(p, "s3://bkt/", "/ck/chk-1/f");
	sluice_free_bytes(p);
	assert_int_equal(
		sluice_storage_entropy_path(
			&p, st, "s3://bkt/" KEY "/ck/chk-1", 0),
		0);
	assert_string_equal(p, "s3://bkt/ck/chk-1");
	sluice_free_bytes(p);
	/* the key in the middle of a segment; only the first occurrence */
	assert_int_equal(
		sluice_storage_entropy_path(
			&p, st, "memory://t/a-" KEY "/b/" KEY, 0),
		0);
	assert_string_equal(p, "memory://t/a-/b/" KEY);
	sluice_free_bytes(p);
	/* the authority (an S3 bucket) is never rewritten */
	assert_int_equal(
		sluice_storage_entropy_path(&p, st, "memory://" KEY "/x", 1),
		0);
	assert_string_equal(p, "memory://" KEY "/x");
	assert_false(sluice_storage_entropy_injecting(st, p));
	sluice_free_bytes(p);
	/* bare path; no key in the path */
	assert_int_equal(
		sluice_storage_entropy_path(&p, st, "/data/" KEY "/ck", 0), 0);
	assert_string_equal(p, "/data/ck");
	sluice_free_bytes(p);
	assert_int_equal(sluice_storage_entropy_path(&p, st, "/data/ck", 1), 0);
	assert_string_equal(p, "/data/ck");
	sluice_free_bytes(p);
	/* a storage without a key leaves the marker alone */
	assert_int_equal(
		sluice_storage_entropy_path(
			&p, sluice_storage_file_get(), "/d/" KEY "/x", 1),
		0);
	assert_string_equal(p, "/d/" KEY "/x");
	assert_false(
		sluice_storage_entropy_injecting(sluice_storage_file_get(), p));
	sluice_free_bytes(p);
	sluice_storage_free(st);
}

static sluice_checkpoint_storage *cs_on(sluice_storage *st, const char *dir)
{
	sluice_checkpoint_storage *cs = NULL;
	sluice_storage_options o;

	sluice_storage_options_init(&o);
	o.checkpoint_dir = dir;
	o.savepoint_dir = "memory://t/" KEY "/sp";
	o.inline_threshold = 0;
	o.storage = st;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB_ID), 0);
	return cs;
}

static sluice_stream_handle *
write_stream(sluice_location *loc, sluice_scope scope, const char *text)
{
	sluice_ostream *os = NULL;
	sluice_stream_handle *h = NULL;

	assert_int_equal(sluice_location_open_stream(&os, loc, scope), 0);
	assert_int_equal(os->write(os, text, strlen(text)), 0);
	assert_int_equal(os->close(os, &h), 0);
	assert_non_null(h);
	return h;
}

typedef struct seen {
	int files, with_key;
	char last[256];
} seen;

static int see(const char *path, uint64_t size, void *ctx)
{
	seen *s = ctx;

	(void)size;
	s->files++;
	s->with_key += strstr(path, KEY) != NULL;
	snprintf(s->last, sizeof(s->last), "%s", path);
	return 0;
}

static seen list_all(sluice_storage *st, const char *dir)
{
	seen s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(sluice_storage_list(st, dir, see, &s), 0);
	return s;
}

static void test_entropy__state_files_random_metadata_plain(void **state)
{
	sluice_storage *st = entropy_memory();
	sluice_checkpoint_storage *cs = cs_on(st, "memory://t/" KEY "/ck");
	sluice_stream_handle *ex, *sh;
	sluice_location *loc = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	seen s;

	(void)state;
	assert_string_equal(
		sluice_checkpoint_storage_job_dir(cs), "memory://t/ck/" JOB_ID);
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 7), 0);
	assert_string_equal(
		sluice_location_dir(loc), "memory://t/ck/" JOB_ID "/chk-7");
	ex = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, "exclusive state");
	sh = write_stream(loc, SLUICE_SCOPE_SHARED, "shared state");
	assert_int_equal(ex->kind, SLUICE_HANDLE_FILE);
	assert_int_equal(sh->kind, SLUICE_HANDLE_FILE);
	assert_injected(ex->path, "memory://t/", ex->path + 15);
	assert_non_null(strstr(ex->path, "/ck/" JOB_ID "/chk-7/"));
	assert_non_null(strstr(sh->path, "/ck/" JOB_ID "/shared/"));
	assert_null(strstr(ex->path, KEY));
	assert_int_equal(sluice_location_commit(loc, "meta", 4), 0);
	assert_int_equal(
		sluice_storage_exists(
			st, "memory://t/ck/" JOB_ID "/chk-7/_metadata"),
		1);
	/* the state reads back, checksum verified */
	assert_int_equal(sluice_handle_read(&data, &len, st, NULL, ex), 0);
	assert_memory_equal(data, "exclusive state", len);
	sluice_free_bytes(data);
	/* nothing anywhere carries the marker */
	s = list_all(st, "memory://t");
	assert_int_equal(s.files, 3);
	assert_int_equal(s.with_key, 0);
	sluice_location_free(loc);
	sluice_stream_handle_free(ex);
	sluice_stream_handle_free(sh);
	sluice_checkpoint_storage_free(cs);
	sluice_storage_free(st);
}

static void test_entropy__discard_deletes_injected_files(void **state)
{
	sluice_storage *st = entropy_memory();
	sluice_checkpoint_storage *cs = cs_on(st, "memory://t/" KEY "/ck");
	sluice_stream_handle *h[3];
	sluice_location *loc = NULL;
	int i;

	(void)state;
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 3), 0);
	for (i = 0; i < 3; i++)
		h[i] = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, "abc");
	assert_int_equal(list_all(st, "memory://t").files, 3);
	/* abort: the files lie outside chk-3/, discard finds them */
	assert_int_equal(sluice_location_discard(loc), 0);
	assert_int_equal(list_all(st, "memory://t").files, 0);
	for (i = 0; i < 3; i++)
		sluice_stream_handle_free(h[i]);
	sluice_checkpoint_storage_free(cs);
	sluice_storage_free(st);
}

static void test_entropy__savepoint_handles_are_absolute(void **state)
{
	sluice_storage *st = entropy_memory();
	sluice_checkpoint_storage *cs = cs_on(st, "memory://t/ck");
	sluice_location *loc = NULL;
	sluice_stream_handle *h;

	(void)state;
	assert_int_equal(sluice_savepoint_location_new(&loc, cs, NULL), 0);
	assert_non_null(strstr(sluice_location_dir(loc), "memory://t/sp/"));
	assert_null(strstr(sluice_location_dir(loc), KEY));
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, "sp state");
	/* a relative name could not carry the random prefix */
	assert_int_equal(h->kind, SLUICE_HANDLE_FILE);
	assert_injected(h->path, "memory://t/", h->path + 15);
	assert_non_null(strstr(h->path, "/sp/savepoint-012345-"));
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
	/* without the key in the checkpoint dir nothing changes */
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 1), 0);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, "plain");
	assert_memory_equal(
		h->path, "memory://t/ck/" JOB_ID "/chk-1/",
		strlen("memory://t/ck/" JOB_ID "/chk-1/"));
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
	sluice_storage_free(st);
}

static void test_storage__remove_many_one_by_one_skips_missing(void **state)
{
	sluice_storage *st = NULL;
	const char *paths[] = {
		"memory://r/a", "memory://r/missing", "memory://r/d/b"};

	(void)state;
	assert_int_equal(sluice_storage_memory_new(&st), 0);
	assert_null(st->remove_many);
	assert_int_equal(sluice_storage_write_file(st, paths[0], "1", 1), 0);
	assert_int_equal(sluice_storage_write_file(st, paths[2], "2", 1), 0);
	assert_int_equal(sluice_storage_remove_many(st, paths, 3), 0);
	assert_int_equal(list_all(st, "memory://r").files, 0);
	assert_int_equal(sluice_storage_remove_many(st, NULL, 0), 0);
	sluice_storage_free(st);
}

/* ---- a job run with entropy ------------------------------------------- */

typedef struct sink_wait {
	sink_out *sink;
	int64_t n;
	notes *notes;
	int calls;
} sink_wait;

static int gate_and_checkpoint(void *arg)
{
	sink_wait *w = arg;
	int64_t n;

	pthread_mutex_lock(&w->sink->lock);
	n = w->sink->records;
	pthread_mutex_unlock(&w->sink->lock);
	return n >= w->n && LOAD(&w->notes->complete_calls) >= w->calls;
}

static sluice_config *job_conf(void)
{
	sluice_config *c;

	assert_int_equal(sluice_config_new(&c), 0);
	rf_conf_set(
		c, "execution.checkpointing.dir",
		"memory://entropy-run/" KEY "/ck");
	rf_conf_set(c, "execution.checkpointing.data-inline-threshold", "0");
	rf_conf_set(c, "execution.checkpointing.interval", "100 ms");
	rf_conf_set(
		c, "execution.checkpointing.externalized-checkpoint-retention",
		"RETAIN_ON_CANCELLATION");
	assert_int_equal(sluice_config_validate(c), 0);
	return c;
}

typedef struct layout {
	int metadata, data, bad;
} layout;

/* _metadata only under memory://entropy-run/ck/, state files only under
 * memory://entropy-run/<4 alphanumerics>/ck/. */
static int classify(const char *path, uint64_t size, void *ctx)
{
	static const char root[] = "memory://entropy-run/";
	layout *l = ctx;
	const char *rest = path + strlen(root);

	(void)size;
	if (strncmp(path, root, strlen(root)) || strstr(path, KEY))
		l->bad++;
	else if (!strncmp(rest, "ck/", 3) && strstr(rest, "/_metadata"))
		l->metadata++;
	else if (alnum_run(rest, 4) && !strncmp(rest + 4, "/ck/", 4))
		l->data++;
	else
		l->bad++;
	return 0;
}

static void test_entropy__job_checkpoints_and_restores(void **state)
{
	sluice_storage *mem = NULL;
	sluice_run_options ro;
	sluice_run_result res;
	sluice_run *run;
	sluice_config *c;
	pipeline pl;
	rf_ticker t;
	layout l = {0, 0, 0};

	(void)state;
	/* the process-wide memory storage, given an entropy key */
	assert_int_equal(
		sluice_storage_for_uri(&mem, "memory://entropy-run"), 0);
	mem->entropy_key = KEY;
	mem->entropy_length = 4;
	rf_ticker_start(&t);
	memset(&ro, 0, sizeof(ro));
	ro.version = SLUICE_RUN_OPTIONS_VERSION;
	ro.clock = &t.clock.base;
	ro.seed = 7;
	ro.restore_latest = 1;
	rt_pipeline_build(&pl, 2, 2, 2, 600, SLUICE_JOB_EXACTLY_ONCE);
	pl.src.gate = 200;
	c = job_conf();
	assert_int_equal(sluice_run_start(&run, pl.job, c, &ro), 0);
	assert_true(rt_wait_for(
		gate_and_checkpoint,
		&(sink_wait){&pl.sink, 200 * 2, &pl.notes, 2}));
	sluice_run_free(run); /* the process goes away */
	assert_int_equal(
		sluice_storage_list(mem, "memory://entropy-run", classify, &l),
		0);
	assert_true(l.metadata >= 1);
	assert_true(l.data >= 1);
	assert_int_equal(l.bad, 0);
	STORE(&pl.src.gate, pl.src.n);
	assert_int_equal(sluice_run_start(&run, pl.job, c, &ro), 0);
	assert_int_equal(sluice_run_wait(run, RT_WAIT_MS, &res), 0);
	assert_int_equal(res.state, SLUICE_JOB_STATE_FINISHED);
	assert_true(res.restored_id >= 1);
	assert_int_equal(LOAD(&pl.src.restored), 2);
	rt_sink_expect_exact(&pl.sink, &pl.src, 2);
	sluice_run_free(run);
	sluice_config_free(c);
	rt_pipeline_free(&pl);
	rf_ticker_stop(&t);
	assert_int_equal(
		sluice_storage_remove_tree(mem, "memory://entropy-run"), 0);
	mem->entropy_key = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entropy__paths_inject_and_remove_the_key),
		cmocka_unit_test(
			test_entropy__state_files_random_metadata_plain),
		cmocka_unit_test(test_entropy__discard_deletes_injected_files),
		cmocka_unit_test(test_entropy__savepoint_handles_are_absolute),
		cmocka_unit_test(
			test_storage__remove_many_one_by_one_skips_missing),
		cmocka_unit_test(test_entropy__job_checkpoints_and_restores),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
