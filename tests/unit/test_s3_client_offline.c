/*
 * The S3 client without an S3 server: option checks, URL building for both
 * addressing styles, backoff and retry classification, XML parsing, and
 * the retry loop against a refused port and a scripted HTTP peer in this
 * file (answers 503 SlowDown / 500 / 403 in turn; DeleteObjects batches
 * with per-key errors), with a manual clock advanced by the sleep hook so
 * timing is deterministic.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/clock.h"
#include "sluice/log.h"
#include "storage/s3/client.h"
#include "storage/s3/sigv4.h"
#include "storage/s3/uri.h"
#include "storage/s3/xml.h"
#include "util/alloc.h"
#include "util/buf.h"

static sluice_manual_clock clk;
static int sleeps;
static int64_t slept_ms;

static void fake_sleep(void *ctx, int64_t ms)
{
	(void)ctx;
	sleeps++;
	slept_ms += ms;
	sluice_manual_clock_advance(&clk, ms);
}

/* Log lines seen during a test, to check that secrets never appear. */
static int log_lines;
static int log_leaks;

static void capture_log(sluice_log_level level, const char *msg, void *p)
{
	(void)level;
	(void)p;
	__atomic_add_fetch(&log_lines, 1, __ATOMIC_RELAXED);
	if (strstr(msg, "SECRET"))
		__atomic_add_fetch(&log_leaks, 1, __ATOMIC_RELAXED);
}

static s3_client_opts opts(const char *endpoint)
{
	s3_client_opts o = {0};

	o.endpoint = endpoint;
	o.access_key = "AKID";
	o.secret_key = "SECRET-do-not-print";
	o.path_style = 1;
	o.clock = &clk.base;
	o.sleep_ms = fake_sleep;
	o.seed = 7;
	o.retry_total_ms = 1000;
	o.backoff_base_ms = 100;
	o.backoff_max_ms = 400;
	o.connect_timeout_ms = 2000;
	sluice_manual_clock_init(&clk, 1700000000000LL);
	sleeps = 0;
	slept_ms = 0;
	return o;
}

static void test_s3_client__rejects_missing_or_bad_options(void **st)
{
	s3_client_opts o = opts("http://127.0.0.1:1");
	s3_client *c = NULL;

	(void)st;
	o.secret_key = NULL;
	assert_int_equal(s3_client_new(&c, &o), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "s3.secret-key"));
	o = opts("ftp://x");
	assert_int_equal(s3_client_new(&c, &o), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "'ftp://x'"));
	o = opts("http://host:9000/path");
	assert_int_equal(s3_client_new(&c, &o), SLUICE_EINVALID);
	o = opts("http://host:9000");
	o.part_size = 1024;
	assert_int_equal(s3_client_new(&c, &o), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "5 MiB"));
	o = opts(NULL);
	assert_int_equal(s3_client_new(&c, &o), SLUICE_EINVALID);
	assert_null(c);
}

static void test_s3_client__urls_for_path_and_virtual_hosted_style(void **st)
{
	s3_client_opts o = opts("https://s3.example.com:8443/");
	sluice_buf url = SLUICE_BUF_INIT, host = SLUICE_BUF_INIT;
	s3_client *c = NULL;

	(void)st;
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(
		s3_client_url(&url, &host, c, "bkt", "a b/c+d", "x=1"), 0);
	assert_string_equal(
		(const char *)url.ptr,
		"https://s3.example.com:8443/bkt/a%20b/c%2Bd?x=1");
	assert_string_equal((const char *)host.ptr, "s3.example.com:8443");
	s3_client_free(c);
	o.path_style = 0;
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(s3_client_url(&url, &host, c, "bkt", "k", NULL), 0);
	assert_string_equal(
		(const char *)url.ptr, "https://bkt.s3.example.com:8443/k");
	assert_string_equal((const char *)host.ptr, "bkt.s3.example.com:8443");
	assert_int_equal(
		s3_client_url(&url, &host, c, "bkt", NULL, "list-type=2"), 0);
	assert_string_equal(
		(const char *)url.ptr,
		"https://bkt.s3.example.com:8443/?list-type=2");
	s3_client_free(c);
	sluice_buf_release(&url);
	sluice_buf_release(&host);
}

