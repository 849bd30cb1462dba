/*
 * The S3 operations on buckets and objects (see client.h): each builds an
 * s3_request, runs it through the engine in client.c and reads the answer.
 * Request bodies (DeleteObjects, CompleteMultipartUpload, bucket location)
 * are written here; responses are read with xml.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "request.h"
#include "util/alloc.h"
#include "util/error.h"

#define REQ(op_, method_, bucket_, key_)                                     \
	{                                                                    \
		(op_), (method_), (bucket_), (key_), NULL, 0, NULL, 0, NULL, \
			0, NULL                                              \
	}

static int run(s3_client *c, const s3_request *req)
{
	s3_response resp = {0};
	int error = s3__request(c, &resp, req);

	s3__response_release(&resp);
	return error;
}

int s3_client_create_bucket(s3_client *c, const char *bucket)
{
	s3_request req = REQ("create bucket", "PUT", bucket, NULL);
	const char *region = s3__client_opts(c)->region;
	sluice_buf body = SLUICE_BUF_INIT;
	int error = 0;

	if (strcmp(region, "us-east-1") != 0) {
		error = sluice_buf_printf(
			&body,
			"<CreateBucketConfiguration><LocationConstraint>%s"
			"</LocationConstraint></CreateBucketConfiguration>",
			region);
		req.body = body.ptr;
		req.body_len = body.len;
	}
	if (error == 0)
		error = run(c, &req);
	sluice_buf_release(&body);
	return error;
}

int s3_client_put_object(
	s3_client *c,
	const char *bucket,
	const char *key,
	const void *data,
	size_t len)
{
	s3_request req = REQ("PUT", "PUT", bucket, key);

	req.body = data;
	req.body_len = len;
	return run(c, &req);
}

int s3_client_get_object(
	s3_client *c,
	sluice_buf *out,
	const char *bucket,
	const char *key,
	uint64_t offset,
	uint64_t len)
{
	s3_request req = REQ("GET", "GET", bucket, key);
	s3_pair range = {"Range", NULL};
	char spec[64];
	int error;

	if (len == 0)
		return 0;
	if (offset || len != UINT64_MAX) {
		if (len == UINT64_MAX || len - 1 > UINT64_MAX - offset)
			snprintf(
				spec, sizeof(spec), "bytes=%" PRIu64 "-",
				offset);
		else
			snprintf(
				spec, sizeof(spec),
				"bytes=%" PRIu64 "-%" PRIu64, offset,
				offset + len - 1);
		range.value = spec;
		req.headers = &range;
		req.nheaders = 1;
	}
	req.out = out;
	error = run(c, &req);
	/* S3 answers any range on an empty object with InvalidRange */
	if (error == SLUICE_EINVALID && offset == 0) {
		sluice_error_clear();
		error = 0;
	}
	return error;
}

int s3_client_head_object(
	s3_client *c, uint64_t *size, const char *bucket, const char *key)
{
	s3_request req = REQ("HEAD", "HEAD", bucket, key);
	s3_response resp = {0};
	int error = s3__request(c, &resp, &req);

	if (error == 0)
		*size = resp.content_length;
	s3__response_release(&resp);
	return error;
}

int s3_client_delete_object(s3_client *c, const char *bucket, const char *key)
{
	s3_request req = REQ("DELETE", "DELETE", bucket, key);
	int error = run(c, &req);

	if (error == SLUICE_ENOTFOUND &&
	    strstr(sluice_error_last()->message, "no such key")) {
		sluice_error_clear();
		error = 0;
	}
	return error;
}

static int content_md5(char out[32], const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(data, len, md, &n, EVP_md5(), NULL))
		return sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
			"s3: MD5 unavailable in OpenSSL");
	EVP_EncodeBlock((unsigned char *)out, md, (int)n);
	return 0;
}

/* The <Error>s of a DeleteResult that are not "already gone": the first
 * one is named in the message with how many keys of the batch failed. */
