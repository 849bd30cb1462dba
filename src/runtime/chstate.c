/*
 * Channel state of unaligned checkpoints: the blob codec (entries of
 * overtaken in-flight buffers), the reference stored in `_metadata`, and
 * the writer that puts the blobs of up to k subtasks into one shared
 * channel-state file and acknowledges for them (see chstate.h for the
 * behaviour; docs/format/channel-state.md for the bytes).
 */
#include <string.h>

#include "runtime/chstate.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/log.h"

#define REF_VERSION 1

/* ---- blob ---------------------------------------------------------------- */

void sluice__chs_init(sluice__chs *c)
{
	memset(c, 0, sizeof(*c));
	sluice_buf_init(&c->buf);
}

void sluice__chs_release(sluice__chs *c)
{
	sluice_buf_release(&c->buf);
	c->entries = 0;
	c->bytes = 0;
}

int sluice__chs_add(
	sluice__chs *c,
	int kind,
	uint16_t gate,
	uint32_t channel,
	const void *data,
	size_t len)
{
	int rc;

	if (len > UINT32_MAX)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_RUNTIME,
			"channel state: buffer of %zu bytes is too large", len);
	if (c->buf.len == 0 &&
	    ((rc = sluice_buf_put_u32(&c->buf, SLUICE__CHS_MAGIC)) < 0 ||
	     (rc = sluice_buf_put_u16(&c->buf, SLUICE__CHS_VERSION)) < 0))
		return rc;
	if ((rc = sluice_buf_put_u8(&c->buf, (uint8_t)kind)) < 0 ||
	    (rc = sluice_buf_put_u16(&c->buf, gate)) < 0 ||
	    (rc = sluice_buf_put_u32(&c->buf, channel)) < 0 ||
	    (rc = sluice_buf_put_bytes32(&c->buf, data, len)) < 0)
		return rc;
	c->entries++;
	c->bytes += len;
	return 0;
}

int sluice__chs_finish(sluice__chs *c, uint8_t **out, size_t *len)
{
	int rc;

	*out = NULL;
	*len = 0;
	if (c->entries == 0) {
		sluice_buf_clear(&c->buf);
		return 0;
	}
	if ((rc = sluice_buf_put_u32(&c->buf, c->entries)) < 0 ||
	    (rc = sluice_buf_put_u64(
		     &c->buf, sluice__xxh3(c->buf.ptr, c->buf.len))) < 0)
		return rc;
	*out = sluice_buf_detach(&c->buf, len);
	c->entries = 0;
	c->bytes = 0;
	return 0;
}

static int corrupt(const char *what, const char *why, size_t off)
{
	return sluice__error_set(
		SLUICE_ECORRUPT, SLUICE_ERRCLS_RUNTIME,
		"%s: channel state %s at byte %zu", what, why, off);
}

/* Check the header and trailer; the entry count in `*count`. */
static int
parse_frame(const uint8_t *blob, size_t len, const char *what, uint32_t *count)
{
	uint64_t want, got;

	if (len < 6 + 12)
		return corrupt(what, "truncated", len);
	if (sluice__rd32(blob) != SLUICE__CHS_MAGIC)
		return corrupt(what, "has a bad magic number", 0);
	if (sluice__rd16(blob + 4) != SLUICE__CHS_VERSION)
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_RUNTIME,
			"%s: channel state version %u (this build reads 1)",
			what, (unsigned)sluice__rd16(blob + 4));
	want = sluice__rd64(blob + len - 8);
	got = sluice__xxh3(blob, len - 8);
	if (want != got)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_RUNTIME,
			"%s: channel state checksum mismatch (computed "
			"0x%016llx, recorded 0x%016llx)",
			what, (unsigned long long)got,
			(unsigned long long)want);
	*count = sluice__rd32(blob + len - 12);
	if (*count > (len - 18) / 11)
		return corrupt(what, "entry count is out of range", len - 12);
	return 0;
}

