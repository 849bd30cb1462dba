/*
 * Recovery: a crash (fault wrapper + simulated power cut) at every step of
 * writing, committing and retaining a checkpoint leaves either the
 * previous or the new checkpoint complete and discoverable, on the memory
 * and on the file storage; and discovery falls back past a checkpoint
 * with a deleted, truncated or corrupted file or `_metadata`, saying why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/sys/metadata.h"
#include "sluice/sys/storage.h"
#include "util/alloc.h"

#define JOB "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"

typedef struct world {
	sluice_storage *inner; /* survives the crash */
	char base[256];        /* checkpoint dir */
	char job_dir[320];
	int is_file;
} world;

/* kind: 0 memory, 1 file, 2 memory behaving like an object store (no
 * rename: `_metadata` is written last, directly). */
static void world_init(world *w, int kind)
{
	int file = kind == 1;

	memset(w, 0, sizeof(*w));
	w->is_file = file;
	if (file) {
		char tmpl[] = "/tmp/sluice-crash-XXXXXX";
		assert_non_null(mkdtemp(tmpl));
		snprintf(w->base, sizeof(w->base), "%s", tmpl);
		w->inner = sluice_storage_file_get();
	} else {
		assert_int_equal(sluice_storage_memory_new(&w->inner), 0);
		snprintf(w->base, sizeof(w->base), "memory://crash");
		if (kind == 2) {
			w->inner->caps = 0;
			w->inner->rename = NULL;
		}
	}
	snprintf(w->job_dir, sizeof(w->job_dir), "%s/%s", w->base, JOB);
}

static void world_free(world *w)
{
	if (w->is_file) {
		assert_int_equal(
			sluice_storage_remove_tree(w->inner, w->base), 0);
		sluice_storage_rmdir(w->inner, w->base);
	} else {
		sluice_storage_free(w->inner);
	}
}

static sluice_stream_handle *
stream(sluice_location *loc, sluice_scope scope, size_t n, int fill, int *error)
{
	uint8_t *buf = malloc(n);
	sluice_ostream *os = NULL;
	sluice_stream_handle *h = NULL;

	memset(buf, fill, n);
	if ((*error = sluice_location_open_stream(&os, loc, scope)) == 0) {
		if ((*error = sluice_ostream_write(os, buf, n)) < 0)
			sluice_ostream_abort(os);
		else
			*error = sluice_ostream_close(os, &h);
	}
	free(buf);
	return h;
}

/*
 * Write checkpoint `id` through `st`: an exclusive file, an inline stream,
 * a new shared file and (id > 1) a placeholder for the previous one; then
 * commit and hand it to `store`.  Returns 0, or the first error, with
 * `*committed` = 1 once finalize succeeded.
 */
static int run_checkpoint(
	sluice_storage *st,
	world *w,
	sluice_completed_store *store,
	int64_t id,
	int *committed)
{
	sluice_storage_options o;
	sluice_checkpoint_storage *cs = NULL;
	sluice_location *loc = NULL;
	sluice_checkpoint_meta *m = NULL;
	sluice_operator_state *op;
	sluice_keyed_handle k = {0, 0, NULL, NULL};
	sluice_stream_handle *h;
	char key[16], prev[16];
	int error;

	*committed = 0;
	sluice_storage_options_init(&o);
	o.checkpoint_dir = w->base;
	o.storage = st;
	snprintf(key, sizeof(key), "sst-%lld", (long long)id);
	snprintf(prev, sizeof(prev), "sst-%lld", (long long)id - 1);
	if ((error = sluice_checkpoint_storage_new(&cs, &o, JOB)) < 0 ||
	    (error = sluice_checkpoint_location_new(&loc, cs, id)) < 0 ||
	    (error = sluice_checkpoint_meta_new(&m, id)) < 0 ||
	    (error = sluice_checkpoint_meta_add_operator(
		     &op, m, "op", "op", 2, 128)) < 0)
		goto done;
	k.stream = stream(loc, SLUICE_SCOPE_EXCLUSIVE, 25000, (int)id, &error);
	if (error < 0 ||
	    (error = sluice_subtask_add_keyed(
		     &op->subtasks[0], sluice_keyed_handle_dup(&k))) < 0)
		goto done;
	sluice_stream_handle_free(k.stream);
	k.stream = stream(loc, SLUICE_SCOPE_EXCLUSIVE, 100, (int)id, &error);
	if (error < 0 ||
	    (error = sluice_subtask_add_keyed(
		     &op->subtasks[1], sluice_keyed_handle_dup(&k))) < 0)
		goto done;
	h = stream(loc, SLUICE_SCOPE_SHARED, 22000, 's', &error);
	if (error < 0 ||
	    (error = sluice_subtask_add_shared(&op->subtasks[0], key, h)) < 0)
		goto done;
	if (id > 1 && (error = sluice_subtask_add_shared(
			       &op->subtasks[0], prev,
			       sluice_stream_handle_new(
				       SLUICE_HANDLE_PLACEHOLDER, prev, 22000,
				       0, NULL))) < 0)
		goto done;
	if ((error = sluice_location_finalize(loc, m)) < 0)
		goto done;
	*committed = 1;
	error = sluice_completed_store_add(store, m, sluice_location_dir(loc));
	m = NULL;
done:
	sluice_stream_handle_free(k.stream);
	sluice_checkpoint_meta_free(m);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
	return error;
}

