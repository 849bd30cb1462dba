/*
 * Incremental keyed state handles (sys/stream.h): the record an
 * incremental RocksDB snapshot produces -- shared SST files (uploaded or
 * placeholders), private files and the metadata stream.  Plain heap
 * records shared by the rocksdb backend, the `_metadata` model and the
 * shared-state registry.
 */
#include <string.h>

#include "sluice/sys/stream.h"
#include "util/alloc.h"
#include "util/error.h"

sluice_incremental_handle *sluice_incremental_handle_new(
	const char *backend_id,
	int64_t checkpoint_id,
	int32_t start_key_group,
	int32_t num_key_groups)
{
	sluice_incremental_handle *h = sluice__calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (!(h->backend_id = sluice__strdup(backend_id ? backend_id : ""))) {
		sluice__free(h);
		return NULL;
	}
	h->checkpoint_id = checkpoint_id;
	h->start_key_group = start_key_group;
	h->num_key_groups = num_key_groups;
	return h;
}

int sluice_incremental_handle_add(
	sluice_incremental_handle *h,
	int shared,
	const char *name,
	sluice_stream_handle *file)
{
	sluice_incremental_file **list =
		shared ? &h->shared_files : &h->private_files;
	uint32_t *count = shared ? &h->num_shared : &h->num_private;
	sluice_incremental_file *n;
	char *copy = sluice__strdup(name);

	if (!copy || !(n = sluice__reallocarray(
			       *list, (size_t)*count + 1, sizeof(*n)))) {
		sluice__free(copy);
		sluice_stream_handle_free(file);
		return sluice__error_oom();
	}
	*list = n;
	n[*count].name = copy;
	n[*count].handle = file;
	(*count)++;
	return 0;
}

static void files_free(sluice_incremental_file *f, uint32_t n)
{
	uint32_t i;

	for (i = 0; f && i < n; i++) {
		sluice__free(f[i].name);
		sluice_stream_handle_free(f[i].handle);
	}
	sluice__free(f);
}

void sluice_incremental_handle_free(sluice_incremental_handle *h)
{
	if (!h)
		return;
	sluice__free(h->backend_id);
	files_free(h->shared_files, h->num_shared);
	files_free(h->private_files, h->num_private);
	sluice_stream_handle_free(h->metadata);
	sluice__free(h);
}

static int dup_files(
	sluice_incremental_handle *to,
	int shared,
	const sluice_incremental_file *f,
	uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		sluice_stream_handle *c = sluice_stream_handle_dup(f[i].handle);

		if (!c)
			return SLUICE_ENOMEM;
		if (sluice_incremental_handle_add(to, shared, f[i].name, c) < 0)
			return SLUICE_ENOMEM;
	}
	return 0;
}

sluice_incremental_handle *
sluice_incremental_handle_dup(const sluice_incremental_handle *h)
{
	sluice_incremental_handle *c;

	if (!h)
		return NULL;
	c = sluice_incremental_handle_new(
		h->backend_id, h->checkpoint_id, h->start_key_group,
		h->num_key_groups);
	if (!c)
		return NULL;
	c->checkpointed_size = h->checkpointed_size;
	if (dup_files(c, 1, h->shared_files, h->num_shared) < 0 ||
	    dup_files(c, 0, h->private_files, h->num_private) < 0 ||
	    (h->metadata &&
	     !(c->metadata = sluice_stream_handle_dup(h->metadata)))) {
		sluice_incremental_handle_free(c);
		return NULL;
	}
	return c;
}
