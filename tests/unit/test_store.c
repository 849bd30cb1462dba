/*
 * Completed-checkpoint store and shared-state registry: retention and
 * subsumption (spec §5.5), reference counting of shared files over many
 * incremental checkpoints (§6.3), and externalized retention on
 * termination.
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

#define JOB "00112233445566778899aabbccddeeff"
#define JD  "memory://ck/" JOB

typedef struct fx {
	sluice_storage *mem;
	sluice_checkpoint_storage *cs;
	sluice_shared_registry *reg;
	sluice_completed_store *store;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	sluice_storage_options o;

	assert_non_null(f);
	assert_int_equal(sluice_storage_memory_new(&f->mem), 0);
	sluice_storage_options_init(&o);
	o.checkpoint_dir = "memory://ck";
	o.savepoint_dir = "memory://sp";
	o.storage = f->mem;
	assert_int_equal(sluice_checkpoint_storage_new(&f->cs, &o, JOB), 0);
	assert_int_equal(sluice_shared_registry_new(&f->reg, f->mem), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	sluice_completed_store_free(f->store);
	sluice_shared_registry_free(f->reg);
	sluice_checkpoint_storage_free(f->cs);
	sluice_storage_free(f->mem);
	free(f);
	return 0;
}

static void new_store(fx *f, int32_t retained)
{
	assert_int_equal(
		sluice_completed_store_new(&f->store, f->mem, f->reg, retained),
		0);
}

static sluice_stream_handle *
big_stream(sluice_location *loc, sluice_scope scope, char fill)
{
	static char buf[30000];
	sluice_ostream *os;
	sluice_stream_handle *h;

	memset(buf, fill, sizeof(buf));
	assert_int_equal(sluice_location_open_stream(&os, loc, scope), 0);
	assert_int_equal(sluice_ostream_write(os, buf, sizeof(buf)), 0);
	assert_int_equal(sluice_ostream_close(os, &h), 0);
	assert_int_equal(
		h->kind, scope == SLUICE_SCOPE_SHARED ||
					 !sluice_location_is_savepoint(loc)
				 ? SLUICE_HANDLE_FILE
				 : SLUICE_HANDLE_RELATIVE);
	return h;
}

/*
 * Complete checkpoint `id` of kind `kind` with one exclusive file and, for
 * incremental ones, a new shared file "sst-<id>" plus placeholders for the
 * two previous ones.  Returns the location dir in `dir`.
 */
static void complete(
	fx *f,
	int64_t id,
	sluice_snapshot_kind kind,
	sluice_retention ret,
	int incremental,
	char *dir)
{
	sluice_checkpoint_meta *m;
	sluice_operator_state *op;
	sluice_location *loc;
	sluice_keyed_handle *k = calloc(1, sizeof(*k));
	char key[32];
	int64_t j;

	if (kind == SLUICE_SNAPSHOT_SAVEPOINT ||
	    kind == SLUICE_SNAPSHOT_SYNC_SAVEPOINT)
		assert_int_equal(
			sluice_savepoint_location_new(&loc, f->cs, NULL), 0);
	else
		assert_int_equal(
			sluice_checkpoint_location_new(&loc, f->cs, id), 0);
	assert_int_equal(sluice_checkpoint_meta_new(&m, id), 0);
	m->props.kind = kind;
	m->props.retention = ret;
	assert_int_equal(
		sluice_checkpoint_meta_add_operator(&op, m, "op", "op", 1, 128),
		0);
	k->num_key_groups = 0;
	k->stream = big_stream(loc, SLUICE_SCOPE_EXCLUSIVE, (char)id);
	assert_int_equal(
		sluice_subtask_add_keyed(
			&op->subtasks[0], sluice_keyed_handle_dup(k)),
		0);
	sluice_keyed_handle_free(k);
	for (j = id - 2; incremental && j < id; j++) {
		if (j < 1)
			continue;
		snprintf(key, sizeof(key), "sst-%lld", (long long)j);
		assert_int_equal(
			sluice_subtask_add_shared(
				&op->subtasks[0], key,
				sluice_stream_handle_new(
					SLUICE_HANDLE_PLACEHOLDER, key, 30000,
					0, NULL)),
			0);
	}
	if (incremental) {
		snprintf(key, sizeof(key), "sst-%lld", (long long)id);
		assert_int_equal(
			sluice_subtask_add_shared(
				&op->subtasks[0], key,
				big_stream(loc, SLUICE_SCOPE_SHARED, 's')),
			0);
	}
	assert_int_equal(sluice_location_finalize(loc, m), 0);
	snprintf(dir, 256, "%s", sluice_location_dir(loc));
	assert_int_equal(sluice_completed_store_add(f->store, m, dir), 0);
	sluice_location_free(loc);
}