static void test_s3_client__backoff_doubles_with_jitter_and_caps(void **st)
{
	int64_t d;
	uint64_t r;

	(void)st;
	for (r = 0; r < 1000; r += 37) {
		d = s3_backoff_ms(1, 100, 5000, r);
		assert_true(d >= 50 && d <= 100);
		d = s3_backoff_ms(4, 100, 5000, r);
		assert_true(d >= 400 && d <= 800);
		d = s3_backoff_ms(30, 100, 5000, r);
		assert_true(d >= 2500 && d <= 5000);
	}
	assert_int_equal(s3_backoff_ms(3, 100, 5000, 0), 200);
	assert_int_equal(s3_backoff_ms(3, 100, 5000, 200), 400);
}

static void test_s3_client__retry_classification(void **st)
{
	(void)st;
	assert_true(s3_retryable(7 /* CURLE_COULDNT_CONNECT */, 0, NULL));
	assert_true(s3_retryable(28 /* CURLE_OPERATION_TIMEDOUT */, 0, NULL));
	assert_false(s3_retryable(3 /* CURLE_URL_MALFORMAT */, 0, NULL));
	assert_true(s3_retryable(0, 500, "InternalError"));
	assert_true(s3_retryable(0, 503, "SlowDown"));
	assert_true(s3_retryable(0, 429, NULL));
	assert_true(s3_retryable(0, 400, "RequestTimeout"));
	assert_false(s3_retryable(0, 403, "SignatureDoesNotMatch"));
	assert_false(s3_retryable(0, 404, "NoSuchKey"));
	assert_false(s3_retryable(0, 400, "BadDigest"));
}

static int closed_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&a, &n);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void
test_s3_client__refused_connection_fails_after_bounded_retries(void **st)
{
	char ep[64];
	s3_client_opts o;
	s3_client *c = NULL;
	const char *msg;

	(void)st;
	log_lines = log_leaks = 0;
	sluice_log_set(capture_log, NULL, SLUICE_LOG_DEBUG);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", closed_port());
	o = opts(ep);
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(
		s3_client_put_object(c, "bkt", "chk-1/f", "x", 1), SLUICE_EIO);
	msg = sluice_error_last()->message;
	assert_non_null(strstr(msg, "s3 PUT s3://bkt/chk-1/f at "));
	assert_non_null(strstr(msg, ep));
	assert_non_null(strstr(msg, "attempts in"));
	assert_null(strstr(msg, "SECRET"));
	/* bounded by the total time: the sleeps never exceed the budget */
	assert_true(sleeps >= 3);
	assert_true(slept_ms < 1000);
	s3_client_free(c);
	/* and by the attempt count */
	o = opts(ep);
	o.max_attempts = 3;
	o.retry_total_ms = 60000;
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(
		s3_client_head_object(c, &(uint64_t){0}, "bkt", "k"),
		SLUICE_EIO);
	assert_int_equal(sleeps, 2);
	assert_non_null(
		strstr(sluice_error_last()->message, "after 3 attempts"));
	s3_client_free(c);
	/* every retry was logged, and no line carried the secret */
	sluice_log_set(NULL, NULL, SLUICE_LOG_DEBUG);
	assert_true(log_lines >= 5);
	assert_int_equal(log_leaks, 0);
}

/* A scripted HTTP peer: answers one connection per scripted response. */
typedef struct peer {
	int fd, port, n;
	const char *const *script;
	int served;
	char last[4096]; /* head of the last request */
	pthread_t th;
} peer;

static void read_request(int fd, char *head, size_t cap)
{
	size_t n = 0, want = 0;
	char *end = NULL, *cl, sink[4096];
	ssize_t r;

	while (n < cap - 1 && (r = recv(fd, head + n, cap - 1 - n, 0)) > 0) {
		n += (size_t)r;
		head[n] = '\0';
		if (!end && (end = strstr(head, "\r\n\r\n"))) {
			cl = strcasestr(head, "content-length:");
			want = (size_t)(end + 4 - head) +
			       (cl && cl < end ? strtoul(cl + 15, NULL, 10)
					       : 0);
		}
		if (end && n >= want)
			return;
	}
	/* a body larger than `cap`: read and drop the rest */
	while (end && n < want && (r = recv(fd, sink, sizeof(sink), 0)) > 0)
		n += (size_t)r;
}

