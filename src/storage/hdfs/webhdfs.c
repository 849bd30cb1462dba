/*
 * Checkpoint storage on HDFS through the WebHDFS REST protocol
 * (`webhdfs://namenode:http-port/path`, and `hdfs://namenode:port/path`
 * where the port must be the NameNode's HTTP port, 9870 by default in
 * Hadoop 3: sluice speaks WebHDFS, not Hadoop RPC).
 *
 * Protocol, as Hadoop documents it: every operation is an HTTP request to
 * /webhdfs/v1/<path>?op=<OP>&user.name=<user>.  CREATE and APPEND are two
 * steps: the NameNode answers 307 with the DataNode's Location, where the
 * bytes go.  OPEN redirects the same way (followed automatically).  Errors
 * come back as {"RemoteException": {"exception": ..., "message": ...}}.
 *
 * HDFS has directories and an atomic rename, so checkpoints commit by
 * renaming `_metadata` into place.  A file's bytes are buffered and sent
 * with CREATE at the first sync or close and with APPEND after that; they
 * are durable once the request returns.  The user comes from
 * hadoop.user.name, else HADOOP_USER_NAME.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "sluice/config.h"
#include "sluice/sys/storage.h"
#include "storage/ranged.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

#define FLUSH_AT       ((size_t)8 << 20) /* APPEND when this much is buffered */
#define READ_CHUNK     ((uint64_t)1 << 20)
#define READ_CHUNK_MAX ((uint64_t)16 << 20)
#define ATTEMPTS       4

typedef struct hdfs_storage {
	sluice_storage base;
	char *scheme;
	char *user;
} hdfs_storage;

/* A request's target: http://host:port and the absolute path. */
typedef struct target {
	sluice_buf base; /* "http://host:port" */
	sluice_buf path; /* "/a/b" */
} target;

static void target_release(target *t)
{
	sluice_buf_release(&t->base);
	sluice_buf_release(&t->path);
}

static int target_parse(target *t, const char *uri)
{
	const char *p = strstr(uri, "://"), *slash;

	memset(t, 0, sizeof(*t));
	if (!p ||
	    (strncmp(uri, "hdfs://", 7) && strncmp(uri, "webhdfs://", 10)))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STORAGE,
			"'%s' is not an hdfs:// or webhdfs:// URI", uri);
	p += 3;
	slash = strchr(p, '/');
	if (slash == p || !*p)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STORAGE,
			"'%s' names no NameNode (hdfs://host:port/path)", uri);
	SLUICE_ERRCHECK(sluice_buf_printf(
		&t->base, "http://%.*s",
		(int)(slash ? (size_t)(slash - p) : strlen(p)), p));
	SLUICE_ERRCHECK(sluice_buf_printf(&t->path, "%s", slash ? slash : "/"));
	while (t->path.len > 1 && t->path.ptr[t->path.len - 1] == '/')
		t->path.ptr[--t->path.len] = '\0';
	return 0;
}

static int put_encoded(sluice_buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~' || (keep_slash && c == '/'))
			SLUICE_ERRCHECK(sluice_buf_put_u8(b, c));
		else
			SLUICE_ERRCHECK(sluice_buf_printf(
				b, "%%%c%c", hex[c >> 4], hex[c & 15]));
	}
	return 0;
}

/* base + /webhdfs/v1 + path + ?op=OP[&extra]&user.name=U */
static int make_url(
	sluice_buf *url,
	const hdfs_storage *h,
	const target *t,
	const char *op,
	const char *extra)
{
	sluice_buf_clear(url);
	SLUICE_ERRCHECK(sluice_buf_printf(
		url, "%s/webhdfs/v1", (const char *)t->base.ptr));
	SLUICE_ERRCHECK(put_encoded(url, (const char *)t->path.ptr, 1));
	SLUICE_ERRCHECK(sluice_buf_printf(url, "?op=%s", op));
	if (extra)
		SLUICE_ERRCHECK(sluice_buf_printf(url, "&%s", extra));
	if (h->user) {
		SLUICE_ERRCHECK(sluice_buf_printf(url, "&user.name="));
		SLUICE_ERRCHECK(put_encoded(url, h->user, 0));
	}
	return sluice_buf_cstr(url);
}

