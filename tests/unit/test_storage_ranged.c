/*
 * The ranged reader shared by the S3 and WebHDFS storages
 * (src/storage/ranged.c): sequential reads double the range up to the
 * maximum, a seek elsewhere starts again at the minimum, every byte comes
 * back in order, a file shorter than its size and a seek past the end
 * are corruption errors naming the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/common.h"
#include "storage/ranged.h"

typedef struct remote {
	uint8_t data[1000];
	uint64_t have; /* bytes the server really has */
	uint64_t lens[64];
	int fetches;
} remote;

static int fetch(void *ctx, uint64_t off, uint64_t len, sluice_buf *out)
{
	remote *r = ctx;

	r->lens[r->fetches++] = len;
	if (off >= r->have)
		return 0;
	if (off + len > r->have)
		len = r->have - off;
	return sluice_buf_put(out, r->data + off, (size_t)len);
}

static void init(remote *r, sluice__ranged *rd, uint64_t have)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < sizeof(r->data); i++)
		r->data[i] = (uint8_t)(i * 7);
	r->have = have;
	sluice__ranged_init(rd, 1000, 10, 80, fetch, r, "s3://b/k");
}

static void test_ranged__sequential_reads_grow_the_range(void **st)
{
	remote r;
	sluice__ranged rd;
	uint8_t buf[1000], b[7];
	size_t off = 0, got;

	(void)st;
	init(&r, &rd, 1000);
	while (off < sizeof(buf)) {
		assert_int_equal(
			sluice__ranged_read(&rd, b, sizeof(b), &got), 0);
		assert_true(got > 0);
		memcpy(buf + off, b, got);
		off += got;
	}
	assert_memory_equal(buf, r.data, sizeof(buf));
	assert_int_equal(sluice__ranged_read(&rd, b, sizeof(b), &got), 0);
	assert_int_equal(got, 0); /* end of file */
	assert_int_equal(r.lens[0], 10);
	assert_int_equal(r.lens[1], 20);
	assert_int_equal(r.lens[2], 40);
	assert_int_equal(r.lens[3], 80);
	assert_int_equal(r.lens[4], 80); /* capped */
	/* a seek away from the chunk starts small again */
	assert_int_equal(sluice__ranged_seek(&rd, 3), 0);
	assert_int_equal(sluice__ranged_read(&rd, b, 1, &got), 0);
	assert_int_equal(b[0], r.data[3]);
	assert_int_equal(r.lens[r.fetches - 1], 10);
	sluice__ranged_release(&rd);
}

static void test_ranged__short_file_and_bad_seek_are_corruption(void **st)
{
	remote r;
	sluice__ranged rd;
	uint8_t b[64];
	size_t got;

	(void)st;
	init(&r, &rd, 500); /* the server lost the second half */
	assert_int_equal(sluice__ranged_seek(&rd, 600), 0);
	assert_int_equal(
		sluice__ranged_read(&rd, b, sizeof(b), &got), SLUICE_ECORRUPT);
	assert_non_null(strstr(sluice_error_last()->message, "s3://b/k"));
	assert_int_equal(sluice__ranged_seek(&rd, 1001), SLUICE_ECORRUPT);
	assert_non_null(strstr(sluice_error_last()->message, "past the end"));
	assert_int_equal(sluice__ranged_seek(&rd, 1000), 0);
	assert_int_equal(sluice__ranged_read(&rd, b, sizeof(b), &got), 0);
	assert_int_equal(got, 0);
	sluice__ranged_release(&rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranged__sequential_reads_grow_the_range),
		cmocka_unit_test(
			test_ranged__short_file_and_bad_seek_are_corruption),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
