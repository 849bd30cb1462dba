/*
 * The exactly-once file sink and replayable sources under failures:
 * records become visible (non-hidden files) only when the checkpoint that
 * pre-committed them completes; a job failing mid-run and restarted from
 * its newest complete checkpoint — sequence or file source, keyed count,
 * file sink — commits every key's counts exactly 1..n (no gaps, no
 * duplicates) and leaves no hidden leftovers; the stdout sink writes one
 * line per record.  File offsets kept as a split list (the in-memory
 * provider here has no union lists) restore at their own parallelism
 * only: at another one the start fails naming the entry.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs/builtins.h"
#include "jobs_harness.h"
#include "runtime_harness.h"
#include "util/error.h"

/* Lines in the hidden pre-committed (.pending) files of `dir`. */
static size_t pending_lines(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512], buf[4096];
	size_t n = 0, len = strlen(".pending"), got, i;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t nl = strlen(e->d_name);
		FILE *f;

		if (e->d_name[0] != '.' || nl < len ||
		    strcmp(e->d_name + nl - len, ".pending"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		assert_non_null(f = fopen(p, "rb"));
		while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
			for (i = 0; i < got; i++)
				n += buf[i] == '\n';
		fclose(f);
	}
	closedir(d);
	return n;
}

static size_t committed_lines(const char *dir)
{
	jh_lines l;
	size_t n;

	jh_read_committed(dir, &l);
	n = l.n;
	jh_lines_release(&l);
	return n;
}

typedef struct acks_wait {
	jh_coord *c;
	int64_t id;
	int n;
} acks_wait;

static int acks_reached(void *arg)
{
	acks_wait *w = arg;

	return jh_coord_acks(w->c, w->id) >= w->n;
}

static void
test_file_sink__commits_only_when_the_checkpoint_completes(void **state)
{
	char dir[64], yaml[512];
	sluice_job_options opts = {0};
	sluice_jobfile *jf;
	sluice_job *job;
	sluice_job_responder r;
	jh_coord *c;
	jh_lines l;
	size_t before, staged, total_staged = 0;
	int rounds = 0;

	(void)state;
	jh_tmpdir(dir);
	snprintf(
		yaml, sizeof(yaml),
		"job: {name: two-phase}\n"
		"pipeline:\n"
		"  - source: sequence\n    count: 50\n    keys: 5\n"
		"  - key-by: key\n"
		"  - operator: count\n"
		"  - sink: file\n    path: %s\n",
		dir);
	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.final_checkpoint = 1;
	assert_int_equal(
		sluice_jobfile_load_string(&jf, yaml, strlen(yaml), "t", NULL),
		0);
	assert_int_equal(sluice_jobfile_build(jf, NULL, &opts, &job), 0);
	c = jh_coord_new(job, 1);
	r = jh_coord_responder(c);
	rt_start_running(job, &r, NULL);
	for (;;) {
		acks_wait w = {c, jh_coord_trigger(c), 3};

		assert_true(rt_wait_for(acks_reached, &w));
		before = committed_lines(dir);
		staged = pending_lines(dir);
		total_staged += staged;
		/* acknowledged but not complete: nothing new is visible */
		assert_int_equal(committed_lines(dir), before);
		assert_int_equal(sluice_job_notify_complete(job, w.id, -1), 0);
		assert_true(
			sluice_job_wait(job, 20) == 0 ||
			committed_lines(dir) == before + staged);
		if (sluice_job_state_get(job) == SLUICE_JOB_STATE_FINISHED)
			break;
		assert_true(++rounds < 200);
	}
	sluice_job_stop(job);
	assert_int_equal(total_staged, 50);
	jh_read_committed(dir, &l);
	jh_expect_exact_counts(&l, 50, 5);
	assert_int_equal(jh_hidden_files(dir), 0);
	jh_lines_release(&l);
	jh_coord_free(c);
	sluice_jobfile_free(jf);
	jh_rmtree(dir);
}

/* A pass-through operator failing when the job-wide record count reaches
 * `fail_at` (0 = never). */
typedef struct failer {
	int64_t seen;    /* atomic */
	int64_t fail_at; /* atomic */
} failer;

