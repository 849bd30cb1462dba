/*
 * The `_metadata` codec (docs/format/metadata.md): magic, version, the
 * checkpoint record, operators → subtasks → handles, and a trailing xxh3-64
 * over every preceding byte.  The writer emits the newest version; the
 * reader verifies the trailer before trusting any byte, bounds every count
 * by the bytes left (no huge allocations from a corrupt count) and names
 * the file and byte offset of whatever it rejects.
 */
#include <inttypes.h>
#include <string.h>

#include "sluice/sys/metadata.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

#define E SLUICE_ERRCLS_CHECKPOINT

/* ---- encoding ---- */

static int put_handle(sluice_buf *b, const sluice_stream_handle *h)
{
	int error;

	if (!h)
		return sluice_buf_put_u8(b, 0);
	if (h->kind < SLUICE_HANDLE_INLINE ||
	    h->kind > SLUICE_HANDLE_PLACEHOLDER ||
	    (h->kind == SLUICE_HANDLE_INLINE && h->size && !h->data))
		return sluice__error_set(
			SLUICE_EINVALID, E,
			"state handle '%s': invalid kind %d",
			h->path ? h->path : "", (int)h->kind);
	if ((error = sluice_buf_put_u8(b, (uint8_t)h->kind)) < 0 ||
	    (error = sluice_buf_put_str16(b, h->path ? h->path : "")) < 0 ||
	    (error = sluice_buf_put_u64(b, h->size)) < 0 ||
	    (error = sluice_buf_put_u64(b, h->checksum)) < 0)
		return error;
	if (h->kind == SLUICE_HANDLE_INLINE)
		return sluice_buf_put(b, h->data, (size_t)h->size);
	return 0;
}

static int put_keyed(sluice_buf *b, const sluice_keyed_handle *k)
{
	int32_t i;
	int error;

	if (k->start_key_group < 0 || k->num_key_groups < 0)
		return sluice__error_set(
			SLUICE_EINVALID, E,
			"keyed handle: invalid key groups %d+%d",
			(int)k->start_key_group, (int)k->num_key_groups);
	if ((error = sluice_buf_put_u32(b, (uint32_t)k->start_key_group)) < 0 ||
	    (error = sluice_buf_put_u32(b, (uint32_t)k->num_key_groups)) < 0)
		return error;
	for (i = 0; i < k->num_key_groups; i++)
		if ((error = sluice_buf_put_u64(b, k->offsets[i])) < 0)
			return error;
	return put_handle(b, k->stream);
}

static int put_opstate(sluice_buf *b, const sluice_opstate_handle *o)
{
	uint32_t i, j;
	int error;

	if ((error = sluice_buf_put_u32(b, o->num_states)) < 0)
		return error;
	for (i = 0; i < o->num_states; i++) {
		const sluice_opstate_entry *e = &o->states[i];
		if ((error = sluice_buf_put_str16(b, e->name ? e->name : "")) <
			    0 ||
		    (error = sluice_buf_put_u8(b, (uint8_t)e->mode)) < 0 ||
		    (error = sluice_buf_put_u32(b, e->count)) < 0)
			return error;
		for (j = 0; j < e->count; j++)
			if ((error = sluice_buf_put_u64(b, e->offsets[j])) < 0)
				return error;
	}
	return put_handle(b, o->stream);
}

static int
put_files(sluice_buf *b, const sluice_incremental_file *f, uint32_t n)
{
	uint32_t i;
	int error;

	if ((error = sluice_buf_put_u32(b, n)) < 0)
		return error;
	for (i = 0; i < n; i++)
		if ((error = sluice_buf_put_str16(b, f[i].name)) < 0 ||
		    (error = put_handle(b, f[i].handle)) < 0)
			return error;
	return 0;
}

static int put_incremental(sluice_buf *b, const sluice_incremental_handle *h)
{
	int error;

	if (h->start_key_group < 0 || h->num_key_groups < 0)
		return sluice__error_set(
			SLUICE_EINVALID, E,
			"incremental handle: invalid key groups %d+%d",
			(int)h->start_key_group, (int)h->num_key_groups);
	if ((error = sluice_buf_put_str16(
		     b, h->backend_id ? h->backend_id : "")) < 0 ||
	    (error = sluice_buf_put_u64(b, (uint64_t)h->checkpoint_id)) < 0 ||
	    (error = sluice_buf_put_u32(b, (uint32_t)h->start_key_group)) < 0 ||
	    (error = sluice_buf_put_u32(b, (uint32_t)h->num_key_groups)) < 0 ||
	    (error = sluice_buf_put_u64(b, h->checkpointed_size)) < 0 ||
	    (error = put_handle(b, h->metadata)) < 0 ||
	    (error = put_files(b, h->shared_files, h->num_shared)) < 0)
		return error;
	return put_files(b, h->private_files, h->num_private);
}