static int has_metadata(fx *f, const char *dir)
{
	char p[300];

	snprintf(p, sizeof(p), "%s/_metadata", dir);
	return sluice_storage_exists(f->mem, p);
}

typedef struct cnt {
	int n;
} cnt;

static int count(const char *p, uint64_t s, void *ctx)
{
	(void)p;
	(void)s;
	((cnt *)ctx)->n++;
	return 0;
}

static int files_under(fx *f, const char *dir)
{
	cnt c = {0};

	assert_int_equal(sluice_storage_list(f->mem, dir, count, &c), 0);
	return c.n;
}

static void test_store__keeps_num_retained_and_discards_older(void **state)
{
	fx *f = *state;
	char dirs[11][256];
	int64_t i;

	new_store(f, 3);
	for (i = 1; i <= 10; i++)
		complete(
			f, i, SLUICE_SNAPSHOT_CHECKPOINT, SLUICE_RETAIN_NONE, 0,
			dirs[i]);
	assert_int_equal(sluice_completed_store_count(f->store), 3);
	assert_int_equal(
		sluice_completed_store_get(f->store, 0, NULL)->checkpoint_id,
		8);
	assert_int_equal(
		sluice_completed_store_latest(f->store, NULL)->checkpoint_id,
		10);
	for (i = 1; i <= 7; i++)
		assert_int_equal(files_under(f, dirs[i]), 0);
	for (i = 8; i <= 10; i++) {
		assert_int_equal(has_metadata(f, dirs[i]), 1);
		assert_int_equal(files_under(f, dirs[i]), 2);
	}
}

static void test_store__num_retained_zero_means_one(void **state)
{
	fx *f = *state;
	char d[3][256];

	new_store(f, 0);
	complete(f, 1, SLUICE_SNAPSHOT_CHECKPOINT, SLUICE_RETAIN_NONE, 0, d[1]);
	complete(f, 2, SLUICE_SNAPSHOT_CHECKPOINT, SLUICE_RETAIN_NONE, 0, d[2]);
	assert_int_equal(sluice_completed_store_count(f->store), 1);
	assert_int_equal(has_metadata(f, d[1]), 0);
}

static void test_store__savepoints_are_subsumed_but_never_deleted(void **state)
{
	fx *f = *state;
	char d[5][256];

	new_store(f, 1);
	complete(f, 1, SLUICE_SNAPSHOT_CHECKPOINT, SLUICE_RETAIN_NONE, 0, d[1]);
	complete(f, 2, SLUICE_SNAPSHOT_SAVEPOINT, SLUICE_RETAIN_NONE, 0, d[2]);
	complete(f, 3, SLUICE_SNAPSHOT_CHECKPOINT, SLUICE_RETAIN_NONE, 0, d[3]);
	complete(f, 4, SLUICE_SNAPSHOT_CHECKPOINT, SLUICE_RETAIN_NONE, 0, d[4]);
	assert_int_equal(sluice_completed_store_count(f->store), 1);
	assert_int_equal(has_metadata(f, d[1]), 0);
	assert_int_equal(has_metadata(f, d[2]), 1);
	assert_int_equal(files_under(f, d[2]), 2);
	assert_int_equal(has_metadata(f, d[3]), 0);
	assert_int_equal(has_metadata(f, d[4]), 1);
}

static void test_store__most_recent_real_checkpoint_is_always_kept(void **state)
{
	fx *f = *state;
	char d[4][256];

	new_store(f, 1);
	complete(f, 1, SLUICE_SNAPSHOT_CHECKPOINT, SLUICE_RETAIN_NONE, 0, d[1]);
	complete(f, 2, SLUICE_SNAPSHOT_SAVEPOINT, SLUICE_RETAIN_NONE, 0, d[2]);
	/* Over num-retained, but chk-1 is the newest real checkpoint. */
	assert_int_equal(sluice_completed_store_count(f->store), 2);
	assert_int_equal(has_metadata(f, d[1]), 1);
	/* A stop-with-savepoint subsumes it. */
	complete(
		f, 3, SLUICE_SNAPSHOT_SYNC_SAVEPOINT, SLUICE_RETAIN_NONE, 0,
		d[3]);
	assert_int_equal(sluice_completed_store_count(f->store), 1);
	assert_int_equal(
		sluice_completed_store_latest(f->store, NULL)->checkpoint_id,
		3);
	assert_int_equal(has_metadata(f, d[1]), 0);
	assert_int_equal(has_metadata(f, d[2]), 1);
}