static void *peer_main(void *arg)
{
	peer *p = arg;
	char out[1200];
	int i, fd;

	for (i = 0; i < p->n; i++) {
		/* a script entry is "<status line>\n<body>" */
		size_t sl = strcspn(p->script[i], "\n");
		const char *body = p->script[i] + sl + 1;

		if ((fd = accept(p->fd, NULL, NULL)) < 0)
			break;
		read_request(fd, p->last, sizeof(p->last));
		snprintf(
			out, sizeof(out),
			"HTTP/1.1 %.*s\r\nContent-Length: %zu\r\n"
			"Connection: close\r\nETag: \"e%d\"\r\n\r\n%s",
			(int)sl, p->script[i], strlen(body), i, body);
		(void)!write(fd, out, strlen(out));
		close(fd);
		__atomic_add_fetch(&p->served, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void peer_start(peer *p, const char *const *script, int n)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int one = 1;

	memset(p, 0, sizeof(*p));
	p->script = script;
	p->n = n;
	p->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(p->fd, 8), 0);
	getsockname(p->fd, (struct sockaddr *)&a, &len);
	p->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&p->th, NULL, peer_main, p), 0);
}

static void peer_stop(peer *p)
{
	pthread_join(p->th, NULL);
	close(p->fd);
}

#define ERR(code)                                 \
	"<?xml version='1.0'?><Error><Code>" code \
	"</Code><Message>m</Message></Error>"

static void
test_s3_client__slowdown_and_5xx_are_retried_until_success(void **st)
{
	static const char *const script[] = {
		"503 Service Unavailable\n" ERR("SlowDown"),
		"500 Internal Server Error\n" ERR("InternalError"), "200 OK\n"};
	char ep[64];
	s3_client_opts o;
	s3_client *c = NULL;
	peer p;

	(void)st;
	peer_start(&p, script, 3);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", p.port);
	o = opts(ep);
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(s3_client_put_object(c, "bkt", "a/k", "hello", 5), 0);
	peer_stop(&p);
	assert_int_equal(p.served, 3);
	assert_int_equal(sleeps, 2);
	/* the last request was signed and carried the body's hash */
	assert_non_null(strstr(p.last, "PUT /bkt/a/k HTTP/1.1"));
	assert_non_null(
		strstr(p.last, "Authorization: AWS4-HMAC-SHA256 "
			       "Credential=AKID/20231114/us-east-1/s3/"
			       "aws4_request,SignedHeaders=host;x-amz-"
			       "content-sha256;x-amz-date,Signature="));
	assert_non_null(
		strstr(p.last, "x-amz-content-sha256: 2cf24dba5fb0a30e"
			       "26e83b2ac5b9e29e1b161e5c1fa7425e730433"
			       "62938b9824"));
	assert_non_null(strstr(p.last, "x-amz-date: 20231114T221320Z"));
	assert_null(strstr(p.last, "SECRET"));
	s3_client_free(c);
}

static void
test_s3_client__access_denied_names_bucket_key_and_endpoint(void **st)
{
	static const char *const script[] = {
		"403 Forbidden\n" ERR("SignatureDoesNotMatch"),
		"404 Not Found\n" ERR("NoSuchBucket"),
		"500 Internal Server Error\n" ERR("InternalError"),
	};
	char ep[64], want[256];
	s3_client_opts o;
	s3_client *c = NULL;
	sluice_buf b = SLUICE_BUF_INIT;
	peer p;

	(void)st;
	peer_start(&p, script, 3);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", p.port);
	o = opts(ep);
	o.max_attempts = 1;
	o.scheme = "obs";
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(
		s3_client_put_object(c, "bkt", "k", "v", 1), SLUICE_EIO);
	snprintf(
		want, sizeof(want),
		"access denied for obs://bkt/k at %s: check "
		"s3.access-key/s3.secret-key (SignatureDoesNotMatch)",
		ep);
	assert_string_equal(sluice_error_last()->message, want);
	assert_int_equal(sleeps, 0);
	assert_int_equal(
		s3_client_get_object(c, &b, "bkt", "k", 0, 10),
		SLUICE_ENOTFOUND);
	snprintf(want, sizeof(want), "obs://bkt/k at %s: no such bucket", ep);
	assert_string_equal(sluice_error_last()->message, want);
	assert_non_null(strstr(p.last, "Range: bytes=0-9"));
	assert_int_equal(s3_client_create_bucket(c, "bkt"), SLUICE_EIO);
	snprintf(
		want, sizeof(want),
		"s3 create bucket obs://bkt at %s failed: HTTP 500 "
		"InternalError: m",
		ep);
	assert_string_equal(sluice_error_last()->message, want);
	peer_stop(&p);
	sluice_buf_release(&b);
	s3_client_free(c);
}

