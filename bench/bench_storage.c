/*
 * Checkpoint storage throughput (part of W5/W7): a state stream writing N
 * MB to the file storage (buffering, xxh3 checksum, fsync on close) and
 * reading it back verified (sluice_handle_read), each against a plain
 * write()+fsync / read() of the same bytes in the same run; plus the
 * latency of committing a `_metadata` (temp file, fsync, rename, directory
 * fsync).  Usage: bench_storage [DIR] [MB] [WRITE-BUFFER-BYTES]
 * (write buffer default 4096, i.e. the effective 20480 of the defaults).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "sluice/sys/metadata.h"
#include "sluice/sys/storage.h"

#define ROUNDS 5
#define JOB    "0123456789abcdef0123456789abcdef"

static uint8_t *data;

static double raw_write(const char *path, size_t bytes)
{
	double t0 = bench_now();
	size_t done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	while (fd >= 0 && done < bytes) {
		ssize_t n = write(fd, data + done, bytes - done);
		if (n <= 0)
			exit(1);
		done += (size_t)n;
	}
	if (fd < 0 || fsync(fd))
		exit(1);
	close(fd);
	return (double)bytes / (bench_now() - t0) / 1e6;
}

static double raw_read(const char *path, size_t bytes)
{
	uint8_t *buf = malloc(bytes);
	double t0 = bench_now();
	size_t done = 0;
	int fd = open(path, O_RDONLY);

	while (fd >= 0 && buf && done < bytes) {
		ssize_t n = read(fd, buf + done, bytes - done);
		if (n <= 0)
			exit(1);
		done += (size_t)n;
	}
	if (fd < 0 || !buf)
		exit(1);
	close(fd);
	free(buf);
	return (double)bytes / (bench_now() - t0) / 1e6;
}

/* Stream `bytes` in writes of `chunk`; returns MB/s, *h the handle. */
static double stream_write(
	sluice_location *loc,
	size_t bytes,
	size_t chunk,
	sluice_stream_handle **h)
{
	double t0 = bench_now();
	sluice_ostream *os;
	size_t off;

	if (sluice_location_open_stream(&os, loc, SLUICE_SCOPE_EXCLUSIVE) < 0)
		exit(1);
	for (off = 0; off < bytes; off += chunk)
		if (sluice_ostream_write(
			    os, data + off,
			    bytes - off < chunk ? bytes - off : chunk) < 0)
			exit(1);
	if (sluice_ostream_close(os, h) < 0)
		exit(1);
	return (double)bytes / (bench_now() - t0) / 1e6;
}

static double stream_read(sluice_storage *st, const sluice_stream_handle *h)
{
	double t0 = bench_now();
	uint8_t *back;
	size_t len;

	if (sluice_handle_read(&back, &len, st, NULL, h) < 0)
		exit(1);
	sluice_free_bytes(back);
	return (double)len / (bench_now() - t0) / 1e6;
}

static double stream_verify(sluice_storage *st, const sluice_stream_handle *h)
{
	double t0 = bench_now();

	if (sluice_handle_verify(st, NULL, h) < 0)
		exit(1);
	return (double)h->size / (bench_now() - t0) / 1e6;
}

static double commit_ms(sluice_checkpoint_storage *cs, int64_t id)
{
	sluice_checkpoint_meta *m;
	sluice_operator_state *op;
	sluice_location *loc;
	double t0;
	int i;

	if (sluice_checkpoint_location_new(&loc, cs, id) < 0 ||
	    sluice_checkpoint_meta_new(&m, id) < 0)
		exit(1);
	for (i = 0; i < 20; i++)
		if (sluice_checkpoint_meta_add_operator(
			    &op, m, "op", "op", 8, 128) < 0)
			exit(1);
	t0 = bench_now();
	if (sluice_location_finalize(loc, m) < 0)
		exit(1);
	t0 = (bench_now() - t0) * 1e3;
	sluice_checkpoint_meta_free(m);
	sluice_location_free(loc);
	return t0;
}

