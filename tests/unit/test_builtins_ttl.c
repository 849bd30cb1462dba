/*
 * Time-driven built-ins.  The file source in follow mode picks up lines
 * appended to a file (a partial last line only once its newline arrives)
 * and new files.  Time-to-live of the dedup and join operators on a
 * manual clock.  Scripted
 * gated sources release records step by step; a marker key that always
 * passes (dedup) or always matches (join) tells the test when every record
 * before it was processed, so the clock is advanced between steps without
 * races: a key seen within the TTL is dropped (dedup) / joined (join), one
 * older than the TTL counts as new / is not joined.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/builtins.h"
#include "jobs_harness.h"
#include "runtime_harness.h"
#include "util/alloc.h"

typedef struct script {
	const char *const *kv; /* key, value, key, value, ... */
	int n;                 /* records */
	int gate;              /* atomic: records released */
} script;

static int script_init(sluice_ctx *ctx, int restored)
{
	(void)restored;
	return (sluice_ctx_set_local(ctx, calloc(1, sizeof(int))),
		sluice_ctx_local(ctx) ? 0 : SLUICE_ENOMEM);
}

static int script_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	script *s = sluice_ctx_arg(ctx);
	int *pos = sluice_ctx_local(ctx), gate = LOAD(&s->gate), rc;

	for (; *pos < gate && *pos < s->n; (*pos)++) {
		const char *k = s->kv[*pos * 2], *v = s->kv[*pos * 2 + 1];
		sluice_record rec = {
			SLUICE_SLICE(k, strlen(k)), SLUICE_SLICE(v, strlen(v)),
			0};

		if ((rc = sluice_ctx_emit(ctx, &rec)) < 0)
			return rc;
	}
	*status = *pos >= s->n ? SLUICE_SOURCE_END : SLUICE_SOURCE_IDLE;
	return 0;
}

static const sluice_operator script_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.initialize_state = script_init,
	.poll = script_poll,
	.close = rt_free_local,
};

typedef struct collect {
	pthread_mutex_t lock;
	char lines[64][64];
	int n;
} collect;

static int collect_process(sluice_ctx *ctx, int input, const sluice_record *r)
{
	collect *c = sluice_ctx_arg(ctx);

	(void)input;
	pthread_mutex_lock(&c->lock);
	if (c->n < 64)
		snprintf(
			c->lines[c->n++], 64, "%.*s", (int)r->value.len,
			(const char *)r->value.data);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static const sluice_operator collect_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = collect_process,
};

typedef struct seen_wait {
	collect *c;
	const char *line;
} seen_wait;

static int has_line(void *arg)
{
	seen_wait *w = arg;
	int i, found = 0;

	pthread_mutex_lock(&w->c->lock);
	for (i = 0; i < w->c->n; i++)
		found |= !strcmp(w->c->lines[i], w->line);
	pthread_mutex_unlock(&w->c->lock);
	return found;
}

static void
release(sluice_job *job,
	script *s,
	int upto,
	collect *c,
	const char *marker_line)
{
	seen_wait w = {c, marker_line};

	STORE(&s->gate, upto);
	sluice_job_wakeup(job);
	assert_true(rt_wait_for(has_line, &w));
}

static void test_dedup__forgets_a_key_after_its_ttl(void **state)
{
	static const char *const kv[] = {"a",  "a1", "m1", "m1", "a",  "a2",
					 "m2", "m2", "a",  "a3", "m3", "m3"};
	script s = {kv, 6, 0};
	sluice__ttl_arg ttl = {100};
	collect c = {.n = 0};
	sluice_manual_clock clk;
	sluice_job_options opts = {0};
	sluice_vertex_spec spec;
	sluice_job *job;
	jh_coord *co;
	sluice_job_responder r;
	int a, b, d;

	(void)state;
	pthread_mutex_init(&c.lock, NULL);
	sluice_manual_clock_init(&clk, 5000);
	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.clock = &clk.base;
	assert_int_equal(sluice_job_new(&job, "dedup-ttl", &opts), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "src", NULL, 1, 0,
				    &script_op,           &s};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_OPERATOR, "dedup", NULL, 1, 0,
				    &sluice__dedup_op,      &ttl};
	assert_int_equal(sluice_job_add(job, &b, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "out", NULL, 1, 0,
				    &collect_op,        &c};
	assert_int_equal(sluice_job_add(job, &d, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, a, b, 0, SLUICE_EDGE_KEY_BY), 0);
	assert_int_equal(
		sluice_job_connect(job, b, d, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_validate(job), 0);
	co = jh_coord_new(job, 0);
	r = jh_coord_responder(co);
	assert_int_equal(sluice_job_start(job, &r, NULL), 0);

	release(job, &s, 2, &c, "m1"); /* a first seen at 5000 */
	sluice_manual_clock_advance(&clk, 99);
	release(job, &s, 4, &c, "m2"); /* 99 ms later: duplicate */
	sluice_manual_clock_advance(&clk, 1);
	release(job, &s, 6, &c, "m3"); /* 100 ms: forgotten, new */
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	sluice_job_stop(job);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.lines[0], "a1");
	assert_string_equal(c.lines[1], "m1");
	assert_string_equal(c.lines[2], "m2");
	assert_string_equal(c.lines[3], "a3");
	assert_string_equal(c.lines[4], "m3");
	jh_coord_free(co);
	sluice_job_free(job);
	pthread_mutex_destroy(&c.lock);
}

