/*
 * The S3 client against a real S3 server.  Run by tests/e2e/s3_client.sh,
 * which starts OpenStack Swift's s3api with scripts/s3-server.sh, or by
 * hand against any S3 endpoint with SLUICE_TEST_S3_ENDPOINT,
 * SLUICE_TEST_S3_ACCESS_KEY, SLUICE_TEST_S3_SECRET_KEY (and optionally
 * SLUICE_TEST_S3_REGION) set.  Without an endpoint it exits 77 (skipped).
 *
 *   test_s3_client          objects, ranges, listing pages, batched
 *                           deletes, multipart and abort, virtual-hosted
 *                           style, UNSIGNED-PAYLOAD, empty objects, wrong
 *                           secret
 *   test_s3_client stop     the server is stopped (by running
 *                           $SLUICE_TEST_S3_STOP_CMD) in the middle of a
 *                           multipart upload: the upload fails with an I/O
 *                           error after bounded retries
 *
 * Each run works in a fresh bucket named after the process.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/clock.h"
#include "storage/s3/client.h"
#include "util/buf.h"

#define MIB (1024 * 1024)

static char bucket[64];

static s3_client_opts base_opts(void)
{
	s3_client_opts o = {0};

	o.endpoint = getenv("SLUICE_TEST_S3_ENDPOINT");
	o.access_key = getenv("SLUICE_TEST_S3_ACCESS_KEY");
	o.secret_key = getenv("SLUICE_TEST_S3_SECRET_KEY");
	o.region = getenv("SLUICE_TEST_S3_REGION");
	o.path_style = 1;
	o.part_size = 5 * MIB;
	o.upload_threads = 2;
	o.retry_total_ms = 3000;
	o.backoff_base_ms = 50;
	o.backoff_max_ms = 400;
	return o;
}

static s3_client *client(void)
{
	s3_client_opts o = base_opts();
	s3_client *c = NULL;

	assert_int_equal(s3_client_new(&c, &o), 0);
	return c;
}

static int setup_bucket(void **st)
{
	s3_client *c = client();
	int rc;

	(void)st;
	snprintf(
		bucket, sizeof(bucket), "sluice-test-%ld-%lld", (long)getpid(),
		(long long)(sluice_clock_mono_ns(sluice_clock_system()) % 1000000));
	rc = s3_client_create_bucket(c, bucket);
	if (rc < 0)
		fprintf(stderr, "create bucket: %s\n",
			sluice_error_last()->message);
	s3_client_free(c);
	return rc < 0 ? -1 : 0;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void test_s3_client__put_get_range_head(void **st)
{
	s3_client *c = client();
	sluice_buf b = SLUICE_BUF_INIT;
	const char *key = "obj/a b$+=.txt";
	uint64_t size = 0;

	(void)st;
	assert_int_equal(
		s3_client_put_object(c, bucket, key, "hello world", 11), 0);
	assert_int_equal(
		s3_client_get_object(c, &b, bucket, key, 0, UINT64_MAX), 0);
	assert_int_equal(b.len, 11);
	assert_memory_equal(b.ptr, "hello world", 11);
	sluice_buf_clear(&b);
	assert_int_equal(s3_client_get_object(c, &b, bucket, key, 6, 5), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.ptr, "world", 5);
	/* past the end: what exists */
	assert_int_equal(s3_client_get_object(c, &b, bucket, key, 9, 100), 0);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.ptr + 5, "ld", 2);
	sluice_buf_clear(&b);
	assert_int_equal(
		s3_client_get_object(c, &b, bucket, key, 50, 5),
		SLUICE_EINVALID);
	assert_int_equal(s3_client_head_object(c, &size, bucket, key), 0);
	assert_int_equal(size, 11);
	assert_int_equal(
		s3_client_head_object(c, &size, bucket, "nope"),
		SLUICE_ENOTFOUND);
	assert_int_equal(
		s3_client_get_object(c, &b, bucket, "nope", 0, 10),
		SLUICE_ENOTFOUND);
	assert_non_null(strstr(sluice_error_last()->message, "/nope at http"));
	assert_non_null(strstr(sluice_error_last()->message, "no such key"));
	assert_int_equal(s3_client_put_object(c, bucket, "empty", NULL, 0), 0);
	assert_int_equal(
		s3_client_get_object(c, &b, bucket, "empty", 0, 10), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(s3_client_head_object(c, &size, bucket, "empty"), 0);
	assert_int_equal(size, 0);
	assert_int_equal(s3_client_delete_object(c, bucket, key), 0);
	assert_int_equal(
		s3_client_head_object(c, &size, bucket, key), SLUICE_ENOTFOUND);
	assert_int_equal(s3_client_delete_object(c, bucket, key), 0);
	assert_int_equal(s3_client_create_bucket(c, bucket), SLUICE_EEXISTS);
	sluice_buf_release(&b);
	s3_client_free(c);
}

