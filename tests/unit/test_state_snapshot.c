/*
 * The canonical keyed snapshot format through the front end: round trips
 * (plain, zstd, lz4), an empty backend, consistency of the view while the
 * task thread keeps writing (on another thread), and damaged streams: every
 * bit flip and every truncation fails with a corruption error that names
 * the key group (and state), never a crash or silent partial state.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/state.h"
#include "util/buf.h"
#include "util/hash.h"

static sluice_slice S(const char *s)
{
	return SLUICE_SLICE(s, strlen(s));
}

static const sluice_state_desc vdesc = {
	.name = "v", .kind = SLUICE_STATE_VALUE};
static const sluice_state_desc mdesc = {.name = "m", .kind = SLUICE_STATE_MAP};

static sluice_keyed_backend *new_kb(sluice_snapshot_codec codec, int32_t maxp)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb;

	sluice_keyed_options_init(&o);
	o.compression = codec;
	o.max_parallelism = maxp;
	assert_int_equal(sluice_keyed_backend_new(&kb, &o), 0);
	return kb;
}

static void fill(sluice_keyed_backend *kb, int n, const char *tag)
{
	sluice_state *v, *m;
	char key[32], val[64];
	int i;

	assert_int_equal(sluice_keyed_backend_state(&v, kb, &vdesc), 0);
	assert_int_equal(sluice_keyed_backend_state(&m, kb, &mdesc), 0);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		snprintf(
			val, sizeof(val), "%s-value-%d-padding-padding-padding",
			tag, i);
		assert_int_equal(sluice_keyed_backend_set_key(kb, S(key)), 0);
		assert_int_equal(sluice_value_update(v, S(val)), 0);
		assert_int_equal(sluice_map_put(m, S("a"), S(val)), 0);
	}
}

static void check(sluice_keyed_backend *kb, int n, const char *tag)
{
	sluice_state *v, *m;
	char key[32], val[64];
	sluice_slice got;
	int i;

	assert_int_equal(sluice_keyed_backend_state(&v, kb, &vdesc), 0);
	assert_int_equal(sluice_keyed_backend_state(&m, kb, &mdesc), 0);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		snprintf(
			val, sizeof(val), "%s-value-%d-padding-padding-padding",
			tag, i);
		assert_int_equal(sluice_keyed_backend_set_key(kb, S(key)), 0);
		assert_int_equal(sluice_value_get(v, &got), 0);
		assert_int_equal(got.len, strlen(val));
		assert_memory_equal(got.data, val, got.len);
		assert_int_equal(sluice_map_get(m, S("a"), &got), 0);
		assert_memory_equal(got.data, val, got.len);
	}
}

static sluice_keyed_handle *snapshot(sluice_keyed_backend *kb)
{
	sluice_keyed_snapshot *s;
	sluice_ostream *os;
	sluice_keyed_handle *h = NULL;

	assert_int_equal(sluice_keyed_snapshot_sync(&s, kb), 0);
	assert_int_equal(sluice_mem_ostream_new(&os, "chk-1/state"), 0);
	assert_int_equal(sluice_keyed_snapshot_write(s, os, &h), 0);
	sluice_keyed_snapshot_free(s);
	return h;
}

static int
restore(sluice_keyed_backend *kb,
	const sluice_keyed_handle *h,
	sluice_open_fn open)
{
	const sluice_keyed_handle *hs[1] = {h};

	return sluice_keyed_backend_restore(kb, hs, 1, open, NULL);
}

static void roundtrip(sluice_snapshot_codec codec, uint64_t *size)
{
	sluice_keyed_backend *kb = new_kb(codec, 0), *kb2 = new_kb(codec, 0);
	sluice_keyed_handle *h;

	fill(kb, 3000, "t");
	h = snapshot(kb);
	assert_non_null(h);
	assert_int_equal(h->start_key_group, 0);
	assert_int_equal(h->num_key_groups, 128);
	assert_int_equal(h->stream->kind, SLUICE_HANDLE_INLINE);
	*size = h->stream->size;
	assert_int_equal(restore(kb2, h, NULL), 0);
	check(kb2, 3000, "t");
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(kb);
	sluice_keyed_backend_free(kb2);
}

static void test_snapshot__roundtrip_plain_zstd_lz4(void **state)
{
	uint64_t plain, zstd, lz4;

	(void)state;
	roundtrip(SLUICE_CODEC_NONE, &plain);
	roundtrip(SLUICE_CODEC_ZSTD, &zstd);
	roundtrip(SLUICE_CODEC_LZ4, &lz4);
	assert_true(zstd < plain);
	assert_true(lz4 < plain);
}

static void test_snapshot__same_state_gives_same_bytes(void **state)
{
	sluice_keyed_backend *a = new_kb(0, 0), *b = new_kb(0, 0);
	sluice_keyed_handle *ha, *hb;
	sluice_state *v;
	char key[16];
	int i;

	(void)state;
	fill(a, 500, "x");
	/* b: same content, other insertion order and history */
	assert_int_equal(sluice_keyed_backend_state(&v, b, &vdesc), 0);
	for (i = 0; i < 700; i++) {
		snprintf(key, sizeof(key), "junk-%d", i);
		assert_int_equal(sluice_keyed_backend_set_key(b, S(key)), 0);
		assert_int_equal(sluice_value_update(v, S("j")), 0);
	}
	fill(b, 500, "x");
	for (i = 0; i < 700; i++) {
		snprintf(key, sizeof(key), "junk-%d", i);
		assert_int_equal(sluice_keyed_backend_set_key(b, S(key)), 0);
		assert_int_equal(sluice_state_clear(v), 0);
	}
	ha = snapshot(a);
	hb = snapshot(b);
	assert_int_equal(ha->stream->size, hb->stream->size);
	assert_true(ha->stream->checksum == hb->stream->checksum);
	sluice_keyed_handle_free(ha);
	sluice_keyed_handle_free(hb);
	sluice_keyed_backend_free(a);
	sluice_keyed_backend_free(b);
}

