/*
 * The S3 client object and its request engine: endpoint and addressing,
 * a pool of idle curl handles, signing each attempt, retries with backoff
 * and jitter bounded by attempts and total time, and turning failures into
 * sluice codes with messages that name endpoint, bucket and key (never the
 * secret).  The operations themselves live in objects.c and upload.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "request.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/log.h"

#define POOL_MAX 16

struct s3_client {
	s3_client_opts o; /* strings below are our copies */
	char *endpoint, *region, *access_key, *secret_key, *scheme;
	char *proto;             /* "http" or "https" */
	char *authority;         /* "host:port" */
	uint64_t rnd;            /* jitter counter, atomic */
	s3_client_counts counts; /* atomic */
	pthread_mutex_t lock;
	CURL *idle[POOL_MAX];
	int nidle;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void default_sleep(void *ctx, int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	(void)ctx;
	while (nanosleep(&ts, &ts) != 0)
		;
}

static int parse_endpoint(s3_client *c)
{
	const char *e = c->endpoint, *sep = strstr(e, "://");
	size_t n;

	if (!sep || (strncmp(e, "http", 4) != 0) ||
	    (sep - e != 4 && !(sep - e == 5 && e[4] == 's')))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"s3.endpoint: '%s' is not an http:// "
			"or https:// URL",
			e);
	n = strcspn(sep + 3, "/?#");
	if (n == 0 || (sep[3 + n] && strcmp(sep + 3 + n, "/") != 0))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"s3.endpoint: '%s' must be "
			"scheme://host[:port] without a path",
			e);
	c->proto = sluice__strndup(e, (size_t)(sep - e));
	c->authority = sluice__strndup(sep + 3, n);
	if (!c->proto || !c->authority)
		return sluice__error_oom();
	return 0;
}

static char *dup_or(const char *s, const char *dflt)
{
	return sluice__strdup(s && *s ? s : dflt);
}

static void set_defaults(s3_client_opts *o)
{
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = 5000;
	if (o->request_timeout_ms <= 0)
		o->request_timeout_ms = 120000;
	if (o->retry_total_ms <= 0)
		o->retry_total_ms = 30000;
	if (o->max_attempts <= 0)
		o->max_attempts = 8;
	if (o->backoff_base_ms <= 0)
		o->backoff_base_ms = 100;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = 5000;
	if (o->upload_threads <= 0)
		o->upload_threads = 4;
	if (o->part_size == 0)
		o->part_size = 8 * 1024 * 1024;
	if (o->delete_batch <= 0 || o->delete_batch > S3_DELETE_BATCH)
		o->delete_batch = S3_DELETE_BATCH;
	if (!o->clock)
		o->clock = sluice_clock_system();
	if (!o->sleep_ms)
		o->sleep_ms = default_sleep;
	if (!o->seed)
		o->seed = (uint64_t)sluice_clock_mono_ns(o->clock) ^
			  (uint64_t)(uintptr_t)o;
}