static int fail_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	failer *f = sluice_ctx_arg(ctx);
	int64_t at = LOAD(&f->fail_at);

	(void)input;
	if (ADD(&f->seen, 1) == at && at > 0)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"injected failure");
	return sluice_ctx_emit(ctx, rec);
}

static const sluice_operator fail_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = fail_process,
};

/* source -> key-by -> mid -> failer -> file sink, parallelism p. */
static sluice_job *build_chain(
	const sluice_operator *src_op,
	void *src_arg,
	const sluice_operator *mid_op,
	void *mid_arg,
	sluice__file_sink_arg *sink,
	failer *f,
	int p)
{
	sluice_job_options opts = {0};
	sluice_job *job;
	sluice_vertex_spec spec = {0};
	int ids[4], i;
	const sluice_operator *ops[4] = {
		src_op, mid_op, &fail_op, &sluice__file_sink_op};
	void *args[4] = {src_arg, mid_arg, f, sink};
	const sluice_vertex_kind kinds[4] = {
		SLUICE_VERTEX_SOURCE, SLUICE_VERTEX_OPERATOR,
		SLUICE_VERTEX_OPERATOR, SLUICE_VERTEX_SINK};
	const char *uids[4] = {"src", "mid", "fail", "sink"};

	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.buffer_size = 256;
	opts.channel_credits = 2;
	opts.final_checkpoint = 1;
	assert_int_equal(sluice_job_new(&job, "crash", &opts), 0);
	for (i = 0; i < 4; i++) {
		spec = (sluice_vertex_spec){kinds[i], uids[i], NULL,   p,
					    0,        ops[i],  args[i]};
		assert_int_equal(sluice_job_add(job, &ids[i], &spec), 0);
	}
	assert_int_equal(
		sluice_job_connect(job, ids[0], ids[1], 0, SLUICE_EDGE_KEY_BY),
		0);
	for (i = 1; i < 3; i++)
		assert_int_equal(
			sluice_job_connect(
				job, ids[i], ids[i + 1], 0,
				SLUICE_EDGE_FORWARD),
			0);
	assert_int_equal(sluice_job_validate(job), 0);
	return job;
}

typedef struct completed_wait {
	jh_coord *c;
	int n;
} completed_wait;

static int completed_reached(void *arg)
{
	completed_wait *w = arg;

	return jh_coord_completed(w->c) >= w->n;
}

/* Fail the job `failures` times mid-run, restart each time from the
 * newest complete checkpoint, then run to the end. */
static void
run_with_failures(sluice_job *job, failer *f, int failures, int64_t step)
{
	jh_coord *c = jh_coord_new(job, 0);
	sluice_job_responder r = jh_coord_responder(c);
	sluice_job_restore rs;
	int attempt;

	for (attempt = 0; attempt <= failures; attempt++) {
		int last = attempt == failures;
		completed_wait w = {c, jh_coord_completed(c) + 1};

		jh_coord_new_run(c);
		STORE(&f->fail_at, 0);
		if (sluice_job_start(
			    job, &r,
			    jh_coord_restore(c, &rs) == 0 ? &rs : NULL) < 0)
			fail_msg("start: %s", sluice_error_last()->message);
		jh_coord_start_periodic(c, 3);
		if (!last) {
			assert_true(rt_wait_for(completed_reached, &w));
			STORE(&f->fail_at, LOAD(&f->seen) + step);
		}
		assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
		jh_coord_stop_periodic(c);
		if (sluice_job_state_get(job) !=
		    (last ? SLUICE_JOB_STATE_FINISHED
			  : SLUICE_JOB_STATE_FAILED))
			fail_msg(
				"attempt %d ended %d: %s", attempt,
				(int)sluice_job_state_get(job),
				sluice_job_failure(job)
					? sluice_job_failure(job)
					: "");
		sluice_job_stop(job);
	}
	jh_coord_free(c);
}

