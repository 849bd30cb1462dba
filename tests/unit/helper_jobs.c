/*
 * Implementation of jobs_harness.h (helpers of the built-in tests).
 * Linked into every unit test binary; everything it exports is prefixed
 * jh_.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs_harness.h"
#include "runtime_harness.h"

void jh_tmpdir(char *out)
{
	strcpy(out, "/tmp/sluice-jobs-XXXXXX");
	assert_non_null(mkdtemp(out));
}

void jh_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4096];
	struct stat st;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			jh_rmtree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void push(jh_lines *l, const char *s, size_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		assert_non_null(l->v = realloc(l->v, l->cap * sizeof(*l->v)));
	}
	assert_non_null(l->v[l->n] = malloc(len + 1));
	memcpy(l->v[l->n], s, len);
	l->v[l->n][len] = '\0';
	l->n++;
}

static void read_lines(const char *path, jh_lines *out)
{
	FILE *f = fopen(path, "rb");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	assert_non_null(f);
	while ((n = getline(&line, &cap, f)) > 0) {
		assert_true(line[n - 1] == '\n'); /* whole lines only */
		push(out, line, (size_t)n - 1);
	}
	free(line);
	fclose(f);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void jh_read_committed(const char *dir, jh_lines *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4096];

	memset(out, 0, sizeof(*out));
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		read_lines(p, out);
	}
	closedir(d);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
}

void jh_lines_release(jh_lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int jh_hidden_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") &&
		    strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

void jh_expect_exact_counts(const jh_lines *l, int64_t count, int keys)
{
	uint8_t *seen = calloc((size_t)(keys * (count / keys + 2)), 1);
	int64_t width = count / keys + 2, c;
	size_t i;
	int k;

	assert_non_null(seen);
	for (i = 0; i < l->n; i++) {
		long long cc;

		if (sscanf(l->v[i], "k%d,%lld", &k, &cc) != 2 || k < 0 ||
		    k >= keys || cc < 1 || cc >= width)
			fail_msg("bad line '%s'", l->v[i]);
		if (seen[k * width + cc])
			fail_msg("duplicate line '%s'", l->v[i]);
		seen[k * width + cc] = 1;
	}
	for (k = 0; k < keys; k++) {
		int64_t n = count / keys + (k < count % keys ? 1 : 0);

		for (c = 1; c <= n; c++)
			if (!seen[k * width + c])
				fail_msg(
					"key k%d: count %lld missing", k,
					(long long)c);
		if (seen[k * width + n + 1])
			fail_msg("key k%d: count beyond %lld", k, (long long)n);
	}
	assert_int_equal(l->n, (size_t)count);
	free(seen);
}

/* ---- fake coordinator ------------------------------------------------ */

#define JH_SLOTS 16

typedef struct jh_slot {
	int64_t id; /* 0 = free */
	int acks;
	sluice_task_snapshot **snaps;
} jh_slot;

struct jh_coord {
	pthread_mutex_t lock;
	sluice_job *job;
	int n, manual;
	jh_slot slots[JH_SLOTS];
	uint8_t *finished;
	sluice_task_snapshot **last; /* newest ack of every task */
	sluice_task_snapshot **restorable;
	int64_t restorable_id, completed_id;
	int num_completed;
	int64_t acks_by_id[4096];
	pthread_t th;
	int run;         /* atomic */
	int64_t next_id; /* atomic */
	int interval_ms;
};

static void snaps_free(sluice_task_snapshot **s, int n)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < n; i++)
		sluice_task_snapshot_free(s[i]);
	free(s);
}

static void slot_clear(jh_coord *c, jh_slot *s)
{
	snaps_free(s->snaps, c->n);
	memset(s, 0, sizeof(*s));
}

