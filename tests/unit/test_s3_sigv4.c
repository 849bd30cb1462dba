/*
 * SigV4 signing against the worked examples of the S3 documentation
 * ("Signature Calculations for the Authorization Header: Transferring
 * Payload in a Single Chunk"): example credentials AKIAIOSFODNN7EXAMPLE /
 * wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, us-east-1, 20130524T000000Z,
 * bucket examplebucket.  Expected string-to-sign hashes and signatures are
 * the documented ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "storage/s3/sigv4.h"
#include "util/buf.h"

#define HOST "examplebucket.s3.amazonaws.com"
#define DATE "20130524T000000Z"

static const s3_sigv4_creds creds = {
	"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"us-east-1", "s3"};

static void
check_sign(const s3_sigv4_request *req, const char *sts_hash, const char *auth)
{
	sluice_buf a = SLUICE_BUF_INIT, sts = SLUICE_BUF_INIT;
	char want[200];

	assert_int_equal(s3_sigv4_sign(&a, &sts, req, &creds, DATE), 0);
	snprintf(
		want, sizeof(want),
		"AWS4-HMAC-SHA256\n" DATE "\n20130524/us-east-1/s3/"
		"aws4_request\n%s",
		sts_hash);
	assert_int_equal(sts.len, strlen(want));
	assert_memory_equal(sts.ptr, want, sts.len);
	assert_string_equal((const char *)a.ptr, auth);
	sluice_buf_release(&a);
	sluice_buf_release(&sts);
}

static void test_s3_sigv4__get_object_with_range_matches_aws_example(void **st)
{
	const s3_pair h[] = {
		{"Host", HOST},
		{"Range", "bytes=0-9"},
		{"x-amz-content-sha256", S3_EMPTY_SHA256},
		{"x-amz-date", DATE}};
	const s3_sigv4_request req = {"GET", "/test.txt", NULL,           0,
				      h,     4,           S3_EMPTY_SHA256};
	sluice_buf cr = SLUICE_BUF_INIT;

	(void)st;
	assert_int_equal(s3_sigv4_canonical_request(&cr, &req), 0);
	assert_int_equal(sluice_buf_cstr(&cr), 0);
	assert_string_equal(
		(const char *)cr.ptr,
		"GET\n/test.txt\n\nhost:" HOST "\n"
		"range:bytes=0-9\n"
		"x-amz-content-sha256:" S3_EMPTY_SHA256 "\n"
		"x-amz-date:" DATE "\n\n"
		"host;range;x-amz-content-sha256;x-amz-date\n" S3_EMPTY_SHA256);
	sluice_buf_release(&cr);
	check_sign(
		&req,
		"7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964"
		"946972",
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
		"us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-"
		"content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd"
		"35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_s3_sigv4__put_object_encodes_dollar_and_hashes_body(void **st)
{
	const char body[] = "Welcome to Amazon S3.";
	char hash[65];
	s3_pair h[] = {
		{"x-amz-storage-class", "REDUCED_REDUNDANCY"},
		{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
		{"x-amz-date", DATE},
		{"HOST", HOST},
		{"x-amz-content-sha256", NULL}};
	s3_sigv4_request req = {"PUT", "/test$file.text", NULL, 0, h, 5, NULL};

	(void)st;
	s3_sha256_hex(hash, body, strlen(body));
	assert_string_equal(
		hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b"
		      "4e99e42034a8b803f8b072");
	h[4].value = hash;
	req.payload_hash = hash;
	check_sign(
		&req,
		"9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b41583"
		"42019d",
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
		"us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-"
		"content-sha256;x-amz-date;x-amz-storage-class,Signature="
		"98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece"
		"108bd");
}

static void
test_s3_sigv4__valueless_subresource_is_signed_as_name_equals(void **st)
{
	const s3_pair q[] = {{"lifecycle", NULL}};
	const s3_pair h[] = {
		{"x-amz-date", DATE},
		{"host", HOST},
		{"x-amz-content-sha256", S3_EMPTY_SHA256}};
	const s3_sigv4_request req = {"GET", "/", q, 1, h, 3, S3_EMPTY_SHA256};

	(void)st;
	check_sign(
		&req,
		"9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c7"
		"7395ca",
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
		"us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-"
		"sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfb"
		"be0d65c699e0f91ac7a200a0136783543");
}

static void test_s3_sigv4__query_parameters_are_sorted(void **st)
{
	const s3_pair q[] = {{"prefix", "J"}, {"max-keys", "2"}};
	const s3_pair h[] = {
		{"host", HOST},
		{"x-amz-content-sha256", S3_EMPTY_SHA256},
		{"x-amz-date", DATE}};
	const s3_sigv4_request req = {"GET", "/", q, 2, h, 3, S3_EMPTY_SHA256};

	(void)st;
	check_sign(
		&req,
		"df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7d"
		"f1b9b7",
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
		"us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-"
		"sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a"
		"86f0a534bc59db6670ed5711ef69dc6f7");
}

static void test_s3_sigv4__uri_encode_reserved_and_utf8(void **st)
{
	sluice_buf b = SLUICE_BUF_INIT;
	const char *s = "a b/c+d=e~f_g.h-i*\xc3\xa9";

	(void)st;
	assert_int_equal(s3_uri_encode(&b, s, strlen(s), 1), 0);
	assert_int_equal(sluice_buf_cstr(&b), 0);
	assert_string_equal(
		(const char *)b.ptr, "a%20b/c%2Bd%3De~f_g.h-i%2A%C3%A9");
	sluice_buf_clear(&b);
	assert_int_equal(s3_uri_encode(&b, "x/y", 3, 0), 0);
	assert_int_equal(sluice_buf_cstr(&b), 0);
	assert_string_equal((const char *)b.ptr, "x%2Fy");
	sluice_buf_release(&b);
}

static void
test_s3_sigv4__query_values_encode_slash_and_header_spaces_fold(void **st)
{
	const s3_pair q[] = {{"prefix", "chk-1/a b"}, {"uploads", NULL}};
	const s3_pair h[] = {{"Host", "h"}, {"X-Meta", "  a   b  c "}};
	const s3_sigv4_request req = {
		"POST", "/b/k", q, 2, h, 2, S3_UNSIGNED_PAYLOAD};
	sluice_buf cr = SLUICE_BUF_INIT;

	(void)st;
	assert_int_equal(s3_sigv4_canonical_request(&cr, &req), 0);
	assert_int_equal(sluice_buf_cstr(&cr), 0);
	assert_string_equal(
		(const char *)cr.ptr,
		"POST\n/b/k\nprefix=chk-1%2Fa%20b&uploads=\n"
		"host:h\nx-meta:a b c\n\nhost;x-meta\n"
		"UNSIGNED-PAYLOAD");
	sluice_buf_release(&cr);
}

static void test_s3_sigv4__amz_date_formats_utc(void **st)
{
	char d[17];

	(void)st;
	s3_amz_date(d, 1369353600000LL); /* 2013-05-24T00:00:00Z */
	assert_string_equal(d, DATE);
	s3_amz_date(d, 1700000000123LL);
	assert_string_equal(d, "20231114T221320Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_s3_sigv4__get_object_with_range_matches_aws_example),
		cmocka_unit_test(
			test_s3_sigv4__put_object_encodes_dollar_and_hashes_body),
		cmocka_unit_test(
			test_s3_sigv4__valueless_subresource_is_signed_as_name_equals),
		cmocka_unit_test(test_s3_sigv4__query_parameters_are_sorted),
		cmocka_unit_test(test_s3_sigv4__uri_encode_reserved_and_utf8),
		cmocka_unit_test(
			test_s3_sigv4__query_values_encode_slash_and_header_spaces_fold),
		cmocka_unit_test(test_s3_sigv4__amz_date_formats_utc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