static int
put_subtask(sluice_buf *b, const sluice_subtask_state *s, uint32_t version)
{
	uint32_t i;
	int error;

	if ((error = sluice_buf_put_u32(b, (uint32_t)s->index)) < 0 ||
	    (error = sluice_buf_put_u8(b, s->finished ? 1 : 0)) < 0 ||
	    (error = sluice_buf_put_u32(b, s->num_keyed)) < 0)
		return error;
	for (i = 0; i < s->num_keyed; i++)
		if ((error = put_keyed(b, s->keyed[i])) < 0)
			return error;
	if ((error = sluice_buf_put_u32(b, s->num_opstate)) < 0)
		return error;
	for (i = 0; i < s->num_opstate; i++)
		if ((error = put_opstate(b, s->opstate[i])) < 0)
			return error;
	if ((error = sluice_buf_put_u32(b, s->num_shared)) < 0)
		return error;
	for (i = 0; i < s->num_shared; i++)
		if ((error = sluice_buf_put_str16(b, s->shared[i].key)) < 0 ||
		    (error = put_handle(b, s->shared[i].handle)) < 0)
			return error;
	if (version >= 2 &&
	    (error = sluice_buf_put_u32(b, s->num_incremental)) < 0)
		return error;
	for (i = 0; version >= 2 && i < s->num_incremental; i++)
		if ((error = put_incremental(b, s->incremental[i])) < 0)
			return error;
	if ((error = sluice_buf_put_u32(b, s->num_ext)) < 0)
		return error;
	for (i = 0; i < s->num_ext; i++)
		if ((error = sluice_buf_put_u16(b, s->ext[i].tag)) < 0 ||
		    (error = sluice_buf_put_bytes32(
			     b, s->ext[i].data, s->ext[i].len)) < 0)
			return error;
	return 0;
}

static int
put_operator(sluice_buf *b, const sluice_operator_state *op, uint32_t version)
{
	uint32_t i;
	int error;

	if ((error = sluice_buf_put_str16(b, op->uid)) < 0 ||
	    (error = sluice_buf_put_str16(b, op->name ? op->name : "")) < 0 ||
	    (error = sluice_buf_put_u32(b, (uint32_t)op->parallelism)) < 0 ||
	    (error = sluice_buf_put_u32(b, (uint32_t)op->max_parallelism)) <
		    0 ||
	    (error = sluice_buf_put_u32(b, op->num_subtasks)) < 0)
		return error;
	for (i = 0; i < op->num_subtasks; i++)
		if ((error = put_subtask(b, &op->subtasks[i], version)) < 0)
			return error;
	return 0;
}

/* Holds what a restore must understand: incremental handles, or the
 * channel state of an unaligned checkpoint (a version-1 reader would keep
 * that section but never replay it, silently losing in-flight data). */
static int needs_v2(const sluice_subtask_state *s)
{
	uint32_t k;

	if (s->num_incremental)
		return 1;
	for (k = 0; k < s->num_ext; k++)
		if (s->ext[k].tag == SLUICE_META_EXT_CHANNEL_STATE)
			return 1;
	return 0;
}

/* 2 when some subtask needs it, else 1 (readable by older builds). */
static uint32_t version_of(const sluice_checkpoint_meta *m)
{
	uint32_t i, j;

	for (i = 0; i < m->num_operators; i++)
		for (j = 0; j < m->operators[i].num_subtasks; j++)
			if (needs_v2(&m->operators[i].subtasks[j]))
				return 2;
	return 1;
}