int sluice__chs_parse(
	const uint8_t *blob,
	size_t len,
	const char *what,
	sluice__chs_entry **out,
	size_t *n)
{
	sluice__chs_entry *e = NULL;
	sluice_reader r;
	uint32_t count = 0, i;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = parse_frame(blob, len, what, &count)) < 0)
		return rc;
	if (!(e = sluice__calloc(count ? count : 1, sizeof(*e))))
		return sluice__error_oom();
	sluice_reader_init(&r, blob + 6, len - 18);
	for (i = 0; i < count; i++) {
		sluice_slice s;
		size_t at = 6 + (len - 18 - sluice_reader_left(&r));

		e[i].kind = sluice_reader_u8(&r);
		e[i].gate = sluice_reader_u16(&r);
		e[i].channel = sluice_reader_u32(&r);
		s = sluice_reader_bytes32(&r);
		if (r.failed) {
			sluice__free(e);
			return corrupt(what, "entry is truncated", at);
		}
		if (e[i].kind != SLUICE__CHS_INPUT &&
		    e[i].kind != SLUICE__CHS_OUTPUT) {
			sluice__free(e);
			return corrupt(what, "entry kind is unknown", at);
		}
		e[i].data = s.data;
		e[i].len = (uint32_t)s.len;
	}
	if (sluice_reader_left(&r) != 0) {
		sluice__free(e);
		return corrupt(
			what, "has bytes after the last entry", len - 12);
	}
	*out = e;
	*n = count;
	return 0;
}

/* ---- reference ----------------------------------------------------------- */

int sluice__chs_ref_encode(
	uint8_t **out,
	uint32_t *out_len,
	const sluice_stream_handle *h,
	uint64_t off,
	uint64_t len,
	uint64_t checksum)
{
	sluice_buf b;
	size_t n;
	int rc;

	sluice_buf_init(&b);
	if ((rc = sluice_buf_put_u16(&b, REF_VERSION)) < 0 ||
	    (rc = sluice_buf_put_u8(&b, (uint8_t)h->kind)) < 0 ||
	    (rc = sluice_buf_put_str16(&b, h->path ? h->path : "")) < 0 ||
	    (rc = sluice_buf_put_u64(&b, h->size)) < 0 ||
	    (rc = sluice_buf_put_u64(&b, h->checksum)) < 0 ||
	    (h->kind == SLUICE_HANDLE_INLINE &&
	     (rc = sluice_buf_put(&b, h->data, (size_t)h->size)) < 0) ||
	    (rc = sluice_buf_put_u64(&b, off)) < 0 ||
	    (rc = sluice_buf_put_u64(&b, len)) < 0 ||
	    (rc = sluice_buf_put_u64(&b, checksum)) < 0) {
		sluice_buf_release(&b);
		return rc;
	}
	*out = sluice_buf_detach(&b, &n);
	*out_len = (uint32_t)n;
	return 0;
}

/* Decode a reference into a handle (caller frees) and the blob's place. */
static int ref_decode(
	const uint8_t *ref,
	size_t ref_len,
	const char *what,
	sluice_stream_handle **h,
	uint64_t place[3])
{
	sluice_reader r;
	sluice_slice path;
	const void *data = NULL;
	char *p = NULL;
	uint64_t size, sum;
	uint8_t kind;

	sluice_reader_init(&r, ref, ref_len);
	if (sluice_reader_u16(&r) != REF_VERSION && !r.failed)
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_RUNTIME,
			"%s: channel-state reference version is not 1", what);
	kind = sluice_reader_u8(&r);
	path = sluice_reader_str16(&r);
	size = sluice_reader_u64(&r);
	sum = sluice_reader_u64(&r);
	if (kind == SLUICE_HANDLE_INLINE && !r.failed)
		data = size <= sluice_reader_left(&r)
			       ? sluice_reader_take(&r, (size_t)size)
			       : NULL;
	place[0] = sluice_reader_u64(&r);
	place[1] = sluice_reader_u64(&r);
	place[2] = sluice_reader_u64(&r);
	if (r.failed || sluice_reader_left(&r) != 0 ||
	    (kind == SLUICE_HANDLE_INLINE && !data) ||
	    (kind != SLUICE_HANDLE_INLINE && kind != SLUICE_HANDLE_FILE &&
	     kind != SLUICE_HANDLE_RELATIVE) ||
	    place[0] > size || place[1] > size - place[0])
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_RUNTIME,
			"%s: malformed channel-state reference (%zu bytes)",
			what, ref_len);
	if (!(p = sluice__calloc(1, path.len + 1)))
		return sluice__error_oom();
	memcpy(p, path.data, path.len);
	*h = sluice_stream_handle_new(
		(sluice_handle_kind)kind, p, size, sum, data);
	sluice__free(p);
	return *h ? 0 : sluice__error_oom();
}

