/*
 * W0, machine calibration (bench/RESULTS.md): what this box does with no
 * sluice code in the way.  A plain open-addressing hash map (8-byte keys and
 * values, 500k keys, shuffled access), sequential write with fsync and
 * sequential read of the same file.  Other benchmarks print these beside
 * their ratios so a reader can tell a slow machine from a slow sluice.
 *
 * usage: bench_calibrate [DIR] [MB]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

#define NKEYS  500000
#define ROUNDS 5

typedef struct slot {
	uint64_t key; /* 0 = empty; keys are stored +1 */
	uint64_t val;
} slot;

static slot *table;
static size_t mask;

static slot *probe(uint64_t key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) & mask;

	while (table[i].key && table[i].key != key)
		i = (i + 1) & mask;
	return &table[i];
}

static double map_round(const uint64_t *keys, int put)
{
	double t0 = bench_now();
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		slot *s = probe(keys[i]);

		if (put) {
			s->key = keys[i];
			s->val = i;
		} else {
			sum += s->val;
		}
	}
	if (sum == 42)
		fputc(' ', stderr);
	return NKEYS / (bench_now() - t0);
}

static double disk_round(const char *path, size_t bytes, int write_mode)
{
	static char block[1 << 20];
	double t0 = bench_now();
	size_t done = 0;
	int fd;

	fd = write_mode ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)
			: open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	while (done < bytes) {
		ssize_t n = write_mode ? write(fd, block, sizeof(block))
				       : read(fd, block, sizeof(block));
		if (n <= 0) {
			perror(path);
			exit(1);
		}
		done += (size_t)n;
	}
	if (write_mode && fsync(fd)) {
		perror(path);
		exit(1);
	}
	close(fd);
	return (double)bytes / (bench_now() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	size_t mb = argc > 2 ? (size_t)atol(argv[2]) : 256;
	double get[ROUNDS], put[ROUNDS], wr[ROUNDS], rd[ROUNDS];
	double sg, sp, sw, sr, mg, mp, mw, mr;
	uint64_t seed = 42, *keys = malloc(NKEYS * sizeof(*keys));
	char path[4096];
	size_t i, cap = 1;
	int r;

	while (cap < NKEYS * 2)
		cap <<= 1;
	mask = cap - 1;
	table = calloc(cap, sizeof(*table));
	if (!keys || !table)
		return 1;
	for (i = 0; i < NKEYS; i++)
		keys[i] = i + 1;
	for (i = NKEYS - 1; i > 0; i--) { /* shuffle */
		size_t j = bench_rand(&seed) % (i + 1);
		uint64_t t = keys[i];

		keys[i] = keys[j];
		keys[j] = t;
	}
	map_round(keys, 1); /* warm-up and preload */
	for (r = 0; r < ROUNDS; r++) {
		put[r] = map_round(keys, 1);
		get[r] = map_round(keys, 0);
	}
	snprintf(
		path, sizeof(path), "%s/sluice-calibrate.%d", dir,
		(int)getpid());
	for (r = 0; r < ROUNDS; r++) {
		wr[r] = disk_round(path, mb << 20, 1);
		rd[r] = disk_round(path, mb << 20, 0);
	}
	unlink(path);
	mg = bench_median(get, ROUNDS, &sg);
	mp = bench_median(put, ROUNDS, &sp);
	mw = bench_median(wr, ROUNDS, &sw);
	mr = bench_median(rd, ROUNDS, &sr);
	printf("{\"workload\":\"W0-map-get\",\"ops_per_sec\":%.0f,"
	       "\"spread\":%.3f}\n",
	       mg, sg);
	printf("{\"workload\":\"W0-map-put\",\"ops_per_sec\":%.0f,"
	       "\"spread\":%.3f}\n",
	       mp, sp);
	printf("{\"workload\":\"W0-seq-write-fsync\",\"mb_per_sec\":%.0f,"
	       "\"spread\":%.3f,\"bytes\":%zu}\n",
	       mw, sw, mb << 20);
	printf("{\"workload\":\"W0-seq-read\",\"mb_per_sec\":%.0f,"
	       "\"spread\":%.3f,\"bytes\":%zu}\n",
	       mr, sr, mb << 20);
	free(keys);
	free(table);
	return 0;
}