static jh_slot *slot_of(jh_coord *c, int64_t id)
{
	jh_slot *oldest = &c->slots[0];
	int i;

	for (i = 0; i < JH_SLOTS; i++)
		if (c->slots[i].id == id)
			return &c->slots[i];
	for (i = 0; i < JH_SLOTS; i++)
		if (c->slots[i].id < oldest->id)
			oldest = &c->slots[i];
	slot_clear(c, oldest);
	oldest->id = id;
	assert_non_null(oldest->snaps = calloc((size_t)c->n, sizeof(void *)));
	return oldest;
}

/* With the lock held: complete slot `s` when every task acked or
 * finished; returns 1 when it completed. */
static int try_complete(jh_coord *c, jh_slot *s)
{
	int t, i;

	for (t = 0; t < c->n; t++)
		if (!s->snaps[t] && !c->finished[t])
			return 0;
	for (t = 0; t < c->n; t++) /* finished: their final state */
		if (!s->snaps[t] && c->last[t] &&
		    (s->snaps[t] = sluice_task_snapshot_dup(c->last[t])))
			s->acks++;
	if (s->id <= c->completed_id) {
		slot_clear(c, s);
		return 0;
	}
	c->completed_id = s->id;
	c->num_completed++;
	if (s->acks == c->n) {
		snaps_free(c->restorable, c->n);
		c->restorable = s->snaps;
		c->restorable_id = s->id;
		s->snaps = NULL;
	}
	for (i = 0; i < JH_SLOTS; i++)
		if (c->slots[i].id && c->slots[i].id <= c->completed_id)
			slot_clear(c, &c->slots[i]);
	return 1;
}

static void
jh_ack(void *ctx,
       const sluice_task_info *task,
       int64_t id,
       sluice_task_snapshot *snap)
{
	jh_coord *c = ctx;
	jh_slot *s;
	int done = 0;

	pthread_mutex_lock(&c->lock);
	if (id > 0 && id < 4096)
		c->acks_by_id[id]++;
	if (id <= c->completed_id) {
		sluice_task_snapshot_free(snap);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	sluice_task_snapshot_free(c->last[task->index]);
	c->last[task->index] = sluice_task_snapshot_dup(snap);
	s = slot_of(c, id);
	if (s->snaps[task->index])
		sluice_task_snapshot_free(s->snaps[task->index]);
	else
		s->acks++;
	s->snaps[task->index] = snap;
	done = try_complete(c, s);
	pthread_mutex_unlock(&c->lock);
	if (done && !c->manual)
		sluice_job_notify_complete(c->job, id, -1);
}

static void jh_decline(
	void *ctx,
	const sluice_task_info *task,
	int64_t id,
	sluice_failure_reason reason,
	const char *message)
{
	jh_coord *c = ctx;
	int i;

	(void)task;
	(void)reason;
	(void)message;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < JH_SLOTS; i++)
		if (c->slots[i].id == id)
			slot_clear(c, &c->slots[i]);
	pthread_mutex_unlock(&c->lock);
}

static void jh_failed(void *ctx, const sluice_task_info *task, const char *m)
{
	(void)ctx;
	(void)task;
	(void)m;
}

static void jh_finished(void *ctx, const sluice_task_info *task)
{
	jh_coord *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->finished[task->index] = 1;
	pthread_mutex_unlock(&c->lock);
}

jh_coord *jh_coord_new(sluice_job *job, int manual)
{
	jh_coord *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	pthread_mutex_init(&c->lock, NULL);
	c->job = job;
	c->manual = manual;
	c->n = sluice_job_task_count(job);
	assert_true(c->n > 0);
	assert_non_null(c->finished = calloc((size_t)c->n, 1));
	assert_non_null(c->last = calloc((size_t)c->n, sizeof(*c->last)));
	c->next_id = 1;
	return c;
}

void jh_coord_new_run(jh_coord *c)
{
	int i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < JH_SLOTS; i++)
		slot_clear(c, &c->slots[i]);
	memset(c->finished, 0, (size_t)c->n);
	for (i = 0; i < c->n; i++) {
		sluice_task_snapshot_free(c->last[i]);
		c->last[i] = NULL;
	}
	pthread_mutex_unlock(&c->lock);
}