typedef struct seen {
	int n;
	char last[64];
	int sorted;
} seen;

static int count_cb(void *ctx, const char *key, uint64_t size)
{
	seen *s = ctx;

	if (strcmp(key, s->last) <= 0)
		s->sorted = 0;
	snprintf(s->last, sizeof(s->last), "%s", key);
	s->n++;
	return size == 2 ? 0 : -100;
}

#define NKEYS   150
#define PUTTERS 6

typedef struct putter {
	s3_client *c;
	char **keys;
	int first;
	int rc;
} putter;

/* Several threads share one client: it is meant to be used that way. */
static void *put_some(void *arg)
{
	putter *p = arg;
	int i;

	for (i = p->first; i < NKEYS && p->rc == 0; i += PUTTERS)
		p->rc = s3_client_put_object(p->c, bucket, p->keys[i], "xy", 2);
	return NULL;
}

static void test_s3_client__list_pages_and_batched_delete(void **st)
{
	s3_client_opts o = base_opts();
	s3_client *c = NULL;
	s3_list_page page = {0};
	seen s = {0, "", 1};
	char *keys[NKEYS + 1];
	putter put[PUTTERS];
	pthread_t th[PUTTERS];
	int i, pages = 0, total = 0;
	char *token = NULL;

	(void)st;
	o.delete_batch = 40; /* 4 batches */
	assert_int_equal(s3_client_new(&c, &o), 0);
	for (i = 0; i < NKEYS; i++) {
		char k[32];

		snprintf(
			k, sizeof(k), "list/%s/k%04d", i % 2 ? "odd" : "even",
			i);
		keys[i] = strdup(k);
	}
	for (i = 0; i < PUTTERS; i++) {
		put[i] = (putter){c, keys, i, 0};
		assert_int_equal(
			pthread_create(&th[i], NULL, put_some, &put[i]), 0);
	}
	for (i = 0; i < PUTTERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(put[i].rc, 0);
	}
	keys[NKEYS] = strdup("list/never-written");
	assert_int_equal(
		s3_client_list(c, bucket, "list/", 25, count_cb, &s), 0);
	assert_int_equal(s.n, NKEYS);
	assert_true(s.sorted);
	do {
		assert_int_equal(
			s3_client_list_page(
				c, &page, bucket, "list/", NULL, token, 40),
			0);
		free(token);
		token = page.truncated ? strdup(page.next_token) : NULL;
		assert_true(page.count <= 40);
		total += (int)page.count;
		pages++;
		s3_list_page_release(&page);
	} while (token);
	assert_int_equal(total, NKEYS);
	assert_int_equal(pages, 4); /* 40 * 3 + 30 */
	assert_int_equal(
		s3_client_list_page(c, &page, bucket, "list/", "/", NULL, 0),
		0);
	assert_int_equal(page.count, 0);
	assert_int_equal(page.nprefixes, 2);
	assert_string_equal(page.prefixes[0], "list/even/");
	assert_string_equal(page.prefixes[1], "list/odd/");
	s3_list_page_release(&page);
	assert_int_equal(
		s3_client_delete_objects(
			c, bucket, (const char *const *)keys, NKEYS + 1),
		0);
	s.n = 0;
	assert_int_equal(
		s3_client_list(c, bucket, "list/", 0, count_cb, &s), 0);
	assert_int_equal(s.n, 0);
	for (i = 0; i <= NKEYS; i++)
		free(keys[i]);
	s3_client_free(c);
}

