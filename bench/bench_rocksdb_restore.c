/*
 * Upload and restore bandwidth of the rocksdb backend through file
 * checkpoint storage (BENCHMARKS.md W5 async write, W7 restore 1 -> 1),
 * each against a plain baseline on the same bytes in the same run:
 *  - upload of a full incremental checkpoint (parallel, per-file fsync by
 *    the storage) vs one sequential write + fsync of the same byte count;
 *  - restore (parallel download with checksum verification + open) vs a
 *    sequential read of the same files.
 * Files are freshly written, so both read sides hit the page cache.
 * Usage: bench_rocksdb_restore [keys] [value-bytes]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sluice/sys/rocksdb.h"
#include "sluice/sys/storage.h"

#define JOB "00000000000000000000000000000bb7"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fill(sluice_backend *b, int64_t keys, size_t vn)
{
	sluice_backend_state *st;
	uint8_t *v = malloc(vn), k[8];
	uint64_t seed = 88172645463325252ull;
	int64_t i;
	size_t j;

	if (!v || b->register_state(b, "w7", SLUICE_SHAPE_FLAT, &st) < 0)
		return -1;
	for (i = 0; i < keys; i++) {
		sluice_state_key key = {
			(int32_t)(i % 128), 0, {k, 8}, {NULL, 0}};

		for (j = 0; j < 8; j++)
			k[j] = (uint8_t)((uint64_t)i >> (56 - 8 * j));
		for (j = 0; j < vn; j++) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			v[j] = (uint8_t)seed;
		}
		if (b->put(b, st, &key, SLUICE_SLICE(v, vn)) < 0)
			return -1;
	}
	free(v);
	return 0;
}

/* Sequential write + fsync of `bytes` into `path`: seconds. */
static double seq_write(const char *path, uint64_t bytes)
{
	static char buf[1 << 20];
	double t0 = now_s();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -1;
	memset(buf, 0x5a, sizeof(buf));
	while (bytes > 0) {
		size_t n = bytes < sizeof(buf) ? (size_t)bytes : sizeof(buf);

		if (write(fd, buf, n) != (ssize_t)n)
			return -1;
		bytes -= n;
	}
	fsync(fd);
	close(fd);
	unlink(path);
	return now_s() - t0;
}

/* Sequential read of every FILE handle of h: seconds. */
static double seq_read(const sluice_incremental_handle *h)
{
	static char buf[1 << 20];
	double t0 = now_s();
	uint32_t i;

	for (i = 0; i < h->num_shared + h->num_private; i++) {
		const sluice_stream_handle *fh =
			i < h->num_shared
				? h->shared_files[i].handle
				: h->private_files[i - h->num_shared].handle;
		int fd;

		if (fh->kind != SLUICE_HANDLE_FILE)
			continue;
		if ((fd = open(fh->path, O_RDONLY)) < 0)
			return -1;
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	int64_t keys = argc > 1 ? atoll(argv[1]) : 500000;
	size_t vn = argc > 2 ? (size_t)atoll(argv[2]) : 200;
	const char *tmp = getenv("TMPDIR");
	char dir[256], probe[300], cmd[300];
	sluice_storage_options so;
	sluice_checkpoint_storage *cs = NULL;
	sluice_location *loc = NULL;
	sluice_rocksdb_storage_ctx ctx;
	sluice_rocksdb_transfer t;
	sluice_rocksdb_options o;
	sluice_rocksdb_snapshot *s;
	sluice_incremental_handle *h = NULL, *hs[1];
	sluice_backend *b = NULL, *back = NULL;
	double t_up, t_w, t_r, t_rd;

	snprintf(dir, sizeof(dir), "%s/rdbw7XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	sluice_storage_options_init(&so);
	so.checkpoint_dir = dir;
	sluice_rocksdb_options_init(&o);
	o.max_parallelism = 128;
	if (sluice_checkpoint_storage_new(&cs, &so, JOB) < 0 ||
	    sluice_checkpoint_location_new(&loc, cs, 1) < 0 ||
	    sluice_backend_rocksdb_new(&b, &o) < 0 || fill(b, keys, vn) < 0)
		goto fail;
	ctx.loc = loc;
	ctx.st = sluice_checkpoint_storage_backend(cs);
	ctx.dir = sluice_location_dir(loc);
	sluice_rocksdb_transfer_storage(&t, &ctx);
	if (sluice_rocksdb_snapshot_sync(
		    &s, b, 1, SLUICE_ROCKSDB_CHECKPOINT, 0, 128) < 0)
		goto fail;
	t_up = now_s();
	if (sluice_rocksdb_snapshot_upload(&h, s, &t, SLUICE_SLICE("m", 1)) < 0)
		goto fail;
	t_up = now_s() - t_up;
	sluice_rocksdb_snapshot_free(s);
	snprintf(probe, sizeof(probe), "%s/seq-write", dir);
	t_w = seq_write(probe, h->checkpointed_size);
	hs[0] = h;
	o.restore = hs;
	o.num_restore = 1;
	o.restore_start = 0;
	o.restore_end = 127;
	o.transfer = &t;
	t_r = now_s();
	if (sluice_backend_rocksdb_new(&back, &o) < 0)
		goto fail;
	t_r = now_s() - t_r;
	t_rd = seq_read(h);
	printf("{\"workload\":\"W5-rocksdb-upload\",\"bytes\":%llu,"
	       "\"bytes_per_sec\":%.0f,\"baseline\":\"sequential-write-fsync\","
	       "\"baseline_bytes_per_sec\":%.0f,\"ratio\":%.3f}\n",
	       (unsigned long long)h->checkpointed_size,
	       (double)h->checkpointed_size / t_up,
	       (double)h->checkpointed_size / t_w, t_w / t_up);
	printf("{\"workload\":\"W7-rocksdb-restore-1-1\",\"bytes\":%llu,"
	       "\"bytes_per_sec\":%.0f,\"baseline\":\"sequential-read\","
	       "\"baseline_bytes_per_sec\":%.0f,\"ratio\":%.3f}\n",
	       (unsigned long long)h->checkpointed_size,
	       (double)h->checkpointed_size / t_r,
	       (double)h->checkpointed_size / t_rd, t_rd / t_r);
	back->free(back);
	b->free(b);
	sluice_incremental_handle_free(h);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
fail:
	fprintf(stderr, "bench_rocksdb_restore: %s\n",
		sluice_error_last()->message);
	return 1;
}
