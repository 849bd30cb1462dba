/*
 * Checkpoint storage: layout, state streams (inline threshold, write
 * buffer, checksums, relative savepoint handles), commit, discard, and the
 * fault-injecting wrapper.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "sluice/config.h"

#include "sluice/sys/metadata.h"
#include "sluice/sys/storage.h"
#include "util/hash.h"

#define JOB "0123456789abcdef0123456789abcdef"

typedef struct fx {
	sluice_storage *mem;
	sluice_checkpoint_storage *cs;
	sluice_storage_options o;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(sluice_storage_memory_new(&f->mem), 0);
	sluice_storage_options_init(&f->o);
	f->o.checkpoint_dir = "memory://ck";
	f->o.savepoint_dir = "memory://sp";
	f->o.storage = f->mem;
	assert_int_equal(sluice_checkpoint_storage_new(&f->cs, &f->o, JOB), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	sluice_checkpoint_storage_free(f->cs);
	sluice_storage_free(f->mem);
	free(f);
	return 0;
}

static uint8_t *pattern(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	return p;
}

/* Write n bytes in chunks of `chunk` and close. */
static sluice_stream_handle *
write_stream(sluice_location *loc, sluice_scope scope, size_t n, size_t chunk)
{
	sluice_ostream *os;
	sluice_stream_handle *h = NULL;
	uint8_t *p = pattern(n);
	size_t off;

	assert_int_equal(sluice_location_open_stream(&os, loc, scope), 0);
	for (off = 0; off < n; off += chunk) {
		size_t len = n - off < chunk ? n - off : chunk;
		assert_int_equal(sluice_ostream_write(os, p + off, len), 0);
	}
	assert_int_equal(os->pos(os), n);
	assert_int_equal(sluice_ostream_close(os, &h), 0);
	if (h) {
		assert_int_equal(h->size, n);
		assert_true(h->checksum == sluice__xxh3(p, n));
	}
	free(p);
	return h;
}

static void
test_storage__layout_creates_shared_taskowned_and_chk_dirs(void **state)
{
	fx *f = *state;
	sluice_location *loc;

	assert_string_equal(
		sluice_checkpoint_storage_job_dir(f->cs), "memory://ck/" JOB);
	assert_int_equal(sluice_checkpoint_location_new(&loc, f->cs, 42), 0);
	assert_string_equal(
		sluice_location_dir(loc), "memory://ck/" JOB "/chk-42");
	assert_int_equal(
		sluice_storage_exists(f->mem, "memory://ck/" JOB "/shared"), 1);
	assert_int_equal(
		sluice_storage_exists(f->mem, "memory://ck/" JOB "/taskowned"),
		1);
	assert_int_equal(
		sluice_storage_exists(f->mem, "memory://ck/" JOB "/chk-42"), 1);
	assert_int_equal(sluice_location_is_savepoint(loc), 0);
	sluice_location_free(loc);
}

static void test_storage__create_subdir_off_uses_the_dir_itself(void **state)
{
	fx *f = *state;
	sluice_checkpoint_storage *cs;

	f->o.create_subdir = 0;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &f->o, JOB), 0);
	assert_string_equal(
		sluice_checkpoint_storage_job_dir(cs), "memory://ck");
	sluice_checkpoint_storage_free(cs);
}

static void
test_storage__stream_at_threshold_is_inline_one_more_is_a_file(void **state)
{
	fx *f = *state;
	sluice_location *loc;
	sluice_stream_handle *h;
	uint8_t *back;
	size_t len;

	assert_int_equal(sluice_checkpoint_location_new(&loc, f->cs, 1), 0);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 20480, 1000);
	assert_int_equal(h->kind, SLUICE_HANDLE_INLINE);
	assert_non_null(strstr(h->path, "/chk-1/"));
	assert_int_equal(sluice_handle_read(&back, &len, f->mem, NULL, h), 0);
	assert_int_equal(len, 20480);
	sluice_free_bytes(back);
	sluice_stream_handle_free(h);

	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 20481, 1000);
	assert_int_equal(h->kind, SLUICE_HANDLE_FILE);
	assert_int_equal(sluice_storage_exists(f->mem, h->path), 1);
	assert_int_equal(sluice_handle_verify(f->mem, NULL, h), 0);
	sluice_stream_handle_free(h);
	/* One big write behaves the same as many small ones. */
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 20481, 20481);
	assert_int_equal(h->kind, SLUICE_HANDLE_FILE);
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
}