static int delete_result(
	const s3_client *c,
	const char *bucket,
	const sluice_buf *body,
	size_t n)
{
	const char *p = (const char *)body->ptr, *end = p + body->len, *after;
	char *key = NULL, *code = NULL, *key1 = NULL, *code1 = NULL;
	size_t failed = 0;
	sluice_slice in;
	int error = 0;

	while (!error && p && s3_xml_find(p, end, "Error", &in, &after)) {
		const char *ie = (const char *)in.data + in.len;

		if (s3_xml_text(&code, in.data, ie, "Code") == SLUICE_ENOMEM ||
		    s3_xml_text(&key, in.data, ie, "Key") == SLUICE_ENOMEM)
			error = sluice__error_oom();
		else if (
			(!code || strcmp(code, "NoSuchKey") != 0) &&
			!failed++) {
			key1 = key, code1 = code;
			key = code = NULL;
		}
		sluice__free(code);
		sluice__free(key);
		code = key = NULL;
		p = after;
	}
	if (!error && failed)
		error = sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
			"s3 delete %s://%s/%s at %s failed: %s (%zu of %zu "
			"keys of the batch failed)",
			s3__client_opts(c)->scheme, bucket, key1 ? key1 : "?",
			s3_client_endpoint(c), code1 ? code1 : "unknown error",
			failed, n);
	sluice__free(key1);
	sluice__free(code1);
	return error;
}

static int delete_batch(
	s3_client *c, const char *bucket, const char *const *keys, size_t n)
{
	s3_request req = REQ("delete objects", "POST", bucket, NULL);
	const s3_pair q = {"delete", NULL};
	s3_pair h = {"Content-MD5", NULL};
	sluice_buf body = SLUICE_BUF_INIT, out = SLUICE_BUF_INIT;
	char md5[32];
	size_t i;
	int error;

	error = sluice_buf_printf(&body, "<Delete><Quiet>true</Quiet>");
	for (i = 0; i < n && error == 0; i++) {
		if ((error = sluice_buf_printf(&body, "<Object><Key>")) < 0 ||
		    (error = s3_xml_escape(&body, keys[i])) < 0)
			break;
		error = sluice_buf_printf(&body, "</Key></Object>");
	}
	if (error < 0 || (error = sluice_buf_printf(&body, "</Delete>")) < 0 ||
	    (error = content_md5(md5, body.ptr, body.len)) < 0)
		goto done;
	h.value = md5;
	req.query = &q;
	req.nquery = 1;
	req.headers = &h;
	req.nheaders = 1;
	req.body = body.ptr;
	req.body_len = body.len;
	req.out = &out;
	s3__count_delete_batch(c, n);
	if ((error = run(c, &req)) == 0)
		error = delete_result(c, bucket, &out, n);
done:
	sluice_buf_release(&body);
	sluice_buf_release(&out);
	return error;
}

int s3_client_delete_objects(
	s3_client *c, const char *bucket, const char *const *keys, size_t n)
{
	size_t i, k, batch = (size_t)s3__client_opts(c)->delete_batch;

	int error, first = 0;
	char msg[512];

	/* every batch is tried; the first failure is reported */
	for (i = 0; i < n; i += k) {
		k = n - i < batch ? n - i : batch;
		if ((error = delete_batch(c, bucket, keys + i, k)) < 0 &&
		    !first) {
			first = error;
			snprintf(
				msg, sizeof(msg), "%s",
				sluice_error_last()->message);
		}
	}
	if (first)
		return sluice__error_set(
			first, SLUICE_ERRCLS_STORAGE, "%s", msg);
	return 0;
}

int s3_client_list_page(
	s3_client *c,
	s3_list_page *page,
	const char *bucket,
	const char *prefix,
	const char *delimiter,
	const char *token,
	int max_keys)
{
	s3_request req = REQ("list", "GET", bucket, NULL);
	sluice_buf out = SLUICE_BUF_INIT;
	s3_pair q[5];
	char mk[16];
	size_t n = 0;
	int error;

	memset(page, 0, sizeof(*page));
	q[n++] = (s3_pair){"list-type", "2"};
	if (prefix && *prefix)
		q[n++] = (s3_pair){"prefix", prefix};
	if (delimiter && *delimiter)
		q[n++] = (s3_pair){"delimiter", delimiter};
	if (token)
		q[n++] = (s3_pair){"continuation-token", token};
	if (max_keys > 0) {
		snprintf(mk, sizeof(mk), "%d", max_keys);
		q[n++] = (s3_pair){"max-keys", mk};
	}
	req.query = q;
	req.nquery = n;
	req.out = &out;
	if ((error = run(c, &req)) == 0 &&
	    (error = s3_xml_parse_list(page, (const char *)out.ptr, out.len)) <
		    0)
		sluice__error_wrap(
			"s3 list %s://%s at %s", s3__client_opts(c)->scheme,
			bucket, s3_client_endpoint(c));
	sluice_buf_release(&out);
	return error;
}

