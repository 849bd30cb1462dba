/*
 * The coordinator over real file checkpoint storage: tasks write state
 * streams into chk-<n> by id, completion writes a `_metadata` that loads and
 * verifies, retention deletes subsumed checkpoints and reports the last
 * subsumed id, aborts delete the pending directory, savepoints stay;
 * incremental handles: shared files registered and recorded as shared
 * references, placeholders replaced by the registry's handle, the format
 * native, new shared files of an aborted checkpoint deleted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "checkpoint/ckstore.h"
#include "test_coordinator_fakes.h"

#define JOB "00112233445566778899aabbccddeeff"

typedef struct env {
	fake *f;
	char dir[64];
	char job_dir[128];
	sluice_checkpoint_storage *cs;
	sluice__ckstore *ks;
} env;

static void env_start(env *e, int32_t num_retained)
{
	static const sluice__coord_tasks tasks_tmpl = {
		1, NULL, f_state, f_trigger, f_complete, f_aborted, f_fail_job};
	sluice__ckstore_vertex vx[2] = {
		{"src-uid", "source", 2, 128}, {"map-uid", "map", 2, 128}};
	sluice__coord_tasks tasks = tasks_tmpl;
	sluice__coord_storage storage;
	sluice_storage_options so;
	sluice__coord_options o;

	e->f = fake_new();
	e->f->s.num_retained = num_retained;
	snprintf(e->dir, sizeof(e->dir), "/tmp/sluice-ckstore-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->job_dir, sizeof(e->job_dir), "%s/%s", e->dir, JOB);
	sluice_storage_options_init(&so);
	so.checkpoint_dir = e->dir;
	so.savepoint_dir = e->dir;
	so.inline_threshold = 16; /* so state goes to files */
	assert_int_equal(sluice_checkpoint_storage_new(&e->cs, &so, JOB), 0);
	assert_int_equal(
		sluice__ckstore_new(
			&e->ks, e->cs, &e->f->s, JOB, &e->f->clock.base, vx, 2),
		0);
	sluice__ckstore_vtable(e->ks, &storage);
	tasks.ctx = e->f;
	memset(&o, 0, sizeof(o));
	o.settings = &e->f->s;
	o.job_id = JOB;
	o.vertices = e->f->v;
	o.n_vertices = e->f->nv;
	o.clock = &e->f->clock.base;
	o.tasks = &tasks;
	o.storage = &storage;
	assert_int_equal(sluice__coord_new(&e->f->c, &o), 0);
}

