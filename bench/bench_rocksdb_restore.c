/*
 * Upload and restore bandwidth of the rocksdb backend through file
 * checkpoint storage (BENCHMARKS.md W5 async write, W7 restore and
 * rescale), each against a plain baseline on the same bytes in the same
 * run:
 *  - upload of a full incremental checkpoint (parallel, per-file fsync by
 *    the storage) vs one sequential write + fsync of the same byte count;
 *  - restore 1 -> 1 (link or download with checksum verification, open)
 *    vs a sequential read of the same files;
 *  - rescale 1 -> 2 (each new subtask restores the one handle and clips to
 *    its half; the slower of the two) and 2 -> 1 (two handles of half the
 *    keys each merged into one), as a multiple of the 1 -> 1 restore of
 *    the same keys (goal <= 1.5).
 * Files are freshly written, so every read side hits the page cache.  One
 * warm-up round, then ROUNDS measured rounds: medians and min..max.
 * Usage: bench_rocksdb_restore [keys] [value-bytes] [rounds]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sluice/sys/rocksdb.h"
#include "sluice/sys/storage.h"

#define JOB        "00000000000000000000000000000bb7"
#define MAX_ROUNDS 32

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keys i with key group i % 128 in [kg_lo, kg_hi]: pseudo-random values
 * from a fixed seed. */
static int
fill(sluice_backend *b, int64_t keys, size_t vn, int32_t kg_lo, int32_t kg_hi)
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

		for (j = 0; j < vn; j++) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			v[j] = (uint8_t)seed;
		}
		if (key.key_group < kg_lo || key.key_group > kg_hi)
			continue;
		for (j = 0; j < 8; j++)
			k[j] = (uint8_t)((uint64_t)i >> (56 - 8 * j));
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

typedef struct bench {
	sluice_checkpoint_storage *cs;
	sluice_location *loc;
	sluice_rocksdb_storage_ctx ctx;
	sluice_rocksdb_transfer t;
	sluice_rocksdb_options o;
	int64_t keys;
	size_t vn;
	int64_t next_id;
} bench;

/* A backend holding key groups [lo, hi] of the keys, checkpointed in full
 * through file storage; upload seconds in *t_up. */
static int checkpoint(
	bench *w,
	int32_t lo,
	int32_t hi,
	sluice_incremental_handle **h,
	double *t_up)
{
	sluice_backend *b = NULL;
	sluice_rocksdb_snapshot *s = NULL;
	int rc;

	if (sluice_backend_rocksdb_new(&b, &w->o) < 0 ||
	    fill(b, w->keys, w->vn, lo, hi) < 0 ||
	    sluice_rocksdb_snapshot_sync(
		    &s, b, w->next_id++, SLUICE_ROCKSDB_CHECKPOINT, lo,
		    hi - lo + 1) < 0)
		return -1;
	*t_up = now_s();
	rc = sluice_rocksdb_snapshot_upload(h, s, &w->t, SLUICE_SLICE("m", 1));
	*t_up = now_s() - *t_up;
	sluice_rocksdb_snapshot_free(s);
	b->free(b);
	return rc;
}

/* Restore key groups [lo, hi] from hs: seconds, < 0 on failure. */
static double
restore(bench *w,
	sluice_incremental_handle **hs,
	size_t n,
	int32_t lo,
	int32_t hi)
{
	sluice_rocksdb_options o = w->o;
	sluice_backend *b = NULL;
	double t0 = now_s(), t;

	o.restore = hs;
	o.num_restore = n;
	o.restore_start = lo;
	o.restore_end = hi;
	o.transfer = &w->t;
	if (sluice_backend_rocksdb_new(&b, &o) < 0)
		return -1;
	t = now_s() - t0;
	b->free(b);
	return t;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorted in place). */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
report(const char *workload,
       uint64_t bytes,
       const char *baseline,
       double *ratio,
       int n,
       const char *extra)
{
	double m = median(ratio, n);

	printf("{\"workload\":\"%s\",\"bytes\":%llu,\"baseline\":\"%s\","
	       "\"ratio\":%.3f,\"ratio_min\":%.3f,\"ratio_max\":%.3f,"
	       "\"rounds\":%d%s}\n",
	       workload, (unsigned long long)bytes, baseline, m, ratio[0],
	       ratio[n - 1], n, extra);
}

static uint64_t total_bytes(const sluice_incremental_handle *h)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < h->num_shared; i++)
		n += h->shared_files[i].handle->size;
	for (i = 0; i < h->num_private; i++)
		n += h->private_files[i].handle->size;
	return n;
}

