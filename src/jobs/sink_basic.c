/*
 * The `stdout` and `null` sinks.  `stdout` writes each record's value and
 * a newline with one write(2) per record, so lines of parallel subtasks
 * never interleave within a line; it is the job's output, asked for by
 * the job file, not library logging.  `null` drops everything (for
 * benchmarks).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "jobs/builtins.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

static int stdout_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	const sluice__stdout_arg *a = sluice_ctx_arg(ctx);
	sluice_buf *b = sluice_ctx_local(ctx);
	size_t off = 0;
	int rc;

	(void)input;
	if (!b) {
		if (!(b = sluice__calloc(1, sizeof(*b))))
			return sluice__error_oom();
		sluice_ctx_set_local(ctx, b);
	}
	sluice_buf_clear(b);
	if ((rc = sluice_buf_put(b, rec->value.data, rec->value.len)) < 0 ||
	    (rc = sluice_buf_put_u8(b, '\n')) < 0)
		return rc;
	while (off < b->len) {
		ssize_t w = write(a->fd, b->ptr + off, b->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return sluice__error_os(
				SLUICE_ERRCLS_OS, "stdout sink '%s': write",
				sluice_ctx_uid(ctx));
		off += (size_t)w;
	}
	return 0;
}

static void stdout_close(sluice_ctx *ctx, int failed)
{
	sluice_buf *b = sluice_ctx_local(ctx);

	(void)failed;
	if (b)
		sluice_buf_release(b);
	sluice__free(b);
	sluice_ctx_set_local(ctx, NULL);
}

const sluice_operator sluice__stdout_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = stdout_process,
	.close = stdout_close,
};

static int null_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	(void)ctx;
	(void)input;
	(void)rec;
	return 0;
}

const sluice_operator sluice__null_op = {
	.version = SLUICE_OPERATOR_VERSION,
	.process = null_process,
};

static int stdout_configure(
	void **arg,
	const sluice__jobspec *js,
	sluice__stage *st,
	const sluice_config *conf)
{
	sluice__stdout_arg *a = sluice__calloc(1, sizeof(*a));

	(void)js;
	(void)st;
	(void)conf;
	if (!a)
		return sluice__error_oom();
	a->fd = 1;
	*arg = a;
	return 0;
}

static int null_configure(
	void **arg,
	const sluice__jobspec *js,
	sluice__stage *st,
	const sluice_config *conf)
{
	(void)js;
	(void)st;
	(void)conf;
	*arg = NULL;
	return 0;
}

static void null_free(void *arg)
{
	(void)arg;
}

const sluice__builtin sluice__builtin_stdout = {
	SLUICE__STAGE_SINK, "stdout",         SLUICE_VERTEX_SINK, 0,
	&sluice__stdout_op, stdout_configure, sluice__free};
const sluice__builtin sluice__builtin_null = {
	SLUICE__STAGE_SINK, "null",         SLUICE_VERTEX_SINK, 0,
	&sluice__null_op,   null_configure, null_free};