static void
test_storage__bigger_write_buffer_still_files_above_threshold(void **state)
{
	fx *f = *state;
	sluice_checkpoint_storage *cs;
	sluice_location *loc;
	sluice_stream_handle *h;

	f->o.write_buffer_size = 65536;
	f->o.inline_threshold = 100;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &f->o, JOB), 0);
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 1), 0);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 100, 7);
	assert_int_equal(h->kind, SLUICE_HANDLE_INLINE);
	sluice_stream_handle_free(h);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 30000, 7);
	assert_int_equal(h->kind, SLUICE_HANDLE_FILE);
	assert_int_equal(sluice_handle_verify(f->mem, NULL, h), 0);
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
}

static void test_storage__threshold_zero_puts_every_byte_in_files(void **state)
{
	fx *f = *state;
	sluice_checkpoint_storage *cs;
	sluice_location *loc;
	sluice_stream_handle *h;

	f->o.inline_threshold = 0;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &f->o, JOB), 0);
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 1), 0);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 1, 1);
	assert_int_equal(h->kind, SLUICE_HANDLE_FILE);
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
}

static void test_storage__empty_stream_has_no_handle(void **state)
{
	fx *f = *state;
	sluice_location *loc;

	assert_int_equal(sluice_checkpoint_location_new(&loc, f->cs, 1), 0);
	assert_null(write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 0, 1));
	sluice_location_free(loc);
}

static void test_storage__shared_streams_go_to_shared_dir(void **state)
{
	fx *f = *state;
	sluice_location *loc;
	sluice_stream_handle *h;

	assert_int_equal(sluice_checkpoint_location_new(&loc, f->cs, 3), 0);
	h = write_stream(loc, SLUICE_SCOPE_SHARED, 50000, 4096);
	assert_int_equal(h->kind, SLUICE_HANDLE_FILE);
	assert_memory_equal(
		h->path, "memory://ck/" JOB "/shared/",
		strlen("memory://ck/" JOB "/shared/"));
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
}

static void
test_storage__sync_before_threshold_keeps_stream_inline(void **state)
{
	fx *f = *state;
	sluice_location *loc;
	sluice_ostream *os;
	sluice_stream_handle *h;

	assert_int_equal(sluice_checkpoint_location_new(&loc, f->cs, 1), 0);
	assert_int_equal(
		sluice_location_open_stream(&os, loc, SLUICE_SCOPE_EXCLUSIVE),
		0);
	assert_int_equal(sluice_ostream_write(os, "abc", 3), 0);
	assert_int_equal(os->sync(os), 0);
	assert_int_equal(sluice_ostream_close(os, &h), 0);
	assert_int_equal(h->kind, SLUICE_HANDLE_INLINE);
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
}

typedef struct counter {
	int n;
} counter;

static int count_files(const char *p, uint64_t size, void *ctx)
{
	(void)p;
	(void)size;
	((counter *)ctx)->n++;
	return 0;
}

static void test_storage__aborted_stream_leaves_no_file(void **state)
{
	fx *f = *state;
	sluice_location *loc;
	sluice_ostream *os;
	uint8_t *p = pattern(100000);
	counter c = {0};

	assert_int_equal(sluice_checkpoint_location_new(&loc, f->cs, 1), 0);
	assert_int_equal(
		sluice_location_open_stream(&os, loc, SLUICE_SCOPE_EXCLUSIVE),
		0);
	assert_int_equal(sluice_ostream_write(os, p, 100000), 0);
	sluice_ostream_abort(os);
	assert_int_equal(
		sluice_storage_list(
			f->mem, sluice_location_dir(loc), count_files, &c),
		0);
	assert_int_equal(c.n, 0);
	free(p);
	sluice_location_free(loc);
}