typedef struct reply {
	long status;
	sluice_buf body;
	char location[2048];
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	reply *r = ctx;

	return sluice_buf_put(&r->body, p, size * n) < 0 ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	reply *r = ctx;
	size_t len = size * n, i;

	if (len > 9 && !strncasecmp(p, "Location:", 9)) {
		for (p += 9, len -= 9; len && (*p == ' ' || *p == '\t'); p++)
			len--;
		for (i = 0; i < len && i + 1 < sizeof(r->location) &&
			    p[i] != '\r' && p[i] != '\n';
		     i++)
			r->location[i] = p[i];
		r->location[i] = '\0';
	}
	return size * n;
}

/* One HTTP exchange with retries on transport errors and 5xx. */
static int
http(reply *r,
     const char *method,
     const char *url,
     const void *body,
     size_t len,
     int follow)
{
	char err[CURL_ERROR_SIZE];
	struct timespec ts;
	CURLcode cc = CURLE_OK;
	int attempt;

	for (attempt = 1; attempt <= ATTEMPTS; attempt++) {
		CURL *c = curl_easy_init();
		struct curl_slist *hdr = NULL;

		if (!c)
			return sluice__error_oom();
		sluice_buf_clear(&r->body);
		r->location[0] = '\0';
		r->status = 0;
		err[0] = '\0';
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, (long)follow);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 120000L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		if (body) {
			hdr = curl_slist_append(
				hdr, "Content-Type: application/octet-stream");
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(
				c, CURLOPT_POSTFIELDSIZE_LARGE,
				(curl_off_t)len);
		}
		cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_slist_free_all(hdr);
		curl_easy_cleanup(c);
		if (cc == CURLE_OK && r->status < 500)
			return 0;
		ts.tv_sec = 0;
		ts.tv_nsec = 100000000L << (attempt - 1);
		if (attempt < ATTEMPTS)
			nanosleep(&ts, NULL);
	}
	if (cc != CURLE_OK)
		return sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_NET,
			"%s %s: %s (after %d attempts)", method, url,
			err[0] ? err : curl_easy_strerror(cc), ATTEMPTS);
	return 0; /* a 5xx: the caller turns it into an error */
}

/* Map a non-2xx reply to an error naming the operation and path. */
static int remote_error(const reply *r, const char *op, const char *uri)
{
	const char *exc = "", *msg = "";
	cJSON *j =
		cJSON_ParseWithLength((const char *)r->body.ptr, r->body.len);
	cJSON *re = j ? cJSON_GetObjectItem(j, "RemoteException") : NULL;
	int code = r->status == 404                       ? SLUICE_ENOTFOUND
		   : r->status == 403 || r->status == 401 ? SLUICE_EIO
							  : SLUICE_EIO;

	if (re) {
		cJSON *e = cJSON_GetObjectItem(re, "exception");
		cJSON *m = cJSON_GetObjectItem(re, "message");

		exc = cJSON_IsString(e) ? e->valuestring : "";
		msg = cJSON_IsString(m) ? m->valuestring : "";
		if (!strcmp(exc, "FileNotFoundException"))
			code = SLUICE_ENOTFOUND;
		else if (!strcmp(exc, "FileAlreadyExistsException"))
			code = SLUICE_EEXISTS;
	}
	sluice__error_set(
		code, SLUICE_ERRCLS_STORAGE, "WebHDFS %s %s: HTTP %ld%s%s%s%s",
		op, uri, r->status, *exc ? " " : "", exc, *msg ? ": " : "",
		msg);
	cJSON_Delete(j);
	return code;
}

/*
 * Run operation `op` on `uri`: `redirect` = the two-step CREATE/APPEND,
 * where `body` goes to the DataNode the NameNode names.  The JSON answer
 * (if any) stays in r->body.
 */
static int
op_run(hdfs_storage *h,
       reply *r,
       const char *method,
       const char *uri,
       const char *op,
       const char *extra,
       const void *body,
       size_t len,
       int redirect)
{
	sluice_buf url = SLUICE_BUF_INIT;
	target t;
	int rc;

	if ((rc = target_parse(&t, uri)) < 0 ||
	    (rc = make_url(&url, h, &t, op, extra)) < 0)
		goto done;
	rc =
		http(r, method, (const char *)url.ptr, redirect ? NULL : body,
		     redirect ? 0 : len, !redirect);
	if (rc == 0 && redirect) {
		if (r->status != 307 || !r->location[0]) {
			rc = remote_error(r, op, uri);
			goto done;
		}
		sluice_buf_clear(&url);
		if ((rc = sluice_buf_printf(&url, "%s", r->location)) < 0)
			goto done;
		rc =
			http(r, method, (const char *)url.ptr, body ? body : "",
			     len, 0);
	}
	if (rc == 0 && (r->status < 200 || r->status > 299))
		rc = remote_error(r, op, uri);
done:
	sluice_buf_release(&url);
	target_release(&t);
	return rc;
}

