/*
 * The exactly-once `file` sink: two-phase commit over a directory.
 *
 * Each subtask appends records (the value, one per line) to a hidden
 * in-progress file `path/.part-<uid>-<s>.inprogress`.  At a checkpoint
 * (snapshot_state of checkpoint n) the file is flushed, fsynced and
 * renamed to the hidden pending file `.part-<uid>-<s>-<n>.pending`
 * (pre-commit), and the list of pending (subtask, checkpoint) pairs not
 * yet committed becomes the operator state "file-sink-pending".  When
 * checkpoint n completes, every pending file of a checkpoint <= n is
 * renamed to `part-<uid>-<s>-<n>` (commit) and the directory fsynced.
 * Renames within one directory are atomic, so readers never see partial
 * files.
 *
 * Restore: the pending list of the restored (completed) checkpoint is
 * committed again — a pending file still there is renamed, one already
 * renamed is skipped, one that is neither is reported — and then every
 * other hidden file of this sink belonging to this subtask (subtask
 * index modulo parallelism) is deleted: the leftovers of failed attempts
 * whose records will be replayed.  A fresh start deletes them too.
 * Records written after the last checkpoint of a run that ends without a
 * final checkpoint stay uncommitted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobs/builtins.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

#define STATE_NAME "file-sink-pending"
#define FLUSH_AT   (64u << 10)
#define NAME_MAX_  4096

typedef struct pend {
	int32_t subtask;
	int64_t id;
} pend;

typedef struct fsink {
	char uid[256]; /* uid made safe for file names */
	int fd;        /* in-progress file, -1 when none */
	sluice_buf out;
	pend *pending;
	size_t num_pending, cap_pending;
} fsink;

static void safe_uid(char *out, size_t len, const char *uid)
{
	size_t i;

	for (i = 0; uid[i] && i + 1 < len; i++)
		out[i] = (uid[i] >= 'a' && uid[i] <= 'z') ||
					 (uid[i] >= 'A' && uid[i] <= 'Z') ||
					 (uid[i] >= '0' && uid[i] <= '9') ||
					 uid[i] == '-' || uid[i] == '_'
				 ? uid[i]
				 : '_';
	out[i] = '\0';
}

static void inprogress_name(char *buf, const char *dir, const fsink *f, int s)
{
	snprintf(buf, NAME_MAX_, "%s/.part-%s-%d.inprogress", dir, f->uid, s);
}

static void
pending_name(char *buf, const char *dir, const fsink *f, int32_t s, int64_t id)
{
	snprintf(
		buf, NAME_MAX_, "%s/.part-%s-%d-%" PRId64 ".pending", dir,
		f->uid, (int)s, id);
}

static void
final_name(char *buf, const char *dir, const fsink *f, int32_t s, int64_t id)
{
	snprintf(
		buf, NAME_MAX_, "%s/part-%s-%d-%" PRId64, dir, f->uid, (int)s,
		id);
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return sluice__error_os(
			SLUICE_ERRCLS_STORAGE, "file sink: open '%s'", dir);
	if (fsync(fd) < 0) {
		close(fd);
		return sluice__error_os(
			SLUICE_ERRCLS_STORAGE, "file sink: fsync '%s'", dir);
	}
	close(fd);
	return 0;
}

static int mkdirs(const char *path)
{
	char buf[NAME_MAX_];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"file sink: bad output path '%s'", path);
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return sluice__error_os(
				SLUICE_ERRCLS_STORAGE,
				"file sink: create directory '%s'", buf);
		buf[i] = path[i];
	}
	return 0;
}

static int pend_add(fsink *f, int32_t s, int64_t id)
{
	if (f->num_pending == f->cap_pending) {
		size_t cap = f->cap_pending ? f->cap_pending * 2 : 8;
		pend *p = sluice__reallocarray(f->pending, cap, sizeof(*p));

		if (!p)
			return sluice__error_oom();
		f->pending = p;
		f->cap_pending = cap;
	}
	f->pending[f->num_pending].subtask = s;
	f->pending[f->num_pending].id = id;
	f->num_pending++;
	return 0;
}

/* Commit one pending file; `restoring`: a missing pending file is fine
 * when its final file exists (committed before the failure). */
static int commit_one(sluice_ctx *ctx, const char *dir, const pend *p)
{
	fsink *f = sluice_ctx_local(ctx);
	char from[NAME_MAX_], to[NAME_MAX_];
	struct stat st;

	pending_name(from, dir, f, p->subtask, p->id);
	final_name(to, dir, f, p->subtask, p->id);
	if (rename(from, to) == 0)
		return 0;
	if (errno == ENOENT && stat(to, &st) == 0)
		return 0; /* committed before */
	if (errno == ENOENT)
		return sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_JOB,
			"file sink '%s': pending file '%s' of checkpoint "
			"%" PRId64 " is gone and was never committed",
			sluice_ctx_uid(ctx), from, p->id);
	return sluice__error_os(
		SLUICE_ERRCLS_STORAGE, "file sink '%s': commit '%s'",
		sluice_ctx_uid(ctx), from);
}