#define DEL_ERR(key, code)                               \
	"<Error><Key>" key "</Key><Code>" code "</Code>" \
	"<Message>m</Message></Error>"

static void
test_s3_client__delete_objects_batches_and_reports_key_errors(void **st)
{
	static const char *const script[] = {
		"200 OK\n<DeleteResult></DeleteResult>",
		"200 OK\n<DeleteResult>" DEL_ERR("k999", "NoSuchKey")
			DEL_ERR("k1000", "AccessDenied") DEL_ERR(
				"k1001", "AccessDenied") "</DeleteResult>",
		"200 OK\n<DeleteResult/>"};
	enum { N = 2500 };
	static char names[N][8];
	const char *keys[N];
	s3_client_counts k;
	s3_client_opts o;
	s3_client *c = NULL;
	char ep[64];
	peer p;
	int i;

	(void)st;
	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "k%d", i);
		keys[i] = names[i];
	}
	peer_start(&p, script, 3);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", p.port);
	o = opts(ep);
	assert_int_equal(s3_client_new(&c, &o), 0);
	assert_int_equal(
		s3_client_delete_objects(c, "bkt", keys, N), SLUICE_EIO);
	/* ceil(2500 / 1000) requests, the last one sent after the failure */
	peer_stop(&p);
	assert_int_equal(p.served, 3);
	s3_client_counts_get(c, &k);
	assert_int_equal(k.delete_batches, 3);
	assert_int_equal(k.keys_deleted, N);
	assert_int_equal(k.requests, 3);
	assert_int_equal(k.deletes, 0);
	assert_non_null(strstr(p.last, "POST /bkt?delete"));
	assert_non_null(strcasestr(p.last, "Content-MD5: "));
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "s3 delete s3://bkt/k1000 at http://127.0.0.1:"));
	assert_non_null(strstr(
		sluice_error_last()->message,
		"failed: AccessDenied (2 of 1000 keys of the batch failed)"));
	s3_client_free(c);
}

static void test_s3_xml__list_page_with_entities_and_prefixes(void **st)
{
	const char *doc =
		"<?xml version=\"1.0\"?><ListBucketResult xmlns=\"x\">"
		"<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount>"
		"<IsTruncated>true</IsTruncated>"
		"<Contents><Key>p/a&amp;b&lt;c&#38;&#x41;</Key>"
		"<Size>12</Size></Contents>"
		"<Contents><Key>p/\xc3\xa9</Key><Size>0</Size></Contents>"
		"<CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes>"
		"<NextContinuationToken>t/+=</NextContinuationToken>"
		"</ListBucketResult>";
	s3_list_page page;

	(void)st;
	assert_int_equal(s3_xml_parse_list(&page, doc, strlen(doc)), 0);
	assert_int_equal(page.count, 2);
	assert_string_equal(page.objects[0].key, "p/a&b<c&A");
	assert_int_equal(page.objects[0].size, 12);
	assert_string_equal(page.objects[1].key, "p/\xc3\xa9");
	assert_int_equal(page.nprefixes, 1);
	assert_string_equal(page.prefixes[0], "p/d/");
	assert_true(page.truncated);
	assert_string_equal(page.next_token, "t/+=");
	s3_list_page_release(&page);
	s3_list_page_release(NULL);
}

static void test_s3_xml__malformed_listings_are_corrupt_not_crashes(void **st)
{
	static const char *const docs[] = {
		"",
		"<Error><Code>x</Code></Error>",
		"<ListBucketResult><Contents><Size>1</Size></Contents>"
		"</ListBucketResult>",
		"<ListBucketResult><IsTruncated>true</IsTruncated>"
		"</ListBucketResult>",
		"<ListBucketResult><Contents><Key>abc",
	};
	s3_list_page page;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		int rc = s3_xml_parse_list(&page, docs[i], strlen(docs[i]));

		if (i == 4) { /* truncated entry: no complete Contents */
			assert_int_equal(rc, 0);
			assert_int_equal(page.count, 0);
			s3_list_page_release(&page);
			continue;
		}
		assert_int_equal(rc, SLUICE_ECORRUPT);
		assert_non_null(
			strstr(sluice_error_last()->message, "s3 listing"));
		assert_null(page.objects);
	}
}