static void test_snapshot__empty_backend_writes_nothing(void **state)
{
	sluice_keyed_backend *kb = new_kb(0, 0);

	(void)state;
	assert_null(snapshot(kb));
	sluice_keyed_backend_free(kb);
}

typedef struct writer {
	sluice_keyed_snapshot *s;
	sluice_keyed_handle *h;
	int rc;
} writer;

static void *write_thread(void *arg)
{
	writer *w = arg;
	sluice_ostream *os;

	w->rc = sluice_mem_ostream_new(&os, "async");
	if (w->rc == 0)
		w->rc = sluice_keyed_snapshot_write(w->s, os, &w->h);
	sluice_keyed_snapshot_free(w->s);
	return NULL;
}

static void test_snapshot__async_write_sees_the_sync_time_view(void **state)
{
	sluice_keyed_backend *kb = new_kb(0, 0), *kb2 = new_kb(0, 0);
	pthread_t t;
	writer w;

	(void)state;
	fill(kb, 5000, "before");
	assert_int_equal(sluice_keyed_snapshot_sync(&w.s, kb), 0);
	assert_int_equal(pthread_create(&t, NULL, write_thread, &w), 0);
	fill(kb, 5000, "after"); /* concurrently with the writer */
	fill(kb, 9000, "more");
	pthread_join(t, NULL);
	assert_int_equal(w.rc, 0);
	assert_int_equal(restore(kb2, w.h, NULL), 0);
	check(kb2, 5000, "before");
	check(kb, 9000, "more");
	{
		sluice_state *v;
		sluice_slice got;

		assert_int_equal(
			sluice_keyed_backend_state(&v, kb2, &vdesc), 0);
		assert_int_equal(
			sluice_keyed_backend_set_key(kb2, S("key-5000")), 0);
		assert_int_equal(sluice_value_get(v, &got), SLUICE_ENOTFOUND);
	}
	sluice_keyed_handle_free(w.h);
	sluice_keyed_backend_free(kb);
	sluice_keyed_backend_free(kb2);
}

/* Opens inline bytes without the handle's own checksum check, so the
 * format's checks are what is tested. */
static int
open_raw(void *ctx, const sluice_stream_handle *h, sluice_istream **out)
{
	(void)ctx;
	return sluice_mem_istream_new(out, h->data, (size_t)h->size);
}