static int
shared_exists(fx *f, const sluice_checkpoint_meta *m, const char *key)
{
	uint32_t i;
	const sluice_subtask_state *s = &m->operators[0].subtasks[0];

	for (i = 0; i < s->num_shared; i++)
		if (!strcmp(s->shared[i].key, key) &&
		    s->shared[i].handle->kind == SLUICE_HANDLE_FILE)
			return sluice_storage_exists(
				f->mem, s->shared[i].handle->path);
	return -1;
}

static void
test_registry__shared_file_lives_while_a_retained_checkpoint_uses_it(
	void **state)
{
	fx *f = *state;
	sluice_checkpoint_meta *metas[31];
	char d[256], key[32];
	int64_t n, k;

	new_store(f, 2);
	for (n = 1; n <= 30; n++) {
		const sluice_checkpoint_meta *latest;
		uint8_t *bytes;
		size_t len;
		complete(
			f, n, SLUICE_SNAPSHOT_CHECKPOINT, SLUICE_RETAIN_NONE, 1,
			d);
		latest = sluice_completed_store_latest(f->store, NULL);
		assert_int_equal(
			sluice_metadata_encode(&bytes, &len, latest), 0);
		assert_int_equal(
			sluice_metadata_decode(&metas[n], bytes, len, "m"), 0);
		sluice_free_bytes(bytes);
		/* Retained: n-1 and n, which use sst-(n-3) .. sst-n. */
		for (k = 1; k <= n; k++) {
			snprintf(key, sizeof(key), "sst-%lld", (long long)k);
			assert_int_equal(
				shared_exists(f, metas[k], key),
				k >= n - 3 ? 1 : 0);
		}
		assert_int_equal(
			sluice_shared_registry_size(f->reg),
			(size_t)(n < 4 ? n : 4));
	}
	for (n = 1; n <= 30; n++)
		sluice_checkpoint_meta_free(metas[n]);
}

static void
test_registry__placeholder_for_unknown_state_is_rejected(void **state)
{
	fx *f = *state;
	sluice_stream_handle *ph = sluice_stream_handle_new(
		SLUICE_HANDLE_PLACEHOLDER, "k", 10, 0, NULL);

	assert_int_equal(
		sluice_shared_registry_register(f->reg, "k", ph, 1, NULL),
		SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"Attempt to reference unknown state: k");
	sluice_stream_handle_free(ph);
}

static void
test_registry__reupload_replaces_unconfirmed_and_duplicates_are_deleted(
	void **state)
{
	fx *f = *state;
	sluice_stream_handle *a, *b, *c;
	const sluice_stream_handle *kept;

	assert_int_equal(
		sluice_storage_write_file(f->mem, "memory://s/a", "a", 1), 0);
	assert_int_equal(
		sluice_storage_write_file(f->mem, "memory://s/b", "b", 1), 0);
	assert_int_equal(
		sluice_storage_write_file(f->mem, "memory://s/c", "c", 1), 0);
	a = sluice_stream_handle_new(
		SLUICE_HANDLE_FILE, "memory://s/a", 1, 1, NULL);
	b = sluice_stream_handle_new(
		SLUICE_HANDLE_FILE, "memory://s/b", 1, 2, NULL);
	c = sluice_stream_handle_new(
		SLUICE_HANDLE_FILE, "memory://s/c", 1, 3, NULL);
	assert_int_equal(
		sluice_shared_registry_register(f->reg, "k", a, 1, &kept), 0);
	assert_string_equal(kept->path, "memory://s/a");
	/* Not confirmed yet: a re-upload replaces it, the old file goes. */
	assert_int_equal(
		sluice_shared_registry_register(f->reg, "k", b, 2, &kept), 0);
	assert_string_equal(kept->path, "memory://s/b");
	assert_int_equal(sluice_storage_exists(f->mem, "memory://s/a"), 0);
	sluice_shared_registry_checkpoint_completed(f->reg, 2);
	/* Confirmed: another upload of the same key is a duplicate. */
	assert_int_equal(
		sluice_shared_registry_register(f->reg, "k", c, 3, &kept), 0);
	assert_string_equal(kept->path, "memory://s/b");
	assert_int_equal(sluice_storage_exists(f->mem, "memory://s/c"), 0);
	assert_int_equal(sluice_storage_exists(f->mem, "memory://s/b"), 1);
	/* Last used by 3: still needed while 3 is retained. */
	assert_int_equal(
		sluice_shared_registry_unregister_unused(f->reg, 3), 0);
	assert_int_equal(sluice_storage_exists(f->mem, "memory://s/b"), 1);
	assert_int_equal(
		sluice_shared_registry_unregister_unused(f->reg, 4), 0);
	assert_int_equal(sluice_storage_exists(f->mem, "memory://s/b"), 0);
	assert_int_equal(sluice_shared_registry_size(f->reg), 0);
	sluice_stream_handle_free(a);
	sluice_stream_handle_free(b);
	sluice_stream_handle_free(c);
}

