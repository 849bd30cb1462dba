/*
 * Checkpoint cost of the rocksdb backend (BENCHMARKS.md W5, scaled): a
 * value state of N keys with V-byte values, loaded and fully compacted
 * (the settled shape of a long-running job's database), a first
 * incremental checkpoint (uploads everything), then rounds of "change 1 %
 * of the keys, checkpoint, confirm".  Reports the bytes each incremental
 * checkpoint uploads relative to the full size (goal <= 5 %) and the
 * synchronous phase (native checkpoint: flush + hard links; goal <= 50 ms).
 * Uploads go to memory streams, so only byte counts and the sync pause are
 * meaningful here, not upload bandwidth.
 * Values are pseudo-random (incompressible).
 * Usage: bench_rocksdb_checkpoint [keys] [value-bytes] [rounds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state/rocksdb/rdb.h"

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int t_out(void *ctx, int shared, const char *name, sluice_ostream **out)
{
	(void)ctx;
	(void)shared;
	return sluice_mem_ostream_new(out, name);
}

static int t_in(void *ctx, const sluice_stream_handle *h, sluice_istream **out)
{
	(void)ctx;
	return sluice_mem_istream_new(out, h->data, (size_t)h->size);
}

static int
put_key(sluice_rdb *db,
	sluice_rdb_cf *cf,
	sluice_buf *k,
	int64_t i,
	const uint8_t *v,
	size_t vn)
{
	uint8_t key[8];
	int b;

	for (b = 0; b < 8; b++)
		key[b] = (uint8_t)((uint64_t)i >> (56 - 8 * b));
	if (sluice__rdb_key_encode(
		    k, 1, (int32_t)(i % 128), SLUICE_SLICE(key, 8),
		    SLUICE_SLICE(NULL, 0)) < 0)
		return -1;
	return sluice__rdb_put(
		db, cf, SLUICE_SLICE(k->ptr, k->len), SLUICE_SLICE(v, vn));
}

/* Fill v with pseudo-random bytes (incompressible, like real state). */
static void scramble(uint8_t *v, size_t n, uint64_t *seed)
{
	size_t j;

	for (j = 0; j < n; j++) {
		*seed ^= *seed << 13;
		*seed ^= *seed >> 7;
		*seed ^= *seed << 17;
		v[j] = (uint8_t)*seed;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int checkpoint(
	sluice_rdb *db,
	const sluice_rdb_transfer *t,
	int64_t id,
	int64_t *sync_ns,
	uint64_t *bytes)
{
	sluice_slice meta = SLUICE_SLICE("meta", 4);
	sluice_rdb_snapshot *s;
	sluice_incremental_handle *h;
	int64_t t0 = now_ns();

	if (sluice__rdb_snapshot_sync(
		    &s, db, id, SLUICE_RDB_FORWARD_BACKWARD, 0, 128) < 0)
		return -1;
	*sync_ns = now_ns() - t0;
	if (sluice__rdb_snapshot_async(&h, s, t, &meta) < 0) {
		sluice__rdb_snapshot_free(s);
		return -1;
	}
	*bytes = h->checkpointed_size;
	sluice_incremental_handle_free(h);
	sluice__rdb_snapshot_free(s);
	sluice__rdb_notify_complete(db, id);
	return 0;
}

int main(int argc, char **argv)
{
	int64_t keys = argc > 1 ? atoll(argv[1]) : 500000;
	size_t vn = argc > 2 ? (size_t)atoll(argv[2]) : 200;
	int rounds = argc > 3 ? atoi(argv[3]) : 5, r;
	sluice_rdb_transfer t = {NULL, t_out, t_in, NULL, NULL};
	sluice_rdb_options o;
	sluice_rdb *db;
	sluice_rdb_cf *cf;
	sluice_buf k = SLUICE_BUF_INIT;
	uint8_t *v = malloc(vn);
	int64_t i, *sync = calloc((size_t)rounds + 1, sizeof(int64_t));
	uint64_t full = 0, inc, inc_max = 0, inc_sum = 0, seed = 1;

	sluice__rdb_options_init(&o);
	if (!v || !sync || sluice__rdb_open(&db, &o, "bench", 128) < 0 ||
	    sluice__rdb_cf(&cf, db, "w5", SLUICE_RDB_VALUE, 0) < 0)
		goto fail;
	for (i = 0; i < keys; i++) {
		scramble(v, vn, &seed);
		if (put_key(db, cf, &k, i, v, vn) < 0)
			goto fail;
	}
	/* settle the load: what a long-running job's database looks like
	 * (data in the bottom levels, no compaction of the load pending);
	 * otherwise the first rounds upload the load's own compactions */
	if (sluice__rdb_compact(db) < 0)
		goto fail;
	if (checkpoint(db, &t, 1, &sync[0], &full) < 0)
		goto fail;
	for (r = 1; r <= rounds; r++) {
		for (i = 0; i < keys / 100; i++) { /* 1 % of the keys */
			seed = seed * 6364136223846793005ull +
			       1442695040888963407ull;
			scramble(v, vn, &seed);
			if (put_key(db, cf, &k,
				    (int64_t)((seed >> 17) % (uint64_t)keys), v,
				    vn) < 0)
				goto fail;
		}
		if (checkpoint(db, &t, 1 + r, &sync[r], &inc) < 0)
			goto fail;
		inc_sum += inc;
		if (inc > inc_max)
			inc_max = inc;
	}
	qsort(sync, (size_t)rounds + 1, sizeof(*sync), cmp_i64);
	printf("{\"workload\":\"W5-rocksdb-incremental\",\"keys\":%lld,"
	       "\"value_bytes\":%zu,\"full_bytes\":%llu,"
	       "\"incremental_bytes_mean\":%.0f,\"incremental_bytes_max\":%llu,"
	       "\"ratio_mean\":%.4f,\"ratio_max\":%.4f,"
	       "\"sync_ms_median\":%.2f,\"sync_ms_max\":%.2f}\n",
	       (long long)keys, vn, (unsigned long long)full,
	       (double)inc_sum / rounds, (unsigned long long)inc_max,
	       (double)inc_sum / rounds / (double)full,
	       (double)inc_max / (double)full, (double)sync[rounds / 2] / 1e6,
	       (double)sync[rounds] / 1e6);
	fprintf(stderr,
		"full %llu B; 1%% change uploads mean %.2f%% max %.2f%% of "
		"full; sync phase median %.2f ms max %.2f ms\n",
		(unsigned long long)full,
		100.0 * (double)inc_sum / rounds / (double)full,
		100.0 * (double)inc_max / (double)full,
		(double)sync[rounds / 2] / 1e6, (double)sync[rounds] / 1e6);
	sluice__rdb_free(db);
	sluice_buf_release(&k);
	free(v);
	free(sync);
	return 0;
fail:
	fprintf(stderr, "bench_rocksdb_checkpoint: %s\n",
		sluice_error_last()->message);
	return 1;
}
