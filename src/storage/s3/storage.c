/*
 * Checkpoint storage on S3-compatible object stores (`s3://bucket/prefix`,
 * `obs://bucket/prefix`): the sluice_storage plug-in over the S3 client.
 *
 * Object stores have no rename and no directories, so the storage reports
 * neither capability: checkpoint locations then write every state object
 * first and `_metadata` last, and a directory "exists" when an object has
 * it as a prefix.  Writes stream into an upload (one PUT for small objects,
 * multipart above the part size); an object becomes visible only when its
 * file is closed, which is when it is durable.  Reads fetch ranges.
 *
 * Credentials come from s3.access-key / s3.secret-key (fs.obs.* are their
 * aliases), else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; the secret is
 * copied into the client and never printed.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "sluice/config.h"
#include "sluice/sys/storage.h"
#include "storage/ranged.h"
#include "uri.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

/* Ranged GETs start at 1 MiB and double while the reader goes on
 * sequentially (a restore reads whole objects), up to 16 MiB: fewer
 * requests, each costing a round trip. */
#define READ_CHUNK     ((uint64_t)1 << 20)
#define READ_CHUNK_MAX ((uint64_t)16 << 20)

typedef struct s3_storage {
	sluice_storage base;
	s3_client *client;
	char *scheme;
	char *entropy_key; /* s3.entropy.key, NULL when unset */
} s3_storage;

/* bucket + key of a storage path ("s3://bucket/a/b" -> "bucket", "a/b"). */
typedef struct loc {
	s3_uri uri;
	sluice_buf key; /* NUL-terminated */
} loc;

static int loc_parse(loc *l, const char *path)
{
	int rc;

	memset(l, 0, sizeof(*l));
	if ((rc = s3_uri_parse(&l->uri, path)) < 0)
		return rc;
	if ((rc = sluice_buf_put(
		     &l->key, l->uri.prefix, strlen(l->uri.prefix))) < 0 ||
	    (rc = sluice_buf_cstr(&l->key)) < 0) {
		s3_uri_release(&l->uri);
		return rc;
	}
	return 0;
}

static void loc_release(loc *l)
{
	s3_uri_release(&l->uri);
	sluice_buf_release(&l->key);
}

static const char *key_of(const loc *l)
{
	return (const char *)l->key.ptr;
}

/* ---- writing ---------------------------------------------------------- */

typedef struct s3_file {
	sluice_storage_file base;
	s3_upload *up;
} s3_file;

static int
f_write(sluice_storage_file *f, const void *data, size_t len, size_t *written)
{
	int rc = s3_upload_write(((s3_file *)f)->up, data, len);

	*written = rc < 0 ? 0 : len;
	return rc;
}

/* Parts already handed to the uploader are stored; the buffered tail
 * becomes durable with the object at close. */
static int f_sync(sluice_storage_file *f)
{
	return s3_upload_wait(((s3_file *)f)->up);
}

static int f_close(sluice_storage_file *f)
{
	s3_file *sf = (s3_file *)f;
	int rc = s3_upload_finish(sf->up, NULL);

	s3_upload_free(sf->up);
	sluice__free(sf);
	return rc;
}

static int
st_open_write(sluice_storage *st, const char *path, sluice_storage_file **out)
{
	s3_storage *s = (s3_storage *)st;
	s3_file *f;
	loc l;
	int rc;

	*out = NULL;
	if ((rc = loc_parse(&l, path)) < 0)
		return rc;
	if (!(f = sluice__calloc(1, sizeof(*f)))) {
		loc_release(&l);
		return sluice__error_oom();
	}
	rc = s3_upload_new(&f->up, s->client, l.uri.bucket, key_of(&l));
	loc_release(&l);
	if (rc < 0) {
		sluice__free(f);
		return rc;
	}
	f->base.version = SLUICE_STORAGE_VERSION;
	f->base.write = f_write;
	f->base.sync = f_sync;
	f->base.close = f_close;
	*out = &f->base;
	return 0;
}

/* ---- reading ---------------------------------------------------------- */

typedef struct s3_in {
	sluice_istream base;
	s3_client *client;
	loc l;
	char *name; /* the path, for messages */
	sluice__ranged r;
} s3_in;

/* Ranged GETs of the object. */
static int in_fetch(void *ctx, uint64_t off, uint64_t len, sluice_buf *out)
{
	s3_in *in = ctx;

	return s3_client_get_object(
		in->client, out, in->l.uri.bucket, key_of(&in->l), off, len);
}

static int in_read(sluice_istream *is, void *buf, size_t len, size_t *got)
{
	return sluice__ranged_read(&((s3_in *)is)->r, buf, len, got);
}