/* Commit every pending file of a checkpoint <= upto. */
static int commit_upto(sluice_ctx *ctx, int64_t upto)
{
	const sluice__file_sink_arg *a = sluice_ctx_arg(ctx);
	fsink *f = sluice_ctx_local(ctx);
	size_t i, keep = 0;
	int rc = 0, any = 0;

	for (i = 0; i < f->num_pending; i++) {
		if (rc == 0 && f->pending[i].id <= upto) {
			if ((rc = commit_one(ctx, a->path, &f->pending[i])) < 0)
				f->pending[keep++] = f->pending[i];
			any = 1;
		} else {
			f->pending[keep++] = f->pending[i];
		}
	}
	f->num_pending = keep;
	if (rc == 0 && any)
		rc = sync_dir(a->path);
	return rc;
}

/* Parse ".part-<uid>-<s>..." of this sink: the subtask index or -1. */
static int hidden_subtask(const fsink *f, const char *name)
{
	size_t ul = strlen(f->uid);
	char *end;
	long s;

	if (strncmp(name, ".part-", 6) || strncmp(name + 6, f->uid, ul) ||
	    name[6 + ul] != '-')
		return -1;
	s = strtol(name + 7 + ul, &end, 10);
	if (end == name + 7 + ul || s < 0 || s > 32767 ||
	    (*end != '-' && *end != '.'))
		return -1;
	return (int)s;
}

/* Delete this subtask's hidden leftovers of failed attempts. */
static int clean_leftovers(sluice_ctx *ctx)
{
	const sluice__file_sink_arg *a = sluice_ctx_arg(ctx);
	fsink *f = sluice_ctx_local(ctx);
	int p = sluice_ctx_parallelism(ctx), me = sluice_ctx_subtask(ctx);
	DIR *d = opendir(a->path);
	struct dirent *e;
	char path[NAME_MAX_];
	int rc = 0;

	if (!d)
		return sluice__error_os(
			SLUICE_ERRCLS_STORAGE, "file sink: open directory '%s'",
			a->path);
	while ((e = readdir(d)) != NULL) {
		int s = hidden_subtask(f, e->d_name);

		if (s < 0 || s % p != me)
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->path, e->d_name);
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = sluice__error_os(
				SLUICE_ERRCLS_STORAGE,
				"file sink: delete leftover '%s'", path);
			break;
		}
	}
	closedir(d);
	return rc;
}