static void test_join__state_expires_after_table_exec_state_ttl(void **state)
{
	/* a record before its marker on the same channel was processed
	 * when the marker joined */
	static const char *const left[] = {"b", "L",  "a", "1",  "m1",
					   "x", "m2", "x", "m3", "x"};
	static const char *const right[] = {"b", "R",  "m1", "y",  "a",
					    "2", "m2", "y",  "m3", "y"};
	script l = {left, 5, 0}, rs = {right, 5, 0};
	sluice__ttl_arg *ttl;
	sluice_config *conf;
	collect c = {.n = 0};
	sluice_manual_clock clk;
	sluice_job_options opts = {0};
	sluice_vertex_spec spec;
	sluice_job *job;
	jh_coord *co;
	sluice_job_responder r;
	sluice__stage st = {0};
	sluice__jobspec js = {0};
	int a, b, j, d, i;

	(void)state;
	/* the join's TTL comes from table.exec.state.ttl */
	assert_int_equal(sluice_config_new(&conf), 0);
	assert_int_equal(
		sluice_config_set(
			conf, "table.exec.state.ttl", "50 ms",
			SLUICE_CONFIG_JOB),
		0);
	st.type = (char *)"join";
	st.kind = SLUICE__STAGE_OPERATOR;
	js.file = (char *)"t";
	assert_int_equal(
		sluice__builtin_join.configure((void **)&ttl, &js, &st, conf),
		0);
	assert_int_equal(ttl->ttl_ms, 50);
	sluice_config_free(conf);

	pthread_mutex_init(&c.lock, NULL);
	sluice_manual_clock_init(&clk, 7000);
	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.clock = &clk.base;
	assert_int_equal(sluice_job_new(&job, "join-ttl", &opts), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "l", NULL, 1, 0,
				    &script_op,           &l};
	assert_int_equal(sluice_job_add(job, &a, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "r", NULL, 1, 0,
				    &script_op,           &rs};
	assert_int_equal(sluice_job_add(job, &b, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_OPERATOR2, "join", NULL, 1, 0,
				    &sluice__join_op,        ttl};
	assert_int_equal(sluice_job_add(job, &j, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "out", NULL, 1, 0,
				    &collect_op,        &c};
	assert_int_equal(sluice_job_add(job, &d, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, a, j, 0, SLUICE_EDGE_KEY_BY), 0);
	assert_int_equal(
		sluice_job_connect(job, b, j, 1, SLUICE_EDGE_KEY_BY), 0);
	assert_int_equal(
		sluice_job_connect(job, j, d, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_validate(job), 0);
	co = jh_coord_new(job, 0);
	r = jh_coord_responder(co);
	assert_int_equal(sluice_job_start(job, &r, NULL), 0);

	/* within the TTL: b joins; then left a at 7000 */
	STORE(&l.gate, 3);
	release(job, &rs, 2, &c, "m1,x,y");
	sluice_manual_clock_advance(&clk, 50); /* left a expired */
	STORE(&l.gate, 4);
	release(job, &rs, 4, &c, "m2,x,y");
	STORE(&l.gate, 5);
	release(job, &rs, 5, &c, "m3,x,y");
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	sluice_job_stop(job);
	for (i = 0; i < c.n; i++)
		if (!strncmp(c.lines[i], "a,", 2))
			fail_msg("expired state joined: %s", c.lines[i]);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.lines[0], "b,L,R");
	jh_coord_free(co);
	sluice_job_free(job);
	sluice__free(ttl);
	pthread_mutex_destroy(&c.lock);
}

static void append(const char *path, const char *text)
{
	FILE *f = fopen(path, "ab");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
}

static void
test_file_source__follow_reads_appended_lines_and_new_files(void **state)
{
	sluice__file_source_arg src = {NULL, 1, 2};
	collect c = {.n = 0};
	sluice_vertex_spec spec;
	sluice_job *job;
	char dir[64], a[128], b[128];
	seen_wait w = {&c, NULL};
	int s, o;

	(void)state;
	pthread_mutex_init(&c.lock, NULL);
	jh_tmpdir(dir);
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	append(a, "x\ny");
	src.path = dir;
	assert_int_equal(sluice_job_new(&job, "follow", NULL), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE,    "src", NULL, 1, 0,
				    &sluice__file_source_op, &src};
	assert_int_equal(sluice_job_add(job, &s, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "out", NULL, 1, 0,
				    &collect_op,        &c};
	assert_int_equal(sluice_job_add(job, &o, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, s, o, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_start(job, NULL, NULL), 0);
	w.line = "x";
	assert_true(rt_wait_for(has_line, &w));
	append(a, "\nz\n");
	w.line = "z";
	assert_true(rt_wait_for(has_line, &w));
	append(b, "w\n");
	w.line = "w";
	assert_true(rt_wait_for(has_line, &w));
	assert_int_equal(sluice_job_state_get(job), SLUICE_JOB_STATE_RUNNING);
	sluice_job_stop(job);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.lines[0], "x");
	assert_string_equal(c.lines[1], "y");
	assert_string_equal(c.lines[2], "z");
	assert_string_equal(c.lines[3], "w");
	sluice_job_free(job);
	jh_rmtree(dir);
	pthread_mutex_destroy(&c.lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_file_source__follow_reads_appended_lines_and_new_files),
		cmocka_unit_test(test_dedup__forgets_a_key_after_its_ttl),
		cmocka_unit_test(
			test_join__state_expires_after_table_exec_state_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
