/*
 * The canonical keyed snapshot format (docs/format/snapshot.md): writer
 * (the asynchronous phase of a keyed snapshot) and reader (restore with
 * key-group filtering for rescaling).  Every backend's view is written
 * the same way, so savepoints move between backends.
 *
 * Layout: a checksummed header (magic "SLKS", version, codec, max
 * parallelism, key-group range, state meta data), then one block per key
 * group of the range, at the offset recorded in the handle: a checksummed
 * block header (key group, number of sections) and one section per state
 * with entries in that group, each checksummed (xxh3-64 over key group,
 * section header and stored bytes) and optionally compressed (zstd/lz4).
 * Expired TTL entries are left out when written.
 */
#include <lz4.h>
#include <xxhash.h>
#include <string.h>
#include <zstd.h>

#include "state/keyed.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"

#define MAGIC          "SLKS"
#define FORMAT_VERSION 1
#define FIXED_HDR      22 /* magic .. num_states */
#define BLOCK_HDR      14 /* kg, nsections, checksum */
#define SECTION_HDR    23 /* id, codec, count, raw, stored, checksum */
#define MAX_RAW        (1u << 30)

typedef struct snap_state {
	sluice_state shadow; /* kind and TTL for the cleanup filter */
	char *name;
} snap_state;

struct sluice_keyed_snapshot {
	sluice_backend *be;
	sluice_backend_snapshot *view;
	int32_t maxp, start, end;
	sluice_snapshot_codec codec;
	int64_t now;
	size_t n;
	snap_state *states;
};

int sluice_keyed_snapshot_sync(
	sluice_keyed_snapshot **out, sluice_keyed_backend *kb)
{
	sluice_keyed_snapshot *s = sluice__calloc(1, sizeof(*s));
	size_t i;
	int rc;

	*out = NULL;
	if (!s || (kb->nstates && !(s->states = sluice__calloc(
					    kb->nstates, sizeof(snap_state)))))
		goto oom;
	s->be = kb->be;
	s->maxp = kb->maxp;
	s->start = kb->start;
	s->end = kb->end;
	s->codec = kb->opts.compression;
	s->now = sluice_clock_wall_ms(kb->clock);
	for (i = 0; i < kb->nstates; i++, s->n++) {
		s->states[i].shadow = *kb->states[i];
		s->states[i].shadow.lat = NULL;
		s->states[i].shadow.default_value = NULL;
		if (!(s->states[i].name = sluice__strdup(kb->states[i]->name)))
			goto oom;
		s->states[i].shadow.name = s->states[i].name;
	}
	if ((rc = kb->be->snapshot_sync(kb->be, &s->view)) < 0) {
		sluice_keyed_snapshot_free(s);
		return rc;
	}
	*out = s;
	return 0;
oom:
	sluice_keyed_snapshot_free(s);
	return sluice__error_oom();
}

void sluice_keyed_snapshot_free(sluice_keyed_snapshot *s)
{
	size_t i;

	if (!s)
		return;
	if (s->view)
		s->be->snapshot_release(s->view);
	for (i = 0; i < s->n; i++)
		sluice__free(s->states[i].name);
	sluice__free(s->states);
	sluice__free(s);
}

static int write_header(const sluice_keyed_snapshot *s, sluice_buf *b)
{
	size_t i;

	SLUICE_ERRCHECK(sluice_buf_put(b, MAGIC, 4));
	SLUICE_ERRCHECK(sluice_buf_put_u16(b, FORMAT_VERSION));
	SLUICE_ERRCHECK(sluice_buf_put_u8(b, (uint8_t)s->codec));
	SLUICE_ERRCHECK(sluice_buf_put_u8(b, 0));
	SLUICE_ERRCHECK(sluice_buf_put_u32(b, (uint32_t)s->maxp));
	SLUICE_ERRCHECK(sluice_buf_put_u32(b, (uint32_t)s->start));
	SLUICE_ERRCHECK(
		sluice_buf_put_u32(b, (uint32_t)(s->end - s->start + 1)));
	SLUICE_ERRCHECK(sluice_buf_put_u16(b, (uint16_t)s->n));
	for (i = 0; i < s->n; i++) {
		const sluice_state *st = &s->states[i].shadow;

		SLUICE_ERRCHECK(sluice_buf_put_str16(b, st->name));
		SLUICE_ERRCHECK(sluice_buf_put_u8(b, (uint8_t)st->kind));
		SLUICE_ERRCHECK(sluice_buf_put_u8(b, (uint8_t)st->ttl_on));
		SLUICE_ERRCHECK(sluice_buf_put_u64(b, (uint64_t)st->ttl_ms));
	}
	return sluice_buf_put_u64(b, sluice__xxh3(b->ptr, b->len));
}