/* The {"boolean": x} answer of DELETE, RENAME and MKDIRS. */
static int answer_bool(const reply *r)
{
	cJSON *j =
		cJSON_ParseWithLength((const char *)r->body.ptr, r->body.len);
	int v = cJSON_IsTrue(cJSON_GetObjectItem(j, "boolean"));

	cJSON_Delete(j);
	return v;
}

/* ---- files ------------------------------------------------------------ */

typedef struct hdfs_file {
	sluice_storage_file base;
	hdfs_storage *h;
	char *uri;
	sluice_buf buf;
	int created;
} hdfs_file;

/* Send what is buffered: CREATE (overwrite) the first time, then APPEND. */
static int flush(hdfs_file *f)
{
	reply r;
	int rc;

	if (f->created && f->buf.len == 0)
		return 0;
	memset(&r, 0, sizeof(r));
	rc = f->created ? op_run(f->h, &r, "POST", f->uri, "APPEND", NULL,
				 f->buf.ptr, f->buf.len, 1)
			: op_run(f->h, &r, "PUT", f->uri, "CREATE",
				 "overwrite=true", f->buf.ptr, f->buf.len, 1);
	sluice_buf_release(&r.body);
	if (rc == 0) {
		f->created = 1;
		sluice_buf_clear(&f->buf);
	}
	return rc;
}

static int
hf_write(sluice_storage_file *sf, const void *data, size_t len, size_t *n)
{
	hdfs_file *f = (hdfs_file *)sf;

	*n = 0;
	SLUICE_ERRCHECK(sluice_buf_put(&f->buf, data, len));
	*n = len;
	return f->buf.len >= FLUSH_AT ? flush(f) : 0;
}

static int hf_sync(sluice_storage_file *sf)
{
	return flush((hdfs_file *)sf);
}

static int hf_close(sluice_storage_file *sf)
{
	hdfs_file *f = (hdfs_file *)sf;
	int rc = flush(f);

	sluice_buf_release(&f->buf);
	sluice__free(f->uri);
	sluice__free(f);
	return rc;
}

static int
st_open_write(sluice_storage *st, const char *path, sluice_storage_file **out)
{
	hdfs_file *f = sluice__calloc(1, sizeof(*f));

	*out = NULL;
	if (!f || !(f->uri = sluice__strdup(path))) {
		sluice__free(f);
		return sluice__error_oom();
	}
	f->h = (hdfs_storage *)st;
	f->base.version = SLUICE_STORAGE_VERSION;
	f->base.write = hf_write;
	f->base.sync = hf_sync;
	f->base.close = hf_close;
	*out = &f->base;
	return 0;
}

/* ---- status ----------------------------------------------------------- */

static int
file_status(hdfs_storage *h, const char *uri, uint64_t *size, int *is_dir)
{
	reply r;
	cJSON *j, *fs;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = op_run(h, &r, "GET", uri, "GETFILESTATUS", NULL, NULL, 0, 0);
	if (rc == 0) {
		j = cJSON_ParseWithLength((const char *)r.body.ptr, r.body.len);
		fs = j ? cJSON_GetObjectItem(j, "FileStatus") : NULL;
		if (!fs) {
			rc = sluice__error_set(
				SLUICE_ECORRUPT, SLUICE_ERRCLS_STORAGE,
				"WebHDFS GETFILESTATUS %s: no FileStatus in "
				"the answer",
				uri);
		} else {
			cJSON *t = cJSON_GetObjectItem(fs, "type");
			cJSON *l = cJSON_GetObjectItem(fs, "length");

			if (size)
				*size = cJSON_IsNumber(l)
						? (uint64_t)l->valuedouble
						: 0;
			if (is_dir)
				*is_dir = cJSON_IsString(t) &&
					  !strcmp(t->valuestring, "DIRECTORY");
		}
		cJSON_Delete(j);
	}
	sluice_buf_release(&r.body);
	return rc;
}

static int
st_stat(sluice_storage *st, const char *path, uint64_t *size, int *is_dir)
{
	int dir = 0, rc;

	rc = file_status((hdfs_storage *)st, path, size, &dir);
	if (is_dir)
		*is_dir = dir;
	if (rc == 0 && dir && size)
		*size = 0;
	return rc;
}

/* ---- reading ---------------------------------------------------------- */

