/* s3:// and obs:// locations, key joining, and Flink's entropy injection. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/common.h"
#include "storage/s3/uri.h"
#include "util/buf.h"

static void parse_ok(
	const char *uri,
	const char *scheme,
	const char *bucket,
	const char *prefix)
{
	s3_uri u;

	assert_int_equal(s3_uri_parse(&u, uri), 0);
	assert_string_equal(u.scheme, scheme);
	assert_string_equal(u.bucket, bucket);
	assert_string_equal(u.prefix, prefix);
	s3_uri_release(&u);
}

static void parse_bad(const char *uri, const char *why)
{
	s3_uri u;

	assert_int_equal(s3_uri_parse(&u, uri), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, uri));
	assert_non_null(strstr(sluice_error_last()->message, why));
	assert_null(u.bucket);
}

static void test_s3_uri__parses_schemes_bucket_and_prefix(void **st)
{
	(void)st;
	parse_ok(
		"s3://my-bucket/flink/checkpoints", "s3", "my-bucket",
		"flink/checkpoints");
	parse_ok("obs://bucket.1/a", "obs", "bucket.1", "a");
	parse_ok("S3A://abc", "s3a", "abc", "");
	parse_ok("s3p://abc/", "s3p", "abc", "");
	parse_ok("s3://abc//x///y//", "s3", "abc", "x/y");
	assert_true(s3_uri_is_object_store("obs://b/x"));
	assert_false(s3_uri_is_object_store("file:///tmp/x"));
	assert_false(s3_uri_is_object_store("s3:/b"));
}

static void test_s3_uri__rejects_bad_schemes_and_bucket_names(void **st)
{
	(void)st;
	parse_bad("hdfs://nn/x", "expected s3://");
	parse_bad("s3:///x", "missing bucket name");
	parse_bad("s3://ab/x", "3 to 63");
	parse_bad("s3://My_Bucket/x", "may only contain");
	parse_bad("s3://-abc/x", "start and end");
	parse_bad("s3://abc-/x", "start and end");
}

static void test_s3_uri__joins_keys_under_prefix(void **st)
{
	sluice_buf b = SLUICE_BUF_INIT;
	s3_uri u;

	(void)st;
	assert_int_equal(s3_uri_parse(&u, "s3://bkt/base/"), 0);
	assert_int_equal(s3_uri_key(&b, &u, "chk-1/_metadata"), 0);
	assert_string_equal((const char *)b.ptr, "base/chk-1/_metadata");
	s3_uri_release(&u);
	sluice_buf_clear(&b);
	assert_int_equal(s3_uri_parse(&u, "obs://bkt"), 0);
	assert_int_equal(s3_uri_key(&b, &u, "/shared/x"), 0);
	assert_string_equal((const char *)b.ptr, "shared/x");
	s3_uri_release(&u);
	sluice_buf_release(&b);
}

static void test_s3_entropy__data_files_get_random_alphanumerics(void **st)
{
	sluice_buf b = SLUICE_BUF_INIT, b2 = SLUICE_BUF_INIT;
	const char *p = "_entropy_/flink/chk-7/f1";
	size_t i;

	(void)st;
	assert_int_equal(s3_entropy_resolve(&b, p, "_entropy_", 4, 1, 42), 0);
	assert_int_equal(b.len, strlen("abcd/flink/chk-7/f1"));
	for (i = 0; i < 4; i++)
		assert_true(isalnum(b.ptr[i]));
	assert_string_equal((const char *)b.ptr + 4, "/flink/chk-7/f1");
	/* same seed, same path; other seed, other entropy */
	assert_int_equal(s3_entropy_resolve(&b2, p, "_entropy_", 4, 1, 42), 0);
	assert_string_equal((const char *)b.ptr, (const char *)b2.ptr);
	sluice_buf_clear(&b2);
	assert_int_equal(s3_entropy_resolve(&b2, p, "_entropy_", 4, 1, 43), 0);
	assert_memory_not_equal(b.ptr, b2.ptr, 4);
	sluice_buf_clear(&b);
	assert_int_equal(
		s3_entropy_resolve(&b, "cp/__E__/x", "__E__", 10, 1, 1), 0);
	assert_int_equal(b.len, strlen("cp/") + 10 + strlen("/x"));
	assert_memory_equal(b.ptr, "cp/", 3);
	sluice_buf_release(&b);
	sluice_buf_release(&b2);
}

static void test_s3_entropy__metadata_path_drops_marker(void **st)
{
	sluice_buf b = SLUICE_BUF_INIT;

	(void)st;
	assert_int_equal(
		s3_entropy_resolve(
			&b, "_entropy_/flink/chk-7/_metadata", "_entropy_", 4,
			0, 42),
		0);
	assert_string_equal((const char *)b.ptr, "flink/chk-7/_metadata");
	sluice_buf_clear(&b);
	assert_int_equal(
		s3_entropy_resolve(
			&b, "/_entropy_/flink/_metadata", "_entropy_", 4, 0,
			42),
		0);
	assert_string_equal((const char *)b.ptr, "/flink/_metadata");
	sluice_buf_clear(&b);
	assert_int_equal(
		s3_entropy_resolve(
			&b, "a/_entropy_/b/_entropy_/c", "_entropy_", 4, 0, 42),
		0);
	assert_string_equal((const char *)b.ptr, "a/b/_entropy_/c");
	sluice_buf_clear(&b);
	assert_int_equal(
		s3_entropy_resolve(&b, "a/b/c", "_entropy_", 4, 1, 42), 0);
	assert_string_equal((const char *)b.ptr, "a/b/c");
	sluice_buf_clear(&b);
	assert_int_equal(s3_entropy_resolve(&b, "a/b", NULL, 4, 1, 42), 0);
	assert_string_equal((const char *)b.ptr, "a/b");
	sluice_buf_release(&b);
}

static void test_s3_entropy__rejects_bad_key_and_length(void **st)
{
	(void)st;
	assert_int_equal(s3_entropy_check("_entropy_", 4), 0);
	assert_int_equal(s3_entropy_check(NULL, 0), 0);
	assert_int_equal(s3_entropy_check("a#b", 4), SLUICE_EINVALID);
	assert_non_null(
		strstr(sluice_error_last()->message, "s3.entropy.key: 'a#b'"));
	assert_int_equal(s3_entropy_check("_e_", 0), SLUICE_EINVALID);
	assert_string_equal(
		sluice_error_last()->message,
		"s3.entropy.length: must be > 0, got 0");
	assert_true(s3_entropy_seed() != s3_entropy_seed());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s3_uri__parses_schemes_bucket_and_prefix),
		cmocka_unit_test(
			test_s3_uri__rejects_bad_schemes_and_bucket_names),
		cmocka_unit_test(test_s3_uri__joins_keys_under_prefix),
		cmocka_unit_test(
			test_s3_entropy__data_files_get_random_alphanumerics),
		cmocka_unit_test(test_s3_entropy__metadata_path_drops_marker),
		cmocka_unit_test(test_s3_entropy__rejects_bad_key_and_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