typedef struct rec_ctx {
	const sluice_state *st;
	sluice_buf *raw;
	uint32_t count;
	int filter;
	ttl_filter_ctx f;
} rec_ctx;

static int rec_cb(void *vctx, const sluice_backend_entry *e)
{
	rec_ctx *c = vctx;
	sluice_slice v = e->value, rep;

	if (c->filter) {
		int verdict = sluice__ttl_filter(&c->f, v, &rep);

		if (verdict == SLUICE_FILTER_DROP)
			return 0;
		if (verdict == SLUICE_FILTER_REPLACE)
			v = rep;
	}
	SLUICE_ERRCHECK(
		sluice_buf_put_bytes32(c->raw, e->key.data, e->key.len));
	SLUICE_ERRCHECK(sluice_buf_put_bytes32(c->raw, e->ns.data, e->ns.len));
	if (c->st->kind == SLUICE_STATE_MAP)
		SLUICE_ERRCHECK(sluice_buf_put_bytes32(
			c->raw, e->ukey.data, e->ukey.len));
	SLUICE_ERRCHECK(sluice_buf_put_bytes32(c->raw, v.data, v.len));
	c->count++;
	return 0;
}

/* Compress raw into out; codec actually used (NONE when not smaller). */
static int compress(int codec, const sluice_buf *raw, sluice_buf *out)
{
	size_t cap, n = 0;

	sluice_buf_clear(out);
	if (codec == SLUICE_CODEC_NONE || raw->len < 64)
		return SLUICE_CODEC_NONE;
	cap = codec == SLUICE_CODEC_ZSTD
		      ? ZSTD_compressBound(raw->len)
		      : (size_t)LZ4_compressBound((int)raw->len);
	SLUICE_ERRCHECK(sluice_buf_grow(out, cap));
	if (codec == SLUICE_CODEC_ZSTD) {
		n = ZSTD_compress(out->ptr, cap, raw->ptr, raw->len, 1);
		if (ZSTD_isError(n))
			n = 0;
	} else {
		int r = LZ4_compress_default(
			(const char *)raw->ptr, (char *)out->ptr, (int)raw->len,
			(int)cap);
		n = r > 0 ? (size_t)r : 0;
	}
	if (!n || n >= raw->len)
		return SLUICE_CODEC_NONE;
	out->len = n;
	return codec;
}

static uint64_t
section_sum(int32_t kg, const uint8_t *hdr, const void *data, size_t len)
{
	uint8_t head[4 + SECTION_HDR - 8];

	sluice__be32(head, (uint32_t)kg);
	memcpy(head + 4, hdr, SECTION_HDR - 8);
	/* xxh3-64 of the stored bytes, seeded with xxh3-64 of (kg, header) */
	return XXH3_64bits_withSeed(
		data, len, sluice__xxh3(head, sizeof(head)));
}

typedef struct wbufs {
	sluice_buf block, sections, raw, packed, filter;
} wbufs;

/* One key group's block into w->block. */
static int write_group(sluice_keyed_snapshot *s, int32_t kg, wbufs *w)
{
	uint16_t nsec = 0;
	uint8_t hdr[SECTION_HDR];
	size_t i;

	sluice_buf_clear(&w->sections);
	for (i = 0; i < s->n; i++) {
		const sluice_state *st = &s->states[i].shadow;
		rec_ctx c = {
			st,
			&w->raw,
			0,
			st->ttl_on && st->full_cleanup,
			{st, s->now, &w->filter}};
		const sluice_buf *stored;
		int codec;

		sluice_buf_clear(&w->raw);
		SLUICE_ERRCHECK(
			s->be->snapshot_iterate(s->view, i, kg, rec_cb, &c));
		if (!c.count)
			continue;
		if (w->raw.len > MAX_RAW)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
				"state '%s' key group %d: %zu bytes exceed "
				"the 1 GiB block limit",
				st->name, (int)kg, w->raw.len);
		SLUICE_ERRCHECK(
			codec = compress(s->codec, &w->raw, &w->packed));
		stored = codec ? &w->packed : &w->raw;
		sluice__be16(hdr, (uint16_t)i);
		hdr[2] = (uint8_t)codec;
		sluice__be32(hdr + 3, c.count);
		sluice__be32(hdr + 7, (uint32_t)w->raw.len);
		sluice__be32(hdr + 11, (uint32_t)stored->len);
		sluice__be64(
			hdr + 15,
			section_sum(kg, hdr, stored->ptr, stored->len));
		SLUICE_ERRCHECK(sluice_buf_put(&w->sections, hdr, SECTION_HDR));
		SLUICE_ERRCHECK(
			sluice_buf_put(&w->sections, stored->ptr, stored->len));
		nsec++;
	}
	sluice_buf_clear(&w->block);
	SLUICE_ERRCHECK(sluice_buf_put_u32(&w->block, (uint32_t)kg));
	SLUICE_ERRCHECK(sluice_buf_put_u16(&w->block, nsec));
	SLUICE_ERRCHECK(
		sluice_buf_put_u64(&w->block, sluice__xxh3(w->block.ptr, 6)));
	return sluice_buf_put(&w->block, w->sections.ptr, w->sections.len);
}

