/*
 * S3 client throughput against a live S3 server: one object of N MiB
 * written with a single PUT, then with the streaming multipart upload
 * (parts in parallel), then read back whole and in 8 MiB ranged GETs.
 * Needs SLUICE_TEST_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY (e.g. from
 * `scripts/s3-server.sh env DIR`); exits 77 without them.
 *
 *   bench_s3_client [MiB=64] [threads=4] [part MiB=8]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/clock.h"
#include "storage/s3/client.h"
#include "util/buf.h"

#define MIB ((size_t)1024 * 1024)

static double now_s(void)
{
	return (double)sluice_clock_mono_ns(sluice_clock_system()) / 1e9;
}

static void report(const char *what, size_t bytes, double secs)
{
	printf("%-34s %8.1f MiB/s  (%.3f s)\n", what,
	       (double)bytes / (double)MIB / secs, secs);
}

static int die(const char *what)
{
	fprintf(stderr, "bench_s3_client: %s: %s\n", what,
		sluice_error_last()->message);
	return 1;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 64, n, off;
	s3_client_opts o = {0};
	s3_client *c = NULL;
	s3_upload *u = NULL;
	sluice_buf b = SLUICE_BUF_INIT;
	char bucket[64];
	uint8_t *data;
	double t;
	size_t i;

	o.endpoint = getenv("SLUICE_TEST_S3_ENDPOINT");
	o.access_key = getenv("SLUICE_TEST_S3_ACCESS_KEY");
	o.secret_key = getenv("SLUICE_TEST_S3_SECRET_KEY");
	o.region = getenv("SLUICE_TEST_S3_REGION");
	o.path_style = 1;
	o.upload_threads = argc > 2 ? atoi(argv[2]) : 4;
	o.part_size = (argc > 3 ? (size_t)atoi(argv[3]) : 8) * MIB;
	if (!o.endpoint) {
		fprintf(stderr, "SLUICE_TEST_S3_ENDPOINT not set: skipped\n");
		return 77;
	}
	n = mib * MIB;
	if (!(data = malloc(n)))
		return 1;
	for (i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	snprintf(bucket, sizeof(bucket), "sluice-bench-%ld", (long)getpid());
	if (s3_client_new(&c, &o) < 0 || s3_client_create_bucket(c, bucket) < 0)
		return die("setup");
	printf("%zu MiB to %s, %d threads, %zu MiB parts\n", mib, o.endpoint,
	       o.upload_threads, o.part_size / MIB);
	t = now_s();
	if (s3_client_put_object(c, bucket, "single", data, n) < 0)
		return die("single PUT");
	report("upload, single PUT", n, now_s() - t);
	t = now_s();
	if (s3_upload_new(&u, c, bucket, "multi") < 0)
		return die("upload");
	for (off = 0; off < n; off += MIB)
		if (s3_upload_write(u, data + off, MIB) < 0)
			return die("upload write");
	if (s3_upload_finish(u, NULL) < 0)
		return die("upload finish");
	report("upload, multipart (parallel parts)", n, now_s() - t);
	s3_upload_free(u);
	t = now_s();
	if (s3_client_get_object(c, &b, bucket, "multi", 0, UINT64_MAX) < 0)
		return die("GET");
	report("download, one GET", n, now_s() - t);
	if (b.len != n || memcmp(b.ptr, data, n) != 0)
		return fprintf(stderr, "bench_s3_client: data differs\n"), 1;
	sluice_buf_clear(&b);
	t = now_s();
	for (off = 0; off < n; off += 8 * MIB)
		if (s3_client_get_object(
			    c, &b, bucket, "single", off, 8 * MIB) < 0)
			return die("ranged GET");
	report("download, 8 MiB ranged GETs", n, now_s() - t);
	{
		const char *keys[] = {"single", "multi"};

		s3_client_delete_objects(c, bucket, keys, 2);
	}
	sluice_buf_release(&b);
	s3_client_free(c);
	free(data);
	return 0;
}
