/*
 * Channel state of unaligned checkpoints (src/runtime/chstate.c): the
 * blob codec with its corruption checks, references resolved through a
 * storage, and the writer that shares channel-state files between
 * subtasks: acks for every member once all acted, nothing when one
 * withdrew, and a failing file (fault storage) declining the others with
 * CHANNEL_STATE_SHARED_STREAM_EXCEPTION.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/chstate.h"
#include "sluice/failure.h"
#include "sluice/sys/storage.h"
#include "util/alloc.h"
#include "util/hash.h"

#define JOB "0123456789abcdef0123456789abcdef"

static uint8_t *blob_of(size_t *len)
{
	sluice__chs c;
	uint8_t *b;

	sluice__chs_init(&c);
	assert_int_equal(
		sluice__chs_add(&c, SLUICE__CHS_INPUT, 1, 3, "abc", 3), 0);
	assert_int_equal(
		sluice__chs_add(&c, SLUICE__CHS_OUTPUT, 0, 7, "hello", 5), 0);
	assert_int_equal(c.bytes, 8);
	assert_int_equal(sluice__chs_finish(&c, &b, len), 0);
	assert_non_null(b);
	assert_int_equal(c.entries, 0);
	sluice__chs_release(&c);
	return b;
}

static void test_chstate__blob_round_trips_in_order(void **state)
{
	sluice__chs_entry *e;
	size_t len, n;
	uint8_t *b = blob_of(&len);

	(void)state;
	assert_int_equal(sluice__chs_parse(b, len, "t", &e, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].kind, SLUICE__CHS_INPUT);
	assert_int_equal(e[0].gate, 1);
	assert_int_equal(e[0].channel, 3);
	assert_int_equal(e[0].len, 3);
	assert_memory_equal(e[0].data, "abc", 3);
	assert_int_equal(e[1].kind, SLUICE__CHS_OUTPUT);
	assert_int_equal(e[1].channel, 7);
	assert_memory_equal(e[1].data, "hello", 5);
	sluice__free(e);
	sluice__free(b);
}

static void test_chstate__empty_collection_has_no_blob(void **state)
{
	sluice__chs c;
	uint8_t *b = (uint8_t *)1;
	size_t len = 9;

	(void)state;
	sluice__chs_init(&c);
	assert_int_equal(sluice__chs_finish(&c, &b, &len), 0);
	assert_null(b);
	assert_int_equal(len, 0);
	sluice__chs_release(&c);
}

static void test_chstate__every_flipped_byte_is_detected(void **state)
{
	sluice__chs_entry *e = NULL;
	size_t len, n, i;
	uint8_t *b = blob_of(&len);

	(void)state;
	for (i = 0; i < len; i++) {
		int rc;

		b[i] ^= 0x40;
		rc = sluice__chs_parse(b, len, "op 3-count subtask 1", &e, &n);
		assert_true(rc == SLUICE_ECORRUPT || rc == SLUICE_EUNSUPPORTED);
		assert_non_null(strstr(
			sluice_error_last()->message, "op 3-count subtask 1"));
		b[i] ^= 0x40;
	}
	assert_int_equal(
		sluice__chs_parse(b, len - 1, "t", &e, &n), SLUICE_ECORRUPT);
	assert_int_equal(sluice__chs_parse(b, 5, "t", &e, &n), SLUICE_ECORRUPT);
	assert_non_null(strstr(sluice_error_last()->message, "truncated"));
	sluice__free(b);
}

static void test_chstate__inline_reference_reads_back(void **state)
{
	sluice_stream_handle *h;
	uint8_t file[64], *ref, *got;
	uint32_t ref_len;
	size_t len, glen;
	uint8_t *b = blob_of(&len);

	(void)state;
	/* the blob at offset 10 of a shared file */
	memset(file, 'x', sizeof(file));
	memcpy(file + 10, b, len);
	h = sluice_stream_handle_new(
		SLUICE_HANDLE_INLINE, "cs", 10 + len,
		sluice__xxh3(file, 10 + len), file);
	assert_non_null(h);
	assert_int_equal(
		sluice__chs_ref_encode(
			&ref, &ref_len, h, 10, len, sluice__xxh3(b, len)),
		0);
	assert_int_equal(
		sluice__chs_read(&got, &glen, ref, ref_len, NULL, NULL, "t"),
		0);
	assert_int_equal(glen, len);
	assert_memory_equal(got, b, len);
	sluice__free(got);
	/* a wrong blob checksum in the reference is caught */
	ref[ref_len - 1] ^= 1;
	assert_int_equal(
		sluice__chs_read(&got, &glen, ref, ref_len, NULL, NULL, "x7"),
		SLUICE_ECORRUPT);
	assert_non_null(strstr(sluice_error_last()->message, "x7"));
	/* a truncated reference is malformed */
	assert_int_equal(
		sluice__chs_read(&got, &glen, ref, 7, NULL, NULL, "x7"),
		SLUICE_ECORRUPT);
	sluice__free(ref);
	sluice_stream_handle_free(h);
	sluice__free(b);
}