static void
line(const char *workload,
     double v,
     double s,
     double base,
     double sb,
     const char *unit)
{
	printf("{\"workload\":\"%s\",\"%s\":%.1f,\"spread\":%.3f,\"baseline_%"
	       "s\":%.1f,"
	       "\"baseline_spread\":%.3f,\"ratio\":%.3f}\n",
	       workload, unit, v, s, unit, base, sb, v / base);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	size_t bytes = (argc > 2 ? (size_t)atol(argv[2]) : 256) << 20, i;
	double sv[ROUNDS], s7, msv;
	double sw[ROUNDS], ss[ROUNDS], rw[ROUNDS], sr[ROUNDS], rr[ROUNDS],
		cm[ROUNDS];
	double s1, s2, s3, s4, s5, s6, msw, mss, mrw, msr, mrr, mcm;
	sluice_storage_options o;
	sluice_checkpoint_storage *cs;
	sluice_location *loc;
	sluice_stream_handle *h = NULL;
	char base[4096], raw[4200];
	uint64_t seed = 42;
	int r;

	snprintf(
		base, sizeof(base), "%s/sluice-bench-storage.%d", dir,
		(int)getpid());
	snprintf(raw, sizeof(raw), "%s.raw", base);
	if (!(data = malloc(bytes)))
		return 1;
	for (i = 0; i + 8 <= bytes; i += 8) {
		uint64_t v = bench_rand(&seed);
		memcpy(data + i, &v, 8);
	}
	sluice_storage_options_init(&o);
	o.checkpoint_dir = base;
	if (argc > 3)
		o.write_buffer_size = (uint64_t)atol(argv[3]);
	if (sluice_checkpoint_storage_new(&cs, &o, JOB) < 0 ||
	    sluice_checkpoint_location_new(&loc, cs, 1) < 0)
		return 1;
	stream_write(loc, bytes, 1 << 20, &h); /* warm-up */
	sluice_stream_handle_free(h);
	for (r = 0; r < ROUNDS; r++) {
		if (r %
		    2) { /* alternate the order: neither always goes first */
			sw[r] = stream_write(loc, bytes, 1 << 20, &h);
			rw[r] = raw_write(raw, bytes);
		} else {
			rw[r] = raw_write(raw, bytes);
			sw[r] = stream_write(loc, bytes, 1 << 20, &h);
		}
		rr[r] = raw_read(raw, bytes);
		sr[r] = stream_read(sluice_checkpoint_storage_backend(cs), h);
		sv[r] = stream_verify(sluice_checkpoint_storage_backend(cs), h);
		unlink(h->path);
		sluice_stream_handle_free(h);
		ss[r] = stream_write(loc, bytes, 100, &h); /* small records */
		unlink(h->path);
		sluice_stream_handle_free(h);
		cm[r] = commit_ms(cs, 2 + r);
	}
	msw = bench_median(sw, ROUNDS, &s1);
	mss = bench_median(ss, ROUNDS, &s2);
	mrw = bench_median(rw, ROUNDS, &s3);
	msr = bench_median(sr, ROUNDS, &s4);
	mrr = bench_median(rr, ROUNDS, &s5);
	mcm = bench_median(cm, ROUNDS, &s6);
	msv = bench_median(sv, ROUNDS, &s7);
	line("W5-stream-write-1MiB-chunks", msw, s1, mrw, s3, "mb_per_sec");
	line("W5-stream-write-100B-records", mss, s2, mrw, s3, "mb_per_sec");
	line("W7-handle-read-verified", msr, s4, mrr, s5, "mb_per_sec");
	line("W7-handle-verify-streaming", msv, s7, mrr, s5, "mb_per_sec");
	printf("{\"workload\":\"W5-metadata-commit\",\"ms\":%.3f,\"spread\":%."
	       "3f}\n",
	       mcm, s6);
	printf("\n%-30s %10s %10s %7s\n", "workload", "MB/s", "baseline",
	       "ratio");
	printf("%-30s %10.0f %10.0f %7.2f\n", "stream write, 1 MiB writes", msw,
	       mrw, msw / mrw);
	printf("%-30s %10.0f %10.0f %7.2f\n", "stream write, 100 B writes", mss,
	       mrw, mss / mrw);
	printf("%-30s %10.0f %10.0f %7.2f\n", "verified read", msr, mrr,
	       msr / mrr);
	printf("%-30s %10.0f %10.0f %7.2f\n", "verify (1 MiB buffer)", msv, mrr,
	       msv / mrr);
	printf("%-30s %10.3f ms\n", "_metadata commit", mcm);
	unlink(raw);
	sluice_location_free(loc);
	sluice_storage_remove_tree(sluice_checkpoint_storage_backend(cs), base);
	sluice_checkpoint_storage_free(cs);
	free(data);
	return 0;
}