int sluice__chs_read(
	uint8_t **blob,
	size_t *len,
	const uint8_t *ref,
	size_t ref_len,
	sluice_storage *st,
	const char *dir,
	const char *what)
{
	sluice_stream_handle *h = NULL;
	uint8_t *file = NULL;
	size_t flen = 0;
	uint64_t place[3];
	int rc;

	*blob = NULL;
	*len = 0;
	if ((rc = ref_decode(ref, ref_len, what, &h, place)) < 0)
		return rc;
	if (h->kind != SLUICE_HANDLE_INLINE && !st) {
		rc = sluice__error_set(
			SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_RUNTIME,
			"%s: channel state in %s needs the checkpoint's "
			"storage",
			what, h->path);
		goto done;
	}
	if ((rc = sluice_handle_read(&file, &flen, st, dir, h)) < 0) {
		sluice__error_wrap("%s: channel state", what);
		goto done;
	}
	if (place[0] + place[1] > flen ||
	    sluice__xxh3(file + place[0], (size_t)place[1]) != place[2]) {
		rc = sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_RUNTIME,
			"%s: channel state at byte %llu of %s does not match "
			"its checksum",
			what, (unsigned long long)place[0],
			h->path ? h->path : "(inline)");
		goto done;
	}
	if (!(*blob = sluice__memdup(file + place[0], (size_t)place[1]))) {
		rc = sluice__error_oom();
		goto done;
	}
	*len = (size_t)place[1];
done:
	sluice_free_bytes(file);
	sluice_stream_handle_free(h);
	return rc;
}

/* ---- shared files ---------------------------------------------------------
 */

enum { M_WAITING = 0, M_CONTRIBUTED, M_WITHDRAWN, M_LEFT };

typedef struct member {
	int state;
	sluice_task_info info;
	sluice_task_snapshot *snap;
	uint8_t *blob;
	size_t len;
} member;

struct sluice__csw_entry {
	int64_t id;
	int group;
	int first_task;
	int n;
	int waiting;
	int failed;
	member *m;
};

int sluice__csw_init(
	sluice__csw *w,
	int num_tasks,
	int per_file,
	const sluice_stream_factory *streams,
	const sluice_job_responder *resp,
	const int *stopping)
{
	int g;

	memset(w, 0, sizeof(*w));
	w->per_file = per_file > 0 ? per_file : 5;
	w->num_tasks = num_tasks;
	w->num_groups = (num_tasks + w->per_file - 1) / w->per_file;
	w->streams = streams;
	w->resp = resp;
	w->stopping = stopping;
	w->left = sluice__calloc((size_t)num_tasks + 1, 1);
	w->cur = sluice__calloc((size_t)w->num_groups + 1, sizeof(*w->cur));
	w->floor = sluice__calloc((size_t)w->num_groups + 1, sizeof(int64_t));
	if (!w->left || !w->cur || !w->floor) {
		sluice__csw_release(w);
		return sluice__error_oom();
	}
	for (g = 0; g < w->num_groups; g++)
		w->floor[g] = -1;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		sluice__csw_release(w);
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"channel-state writer: could not create a mutex");
	}
	w->inited = 1;
	return 0;
}

static void entry_free(sluice__csw_entry *e)
{
	int i;

	if (!e)
		return;
	for (i = 0; i < e->n; i++) {
		sluice_task_snapshot_free(e->m[i].snap);
		sluice__free(e->m[i].blob);
	}
	sluice__free(e->m);
	sluice__free(e);
}

