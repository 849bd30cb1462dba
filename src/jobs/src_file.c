/*
 * The `file` source: the lines of the files under `path` (a file, or the
 * regular non-hidden files of a directory in name order).  Each line
 * becomes a record with key and value both the line (without the
 * newline) and timestamp the processing time.  A file belongs to subtask
 * hash32(name) % parallelism.  The byte offset reached in every file is
 * operator state (an element per file: 8-byte offset then the path), so a
 * restore continues exactly after the last checkpointed line.  The
 * offsets are an owned list (owned_list.c: union "file-positions", or the
 * split "file-offsets" of older checkpoints and union-less providers), so
 * the source rescales: each subtask keeps the files it owns at the new
 * parallelism.
 *
 * Bounded (default): a last line without a newline is emitted at end of
 * file, and the source ends after its last file.  A poll emits at most
 * 64 lines, so checkpoint triggers are served between polls.  `follow: true`:
 * the source never ends; at the end of its files it waits `poll-interval`
 * (default 100 ms, processing-time timer) and looks again, for new lines
 * (a partial last line waits for its newline) and, in a directory, for
 * new files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobs/builtins.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

#define STATE_NAME  "file-positions" /* union list */
#define SPLIT_STATE "file-offsets"   /* split list: same parallelism only */
#define CHUNK       (8u << 10)
#define MAX_LINE    (16u << 20)
#define BATCH       64 /* lines per poll: checkpoints stay prompt */

typedef struct src_file {
	char *path;
	int64_t offset;
	int done; /* bounded: fully read */
} src_file;

typedef struct fsrc {
	src_file *files;
	size_t num_files, cap_files;
	size_t cur; /* file being read */
	sluice__owned_list state;
	uint8_t *buf;
	size_t cap;
} fsrc;

static int owns(sluice_ctx *ctx, const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return (int32_t)(sluice__hash32(base, strlen(base)) % (uint32_t)sluice_ctx_parallelism(ctx)) ==
	       sluice_ctx_subtask(ctx);
}

static src_file *find_file(fsrc *s, const char *path)
{
	size_t i;

	for (i = 0; i < s->num_files; i++)
		if (!strcmp(s->files[i].path, path))
			return &s->files[i];
	return NULL;
}

static int add_file(fsrc *s, const char *path, int64_t offset)
{
	src_file *f;

	if (s->num_files == s->cap_files) {
		size_t cap = s->cap_files ? s->cap_files * 2 : 16;

		if (!(f = sluice__reallocarray(s->files, cap, sizeof(*f))))
			return sluice__error_oom();
		s->files = f;
		s->cap_files = cap;
	}
	f = &s->files[s->num_files];
	memset(f, 0, sizeof(*f));
	if (!(f->path = sluice__strdup(path)))
		return sluice__error_oom();
	f->offset = offset;
	s->num_files++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List the directory's new files this subtask owns (in name order). */
static int scan_dir(sluice_ctx *ctx, fsrc *s, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	int rc = 0;

	if (!d)
		return sluice__error_os(
			SLUICE_ERRCLS_JOB, "file source: open directory '%s'",
			dir);
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    !owns(ctx, path) || find_file(s, path))
			continue;
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 16;
			if (!(nn = sluice__reallocarray(
				      names, cap, sizeof(*nn)))) {
				rc = sluice__error_oom();
				break;
			}
			names = nn;
		}
		if (!(names[n] = sluice__strdup(path)))
			rc = sluice__error_oom();
		else
			n++;
	}
	closedir(d);
	if (rc == 0 && n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		if (rc == 0)
			rc = add_file(s, names[i], 0);
		sluice__free(names[i]);
	}
	sluice__free(names);
	return rc;
}

static int scan(sluice_ctx *ctx, fsrc *s)
{
	const sluice__file_source_arg *a = sluice_ctx_arg(ctx);
	struct stat st;

	if (stat(a->path, &st) < 0)
		return sluice__error_os(
			SLUICE_ERRCLS_JOB, "file source: '%s'", a->path);
	if (S_ISDIR(st.st_mode))
		return scan_dir(ctx, s, a->path);
	if (!owns(ctx, a->path) || find_file(s, a->path))
		return 0;
	return add_file(s, a->path, 0);
}

/* An offset entry: 8-byte offset then the path. */
static int entry_path(sluice_ctx *ctx, sluice_slice el, char *path, size_t cap)
{
	size_t plen = el.len - 8;

	if (el.len <= 8 || plen >= cap)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_JOB,
			"file source '%s' subtask %d: an offset entry has %zu "
			"bytes",
			sluice_ctx_uid(ctx), (int)sluice_ctx_subtask(ctx),
			el.len);
	memcpy(path, (const uint8_t *)el.data + 8, plen);
	path[plen] = '\0';
	return 0;
}