/* ---- the shared writer --------------------------------------------------
 */

typedef struct world {
	sluice_storage *mem;
	sluice_storage *fault;
	sluice_checkpoint_storage *cs;
	sluice_location *loc;
	sluice_stream_factory streams;
	sluice_job_responder resp;
	int stopping;
	int acks, declines;
	int reasons[16];
	int64_t ack_ids[16];
	sluice_task_snapshot *snaps[16];
} world;

static int
w_open(void *ctx, int64_t id, sluice_scope scope, sluice_ostream **out)
{
	world *w = ctx;

	(void)id;
	return sluice_location_open_stream(out, w->loc, scope);
}

static void
w_ack(void *ctx,
      const sluice_task_info *t,
      int64_t id,
      sluice_task_snapshot *snap)
{
	world *w = ctx;

	w->ack_ids[t->index] = id;
	w->snaps[t->index] = snap;
	w->acks++;
}

static void w_decline(
	void *ctx,
	const sluice_task_info *t,
	int64_t id,
	sluice_failure_reason reason,
	const char *message)
{
	world *w = ctx;

	(void)id;
	(void)message;
	w->reasons[w->declines++] = (int)reason;
	(void)t;
}

static void world_init(world *w, long fail_write)
{
	sluice_fault_options fo = {SLUICE_FAULT_WRITE, fail_write, 0, 0};
	sluice_storage_options so;

	memset(w, 0, sizeof(*w));
	assert_int_equal(sluice_storage_memory_new(&w->mem), 0);
	assert_int_equal(sluice_fault_storage_new(&w->fault, w->mem, &fo), 0);
	sluice_storage_options_init(&so);
	so.checkpoint_dir = "memory://chstate";
	so.inline_threshold = 0; /* every stream is a file */
	so.storage = w->fault;
	assert_int_equal(sluice_checkpoint_storage_new(&w->cs, &so, JOB), 0);
	assert_int_equal(sluice_checkpoint_location_new(&w->loc, w->cs, 1), 0);
	w->streams.ctx = w;
	w->streams.open = w_open;
	w->resp.version = SLUICE_RESPONDER_VERSION;
	w->resp.ctx = w;
	w->resp.ack = w_ack;
	w->resp.decline = w_decline;
}

static void world_free(world *w)
{
	int i;

	for (i = 0; i < 16; i++)
		sluice_task_snapshot_free(w->snaps[i]);
	sluice_location_free(w->loc);
	sluice_checkpoint_storage_free(w->cs);
	sluice_storage_free(w->fault);
	sluice_storage_free(w->mem);
}

static void
contribute(world *w, sluice__csw *csw, int task, int64_t id, int data)
{
	sluice_task_snapshot *s = sluice__calloc(1, sizeof(*s));
	sluice_task_info info;
	uint8_t *b = NULL;
	size_t len = 0;

	assert_non_null(s);
	s->uid = sluice__strdup("op");
	memset(&info, 0, sizeof(info));
	info.index = task;
	if (data) {
		sluice__chs c;

		sluice__chs_init(&c);
		assert_int_equal(
			sluice__chs_add(&c, SLUICE__CHS_INPUT, 0, 0, "rec", 3),
			0);
		assert_int_equal(sluice__chs_finish(&c, &b, &len), 0);
		sluice__chs_release(&c);
	}
	(void)w;
	sluice__csw_contribute(csw, task, id, &info, s, b, len);
}