void sluice__csw_release(sluice__csw *w)
{
	int g;

	for (g = 0; w->cur && g < w->num_groups; g++)
		entry_free(w->cur[g]);
	sluice__free(w->cur);
	sluice__free(w->floor);
	sluice__free(w->left);
	if (w->inited)
		pthread_mutex_destroy(&w->lock);
	memset(w, 0, sizeof(*w));
}

/* Open entry for (group, id) under the lock; NULL when `id` is obsolete
 * or on OOM.  An older unfinished entry goes to `*dropped`. */
static sluice__csw_entry *
entry_get(sluice__csw *w, int g, int64_t id, sluice__csw_entry **dropped)
{
	sluice__csw_entry *e = w->cur[g];
	int i;

	if (id <= w->floor[g] || (e && e->id > id))
		return NULL;
	if (e && e->id == id)
		return e;
	*dropped = e;
	w->cur[g] = NULL;
	if (e)
		w->floor[g] = e->id;
	if (!(e = sluice__calloc(1, sizeof(*e))))
		return NULL;
	e->id = id;
	e->group = g;
	e->first_task = g * w->per_file;
	e->n = w->num_tasks - e->first_task < w->per_file
		       ? w->num_tasks - e->first_task
		       : w->per_file;
	if (!(e->m = sluice__calloc((size_t)e->n, sizeof(*e->m)))) {
		sluice__free(e);
		return NULL;
	}
	for (i = 0; i < e->n; i++) {
		if (w->left[e->first_task + i])
			e->m[i].state = M_LEFT;
		else
			e->waiting++;
	}
	w->cur[g] = e;
	return e;
}

static void ack(sluice__csw *w, member *m, int64_t id)
{
	if (__atomic_load_n(w->stopping, __ATOMIC_ACQUIRE) || !w->resp->ack) {
		sluice_task_snapshot_free(m->snap);
	} else {
		w->resp->ack(w->resp->ctx, &m->info, id, m->snap);
	}
	m->snap = NULL;
}

static void
decline(sluice__csw *w,
	member *m,
	int64_t id,
	sluice_failure_reason reason,
	const char *msg)
{
	if (!__atomic_load_n(w->stopping, __ATOMIC_ACQUIRE) && w->resp->decline)
		w->resp->decline(w->resp->ctx, &m->info, id, reason, msg);
}

static int open_stream(sluice__csw *w, int64_t id, sluice_ostream **os)
{
	if (w->streams && w->streams->open)
		return w->streams->open(
			w->streams->ctx, id, SLUICE_SCOPE_EXCLUSIVE, os);
	return sluice_mem_ostream_new(os, "channel-state");
}

/* Write every non-empty blob; `*bad` = member whose write failed. */
static int write_file(
	sluice__csw *w,
	sluice__csw_entry *e,
	uint64_t *offs,
	sluice_stream_handle **h,
	int *bad)
{
	sluice_ostream *os = NULL;
	uint64_t off = 0;
	int i, rc;

	*h = NULL;
	*bad = -1;
	if ((rc = open_stream(w, e->id, &os)) < 0)
		return rc;
	for (i = 0; i < e->n; i++) {
		if (e->m[i].state != M_CONTRIBUTED || !e->m[i].len)
			continue;
		if (*bad < 0)
			*bad = i; /* open / close failures: the first */
		offs[i] = off;
		if ((rc = sluice_ostream_write(os, e->m[i].blob, e->m[i].len)) <
		    0) {
			*bad = i;
			sluice_ostream_abort(os);
			return rc;
		}
		off += e->m[i].len;
	}
	if ((rc = sluice_ostream_close(os, h)) < 0)
		return rc;
	if (!*h)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"channel-state file of checkpoint %lld is empty",
			(long long)e->id);
	return 0;
}