static void test_storage__discard_deletes_the_location(void **state)
{
	fx *f = *state;
	sluice_location *loc;
	sluice_stream_handle *h;

	assert_int_equal(sluice_checkpoint_location_new(&loc, f->cs, 5), 0);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 30000, 30000);
	assert_int_equal(sluice_storage_exists(f->mem, h->path), 1);
	assert_int_equal(sluice_location_discard(loc), 0);
	assert_int_equal(sluice_storage_exists(f->mem, h->path), 0);
	assert_int_equal(
		sluice_storage_exists(f->mem, "memory://ck/" JOB "/chk-5"), 0);
	sluice_stream_handle_free(h);
}

static void test_storage__invalid_options_are_rejected(void **state)
{
	fx *f = *state;
	sluice_checkpoint_storage *cs;

	assert_int_equal(
		sluice_checkpoint_storage_new(&cs, &f->o, "abc"),
		SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "'abc'"));
	f->o.inline_threshold = 1048577;
	assert_int_equal(
		sluice_checkpoint_storage_new(&cs, &f->o, JOB),
		SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"The threshold for file state size cannot be larger than "
		"1048576");
	f->o.inline_threshold = 1048576;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &f->o, JOB), 0);
	sluice_checkpoint_storage_free(cs);
	f->o.storage = NULL;
	f->o.checkpoint_dir = "s4://bucket/x";
	assert_int_equal(
		sluice_checkpoint_storage_new(&cs, &f->o, JOB),
		SLUICE_EUNSUPPORTED);
	assert_non_null(strstr(sluice_error_last()->message, "'s4'"));
}

static void test_storage__savepoint_dirs_are_named_and_relative(void **state)
{
	fx *f = *state;
	sluice_location *loc;
	sluice_stream_handle *h;
	const char *dir;
	size_t i;

	assert_int_equal(sluice_savepoint_location_new(&loc, f->cs, NULL), 0);
	dir = sluice_location_dir(loc);
	assert_memory_equal(dir, "memory://sp/savepoint-012345-", 29);
	assert_int_equal(strlen(dir), 29 + 12);
	for (i = 29; i < strlen(dir); i++)
		assert_non_null(strchr("0123456789abcdef", dir[i]));
	assert_int_equal(sluice_location_is_savepoint(loc), 1);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 40000, 40000);
	assert_int_equal(h->kind, SLUICE_HANDLE_RELATIVE);
	assert_null(strchr(h->path, '/'));
	assert_int_equal(sluice_handle_verify(f->mem, dir, h), 0);
	sluice_stream_handle_free(h);
	/* Savepoints share nothing: "shared" streams stay in the directory. */
	h = write_stream(loc, SLUICE_SCOPE_SHARED, 40000, 40000);
	assert_int_equal(h->kind, SLUICE_HANDLE_RELATIVE);
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
}

static void
test_storage__savepoint_without_target_fails_like_flink(void **state)
{
	fx *f = *state;
	sluice_checkpoint_storage *cs;
	sluice_location *loc;

	f->o.savepoint_dir = NULL;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &f->o, JOB), 0);
	assert_int_equal(
		sluice_savepoint_location_new(&loc, cs, NULL), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"No savepoint location given and no default location "
		"configured.");
	assert_int_equal(
		sluice_savepoint_location_new(&loc, cs, "memory://elsewhere"),
		0);
	assert_memory_equal(
		sluice_location_dir(loc), "memory://elsewhere/savepoint-", 29);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
}

static void test_storage__jobmanager_storage_inlines_everything(void **state)
{
	sluice_storage_options o;
	sluice_checkpoint_storage *cs;
	sluice_location *loc;
	sluice_stream_handle *h;

	(void)state;
	sluice_storage_options_init(&o);
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB), 0);
	assert_string_equal(
		sluice_checkpoint_storage_backend(cs)->scheme, "memory");
	assert_string_equal(
		sluice_checkpoint_storage_job_dir(cs),
		"memory://jobmanager/" JOB);
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 1), 0);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 100000, 4096);
	assert_int_equal(h->kind, SLUICE_HANDLE_INLINE);
	sluice_stream_handle_free(h);
	assert_int_equal(sluice_location_discard(loc), 0);
	sluice_checkpoint_storage_free(cs);
}