typedef struct hdfs_in {
	sluice_istream base;
	hdfs_storage *h;
	char *uri;
	sluice__ranged r;
} hdfs_in;

/* OPEN with offset and length; the reply's body becomes `out`. */
static int hi_fetch(void *ctx, uint64_t off, uint64_t len, sluice_buf *out)
{
	hdfs_in *in = ctx;
	char extra[96];
	reply r;
	int rc;

	snprintf(
		extra, sizeof(extra), "offset=%llu&length=%llu",
		(unsigned long long)off, (unsigned long long)len);
	memset(&r, 0, sizeof(r));
	rc = op_run(in->h, &r, "GET", in->uri, "OPEN", extra, NULL, 0, 0);
	if (rc < 0) {
		sluice_buf_release(&r.body);
		return rc;
	}
	sluice_buf_release(out);
	*out = r.body;
	return 0;
}

static int hi_read(sluice_istream *is, void *buf, size_t len, size_t *got)
{
	return sluice__ranged_read(&((hdfs_in *)is)->r, buf, len, got);
}

static int hi_seek(sluice_istream *is, uint64_t off)
{
	return sluice__ranged_seek(&((hdfs_in *)is)->r, off);
}

static uint64_t hi_size(sluice_istream *is)
{
	return ((hdfs_in *)is)->r.size;
}

static void hi_close(sluice_istream *is)
{
	hdfs_in *in = (hdfs_in *)is;

	sluice__ranged_release(&in->r);
	sluice__free(in->uri);
	sluice__free(in);
}

static int
st_open_read(sluice_storage *st, const char *path, sluice_istream **out)
{
	hdfs_in *in = sluice__calloc(1, sizeof(*in));
	uint64_t size = 0;
	int dir = 0, rc;

	*out = NULL;
	if (!in || !(in->uri = sluice__strdup(path))) {
		sluice__free(in);
		return sluice__error_oom();
	}
	in->h = (hdfs_storage *)st;
	rc = file_status(in->h, path, &size, &dir);
	sluice__ranged_init(
		&in->r, size, READ_CHUNK, READ_CHUNK_MAX, hi_fetch, in,
		in->uri);
	if (rc == 0 && dir)
		rc = sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STORAGE,
			"%s is a directory", path);
	if (rc < 0) {
		hi_close(&in->base);
		return rc;
	}
	in->base.version = SLUICE_STREAM_VERSION;
	in->base.read = hi_read;
	in->base.seek = hi_seek;
	in->base.size = hi_size;
	in->base.close = hi_close;
	*out = &in->base;
	return 0;
}

/* ---- namespace -------------------------------------------------------- */

static int delete_path(hdfs_storage *h, const char *path, const char *what)
{
	reply r;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = op_run(
		h, &r, "DELETE", path, "DELETE", "recursive=false", NULL, 0, 0);
	if (rc == 0 && !answer_bool(&r))
		rc = sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_STORAGE,
			"%s: no such %s", path, what);
	sluice_buf_release(&r.body);
	return rc;
}

static int st_remove(sluice_storage *st, const char *path)
{
	return delete_path((hdfs_storage *)st, path, "file");
}

static int st_rmdir(sluice_storage *st, const char *path)
{
	return delete_path((hdfs_storage *)st, path, "directory");
}

/* RENAME does not replace an existing target (HDFS semantics), so an
 * existing `to` is deleted first: atomic only when `to` is new, which is
 * how checkpoints commit (`_metadata` never exists before). */
static int st_rename(sluice_storage *st, const char *from, const char *to)
{
	hdfs_storage *h = (hdfs_storage *)st;
	sluice_buf dest = SLUICE_BUF_INIT;
	target t;
	reply r;
	int rc, tries;

	memset(&r, 0, sizeof(r));
	if ((rc = target_parse(&t, to)) < 0)
		return rc;
	if ((rc = sluice_buf_printf(&dest, "destination=")) < 0 ||
	    (rc = put_encoded(&dest, (const char *)t.path.ptr, 1)) < 0 ||
	    (rc = sluice_buf_cstr(&dest)) < 0)
		goto done;
	for (tries = 0; tries < 2; tries++) {
		rc =
			op_run(h, &r, "PUT", from, "RENAME",
			       (const char *)dest.ptr, NULL, 0, 0);
		if (rc < 0 || answer_bool(&r))
			break;
		/* refused: a missing source, or an existing target */
		if ((rc = file_status(h, from, NULL, NULL)) < 0)
			break;
		rc = sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
			"WebHDFS RENAME %s to %s refused", from, to);
		if (tries || delete_path(h, to, "file") < 0)
			break;
	}