/* One round: 1->1 against a sequential read, 1->2 and 2->1 against the
 * 1->1 time.  Ratios into r11[i], r12[i], r21[i]. */
static int round_of(
	bench *w,
	sluice_incremental_handle *full,
	sluice_incremental_handle **half,
	int i,
	double *r11,
	double *r12,
	double *r21,
	double *bps)
{
	double t11, ta, tb, t21, tr;

	if ((t11 = restore(w, &full, 1, 0, 127)) < 0 ||
	    (ta = restore(w, &full, 1, 0, 63)) < 0 ||
	    (tb = restore(w, &full, 1, 64, 127)) < 0 ||
	    (t21 = restore(w, half, 2, 0, 127)) < 0)
		return -1;
	tr = seq_read(full);
	r11[i] = tr / t11;
	r12[i] = (ta > tb ? ta : tb) / t11;
	r21[i] = t21 / t11;
	bps[i] = (double)total_bytes(full) / t11;
	return 0;
}

int main(int argc, char **argv)
{
	bench w;
	const char *tmp = getenv("TMPDIR");
	char dir[256], probe[300], cmd[300], extra[128];
	sluice_storage_options so;
	sluice_incremental_handle *full = NULL, *half[2] = {NULL, NULL};
	double t_up, t_w, tu, r11[MAX_ROUNDS], r12[MAX_ROUNDS], r21[MAX_ROUNDS];
	double bps[MAX_ROUNDS], up[1];
	int rounds, i;

	memset(&w, 0, sizeof(w));
	w.keys = argc > 1 ? atoll(argv[1]) : 500000;
	w.vn = argc > 2 ? (size_t)atoll(argv[2]) : 200;
	rounds = argc > 3 ? atoi(argv[3]) : 5;
	if (rounds < 1 || rounds > MAX_ROUNDS)
		rounds = 5;
	w.next_id = 1;
	snprintf(dir, sizeof(dir), "%s/rdbw7XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	sluice_storage_options_init(&so);
	so.checkpoint_dir = dir;
	sluice_rocksdb_options_init(&w.o);
	w.o.max_parallelism = 128;
	if (sluice_checkpoint_storage_new(&w.cs, &so, JOB) < 0 ||
	    sluice_checkpoint_location_new(&w.loc, w.cs, 1) < 0)
		goto fail;
	w.ctx.loc = w.loc;
	w.ctx.st = sluice_checkpoint_storage_backend(w.cs);
	w.ctx.dir = sluice_location_dir(w.loc);
	sluice_rocksdb_transfer_storage(&w.t, &w.ctx);
	if (checkpoint(&w, 0, 127, &full, &t_up) < 0 ||
	    checkpoint(&w, 0, 63, &half[0], &tu) < 0 ||
	    checkpoint(&w, 64, 127, &half[1], &tu) < 0)
		goto fail;
	snprintf(probe, sizeof(probe), "%s/seq-write", dir);
	t_w = seq_write(probe, full->checkpointed_size);
	up[0] = t_w / t_up;
	snprintf(
		extra, sizeof(extra), ",\"bytes_per_sec\":%.0f",
		(double)full->checkpointed_size / t_up);
	report("W5-rocksdb-upload", full->checkpointed_size,
	       "sequential-write-fsync", up, 1, extra);
	for (i = -1; i < rounds; i++) /* round -1: warm-up */
		if (round_of(
			    &w, full, half, i < 0 ? 0 : i, r11, r12, r21, bps) <
		    0)
			goto fail;
	snprintf(
		extra, sizeof(extra), ",\"bytes_per_sec\":%.0f",
		median(bps, rounds));
	report("W7-rocksdb-restore-1-1", total_bytes(full), "sequential-read",
	       r11, rounds, extra);
	report("W7-rocksdb-rescale-1-2", total_bytes(full),
	       "restore-1-1 (time ratio)", r12, rounds, "");
	report("W7-rocksdb-rescale-2-1",
	       total_bytes(half[0]) + total_bytes(half[1]),
	       "restore-1-1 (time ratio)", r21, rounds, "");
	sluice_incremental_handle_free(full);
	sluice_incremental_handle_free(half[0]);
	sluice_incremental_handle_free(half[1]);
	sluice_location_free(w.loc);
	sluice_checkpoint_storage_free(w.cs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
fail:
	fprintf(stderr, "bench_rocksdb_restore: %s\n",
		sluice_error_last()->message);
	return 1;
}