static void test_s3_client__multipart_parallel_parts_round_trip(void **st)
{
	s3_client *c = client();
	s3_upload *u = NULL;
	size_t n = 10 * MIB + 777, off, chunk;
	uint8_t *data = malloc(n);
	sluice_buf b = SLUICE_BUF_INIT;
	uint64_t size = 0;
	size_t uploads = 99;

	(void)st;
	fill(data, n, 7);
	assert_int_equal(s3_upload_new(&u, c, bucket, "mp/big"), 0);
	for (off = 0; off < n; off += chunk) {
		chunk = n - off < 300007 ? n - off : 300007;
		assert_int_equal(s3_upload_write(u, data + off, chunk), 0);
	}
	assert_int_equal(s3_upload_finish(u, &size), 0);
	assert_int_equal(size, n);
	assert_int_equal(s3_upload_parts(u), 3);
	s3_upload_free(u);
	assert_int_equal(s3_client_head_object(c, &size, bucket, "mp/big"), 0);
	assert_int_equal(size, n);
	assert_int_equal(
		s3_client_get_object(c, &b, bucket, "mp/big", 5 * MIB - 10, 20),
		0);
	assert_memory_equal(b.ptr, data + 5 * MIB - 10, 20);
	sluice_buf_clear(&b);
	assert_int_equal(
		s3_client_get_object(c, &b, bucket, "mp/big", 0, UINT64_MAX),
		0);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.ptr, data, n);
	assert_int_equal(
		s3_client_count_uploads(c, &uploads, bucket, "mp/"), 0);
	assert_int_equal(uploads, 0);
	sluice_buf_release(&b);
	free(data);
	s3_client_free(c);
}

static int no_object(void *ctx, const char *key, uint64_t size)
{
	(void)ctx;
	(void)size;
	fail_msg("left behind: %s", key);
	return -1;
}

static void test_s3_client__abort_leaves_nothing(void **st)
{
	s3_client *c = client();
	s3_upload *u = NULL;
	uint8_t *data = calloc(1, 6 * MIB);
	uint64_t size;
	size_t uploads = 99;

	(void)st;
	assert_int_equal(s3_upload_new(&u, c, bucket, "ab/x"), 0);
	assert_int_equal(s3_upload_write(u, data, 6 * MIB), 0);
	assert_int_equal(s3_upload_parts(u), 1);
	assert_int_equal(s3_upload_abort(u), 0);
	assert_int_equal(s3_upload_write(u, "x", 1), SLUICE_EINVALID);
	s3_upload_free(u);
	assert_int_equal(
		s3_client_head_object(c, &size, bucket, "ab/x"),
		SLUICE_ENOTFOUND);
	assert_int_equal(
		s3_client_count_uploads(c, &uploads, bucket, "ab/"), 0);
	assert_int_equal(uploads, 0);
	assert_int_equal(
		s3_client_list(c, bucket, "ab/", 0, no_object, NULL), 0);
	/* a small object never starts a multipart upload */
	assert_int_equal(s3_upload_new(&u, c, bucket, "ab/small"), 0);
	assert_int_equal(s3_upload_write(u, data, 1000), 0);
	assert_int_equal(s3_upload_finish(u, &size), 0);
	assert_int_equal(s3_upload_parts(u), 0);
	assert_int_equal(size, 1000);
	s3_upload_free(u);
	free(data);
	s3_client_free(c);
}

static void test_s3_client__virtual_hosted_style_addressing(void **st)
{
	s3_client_opts o = base_opts();
	const char *ip = strstr(o.endpoint, "://127.0.0.1:");
	s3_client *c = NULL;
	sluice_buf b = SLUICE_BUF_INIT;
	char ep[128];

	(void)st;
	/* The bucket goes into the host name: needs a name that resolves
	 * with subdomains; curl maps *.localhost to the loopback. */
	if (!ip)
		skip();
	snprintf(ep, sizeof(ep), "http://localhost%s", ip + 12);
	o.endpoint = ep;
	o.path_style = 0;
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(
		s3_client_put_object(c, bucket, "vh/k", "virtual", 7), 0);
	assert_int_equal(
		s3_client_get_object(c, &b, bucket, "vh/k", 0, UINT64_MAX), 0);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.ptr, "virtual", 7);
	assert_int_equal(s3_client_delete_object(c, bucket, "vh/k"), 0);
	sluice_buf_release(&b);
	s3_client_free(c);
}