int s3_client_new(s3_client **out, const s3_client_opts *opts)
{
	s3_client *c;
	int error;

	*out = NULL;
	if (!opts->endpoint || !*opts->endpoint)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"s3.endpoint: not set");
	if (!opts->access_key || !*opts->access_key || !opts->secret_key ||
	    !*opts->secret_key)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"s3 at %s: s3.access-key and "
			"s3.secret-key must both be set",
			opts->endpoint);
	if (opts->part_size && opts->part_size < S3_MIN_PART_SIZE)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"s3 part size %zu is below the "
			"5 MiB minimum",
			opts->part_size);
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_NET,
			"libcurl initialisation failed: %s",
			curl_easy_strerror(curl_init_rc));
	if (!(c = sluice__calloc(1, sizeof(*c))))
		return sluice__error_oom();
	c->o = *opts;
	set_defaults(&c->o);
	c->endpoint = sluice__strdup(opts->endpoint);
	if (c->endpoint && c->endpoint[0] &&
	    c->endpoint[strlen(c->endpoint) - 1] == '/')
		c->endpoint[strlen(c->endpoint) - 1] = '\0';
	c->region = dup_or(opts->region, "us-east-1");
	c->access_key = sluice__strdup(opts->access_key);
	c->secret_key = sluice__strdup(opts->secret_key);
	c->scheme = dup_or(opts->scheme, "s3");
	pthread_mutex_init(&c->lock, NULL);
	if (!c->endpoint || !c->region || !c->access_key || !c->secret_key ||
	    !c->scheme) {
		error = sluice__error_oom();
		goto fail;
	}
	c->o.endpoint = c->endpoint;
	c->o.region = c->region;
	c->o.access_key = c->access_key;
	c->o.secret_key = c->secret_key;
	c->o.scheme = c->scheme;
	if ((error = parse_endpoint(c)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	s3_client_free(c);
	return error;
}

void s3_client_free(s3_client *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	pthread_mutex_destroy(&c->lock);
	if (c->secret_key)
		memset(c->secret_key, 0, strlen(c->secret_key));
	sluice__free(c->endpoint);
	sluice__free(c->region);
	sluice__free(c->access_key);
	sluice__free(c->secret_key);
	sluice__free(c->scheme);
	sluice__free(c->proto);
	sluice__free(c->authority);
	sluice__free(c);
}

void s3_client_counts_get(const s3_client *c, s3_client_counts *out)
{
	out->requests = __atomic_load_n(&c->counts.requests, __ATOMIC_RELAXED);
	out->delete_batches =
		__atomic_load_n(&c->counts.delete_batches, __ATOMIC_RELAXED);
	out->deletes = __atomic_load_n(&c->counts.deletes, __ATOMIC_RELAXED);
	out->keys_deleted =
		__atomic_load_n(&c->counts.keys_deleted, __ATOMIC_RELAXED);
}

void s3__count_delete_batch(s3_client *c, size_t keys)
{
	__atomic_add_fetch(&c->counts.delete_batches, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(
		&c->counts.keys_deleted, (uint64_t)keys, __ATOMIC_RELAXED);
}

const char *s3_client_endpoint(const s3_client *c)
{
	return c->endpoint;
}

const s3_client_opts *s3__client_opts(const s3_client *c)
{
	return &c->o;
}

int64_t s3_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, uint64_t r)
{
	int64_t d = base_ms;
	int i;

	for (i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d / 2 + (int64_t)(r % (uint64_t)(d - d / 2 + 1));
}

int s3_retryable(int curl_code, long status, const char *code)
{
	if (curl_code) {
		switch ((CURLcode)curl_code) {
		case CURLE_COULDNT_CONNECT:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return 1;
		default:
			return 0;
		}
	}
	if (status >= 500 || status == 429)
		return 1;
	return code && (strcmp(code, "SlowDown") == 0 ||
			strcmp(code, "RequestTimeout") == 0 ||
			strcmp(code, "InternalError") == 0);
}

int s3__object_name(
	sluice_buf *out,
	const s3_client *c,
	const char *bucket,
	const char *key)
{
	SLUICE_ERRCHECK(sluice_buf_printf(
		out, "%s://%s%s%s", c->scheme, bucket, key ? "/" : "",
		key ? key : ""));
	return sluice_buf_cstr(out);
}

int s3_client_url(
	sluice_buf *url,
	sluice_buf *host,
	const s3_client *c,
	const char *bucket,
	const char *key,
	const char *query)
{
	sluice_buf_clear(url);
	sluice_buf_clear(host);
	if (c->o.path_style)
		SLUICE_ERRCHECK(sluice_buf_printf(host, "%s", c->authority));
	else
		SLUICE_ERRCHECK(
			sluice_buf_printf(host, "%s.%s", bucket, c->authority));
	SLUICE_ERRCHECK(sluice_buf_cstr(host));
	SLUICE_ERRCHECK(sluice_buf_printf(
		url, "%s://%s/", c->proto, (const char *)host->ptr));
	if (c->o.path_style) {
		SLUICE_ERRCHECK(s3_uri_encode(url, bucket, strlen(bucket), 1));
		if (key)
			SLUICE_ERRCHECK(sluice_buf_put_u8(url, '/'));
	}
	if (key)
		SLUICE_ERRCHECK(s3_uri_encode(url, key, strlen(key), 1));
	if (query && *query)
		SLUICE_ERRCHECK(sluice_buf_printf(url, "?%s", query));
	return sluice_buf_cstr(url);
}

static CURL *handle_take(s3_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->nidle > 0)
		h = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->lock);
	return h ? h : curl_easy_init();
}

static void handle_give(s3_client *c, CURL *h)
{
	pthread_mutex_lock(&c->lock);
	if (c->nidle < POOL_MAX) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_cleanup(h);
}

void s3__response_release(s3_response *resp)
{
	sluice__free(resp->etag);
	sluice_buf_release(&resp->body);
	memset(resp, 0, sizeof(*resp));
}