done:
	sluice_buf_release(&r.body);
	sluice_buf_release(&dest);
	target_release(&t);
	return rc;
}

static int st_mkdirs(sluice_storage *st, const char *dir)
{
	reply r;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = op_run(
		(hdfs_storage *)st, &r, "PUT", dir, "MKDIRS", NULL, NULL, 0, 0);
	if (rc == 0 && !answer_bool(&r))
		rc = sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_STORAGE,
			"WebHDFS MKDIRS %s refused", dir);
	sluice_buf_release(&r.body);
	return rc;
}

/* LISTSTATUS of `dir`, recursing into directories. */
static int list_dir(
	hdfs_storage *h,
	const char *dir,
	sluice_storage_list_cb cb,
	void *ctx,
	int depth)
{
	sluice_buf child = SLUICE_BUF_INIT;
	cJSON *j = NULL, *arr, *e;
	reply r;
	int rc;

	if (depth > 64)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STORAGE,
			"%s: directories nested too deep", dir);
	memset(&r, 0, sizeof(r));
	rc = op_run(h, &r, "GET", dir, "LISTSTATUS", NULL, NULL, 0, 0);
	if (rc == SLUICE_ENOTFOUND) {
		sluice_error_clear();
		rc = 0;
		goto done;
	}
	if (rc < 0)
		goto done;
	j = cJSON_ParseWithLength((const char *)r.body.ptr, r.body.len);
	arr = cJSON_GetObjectItem(
		cJSON_GetObjectItem(j, "FileStatuses"), "FileStatus");
	cJSON_ArrayForEach(e, arr)
	{
		cJSON *name = cJSON_GetObjectItem(e, "pathSuffix");
		cJSON *type = cJSON_GetObjectItem(e, "type");
		cJSON *len = cJSON_GetObjectItem(e, "length");

		if (!cJSON_IsString(name) || !cJSON_IsString(type))
			continue;
		sluice_buf_clear(&child);
		if ((rc = sluice_buf_printf(
			     &child, "%s/%s", dir, name->valuestring)) < 0)
			break;
		if (!strcmp(type->valuestring, "DIRECTORY"))
			rc = list_dir(
				h, (const char *)child.ptr, cb, ctx, depth + 1);
		else
			rc = cb((const char *)child.ptr,
				cJSON_IsNumber(len) ? (uint64_t)len->valuedouble
						    : 0,
				ctx);
		if (rc)
			break;
	}
done:
	cJSON_Delete(j);
	sluice_buf_release(&child);
	sluice_buf_release(&r.body);
	return rc;
}

static int
st_list(sluice_storage *st,
	const char *dir,
	sluice_storage_list_cb cb,
	void *ctx)
{
	return list_dir((hdfs_storage *)st, dir, cb, ctx, 0);
}

static void st_destroy(sluice_storage *st)
{
	hdfs_storage *h = (hdfs_storage *)st;

	sluice__free(h->scheme);
	sluice__free(h->user);
	sluice__free(h);
}

int sluice_storage_hdfs_new(
	sluice_storage **out, const char *scheme, const sluice_config *conf)
{
	const char *user = NULL;
	hdfs_storage *h;

	*out = NULL;
	if (conf &&
	    sluice_config_get_string(conf, "hadoop.user.name", &user) < 0)
		user = NULL;
	if (!user || !*user)
		user = getenv("HADOOP_USER_NAME");
	if (!(h = sluice__calloc(1, sizeof(*h))) ||
	    !(h->scheme = sluice__strdup(scheme)) ||
	    (user && *user && !(h->user = sluice__strdup(user)))) {
		if (h)
			sluice__free(h->scheme);
		sluice__free(h);
		return sluice__error_oom();
	}
	h->base.version = SLUICE_STORAGE_VERSION;
	h->base.scheme = h->scheme;
	h->base.caps = SLUICE_STORAGE_ATOMIC_RENAME | SLUICE_STORAGE_DIRS;
	h->base.open_write = st_open_write;
	h->base.open_read = st_open_read;
	h->base.remove = st_remove;
	h->base.rmdir = st_rmdir;
	h->base.rename = st_rename;
	h->base.stat = st_stat;
	h->base.list = st_list;
	h->base.mkdirs = st_mkdirs;
	h->base.destroy = st_destroy;
	*out = &h->base;
	return 0;
}