static void test_s3_client__unsigned_payload_is_accepted(void **st)
{
	s3_client_opts o = base_opts();
	s3_client *c = NULL;
	sluice_buf b = SLUICE_BUF_INIT;

	(void)st;
	o.unsigned_payload = 1;
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(
		s3_client_put_object(c, bucket, "up/k", "streamed", 8), 0);
	assert_int_equal(
		s3_client_get_object(c, &b, bucket, "up/k", 0, UINT64_MAX), 0);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.ptr, "streamed", 8);
	assert_int_equal(s3_client_delete_object(c, bucket, "up/k"), 0);
	sluice_buf_release(&b);
	s3_client_free(c);
}

static void test_s3_client__wrong_secret_is_a_clear_access_denied(void **st)
{
	s3_client_opts o = base_opts();
	s3_client *c = NULL;
	char want[512];
	const char *msg;

	(void)st;
	o.secret_key = "not-the-secret-xyzzy";
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(
		s3_client_put_object(c, bucket, "k", "v", 1), SLUICE_EIO);
	msg = sluice_error_last()->message;
	snprintf(
		want, sizeof(want),
		"access denied for s3://%s/k at %s: check "
		"s3.access-key/s3.secret-key",
		bucket, o.endpoint);
	assert_non_null(strstr(msg, want));
	assert_null(strstr(msg, "xyzzy"));
	s3_client_free(c);
}

static void test_s3_client__server_stopped_mid_upload_fails_bounded(void **st)
{
	s3_client_opts o = base_opts();
	const char *stop = getenv("SLUICE_TEST_S3_STOP_CMD");
	sluice_clock *clk = sluice_clock_system();
	s3_client *c = NULL;
	s3_upload *u = NULL;
	uint8_t *data = calloc(1, 5 * MIB);
	int64_t t0, ms;
	int rc;

	(void)st;
	if (!stop)
		skip();
	o.retry_total_ms = 2000;
	o.connect_timeout_ms = 1000;
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(s3_upload_new(&u, c, bucket, "stop/x"), 0);
	assert_int_equal(s3_upload_write(u, data, 5 * MIB), 0);
	assert_int_equal(s3_upload_wait(u), 0); /* part 1 is stored */
	assert_int_equal(s3_upload_parts(u), 1);
	assert_int_equal(system(stop), 0);
	t0 = sluice_clock_mono_ms(clk);
	rc = s3_upload_write(u, data, 5 * MIB);
	if (rc == 0)
		rc = s3_upload_finish(u, NULL);
	ms = sluice_clock_mono_ms(clk) - t0;
	assert_int_equal(rc, SLUICE_EIO);
	print_message(
		"after stop: %s (%lld ms)\n", sluice_error_last()->message,
		(long long)ms);
	assert_non_null(strstr(sluice_error_last()->message, o.endpoint));
	assert_non_null(strstr(sluice_error_last()->message, "/stop/x"));
	assert_non_null(strstr(sluice_error_last()->message, "attempts"));
	assert_true(ms >= 100 && ms < 8000);
	/* later calls report the same failure */
	assert_int_equal(s3_upload_finish(u, NULL), SLUICE_EIO);
	s3_upload_free(u);
	free(data);
	s3_client_free(c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s3_client__put_get_range_head),
		cmocka_unit_test(test_s3_client__list_pages_and_batched_delete),
		cmocka_unit_test(
			test_s3_client__multipart_parallel_parts_round_trip),
		cmocka_unit_test(test_s3_client__abort_leaves_nothing),
		cmocka_unit_test(
			test_s3_client__virtual_hosted_style_addressing),
		cmocka_unit_test(test_s3_client__unsigned_payload_is_accepted),
		cmocka_unit_test(
			test_s3_client__wrong_secret_is_a_clear_access_denied),
	};
	const struct CMUnitTest stop_tests[] = {
		cmocka_unit_test(
			test_s3_client__server_stopped_mid_upload_fails_bounded),
	};

	if (!getenv("SLUICE_TEST_S3_ENDPOINT")) {
		fprintf(stderr, "SLUICE_TEST_S3_ENDPOINT not set: skipped\n");
		return 77;
	}
	if (argc > 1 && strcmp(argv[1], "stop") == 0)
		return cmocka_run_group_tests_name(
			"s3_client_stop", stop_tests, setup_bucket, NULL);
	return cmocka_run_group_tests_name(
		"s3_client", tests, setup_bucket, NULL);
}
