/*
 * State handles and the in-memory streams.  Handles are plain heap records
 * shared by backends, storage and the `_metadata` codec; memory streams
 * serve tests and the jobmanager (in-memory) checkpoint storage.
 */
#include <string.h>

#include "sluice/sys/stream.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

sluice_stream_handle *sluice_stream_handle_new(
	sluice_handle_kind kind,
	const char *path,
	uint64_t size,
	uint64_t checksum,
	const void *data)
{
	sluice_stream_handle *h = sluice__calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->kind = kind;
	h->size = size;
	h->checksum = checksum;
	if (path && !(h->path = sluice__strdup(path)))
		goto fail;
	if (kind == SLUICE_HANDLE_INLINE &&
	    !(h->data = sluice__memdup(data ? data : "", (size_t)size)))
		goto fail;
	return h;
fail:
	sluice_stream_handle_free(h);
	return NULL;
}

sluice_stream_handle *sluice_stream_handle_dup(const sluice_stream_handle *h)
{
	if (!h)
		return NULL;
	return sluice_stream_handle_new(
		h->kind, h->path, h->size, h->checksum, h->data);
}

void sluice_stream_handle_free(sluice_stream_handle *h)
{
	if (!h)
		return;
	sluice__free(h->path);
	sluice__free(h->data);
	sluice__free(h);
}

int sluice_ostream_write(sluice_ostream *s, const void *data, size_t len)
{
	return s->write(s, data, len);
}

int sluice_ostream_close(sluice_ostream *s, sluice_stream_handle **out)
{
	if (out)
		*out = NULL;
	if (!s)
		return 0;
	return s->close(s, out);
}

void sluice_ostream_abort(sluice_ostream *s)
{
	if (s)
		s->abort(s);
}

int sluice_istream_read_full(sluice_istream *s, void *buf, size_t len)
{
	size_t done = 0, got;

	while (done < len) {
		SLUICE_ERRCHECK(
			s->read(s, (uint8_t *)buf + done, len - done, &got));
		if (got == 0)
			return sluice__error_set(
				SLUICE_ECORRUPT, SLUICE_ERRCLS_STORAGE,
				"unexpected end of stream after %zu of %zu "
				"bytes",
				done, len);
		done += got;
	}
	return 0;
}

void sluice_istream_close(sluice_istream *s)
{
	if (s)
		s->close(s);
}

typedef struct mem_ostream {
	sluice_ostream base;
	sluice_buf buf;
	char *name;
} mem_ostream;

static int mo_write(sluice_ostream *s, const void *data, size_t len)
{
	return sluice_buf_put(&((mem_ostream *)s)->buf, data, len);
}

static uint64_t mo_pos(sluice_ostream *s)
{
	return ((mem_ostream *)s)->buf.len;
}

static int mo_sync(sluice_ostream *s)
{
	(void)s;
	return 0;
}

static void mo_free(mem_ostream *m)
{
	sluice_buf_release(&m->buf);
	sluice__free(m->name);
	sluice__free(m);
}

static int mo_close(sluice_ostream *s, sluice_stream_handle **out)
{
	mem_ostream *m = (mem_ostream *)s;
	int rc = 0;

	if (out) {
		*out = NULL;
		if (m->buf.len) {
			*out = sluice_stream_handle_new(
				SLUICE_HANDLE_INLINE, m->name, m->buf.len,
				sluice__xxh3(m->buf.ptr, m->buf.len),
				m->buf.ptr);
			if (!*out)
				rc = sluice__error_oom();
		}
	}
	mo_free(m);
	return rc;
}

static void mo_abort(sluice_ostream *s)
{
	mo_free((mem_ostream *)s);
}

int sluice_mem_ostream_new(sluice_ostream **out, const char *name)
{
	mem_ostream *m = sluice__calloc(1, sizeof(*m));

	*out = NULL;
	if (!m || !(m->name = sluice__strdup(name ? name : "memory"))) {
		sluice__free(m);
		return sluice__error_oom();
	}
	m->base.version = SLUICE_STREAM_VERSION;
	m->base.write = mo_write;
	m->base.pos = mo_pos;
	m->base.sync = mo_sync;
	m->base.close = mo_close;
	m->base.abort = mo_abort;
	*out = &m->base;
	return 0;
}