static int
put_header(sluice_buf *b, const sluice_checkpoint_meta *m, uint32_t version)
{
	int error;

	if ((error = sluice_buf_put_u32(b, SLUICE_METADATA_MAGIC)) < 0 ||
	    (error = sluice_buf_put_u32(b, version)) < 0 ||
	    (error = sluice_buf_put_u64(b, 0)) < 0 || /* length, patched */
	    (error = sluice_buf_put_u64(b, (uint64_t)m->checkpoint_id)) < 0 ||
	    (error = sluice_buf_put_u64(b, (uint64_t)m->trigger_ms)) < 0 ||
	    (error = sluice_buf_put_u64(b, (uint64_t)m->complete_ms)) < 0 ||
	    (error = sluice_buf_put_str16(b, m->job_id)) < 0 ||
	    (error = sluice_buf_put_u8(b, (uint8_t)m->props.kind)) < 0 ||
	    (error = sluice_buf_put_u8(b, (uint8_t)m->props.format)) < 0 ||
	    (error = sluice_buf_put_u8(b, (uint8_t)m->props.retention)) < 0 ||
	    (error = sluice_buf_put_u8(b, 0)) < 0)
		return error;
	return sluice_buf_put_u32(b, m->num_operators);
}

int sluice_metadata_encode(
	uint8_t **out, size_t *len, const sluice_checkpoint_meta *m)
{
	sluice_buf b = SLUICE_BUF_INIT;
	uint32_t i, version = version_of(m);
	int error;

	*out = NULL;
	*len = 0;
	if ((error = put_header(&b, m, version)) < 0)
		goto fail;
	for (i = 0; i < m->num_operators; i++)
		if ((error = put_operator(&b, &m->operators[i], version)) < 0)
			goto fail;
	sluice__be64(b.ptr + 8, (uint64_t)b.len + 8);
	if ((error = sluice_buf_put_u64(&b, sluice__xxh3(b.ptr, b.len))) < 0)
		goto fail;
	*out = sluice_buf_detach(&b, len);
	return 0;
fail:
	sluice_buf_release(&b);
	return error;
}

/* ---- decoding ---- */

typedef struct dec {
	sluice_reader r;
	const char *name;
	uint32_t version;
} dec;

static int truncated(dec *d)
{
	return sluice__error_set(
		SLUICE_ECORRUPT, E, "%s: truncated at byte %zu", d->name,
		d->r.len);
}

static int bad(dec *d, size_t at, const char *what, long long v)
{
	return sluice__error_set(
		SLUICE_ECORRUPT, E, "%s: %s %lld at byte %zu", d->name, what, v,
		at);
}

/* A count of elements each at least `min` bytes long. */
static int get_count(dec *d, uint32_t *n, size_t min, const char *what)
{
	size_t at = d->r.pos;

	*n = sluice_reader_u32(&d->r);
	if (d->r.failed)
		return truncated(d);
	if ((uint64_t)*n * min > sluice_reader_left(&d->r))
		return bad(d, at, what, (long long)*n);
	return 0;
}

static int get_str(dec *d, char **out)
{
	sluice_slice s = sluice_reader_str16(&d->r);

	*out = NULL;
	if (d->r.failed)
		return truncated(d);
	if (memchr(s.data, '\0', s.len))
		return bad(
			d, d->r.pos - s.len, "NUL in string of length",
			(long long)s.len);
	if (!(*out = sluice__strndup(s.len ? s.data : "", s.len)))
		return sluice__error_oom();
	return 0;
}

static int get_handle(dec *d, sluice_stream_handle **out)
{
	size_t at = d->r.pos;
	uint8_t kind = sluice_reader_u8(&d->r);
	const void *data = NULL;
	uint64_t size, sum;
	char *path = NULL;
	int error;

	*out = NULL;
	if (d->r.failed)
		return truncated(d);
	if (kind == 0)
		return 0;
	if (kind > SLUICE_HANDLE_PLACEHOLDER)
		return bad(d, at, "unknown handle type", kind);
	if ((error = get_str(d, &path)) < 0)
		return error;
	size = sluice_reader_u64(&d->r);
	sum = sluice_reader_u64(&d->r);
	if (!d->r.failed && kind == SLUICE_HANDLE_INLINE) {
		if (size > sluice_reader_left(&d->r)) {
			sluice__free(path);
			return bad(d, at, "inline size", (long long)size);
		}
		data = sluice_reader_take(&d->r, (size_t)size);
	}
	if (d->r.failed) {
		sluice__free(path);
		return truncated(d);
	}
	*out = sluice_stream_handle_new(kind, path, size, sum, data);
	sluice__free(path);
	return *out ? 0 : sluice__error_oom();
}

