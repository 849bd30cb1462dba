/*
 * Operator (non-keyed) state (spec §7.3): named element lists per
 * subtask in SPLIT, UNION or BROADCAST mode, their snapshot stream and
 * restore.  Redistribution across parallelism changes is in
 * opstate_assign.c.
 *
 * Stream: header `"SLOS" u16 version u64 xxh3(first 6 bytes)`, then every
 * element as `u32 length, bytes, u64 xxh3(length and bytes)`; the handle
 * records each element's offset per state.  A broadcast map element is
 * `u32 klen, key, u32 vlen, value`.
 */
#include <string.h>

#include "state/keyed.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"

#define OS_MAGIC   "SLOS"
#define OS_VERSION 1
#define OS_HDR     14

typedef struct op_list {
	char *name;
	sluice_opstate_mode mode;
	uint32_t count;
	sluice_buf elems; /* u32 length + bytes, per element */
} op_list;

struct sluice_operator_state {
	op_list *lists;
	size_t n, cap;
	sluice_buf scratch;
};

int sluice_operator_state_new(sluice_operator_state **out)
{
	*out = sluice__calloc(1, sizeof(**out));
	return *out ? 0 : sluice__error_oom();
}

void sluice_operator_state_free(sluice_operator_state *os)
{
	size_t i;

	if (!os)
		return;
	for (i = 0; i < os->n; i++) {
		sluice__free(os->lists[i].name);
		sluice_buf_release(&os->lists[i].elems);
	}
	sluice__free(os->lists);
	sluice_buf_release(&os->scratch);
	sluice__free(os);
}

static int
find(sluice_operator_state *os,
     const char *name,
     sluice_opstate_mode mode,
     int create,
     op_list **out)
{
	size_t i;

	*out = NULL;
	for (i = 0; i < os->n; i++) {
		if (strcmp(os->lists[i].name, name))
			continue;
		if (os->lists[i].mode != mode)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
				"operator state '%s' exists with another "
				"mode",
				name);
		*out = &os->lists[i];
		return 0;
	}
	if (!create)
		return 0;
	if ((unsigned)mode > SLUICE_OPSTATE_BROADCAST || !*name)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"operator state '%s': bad name or "
			"mode",
			name);
	if (os->n == os->cap) {
		size_t cap = os->cap ? os->cap * 2 : 4;
		op_list *l = sluice__reallocarray(os->lists, cap, sizeof(*l));

		if (!l)
			return sluice__error_oom();
		os->lists = l;
		os->cap = cap;
	}
	memset(&os->lists[os->n], 0, sizeof(op_list));
	if (!(os->lists[os->n].name = sluice__strdup(name)))
		return sluice__error_oom();
	os->lists[os->n].mode = mode;
	*out = &os->lists[os->n++];
	return 0;
}

static int append(op_list *l, sluice_slice v)
{
	SLUICE_ERRCHECK(sluice_buf_put_bytes32(&l->elems, v.data, v.len));
	l->count++;
	return 0;
}

int sluice_operator_list_add(
	sluice_operator_state *os,
	const char *name,
	sluice_opstate_mode mode,
	sluice_slice value)
{
	op_list *l;

	if (mode == SLUICE_OPSTATE_BROADCAST)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"operator state '%s': broadcast state "
			"is a map",
			name);
	SLUICE_ERRCHECK(find(os, name, mode, 1, &l));
	return append(l, value);
}

int sluice_operator_list_update(
	sluice_operator_state *os,
	const char *name,
	sluice_opstate_mode mode,
	const sluice_slice *values,
	size_t n)
{
	op_list *l;
	size_t i;

	if (mode == SLUICE_OPSTATE_BROADCAST)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"operator state '%s': broadcast state "
			"is a map",
			name);
	SLUICE_ERRCHECK(find(os, name, mode, 1, &l));
	sluice_buf_clear(&l->elems);
	l->count = 0;
	for (i = 0; i < n; i++)
		SLUICE_ERRCHECK(append(l, values[i]));
	return 0;
}

int sluice_operator_list_get(
	sluice_operator_state *os, const char *name, sluice_list_iter *it)
{
	size_t i;

	memset(it, 0, sizeof(*it));
	for (i = 0; i < os->n; i++)
		if (!strcmp(os->lists[i].name, name)) {
			it->p = os->lists[i].elems.ptr;
			it->end = it->p + os->lists[i].elems.len;
			it->count = os->lists[i].count;
			break;
		}
	return 0;
}

/* Locate a broadcast entry: its element's start and length, or NULL. */
static const uint8_t *bc_find(const op_list *l, sluice_slice key, size_t *elen)
{
	sluice_reader r;

	sluice_reader_init(&r, l->elems.ptr, l->elems.len);
	while (sluice_reader_left(&r)) {
		size_t at = r.pos;
		sluice_slice e = sluice_reader_bytes32(&r), k;
		sluice_reader er;

		sluice_reader_init(&er, e.data, e.len);
		k = sluice_reader_bytes32(&er);
		if (k.len == key.len && !memcmp(k.data, key.data, key.len)) {
			*elen = r.pos - at;
			return l->elems.ptr + at;
		}
	}
	return NULL;
}

