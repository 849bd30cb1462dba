/* Utilities: last error, buffers and readers, hashing, clocks, allocation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/clock.h"
#include "sluice/common.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

static void test_error__set_and_clear(void **st)
{
	(void)st;
	sluice_error_clear();
	assert_int_equal(sluice_error_last()->code, 0);
	assert_string_equal(sluice_error_last()->message, "");
	assert_int_equal(
		sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG, "key '%s': bad",
			"a.b"),
		SLUICE_EINVALID);
	assert_int_equal(sluice_error_last()->code, SLUICE_EINVALID);
	assert_int_equal(sluice_error_last()->klass, SLUICE_ERRCLS_CONFIG);
	assert_string_equal(sluice_error_last()->message, "key 'a.b': bad");
	assert_int_equal(
		sluice__error_wrap("loading %s", "f.yaml"), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message, "loading f.yaml: key 'a.b': bad");
	sluice_error_clear();
	assert_int_equal(sluice_error_last()->code, 0);
}

static void test_error__os_maps_errno(void **st)
{
	(void)st;
	errno = ENOENT;
	assert_int_equal(
		sluice__error_os(SLUICE_ERRCLS_OS, "open '%s'", "x"),
		SLUICE_ENOTFOUND);
	assert_non_null(strstr(sluice_error_last()->message, "open 'x': "));
	errno = EACCES;
	assert_int_equal(
		sluice__error_os(SLUICE_ERRCLS_OS, "open"), SLUICE_EIO);
	assert_string_equal(sluice_code_name(SLUICE_ECORRUPT), "ECORRUPT");
	assert_string_equal(sluice_code_name(-99), "UNKNOWN");
}

static void test_buf__round_trip_big_endian(void **st)
{
	sluice_buf b = SLUICE_BUF_INIT;
	sluice_reader r;
	sluice_slice s;

	(void)st;
	assert_int_equal(sluice_buf_put_u8(&b, 0xab), 0);
	assert_int_equal(sluice_buf_put_u16(&b, 0x1234), 0);
	assert_int_equal(sluice_buf_put_u32(&b, 0xdeadbeef), 0);
	assert_int_equal(sluice_buf_put_u64(&b, 0x0102030405060708ULL), 0);
	assert_int_equal(sluice_buf_put_varint(&b, 300), 0);
	assert_int_equal(sluice_buf_put_varint(&b, UINT64_MAX), 0);
	assert_int_equal(sluice_buf_put_bytes32(&b, "xyz", 3), 0);
	assert_int_equal(sluice_buf_put_str16(&b, "hello"), 0);
	assert_int_equal(b.ptr[1], 0x12);
	assert_int_equal(b.ptr[3], 0xde);

	sluice_reader_init(&r, b.ptr, b.len);
	assert_int_equal(sluice_reader_u8(&r), 0xab);
	assert_int_equal(sluice_reader_u16(&r), 0x1234);
	assert_int_equal(sluice_reader_u32(&r), 0xdeadbeef);
	assert_true(sluice_reader_u64(&r) == 0x0102030405060708ULL);
	assert_int_equal(sluice_reader_varint(&r), 300);
	assert_true(sluice_reader_varint(&r) == UINT64_MAX);
	s = sluice_reader_bytes32(&r);
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.data, "xyz", 3);
	s = sluice_reader_str16(&r);
	assert_int_equal(s.len, 5);
	assert_int_equal(sluice_reader_left(&r), 0);
	assert_false(r.failed);
	sluice_buf_release(&b);
}

static void test_reader__short_reads_fail_sticky(void **st)
{
	static const unsigned char bytes[] = {0, 0, 0, 9, 'a', 'b'};
	sluice_reader r;
	sluice_slice s;

	(void)st;
	sluice_reader_init(&r, bytes, sizeof(bytes));
	s = sluice_reader_bytes32(&r); /* claims 9 bytes, has 2 */
	assert_null(s.data);
	assert_true(r.failed);
	assert_int_equal(sluice_reader_u8(&r), 0);
	assert_true(r.failed);
}

static void test_reader__overlong_varint_fails(void **st)
{
	unsigned char bytes[11];
	sluice_reader r;

	(void)st;
	memset(bytes, 0xff, sizeof(bytes));
	sluice_reader_init(&r, bytes, sizeof(bytes));
	sluice_reader_varint(&r);
	assert_true(r.failed);
}

static void test_buf__printf_and_detach(void **st)
{
	sluice_buf b = SLUICE_BUF_INIT;
	uint8_t *p;
	size_t n;

	(void)st;
	assert_int_equal(sluice_buf_printf(&b, "chk-%d", 42), 0);
	assert_int_equal(sluice_buf_cstr(&b), 0);
	assert_string_equal((char *)b.ptr, "chk-42");
	p = sluice_buf_detach(&b, &n);
	assert_int_equal(n, 6);
	assert_null(b.ptr);
	sluice__free(p);
}

static void test_hash__key_hash_is_stable(void **st)
{
	sluice_xxh3_state *s;

	(void)st;
	/* These values are part of the on-disk contract (key groups). */
	assert_true(sluice__xxh3("", 0) == 0x2d06800538d394c2ULL);
	assert_int_equal(sluice__hash32("k1", 2), sluice__hash32("k1", 2));
	assert_int_not_equal(sluice__hash32("k1", 2), sluice__hash32("k2", 2));
	s = sluice__xxh3_new();
	assert_non_null(s);
	sluice__xxh3_update(s, "hello ", 6);
	sluice__xxh3_update(s, "world", 5);
	assert_true(sluice__xxh3_digest(s) == sluice__xxh3("hello world", 11));
	sluice__xxh3_free(s);
}

static void test_clock__manual_clock_moves_only_when_advanced(void **st)
{
	sluice_manual_clock mc;
	sluice_clock *c = &mc.base;
	int64_t t0;

	(void)st;
	sluice_manual_clock_init(&mc, 1000);
	assert_int_equal(sluice_clock_wall_ms(c), 1000);
	t0 = sluice_clock_mono_ms(c);
	sluice_manual_clock_advance(&mc, 250);
	assert_int_equal(sluice_clock_wall_ms(c), 1250);
	assert_int_equal(sluice_clock_mono_ms(c) - t0, 250);
	assert_true(sluice_clock_mono_ns(sluice_clock_system()) > 0);
}

static void test_alloc__fail_after_countdown(void **st)
{
	void *a, *b;

	(void)st;
	sluice__alloc_fail_after(1);
	a = sluice__malloc(8);
	b = sluice__malloc(8);
	sluice__alloc_fail_after(-1);
	assert_non_null(a);
	assert_null(b);
	sluice__free(a);
	a = sluice__malloc(8);
	assert_non_null(a);
	sluice__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error__set_and_clear),
		cmocka_unit_test(test_error__os_maps_errno),
		cmocka_unit_test(test_buf__round_trip_big_endian),
		cmocka_unit_test(test_reader__short_reads_fail_sticky),
		cmocka_unit_test(test_reader__overlong_varint_fails),
		cmocka_unit_test(test_buf__printf_and_detach),
		cmocka_unit_test(test_hash__key_hash_is_stable),
		cmocka_unit_test(
			test_clock__manual_clock_moves_only_when_advanced),
		cmocka_unit_test(test_alloc__fail_after_countdown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