static void test_storage__relocated_savepoint_still_reads(void **state)
{
	char tmpl[] = "/tmp/sluice-sp-XXXXXX", moved[600], dir[600];
	sluice_storage_options o;
	sluice_checkpoint_storage *cs;
	sluice_location *loc;
	sluice_stream_handle *h;
	uint8_t *back;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	sluice_storage_options_init(&o);
	o.checkpoint_dir = tmpl;
	o.savepoint_dir = tmpl;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB), 0);
	assert_int_equal(sluice_savepoint_location_new(&loc, cs, NULL), 0);
	snprintf(dir, sizeof(dir), "%s", sluice_location_dir(loc));
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 50000, 999);
	snprintf(moved, sizeof(moved), "%s/moved", tmpl);
	assert_int_equal(rename(dir, moved), 0);
	assert_int_equal(
		sluice_handle_read(
			&back, &len, sluice_storage_file_get(), moved, h),
		0);
	assert_int_equal(len, 50000);
	sluice_free_bytes(back);
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
	assert_int_equal(
		sluice_storage_remove_tree(sluice_storage_file_get(), tmpl), 0);
}

static void
test_storage__handle_read_reports_missing_short_and_corrupt(void **state)
{
	fx *f = *state;
	sluice_location *loc;
	sluice_stream_handle *h;
	uint8_t *data;
	size_t len;

	assert_int_equal(sluice_checkpoint_location_new(&loc, f->cs, 9), 0);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 30000, 30000);
	assert_int_equal(
		sluice_storage_read_all(&data, &len, f->mem, h->path), 0);
	data[100] ^= 1;
	assert_int_equal(
		sluice_storage_write_file(f->mem, h->path, data, len), 0);
	assert_int_equal(
		sluice_handle_verify(f->mem, NULL, h), SLUICE_ECORRUPT);
	assert_non_null(strstr(sluice_error_last()->message, "checksum"));
	assert_non_null(strstr(sluice_error_last()->message, h->path));
	assert_int_equal(
		sluice_storage_write_file(f->mem, h->path, data, len - 1), 0);
	assert_int_equal(
		sluice_handle_verify(f->mem, NULL, h), SLUICE_ECORRUPT);
	assert_non_null(strstr(
		sluice_error_last()->message, "size 29999, expected 30000"));
	assert_int_equal(sluice_storage_remove(f->mem, h->path), 0);
	assert_int_equal(
		sluice_handle_verify(f->mem, NULL, h), SLUICE_ENOTFOUND);
	assert_non_null(strstr(sluice_error_last()->message, "missing"));
	sluice_free_bytes(data);
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
}

static void test_fault__kth_write_fails_and_crash_fails_the_rest(void **state)
{
	fx *f = *state;
	sluice_fault_options o = {SLUICE_FAULT_WRITE, 2, 1, 0};
	sluice_storage *fs;
	sluice_storage_file *w;

	assert_int_equal(sluice_fault_storage_new(&fs, f->mem, &o), 0);
	assert_int_equal(sluice_storage_open_write(&w, fs, "memory://a"), 0);
	assert_int_equal(sluice_storage_write_all(w, "1", 1), 0);
	assert_int_equal(sluice_fault_storage_fired(fs), 0);
	assert_int_equal(sluice_storage_write_all(w, "2", 1), SLUICE_EIO);
	assert_string_equal(
		sluice_error_last()->message,
		"injected fault: write 'memory://a'");
	assert_int_equal(sluice_fault_storage_fired(fs), 1);
	assert_int_equal(sluice_fault_storage_count(fs), 2);
	assert_int_equal(sluice_storage_exists(fs, "memory://a"), SLUICE_EIO);
	sluice_storage_file_close(w);
	sluice_storage_free(fs);
}