void jh_coord_free(jh_coord *c)
{
	jh_coord_new_run(c);
	snaps_free(c->restorable, c->n);
	free(c->last);
	free(c->finished);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

sluice_job_responder jh_coord_responder(jh_coord *c)
{
	sluice_job_responder r = {SLUICE_RESPONDER_VERSION,
				  c,
				  jh_ack,
				  jh_decline,
				  jh_failed,
				  jh_finished,
				  NULL};

	return r;
}

int64_t jh_coord_trigger(jh_coord *c)
{
	sluice_checkpoint_options opts;
	int64_t id = ADD(&c->next_id, 1) - 1;

	memset(&opts, 0, sizeof(opts));
	(void)sluice_job_trigger_checkpoint(
		c->job, id, sluice_clock_wall_ms(sluice_clock_system()), &opts);
	return id;
}

static void *periodic_main(void *arg)
{
	jh_coord *c = arg;
	int i;

	while (LOAD(&c->run)) {
		jh_coord_trigger(c);
		for (i = 0; i < c->interval_ms && LOAD(&c->run); i++)
			rt_pause_1ms();
	}
	return NULL;
}

void jh_coord_start_periodic(jh_coord *c, int interval_ms)
{
	c->interval_ms = interval_ms;
	STORE(&c->run, 1);
	assert_int_equal(pthread_create(&c->th, NULL, periodic_main, c), 0);
}

void jh_coord_stop_periodic(jh_coord *c)
{
	STORE(&c->run, 0);
	pthread_join(c->th, NULL);
}

int jh_coord_completed(jh_coord *c)
{
	int n;

	pthread_mutex_lock(&c->lock);
	n = c->num_completed;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int jh_coord_acks(jh_coord *c, int64_t id)
{
	int n;

	pthread_mutex_lock(&c->lock);
	n = id > 0 && id < 4096 ? (int)c->acks_by_id[id] : 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int jh_coord_restore(jh_coord *c, sluice_job_restore *out)
{
	memset(out, 0, sizeof(*out));
	if (!c->restorable)
		return -1;
	out->checkpoint_id = c->restorable_id;
	out->tasks = (const sluice_task_snapshot *const *)c->restorable;
	out->num_tasks = (size_t)c->n;
	return 0;
}

int jh_run_yaml(const char *yaml, void *clock)
{
	sluice_job_options opts = {0};
	sluice_jobfile *jf;
	sluice_job *job;
	sluice_job_responder r;
	jh_coord *c;
	int state;

	opts.version = SLUICE_JOB_OPTIONS_VERSION;
	opts.clock = clock;
	opts.buffer_size = 256;
	opts.channel_credits = 2;
	opts.final_checkpoint = 1;
	if (sluice_jobfile_load_string(
		    &jf, yaml, strlen(yaml), "t.yaml", NULL) < 0)
		fail_msg("load: %s", sluice_error_last()->message);
	assert_int_equal(sluice_jobfile_build(jf, NULL, &opts, &job), 0);
	c = jh_coord_new(job, 0);
	r = jh_coord_responder(c);
	assert_int_equal(sluice_job_start(job, &r, NULL), 0);
	jh_coord_start_periodic(c, 2);
	assert_int_equal(sluice_job_wait(job, RT_WAIT_MS), 0);
	jh_coord_stop_periodic(c);
	state = (int)sluice_job_state_get(job);
	if (state != SLUICE_JOB_STATE_FINISHED)
		fprintf(stderr, "job ended %d: %s\n", state,
			sluice_job_failure(job) ? sluice_job_failure(job) : "");
	sluice_job_stop(job);
	jh_coord_free(c);
	sluice_jobfile_free(jf);
	return state;
}