static int get_keyed(dec *d, sluice_keyed_handle **out)
{
	sluice_keyed_handle *k = sluice__calloc(1, sizeof(*k));
	uint32_t n, i;
	int error;

	*out = NULL;
	if (!k)
		return sluice__error_oom();
	k->start_key_group = (int32_t)sluice_reader_u32(&d->r);
	if ((error = get_count(d, &n, 8, "key-group count")) < 0)
		goto fail;
	if (k->start_key_group < 0 || n > INT32_MAX) {
		error = bad(
			d, d->r.pos - 8, "key-group start", k->start_key_group);
		goto fail;
	}
	k->num_key_groups = (int32_t)n;
	if (!(k->offsets = sluice__calloc(n ? n : 1, sizeof(uint64_t)))) {
		error = sluice__error_oom();
		goto fail;
	}
	for (i = 0; i < n; i++)
		k->offsets[i] = sluice_reader_u64(&d->r);
	if ((error = get_handle(d, &k->stream)) < 0)
		goto fail;
	*out = k;
	return 0;
fail:
	sluice_keyed_handle_free(k);
	return error;
}

static int get_opentry(dec *d, sluice_opstate_entry *e)
{
	size_t at;
	uint32_t i;
	int error;

	if ((error = get_str(d, &e->name)) < 0)
		return error;
	at = d->r.pos;
	e->mode = (sluice_opstate_mode)sluice_reader_u8(&d->r);
	if (!d->r.failed && e->mode > SLUICE_OPSTATE_BROADCAST)
		return bad(d, at, "unknown distribution mode", e->mode);
	if ((error = get_count(d, &e->count, 8, "partition count")) < 0)
		return error;
	if (!(e->offsets = sluice__calloc(e->count ? e->count : 1, 8)))
		return sluice__error_oom();
	for (i = 0; i < e->count; i++)
		e->offsets[i] = sluice_reader_u64(&d->r);
	return 0;
}

static int get_opstate(dec *d, sluice_opstate_handle **out)
{
	sluice_opstate_handle *o = sluice__calloc(1, sizeof(*o));
	uint32_t n, i;
	int error;

	*out = NULL;
	if (!o)
		return sluice__error_oom();
	if ((error = get_count(d, &n, 8, "operator state count")) < 0)
		goto fail;
	if (!(o->states = sluice__calloc(n ? n : 1, sizeof(*o->states)))) {
		error = sluice__error_oom();
		goto fail;
	}
	for (i = 0; i < n; i++) {
		o->num_states = i + 1;
		if ((error = get_opentry(d, &o->states[i])) < 0)
			goto fail;
	}
	o->num_states = n;
	if ((error = get_handle(d, &o->stream)) < 0)
		goto fail;
	*out = o;
	return 0;
fail:
	sluice_opstate_handle_free(o);
	return error;
}

static int get_shared(dec *d, sluice_subtask_state *s)
{
	sluice_stream_handle *h = NULL;
	char *key = NULL;
	int error;

	if ((error = get_str(d, &key)) < 0 || (error = get_handle(d, &h)) < 0) {
		sluice__free(key);
		return error;
	}
	error = sluice_subtask_add_shared(s, key, h);
	sluice__free(key);
	return error;
}

static int get_files(dec *d, sluice_incremental_handle *h, int shared)
{
	sluice_stream_handle *fh;
	char *name;
	uint32_t n, i;
	int error;

	if ((error = get_count(d, &n, 3, "incremental file count")) < 0)
		return error;
	for (i = 0; i < n; i++) {
		if ((error = get_str(d, &name)) < 0)
			return error;
		if ((error = get_handle(d, &fh)) < 0 || !fh) {
			sluice__free(name);
			return error < 0 ? error
					 : bad(d, d->r.pos - 1,
					       "missing file handle", 0);
		}
		error = sluice_incremental_handle_add(h, shared, name, fh);
		sluice__free(name);
		if (error < 0)
			return error;
	}
	return 0;
}