static void test_fault__short_writes_still_write_everything(void **state)
{
	fx *f = *state;
	sluice_fault_options o = {SLUICE_FAULT_ANY, 0, 0, 1};
	sluice_storage *fs;
	uint8_t *p = pattern(1000), *back;
	size_t len;

	assert_int_equal(sluice_fault_storage_new(&fs, f->mem, &o), 0);
	assert_int_equal(
		sluice_storage_write_file(fs, "memory://s", p, 1000), 0);
	assert_true(
		sluice_fault_storage_count(fs) > 10); /* many short writes */
	assert_int_equal(
		sluice_storage_read_all(&back, &len, f->mem, "memory://s"), 0);
	assert_int_equal(len, 1000);
	assert_memory_equal(back, p, 1000);
	sluice_free_bytes(back);
	free(p);
	sluice_storage_free(fs);
}

static void test_fault__power_cut_drops_unsynced_bytes_and_renames(void **state)
{
	fx *f = *state;
	sluice_storage *fs;
	sluice_storage_file *w;
	uint8_t *back;
	size_t len;

	assert_int_equal(sluice_fault_storage_new(&fs, f->mem, NULL), 0);
	assert_int_equal(
		sluice_storage_open_write(&w, fs, "memory://d/partly"), 0);
	assert_int_equal(sluice_storage_write_all(w, "durable", 7), 0);
	assert_int_equal(sluice_storage_file_sync(w), 0);
	assert_int_equal(sluice_storage_write_all(w, "-lost", 5), 0);
	assert_int_equal(sluice_storage_file_close(w), 0);
	assert_int_equal(
		sluice_storage_write_file(fs, "memory://d/never", "x", 1), 0);
	assert_int_equal(sluice_storage_remove(f->mem, "memory://d/never"), 0);
	assert_int_equal(
		sluice_storage_open_write(&w, fs, "memory://d/never"), 0);
	assert_int_equal(sluice_storage_write_all(w, "y", 1), 0);
	assert_int_equal(sluice_storage_file_close(w), 0);
	assert_int_equal(
		sluice_storage_write_file(fs, "memory://d/tmp1", "a", 1), 0);
	assert_int_equal(
		sluice_storage_rename(fs, "memory://d/tmp1", "memory://d/kept"),
		0);
	assert_int_equal(sluice_storage_sync_dir(fs, "memory://d"), 0);
	assert_int_equal(
		sluice_storage_write_file(fs, "memory://d/tmp2", "b", 1), 0);
	assert_int_equal(
		sluice_storage_rename(
			fs, "memory://d/tmp2", "memory://d/undone"),
		0);

	assert_int_equal(sluice_fault_power_cut(fs), 0);
	assert_int_equal(
		sluice_storage_read_all(
			&back, &len, f->mem, "memory://d/partly"),
		0);
	assert_int_equal(len, 7);
	assert_memory_equal(back, "durable", 7);
	sluice_free_bytes(back);
	assert_int_equal(sluice_storage_exists(f->mem, "memory://d/never"), 0);
	assert_int_equal(sluice_storage_exists(f->mem, "memory://d/kept"), 1);
	assert_int_equal(sluice_storage_exists(f->mem, "memory://d/undone"), 0);
	/* tmp2 was synced, but its directory never was after it appeared */
	assert_int_equal(sluice_storage_exists(f->mem, "memory://d/tmp2"), 0);
	/* The process is gone: the wrapper refuses further work. */
	assert_int_equal(
		sluice_storage_exists(fs, "memory://d/kept"), SLUICE_EIO);
	sluice_storage_free(fs);
}

static void test_storage__registry_resolves_schemes(void **state)
{
	sluice_storage *st;

	(void)state;
	assert_int_equal(sluice_storage_for_uri(&st, "/plain/path"), 0);
	assert_ptr_equal(st, sluice_storage_file_get());
	assert_int_equal(sluice_storage_for_uri(&st, "file:///x"), 0);
	assert_ptr_equal(st, sluice_storage_file_get());
	assert_int_equal(sluice_storage_for_uri(&st, "memory://x"), 0);
	assert_string_equal(st->scheme, "memory");
	assert_int_equal(
		sluice_storage_for_uri(&st, "hdfs://nn/x"),
		SLUICE_EUNSUPPORTED);
}