/* State of one attempt, shared with curl's callbacks. */
typedef struct transfer {
	CURL *h;
	const s3_request *req;
	s3_response *resp;
	size_t rpos; /* upload read position */
	int oom;
} transfer;

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	long st = 0;
	sluice_buf *dst = &t->resp->body;

	curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &st);
	if (st >= 200 && st < 300 && t->req->out)
		dst = t->req->out;
	if (sluice_buf_put(dst, p, size * n) < 0) {
		t->oom = 1;
		return 0;
	}
	return size * n;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	size_t left = t->req->body_len - t->rpos;

	if (left > size * n)
		left = size * n;
	if (left)
		memcpy(p, (const char *)t->req->body + t->rpos, left);
	t->rpos += left;
	return left;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	size_t len = size * n;

	while (len && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		sluice__free(t->resp->etag);
		t->resp->etag = NULL;
		t->resp->has_length = 0;
	} else if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
		size_t i = 5;

		while (i < len && p[i] == ' ')
			i++;
		sluice__free(t->resp->etag);
		if (!(t->resp->etag = sluice__strndup(p + i, len - i))) {
			t->oom = 1;
			return 0;
		}
	} else if (len > 15 && strncasecmp(p, "content-length:", 15) == 0) {
		char num[32];
		size_t k =
			len - 15 < sizeof(num) - 1 ? len - 15 : sizeof(num) - 1;

		memcpy(num, p + 15, k);
		num[k] = '\0';
		t->resp->content_length = strtoull(num, NULL, 10);
		t->resp->has_length = 1;
	}
	return size * n;
}

/* The parts of a request that do not change between attempts. */
typedef struct prepared {
	sluice_buf url, host, path;
	char payload[65];
} prepared;

static int prepare(prepared *pr, const s3_client *c, const s3_request *req)
{
	sluice_buf q = SLUICE_BUF_INIT;
	size_t i;
	int error = 0;

	for (i = 0; i < req->nquery && error == 0; i++) {
		const char *v = req->query[i].value ? req->query[i].value : "";

		if ((i && (error = sluice_buf_put_u8(&q, '&')) < 0) ||
		    (error = s3_uri_encode(
			     &q, req->query[i].name, strlen(req->query[i].name),
			     0)) < 0 ||
		    (error = sluice_buf_put_u8(&q, '=')) < 0)
			break;
		error = s3_uri_encode(&q, v, strlen(v), 0);
	}
	if (error < 0 || (error = sluice_buf_cstr(&q)) < 0 ||
	    (error = s3_client_url(
		     &pr->url, &pr->host, c, req->bucket, req->key,
		     (const char *)q.ptr)) < 0)
		goto done;
	if (c->o.path_style)
		error = sluice_buf_printf(
			&pr->path, "/%s%s%s", req->bucket, req->key ? "/" : "",
			req->key ? req->key : "");
	else
		error = sluice_buf_printf(
			&pr->path, "/%s", req->key ? req->key : "");
	if (error < 0 || (error = sluice_buf_cstr(&pr->path)) < 0)
		goto done;
	if (c->o.unsigned_payload && req->body_len)
		strcpy(pr->payload, S3_UNSIGNED_PAYLOAD);
	else
		s3_sha256_hex(pr->payload, req->body, req->body_len);
done:
	sluice_buf_release(&q);
	return error;
}

static int
add_header(struct curl_slist **list, const char *name, const char *value)
{
	sluice_buf b = SLUICE_BUF_INIT;
	struct curl_slist *l;
	int error;

	if ((error = sluice_buf_printf(&b, "%s: %s", name, value)) < 0)
		return error;
	l = curl_slist_append(*list, (const char *)b.ptr);
	sluice_buf_release(&b);
	if (!l)
		return sluice__error_oom();
	*list = l;
	return 0;
}

/* Sign for "now" and build curl's header list. */
static int sign_headers(
	struct curl_slist **list,
	s3_client *c,
	const s3_request *req,
	const prepared *pr)
{
	s3_sigv4_creds cr = {c->access_key, c->secret_key, c->region, "s3"};
	sluice_buf auth = SLUICE_BUF_INIT;
	s3_pair *h;
	char date[17];
	size_t i, n = req->nheaders + 3;
	int error = 0;

	s3_amz_date(date, sluice_clock_wall_ms(c->o.clock));
	if (!(h = sluice__calloc(n, sizeof(*h))))
		return sluice__error_oom();
	h[0] = (s3_pair){"Host", (const char *)pr->host.ptr};
	h[1] = (s3_pair){"x-amz-date", date};
	h[2] = (s3_pair){"x-amz-content-sha256", pr->payload};
	for (i = 0; i < req->nheaders; i++)
		h[3 + i] = req->headers[i];
	{
		s3_sigv4_request sr = {req->method, (const char *)pr->path.ptr,
				       req->query,  req->nquery,
				       h,           n,
				       pr->payload};
		error = s3_sigv4_sign(&auth, NULL, &sr, &cr, date);
	}
	for (i = 0; i < n && error == 0; i++)
		error = add_header(list, h[i].name, h[i].value);
	if (error == 0)
		error = add_header(
			list, "Authorization", (const char *)auth.ptr);
	if (error == 0 && !(*list = curl_slist_append(*list, "Expect:")))
		error = sluice__error_oom();
	sluice__free(h);
	sluice_buf_release(&auth);
	return error;
}