static int entry_owned(sluice_ctx *ctx, sluice_slice el, void *arg)
{
	char path[4096];

	(void)arg;
	SLUICE_ERRCHECK(entry_path(ctx, el, path, sizeof(path)));
	return owns(ctx, path);
}

static int entry_take(sluice_ctx *ctx, sluice_slice el, void *arg)
{
	fsrc *s = arg;
	char path[4096];

	SLUICE_ERRCHECK(entry_path(ctx, el, path, sizeof(path)));
	if (find_file(s, path))
		return 0;
	return add_file(s, path, (int64_t)sluice__rd64(el.data));
}

static const sluice__owned_ops offset_ops = {
	"file source", "a file's offset", entry_owned, entry_take};

static int fsrc_init(sluice_ctx *ctx, int restored)
{
	fsrc *s = sluice__calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return sluice__error_oom();
	sluice_ctx_set_local(ctx, s);
	s->state = (sluice__owned_list){STATE_NAME, SPLIT_STATE, 0};
	if (restored && (rc = sluice__owned_list_restore(
				 ctx, &s->state, &offset_ops, s)) < 0)
		return rc;
	return scan(ctx, s);
}

static int emit_line(sluice_ctx *ctx, const uint8_t *p, size_t len)
{
	sluice_record rec;

	if (len && p[len - 1] == '\r')
		len--;
	rec.key = SLUICE_SLICE(p, len);
	rec.value = rec.key;
	rec.timestamp = sluice_ctx_now_ms(ctx);
	return sluice_ctx_emit(ctx, &rec);
}

/* Read from file `f` at its offset into the buffer until it holds a
 * newline or the end of the file (`*eof`); `*used` bytes. */
static int fill(fsrc *s, src_file *f, size_t *used, int *eof)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t got;

	if (fd < 0)
		return sluice__error_os(
			SLUICE_ERRCLS_JOB, "file source: open '%s'", f->path);
	for (*used = 0;;) {
		if (*used == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : CHUNK;
			uint8_t *b = NULL;

			if (cap > MAX_LINE)
				rc = sluice__error_set(
					SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
					"file source: '%s': a line at byte "
					"%lld is longer than %u bytes",
					f->path, (long long)f->offset,
					MAX_LINE);
			else if (!(b = sluice__realloc(s->buf, cap)))
				rc = sluice__error_oom();
			if (rc < 0)
				break;
			s->buf = b;
			s->cap = cap;
		}
		got =
			pread(fd, s->buf + *used, s->cap - *used,
			      (off_t)(f->offset + (int64_t)*used));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = sluice__error_os(
				SLUICE_ERRCLS_JOB, "file source: read '%s'",
				f->path);
			break;
		}
		*used += (size_t)got;
		*eof = got == 0 || *used < s->cap;
		if (memchr(s->buf, '\n', *used) || *eof)
			break;
	}
	close(fd);
	return rc;
}

/* Emit up to BATCH complete lines of file `f` from its offset (bounded:
 * also a last line without newline).  Sets `*eof` when nothing is left
 * to read now. */
static int read_some(sluice_ctx *ctx, src_file *f, int *eof)
{
	const sluice__file_source_arg *a = sluice_ctx_arg(ctx);
	fsrc *s = sluice_ctx_local(ctx);
	size_t used = 0, i, start = 0, lines = 0;
	int rc;

	if ((rc = fill(s, f, &used, eof)) < 0)
		return rc;
	for (i = 0; rc == 0 && i < used && lines < BATCH; i++)
		if (s->buf[i] == '\n') {
			rc = emit_line(ctx, s->buf + start, i - start);
			start = i + 1;
			lines++;
		}
	if (lines == BATCH && start < used)
		*eof = 0; /* more complete lines wait for the next poll */
	if (rc == 0 && *eof && !a->follow && start < used) {
		rc = emit_line(ctx, s->buf + start, used - start);
		start = used;
	}
	if (rc == 0)
		f->offset += (int64_t)start;
	*eof = *eof && (start == used || a->follow);
	return rc;
}