static void test_s3_xml__escape_and_unescape_round_trip(void **st)
{
	sluice_buf b = SLUICE_BUF_INIT;
	const char *s = "a<b>&\"c'd";
	char *u;

	(void)st;
	assert_int_equal(s3_xml_escape(&b, s), 0);
	assert_int_equal(sluice_buf_cstr(&b), 0);
	assert_string_equal(
		(const char *)b.ptr, "a&lt;b&gt;&amp;&quot;c&apos;d");
	u = s3_xml_unescape((const char *)b.ptr, b.len);
	assert_string_equal(u, s);
	sluice__free(u);
	u = s3_xml_unescape("&bogus; &#0; &#xZZ; &", 21);
	assert_string_equal(u, "&bogus; ? &#xZZ; &");
	sluice__free(u);
	sluice_buf_release(&b);
}

/* Every allocation failure in the pure parts is reported as ENOMEM and
 * leaks nothing (ASan checks the second half). */
static int oom_round(void)
{
	const char *doc = "<ListBucketResult><IsTruncated>false</IsTruncated>"
			  "<Contents><Key>a&amp;b</Key><Size>1</Size>"
			  "</Contents><CommonPrefixes><Prefix>p/</Prefix>"
			  "</CommonPrefixes></ListBucketResult>";
	const s3_pair h[] = {{"Host", "h"}, {"x-amz-date", "20130524T000000Z"}};
	const s3_pair q[] = {{"b", "2"}, {"a", NULL}};
	const s3_sigv4_request req = {
		"GET", "/k", q, 2, h, 2, "UNSIGNED-PAYLOAD"};
	const s3_sigv4_creds cr = {"A", "S", "us-east-1", "s3"};
	sluice_buf a = SLUICE_BUF_INIT;
	s3_list_page page;
	s3_uri u;
	int rc;

	if ((rc = s3_uri_parse(&u, "s3://bucket/a//b")) < 0)
		return rc;
	s3_uri_release(&u);
	if ((rc = s3_xml_parse_list(&page, doc, strlen(doc))) < 0)
		return rc;
	s3_list_page_release(&page);
	rc = s3_sigv4_sign(&a, NULL, &req, &cr, "20130524T000000Z");
	if (rc == 0) {
		sluice_buf_clear(&a);
		rc = s3_entropy_resolve(&a, "_e_/x", "_e_", 4, 1, 1);
	}
	sluice_buf_release(&a);
	return rc;
}

static void test_s3_client__allocation_failures_are_reported(void **st)
{
	long n;
	int rc = SLUICE_ENOMEM;

	(void)st;
	for (n = 0; rc == SLUICE_ENOMEM && n < 1000; n++) {
		sluice__alloc_fail_after(n);
		rc = oom_round();
		sluice__alloc_fail_after(-1);
		if (rc != 0)
			assert_int_equal(rc, SLUICE_ENOMEM);
	}
	assert_int_equal(rc, 0);
	assert_true(n > 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_s3_client__rejects_missing_or_bad_options),
		cmocka_unit_test(
			test_s3_client__urls_for_path_and_virtual_hosted_style),
		cmocka_unit_test(
			test_s3_client__backoff_doubles_with_jitter_and_caps),
		cmocka_unit_test(test_s3_client__retry_classification),
		cmocka_unit_test(
			test_s3_client__refused_connection_fails_after_bounded_retries),
		cmocka_unit_test(
			test_s3_client__slowdown_and_5xx_are_retried_until_success),
		cmocka_unit_test(
			test_s3_client__access_denied_names_bucket_key_and_endpoint),
		cmocka_unit_test(
			test_s3_xml__list_page_with_entities_and_prefixes),
		cmocka_unit_test(
			test_s3_xml__malformed_listings_are_corrupt_not_crashes),
		cmocka_unit_test(test_s3_xml__escape_and_unescape_round_trip),
		cmocka_unit_test(
			test_s3_client__delete_objects_batches_and_reports_key_errors),
		cmocka_unit_test(
			test_s3_client__allocation_failures_are_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