/* One crash run: chk-1 complete, chk-2 written with a fault at op `k`. */
static long crash_run(int file, long k, int64_t *found)
{
	sluice_fault_options fo = {SLUICE_FAULT_ANY, k, 1, 0};
	sluice_shared_registry *reg;
	sluice_completed_store *store;
	sluice_checkpoint_meta *m = NULL;
	sluice_storage *fs;
	char *dir = NULL;
	int committed, error;
	long count;
	world w;

	world_init(&w, file);
	assert_int_equal(sluice_shared_registry_new(&reg, w.inner), 0);
	assert_int_equal(
		sluice_completed_store_new(&store, w.inner, reg, 1), 0);
	assert_int_equal(run_checkpoint(w.inner, &w, store, 1, &committed), 0);
	sluice_completed_store_free(store);
	sluice_shared_registry_free(reg);

	assert_int_equal(sluice_fault_storage_new(&fs, w.inner, &fo), 0);
	assert_int_equal(sluice_shared_registry_new(&reg, fs), 0);
	assert_int_equal(sluice_completed_store_new(&store, fs, reg, 1), 0);
	/* the restarted job knows chk-1 */
	assert_int_equal(
		sluice_checkpoint_discover(
			&m, &dir, w.inner, w.job_dir, NULL, NULL),
		0);
	assert_int_equal(sluice_completed_store_add(store, m, dir), 0);
	sluice_free_bytes(dir);
	error = run_checkpoint(fs, &w, store, 2, &committed);
	assert_true(error == 0 || sluice_fault_storage_fired(fs));
	count = sluice_fault_storage_count(fs);
	assert_int_equal(sluice_fault_power_cut(fs), 0);

	assert_int_equal(
		sluice_checkpoint_discover(
			&m, &dir, w.inner, w.job_dir, NULL, NULL),
		0);
	*found = m->checkpoint_id;
	if (committed)
		assert_int_equal(*found, 2); /* acknowledged ⇒ durable */
	assert_int_equal(
		sluice_checkpoint_verify(w.inner, dir, m, NULL, NULL), 0);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
	sluice_completed_store_free(store);
	sluice_shared_registry_free(reg);
	sluice_storage_free(fs);
	world_free(&w);
	return count;
}

static void crash_everywhere(int file)
{
	int64_t found;
	long n, k, saw_old = 0, saw_new = 0;

	n = crash_run(file, 0, &found);
	assert_int_equal(found, 2);
	assert_true(n > 15);
	for (k = 1; k <= n; k++) {
		crash_run(file, k, &found);
		assert_true(found == 1 || found == 2);
		saw_old += found == 1;
		saw_new += found == 2;
	}
	print_message(
		"%s: %ld steps, %ld kept chk-1, %ld reached chk-2\n",
		file == 1 ? "file"
		: file    ? "object store"
			  : "memory",
		n, saw_old, saw_new);
	/* both outcomes happen: early crashes keep 1, late ones have 2 */
	assert_true(saw_old > 0 && saw_new > 0);
}

static void test_recovery__crash_at_every_step_memory(void **state)
{
	(void)state;
	crash_everywhere(0);
}