static void set_method(transfer *t)
{
	CURL *h = t->h;
	const s3_request *req = t->req;

	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, t);
		curl_easy_setopt(
			h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(
			h, CURLOPT_POSTFIELDS,
			req->body ? (const char *)req->body : "");
		curl_easy_setopt(
			h, CURLOPT_POSTFIELDSIZE_LARGE,
			(curl_off_t)req->body_len);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
}

/* One attempt.  Returns < 0 only for local failures (OOM); the outcome
 * of the exchange is in *cc and resp->status. */
static int
attempt(s3_client *c,
	transfer *t,
	const prepared *pr,
	char *errbuf,
	CURLcode *cc)
{
	struct curl_slist *list = NULL;
	int error;

	if ((error = sign_headers(&list, c, t->req, pr)) < 0)
		goto done;
	curl_easy_reset(t->h);
	errbuf[0] = '\0';
	curl_easy_setopt(t->h, CURLOPT_URL, (const char *)pr->url.ptr);
	curl_easy_setopt(t->h, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(t->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(
		t->h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
	curl_easy_setopt(
		t->h, CURLOPT_TIMEOUT_MS, (long)c->o.request_timeout_ms);
	curl_easy_setopt(t->h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(t->h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(t->h, CURLOPT_HEADERDATA, t);
	set_method(t);
	*cc = curl_easy_perform(t->h);
	if (t->oom) {
		error = sluice__error_oom();
		goto done;
	}
	curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->resp->status);
done:
	curl_slist_free_all(list);
	return error;
}

static const char *not_found_what(const char *code, const s3_request *req)
{
	if (code && strcmp(code, "NoSuchBucket") == 0)
		return "no such bucket";
	if (code && strcmp(code, "NoSuchUpload") == 0)
		return "no such multipart upload";
	return req->key ? "no such key" : "no such bucket";
}

static int is_code(const char *code, const char *a, const char *b)
{
	return code && (strcmp(code, a) == 0 || (b && strcmp(code, b) == 0));
}

/* What a failure message is made of. */
typedef struct failure {
	const s3_request *req;
	const char *name;  /* scheme://bucket/key */
	const char *ep;    /* endpoint */
	const char *code;  /* S3 error code or NULL */
	const char *msg;   /* S3 error message or NULL */
	const char *retry; /* " (after N attempts in M ms)" or "" */
	long status;
} failure;

/* Map an HTTP failure to a code and message; returns the code. */
static int fail_http(const failure *f)
{
	const char *op = f->req->op, *n = f->name, *ep = f->ep, *code = f->code;

	if (f->status == 403)
		return sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
			"access denied for %s at %s: check "
			"s3.access-key/s3.secret-key (%s)",
			n, ep, code ? code : "HTTP 403");
	if (f->status == 404)
		return sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_STORAGE, "%s at %s: %s",
			n, ep, not_found_what(code, f->req));
	if (f->status == 409 &&
	    is_code(code, "BucketAlreadyExists", "BucketAlreadyOwnedByYou"))
		return sluice__error_set(
			SLUICE_EEXISTS, SLUICE_ERRCLS_STORAGE,
			"bucket %s at %s already exists", n, ep);
	if (f->status == 416 || is_code(code, "InvalidRange", NULL))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STORAGE,
			"s3 %s %s at %s: requested range is "
			"not within the object",
			op, n, ep);
	if (is_code(code, "EntityTooSmall", "InvalidPart") ||
	    is_code(code, "InvalidPartOrder", "InvalidArgument"))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STORAGE,
			"s3 %s %s at %s: %s: %s", op, n, ep, code,
			f->msg ? f->msg : "rejected");
	return sluice__error_set(
		SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
		"s3 %s %s at %s failed: HTTP %ld%s%s%s%s%s", op, n, ep,
		f->status, code ? " " : "", code ? code : "",
		f->msg ? ": " : "", f->msg ? f->msg : "", f->retry);
}