static int get_incremental(dec *d, sluice_subtask_state *s)
{
	sluice_incremental_handle *h;
	char *id = NULL;
	int64_t ck;
	int32_t start, num;
	size_t at;
	int error;

	if ((error = get_str(d, &id)) < 0)
		return error;
	ck = (int64_t)sluice_reader_u64(&d->r);
	at = d->r.pos;
	start = (int32_t)sluice_reader_u32(&d->r);
	num = (int32_t)sluice_reader_u32(&d->r);
	if (!d->r.failed && (start < 0 || num < 0)) {
		sluice__free(id);
		return bad(
			d, at, "incremental key groups",
			start < 0 ? start : num);
	}
	h = sluice_incremental_handle_new(id, ck, start, num);
	sluice__free(id);
	if (!h)
		return sluice__error_oom();
	h->checkpointed_size = sluice_reader_u64(&d->r);
	if ((error = get_handle(d, &h->metadata)) < 0 ||
	    (error = get_files(d, h, 1)) < 0 ||
	    (error = get_files(d, h, 0)) < 0) {
		sluice_incremental_handle_free(h);
		return error;
	}
	return sluice_subtask_add_incremental(s, h);
}

static int get_ext(dec *d, sluice_subtask_state *s)
{
	uint16_t tag = sluice_reader_u16(&d->r);
	sluice_slice b = sluice_reader_bytes32(&d->r);

	if (d->r.failed)
		return truncated(d);
	return sluice_subtask_add_ext(s, tag, b.data, (uint32_t)b.len);
}

static int get_subtask(dec *d, sluice_subtask_state *s)
{
	sluice_keyed_handle *k;
	sluice_opstate_handle *o;
	uint32_t n, i;
	uint8_t flags;
	int error;

	s->index = (int32_t)sluice_reader_u32(&d->r);
	flags = sluice_reader_u8(&d->r);
	if (!d->r.failed && flags > 1)
		return bad(d, d->r.pos - 1, "unknown subtask flags", flags);
	s->finished = flags;
	if ((error = get_count(d, &n, 9, "keyed handle count")) < 0)
		return error;
	for (i = 0; i < n; i++)
		if ((error = get_keyed(d, &k)) < 0 ||
		    (error = sluice_subtask_add_keyed(s, k)) < 0)
			return error;
	if ((error = get_count(d, &n, 5, "operator handle count")) < 0)
		return error;
	for (i = 0; i < n; i++)
		if ((error = get_opstate(d, &o)) < 0 ||
		    (error = sluice_subtask_add_opstate(s, o)) < 0)
			return error;
	if ((error = get_count(d, &n, 3, "shared handle count")) < 0)
		return error;
	for (i = 0; i < n; i++)
		if ((error = get_shared(d, s)) < 0)
			return error;
	if (d->version >= 2 &&
	    (error = get_count(d, &n, 40, "incremental handle count")) < 0)
		return error;
	for (i = 0; d->version >= 2 && i < n; i++)
		if ((error = get_incremental(d, s)) < 0)
			return error;
	if ((error = get_count(d, &n, 6, "section count")) < 0)
		return error;
	for (i = 0; i < n; i++)
		if ((error = get_ext(d, s)) < 0)
			return error;
	return 0;
}

static int get_operator(dec *d, sluice_checkpoint_meta *m)
{
	sluice_operator_state *op;
	char *uid = NULL, *name = NULL;
	int32_t par, maxpar;
	uint32_t n, i;
	size_t at;
	int error;

	if ((error = get_str(d, &uid)) < 0 || (error = get_str(d, &name)) < 0)
		goto done;
	at = d->r.pos;
	par = (int32_t)sluice_reader_u32(&d->r);
	maxpar = (int32_t)sluice_reader_u32(&d->r);
	if ((error = get_count(d, &n, 17, "subtask count")) < 0)
		goto done;
	if (par < 0 || maxpar < 0) {
		error = bad(d, at, "parallelism", par < 0 ? par : maxpar);
		goto done;
	}
	/* Allocate n subtasks, then restore the recorded parallelism. */
	if ((error = sluice_checkpoint_meta_add_operator(
		     &op, m, uid, name, (int32_t)n, maxpar)) < 0)
		goto done;
	op->parallelism = par;
	for (i = 0; i < n; i++)
		if ((error = get_subtask(d, &op->subtasks[i])) < 0)
			goto done;
done:
	sluice__free(uid);
	sluice__free(name);
	return error;
}