static void wbufs_release(wbufs *w)
{
	sluice_buf_release(&w->block);
	sluice_buf_release(&w->sections);
	sluice_buf_release(&w->raw);
	sluice_buf_release(&w->packed);
	sluice_buf_release(&w->filter);
}

int sluice_keyed_snapshot_write(
	sluice_keyed_snapshot *s, sluice_ostream *os, sluice_keyed_handle **out)
{
	wbufs w;
	sluice_keyed_handle *h = NULL;
	int32_t kg, num = s->end - s->start + 1;
	int rc;

	*out = NULL;
	memset(&w, 0, sizeof(w));
	if (!s->n) {
		sluice_ostream_abort(os);
		return 0;
	}
	if (!(h = sluice__calloc(1, sizeof(*h))) ||
	    !(h->offsets = sluice__calloc((size_t)num, sizeof(uint64_t)))) {
		rc = sluice__error_oom();
		goto fail;
	}
	h->start_key_group = s->start;
	h->num_key_groups = num;
	if ((rc = write_header(s, &w.block)) < 0 ||
	    (rc = sluice_ostream_write(os, w.block.ptr, w.block.len)) < 0)
		goto fail;
	for (kg = s->start; kg <= s->end; kg++) {
		h->offsets[kg - s->start] = os->pos(os);
		if ((rc = write_group(s, kg, &w)) < 0 ||
		    (rc = sluice_ostream_write(os, w.block.ptr, w.block.len)) <
			    0)
			goto fail;
	}
	wbufs_release(&w);
	rc = sluice_ostream_close(os, &h->stream);
	os = NULL;
	if (rc < 0)
		goto fail;
	*out = h;
	return 0;
fail:
	wbufs_release(&w);
	sluice_ostream_abort(os);
	sluice_keyed_handle_free(h);
	return rc;
}

/* ---- restore ---- */

typedef struct rd {
	sluice_keyed_backend *kb;
	sluice_istream *in;
	const char *name; /* stream, for messages */
	size_t nstates;
	sluice_state **states;
	sluice_buf buf, raw;
} rd;

static int corrupt(const rd *r, const char *what, const char *state, int kg)
{
	if (kg >= 0 && state)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"keyed snapshot '%s' key group %d, state '%s': %s",
			r->name, kg, state, what);
	if (kg >= 0)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"keyed snapshot '%s' key group %d: %s", r->name, kg,
			what);
	return sluice__error_set(
		SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE, "keyed snapshot '%s': %s",
		r->name, what);
}

static int read_n_at(rd *r, sluice_buf *b, size_t n, const char *state, int kg)
{
	if (n > r->in->size(r->in))
		return corrupt(r, "length beyond end of stream", state, kg);
	SLUICE_ERRCHECK(sluice_buf_grow(b, n));
	if (sluice_istream_read_full(r->in, b->ptr + b->len, n) < 0)
		return corrupt(r, "unexpected end of stream", state, kg);
	b->len += n;
	return 0;
}

static int read_n(rd *r, sluice_buf *b, size_t n)
{
	return read_n_at(r, b, n, NULL, -1);
}

static int read_meta(rd *r, const uint8_t *p, size_t len, size_t *pos)
{
	sluice_reader rr;
	size_t i;
	int rc;

	sluice_reader_init(&rr, p, len);
	rr.pos = *pos;
	for (i = 0; i < r->nstates; i++) {
		sluice_slice nm = sluice_reader_str16(&rr);
		uint8_t kind = sluice_reader_u8(&rr),
			ttl_on = sluice_reader_u8(&rr);
		int64_t ttl = (int64_t)sluice_reader_u64(&rr);

		if (rr.failed || kind > SLUICE_STATE_AGGREGATING ||
		    ttl_on > 1 || !nm.len || memchr(nm.data, 0, nm.len))
			return corrupt(r, "bad state meta data", NULL, -1);
		char *name = sluice__strndup(nm.data, nm.len);

		if (!name)
			return sluice__error_oom();
		rc = sluice__state_lookup(
			&r->states[i], r->kb, name, (sluice_state_kind)kind,
			ttl_on, ttl);
		sluice__free(name);
		if (rc < 0)
			return rc;
	}
	*pos = rr.pos;
	return 0;
}