static void
test_storage__registered_scheme_is_found_and_replaceable(void **state)
{
	/* Registered storages must outlive their use: static copies. */
	static sluice_storage first, second;
	sluice_storage *st;

	(void)state;
	first = *sluice_storage_file_get();
	second = first;
	first.scheme = second.scheme = "alias";
	assert_int_equal(sluice_storage_register(&first), 0);
	assert_int_equal(sluice_storage_for_uri(&st, "alias:///tmp/x"), 0);
	assert_ptr_equal(st, &first);
	assert_int_equal(sluice_storage_register(&second), 0);
	assert_int_equal(sluice_storage_for_uri(&st, "alias:///tmp/x"), 0);
	assert_ptr_equal(st, &second);
	/* a prefix of a scheme does not match it */
	assert_int_equal(
		sluice_storage_for_uri(&st, "alia://x"), SLUICE_EUNSUPPORTED);
	first.scheme = NULL;
	assert_int_equal(sluice_storage_register(&first), SLUICE_EINVALID);
}

static void test_storage__options_follow_checkpoint_settings(void **state)
{
	sluice_checkpoint_settings s;
	sluice_storage_options o;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.dir = "/ck";
	s.savepoint_dir = "/sp";
	s.inline_threshold = 1000;
	s.write_buffer_size = 8192;
	s.create_subdir = 0;
	assert_int_equal(sluice_storage_options_from_settings(&o, &s), 0);
	assert_string_equal(o.checkpoint_dir, "/ck");
	assert_string_equal(o.savepoint_dir, "/sp");
	assert_int_equal(o.inline_threshold, 1000);
	assert_int_equal(o.write_buffer_size, 8192);
	assert_int_equal(o.create_subdir, 0);
	assert_null(o.storage);
	s.storage = "jobmanager";
	assert_int_equal(sluice_storage_options_from_settings(&o, &s), 0);
	assert_null(o.checkpoint_dir);
	s.storage = "filesystem";
	s.dir = NULL;
	assert_int_equal(
		sluice_storage_options_from_settings(&o, &s), SLUICE_EINVALID);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "needs execution.checkpointing.dir"));
	s.storage = "rocks";
	assert_int_equal(
		sluice_storage_options_from_settings(&o, &s), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "'rocks'"));
}

typedef struct worker {
	sluice_location *loc;
	sluice_storage *st;
	int ok;
} worker;

static void *write_many(void *p)
{
	worker *w = p;
	int i;

	for (i = 0; i < 20; i++) {
		sluice_ostream *os;
		sluice_stream_handle *h = NULL;
		uint8_t buf[5000];
		int k;

		memset(buf, i, sizeof(buf));
		if (sluice_location_open_stream(
			    &os, w->loc,
			    i % 2 ? SLUICE_SCOPE_SHARED
				  : SLUICE_SCOPE_EXCLUSIVE) < 0)
			return NULL;
		for (k = 0; k < 6; k++)
			if (sluice_ostream_write(os, buf, sizeof(buf)) < 0)
				return NULL;
		if (sluice_ostream_close(os, &h) < 0 || !h ||
		    h->kind != SLUICE_HANDLE_FILE ||
		    sluice_handle_verify(w->st, NULL, h) < 0)
			return NULL;
		sluice_stream_handle_free(h);
	}
	w->ok = 1;
	return NULL;
}