static int get_header(dec *d, sluice_checkpoint_meta *m, uint32_t *nops)
{
	uint8_t reserved;
	char *job = NULL;
	int error;

	m->checkpoint_id = (int64_t)sluice_reader_u64(&d->r);
	m->trigger_ms = (int64_t)sluice_reader_u64(&d->r);
	m->complete_ms = (int64_t)sluice_reader_u64(&d->r);
	if (!d->r.failed && m->checkpoint_id < 0)
		return sluice__error_set(
			SLUICE_ECORRUPT, E, "%s: invalid checkpoint ID: %lld",
			d->name, (long long)m->checkpoint_id);
	if ((error = get_str(d, &job)) < 0)
		return error;
	if (strlen(job) >= sizeof(m->job_id)) {
		size_t n = strlen(job);
		sluice__free(job);
		return bad(d, 40, "job id of length", (long long)n);
	}
	strcpy(m->job_id, job);
	sluice__free(job);
	m->props.kind = (sluice_snapshot_kind)sluice_reader_u8(&d->r);
	m->props.format = (sluice_snapshot_format)sluice_reader_u8(&d->r);
	m->props.retention = (sluice_retention)sluice_reader_u8(&d->r);
	reserved = sluice_reader_u8(&d->r);
	if (!d->r.failed &&
	    (m->props.kind > SLUICE_SNAPSHOT_FULL_CHECKPOINT ||
	     m->props.format > SLUICE_FORMAT_NATIVE ||
	     m->props.retention > SLUICE_RETAIN_ON_CANCELLATION || reserved))
		return bad(
			d, d->r.pos - 4, "unknown property value",
			(long long)m->props.kind);
	return get_count(d, nops, 19, "operator count");
}

/* Magic, version and trailing checksum; sets the reader on the body. */
static int check_frame(dec *d, const uint8_t *p, size_t len)
{
	uint32_t magic, version;
	uint64_t want, got, size;

	if (len < 8)
		return sluice__error_set(
			SLUICE_ECORRUPT, E, "%s: truncated: %zu bytes", d->name,
			len);
	magic = sluice__rd32(p);
	version = sluice__rd32(p + 4);
	if (magic != SLUICE_METADATA_MAGIC)
		return sluice__error_set(
			SLUICE_ECORRUPT, E,
			"%s: not a sluice _metadata file (magic 0x%08x, "
			"expected 0x%08x)",
			d->name, magic, SLUICE_METADATA_MAGIC);
	if (version == 0 || version > SLUICE_METADATA_VERSION)
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, E,
			"%s: unsupported _metadata version %u (this build "
			"reads 1 to %d)",
			d->name, version, SLUICE_METADATA_VERSION);
	size = len >= 16 ? sluice__rd64(p + 8) : 0;
	if (len < 16 + 8 || size > len)
		return sluice__error_set(
			SLUICE_ECORRUPT, E,
			"%s: truncated: %zu bytes, header says %" PRIu64,
			d->name, len, size);
	if (size < len)
		return sluice__error_set(
			SLUICE_ECORRUPT, E,
			"%s: %zu bytes, header says %" PRIu64
			": trailing bytes or corrupt header",
			d->name, len, size);
	want = sluice__rd64(p + len - 8);
	got = sluice__xxh3(p, len - 8);
	if (want != got)
		return sluice__error_set(
			SLUICE_ECORRUPT, E,
			"%s: checksum mismatch (computed %016" PRIx64
			", recorded %016" PRIx64 "): file is corrupt",
			d->name, got, want);
	sluice_reader_init(&d->r, p, len - 8);
	d->r.pos = 16;
	d->version = version;
	return 0;
}

int sluice_metadata_decode(
	sluice_checkpoint_meta **out,
	const void *data,
	size_t len,
	const char *name)
{
	sluice_checkpoint_meta *m = NULL;
	dec d;
	uint32_t nops = 0, i;
	int error;

	*out = NULL;
	d.name = name ? name : SLUICE_METADATA_FILE;
	if ((error = check_frame(&d, data, len)) < 0)
		return error;
	if ((error = sluice_checkpoint_meta_new(&m, 0)) < 0 ||
	    (error = get_header(&d, m, &nops)) < 0)
		goto fail;
	for (i = 0; i < nops; i++)
		if ((error = get_operator(&d, m)) < 0)
			goto fail;
	if (d.r.failed) {
		error = truncated(&d);
		goto fail;
	}
	if (sluice_reader_left(&d.r)) {
		error = bad(
			&d, d.r.pos,
			"trailing bytes:", (long long)sluice_reader_left(&d.r));
		goto fail;
	}
	*out = m;
	return 0;
fail:
	sluice_checkpoint_meta_free(m);
	return error;
}