static int fsrc_poll(sluice_ctx *ctx, sluice_source_status *status)
{
	const sluice__file_source_arg *a = sluice_ctx_arg(ctx);
	fsrc *s = sluice_ctx_local(ctx);
	int eof = 0, rc;

	while (s->cur < s->num_files && s->files[s->cur].done)
		s->cur++;
	if (s->cur < s->num_files) {
		src_file *f = &s->files[s->cur];
		int64_t before = f->offset;

		if ((rc = read_some(ctx, f, &eof)) < 0)
			return rc;
		if (eof && !a->follow)
			f->done = 1;
		if (!eof || !a->follow || f->offset != before ||
		    s->cur + 1 < s->num_files) {
			if (eof && a->follow)
				s->cur++; /* look at the next file */
			*status = SLUICE_SOURCE_MORE;
			return 0;
		}
	}
	if (!a->follow) {
		*status = SLUICE_SOURCE_END;
		return 0;
	}
	/* follow: at the end of everything; look again after a while */
	s->cur = 0;
	if ((rc = scan(ctx, s)) < 0)
		return rc;
	*status = SLUICE_SOURCE_IDLE;
	return sluice_ctx_timer_register(
		ctx,
		sluice_ctx_now_ms(ctx) + (a->poll_ms > 0 ? a->poll_ms : 100));
}

static int fsrc_snapshot(sluice_ctx *ctx, int64_t id)
{
	fsrc *s = sluice_ctx_local(ctx);
	sluice_buf b = SLUICE_BUF_INIT;
	sluice_slice *els = NULL;
	size_t i, off = 0;
	int rc = 0;

	(void)id;
	if (s->num_files && !(els = sluice__calloc(s->num_files, sizeof(*els))))
		return sluice__error_oom();
	for (i = 0; rc == 0 && i < s->num_files; i++)
		if ((rc = sluice_buf_put_u64(
			     &b, (uint64_t)s->files[i].offset)) == 0)
			rc = sluice_buf_put(
				&b, s->files[i].path, strlen(s->files[i].path));
	for (i = 0; rc == 0 && i < s->num_files; i++) {
		size_t len = 8 + strlen(s->files[i].path);

		els[i] = SLUICE_SLICE(b.ptr + off, len);
		off += len;
	}
	if (rc == 0)
		rc = sluice__owned_list_save(ctx, &s->state, els, s->num_files);
	sluice__free(els);
	sluice_buf_release(&b);
	return rc;
}

static int fsrc_timer(sluice_ctx *ctx, int64_t when)
{
	(void)ctx;
	(void)when;
	return 0; /* the source polls again after a timer */
}

static void fsrc_close(sluice_ctx *ctx, int failed)
{
	fsrc *s = sluice_ctx_local(ctx);
	size_t i;

	(void)failed;
	if (!s)
		return;
	for (i = 0; i < s->num_files; i++)
		sluice__free(s->files[i].path);
	sluice__free(s->files);
	sluice__free(s->buf);
	sluice__free(s);
	sluice_ctx_set_local(ctx, NULL);
}

const sluice_operator sluice__file_source_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.initialize_state = fsrc_init,
	.poll = fsrc_poll,
	.snapshot_state = fsrc_snapshot,
	.on_timer = fsrc_timer,
	.close = fsrc_close,
};

static void fsrc_free_arg(void *arg)
{
	sluice__file_source_arg *a = arg;

	if (a)
		sluice__free((char *)a->path);
	sluice__free(a);
}

static int fsrc_configure(
	void **arg,
	const sluice__jobspec *js,
	sluice__stage *st,
	const sluice_config *conf)
{
	sluice__file_source_arg *a = sluice__calloc(1, sizeof(*a));
	const char *path = NULL;
	int rc;

	(void)conf;
	if (!a)
		return sluice__error_oom();
	a->poll_ms = 100;
	if ((rc = sluice__param_str(js, st, "path", 1, &path)) < 0 ||
	    (rc = sluice__param_bool(js, st, "follow", &a->follow)) < 0 ||
	    (rc = sluice__param_duration(
		     js, st, "poll-interval", 0, &a->poll_ms)) < 0)
		goto fail;
	if (!(a->path = sluice__strdup(path))) {
		rc = sluice__error_oom();
		goto fail;
	}
	*arg = a;
	return 0;
fail:
	fsrc_free_arg(a);
	return rc;
}

const sluice__builtin sluice__builtin_file_source = {
	SLUICE__STAGE_SOURCE,    "file",         SLUICE_VERTEX_SOURCE, 0,
	&sluice__file_source_op, fsrc_configure, fsrc_free_arg};

const sluice_operator *sluice_file_source_operator(void)
{
	return &sluice__file_source_op;
}