static void
test_registry__restored_no_claim_state_is_never_deleted(void **state)
{
	fx *f = *state;
	sluice_stream_handle *a = sluice_stream_handle_new(
		SLUICE_HANDLE_FILE, "memory://s/r", 1, 1, NULL);

	assert_int_equal(
		sluice_storage_write_file(f->mem, "memory://s/r", "r", 1), 0);
	assert_int_equal(
		sluice_shared_registry_register(f->reg, "r", a, 5, NULL), 0);
	sluice_shared_registry_protect_upto(f->reg, 5);
	assert_int_equal(
		sluice_shared_registry_unregister_unused(f->reg, 9), 0);
	assert_int_equal(sluice_shared_registry_size(f->reg), 0);
	assert_int_equal(sluice_storage_exists(f->mem, "memory://s/r"), 1);
	sluice_stream_handle_free(a);
}

static void
check_shutdown(fx *f, sluice_retention ret, sluice_job_status status, int kept)
{
	char d[3][256];

	new_store(f, 2);
	complete(f, 1, SLUICE_SNAPSHOT_CHECKPOINT, ret, 1, d[1]);
	complete(f, 2, SLUICE_SNAPSHOT_CHECKPOINT, ret, 1, d[2]);
	assert_int_equal(sluice_completed_store_shutdown(f->store, status), 0);
	assert_int_equal(sluice_completed_store_count(f->store), 0);
	assert_int_equal(has_metadata(f, d[1]), kept);
	assert_int_equal(has_metadata(f, d[2]), kept);
	assert_int_equal(files_under(f, JD "/shared"), kept ? 2 : 0);
	sluice_completed_store_free(f->store);
	f->store = NULL;
	assert_int_equal(sluice_storage_remove_tree(f->mem, "memory://ck"), 0);
	sluice_shared_registry_free(f->reg);
	assert_int_equal(sluice_shared_registry_new(&f->reg, f->mem), 0);
}

static void test_store__externalized_retention_on_termination(void **state)
{
	fx *f = *state;

	check_shutdown(f, SLUICE_RETAIN_NONE, SLUICE_JOB_CANCELED, 0);
	check_shutdown(f, SLUICE_RETAIN_NONE, SLUICE_JOB_FAILED, 0);
	check_shutdown(
		f, SLUICE_RETAIN_ON_CANCELLATION, SLUICE_JOB_CANCELED, 1);
	check_shutdown(f, SLUICE_RETAIN_ON_CANCELLATION, SLUICE_JOB_FAILED, 1);
	check_shutdown(
		f, SLUICE_RETAIN_ON_CANCELLATION, SLUICE_JOB_SUSPENDED, 1);
	check_shutdown(
		f, SLUICE_RETAIN_ON_CANCELLATION, SLUICE_JOB_FINISHED, 0);
	check_shutdown(
		f, SLUICE_RETAIN_DELETE_ON_CANCELLATION, SLUICE_JOB_CANCELED,
		0);
	check_shutdown(
		f, SLUICE_RETAIN_DELETE_ON_CANCELLATION, SLUICE_JOB_FAILED, 1);
}

static void test_store__savepoint_survives_shutdown(void **state)
{
	fx *f = *state;
	char d[256];

	new_store(f, 1);
	complete(f, 1, SLUICE_SNAPSHOT_SAVEPOINT, SLUICE_RETAIN_NONE, 0, d);
	assert_int_equal(
		sluice_completed_store_shutdown(f->store, SLUICE_JOB_FINISHED),
		0);
	assert_int_equal(has_metadata(f, d), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_store__keeps_num_retained_and_discards_older),
		T(test_store__num_retained_zero_means_one),
		T(test_store__savepoints_are_subsumed_but_never_deleted),
		T(test_store__most_recent_real_checkpoint_is_always_kept),
		T(test_registry__shared_file_lives_while_a_retained_checkpoint_uses_it),
		T(test_registry__placeholder_for_unknown_state_is_rejected),
		T(test_registry__reupload_replaces_unconfirmed_and_duplicates_are_deleted),
		T(test_registry__restored_no_claim_state_is_never_deleted),
		T(test_store__externalized_retention_on_termination),
		T(test_store__savepoint_survives_shutdown),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