typedef struct mem_istream {
	sluice_istream base;
	uint8_t *data;
	size_t len;
	size_t pos;
} mem_istream;

static int mi_read(sluice_istream *s, void *buf, size_t len, size_t *got)
{
	mem_istream *m = (mem_istream *)s;
	size_t n = m->len - m->pos;

	if (n > len)
		n = len;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	*got = n;
	return 0;
}

static int mi_seek(sluice_istream *s, uint64_t off)
{
	mem_istream *m = (mem_istream *)s;

	if (off > m->len)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STORAGE,
			"seek to %llu past end of %zu-byte "
			"stream",
			(unsigned long long)off, m->len);
	m->pos = (size_t)off;
	return 0;
}

static uint64_t mi_size(sluice_istream *s)
{
	return ((mem_istream *)s)->len;
}

static void mi_close(sluice_istream *s)
{
	mem_istream *m = (mem_istream *)s;

	sluice__free(m->data);
	sluice__free(m);
}

int sluice_mem_istream_new(sluice_istream **out, const void *data, size_t len)
{
	mem_istream *m = sluice__calloc(1, sizeof(*m));

	*out = NULL;
	if (!m || !(m->data = sluice__memdup(data, len))) {
		sluice__free(m);
		return sluice__error_oom();
	}
	m->len = len;
	m->base.version = SLUICE_STREAM_VERSION;
	m->base.read = mi_read;
	m->base.seek = mi_seek;
	m->base.size = mi_size;
	m->base.close = mi_close;
	*out = &m->base;
	return 0;
}

void sluice_keyed_handle_free(sluice_keyed_handle *h)
{
	if (!h)
		return;
	sluice__free(h->offsets);
	sluice_stream_handle_free(h->stream);
	sluice__free(h);
}

sluice_keyed_handle *sluice_keyed_handle_dup(const sluice_keyed_handle *h)
{
	sluice_keyed_handle *d;

	if (!h || !(d = sluice__calloc(1, sizeof(*d))))
		return NULL;
	*d = *h;
	d->offsets = NULL;
	d->stream = NULL;
	if (h->num_key_groups > 0 &&
	    !(d->offsets = sluice__memdup(
		      h->offsets,
		      (size_t)h->num_key_groups * sizeof(uint64_t))))
		goto fail;
	if (h->stream && !(d->stream = sluice_stream_handle_dup(h->stream)))
		goto fail;
	return d;
fail:
	sluice_keyed_handle_free(d);
	return NULL;
}

void sluice_opstate_handle_free(sluice_opstate_handle *h)
{
	uint32_t i;

	if (!h)
		return;
	for (i = 0; i < h->num_states; i++) {
		sluice__free(h->states[i].name);
		sluice__free(h->states[i].offsets);
	}
	sluice__free(h->states);
	sluice_stream_handle_free(h->stream);
	sluice__free(h);
}

sluice_opstate_handle *sluice_opstate_handle_dup(const sluice_opstate_handle *h)
{
	sluice_opstate_handle *d;
	uint32_t i;

	if (!h || !(d = sluice__calloc(1, sizeof(*d))))
		return NULL;
	if (h->num_states &&
	    !(d->states = sluice__calloc(h->num_states, sizeof(*d->states))))
		goto fail;
	d->num_states = h->num_states;
	for (i = 0; i < h->num_states; i++) {
		const sluice_opstate_entry *e = &h->states[i];

		d->states[i].mode = e->mode;
		d->states[i].count = e->count;
		if (!(d->states[i].name = sluice__strdup(e->name)))
			goto fail;
		if (e->count &&
		    !(d->states[i].offsets = sluice__memdup(
			      e->offsets, e->count * sizeof(uint64_t))))
			goto fail;
	}
	if (h->stream && !(d->stream = sluice_stream_handle_dup(h->stream)))
		goto fail;
	return d;
fail:
	sluice_opstate_handle_free(d);
	return NULL;
}
