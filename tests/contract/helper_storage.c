/* The storage contract: behaviours every checkpoint storage must have. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "sluice/sys/metadata.h"

#include "helper_storage.h"

static const storage_impl *impl;

static int setup(void **state)
{
	storage_fixture *f = calloc(1, sizeof(*f));

	if (!f || impl->setup(f) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	storage_fixture *f = *state;

	impl->teardown(f);
	free(f);
	return 0;
}

static char *path(storage_fixture *f, const char *rel)
{
	static char buf[4][1024];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", f->root, rel);
	return buf[k];
}

static void put(storage_fixture *f, const char *rel, const char *text)
{
	assert_int_equal(
		sluice_storage_write_file(
			f->st, path(f, rel), text, strlen(text)),
		0);
}

static void expect(storage_fixture *f, const char *rel, const char *text)
{
	uint8_t *data;
	size_t len;

	assert_int_equal(
		sluice_storage_read_all(&data, &len, f->st, path(f, rel)), 0);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(data, text, len);
	sluice_free_bytes(data);
}

static void test_storage__written_bytes_read_back(void **state)
{
	storage_fixture *f = *state;
	sluice_storage_file *w;
	sluice_istream *in;
	char buf[8];
	size_t got;

	assert_int_equal(sluice_storage_open_write(&w, f->st, path(f, "a")), 0);
	assert_int_equal(sluice_storage_write_all(w, "hello ", 6), 0);
	assert_int_equal(sluice_storage_write_all(w, "world", 5), 0);
	assert_int_equal(sluice_storage_file_sync(w), 0);
	assert_int_equal(sluice_storage_file_close(w), 0);
	assert_int_equal(sluice_storage_open_read(&in, f->st, path(f, "a")), 0);
	assert_int_equal(in->size(in), 11);
	assert_int_equal(in->seek(in, 6), 0);
	assert_int_equal(in->read(in, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(in->read(in, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, 0);
	sluice_istream_close(in);
}

static void test_storage__empty_file_exists_with_size_zero(void **state)
{
	storage_fixture *f = *state;
	uint64_t size = 99;
	int is_dir = 1;

	put(f, "empty", "");
	assert_int_equal(
		sluice_storage_stat(f->st, path(f, "empty"), &size, &is_dir),
		0);
	assert_int_equal(size, 0);
	assert_int_equal(is_dir, 0);
	expect(f, "empty", "");
}

static void test_storage__large_file_round_trips(void **state)
{
	storage_fixture *f = *state;
	size_t n = 3u << 20, i, len;
	uint8_t *big = malloc(n), *back;

	assert_non_null(big);
	for (i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 131 + (i >> 11));
	assert_int_equal(
		sluice_storage_write_file(f->st, path(f, "big"), big, n), 0);
	assert_int_equal(
		sluice_storage_read_all(&back, &len, f->st, path(f, "big")), 0);
	assert_int_equal(len, n);
	assert_memory_equal(back, big, n);
	sluice_free_bytes(back);
	free(big);
}

static void test_storage__missing_file_is_not_found(void **state)
{
	storage_fixture *f = *state;
	sluice_istream *in;

	assert_int_equal(
		sluice_storage_open_read(&in, f->st, path(f, "nope")),
		SLUICE_ENOTFOUND);
	assert_non_null(strstr(sluice_error_last()->message, "nope"));
	assert_int_equal(
		sluice_storage_remove(f->st, path(f, "nope")),
		SLUICE_ENOTFOUND);
	assert_int_equal(sluice_storage_exists(f->st, path(f, "nope")), 0);
	assert_int_equal(
		sluice_storage_stat(f->st, path(f, "nope"), NULL, NULL),
		SLUICE_ENOTFOUND);
}

static void test_storage__open_write_truncates(void **state)
{
	storage_fixture *f = *state;

	put(f, "t", "a long first version");
	put(f, "t", "short");
	expect(f, "t", "short");
}

static void test_storage__remove_deletes_only_that_file(void **state)
{
	storage_fixture *f = *state;

	put(f, "x", "1");
	put(f, "y", "2");
	assert_int_equal(sluice_storage_remove(f->st, path(f, "x")), 0);
	assert_int_equal(sluice_storage_exists(f->st, path(f, "x")), 0);
	assert_int_equal(sluice_storage_exists(f->st, path(f, "y")), 1);
}

static void test_storage__mkdirs_is_recursive_and_idempotent(void **state)
{
	storage_fixture *f = *state;
	int is_dir = 0;

	assert_int_equal(sluice_storage_mkdirs(f->st, path(f, "d1/d2/d3")), 0);
	assert_int_equal(sluice_storage_mkdirs(f->st, path(f, "d1/d2/d3")), 0);
	put(f, "d1/d2/d3/f", "x");
	assert_int_equal(
		sluice_storage_stat(f->st, path(f, "d1/d2"), NULL, &is_dir), 0);
	assert_int_equal(is_dir, 1);
	assert_int_equal(
		sluice_storage_sync_dir(f->st, path(f, "d1/d2/d3")), 0);
}

typedef struct cnt {
	int n;
} cnt;

static int count_cb(const char *p, uint64_t size, void *ctx)
{
	(void)p;
	(void)size;
	((cnt *)ctx)->n++;
	return 0;
}

typedef struct seen {
	char names[16][256];
	uint64_t sizes[16];
	int n;
	const char *root;
} seen;

static int note(const char *p, uint64_t size, void *ctx)
{
	seen *s = ctx;
	size_t rl = strlen(s->root);

	assert_true(s->n < 16);
	assert_memory_equal(p, s->root, rl);
	snprintf(s->names[s->n], 256, "%s", p + rl + 1);
	s->sizes[s->n++] = size;
	return 0;
}

static int has(const seen *s, const char *name, uint64_t size)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->names[i], name))
			return s->sizes[i] == size;
	return 0;
}

static void
test_storage__list_is_recursive_and_respects_the_prefix(void **state)
{
	storage_fixture *f = *state;
	seen s;

	memset(&s, 0, sizeof(s));
	s.root = f->root;
	assert_int_equal(sluice_storage_mkdirs(f->st, path(f, "job/chk-1")), 0);
	assert_int_equal(sluice_storage_mkdirs(f->st, path(f, "job2")), 0);
	put(f, "job/chk-1/_metadata", "abc");
	put(f, "job/top", "z");
	put(f, "job2/other", "q");
	put(f, "jobfile", "q");
	assert_int_equal(
		sluice_storage_list(f->st, path(f, "job"), note, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(has(&s, "job/chk-1/_metadata", 3));
	assert_true(has(&s, "job/top", 1));
	memset(&s, 0, sizeof(s));
	s.root = f->root;
	assert_int_equal(
		sluice_storage_list(f->st, path(f, "missing"), note, &s), 0);
	assert_int_equal(s.n, 0);
}

static int stop_at_first(const char *p, uint64_t size, void *ctx)
{
	(void)p;
	(void)size;
	++*(int *)ctx;
	return 7;
}

static void test_storage__list_stops_when_callback_says_so(void **state)
{
	storage_fixture *f = *state;
	int calls = 0;

	put(f, "a", "1");
	put(f, "b", "2");
	assert_int_equal(
		sluice_storage_list(f->st, f->root, stop_at_first, &calls), 7);
	assert_int_equal(calls, 1);
}

static void test_storage__rename_replaces_the_target(void **state)
{
	storage_fixture *f = *state;

	if (!(f->st->caps & SLUICE_STORAGE_ATOMIC_RENAME))
		skip();
	put(f, "tmp", "new");
	put(f, "final", "old");
	assert_int_equal(
		sluice_storage_rename(f->st, path(f, "tmp"), path(f, "final")),
		0);
	expect(f, "final", "new");
	assert_int_equal(sluice_storage_exists(f->st, path(f, "tmp")), 0);
	assert_int_equal(
		sluice_storage_rename(f->st, path(f, "tmp"), path(f, "x")),
		SLUICE_ENOTFOUND);
}

static void test_storage__remove_tree_removes_everything_below(void **state)
{
	storage_fixture *f = *state;

	assert_int_equal(sluice_storage_mkdirs(f->st, path(f, "t/a/b")), 0);
	put(f, "t/a/b/1", "1");
	put(f, "t/a/2", "2");
	put(f, "t/3", "3");
	put(f, "keep", "k");
	assert_int_equal(sluice_storage_remove_tree(f->st, path(f, "t")), 0);
	assert_int_equal(sluice_storage_exists(f->st, path(f, "t/a/b/1")), 0);
	assert_int_equal(sluice_storage_exists(f->st, path(f, "t")), 0);
	assert_int_equal(sluice_storage_exists(f->st, path(f, "keep")), 1);
	assert_int_equal(sluice_storage_remove_tree(f->st, path(f, "t")), 0);
}

typedef struct writer {
	storage_fixture *f;
	int id, ok;
} writer;

static void *write_files(void *p)
{
	writer *w = p;
	char name[1024], body[64];
	int i;

	for (i = 0; i < 40; i++) {
		/* path() is not thread-safe: build the name here */
		snprintf(
			name, sizeof(name), "%s/par/w%d-%d", w->f->root, w->id,
			i);
		snprintf(body, sizeof(body), "writer %d file %d", w->id, i);
		if (sluice_storage_write_file(
			    w->f->st, name, body, strlen(body)) < 0)
			return NULL;
	}
	w->ok = 1;
	return NULL;
}