static void test_recovery__crash_at_every_step_file(void **state)
{
	(void)state;
	crash_everywhere(1);
}

static void test_recovery__crash_at_every_step_object_store(void **state)
{
	(void)state;
	crash_everywhere(2);
}

/* Two retained checkpoints on memory storage; returns chk-2's meta. */
static sluice_checkpoint_meta *two_checkpoints(
	world *w, sluice_completed_store **store, sluice_shared_registry **reg)
{
	const sluice_checkpoint_meta *m;
	int committed;

	world_init(w, 0);
	assert_int_equal(sluice_shared_registry_new(reg, w->inner), 0);
	assert_int_equal(
		sluice_completed_store_new(store, w->inner, *reg, 2), 0);
	assert_int_equal(run_checkpoint(w->inner, w, *store, 1, &committed), 0);
	assert_int_equal(run_checkpoint(w->inner, w, *store, 2, &committed), 0);
	m = sluice_completed_store_latest(*store, NULL);
	return (sluice_checkpoint_meta *)m;
}

typedef struct reasons {
	char text[4][512];
	int n;
} reasons;

static void note(const char *line, void *ctx)
{
	reasons *r = ctx;

	if (r->n < 4)
		snprintf(r->text[r->n++], 512, "%s", line);
}

static void expect_fallback(world *w, const char *why)
{
	sluice_checkpoint_meta *m;
	reasons r;
	char *dir;

	memset(&r, 0, sizeof(r));
	assert_int_equal(
		sluice_checkpoint_discover(
			&m, &dir, w->inner, w->job_dir, note, &r),
		0);
	assert_int_equal(m->checkpoint_id, 1);
	assert_int_equal(r.n, 1);
	assert_memory_equal(r.text[0], "chk-2: ", 7);
	if (!strstr(r.text[0], why))
		fail_msg("reason '%s' lacks '%s'", r.text[0], why);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
}

static void damage(world *w, const char *path, int how)
{
	uint8_t *data;
	size_t len;

	assert_int_equal(
		sluice_storage_read_all(&data, &len, w->inner, path), 0);
	if (how == 0)
		assert_int_equal(sluice_storage_remove(w->inner, path), 0);
	else if (how == 1)
		assert_int_equal(
			sluice_storage_write_file(
				w->inner, path, data, len / 2),
			0);
	else {
		data[len / 3] ^= 0x20;
		assert_int_equal(
			sluice_storage_write_file(w->inner, path, data, len),
			0);
	}
	sluice_free_bytes(data);
}

static void fallback_case(int target, int how, const char *why)
{
	sluice_completed_store *store;
	sluice_shared_registry *reg;
	sluice_checkpoint_meta *m;
	char path[512];
	world w;

	m = two_checkpoints(&w, &store, &reg);
	if (target == 0)
		snprintf(path, sizeof(path), "%s/chk-2/_metadata", w.job_dir);
	else if (target == 1)
		snprintf(
			path, sizeof(path), "%s",
			m->operators[0].subtasks[0].keyed[0]->stream->path);
	else
		snprintf(
			path, sizeof(path), "%s",
			m->operators[0].subtasks[0].shared[0].handle->path);
	damage(&w, path, how);
	expect_fallback(&w, why);
	sluice_completed_store_free(store);
	sluice_shared_registry_free(reg);
	world_free(&w);
}

static void test_recovery__falls_back_past_a_deleted_state_file(void **state)
{
	(void)state;
	fallback_case(1, 0, "missing");
	fallback_case(2, 0, "missing");
}

static void test_recovery__falls_back_past_a_truncated_state_file(void **state)
{
	(void)state;
	fallback_case(1, 1, "size 12500, expected 25000");
}

static void test_recovery__falls_back_past_a_flipped_byte_in_state(void **state)
{
	(void)state;
	fallback_case(1, 2, "checksum");
	fallback_case(2, 2, "checksum");
}

static void test_recovery__falls_back_past_a_damaged_metadata(void **state)
{
	(void)state;
	fallback_case(0, 2, "_metadata: checksum mismatch");
	fallback_case(0, 1, "_metadata: truncated");
	fallback_case(
		0, 0, "Cannot find meta data file '_metadata' in directory");
}