static void test_snapshot__every_bit_flip_is_detected(void **state)
{
	sluice_keyed_backend *kb = new_kb(SLUICE_CODEC_ZSTD, 0);
	sluice_keyed_handle *h;
	uint64_t i;
	int named = 0;

	(void)state;
	fill(kb, 40, "f");
	h = snapshot(kb);
	for (i = 0; i < h->stream->size; i++) {
		sluice_keyed_backend *kb2 = new_kb(0, 0);
		int rc, bit = (int)(i % 8);

		h->stream->data[i] ^= (uint8_t)(1u << bit);
		rc = restore(kb2, h, open_raw);
		assert_true(rc == SLUICE_ECORRUPT || rc == SLUICE_EINVALID);
		assert_non_null(
			strstr(sluice_error_last()->message, "chk-1/state"));
		if (strstr(sluice_error_last()->message, "key group") &&
		    strstr(sluice_error_last()->message, "state '"))
			named++;
		/* the handle checksum catches it too */
		assert_int_equal(restore(kb2, h, NULL), SLUICE_ECORRUPT);
		h->stream->data[i] ^= (uint8_t)(1u << bit);
		sluice_keyed_backend_free(kb2);
	}
	assert_true(named > 0);
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(kb);
}

static void test_snapshot__every_truncation_is_detected(void **state)
{
	sluice_keyed_backend *kb = new_kb(0, 0);
	sluice_keyed_handle *h;
	uint64_t full, n;

	(void)state;
	fill(kb, 30, "t");
	h = snapshot(kb);
	full = h->stream->size;
	for (n = 0; n < full; n++) {
		sluice_keyed_backend *kb2 = new_kb(0, 0);

		h->stream->size = n;
		assert_int_equal(restore(kb2, h, open_raw), SLUICE_ECORRUPT);
		sluice_keyed_backend_free(kb2);
	}
	h->stream->size = full;
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(kb);
}

static void test_snapshot__wrong_version_and_magic_are_reported(void **state)
{
	sluice_keyed_backend *kb = new_kb(0, 0), *kb2 = new_kb(0, 0);
	sluice_keyed_handle *h;
	size_t hlen = 22 + 2 + 1 + 10 + 2 + 1 + 10; /* two states "v", "m" */

	(void)state;
	fill(kb, 5, "v");
	h = snapshot(kb);
	h->stream->data[5] = 9; /* version 9, header checksum fixed up */
	sluice__be64(
		h->stream->data + hlen, sluice__xxh3(h->stream->data, hlen));
	assert_int_equal(restore(kb2, h, open_raw), SLUICE_ECORRUPT);
	assert_non_null(strstr(
		sluice_error_last()->message, "unsupported format version 9"));
	h->stream->data[0] = 'X';
	assert_int_equal(restore(kb2, h, open_raw), SLUICE_ECORRUPT);
	assert_non_null(strstr(sluice_error_last()->message, "bad magic"));
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(kb);
	sluice_keyed_backend_free(kb2);
}

static void test_snapshot__max_parallelism_must_not_change(void **state)
{
	sluice_keyed_backend *kb = new_kb(0, 128), *kb2 = new_kb(0, 256);
	sluice_keyed_handle *h;

	(void)state;
	fill(kb, 5, "v");
	h = snapshot(kb);
	assert_int_equal(restore(kb2, h, NULL), SLUICE_EINVALID);
	assert_non_null(
		strstr(sluice_error_last()->message, "max parallelism 128"));
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(kb);
	sluice_keyed_backend_free(kb2);
}

static void test_snapshot__restore_checks_kind_against_descriptor(void **state)
{
	sluice_keyed_backend *kb = new_kb(0, 0), *kb2 = new_kb(0, 0);
	sluice_keyed_handle *h;
	sluice_state *st;
	sluice_state_desc wrong = {.name = "v", .kind = SLUICE_STATE_LIST};

	(void)state;
	fill(kb, 5, "v");
	h = snapshot(kb);
	assert_int_equal(restore(kb2, h, NULL), 0);
	assert_int_equal(
		sluice_keyed_backend_state(&st, kb2, &wrong), SLUICE_EINVALID);
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(kb);
	sluice_keyed_backend_free(kb2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot__roundtrip_plain_zstd_lz4),
		cmocka_unit_test(test_snapshot__same_state_gives_same_bytes),
		cmocka_unit_test(test_snapshot__empty_backend_writes_nothing),
		cmocka_unit_test(
			test_snapshot__async_write_sees_the_sync_time_view),
		cmocka_unit_test(test_snapshot__every_bit_flip_is_detected),
		cmocka_unit_test(test_snapshot__every_truncation_is_detected),
		cmocka_unit_test(
			test_snapshot__wrong_version_and_magic_are_reported),
		cmocka_unit_test(
			test_snapshot__max_parallelism_must_not_change),
		cmocka_unit_test(
			test_snapshot__restore_checks_kind_against_descriptor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