static void test_storage__streams_of_one_location_run_in_parallel(void **state)
{
	fx *f = *state;
	pthread_t t[4];
	worker w[4];
	int i;

	assert_int_equal(
		sluice_checkpoint_location_new(&w[0].loc, f->cs, 1), 0);
	for (i = 0; i < 4; i++) {
		w[i].loc = w[0].loc;
		w[i].st = f->mem;
		w[i].ok = 0;
		assert_int_equal(
			pthread_create(&t[i], NULL, write_many, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_true(w[i].ok);
	}
	sluice_location_free(w[0].loc);
}

static void
test_storage__configuration_keys_reach_the_stream_factory(void **state)
{
	sluice_checkpoint_settings s;
	sluice_storage_options o;
	sluice_checkpoint_storage *cs;
	sluice_location *loc;
	sluice_stream_handle *h;
	sluice_config *conf;
	fx *f = *state;

	assert_int_equal(sluice_config_new(&conf), 0);
	assert_int_equal(
		sluice_config_set(
			conf, "state.checkpoints.dir", "memory://cfg",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf, "state.storage.fs.memory-threshold", "1kb",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(
		sluice_config_set(
			conf, "execution.checkpointing.create-subdir", "false",
			SLUICE_CONFIG_API),
		0);
	assert_int_equal(sluice_config_checkpoint_settings(conf, &s), 0);
	assert_int_equal(sluice_storage_options_from_settings(&o, &s), 0);
	o.storage = f->mem;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB), 0);
	assert_string_equal(
		sluice_checkpoint_storage_job_dir(cs), "memory://cfg");
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 1), 0);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 1024, 100);
	assert_int_equal(h->kind, SLUICE_HANDLE_INLINE);
	sluice_stream_handle_free(h);
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 1025, 100);
	assert_int_equal(h->kind, SLUICE_HANDLE_FILE);
	sluice_stream_handle_free(h);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
	sluice_config_free(conf);
}

static void test_storage__savepoint_target_may_use_another_storage(void **state)
{
	char tmpl[] = "/tmp/sluice-sp2-XXXXXX";
	sluice_storage_options o;
	sluice_checkpoint_storage *cs;
	sluice_location *loc;
	sluice_stream_handle *h;
	char dir[600];

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	sluice_storage_options_init(&o);
	o.checkpoint_dir = "memory://ck-elsewhere";
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB), 0);
	assert_int_equal(sluice_savepoint_location_new(&loc, cs, tmpl), 0);
	snprintf(dir, sizeof(dir), "%s", sluice_location_dir(loc));
	h = write_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 30000, 30000);
	assert_int_equal(h->kind, SLUICE_HANDLE_RELATIVE);
	assert_int_equal(
		sluice_handle_verify(sluice_storage_file_get(), dir, h), 0);
	sluice_stream_handle_free(h);
	assert_int_equal(sluice_location_discard(loc), 0);
	assert_int_equal(
		sluice_storage_exists(sluice_storage_file_get(), dir), 0);
	sluice_checkpoint_storage_free(cs);
	assert_int_equal(
		sluice_storage_rmdir(sluice_storage_file_get(), tmpl), 0);
}

static void
test_storage__failed_stream_reports_the_fault_and_leaves_no_file(void **state)
{
	fx *f = *state;
	sluice_fault_options fo = {SLUICE_FAULT_SYNC, 1, 0, 0};
	sluice_storage *fs;
	sluice_storage_options o = f->o;
	sluice_checkpoint_storage *cs;
	sluice_location *loc;
	sluice_ostream *os;
	sluice_stream_handle *h;
	uint8_t *p = pattern(50000);
	counter c = {0};

	assert_int_equal(sluice_fault_storage_new(&fs, f->mem, &fo), 0);
	o.storage = fs;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB), 0);
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 1), 0);
	assert_int_equal(
		sluice_location_open_stream(&os, loc, SLUICE_SCOPE_EXCLUSIVE),
		0);
	assert_int_equal(sluice_ostream_write(os, p, 50000), 0);
	assert_int_equal(sluice_ostream_close(os, &h), SLUICE_EIO);
	assert_null(h);
	assert_non_null(
		strstr(sluice_error_last()->message, "injected fault: sync"));
	assert_int_equal(
		sluice_storage_list(
			f->mem, sluice_location_dir(loc), count_files, &c),
		0);
	assert_int_equal(c.n, 0);
	/* a write failure poisons the stream */
	fo.ops = SLUICE_FAULT_WRITE;
	sluice_storage_free(fs);
	assert_int_equal(sluice_fault_storage_new(&fs, f->mem, &fo), 0);
	sluice_checkpoint_storage_free(cs);
	o.storage = fs;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB), 0);
	sluice_location_free(loc);
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 2), 0);
	assert_int_equal(
		sluice_location_open_stream(&os, loc, SLUICE_SCOPE_EXCLUSIVE),
		0);
	assert_int_equal(sluice_ostream_write(os, p, 50000), SLUICE_EIO);
	assert_int_equal(sluice_ostream_write(os, p, 10), SLUICE_EIO);
	assert_non_null(strstr(sluice_error_last()->message, "failed earlier"));
	assert_int_equal(sluice_ostream_close(os, &h), SLUICE_EIO);
	assert_null(h);
	free(p);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
	sluice_storage_free(fs);
}

