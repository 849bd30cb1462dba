/*
 * The glue between incremental RocksDB snapshots and checkpoint storage
 * (sys/storage.h): uploads become state streams of a checkpoint location
 * (SST files in the shared scope, the rest exclusive), downloads open
 * handles through the storage, discards remove uploaded files.
 */
#include <string.h>

#include "sluice/sys/rocksdb.h"
#include "sluice/sys/storage.h"
#include "util/error.h"

static int
st_open_output(void *ctx, int shared, const char *name, sluice_ostream **out)
{
	sluice_rocksdb_storage_ctx *c = ctx;

	(void)name; /* storage picks unique names */
	if (!c->loc)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_ROCKSDB,
			"rocksdb transfer: no checkpoint location to upload "
			"'%s' to",
			name);
	return sluice_location_open_stream(
		out, c->loc,
		shared ? SLUICE_SCOPE_SHARED : SLUICE_SCOPE_EXCLUSIVE);
}

static int
st_open_input(void *ctx, const sluice_stream_handle *h, sluice_istream **out)
{
	sluice_rocksdb_storage_ctx *c = ctx;

	return sluice_handle_open(out, c->st, c->dir, h);
}

static void st_discard(void *ctx, const sluice_stream_handle *h)
{
	sluice_rocksdb_storage_ctx *c = ctx;
	char *path = NULL;

	if (h->kind != SLUICE_HANDLE_FILE && h->kind != SLUICE_HANDLE_RELATIVE)
		return;
	if (sluice_handle_location(&path, c->dir, h) == 0)
		(void)sluice_storage_remove(c->st, path); /* best effort */
	sluice_free_bytes(path);
}

static int
st_local_path(void *ctx, const sluice_stream_handle *h, char *buf, size_t cap)
{
	sluice_rocksdb_storage_ctx *c = ctx;
	char *path = NULL;
	const char *p;
	int local = 0;

	if ((h->kind != SLUICE_HANDLE_FILE &&
	     h->kind != SLUICE_HANDLE_RELATIVE) ||
	    sluice_handle_location(&path, c->dir, h) < 0)
		return 0;
	p = !strncmp(path, "file://", 7) ? path + 7 : path;
	if (p[0] == '/' && strlen(p) < cap) {
		memcpy(buf, p, strlen(p) + 1);
		local = 1;
	}
	sluice_free_bytes(path);
	return local;
}

void sluice_rocksdb_transfer_storage(
	sluice_rocksdb_transfer *t, sluice_rocksdb_storage_ctx *ctx)
{
	t->ctx = ctx;
	t->open_output = st_open_output;
	t->open_input = st_open_input;
	t->discard = st_discard;
	t->local_path = st_local_path;
}
