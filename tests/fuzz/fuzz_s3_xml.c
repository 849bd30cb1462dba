/*
 * libFuzzer target for the S3 client's parsers of untrusted text: the XML
 * reader (ListObjectsV2 pages, entity decoding) and the s3:// / obs://
 * location parser with entropy resolution.  Any input must either parse or
 * fail with a code, never read out of bounds or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage/s3/uri.h"
#include "storage/s3/xml.h"
#include "util/alloc.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	s3_list_page page;
	sluice_buf b = SLUICE_BUF_INIT;
	char *s, *u;
	s3_uri uri;

	if (s3_xml_parse_list(&page, (const char *)data, size) == 0)
		s3_list_page_release(&page);
	sluice__free(s3_xml_unescape((const char *)data, size));
	if (!(s = sluice__malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (s3_xml_text(&u, s, s + size, "Key") == 0)
		sluice__free(u);
	if (s3_uri_parse(&uri, s) == 0) {
		s3_entropy_resolve(&b, uri.prefix, "_entropy_", 4, 1, size);
		s3_entropy_resolve(&b, uri.prefix, "_entropy_", 4, 0, size);
		s3_uri_release(&uri);
	}
	sluice_buf_release(&b);
	sluice__free(s);
	return 0;
}