static int in_seek(sluice_istream *is, uint64_t off)
{
	return sluice__ranged_seek(&((s3_in *)is)->r, off);
}

static uint64_t in_size(sluice_istream *is)
{
	return ((s3_in *)is)->r.size;
}

static void in_close(sluice_istream *is)
{
	s3_in *in = (s3_in *)is;

	loc_release(&in->l);
	sluice__ranged_release(&in->r);
	sluice__free(in->name);
	sluice__free(in);
}

static int
st_open_read(sluice_storage *st, const char *path, sluice_istream **out)
{
	s3_in *in = sluice__calloc(1, sizeof(*in));
	uint64_t size = 0;
	int rc;

	*out = NULL;
	if (!in)
		return sluice__error_oom();
	in->client = ((s3_storage *)st)->client;
	if ((rc = loc_parse(&in->l, path)) < 0) {
		sluice__free(in);
		return rc;
	}
	if (!(in->name = sluice__strdup(path)))
		rc = sluice__error_oom();
	else
		rc = s3_client_head_object(
			in->client, &size, in->l.uri.bucket, key_of(&in->l));
	sluice__ranged_init(
		&in->r, size, READ_CHUNK, READ_CHUNK_MAX, in_fetch, in,
		in->name);
	if (rc < 0) {
		in_close(&in->base);
		return rc;
	}
	in->base.version = SLUICE_STREAM_VERSION;
	in->base.read = in_read;
	in->base.seek = in_seek;
	in->base.size = in_size;
	in->base.close = in_close;
	*out = &in->base;
	return 0;
}

/* ---- namespace -------------------------------------------------------- */

static int st_remove(sluice_storage *st, const char *path)
{
	s3_client *c = ((s3_storage *)st)->client;
	uint64_t size;
	loc l;
	int rc;

	if ((rc = loc_parse(&l, path)) < 0)
		return rc;
	/* S3 deletes missing keys silently; the interface reports them */
	if ((rc = s3_client_head_object(c, &size, l.uri.bucket, key_of(&l))) ==
	    0)
		rc = s3_client_delete_object(c, l.uri.bucket, key_of(&l));
	loc_release(&l);
	return rc;
}

/* Delete the keys of `paths` with DeleteObjects, one batch sequence per
 * run of paths in the same bucket (checkpoints live in one bucket). */
static int
st_remove_many(sluice_storage *st, const char *const *paths, size_t n)
{
	s3_client *c = ((s3_storage *)st)->client;
	const char **keys = sluice__calloc(n ? n : 1, sizeof(*keys));
	loc *ls = sluice__calloc(n ? n : 1, sizeof(*ls));
	size_t i, j, parsed = 0;
	int error = 0, e;

	if (!keys || !ls) {
		error = sluice__error_oom();
		goto done;
	}
	for (; parsed < n; parsed++) {
		if ((error = loc_parse(&ls[parsed], paths[parsed])) < 0)
			goto done;
		keys[parsed] = key_of(&ls[parsed]);
	}
	for (i = 0; i < n; i = j) {
		for (j = i + 1;
		     j < n && !strcmp(ls[j].uri.bucket, ls[i].uri.bucket); j++)
			;
		e = s3_client_delete_objects(
			c, ls[i].uri.bucket, keys + i, j - i);
		if (e < 0 && !error)
			error = e;
	}
done:
	for (i = 0; i < parsed; i++)
		loc_release(&ls[i]);
	sluice__free(ls);
	sluice__free(keys);
	return error;
}

/* "dir/" as a listing prefix ("" at the bucket root). */
static int dir_prefix(sluice_buf *out, const loc *l)
{
	const char *k = key_of(l);

	SLUICE_ERRCHECK(sluice_buf_put(out, k, strlen(k)));
	if (out->len && out->ptr[out->len - 1] != '/')
		SLUICE_ERRCHECK(sluice_buf_put_u8(out, '/'));
	return sluice_buf_cstr(out);
}

/* Which multipart uploads cleanup aborts: keys under `prefix`, and with
 * entropy `prefix` + `len` alphanumerics + `after`. */
typedef struct stale {
	s3_client *c;
	const char *bucket, *prefix, *after;
	int len;
	size_t aborted;
	int error;
} stale;

static int alnum_run(const char *p, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9')))
			return 0;
	return 1;
}

