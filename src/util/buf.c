/*
 * Byte buffers (growable, owned) and readers (bounded, borrowed).  Every
 * binary format in sluice is built with these, so big-endian encoding and
 * bounds checks live in exactly one place.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"

void sluice_buf_init(sluice_buf *b)
{
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
}

void sluice_buf_release(sluice_buf *b)
{
	sluice__free(b->ptr);
	sluice_buf_init(b);
}

void sluice_buf_clear(sluice_buf *b)
{
	b->len = 0;
}

int sluice_buf_grow(sluice_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (extra > SIZE_MAX - b->len - 1)
		return sluice__error_oom();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = sluice__realloc(b->ptr, cap);
	if (!p)
		return sluice__error_oom();
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int sluice_buf_put(sluice_buf *b, const void *data, size_t len)
{
	SLUICE_ERRCHECK(sluice_buf_grow(b, len));
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	return 0;
}

void sluice__be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void sluice__be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void sluice__be64(uint8_t *p, uint64_t v)
{
	sluice__be32(p, (uint32_t)(v >> 32));
	sluice__be32(p + 4, (uint32_t)v);
}

uint16_t sluice__rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t sluice__rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

uint64_t sluice__rd64(const uint8_t *p)
{
	return ((uint64_t)sluice__rd32(p) << 32) | sluice__rd32(p + 4);
}

int sluice_buf_put_u8(sluice_buf *b, uint8_t v)
{
	return sluice_buf_put(b, &v, 1);
}

int sluice_buf_put_u16(sluice_buf *b, uint16_t v)
{
	uint8_t t[2];

	sluice__be16(t, v);
	return sluice_buf_put(b, t, 2);
}

int sluice_buf_put_u32(sluice_buf *b, uint32_t v)
{
	uint8_t t[4];

	sluice__be32(t, v);
	return sluice_buf_put(b, t, 4);
}

int sluice_buf_put_u64(sluice_buf *b, uint64_t v)
{
	uint8_t t[8];

	sluice__be64(t, v);
	return sluice_buf_put(b, t, 8);
}

int sluice_buf_put_varint(sluice_buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;

	while (v >= 0x80) {
		t[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	t[n++] = (uint8_t)v;
	return sluice_buf_put(b, t, n);
}

int sluice_buf_put_bytes32(sluice_buf *b, const void *data, size_t len)
{
	if (len > UINT32_MAX)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_INVALID,
			"byte string of %zu bytes is too long", len);
	SLUICE_ERRCHECK(sluice_buf_put_u32(b, (uint32_t)len));
	return sluice_buf_put(b, data, len);
}

int sluice_buf_put_str16(sluice_buf *b, const char *s)
{
	size_t len = strlen(s);

	if (len > UINT16_MAX)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_INVALID,
			"string of %zu bytes is too long", len);
	SLUICE_ERRCHECK(sluice_buf_put_u16(b, (uint16_t)len));
	return sluice_buf_put(b, s, len);
}

int sluice_buf_vprintf(sluice_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_INVALID,
			"bad format string");
	SLUICE_ERRCHECK(sluice_buf_grow(b, (size_t)n));
	vsnprintf((char *)b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int sluice_buf_printf(sluice_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sluice_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int sluice_buf_cstr(sluice_buf *b)
{
	SLUICE_ERRCHECK(sluice_buf_grow(b, 0));
	b->ptr[b->len] = '\0';
	return 0;
}

uint8_t *sluice_buf_detach(sluice_buf *b, size_t *len)
{
	uint8_t *p = b->ptr;

	if (len)
		*len = b->len;
	sluice_buf_init(b);
	return p;
}

void sluice_reader_init(sluice_reader *r, const void *data, size_t len)
{
	r->p = data;
	r->len = len;
	r->pos = 0;
	r->failed = 0;
}

size_t sluice_reader_left(const sluice_reader *r)
{
	return r->len - r->pos;
}

const void *sluice_reader_take(sluice_reader *r, size_t len)
{
	const void *p;

	if (r->failed || len > r->len - r->pos) {
		r->failed = 1;
		return NULL;
	}
	p = r->p + r->pos;
	r->pos += len;
	return p;
}

uint8_t sluice_reader_u8(sluice_reader *r)
{
	const uint8_t *p = sluice_reader_take(r, 1);

	return p ? p[0] : 0;
}

uint16_t sluice_reader_u16(sluice_reader *r)
{
	const uint8_t *p = sluice_reader_take(r, 2);

	return p ? sluice__rd16(p) : 0;
}

uint32_t sluice_reader_u32(sluice_reader *r)
{
	const uint8_t *p = sluice_reader_take(r, 4);

	return p ? sluice__rd32(p) : 0;
}

uint64_t sluice_reader_u64(sluice_reader *r)
{
	const uint8_t *p = sluice_reader_take(r, 8);

	return p ? sluice__rd64(p) : 0;
}

uint64_t sluice_reader_varint(sluice_reader *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	for (;;) {
		uint8_t c = sluice_reader_u8(r);

		if (r->failed)
			return 0;
		if (shift == 63 && c > 1) {
			r->failed = 1;
			return 0;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
		shift += 7;
		if (shift > 63) {
			r->failed = 1;
			return 0;
		}
	}
}

sluice_slice sluice_reader_bytes32(sluice_reader *r)
{
	uint32_t n = sluice_reader_u32(r);
	const void *p = sluice_reader_take(r, n);

	return p ? SLUICE_SLICE(p, n) : SLUICE_SLICE(NULL, 0);
}

sluice_slice sluice_reader_str16(sluice_reader *r)
{
	uint16_t n = sluice_reader_u16(r);
	const void *p = sluice_reader_take(r, n);

	return p ? SLUICE_SLICE(p, n) : SLUICE_SLICE(NULL, 0);
}