static void env_free(env *e)
{
	char cmd[256];

	fake_free(e->f);
	sluice__ckstore_free(e->ks);
	sluice_checkpoint_storage_free(e->cs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	assert_int_equal(system(cmd), 0);
}

/* A subtask's ack with one keyed state file written into chk-<id>. */
static sluice__subtask_snapshot *
keyed_ack(env *e, int64_t id, int32_t subtask, const char *bytes)
{
	sluice__subtask_snapshot *s = snap(100);
	sluice_keyed_handle *kh = calloc(1, sizeof(*kh));
	sluice_ostream *os;

	assert_int_equal(
		sluice__ckstore_open_stream(
			&os, e->ks, id, SLUICE_SCOPE_EXCLUSIVE),
		0);
	assert_int_equal(sluice_ostream_write(os, bytes, strlen(bytes)), 0);
	assert_non_null(kh);
	kh->start_key_group = subtask * 64;
	kh->num_key_groups = 64;
	kh->offsets = sluice__calloc(64, sizeof(uint64_t));
	assert_non_null(kh->offsets);
	assert_int_equal(sluice_ostream_close(os, &kh->stream), 0);
	s->keyed = sluice__calloc(1, sizeof(*s->keyed));
	/* the snapshot owns its handles through sluice__free */
	s->keyed[0] = sluice_keyed_handle_dup(kh);
	s->n_keyed = 1;
	sluice_keyed_handle_free(kh);
	return s;
}

static void ack_files(env *e, int64_t id)
{
	int32_t v, i;

	for (v = 0; v < 2; v++)
		for (i = 0; i < 2; i++) {
			sluice__task_ref r = ref(e->f, v, i);

			sluice__coord_ack(
				e->f->c, &r, id,
				v == 1 ? keyed_ack(
						 e, id, i,
						 "state of a keyed subtask")
				       : snap(0));
		}
}

static int exists(const char *job_dir, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", job_dir, name);
	return stat(p, &st) == 0;
}

static void test_ckstore__completed_checkpoint_loads_and_verifies(void **st)
{
	sluice_checkpoint_meta *m = NULL;
	char *dir = NULL;
	env e;

	(void)st;
	env_start(&e, 1);
	trigger_ckpt(e.f);
	assert_true(exists(e.job_dir, "chk-1"));
	ack_files(&e, 1);
	assert_int_equal(e.f->n_results, 1);
	assert_int_equal(e.f->results[0].reason, SLUICE_CFR_NONE);
	assert_true(exists(e.job_dir, "chk-1/_metadata"));
	assert_int_equal(
		sluice_checkpoint_discover(
			&m, &dir, sluice_checkpoint_storage_backend(e.cs),
			e.job_dir, NULL, NULL),
		0);
	assert_int_equal(m->checkpoint_id, 1);
	assert_int_equal(m->num_operators, 2);
	assert_string_equal(m->operators[1].uid, "map-uid");
	assert_int_equal(m->operators[1].max_parallelism, 128);
	assert_int_equal(m->operators[1].subtasks[1].num_keyed, 1);
	assert_int_equal(
		m->operators[1].subtasks[1].keyed[0]->start_key_group, 64);
	assert_string_equal(m->job_id, JOB);
	assert_int_equal(m->trigger_ms, T0);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
	env_free(&e);
}

static void test_ckstore__retention_deletes_subsumed_and_reports_it(void **st)
{
	env e;
	size_t i;

	(void)st;
	env_start(&e, 1);
	trigger_ckpt(e.f);
	ack_files(&e, 1);
	trigger_ckpt(e.f);
	ack_files(&e, 2);
	assert_int_equal(e.f->n_results, 2);
	assert_int_equal(e.f->results[1].reason, SLUICE_CFR_NONE);
	assert_false(exists(e.job_dir, "chk-1"));
	assert_true(exists(e.job_dir, "chk-2/_metadata"));
	/* notify complete of checkpoint 2 carries last subsumed id 1 */
	for (i = 0; i < e.f->n_completes; i++)
		if (e.f->completes[i].id == 2)
			assert_int_equal(e.f->completes[i].arg, 1);
	assert_int_equal(
		sluice_completed_store_count(sluice__ckstore_completed(e.ks)),
		1);
	env_free(&e);
}

static void test_ckstore__declined_checkpoint_leaves_no_directory(void **st)
{
	sluice__task_ref r;
	sluice_ostream *os;
	env e;

	(void)st;
	env_start(&e, 2);
	trigger_ckpt(e.f);
	r = ref(e.f, 1, 0);
	sluice__coord_ack(e.f->c, &r, 1, keyed_ack(&e, 1, 0, "some state"));
	decline(e.f, 1, 1, 1, SLUICE_CFR_CHECKPOINT_DECLINED);
	assert_int_equal(
		e.f->results[0].reason, SLUICE_CFR_CHECKPOINT_DECLINED);
	assert_false(exists(e.job_dir, "chk-1"));
	/* a late task cannot open a stream in the aborted checkpoint */
	assert_int_equal(
		sluice__ckstore_open_stream(
			&os, e.ks, 1, SLUICE_SCOPE_EXCLUSIVE),
		SLUICE_ENOTFOUND);
	env_free(&e);
}

static void test_ckstore__savepoint_is_kept_outside_the_store(void **st)
{
	sluice_checkpoint_meta *m = NULL;
	env e;

	(void)st;
	env_start(&e, 1);
	trigger_sp(e.f, 0);
	ack_files(&e, 1);
	assert_int_equal(e.f->results[0].reason, SLUICE_CFR_NONE);
	assert_true(e.f->results[0].savepoint);
	assert_non_null(strstr(e.f->results[0].path, "/savepoint-001122-"));
	assert_int_equal(
		sluice_checkpoint_load(
			&m, NULL, sluice_checkpoint_storage_backend(e.cs),
			e.f->results[0].path),
		0);
	assert_int_equal(m->props.kind, SLUICE_SNAPSHOT_SAVEPOINT);
	sluice_checkpoint_meta_free(m);
	assert_int_equal(
		sluice_completed_store_count(sluice__ckstore_completed(e.ks)),
		0);
	env_free(&e);
}

/* A stream of `scope` in checkpoint `id` holding `bytes`. */
static sluice_stream_handle *
stream_of(env *e, int64_t id, sluice_scope scope, const char *bytes)
{
	sluice_stream_handle *h = NULL;
	sluice_ostream *os;

	assert_int_equal(sluice__ckstore_open_stream(&os, e->ks, id, scope), 0);
	assert_int_equal(sluice_ostream_write(os, bytes, strlen(bytes)), 0);
	assert_int_equal(sluice_ostream_close(os, &h), 0);
	assert_non_null(h);
	return h;
}

/* An ack with an incremental handle: `reuse` (may be NULL) referenced by
 * a placeholder as 000001.sst, a new shared SST 00000<id>.sst, a private
 * MANIFEST; `*fresh` gets a copy of the new shared file's handle. */
static sluice__subtask_snapshot *
inc_ack(env *e,
	int64_t id,
	const sluice_stream_handle *reuse,
	sluice_stream_handle **fresh)
{
	sluice__subtask_snapshot *s = snap(100);
	sluice_incremental_handle *h =
		sluice_incremental_handle_new("b1", id, 64, 64);
	char name[32];

	assert_non_null(h);
	if (reuse)
		assert_int_equal(
			sluice_incremental_handle_add(
				h, 1, "000001.sst",
				sluice_stream_handle_new(
					SLUICE_HANDLE_PLACEHOLDER, reuse->path,
					reuse->size, reuse->checksum, NULL)),
			0);
	snprintf(name, sizeof(name), "00000%d.sst", (int)id);
	*fresh = stream_of(e, id, SLUICE_SCOPE_SHARED, "an sst file's bytes");
	assert_int_equal(
		sluice_incremental_handle_add(
			h, 1, name, sluice_stream_handle_dup(*fresh)),
		0);
	assert_int_equal(
		sluice_incremental_handle_add(
			h, 0, "MANIFEST-000001",
			stream_of(e, id, SLUICE_SCOPE_EXCLUSIVE, "manifest")),
		0);
	h->metadata = stream_of(e, id, SLUICE_SCOPE_EXCLUSIVE, "meta-data");
	s->incremental = sluice__calloc(1, sizeof(*s->incremental));
	s->incremental[0] = h;
	s->n_incremental = 1;
	return s;
}

static void ack_incremental(
	env *e,
	int64_t id,
	const sluice_stream_handle *reuse,
	sluice_stream_handle **fresh)
{
	int32_t v, i;

	for (v = 0; v < 2; v++)
		for (i = 0; i < 2; i++) {
			sluice__task_ref r = ref(e->f, v, i);

			sluice__coord_ack(
				e->f->c, &r, id,
				v == 1 && i == 1 ? inc_ack(e, id, reuse, fresh)
						 : snap(0));
		}
}

/* A shared upload whose snapshot then failed is deleted through the
 * stream factory's discard (sluice_run's calls this); a file already
 * gone is no error. */
static void test_ckstore__discarded_upload_is_deleted(void **st)
{
	sluice_stream_handle *h;
	struct stat sb;
	env e;

	(void)st;
	env_start(&e, 1);
	trigger_ckpt(e.f);
	h = stream_of(&e, 1, SLUICE_SCOPE_SHARED, "an sst nobody will name");
	assert_int_equal(h->kind, SLUICE_HANDLE_FILE);
	assert_int_equal(stat(h->path, &sb), 0);
	sluice__ckstore_discard_stream(e.ks, h);
	assert_int_not_equal(stat(h->path, &sb), 0);
	sluice__ckstore_discard_stream(e.ks, h); /* already gone: quiet */
	sluice_stream_handle_free(h);
	env_free(&e);
}

static void test_ckstore__incremental_shared_files(void **st)
{
	sluice_stream_handle *a = NULL, *b = NULL, *c = NULL;
	const sluice_subtask_state *sub;
	sluice_checkpoint_meta *m = NULL;
	struct stat sb;
	sluice__task_ref r;
	env e;

	(void)st;
	env_start(&e, 1);
	trigger_ckpt(e.f);
	ack_incremental(&e, 1, NULL, &a);
	trigger_ckpt(e.f);
	ack_incremental(&e, 2, a, &b);
	assert_int_equal(e.f->n_results, 2);
	assert_int_equal(e.f->results[1].reason, SLUICE_CFR_NONE);
	assert_int_equal(
		sluice_checkpoint_discover(
			&m, NULL, sluice_checkpoint_storage_backend(e.cs),
			e.job_dir, NULL, NULL),
		0);
	assert_int_equal(m->checkpoint_id, 2);
	assert_int_equal(m->props.format, SLUICE_FORMAT_NATIVE);
	sub = &m->operators[1].subtasks[1];
	assert_int_equal(sub->num_incremental, 1);
	assert_int_equal(sub->num_shared, 2);
	/* the placeholder became checkpoint 1's real file, still there */
	assert_int_equal(
		sub->incremental[0]->shared_files[0].handle->kind,
		SLUICE_HANDLE_FILE);
	assert_string_equal(
		sub->incremental[0]->shared_files[0].handle->path, a->path);
	assert_string_equal(sub->shared[0].key, a->path);
	assert_int_equal(stat(a->path, &sb), 0);
	assert_int_equal(
		sluice_checkpoint_verify(
			sluice_checkpoint_storage_backend(e.cs), e.job_dir, m,
			NULL, NULL),
		0);
	sluice_checkpoint_meta_free(m);
	/* checkpoint 3 is declined: its new shared file goes, a and b stay */
	trigger_ckpt(e.f);
	r = ref(e.f, 1, 1);
	sluice__coord_ack(e.f->c, &r, 3, inc_ack(&e, 3, b, &c));
	decline(e.f, 1, 0, 3, SLUICE_CFR_CHECKPOINT_DECLINED);
	assert_int_equal(stat(c->path, &sb), -1);
	assert_int_equal(stat(a->path, &sb), 0);
	assert_int_equal(stat(b->path, &sb), 0);
	sluice_stream_handle_free(a);
	sluice_stream_handle_free(b);
	sluice_stream_handle_free(c);
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_ckstore__completed_checkpoint_loads_and_verifies),
		cmocka_unit_test(
			test_ckstore__retention_deletes_subsumed_and_reports_it),
		cmocka_unit_test(
			test_ckstore__declined_checkpoint_leaves_no_directory),
		cmocka_unit_test(
			test_ckstore__savepoint_is_kept_outside_the_store),
		cmocka_unit_test(test_ckstore__incremental_shared_files),
		cmocka_unit_test(test_ckstore__discarded_upload_is_deleted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