static void test_storage__handles_open_for_partial_reads(void **state)
{
	fx *f = *state;
	sluice_location *loc;
	sluice_stream_handle *h;
	sluice_istream *in;
	uint8_t *p = pattern(30000), buf[10];
	size_t i;

	assert_int_equal(sluice_checkpoint_location_new(&loc, f->cs, 1), 0);
	for (i = 0; i < 2; i++) {
		h = write_stream(
			loc, SLUICE_SCOPE_EXCLUSIVE, i ? 30000 : 500, 1000);
		assert_int_equal(
			h->kind, i ? SLUICE_HANDLE_FILE : SLUICE_HANDLE_INLINE);
		assert_int_equal(sluice_handle_open(&in, f->mem, NULL, h), 0);
		assert_int_equal(in->size(in), h->size);
		assert_int_equal(in->seek(in, 400), 0);
		assert_int_equal(sluice_istream_read_full(in, buf, 10), 0);
		assert_memory_equal(buf, p + 400, 10);
		sluice_istream_close(in);
		if (i) {
			assert_int_equal(
				sluice_storage_write_file(
					f->mem, h->path, p, 100),
				0);
			assert_int_equal(
				sluice_handle_open(&in, f->mem, NULL, h),
				SLUICE_ECORRUPT);
			assert_null(in);
			assert_int_equal(
				sluice_storage_remove(f->mem, h->path), 0);
			assert_int_equal(
				sluice_handle_open(&in, f->mem, NULL, h),
				SLUICE_ENOTFOUND);
		}
		sluice_stream_handle_free(h);
	}
	free(p);
	sluice_location_free(loc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_storage__layout_creates_shared_taskowned_and_chk_dirs),
		T(test_storage__create_subdir_off_uses_the_dir_itself),
		T(test_storage__stream_at_threshold_is_inline_one_more_is_a_file),
		T(test_storage__bigger_write_buffer_still_files_above_threshold),
		T(test_storage__threshold_zero_puts_every_byte_in_files),
		T(test_storage__empty_stream_has_no_handle),
		T(test_storage__shared_streams_go_to_shared_dir),
		T(test_storage__sync_before_threshold_keeps_stream_inline),
		T(test_storage__aborted_stream_leaves_no_file),
		T(test_storage__failed_stream_reports_the_fault_and_leaves_no_file),
		T(test_storage__discard_deletes_the_location),
		T(test_storage__invalid_options_are_rejected),
		T(test_storage__savepoint_dirs_are_named_and_relative),
		T(test_storage__savepoint_without_target_fails_like_flink),
		T(test_storage__jobmanager_storage_inlines_everything),
		T(test_storage__relocated_savepoint_still_reads),
		T(test_storage__handle_read_reports_missing_short_and_corrupt),
		T(test_storage__handles_open_for_partial_reads),
		T(test_fault__kth_write_fails_and_crash_fails_the_rest),
		T(test_fault__short_writes_still_write_everything),
		T(test_fault__power_cut_drops_unsynced_bytes_and_renames),
		T(test_storage__registry_resolves_schemes),
		T(test_storage__registered_scheme_is_found_and_replaceable),
		T(test_storage__options_follow_checkpoint_settings),
		T(test_storage__streams_of_one_location_run_in_parallel),
		T(test_storage__configuration_keys_reach_the_stream_factory),
		T(test_storage__savepoint_target_may_use_another_storage),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