static void test_storage__concurrent_writers_of_different_files(void **state)
{
	storage_fixture *f = *state;
	pthread_t t[4];
	writer w[4];
	cnt c = {0};
	int i;

	assert_int_equal(sluice_storage_mkdirs(f->st, path(f, "par")), 0);
	for (i = 0; i < 4; i++) {
		w[i].f = f;
		w[i].id = i;
		w[i].ok = 0;
		assert_int_equal(
			pthread_create(&t[i], NULL, write_files, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_true(w[i].ok);
	}
	assert_int_equal(
		sluice_storage_list(f->st, path(f, "par"), count_cb, &c), 0);
	assert_int_equal(c.n, 160);
	expect(f, "par/w3-39", "writer 3 file 39");
}

/* The checkpoint commit protocol on this storage: write, commit, find. */
static void test_storage__checkpoint_commits_and_is_discovered(void **state)
{
	storage_fixture *f = *state;
	sluice_storage_options o;
	sluice_checkpoint_storage *cs;
	sluice_checkpoint_meta *m, *back;
	sluice_operator_state *op;
	sluice_location *loc;
	sluice_keyed_handle k = {0, 0, NULL, NULL};
	sluice_ostream *os;
	static char big[50000];
	char *dir;
	int64_t id;

	sluice_storage_options_init(&o);
	o.checkpoint_dir = f->root;
	o.storage = f->st;
	assert_int_equal(
		sluice_checkpoint_storage_new(
			&cs, &o, "0123456789abcdef0123456789abcdef"),
		0);
	for (id = 1; id <= 2; id++) {
		assert_int_equal(
			sluice_checkpoint_location_new(&loc, cs, id), 0);
		assert_int_equal(sluice_checkpoint_meta_new(&m, id), 0);
		assert_int_equal(
			sluice_checkpoint_meta_add_operator(
				&op, m, "op", "", 1, 1),
			0);
		assert_int_equal(
			sluice_location_open_stream(
				&os, loc, SLUICE_SCOPE_EXCLUSIVE),
			0);
		memset(big, (int)id, sizeof(big));
		assert_int_equal(sluice_ostream_write(os, big, sizeof(big)), 0);
		assert_int_equal(sluice_ostream_close(os, &k.stream), 0);
		assert_int_equal(
			sluice_subtask_add_keyed(
				&op->subtasks[0], sluice_keyed_handle_dup(&k)),
			0);
		sluice_stream_handle_free(k.stream);
		assert_int_equal(sluice_location_finalize(loc, m), 0);
		sluice_checkpoint_meta_free(m);
		sluice_location_free(loc);
	}
	assert_int_equal(
		sluice_checkpoint_discover(
			&back, &dir, f->st,
			sluice_checkpoint_storage_job_dir(cs), NULL, NULL),
		0);
	assert_int_equal(back->checkpoint_id, 2);
	assert_int_equal(
		back->operators[0].subtasks[0].keyed[0]->stream->size,
		sizeof(big));
	assert_int_equal(
		sluice_checkpoint_verify(f->st, dir, back, NULL, NULL), 0);
	sluice_checkpoint_meta_free(back);
	sluice_free_bytes(dir);
	sluice_checkpoint_storage_free(cs);
}

int storage_contract_run(const storage_impl *which)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_storage__written_bytes_read_back),
		T(test_storage__empty_file_exists_with_size_zero),
		T(test_storage__large_file_round_trips),
		T(test_storage__missing_file_is_not_found),
		T(test_storage__open_write_truncates),
		T(test_storage__remove_deletes_only_that_file),
		T(test_storage__mkdirs_is_recursive_and_idempotent),
		T(test_storage__list_is_recursive_and_respects_the_prefix),
		T(test_storage__list_stops_when_callback_says_so),
		T(test_storage__rename_replaces_the_target),
		T(test_storage__remove_tree_removes_everything_below),
		T(test_storage__concurrent_writers_of_different_files),
		T(test_storage__checkpoint_commits_and_is_discovered),
#undef T
	};

	impl = which;
	return _cmocka_run_group_tests(
		which->name, tests, sizeof(tests) / sizeof(tests[0]), NULL,
		NULL);
}