static void test_recovery__nothing_to_restore_is_not_found(void **state)
{
	sluice_checkpoint_meta *m;
	world w;

	(void)state;
	world_init(&w, 0);
	assert_int_equal(
		sluice_checkpoint_discover(
			&m, NULL, w.inner, w.job_dir, NULL, NULL),
		SLUICE_ENOTFOUND);
	assert_string_equal(
		sluice_error_last()->message,
		"No completed checkpoint available");
	assert_int_equal(
		sluice_checkpoint_load(
			&m, NULL, w.inner, "memory://crash/nope"),
		SLUICE_ENOTFOUND);
	assert_string_equal(
		sluice_error_last()->message,
		"Cannot find checkpoint or savepoint file/directory "
		"'memory://crash/nope' on file system 'memory'.");
	world_free(&w);
}

static void test_recovery__load_accepts_directory_or_metadata_file(void **state)
{
	sluice_completed_store *store;
	sluice_shared_registry *reg;
	sluice_checkpoint_meta *m;
	char path[512], *dir;
	world w;

	(void)state;
	two_checkpoints(&w, &store, &reg);
	snprintf(path, sizeof(path), "%s/chk-2/_metadata", w.job_dir);
	assert_int_equal(sluice_checkpoint_load(&m, &dir, w.inner, path), 0);
	assert_int_equal(m->checkpoint_id, 2);
	snprintf(path, sizeof(path), "%s/chk-2", w.job_dir);
	assert_string_equal(dir, path);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
	assert_int_equal(sluice_checkpoint_load(&m, NULL, w.inner, path), 0);
	assert_int_equal(m->checkpoint_id, 2);
	sluice_checkpoint_meta_free(m);
	sluice_completed_store_free(store);
	sluice_shared_registry_free(reg);
	world_free(&w);
}

/* Write, commit, retain and rediscover with the k-th allocation failing. */
static void
test_recovery__allocation_failure_anywhere_is_an_error_not_a_crash(void **state)
{
	sluice_shared_registry *reg;
	sluice_completed_store *store;
	sluice_checkpoint_meta *m;
	int committed, rc;
	long k;
	world w;

	(void)state;
	for (k = 0;; k++) {
		world_init(&w, 0);
		assert_int_equal(sluice_shared_registry_new(&reg, w.inner), 0);
		assert_int_equal(
			sluice_completed_store_new(&store, w.inner, reg, 1), 0);
		assert_int_equal(
			run_checkpoint(w.inner, &w, store, 1, &committed), 0);
		sluice__alloc_fail_after(k);
		rc = run_checkpoint(w.inner, &w, store, 2, &committed);
		if (rc == 0)
			rc = sluice_checkpoint_discover(
				&m, NULL, w.inner, w.job_dir, NULL, NULL);
		sluice__alloc_fail_after(-1);
		if (rc == 0) {
			assert_int_equal(m->checkpoint_id, 2);
			sluice_checkpoint_meta_free(m);
		} else {
			assert_int_equal(rc, SLUICE_ENOMEM);
		}
		sluice_completed_store_free(store);
		sluice_shared_registry_free(reg);
		world_free(&w);
		if (rc == 0)
			break;
	}
	assert_true(k > 20);
}

static void
test_recovery__discovery_ignores_names_that_are_not_checkpoints(void **state)
{
	sluice_completed_store *store;
	sluice_shared_registry *reg;
	sluice_checkpoint_meta *m;
	char path[512];
	const char *junk[] = {
		"chk-x/_metadata",
		"chk-/f",
		"chk-99x/f",
		"chk--5/f",
		"savepoint-0a0a0a-000000000000/_metadata",
		"chk-1000"};
	size_t i;
	world w;

	(void)state;
	two_checkpoints(&w, &store, &reg);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", w.job_dir, junk[i]);
		assert_int_equal(
			sluice_storage_write_file(w.inner, path, "junk", 4), 0);
	}
	assert_int_equal(
		sluice_checkpoint_discover(
			&m, NULL, w.inner, w.job_dir, NULL, NULL),
		0);
	assert_int_equal(m->checkpoint_id, 2);
	sluice_checkpoint_meta_free(m);
	sluice_completed_store_free(store);
	sluice_shared_registry_free(reg);
	world_free(&w);
}