static int restore_pending(sluice_ctx *ctx)
{
	fsink *f = sluice_ctx_local(ctx);
	const sluice_slice *el;
	size_t n, i;
	int rc;

	if ((rc = sluice_ctx_opstate_get(ctx, STATE_NAME, &el, &n)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (el[i].len != 12)
			return sluice__error_set(
				SLUICE_ECORRUPT, SLUICE_ERRCLS_JOB,
				"file sink '%s' subtask %d: pending entry %zu "
				"has %zu bytes, expected 12",
				sluice_ctx_uid(ctx),
				(int)sluice_ctx_subtask(ctx), i, el[i].len);
		if ((rc = pend_add(
			     f, (int32_t)sluice__rd32(el[i].data),
			     (int64_t)sluice__rd64(
				     (const uint8_t *)el[i].data + 4))) < 0)
			return rc;
	}
	return commit_upto(ctx, INT64_MAX);
}

static int fs_init(sluice_ctx *ctx, int restored)
{
	const sluice__file_sink_arg *a = sluice_ctx_arg(ctx);
	fsink *f = sluice__calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return sluice__error_oom();
	f->fd = -1;
	safe_uid(f->uid, sizeof(f->uid), sluice_ctx_uid(ctx));
	sluice_ctx_set_local(ctx, f);
	if ((rc = mkdirs(a->path)) < 0)
		return rc;
	if (restored && (rc = restore_pending(ctx)) < 0)
		return rc;
	return clean_leftovers(ctx);
}

static int flush_out(sluice_ctx *ctx)
{
	fsink *f = sluice_ctx_local(ctx);
	size_t off = 0;

	while (off < f->out.len) {
		ssize_t w = write(f->fd, f->out.ptr + off, f->out.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return sluice__error_os(
				SLUICE_ERRCLS_STORAGE,
				"file sink '%s' subtask %d: write",
				sluice_ctx_uid(ctx),
				(int)sluice_ctx_subtask(ctx));
		off += (size_t)w;
	}
	sluice_buf_clear(&f->out);
	return 0;
}

static int fs_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	const sluice__file_sink_arg *a = sluice_ctx_arg(ctx);
	fsink *f = sluice_ctx_local(ctx);
	char name[NAME_MAX_];
	int rc;

	(void)input;
	if (f->fd < 0) {
		inprogress_name(name, a->path, f, sluice_ctx_subtask(ctx));
		f->fd = open(
			name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f->fd < 0)
			return sluice__error_os(
				SLUICE_ERRCLS_STORAGE, "file sink: create '%s'",
				name);
	}
	if ((rc = sluice_buf_put(&f->out, rec->value.data, rec->value.len)) <
		    0 ||
	    (rc = sluice_buf_put_u8(&f->out, '\n')) < 0)
		return rc;
	return f->out.len >= FLUSH_AT ? flush_out(ctx) : 0;
}

/* Pre-commit: flush, fsync and move the in-progress file aside. */
static int precommit(sluice_ctx *ctx, int64_t id)
{
	const sluice__file_sink_arg *a = sluice_ctx_arg(ctx);
	fsink *f = sluice_ctx_local(ctx);
	int s = sluice_ctx_subtask(ctx), rc;
	char from[NAME_MAX_], to[NAME_MAX_];

	if ((rc = flush_out(ctx)) < 0)
		return rc;
	if (fsync(f->fd) < 0)
		return sluice__error_os(
			SLUICE_ERRCLS_STORAGE,
			"file sink '%s' subtask %d: fsync", sluice_ctx_uid(ctx),
			s);
	close(f->fd);
	f->fd = -1;
	inprogress_name(from, a->path, f, s);
	pending_name(to, a->path, f, s, id);
	if (rename(from, to) < 0)
		return sluice__error_os(
			SLUICE_ERRCLS_STORAGE, "file sink: rename '%s' to '%s'",
			from, to);
	if ((rc = sync_dir(a->path)) < 0)
		return rc;
	return pend_add(f, s, id);
}

static int fs_snapshot(sluice_ctx *ctx, int64_t id)
{
	fsink *f = sluice_ctx_local(ctx);
	sluice_slice *els = NULL;
	uint8_t *bytes = NULL;
	size_t i;
	int rc = 0;

	if (f->fd >= 0 && (rc = precommit(ctx, id)) < 0)
		return rc;
	if (f->num_pending) {
		els = sluice__calloc(f->num_pending, sizeof(*els));
		bytes = sluice__malloc(f->num_pending * 12);
		if (!els || !bytes) {
			rc = sluice__error_oom();
			goto out;
		}
	}
	for (i = 0; i < f->num_pending; i++) {
		sluice__be32(bytes + i * 12, (uint32_t)f->pending[i].subtask);
		sluice__be64(bytes + i * 12 + 4, (uint64_t)f->pending[i].id);
		els[i] = SLUICE_SLICE(bytes + i * 12, 12);
	}
	rc = sluice_ctx_opstate_set(ctx, STATE_NAME, els, f->num_pending);
out:
	sluice__free(els);
	sluice__free(bytes);
	return rc;
}

static int fs_complete(sluice_ctx *ctx, int64_t id)
{
	return commit_upto(ctx, id);
}

static void fs_close(sluice_ctx *ctx, int failed)
{
	fsink *f = sluice_ctx_local(ctx);

	(void)failed;
	if (!f)
		return;
	if (f->fd >= 0) {
		if (!failed)
			(void)flush_out(ctx);
		close(f->fd);
	}
	sluice_buf_release(&f->out);
	sluice__free(f->pending);
	sluice__free(f);
	sluice_ctx_set_local(ctx, NULL);
}

const sluice_operator sluice__file_sink_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.initialize_state = fs_init,
	.process = fs_process,
	.snapshot_state = fs_snapshot,
	.notify_complete = fs_complete,
	.close = fs_close,
};

static void fs_free_arg(void *arg)
{
	sluice__file_sink_arg *a = arg;

	if (a)
		sluice__free((char *)a->path);
	sluice__free(a);
}

static int fs_configure(
	void **arg,
	const sluice__jobspec *js,
	sluice__stage *st,
	const sluice_config *conf)
{
	sluice__file_sink_arg *a = sluice__calloc(1, sizeof(*a));
	const char *path = NULL;
	char *copy;
	size_t n;
	int rc;

	(void)conf;
	if (!a)
		return sluice__error_oom();
	if ((rc = sluice__param_str(js, st, "path", 1, &path)) < 0)
		goto fail;
	if (!(copy = sluice__strdup(path))) {
		rc = sluice__error_oom();
		goto fail;
	}
	n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	a->path = copy;
	*arg = a;
	return 0;
fail:
	fs_free_arg(a);
	return rc;
}

const sluice__builtin sluice__builtin_file_sink = {
	SLUICE__STAGE_SINK,    "file",       SLUICE_VERTEX_SINK, 0,
	&sluice__file_sink_op, fs_configure, fs_free_arg};

const sluice_operator *sluice_file_sink_operator(void)
{
	return &sluice__file_sink_op;
}