static int abort_stale(void *ctx, const char *key, const char *upload_id)
{
	stale *x = ctx;
	size_t pl = strlen(x->prefix);
	int rc;

	if (strncmp(key, x->prefix, pl) != 0)
		return 0;
	if (x->after &&
	    (strlen(key) < pl + (size_t)x->len ||
	     !alnum_run(key + pl, x->len) ||
	     strncmp(key + pl + x->len, x->after, strlen(x->after)) != 0))
		return 0;
	rc = s3_client_multipart_abort(x->c, x->bucket, key, upload_id);
	if (rc == 0)
		x->aborted++;
	else if (!x->error)
		x->error = rc;
	return 0;
}

/* Abort the multipart uploads a killed writer left under `dir`. */
static int st_cleanup(sluice_storage *st, const char *dir)
{
	s3_storage *s = (s3_storage *)st;
	const char *k, *at;
	sluice_buf prefix = SLUICE_BUF_INIT, after = SLUICE_BUF_INIT;
	stale x;
	loc l;
	int rc;

	if ((rc = loc_parse(&l, dir)) < 0)
		return rc;
	memset(&x, 0, sizeof(x));
	x.c = s->client;
	x.bucket = l.uri.bucket;
	k = key_of(&l);
	at = s->entropy_key ? strstr(k, s->entropy_key) : NULL;
	if (at) { /* "<before>KEY<rest>" → "<before>" ?{len} "<rest>/" */
		x.len = s->base.entropy_length;
		if ((rc = sluice_buf_put(&prefix, k, (size_t)(at - k))) < 0 ||
		    (rc = sluice_buf_cstr(&prefix)) < 0 ||
		    (rc = dir_prefix(&after, &l)) < 0)
			goto done;
		x.after = (const char *)after.ptr + (at - k) +
			  strlen(s->entropy_key);
	} else if ((rc = dir_prefix(&prefix, &l)) < 0) {
		goto done;
	}
	x.prefix = (const char *)prefix.ptr;
	rc = s3_client_list_uploads(
		s->client, x.bucket, x.prefix, abort_stale, &x);
	if (rc == 0 && x.error)
		rc = x.error;
	if (x.aborted)
		sluice__info(
			"aborted %zu incomplete multipart upload(s) under %s",
			x.aborted, dir);
done:
	sluice_buf_release(&prefix);
	sluice_buf_release(&after);
	loc_release(&l);
	return rc;
}

static int
st_stat(sluice_storage *st, const char *path, uint64_t *size, int *is_dir)
{
	s3_client *c = ((s3_storage *)st)->client;
	sluice_buf prefix = SLUICE_BUF_INIT;
	s3_list_page page;
	uint64_t sz = 0;
	loc l;
	int rc;

	if (is_dir)
		*is_dir = 0;
	if ((rc = loc_parse(&l, path)) < 0)
		return rc;
	rc = key_of(&l)[0]
		     ? s3_client_head_object(c, &sz, l.uri.bucket, key_of(&l))
		     : SLUICE_ENOTFOUND;
	if (rc == 0 && size)
		*size = sz;
	if (rc == SLUICE_ENOTFOUND && (rc = dir_prefix(&prefix, &l)) == 0) {
		memset(&page, 0, sizeof(page));
		rc = s3_client_list_page(
			c, &page, l.uri.bucket, (const char *)prefix.ptr, NULL,
			NULL, 1);
		if (rc == 0 && page.count == 0)
			rc = sluice__error_set(
				SLUICE_ENOTFOUND, SLUICE_ERRCLS_STORAGE,
				"%s: no such object or prefix", path);
		else if (rc == 0 && is_dir)
			*is_dir = 1;
		s3_list_page_release(&page);
	}
	sluice_buf_release(&prefix);
	loc_release(&l);
	return rc;
}

typedef struct list_ctx {
	const loc *l;
	sluice_buf path;
	sluice_storage_list_cb cb;
	void *ctx;
} list_ctx;

static int list_one(void *arg, const char *key, uint64_t size)
{
	list_ctx *x = arg;

	sluice_buf_clear(&x->path);
	if (sluice_buf_printf(
		    &x->path, "%s://%s/%s", x->l->uri.scheme, x->l->uri.bucket,
		    key) < 0)
		return SLUICE_ENOMEM;
	return x->cb((const char *)x->path.ptr, size, x->ctx);
}

static int
st_list(sluice_storage *st,
	const char *dir,
	sluice_storage_list_cb cb,
	void *ctx)
{
	sluice_buf prefix = SLUICE_BUF_INIT;
	list_ctx x;
	loc l;
	int rc;

	if ((rc = loc_parse(&l, dir)) < 0)
		return rc;
	x.l = &l;
	x.cb = cb;
	x.ctx = ctx;
	sluice_buf_init(&x.path);
	if ((rc = dir_prefix(&prefix, &l)) == 0)
		rc = s3_client_list(
			((s3_storage *)st)->client, l.uri.bucket,
			(const char *)prefix.ptr, 0, list_one, &x);
	sluice_buf_release(&x.path);
	sluice_buf_release(&prefix);
	loc_release(&l);
	return rc;
}