int s3_client_list(
	s3_client *c,
	const char *bucket,
	const char *prefix,
	int page_size,
	s3_list_cb cb,
	void *ctx)
{
	s3_list_page page = {0};
	char *token = NULL;
	size_t i;
	int error;

	do {
		error = s3_client_list_page(
			c, &page, bucket, prefix, NULL, token, page_size);
		sluice__free(token);
		token = NULL;
		if (error < 0)
			return error;
		for (i = 0; i < page.count && error == 0; i++)
			error = cb(
				ctx, page.objects[i].key, page.objects[i].size);
		if (error == 0 && page.truncated) {
			token = page.next_token;
			page.next_token = NULL;
		}
		s3_list_page_release(&page);
	} while (error == 0 && token);
	sluice__free(token);
	return error;
}

int s3_client_count_uploads(
	s3_client *c, size_t *count, const char *bucket, const char *prefix)
{
	s3_request req = REQ("list uploads", "GET", bucket, NULL);
	s3_pair q[2] = {{"uploads", NULL}, {"prefix", prefix}};
	sluice_buf out = SLUICE_BUF_INIT;
	const char *p, *end, *after;
	sluice_slice in;
	int error;

	*count = 0;
	req.query = q;
	req.nquery = prefix && *prefix ? 2 : 1;
	req.out = &out;
	if ((error = run(c, &req)) == 0) {
		p = (const char *)out.ptr;
		end = p + out.len;
		while (p && s3_xml_find(p, end, "Upload", &in, &after)) {
			(*count)++;
			p = after;
		}
	}
	sluice_buf_release(&out);
	return error;
}

/* Call `cb` for each <Upload> of one ListMultipartUploads page; the
 * markers of the next page replace *key_marker / *id_marker (NULL when
 * the listing is complete). */
static int uploads_page(
	const sluice_buf *out,
	s3_upload_cb cb,
	void *ctx,
	char **key_marker,
	char **id_marker)
{
	const char *p = (const char *)out->ptr, *end = p + out->len, *after;
	char *key = NULL, *id = NULL, *trunc = NULL;
	sluice_slice in;
	int error = 0;

	while (!error && s3_xml_find(p, end, "Upload", &in, &after)) {
		const char *ie = (const char *)in.data + in.len;

		if (s3_xml_text(&key, in.data, ie, "Key") == SLUICE_ENOMEM ||
		    s3_xml_text(&id, in.data, ie, "UploadId") == SLUICE_ENOMEM)
			error = sluice__error_oom();
		else if (key && id)
			error = cb(ctx, key, id);
		sluice__free(key);
		sluice__free(id);
		key = id = NULL;
		p = after;
	}
	sluice__free(*key_marker);
	sluice__free(*id_marker);
	*key_marker = *id_marker = NULL;
	p = (const char *)out->ptr;
	if (!error &&
	    (s3_xml_text(&trunc, p, end, "IsTruncated") == SLUICE_ENOMEM ||
	     (trunc && !strcmp(trunc, "true") &&
	      (s3_xml_text(key_marker, p, end, "NextKeyMarker") ==
		       SLUICE_ENOMEM ||
	       s3_xml_text(id_marker, p, end, "NextUploadIdMarker") ==
		       SLUICE_ENOMEM))))
		error = sluice__error_oom();
	sluice__free(trunc);
	return error;
}

int s3_client_list_uploads(
	s3_client *c,
	const char *bucket,
	const char *prefix,
	s3_upload_cb cb,
	void *ctx)
{
	s3_request req = REQ("list uploads", "GET", bucket, NULL);
	s3_pair q[4] = {{"uploads", NULL}, {"prefix", prefix}};
	sluice_buf out = SLUICE_BUF_INIT;
	char *key_marker = NULL, *id_marker = NULL;
	int error, pages = 0;

	req.query = q;
	req.out = &out;
	do {
		req.nquery = prefix && *prefix ? 2 : 1;
		if (key_marker) {
			q[req.nquery].name = "key-marker";
			q[req.nquery++].value = key_marker;
		}
		if (id_marker) {
			q[req.nquery].name = "upload-id-marker";
			q[req.nquery++].value = id_marker;
		}
		sluice_buf_clear(&out);
		if ((error = run(c, &req)) == 0)
			error = uploads_page(
				&out, cb, ctx, &key_marker, &id_marker);
	} while (!error && key_marker && ++pages < 10000);
	sluice__free(key_marker);
	sluice__free(id_marker);
	sluice_buf_release(&out);
	return error;
}