static int read_header(rd *r, const sluice_keyed_handle *h)
{
	sluice_buf *b = &r->buf;
	size_t i, pos = FIXED_HDR;
	uint16_t version;
	int32_t maxp, start, num;

	sluice_buf_clear(b);
	SLUICE_ERRCHECK(read_n(r, b, FIXED_HDR));
	if (memcmp(b->ptr, MAGIC, 4))
		return corrupt(
			r, "not a sluice keyed snapshot (bad magic)", NULL, -1);
	if ((version = sluice__rd16(b->ptr + 4)) != FORMAT_VERSION)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"keyed snapshot '%s': unsupported format version %u "
			"(this build reads %d)",
			r->name, version, FORMAT_VERSION);
	r->nstates = sluice__rd16(b->ptr + 20);
	for (i = 0; i < r->nstates; i++) {
		SLUICE_ERRCHECK(read_n(r, b, 2));
		SLUICE_ERRCHECK(
			read_n(r, b, sluice__rd16(b->ptr + b->len - 2) + 10u));
	}
	SLUICE_ERRCHECK(read_n(r, b, 8));
	if (sluice__xxh3(b->ptr, b->len - 8) !=
	    sluice__rd64(b->ptr + b->len - 8))
		return corrupt(r, "header checksum mismatch", NULL, -1);
	maxp = (int32_t)sluice__rd32(b->ptr + 8);
	start = (int32_t)sluice__rd32(b->ptr + 12);
	num = (int32_t)sluice__rd32(b->ptr + 16);
	if (maxp != r->kb->maxp)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"keyed snapshot '%s': max parallelism %d differs from "
			"this job's %d (it can never change for keyed state)",
			r->name, (int)maxp, (int)r->kb->maxp);
	if (h->start_key_group < start ||
	    (int64_t)h->start_key_group + h->num_key_groups >
		    (int64_t)start + num)
		return corrupt(
			r, "handle range outside the snapshot's range", NULL,
			-1);
	if (r->nstates &&
	    !(r->states = sluice__calloc(r->nstates, sizeof(*r->states))))
		return sluice__error_oom();
	return read_meta(r, b->ptr, b->len - 8, &pos);
}

static int
decode(rd *r,
       int kg,
       const sluice_state *st,
       int codec,
       const uint8_t *stored,
       size_t slen,
       size_t rlen)
{
	sluice_buf_clear(&r->raw);
	if (codec == SLUICE_CODEC_NONE) {
		if (slen != rlen)
			return corrupt(
				r, "section length mismatch", st->name, kg);
		return sluice_buf_put(&r->raw, stored, slen);
	}
	if (rlen > MAX_RAW)
		return corrupt(r, "section too large", st->name, kg);
	SLUICE_ERRCHECK(sluice_buf_grow(&r->raw, rlen ? rlen : 1));
	if (codec == SLUICE_CODEC_ZSTD) {
		size_t n = ZSTD_decompress(r->raw.ptr, rlen, stored, slen);

		if (ZSTD_isError(n) || n != rlen)
			return corrupt(
				r, "zstd data does not decompress", st->name,
				kg);
	} else if (codec == SLUICE_CODEC_LZ4) {
		if (LZ4_decompress_safe(
			    (const char *)stored, (char *)r->raw.ptr, (int)slen,
			    (int)rlen) != (int)rlen)
			return corrupt(
				r, "lz4 data does not decompress", st->name,
				kg);
	} else {
		return corrupt(r, "unknown compression codec", st->name, kg);
	}
	r->raw.len = rlen;
	return 0;
}