static void
test_file_sink__exactly_once_across_failures_with_sequence(void **state)
{
	sluice__sequence_arg seq = {6000, 7, 12000};
	sluice__file_sink_arg sink;
	failer f = {0, 0};
	char dir[64];
	jh_lines l;
	sluice_job *job;

	(void)state;
	jh_tmpdir(dir);
	sink.path = dir;
	job = build_chain(
		&sluice__sequence_op, &seq, &sluice__count_op, NULL, &sink, &f,
		2);
	run_with_failures(job, &f, 2, 150);
	sluice_job_free(job);
	jh_read_committed(dir, &l);
	jh_expect_exact_counts(&l, 6000, 7);
	assert_int_equal(jh_hidden_files(dir), 0);
	jh_lines_release(&l);
	jh_rmtree(dir);
}

/* `files` input files in `dir` of `lines` lines "k<n % 7>", n counting
 * over all of them. */
static void write_inputs(const char *dir, int files, int lines)
{
	char p[128];
	int file, i;

	for (file = 0; file < files; file++) {
		FILE *fp;

		snprintf(p, sizeof(p), "%s/in-%d", dir, file);
		assert_non_null(fp = fopen(p, "wb"));
		for (i = 0; i < lines; i++)
			fprintf(fp, "k%d\n", (file * lines + i) % 7);
		fclose(fp);
	}
}

static void
test_file_sink__exactly_once_across_a_failure_with_file_source(void **state)
{
	sluice__file_source_arg src = {NULL, 0, 100};
	sluice__file_sink_arg sink;
	failer f = {0, 0};
	char in[64], out[64];
	jh_lines l;
	sluice_job *job;

	(void)state;
	jh_tmpdir(in);
	jh_tmpdir(out);
	write_inputs(in, 3, 5000);
	src.path = in;
	sink.path = out;
	job = build_chain(
		&sluice__file_source_op, &src, &sluice__count_op, NULL, &sink,
		&f, 2);
	run_with_failures(job, &f, 1, 100);
	sluice_job_free(job);
	jh_read_committed(out, &l);
	jh_expect_exact_counts(&l, 15000, 7);
	assert_int_equal(jh_hidden_files(out), 0);
	jh_lines_release(&l);
	jh_rmtree(in);
	jh_rmtree(out);
}

static void
test_file_source__split_offsets_restore_at_their_parallelism_only(void **st)
{
	sluice__file_source_arg src = {NULL, 0, 100};
	sluice__file_sink_arg sink;
	failer f = {0, 0};
	char in[64], out[64];
	const char *msg;
	sluice_job *a, *b;
	jh_coord *ca, *cb;
	sluice_job_responder ra, rb;
	sluice_job_restore rs;
	completed_wait w;

	(void)st;
	jh_tmpdir(in);
	jh_tmpdir(out);
	write_inputs(in, 12, 2000);
	src.path = in;
	sink.path = out;
	a = build_chain(
		&sluice__file_source_op, &src, &sluice__count_op, NULL, &sink,
		&f, 2);
	ca = jh_coord_new(a, 0);
	ra = jh_coord_responder(ca);
	jh_coord_new_run(ca);
	assert_int_equal(sluice_job_start(a, &ra, NULL), 0);
	jh_coord_start_periodic(ca, 3);
	w = (completed_wait){ca, 1};
	assert_true(rt_wait_for(completed_reached, &w));
	jh_coord_stop_periodic(ca);
	sluice_job_stop(a);
	b = build_chain(
		&sluice__file_source_op, &src, &sluice__count_op, NULL, &sink,
		&f, 3);
	cb = jh_coord_new(b, 0);
	rb = jh_coord_responder(cb);
	jh_coord_new_run(cb);
	assert_int_equal(jh_coord_restore(ca, &rs), 0);
	if (sluice_job_start(b, &rb, &rs) == 0) {
		assert_int_equal(sluice_job_wait(b, RT_WAIT_MS), 0);
		assert_int_equal(
			sluice_job_state_get(b), SLUICE_JOB_STATE_FAILED);
		msg = sluice_job_failure(b);
	} else {
		msg = sluice_error_last()->message;
	}
	assert_non_null(msg);
	assert_non_null(strstr(msg, "file source"));
	assert_non_null(strstr(msg, "of 'file-offsets'"));
	assert_non_null(strstr(msg, "belongs to another subtask"));
	sluice_job_stop(b);
	jh_coord_free(cb);
	jh_coord_free(ca);
	sluice_job_free(b);
	sluice_job_free(a);
	jh_rmtree(in);
	jh_rmtree(out);
}