/* Set the last error for a failed request; returns its code. */
static int
fail(const s3_client *c,
     const s3_request *req,
     const s3_response *resp,
     CURLcode cc,
     const char *errbuf,
     int attempts,
     int64_t elapsed_ms)
{
	const char *body = (const char *)resp->body.ptr;
	const char *end = body + resp->body.len;
	sluice_buf name = SLUICE_BUF_INIT;
	char *code = NULL, *msg = NULL, retry[80] = "";
	failure f;
	int error;

	if ((error = s3__object_name(&name, c, req->bucket, req->key)) < 0)
		return error;
	if (attempts > 1)
		snprintf(
			retry, sizeof(retry), " (after %d attempts in %lld ms)",
			attempts, (long long)elapsed_ms);
	if (resp->body.len) {
		/* without memory the message just lacks the server's words */
		(void)s3_xml_text(&code, body, end, "Code");
		(void)s3_xml_text(&msg, body, end, "Message");
	}
	f = (failure){req,         (const char *)name.ptr,
		      c->endpoint, code,
		      msg,         retry,
		      resp->status};
	if (cc != CURLE_OK)
		error = sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_NET, "s3 %s %s at %s: %s%s",
			req->op, f.name, f.ep,
			errbuf[0] ? errbuf : curl_easy_strerror(cc), retry);
	else
		error = fail_http(&f);
	sluice__free(code);
	sluice__free(msg);
	sluice_buf_release(&name);
	return error;
}

static void
reset_attempt(s3_response *resp, const s3_request *req, size_t out_base)
{
	resp->status = 0;
	resp->has_length = 0;
	sluice__free(resp->etag);
	resp->etag = NULL;
	sluice_buf_clear(&resp->body);
	if (req->out)
		req->out->len = out_base;
}

/* The S3 error code of a failed answer, if any, into `code`. */
static void error_code(char *code, size_t cap, const s3_response *resp)
{
	sluice_slice in;
	const char *p = (const char *)resp->body.ptr;

	code[0] = '\0';
	if (resp->body.len &&
	    s3_xml_find(p, p + resp->body.len, "Code", &in, NULL)) {
		size_t n = in.len < cap - 1 ? in.len : cap - 1;

		memcpy(code, in.data, n);
		code[n] = '\0';
	}
}

int s3__request(s3_client *c, s3_response *resp, const s3_request *req)
{
	prepared pr = {SLUICE_BUF_INIT, SLUICE_BUF_INIT, SLUICE_BUF_INIT, ""};
	transfer t = {NULL, req, resp, 0, 0};
	size_t out_base = req->out ? req->out->len : 0;
	int64_t t0 = sluice_clock_mono_ms(c->o.clock), elapsed = 0, delay;
	char errbuf[CURL_ERROR_SIZE], code[64];
	CURLcode cc = CURLE_OK;
	int attempts = 0, error;

	if ((error = prepare(&pr, c, req)) < 0)
		goto done;
	if (!(t.h = handle_take(c))) {
		error = sluice__error_oom();
		goto done;
	}
	if (!strcmp(req->method, "DELETE") && req->key)
		__atomic_add_fetch(&c->counts.deletes, 1, __ATOMIC_RELAXED);
	for (;;) {
		reset_attempt(resp, req, out_base);
		t.rpos = 0;
		attempts++;
		__atomic_add_fetch(&c->counts.requests, 1, __ATOMIC_RELAXED);
		if ((error = attempt(c, &t, &pr, errbuf, &cc)) < 0)
			goto done;
		if (cc == CURLE_OK && resp->status >= 200 && resp->status < 300)
			goto done;
		error_code(code, sizeof(code), resp);
		elapsed = sluice_clock_mono_ms(c->o.clock) - t0;
		if (!s3_retryable(cc, resp->status, code) ||
		    attempts >= c->o.max_attempts)
			break;
		delay = s3_backoff_ms(
			attempts, c->o.backoff_base_ms, c->o.backoff_max_ms,
			sluice__fmix64(
				c->o.seed +
				__atomic_add_fetch(
					&c->rnd, 1, __ATOMIC_RELAXED)));
		if (elapsed + delay >= c->o.retry_total_ms)
			break;
		sluice__debug(
			"s3 %s at %s: attempt %d failed (%s), retrying "
			"in %lld ms",
			req->op, c->endpoint, attempts,
			cc ? curl_easy_strerror(cc)
			   : (code[0] ? code : "HTTP error"),
			(long long)delay);
		c->o.sleep_ms(c->o.sleep_ctx, delay);
	}
	error = fail(c, req, resp, cc, errbuf, attempts, elapsed);
done:
	if (t.h)
		handle_give(c, t.h);
	sluice_buf_release(&pr.url);
	sluice_buf_release(&pr.host);
	sluice_buf_release(&pr.path);
	return error;
}