static int apply(rd *r, int32_t kg, sluice_state *st, uint32_t count)
{
	sluice_keyed_backend *kb = r->kb;
	sluice_reader rr;
	uint32_t i;

	sluice_reader_init(&rr, r->raw.ptr, r->raw.len);
	for (i = 0; i < count; i++) {
		sluice_state_key k;
		sluice_slice u = {NULL, 0}, v;

		k.key = sluice_reader_bytes32(&rr);
		k.ns = sluice_reader_bytes32(&rr);
		if (st->kind == SLUICE_STATE_MAP)
			u = sluice_reader_bytes32(&rr);
		v = sluice_reader_bytes32(&rr);
		if (rr.failed)
			return corrupt(r, "truncated record", st->name, kg);
		if (sluice_keygroup_of(k.key, kb->maxp) != kg)
			return corrupt(
				r,
				"record key belongs to another key "
				"group",
				st->name, kg);
		if (st->kind == SLUICE_STATE_MAP
			    ? st->ttl_on && v.len < 8
			    : !sluice__value_well_formed(
				      st->kind, st->ttl_on, v))
			return corrupt(r, "malformed value", st->name, kg);
		k.key_group = kg;
		k.hash = sluice__state_hash(
			sluice__hash32(k.key.data, k.key.len),
			sluice__ns_hash(k.ns));
		SLUICE_ERRCHECK(
			st->kind == SLUICE_STATE_MAP
				? kb->be->map_put(kb->be, st->bs, &k, u, v)
				: kb->be->put(kb->be, st->bs, &k, v));
	}
	if (sluice_reader_left(&rr))
		return corrupt(r, "trailing bytes in section", st->name, kg);
	return 0;
}

static int restore_group(rd *r, int32_t kg, uint64_t off)
{
	uint16_t nsec, i;

	sluice_buf_clear(&r->buf);
	if (r->in->seek(r->in, off) < 0)
		return corrupt(r, "offset beyond end of stream", NULL, kg);
	SLUICE_ERRCHECK(read_n_at(r, &r->buf, BLOCK_HDR, NULL, kg));
	if (sluice__xxh3(r->buf.ptr, 6) != sluice__rd64(r->buf.ptr + 6))
		return corrupt(r, "block header checksum mismatch", NULL, kg);
	if ((int32_t)sluice__rd32(r->buf.ptr) != kg)
		return corrupt(
			r, "offset points at another key group", NULL, kg);
	nsec = sluice__rd16(r->buf.ptr + 4);
	for (i = 0; i < nsec; i++) {
		uint8_t *hdr;
		uint16_t id;
		uint32_t slen;
		sluice_state *st;

		sluice_buf_clear(&r->buf);
		SLUICE_ERRCHECK(read_n_at(r, &r->buf, SECTION_HDR, NULL, kg));
		hdr = r->buf.ptr;
		id = sluice__rd16(hdr);
		slen = sluice__rd32(hdr + 11);
		if (id >= r->nstates)
			return corrupt(
				r, "section names an unknown state", NULL, kg);
		st = r->states[id];
		SLUICE_ERRCHECK(read_n_at(r, &r->buf, slen, st->name, kg));
		hdr = r->buf.ptr;
		if (section_sum(kg, hdr, hdr + SECTION_HDR, slen) !=
		    sluice__rd64(hdr + 15))
			return corrupt(r, "checksum mismatch", st->name, kg);
		SLUICE_ERRCHECK(
			decode(r, kg, st, hdr[2], hdr + SECTION_HDR, slen,
			       sluice__rd32(hdr + 7)));
		SLUICE_ERRCHECK(apply(r, kg, st, sluice__rd32(hdr + 3)));
	}
	return 0;
}

static int restore_one(
	sluice_keyed_backend *kb,
	const sluice_keyed_handle *h,
	sluice_open_fn open,
	void *open_ctx)
{
	int32_t lo = h->start_key_group, hi = lo + h->num_key_groups - 1, kg;
	rd r;
	int rc;

	if (lo < kb->start)
		lo = kb->start;
	if (hi > kb->end)
		hi = kb->end;
	if (lo > hi || !h->stream)
		return 0; /* nothing of ours in it */
	memset(&r, 0, sizeof(r));
	r.kb = kb;
	r.name = h->stream->path ? h->stream->path : "(unnamed)";
	if ((rc = open(open_ctx, h->stream, &r.in)) < 0)
		return rc;
	if ((rc = read_header(&r, h)) < 0)
		goto done;
	for (kg = lo; kg <= hi && rc == 0; kg++)
		rc = restore_group(&r, kg, h->offsets[kg - h->start_key_group]);
done:
	sluice_istream_close(r.in);
	sluice_buf_release(&r.buf);
	sluice_buf_release(&r.raw);
	sluice__free(r.states);
	return rc;
}

int sluice_keyed_backend_restore(
	sluice_keyed_backend *kb,
	const sluice_keyed_handle *const *handles,
	size_t n,
	sluice_open_fn open,
	void *open_ctx)
{
	size_t i;

	if (!open)
		open = sluice_open_inline;
	for (i = 0; i < n; i++)
		if (handles[i])
			SLUICE_ERRCHECK(
				restore_one(kb, handles[i], open, open_ctx));
	return 0;
}