static void bc_cut(op_list *l, const uint8_t *at, size_t len)
{
	size_t off = (size_t)(at - l->elems.ptr);

	memmove(l->elems.ptr + off, l->elems.ptr + off + len,
		l->elems.len - off - len);
	l->elems.len -= len;
	l->count--;
}

int sluice_broadcast_put(
	sluice_operator_state *os,
	const char *name,
	sluice_slice key,
	sluice_slice value)
{
	op_list *l;
	const uint8_t *at;
	size_t len;

	SLUICE_ERRCHECK(find(os, name, SLUICE_OPSTATE_BROADCAST, 1, &l));
	if ((at = bc_find(l, key, &len)))
		bc_cut(l, at, len);
	sluice_buf_clear(&os->scratch);
	SLUICE_ERRCHECK(
		sluice_buf_put_bytes32(&os->scratch, key.data, key.len));
	SLUICE_ERRCHECK(
		sluice_buf_put_bytes32(&os->scratch, value.data, value.len));
	return append(l, SLUICE_SLICE(os->scratch.ptr, os->scratch.len));
}

int sluice_broadcast_get(
	sluice_operator_state *os,
	const char *name,
	sluice_slice key,
	sluice_slice *out)
{
	op_list *l;
	const uint8_t *at;
	size_t len;
	sluice_reader r;

	SLUICE_ERRCHECK(find(os, name, SLUICE_OPSTATE_BROADCAST, 0, &l));
	if (!l || !(at = bc_find(l, key, &len)))
		return SLUICE_ENOTFOUND;
	sluice_reader_init(&r, at + 4, len - 4);
	sluice_reader_bytes32(&r);
	*out = sluice_reader_bytes32(&r);
	return 0;
}

int sluice_broadcast_remove(
	sluice_operator_state *os, const char *name, sluice_slice key)
{
	op_list *l;
	const uint8_t *at;
	size_t len;

	SLUICE_ERRCHECK(find(os, name, SLUICE_OPSTATE_BROADCAST, 0, &l));
	if (l && (at = bc_find(l, key, &len)))
		bc_cut(l, at, len);
	return 0;
}

int sluice_broadcast_foreach(
	sluice_operator_state *os,
	const char *name,
	sluice_map_entry_fn fn,
	void *ctx)
{
	op_list *l;
	sluice_reader r;
	int rc;

	SLUICE_ERRCHECK(find(os, name, SLUICE_OPSTATE_BROADCAST, 0, &l));
	if (!l)
		return 0;
	sluice_reader_init(&r, l->elems.ptr, l->elems.len);
	while (sluice_reader_left(&r)) {
		sluice_slice e = sluice_reader_bytes32(&r), k, v;
		sluice_reader er;

		sluice_reader_init(&er, e.data, e.len);
		k = sluice_reader_bytes32(&er);
		v = sluice_reader_bytes32(&er);
		if ((rc = fn(ctx, k, v)) != 0)
			return rc < 0 ? rc : 0;
	}
	return 0;
}

/* ---- snapshot ---- */

static int
write_elements(op_list *l, sluice_ostream *out, sluice_opstate_entry *e)
{
	sluice_reader r;
	uint32_t i = 0;
	uint8_t sum[8];

	sluice_reader_init(&r, l->elems.ptr, l->elems.len);
	while (sluice_reader_left(&r)) {
		size_t at = r.pos;

		sluice_reader_bytes32(&r);
		e->offsets[i++] = out->pos(out);
		sluice__be64(sum, sluice__xxh3(l->elems.ptr + at, r.pos - at));
		SLUICE_ERRCHECK(sluice_ostream_write(
			out, l->elems.ptr + at, r.pos - at));
		SLUICE_ERRCHECK(sluice_ostream_write(out, sum, 8));
	}
	return 0;
}

int sluice_operator_state_snapshot(
	sluice_operator_state *os,
	sluice_ostream *out,
	sluice_opstate_handle **h)
{
	sluice_opstate_handle *hd = NULL;
	uint8_t hdr[OS_HDR];
	size_t i;
	int rc;

	*h = NULL;
	if (!os->n) {
		sluice_ostream_abort(out);
		return 0;
	}
	if (!(hd = sluice__calloc(1, sizeof(*hd))) ||
	    !(hd->states = sluice__calloc(os->n, sizeof(*hd->states)))) {
		rc = sluice__error_oom();
		goto fail;
	}
	memcpy(hdr, OS_MAGIC, 4);
	sluice__be16(hdr + 4, OS_VERSION);
	sluice__be64(hdr + 6, sluice__xxh3(hdr, 6));
	if ((rc = sluice_ostream_write(out, hdr, OS_HDR)) < 0)
		goto fail;
	for (i = 0; i < os->n; i++, hd->num_states++) {
		sluice_opstate_entry *e = &hd->states[i];

		e->mode = os->lists[i].mode;
		e->count = os->lists[i].count;
		if (!(e->name = sluice__strdup(os->lists[i].name)) ||
		    (e->count && !(e->offsets = sluice__calloc(
					   e->count, sizeof(uint64_t))))) {
			hd->num_states++;
			rc = sluice__error_oom();
			goto fail;
		}
		if ((rc = write_elements(&os->lists[i], out, e)) < 0) {
			hd->num_states++;
			goto fail;
		}
	}
	rc = sluice_ostream_close(out, &hd->stream);
	out = NULL;
	if (rc < 0)
		goto fail;
	*h = hd;
	return 0;
fail:
	sluice_ostream_abort(out);
	sluice_opstate_handle_free(hd);
	return rc;
}