static void write_failed(sluice__csw *w, sluice__csw_entry *e, int bad)
{
	char *msg = sluice__strdup(sluice_error_last()->message);
	int i;

	for (i = 0; i < e->n; i++)
		if (i != bad && e->m[i].state == M_CONTRIBUTED)
			decline(w, &e->m[i], e->id,
				SLUICE_CFR_CHANNEL_STATE_SHARED_STREAM_EXCEPTION,
				msg);
	if (bad >= 0)
		decline(w, &e->m[bad], e->id,
			SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION, msg);
	sluice__free(msg);
}

/* Every live member acted: write and acknowledge (outside the lock). */
static void entry_complete(sluice__csw *w, sluice__csw_entry *e)
{
	sluice_stream_handle *h = NULL;
	uint64_t offs[64], *off = offs;
	int i, bad, any = 0;

	for (i = 0; i < e->n; i++)
		any |= e->m[i].state == M_CONTRIBUTED && e->m[i].len > 0;
	if (e->failed)
		goto done;
	if (any && e->n > 64 &&
	    !(off = sluice__calloc((size_t)e->n, sizeof(*off)))) {
		sluice__error_oom();
		write_failed(w, e, -1);
		goto done;
	}
	if (any && write_file(w, e, off, &h, &bad) < 0) {
		write_failed(w, e, bad);
		goto done;
	}
	for (i = 0; i < e->n; i++) {
		member *m = &e->m[i];

		if (m->state != M_CONTRIBUTED)
			continue;
		if (m->len &&
		    sluice__chs_ref_encode(
			    &m->snap->channel_state,
			    &m->snap->channel_state_len, h, off[i], m->len,
			    sluice__xxh3(m->blob, m->len)) < 0) {
			decline(w, m, e->id,
				SLUICE_CFR_CHECKPOINT_ASYNC_EXCEPTION,
				sluice_error_last()->message);
			continue;
		}
		ack(w, m, e->id);
	}
done:
	if (off != offs)
		sluice__free(off);
	sluice_stream_handle_free(h);
	entry_free(e);
}

/* Record member `task`'s action; completes the entry when it was last. */
static void
act(sluice__csw *w,
    int task,
    int64_t id,
    int state,
    const sluice_task_info *info,
    sluice_task_snapshot *snap,
    uint8_t *blob,
    size_t len)
{
	sluice__csw_entry *e, *dropped = NULL, *done = NULL;
	int g = task / w->per_file;
	member *m;

	pthread_mutex_lock(&w->lock);
	e = entry_get(w, g, id, &dropped);
	m = e ? &e->m[task - e->first_task] : NULL;
	if (m && m->state == M_WAITING) {
		m->state = state;
		if (info)
			m->info = *info;
		m->snap = snap;
		m->blob = blob;
		m->len = len;
		snap = NULL;
		blob = NULL;
		e->failed |= state == M_WITHDRAWN;
		if (--e->waiting == 0) {
			done = e;
			w->cur[g] = NULL;
			w->floor[g] = e->id;
		}
	}
	pthread_mutex_unlock(&w->lock);
	sluice_task_snapshot_free(snap);
	sluice__free(blob);
	entry_free(dropped);
	if (done)
		entry_complete(w, done);
}

void sluice__csw_contribute(
	sluice__csw *w,
	int task,
	int64_t id,
	const sluice_task_info *info,
	sluice_task_snapshot *snap,
	uint8_t *blob,
	size_t len)
{
	act(w, task, id, M_CONTRIBUTED, info, snap, blob, len);
}

void sluice__csw_withdraw(sluice__csw *w, int task, int64_t id)
{
	if (w->inited)
		act(w, task, id, M_WITHDRAWN, NULL, NULL, NULL, 0);
}

void sluice__csw_leave(sluice__csw *w, int task)
{
	sluice__csw_entry *e, *done = NULL;
	int g = task / w->per_file;
	member *m;

	if (!w->inited)
		return;
	pthread_mutex_lock(&w->lock);
	w->left[task] = 1;
	e = w->cur[g];
	m = e ? &e->m[task - e->first_task] : NULL;
	if (m && m->state == M_WAITING) {
		m->state = M_LEFT;
		if (--e->waiting == 0) {
			done = e;
			w->cur[g] = NULL;
			w->floor[g] = e->id;
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (done)
		entry_complete(w, done);
}
