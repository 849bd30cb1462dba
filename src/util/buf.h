/*
 * Growable byte buffers and bounds-checked readers.  All integers are
 * written big-endian, as every sluice binary format specifies.
 *
 * A sluice_buf owns its bytes; release with sluice_buf_release().  Writers
 * return 0 or SLUICE_ENOMEM (last error set).  A sluice_reader never
 * reads past its end: the first short read sets `failed`, later reads
 * return zeros, and the caller checks `failed` once at the end.
 */
#ifndef SLUICE_UTIL_BUF_H
#define SLUICE_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/common.h"

typedef struct sluice_buf {
	uint8_t *ptr;
	size_t len;
	size_t cap;
} sluice_buf;

#define SLUICE_BUF_INIT    \
	{                  \
		NULL, 0, 0 \
	}

void sluice_buf_init(sluice_buf *b);
void sluice_buf_release(sluice_buf *b);
void sluice_buf_clear(sluice_buf *b); /* len = 0, keeps memory */
int sluice_buf_grow(sluice_buf *b, size_t extra);
int sluice_buf_put(sluice_buf *b, const void *data, size_t len);
int sluice_buf_put_u8(sluice_buf *b, uint8_t v);
int sluice_buf_put_u16(sluice_buf *b, uint16_t v);
int sluice_buf_put_u32(sluice_buf *b, uint32_t v);
int sluice_buf_put_u64(sluice_buf *b, uint64_t v);
int sluice_buf_put_varint(sluice_buf *b, uint64_t v);
/* u32 length then bytes */
int sluice_buf_put_bytes32(sluice_buf *b, const void *data, size_t len);
/* u16 length then bytes (strings up to 65535 bytes) */
int sluice_buf_put_str16(sluice_buf *b, const char *s);
int sluice_buf_printf(sluice_buf *b, const char *fmt, ...) SLUICE_PRINTF(2, 3);
int sluice_buf_vprintf(sluice_buf *b, const char *fmt, va_list ap);
/* NUL-terminate without counting the NUL; ptr is then a C string */
int sluice_buf_cstr(sluice_buf *b);
/* Hand the bytes to the caller (free with sluice__free); buf is reset. */
uint8_t *sluice_buf_detach(sluice_buf *b, size_t *len);

void sluice__be16(uint8_t *p, uint16_t v);
void sluice__be32(uint8_t *p, uint32_t v);
void sluice__be64(uint8_t *p, uint64_t v);
uint16_t sluice__rd16(const uint8_t *p);
uint32_t sluice__rd32(const uint8_t *p);
uint64_t sluice__rd64(const uint8_t *p);

typedef struct sluice_reader {
	const uint8_t *p;
	size_t len;
	size_t pos;
	int failed;
} sluice_reader;

void sluice_reader_init(sluice_reader *r, const void *data, size_t len);
size_t sluice_reader_left(const sluice_reader *r);
uint8_t sluice_reader_u8(sluice_reader *r);
uint16_t sluice_reader_u16(sluice_reader *r);
uint32_t sluice_reader_u32(sluice_reader *r);
uint64_t sluice_reader_u64(sluice_reader *r);
uint64_t sluice_reader_varint(sluice_reader *r);
/* Borrow `len` bytes (pointer into the reader's data), NULL on short read. */
const void *sluice_reader_take(sluice_reader *r, size_t len);
/* u32 length then bytes, borrowed */
sluice_slice sluice_reader_bytes32(sluice_reader *r);
/* u16 length then bytes, borrowed (not NUL-terminated) */
sluice_slice sluice_reader_str16(sluice_reader *r);

#endif
