/*
 * Minimal reader for S3's flat XML responses (see xml.h).  Owns entity
 * decoding and the ListObjectsV2 page structure.
 */
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/error.h"
#include "xml.h"

static const char *
find_bytes(const char *p, const char *end, const char *s, size_t n)
{
	if (n == 0 || p >= end)
		return NULL;
	for (; (size_t)(end - p) >= n; p++) {
		p = memchr(p, s[0], (size_t)(end - p) - n + 1);
		if (!p)
			return NULL;
		if (memcmp(p, s, n) == 0)
			return p;
	}
	return NULL;
}

int s3_xml_find(
	const char *p,
	const char *end,
	const char *tag,
	sluice_slice *inner,
	const char **after)
{
	char open[80], close[80];
	size_t tl = strlen(tag);
	const char *a, *b;

	if (tl + 4 > sizeof(open))
		return 0;
	open[0] = '<';
	memcpy(open + 1, tag, tl);
	open[tl + 1] = '>';
	close[0] = '<';
	close[1] = '/';
	memcpy(close + 2, tag, tl);
	close[tl + 2] = '>';
	if (!(a = find_bytes(p, end, open, tl + 2)))
		return 0;
	a += tl + 2;
	if (!(b = find_bytes(a, end, close, tl + 3)))
		return 0;
	inner->data = a;
	inner->len = (size_t)(b - a);
	if (after)
		*after = b + tl + 3;
	return 1;
}

/* Append the UTF-8 encoding of code point `cp` (invalid → '?'). */
static size_t put_utf8(char *o, unsigned long cp)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		o[0] = '?';
		return 1;
	}
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decode one entity at s[0] == '&'; returns bytes consumed, 0 if none. */
static size_t entity(char *o, size_t *olen, const char *s, size_t len)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
		{"amp;", '&'},
		{"lt;", '<'},
		{"gt;", '>'},
		{"quot;", '"'},
		{"apos;", '\''}};
	const char *semi = memchr(s, ';', len < 12 ? len : 12);
	char num[12];
	size_t i, n;

	if (!semi)
		return 0;
	n = (size_t)(semi - s) + 1;
	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (n - 1 == strlen(named[i].name) &&
		    memcmp(s + 1, named[i].name, n - 1) == 0) {
			o[(*olen)++] = named[i].c;
			return n;
		}
	if (n >= 4 && s[1] == '#') {
		int hex = s[2] == 'x' || s[2] == 'X';
		char *e;
		unsigned long cp;

		memcpy(num, s + 2 + hex, n - 3 - (size_t)hex);
		num[n - 3 - (size_t)hex] = '\0';
		cp = strtoul(num, &e, hex ? 16 : 10);
		if (*e || e == num)
			return 0;
		*olen += put_utf8(o + *olen, cp);
		return n;
	}
	return 0;
}

char *s3_xml_unescape(const char *s, size_t len)
{
	char *o = sluice__malloc(len + 1);
	size_t i = 0, n = 0, used;

	if (!o)
		return NULL;
	while (i < len) {
		if (s[i] == '&' && (used = entity(o, &n, s + i, len - i))) {
			i += used;
			continue;
		}
		o[n++] = s[i++];
	}
	o[n] = '\0';
	return o;
}

int s3_xml_text(char **out, const char *p, const char *end, const char *tag)
{
	sluice_slice in;

	*out = NULL;
	if (!s3_xml_find(p, end, tag, &in, NULL))
		return SLUICE_ENOTFOUND;
	if (!(*out = s3_xml_unescape(in.data, in.len)))
		return sluice__error_oom();
	return 0;
}

void s3_list_page_release(s3_list_page *page)
{
	size_t i;

	if (!page)
		return;
	for (i = 0; i < page->count; i++)
		sluice__free(page->objects[i].key);
	for (i = 0; i < page->nprefixes; i++)
		sluice__free(page->prefixes[i]);
	sluice__free(page->objects);
	sluice__free(page->prefixes);
	sluice__free(page->next_token);
	memset(page, 0, sizeof(*page));
}

static int add_object(s3_list_page *page, const char *p, const char *end)
{
	s3_object_info *o;
	char *size = NULL;
	int error;

	o = sluice__reallocarray(page->objects, page->count + 1, sizeof(*o));
	if (!o)
		return sluice__error_oom();
	page->objects = o;
	o += page->count;
	o->size = 0;
	if ((error = s3_xml_text(&o->key, p, end, "Key")) < 0)
		return error == SLUICE_ENOTFOUND
			       ? sluice__error_set(
					 SLUICE_ECORRUPT, SLUICE_ERRCLS_STORAGE,
					 "s3 listing: Contents entry "
					 "%zu has no Key",
					 page->count)
			       : error;
	page->count++;
	error = s3_xml_text(&size, p, end, "Size");
	if (error == SLUICE_ENOMEM)
		return error;
	if (size)
		o->size = strtoull(size, NULL, 10);
	sluice__free(size);
	return 0;
}

static int add_prefix(s3_list_page *page, const char *p, const char *end)
{
	char **v;
	int error;

	v = sluice__reallocarray(
		page->prefixes, page->nprefixes + 1, sizeof(*v));
	if (!v)
		return sluice__error_oom();
	page->prefixes = v;
	error = s3_xml_text(&v[page->nprefixes], p, end, "Prefix");
	if (error == 0)
		page->nprefixes++;
	return error == SLUICE_ENOTFOUND ? 0 : error;
}

int s3_xml_parse_list(s3_list_page *page, const char *doc, size_t len)
{
	const char *p = doc, *end = doc + len, *after;
	sluice_slice in;
	char *trunc = NULL;
	int error;

	memset(page, 0, sizeof(*page));
	if (!s3_xml_find(doc, end, "ListBucketResult", &in, NULL) &&
	    !find_bytes(doc, end, "<ListBucketResult", 17))
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STORAGE,
			"s3 listing: response is not a "
			"ListBucketResult (%zu bytes)",
			len);
	while (s3_xml_find(p, end, "Contents", &in, &after)) {
		if ((error = add_object(
			     page, in.data, (const char *)in.data + in.len)) <
		    0)
			goto fail;
		p = after;
	}
	p = doc;
	while (s3_xml_find(p, end, "CommonPrefixes", &in, &after)) {
		if ((error = add_prefix(
			     page, in.data, (const char *)in.data + in.len)) <
		    0)
			goto fail;
		p = after;
	}
	error = s3_xml_text(&trunc, doc, end, "IsTruncated");
	if (error == SLUICE_ENOMEM)
		goto fail;
	page->truncated = trunc && strcmp(trunc, "true") == 0;
	sluice__free(trunc);
	error = s3_xml_text(
		&page->next_token, doc, end, "NextContinuationToken");
	if (error == SLUICE_ENOMEM)
		goto fail;
	if (page->truncated && !page->next_token) {
		error = sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STORAGE,
			"s3 listing: truncated page without "
			"NextContinuationToken");
		goto fail;
	}
	return 0;
fail:
	s3_list_page_release(page);
	return error;
}

int s3_xml_escape(sluice_buf *out, const char *s)
{
	for (; *s; s++) {
		const char *e = NULL;

		switch (*s) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\'':
			e = "&apos;";
			break;
		default:
			break;
		}
		if (e)
			SLUICE_ERRCHECK(sluice_buf_put(out, e, strlen(e)));
		else
			SLUICE_ERRCHECK(sluice_buf_put_u8(out, (uint8_t)*s));
	}
	return 0;
}
