/*
 * The few S3 XML documents the client reads, parsed without an XML
 * library: S3 responses are flat, machine-written documents, so finding
 * "<Tag>text</Tag>" in order and decoding the five named entities plus
 * numeric character references is enough.  Malformed or truncated input is
 * never read out of bounds: a missing element is simply "not found", and a
 * list page with a Contents entry lacking its Key is SLUICE_ECORRUPT.
 *
 * Edge cases tested (tests/unit/test_s3_xml.c): entities and numeric
 * references in keys, elements nested in siblings (top-level Prefix versus
 * CommonPrefixes/Prefix), empty and truncated documents, DeleteResult
 * errors, an <Error> body returned with status 200.
 *
 * Threading: pure functions.
 */
#ifndef SLUICE_STORAGE_S3_XML_H
#define SLUICE_STORAGE_S3_XML_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/common.h"
#include "util/buf.h"

/*
 * Find the first <tag>...</tag> in [p, end).  On success sets *inner to
 * the raw (still escaped) content, *after to the byte after the closing
 * tag, and returns 1; returns 0 when absent.  `after` may be NULL.
 */
int s3_xml_find(
	const char *p,
	const char *end,
	const char *tag,
	sluice_slice *inner,
	const char **after);

/*
 * Decode the text of the first <tag> in [p, end) into a new NUL-terminated
 * string (*out, free with sluice__free).  Returns 0, SLUICE_ENOTFOUND when
 * absent (no error set), or SLUICE_ENOMEM.
 */
int s3_xml_text(char **out, const char *p, const char *end, const char *tag);

/* Decode entities of `len` bytes into a new string; NULL on OOM. */
char *s3_xml_unescape(const char *s, size_t len);

/* Append `s` with & < > " ' escaped as entities.  0 or SLUICE_ENOMEM. */
int s3_xml_escape(sluice_buf *out, const char *s);

/* One object of a listing.  Strings owned by the page. */
typedef struct s3_object_info {
	char *key;
	uint64_t size;
} s3_object_info;

/* One page of ListObjectsV2. */
typedef struct s3_list_page {
	s3_object_info *objects;
	size_t count;
	char **prefixes; /* CommonPrefixes when a delimiter was given */
	size_t nprefixes;
	int truncated;    /* IsTruncated */
	char *next_token; /* NextContinuationToken, NULL when none */
} s3_list_page;

/*
 * Parse a ListBucketResult document into `page` (which must be zeroed or
 * released).  Returns 0, SLUICE_ENOMEM, or SLUICE_ECORRUPT (message names
 * the problem) when it is not a listing.
 */
int s3_xml_parse_list(s3_list_page *page, const char *doc, size_t len);

/* Free what a page owns and zero it.  NULL-safe. */
void s3_list_page_release(s3_list_page *page);

#endif