static void st_destroy(sluice_storage *st)
{
	s3_storage *s = (s3_storage *)st;

	s3_client_free(s->client);
	sluice__free(s->scheme);
	sluice__free(s->entropy_key);
	sluice__free(s);
}

s3_client *sluice__s3_storage_client(sluice_storage *st)
{
	return ((s3_storage *)st)->client;
}

/* An IPv4 or bracketed IPv6 literal host cannot carry a bucket name in
 * front of it, so such endpoints are always addressed path-style. */
static int ip_literal_endpoint(const char *endpoint)
{
	const char *h = strstr(endpoint, "://");

	h = h ? h + 3 : endpoint;
	if (*h == '[')
		return 1;
	for (; *h && *h != ':' && *h != '/'; h++)
		if (!(*h == '.' || (*h >= '0' && *h <= '9')))
			return 0;
	return 1;
}

/* A string option, else the environment variable `env` (may be NULL). */
static const char *
opt(const sluice_config *conf, const char *key, const char *env)
{
	const char *v = NULL;

	if (conf && sluice_config_get_string(conf, key, &v) < 0)
		v = NULL;
	if ((!v || !*v) && env)
		v = getenv(env);
	return v && *v ? v : NULL;
}

/* s3.entropy.key / s3.entropy.length into the storage (validated). */
static int entropy_opts(s3_storage *s, const sluice_config *conf)
{
	const char *key = opt(conf, "s3.entropy.key", NULL);
	int32_t len = 0;

	if (!key)
		return 0;
	if (sluice_config_get_int(conf, "s3.entropy.length", &len) < 0)
		return sluice_error_last()->code;
	SLUICE_ERRCHECK(s3_entropy_check(key, (int)len));
	if (!(s->entropy_key = sluice__strdup(key)))
		return sluice__error_oom();
	s->base.entropy_key = s->entropy_key;
	s->base.entropy_length = (int)len;
	return 0;
}

int sluice_storage_s3_new(
	sluice_storage **out, const char *scheme, const sluice_config *conf)
{
	s3_client_opts o;
	s3_storage *s;
	int path_style = 0, rc;

	*out = NULL;
	memset(&o, 0, sizeof(o));
	o.endpoint = opt(conf, "s3.endpoint", NULL);
	o.access_key = opt(conf, "s3.access-key", "AWS_ACCESS_KEY_ID");
	o.secret_key = opt(conf, "s3.secret-key", "AWS_SECRET_ACCESS_KEY");
	o.region = opt(conf, "s3.region", "AWS_REGION");
	if (conf && sluice_config_get_bool(
			    conf, "s3.path.style.access", &path_style) < 0)
		return sluice_error_last()->code;
	o.path_style =
		path_style || (o.endpoint && ip_literal_endpoint(o.endpoint));
	if (conf &&
	    (sluice_config_get_int(
		     conf, "s3.attempts.maximum", &o.max_attempts) < 0 ||
	     sluice_config_get_duration(
		     conf, "s3.retry.interval", &o.backoff_base_ms) < 0))
		return sluice_error_last()->code;
	o.scheme = scheme;
	if (!o.endpoint)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"%s:// storage needs s3.endpoint", scheme);
	if (!o.access_key || !o.secret_key)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"%s:// storage at %s needs credentials: s3.access-key "
			"and s3.secret-key, or AWS_ACCESS_KEY_ID and "
			"AWS_SECRET_ACCESS_KEY",
			scheme, o.endpoint);
	if (!(s = sluice__calloc(1, sizeof(*s))) ||
	    !(s->scheme = sluice__strdup(scheme))) {
		sluice__free(s);
		return sluice__error_oom();
	}
	if ((rc = entropy_opts(s, conf)) < 0 ||
	    (rc = s3_client_new(&s->client, &o)) < 0) {
		sluice__free(s->entropy_key);
		sluice__free(s->scheme);
		sluice__free(s);
		return rc;
	}
	s->base.version = SLUICE_STORAGE_VERSION;
	s->base.scheme = s->scheme;
	s->base.caps = 0; /* no rename, no directories: _metadata last */
	s->base.open_write = st_open_write;
	s->base.open_read = st_open_read;
	s->base.remove = st_remove;
	s->base.stat = st_stat;
	s->base.list = st_list;
	s->base.destroy = st_destroy;
	s->base.remove_many = st_remove_many;
	s->base.cleanup = st_cleanup;
	*out = &s->base;
	return 0;
}