int s3_client_multipart_create(
	s3_client *c, char **upload_id, const char *bucket, const char *key)
{
	s3_request req = REQ("create multipart upload", "POST", bucket, key);
	const s3_pair q = {"uploads", NULL};
	sluice_buf out = SLUICE_BUF_INIT;
	int error;

	*upload_id = NULL;
	req.query = &q;
	req.nquery = 1;
	req.out = &out;
	if ((error = run(c, &req)) == 0) {
		error = s3_xml_text(
			upload_id, (const char *)out.ptr,
			(const char *)out.ptr + out.len, "UploadId");
		if (error == SLUICE_ENOTFOUND)
			error = sluice__error_set(
				SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
				"s3 create multipart upload %s://%s/%s at %s: "
				"no UploadId in the answer",
				s3__client_opts(c)->scheme, bucket, key,
				s3_client_endpoint(c));
	}
	sluice_buf_release(&out);
	return error;
}

int s3_client_upload_part(
	s3_client *c,
	char **etag,
	const char *bucket,
	const char *key,
	const char *upload_id,
	int part,
	const void *data,
	size_t len)
{
	s3_request req = REQ("upload part", "PUT", bucket, key);
	s3_response resp = {0};
	s3_pair q[2] = {{"partNumber", NULL}, {"uploadId", upload_id}};
	char num[16];
	int error;

	*etag = NULL;
	snprintf(num, sizeof(num), "%d", part);
	q[0].value = num;
	req.query = q;
	req.nquery = 2;
	req.body = data;
	req.body_len = len;
	if ((error = s3__request(c, &resp, &req)) == 0) {
		if (!resp.etag)
			error = sluice__error_set(
				SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
				"s3 upload part %d of %s://%s/%s at %s: no "
				"ETag in the answer",
				part, s3__client_opts(c)->scheme, bucket, key,
				s3_client_endpoint(c));
		*etag = resp.etag;
		resp.etag = NULL;
	}
	s3__response_release(&resp);
	return error;
}

int s3_client_multipart_complete(
	s3_client *c,
	const char *bucket,
	const char *key,
	const char *upload_id,
	char *const *etags,
	int nparts)
{
	s3_request req = REQ("complete multipart upload", "POST", bucket, key);
	const s3_pair q = {"uploadId", upload_id};
	sluice_buf body = SLUICE_BUF_INIT, out = SLUICE_BUF_INIT;
	char *code = NULL;
	int i, error;

	error = sluice_buf_printf(&body, "<CompleteMultipartUpload>");
	for (i = 0; i < nparts && error == 0; i++) {
		if ((error = sluice_buf_printf(
			     &body,
			     "<Part><PartNumber>%d</"
			     "PartNumber><ETag>",
			     i + 1)) < 0 ||
		    (error = s3_xml_escape(&body, etags[i])) < 0)
			break;
		error = sluice_buf_printf(&body, "</ETag></Part>");
	}
	if (error < 0 || (error = sluice_buf_printf(
				  &body, "</CompleteMultipartUpload>")) < 0)
		goto done;
	req.query = &q;
	req.nquery = 1;
	req.body = body.ptr;
	req.body_len = body.len;
	req.out = &out;
	if ((error = run(c, &req)) < 0)
		goto done;
	/* S3 may answer 200 and still fail the completion in the body. */
	if (s3_xml_find(
		    (const char *)out.ptr, (const char *)out.ptr + out.len,
		    "Error", &(sluice_slice){0}, NULL)) {
		s3_xml_text(
			&code, (const char *)out.ptr,
			(const char *)out.ptr + out.len, "Code");
		error = sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
			"s3 complete multipart upload %s://%s/%s at %s "
			"failed: %s",
			s3__client_opts(c)->scheme, bucket, key,
			s3_client_endpoint(c), code ? code : "error");
	}
done:
	sluice__free(code);
	sluice_buf_release(&body);
	sluice_buf_release(&out);
	return error;
}

int s3_client_multipart_abort(
	s3_client *c,
	const char *bucket,
	const char *key,
	const char *upload_id)
{
	s3_request req = REQ("abort multipart upload", "DELETE", bucket, key);
	const s3_pair q = {"uploadId", upload_id};

	req.query = &q;
	req.nquery = 1;
	return run(c, &req);
}