static void test_chstate__group_acks_once_all_members_acted(void **state)
{
	sluice__csw csw;
	uint8_t *blob;
	size_t len;
	world w;

	(void)state;
	world_init(&w, 0);
	/* 5 tasks, 3 per file: groups {0,1,2} and {3,4}; task 4 ended */
	assert_int_equal(
		sluice__csw_init(&csw, 5, 3, &w.streams, &w.resp, &w.stopping),
		0);
	sluice__csw_leave(&csw, 4);
	contribute(&w, &csw, 0, 1, 1);
	contribute(&w, &csw, 1, 1, 0);
	assert_int_equal(w.acks, 0); /* task 2 has not acted */
	contribute(&w, &csw, 2, 1, 1);
	assert_int_equal(w.acks, 3);
	contribute(&w, &csw, 3, 1, 1);
	assert_int_equal(w.acks, 4);
	assert_int_equal(w.declines, 0);
	/* members 0 and 2 share one file; 1 persisted nothing */
	assert_non_null(w.snaps[0]->channel_state);
	assert_null(w.snaps[1]->channel_state);
	assert_non_null(w.snaps[2]->channel_state);
	assert_int_equal(
		sluice__chs_read(
			&blob, &len, w.snaps[2]->channel_state,
			w.snaps[2]->channel_state_len, w.mem,
			sluice_location_dir(w.loc), "t"),
		0);
	sluice__free(blob);
	/* an action for an older checkpoint is ignored */
	contribute(&w, &csw, 0, 0, 1);
	assert_int_equal(w.acks, 4);
	sluice__csw_release(&csw);
	world_free(&w);
}

static void test_chstate__withdrawal_drops_the_group(void **state)
{
	sluice__csw csw;
	world w;

	(void)state;
	world_init(&w, 0);
	assert_int_equal(
		sluice__csw_init(&csw, 2, 5, &w.streams, &w.resp, &w.stopping),
		0);
	sluice__csw_withdraw(&csw, 1, 1);
	contribute(&w, &csw, 0, 1, 1);
	assert_int_equal(w.acks, 0);
	assert_int_equal(w.declines, 0);
	/* the next checkpoint works again; an unfinished older one is
	 * dropped when a newer one starts */
	contribute(&w, &csw, 0, 2, 0);
	contribute(&w, &csw, 0, 3, 0);
	contribute(&w, &csw, 1, 3, 0);
	assert_int_equal(w.acks, 2);
	assert_int_equal(w.ack_ids[0], 3);
	sluice__csw_release(&csw);
	world_free(&w);
}

static void test_chstate__failed_shared_file_aborts_the_others(void **state)
{
	sluice__csw csw;
	world w;

	(void)state;
	world_init(&w, 1); /* the first write fails */
	assert_int_equal(
		sluice__csw_init(&csw, 3, 5, &w.streams, &w.resp, &w.stopping),
		0);
	contribute(&w, &csw, 0, 1, 1);
	contribute(&w, &csw, 1, 1, 1);
	contribute(&w, &csw, 2, 1, 1);
	assert_int_equal(w.acks, 0);
	assert_int_equal(w.declines, 3);
	/* the others first, so the checkpoint fails with the shared reason */
	assert_int_equal(
		w.reasons[0], SLUICE_CFR_CHANNEL_STATE_SHARED_STREAM_EXCEPTION);
	assert_int_equal(
		w.reasons[1], SLUICE_CFR_CHANNEL_STATE_SHARED_STREAM_EXCEPTION);
	assert_int_equal(w.reasons[2], SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION);
	sluice__csw_release(&csw);
	world_free(&w);
}

static void test_chstate__one_subtask_per_file_fails_alone(void **state)
{
	sluice__csw csw;
	world w;

	(void)state;
	world_init(&w, 1);
	assert_int_equal(
		sluice__csw_init(&csw, 2, 1, &w.streams, &w.resp, &w.stopping),
		0);
	contribute(&w, &csw, 0, 1, 1);
	assert_int_equal(w.declines, 1);
	assert_int_equal(w.reasons[0], SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION);
	contribute(&w, &csw, 1, 1, 1); /* its own file: written */
	assert_int_equal(w.acks, 1);
	assert_non_null(w.snaps[1]->channel_state);
	sluice__csw_release(&csw);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chstate__blob_round_trips_in_order),
		cmocka_unit_test(test_chstate__empty_collection_has_no_blob),
		cmocka_unit_test(test_chstate__every_flipped_byte_is_detected),
		cmocka_unit_test(test_chstate__inline_reference_reads_back),
		cmocka_unit_test(
			test_chstate__group_acks_once_all_members_acted),
		cmocka_unit_test(test_chstate__withdrawal_drops_the_group),
		cmocka_unit_test(
			test_chstate__failed_shared_file_aborts_the_others),
		cmocka_unit_test(
			test_chstate__one_subtask_per_file_fails_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