/* Write a savepoint through `st`; `dir` gets its directory (if created). */
static int
run_savepoint(sluice_storage *st, world *w, char *dir, int *committed)
{
	sluice_storage_options o;
	sluice_checkpoint_storage *cs = NULL;
	sluice_location *loc = NULL;
	sluice_checkpoint_meta *m = NULL;
	sluice_operator_state *op;
	sluice_keyed_handle k = {0, 0, NULL, NULL};
	char target[300];
	int error;

	*committed = 0;
	snprintf(target, sizeof(target), "%s/savepoints", w->base);
	sluice_storage_options_init(&o);
	o.checkpoint_dir = w->base;
	o.savepoint_dir = target;
	o.storage = st;
	if ((error = sluice_checkpoint_storage_new(&cs, &o, JOB)) < 0 ||
	    (error = sluice_savepoint_location_new(&loc, cs, NULL)) < 0)
		goto done;
	snprintf(dir, 512, "%s", sluice_location_dir(loc));
	if ((error = sluice_checkpoint_meta_new(&m, 7)) < 0 ||
	    (error = sluice_checkpoint_meta_add_operator(
		     &op, m, "op", "op", 1, 128)) < 0)
		goto done;
	m->props.kind = SLUICE_SNAPSHOT_SAVEPOINT;
	k.stream = stream(loc, SLUICE_SCOPE_EXCLUSIVE, 40000, 9, &error);
	if (error < 0 ||
	    (error = sluice_subtask_add_keyed(
		     &op->subtasks[0], sluice_keyed_handle_dup(&k))) < 0)
		goto done;
	if ((error = sluice_location_finalize(loc, m)) == 0)
		*committed = 1;
done:
	sluice_stream_handle_free(k.stream);
	sluice_checkpoint_meta_free(m);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
	return error;
}

static void test_recovery__savepoint_is_never_torn(void **state)
{
	sluice_checkpoint_meta *m;
	sluice_storage *fs;
	char dir[512], *mdir;
	long k, n = 0, complete = 0;
	int committed, kind;
	world w;

	(void)state;
	for (kind = 0; kind <= 2; kind++)
		for (k = 0; k == 0 || k <= n; k++) {
			sluice_fault_options fo = {SLUICE_FAULT_ANY, k, 1, 0};
			world_init(&w, kind);
			dir[0] = '\0';
			assert_int_equal(
				sluice_fault_storage_new(&fs, w.inner, &fo), 0);
			run_savepoint(fs, &w, dir, &committed);
			if (k == 0)
				n = sluice_fault_storage_count(fs);
			assert_int_equal(sluice_fault_power_cut(fs), 0);
			if (dir[0] && sluice_checkpoint_load(
					      &m, &mdir, w.inner, dir) == 0) {
				assert_int_equal(
					sluice_checkpoint_verify(
						w.inner, mdir, m, NULL, NULL),
					0);
				sluice_checkpoint_meta_free(m);
				sluice_free_bytes(mdir);
				complete++;
			} else {
				assert_false(
					committed); /* acknowledged ⇒ durable */
			}
			sluice_storage_free(fs);
			world_free(&w);
		}
	assert_true(n > 5 && complete > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recovery__crash_at_every_step_memory),
		cmocka_unit_test(test_recovery__crash_at_every_step_file),
		cmocka_unit_test(
			test_recovery__crash_at_every_step_object_store),
		cmocka_unit_test(test_recovery__savepoint_is_never_torn),
		cmocka_unit_test(
			test_recovery__falls_back_past_a_deleted_state_file),
		cmocka_unit_test(
			test_recovery__falls_back_past_a_truncated_state_file),
		cmocka_unit_test(
			test_recovery__falls_back_past_a_flipped_byte_in_state),
		cmocka_unit_test(
			test_recovery__falls_back_past_a_damaged_metadata),
		cmocka_unit_test(
			test_recovery__nothing_to_restore_is_not_found),
		cmocka_unit_test(
			test_recovery__load_accepts_directory_or_metadata_file),
		cmocka_unit_test(
			test_recovery__allocation_failure_anywhere_is_an_error_not_a_crash),
		cmocka_unit_test(
			test_recovery__discovery_ignores_names_that_are_not_checkpoints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