/* ---- restore ---- */

static int read_element(
	sluice_istream *in,
	const char *stream,
	const sluice_opstate_entry *e,
	uint32_t i,
	sluice_buf *b)
{
	uint64_t size = in->size(in);
	uint32_t len;

	sluice_buf_clear(b);
	SLUICE_ERRCHECK(sluice_buf_grow(b, 12));
	if (e->offsets[i] > size || size - e->offsets[i] < 12 ||
	    in->seek(in, e->offsets[i]) < 0 ||
	    sluice_istream_read_full(in, b->ptr, 4) < 0)
		goto bad;
	len = sluice__rd32(b->ptr);
	if (size - e->offsets[i] - 12 < len)
		goto bad;
	SLUICE_ERRCHECK(sluice_buf_grow(b, len + 12u));
	if (sluice_istream_read_full(in, b->ptr + 4, len + 8u) < 0)
		goto bad;
	b->len = len + 4u;
	if (sluice__xxh3(b->ptr, b->len) != sluice__rd64(b->ptr + b->len))
		goto bad;
	return 0;
bad:
	return sluice__error_set(
		SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
		"operator state '%s' state '%s' element %u: "
		"truncated or checksum mismatch",
		stream, e->name, (unsigned)i);
}

static int restore_entry(
	sluice_operator_state *os,
	sluice_istream *in,
	const char *stream,
	const sluice_opstate_entry *e)
{
	op_list *l;
	uint32_t i;

	SLUICE_ERRCHECK(find(os, e->name, e->mode, 1, &l));
	for (i = 0; i < e->count; i++) {
		sluice_reader r;
		sluice_slice k;

		SLUICE_ERRCHECK(read_element(in, stream, e, i, &os->scratch));
		if (e->mode != SLUICE_OPSTATE_BROADCAST) {
			SLUICE_ERRCHECK(
				append(l, SLUICE_SLICE(
						  os->scratch.ptr + 4,
						  os->scratch.len - 4)));
			continue;
		}
		sluice_reader_init(
			&r, os->scratch.ptr + 4, os->scratch.len - 4);
		k = sluice_reader_bytes32(&r);
		sluice_reader_bytes32(&r); /* the value */
		if (r.failed || sluice_reader_left(&r))
			return sluice__error_set(
				SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
				"operator state '%s' state '%s' element %u: "
				"malformed map entry",
				stream, e->name, (unsigned)i);
		if (!bc_find(l, k, &(size_t){0}))
			SLUICE_ERRCHECK(
				append(l, SLUICE_SLICE(
						  os->scratch.ptr + 4,
						  os->scratch.len - 4)));
	}
	return 0;
}

static int restore_one(
	sluice_operator_state *os,
	const sluice_opstate_handle *h,
	sluice_open_fn open,
	void *open_ctx)
{
	const char *name = h->stream->path ? h->stream->path : "(unnamed)";
	sluice_istream *in = NULL;
	uint8_t hdr[OS_HDR];
	uint32_t i;
	int rc;

	SLUICE_ERRCHECK(open(open_ctx, h->stream, &in));
	if (sluice_istream_read_full(in, hdr, OS_HDR) < 0 ||
	    memcmp(hdr, OS_MAGIC, 4) ||
	    sluice__xxh3(hdr, 6) != sluice__rd64(hdr + 6)) {
		rc = sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"operator state '%s': bad header", name);
		goto done;
	}
	if (sluice__rd16(hdr + 4) != OS_VERSION) {
		rc = sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"operator state '%s': unsupported "
			"format version %u",
			name, sluice__rd16(hdr + 4));
		goto done;
	}
	for (i = 0, rc = 0; i < h->num_states && rc == 0; i++)
		rc = restore_entry(os, in, name, &h->states[i]);
done:
	sluice_istream_close(in);
	return rc;
}

int sluice_operator_state_restore(
	sluice_operator_state *os,
	const sluice_opstate_handle *const *handles,
	size_t n,
	sluice_open_fn open,
	void *open_ctx)
{
	size_t i;

	if (!open)
		open = sluice_open_inline;
	for (i = 0; i < n; i++)
		if (handles[i] && handles[i]->stream)
			SLUICE_ERRCHECK(
				restore_one(os, handles[i], open, open_ctx));
	return 0;
}