/* Event-time windows restore their open windows (keyed state plus the
 * list of open keys in operator state): every (key, window) is committed
 * exactly once with its exact count. */
static void test_file_sink__windows_exactly_once_across_failures(void **state)
{
	sluice__sequence_arg seq = {6000, 3, 12000};
	sluice__window_arg win = {100, 1, 0};
	sluice__file_sink_arg sink;
	failer f = {0, 0};
	char dir[64], want[64];
	jh_lines l;
	sluice_job *job;
	size_t i = 0;
	int w, k;

	(void)state;
	jh_tmpdir(dir);
	sink.path = dir;
	job = build_chain(
		&sluice__sequence_op, &seq, &sluice__window_op, &win, &sink, &f,
		1);
	run_with_failures(job, &f, 2, 20);
	sluice_job_free(job);
	jh_read_committed(dir, &l);
	assert_int_equal(l.n, 60 * 3);
	for (k = 0; k < 3; k++) /* sorted: key, then start as text */
		for (w = 0; w < 60; w++) {
			int64_t start = w * 100, n = 0, x;
			size_t j;

			for (x = start; x < start + 100; x++)
				n += x % 3 == k;
			snprintf(
				want, sizeof(want), "k%d,%lld,%lld,%lld", k,
				(long long)start, (long long)start + 100,
				(long long)n);
			for (j = 0; j < l.n; j++)
				if (!strcmp(l.v[j], want))
					break;
			if (j == l.n)
				fail_msg("missing '%s'", want);
			i++;
		}
	assert_int_equal(i, l.n);
	assert_int_equal(jh_hidden_files(dir), 0);
	jh_lines_release(&l);
	jh_rmtree(dir);
}

static void test_stdout_sink__writes_one_line_per_record(void **state)
{
	char path[] = "/tmp/sluice-stdout-XXXXXX", buf[256];
	sluice__sequence_arg seq = {3, 2, 0};
	sluice__stdout_arg out;
	sluice_job *job;
	sluice_vertex_spec spec;
	sluice_job_responder r;
	jh_coord *c;
	int s, k, o;
	ssize_t n;

	(void)state;
	assert_true((out.fd = mkstemp(path)) >= 0);
	assert_int_equal(sluice_job_new(&job, "stdout", NULL), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SOURCE, "s", NULL, 1, 0,
				    &sluice__sequence_op, &seq};
	assert_int_equal(sluice_job_add(job, &s, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_OPERATOR, "c", NULL, 1, 0,
				    &sluice__count_op,      NULL};
	assert_int_equal(sluice_job_add(job, &k, &spec), 0);
	spec = (sluice_vertex_spec){SLUICE_VERTEX_SINK, "o", NULL, 1, 0,
				    &sluice__stdout_op, &out};
	assert_int_equal(sluice_job_add(job, &o, &spec), 0);
	assert_int_equal(
		sluice_job_connect(job, s, k, 0, SLUICE_EDGE_KEY_BY), 0);
	assert_int_equal(
		sluice_job_connect(job, k, o, 0, SLUICE_EDGE_FORWARD), 0);
	assert_int_equal(sluice_job_validate(job), 0);
	c = jh_coord_new(job, 0);
	r = jh_coord_responder(c);
	assert_int_equal(sluice_job_start(job, &r, NULL), 0);
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	assert_int_equal(sluice_job_state_get(job), SLUICE_JOB_STATE_FINISHED);
	sluice_job_stop(job);
	n = pread(out.fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, "k0,1\nk1,1\nk0,2\n");
	close(out.fd);
	unlink(path);
	jh_coord_free(c);
	sluice_job_free(job);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_file_sink__commits_only_when_the_checkpoint_completes),
		cmocka_unit_test(
			test_file_sink__exactly_once_across_failures_with_sequence),
		cmocka_unit_test(
			test_file_sink__exactly_once_across_a_failure_with_file_source),
		cmocka_unit_test(
			test_file_source__split_offsets_restore_at_their_parallelism_only),
		cmocka_unit_test(
			test_file_sink__windows_exactly_once_across_failures),
		cmocka_unit_test(test_stdout_sink__writes_one_line_per_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
