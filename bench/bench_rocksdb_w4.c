/*
 * W4 (BENCHMARKS.md): large-state read-modify-write on the rocksdb backend
 * against raw RocksDB, measured in the same run.
 *
 * State: `keys` entries of one value state, 96-byte keys (88 pseudo-random
 * bytes derived from the index, then the index big-endian, so every key is
 * unique and the same bytes on both sides) and 128-byte pseudo-random
 * values whose first 8 bytes are a counter.  Both sides use the backend's
 * default options except a 256 MB block cache; the raw side opens its
 * database with the same sluice__rdb_open and options struct as the
 * backend, so write buffers, compression, table options and column-family
 * options are identical by construction, and it stores the same key
 * layout (2-byte key group of max parallelism 128 | u32 len | key | u32
 * len | empty namespace) -- one C API call per get or put, no front end.
 *
 * Load (not timed): the keyed side through the public keyed API (set key,
 * value update), the raw side by one put per key, in the same order; then
 * both databases are compacted fully so both start from the same shape.
 *
 * Timed: one record = set key, value get, increment the counter, value
 * update.  Access sequences (uniform and Zipf(0.99) over the keys, the
 * Zipf ranks scattered over the key space) are generated up front with
 * fixed seeds.  Per distribution, a warm-up round runs the keyed side for
 * `seconds`; the number of records it did becomes the fixed size N of
 * every round, so that both sides apply exactly the same records: then
 * `rounds` rounds, each running N records on both sides (the order of the
 * sides alternating), from its own part of the sequence (8M accesses are
 * generated per distribution; when (rounds + 1) * N exceeds that, they
 * repeat).  Every timed run starts with both databases idle (no flush or
 * compaction running or pending; the wait is not timed): they share the
 * process and its two cores, and one side's background work must not land
 * in the other side's round.  A side's own flushes and compactions during
 * its run count.
 *
 * Afterwards 1000 keys (half drawn uniformly, half from the access
 * sequences) are read on both sides and compared with each other and with
 * the counter the applied records imply.  The databases live in a fresh
 * directory under $TMPDIR (else /tmp), removed at the end, also on failure
 * and on SIGINT/SIGTERM.
 *
 * JSON line per distribution on stdout, progress and a table on stderr.
 * Usage: bench_rocksdb_w4 [keys] [seconds-per-round] [rounds] [dist...]
 *        dist: uniform | zipf (default both); defaults 10000000 10 3
 */
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_util.h"
#include "sluice/state.h"
#include "sluice/sys/rocksdb.h"
#include "state/rocksdb/rdb.h"

#define KEY_BYTES  96
#define VAL_BYTES  128
#define SEQ_LEN    (1 << 23) /* accesses generated per distribution */
#define CHECK_KEYS 1000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

typedef struct w4 {
	int64_t keys;
	sluice_rocksdb_options o;
	sluice_backend *be; /* the keyed side's backend, for compaction */
	sluice_keyed_backend *kb;
	sluice_state *st;
	sluice_rdb *db;
	sluice_rdb_cf *cf;
	int32_t maxp;    /* the keyed side's, for the raw key groups */
	sluice_buf k, v; /* raw side scratch */
} w4;

typedef struct dist {
	const char *name;
	uint32_t *seq; /* SEQ_LEN key indexes */
	int64_t n;     /* records per round (after the warm-up) */
	int rounds;    /* rounds applied, warm-up included */
} dist;

/* The 96 key bytes of index i. */
static void key_of(uint8_t *k, int64_t i)
{
	uint64_t s = (uint64_t)i * 0x9e3779b97f4a7c15ULL ^ 0x5eed4b3f;
	int j;

	for (j = 0; j < 11; j++) {
		uint64_t r = bench_rand(&s);

		memcpy(k + 8 * j, &r, 8);
	}
	i = (int64_t)__builtin_bswap64((uint64_t)i);
	memcpy(k + 88, &i, 8);
}

/* The initial 128 value bytes of index i (counter = first 8 bytes). */
static void value_of(uint8_t *v, int64_t i)
{
	uint64_t s = (uint64_t)i * 0xd1b54a32d192ed03ULL ^ 0xa11ce;
	int j;

	for (j = 0; j < VAL_BYTES / 8; j++) {
		uint64_t r = bench_rand(&s);

		memcpy(v + 8 * j, &r, 8);
	}
}

static uint64_t counter_of(const void *v)
{
	uint64_t c;

	memcpy(&c, v, 8);
	return c;
}

static void bump(uint8_t *v)
{
	uint64_t c = counter_of(v) + 1;

	memcpy(v, &c, 8);
}

/* ---- Zipf, after Gray et al., "Quickly generating billion-record
 * synthetic databases" (SIGMOD 1994): invert an approximation of the
 * cumulative distribution, exact for the two most popular ranks. ---- */

typedef struct zipf {
	double n, theta, alpha, zetan, eta, second;
} zipf;

static void zipf_init(zipf *z, int64_t n, double theta)
{
	double zeta2 = 1 + pow(0.5, theta);
	int64_t i;

	z->n = (double)n;
	z->theta = theta;
	z->zetan = 0;
	for (i = n; i >= 1; i--) /* small terms first: less rounding */
		z->zetan += 1 / pow((double)i, theta);
	z->alpha = 1 / (1 - theta);
	z->eta = (1 - pow(2 / z->n, 1 - theta)) / (1 - zeta2 / z->zetan);
	z->second = zeta2;
}

/* A rank in [0, n): 0 is the most popular. */
static int64_t zipf_next(const zipf *z, uint64_t *seed)
{
	double u = (double)(bench_rand(seed) >> 11) / 9007199254740992.0;
	double uz = u * z->zetan;
	int64_t r;

	if (uz < 1)
		return 0;
	if (uz < z->second)
		return 1;
	r = (int64_t)(z->n * pow(z->eta * u - z->eta + 1, z->alpha));
	return r >= (int64_t)z->n ? (int64_t)z->n - 1 : r;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* SEQ_LEN key indexes; zipf scatters ranks with a bijection of [0, n). */
static uint32_t *make_seq(const char *name, int64_t n)
{
	uint32_t *seq = malloc(SEQ_LEN * sizeof(*seq));
	int is_zipf = !strcmp(name, "zipf");
	uint64_t seed = is_zipf ? 99 : 7, mul = 2654435761ULL, r;
	zipf z;
	int64_t i;

	if (!seq)
		return NULL;
	if (gcd(mul, (uint64_t)n) != 1)
		mul = 1;
	memset(&z, 0, sizeof(z));
	if (is_zipf)
		zipf_init(&z, n, 0.99);
	for (i = 0; i < SEQ_LEN; i++) {
		r = is_zipf ? (uint64_t)zipf_next(&z, &seed) * mul
			    : bench_rand(&seed);
		seq[i] = (uint32_t)(r % (uint64_t)n);
	}
	return seq;
}

/* ---- the two sides ---------------------------------------------------- */

/* The rocksdb factory with W4's options; remembers the backend. */
static int w4_factory(sluice_backend **out, void *ctx)
{
	w4 *w = ctx;
	int rc = sluice_backend_rocksdb_new(out, &w->o);

	if (rc == 0)
		w->be = *out;
	return rc;
}

static int raw_key(w4 *w, int64_t i)
{
	uint8_t k[KEY_BYTES];

	key_of(k, i);
	return sluice__rdb_key_encode(
		&w->k, sluice__rdb_kg_width(w->db),
		sluice_keygroup_of(SLUICE_SLICE(k, KEY_BYTES), w->maxp),
		SLUICE_SLICE(k, KEY_BYTES), SLUICE_SLICE(NULL, 0));
}

static int bad_value(int64_t i, size_t len)
{
	fprintf(stderr, "bench_rocksdb_w4: value of key %lld has %zu bytes\n",
		(long long)i, len);
	return -1;
}

static int keyed_rmw(w4 *w, int64_t i)
{
	uint8_t k[KEY_BYTES], v[VAL_BYTES];
	sluice_slice s;

	key_of(k, i);
	if (sluice_keyed_backend_set_key(w->kb, SLUICE_SLICE(k, KEY_BYTES)) <
		    0 ||
	    sluice_value_get(w->st, &s) < 0)
		return -1;
	if (s.len != VAL_BYTES)
		return bad_value(i, s.len);
	memcpy(v, s.data, VAL_BYTES);
	bump(v);
	return sluice_value_update(w->st, SLUICE_SLICE(v, VAL_BYTES));
}

static int raw_rmw(w4 *w, int64_t i)
{
	uint8_t v[VAL_BYTES];

	if (raw_key(w, i) < 0 ||
	    sluice__rdb_get(
		    w->db, w->cf, SLUICE_SLICE(w->k.ptr, w->k.len), &w->v) < 0)
		return -1;
	if (w->v.len != VAL_BYTES)
		return bad_value(i, w->v.len);
	memcpy(v, w->v.ptr, VAL_BYTES);
	bump(v);
	return sluice__rdb_put(
		w->db, w->cf, SLUICE_SLICE(w->k.ptr, w->k.len),
		SLUICE_SLICE(v, VAL_BYTES));
}

static int setup(w4 *w)
{
	sluice_keyed_options ko;
	sluice_state_desc d;

	sluice_keyed_options_init(&ko);
	ko.factory = w4_factory;
	ko.factory_ctx = w;
	memset(&d, 0, sizeof(d));
	d.name = "w4";
	d.kind = SLUICE_STATE_VALUE;
	if (sluice_keyed_backend_new(&w->kb, &ko) < 0 ||
	    sluice_keyed_backend_state(&w->st, w->kb, &d) < 0)
		return -1;
	w->maxp = sluice_keyed_backend_max_parallelism(w->kb);
	/* the front end's factory gets no max parallelism: 2-byte groups */
	if (sluice__rdb_open(&w->db, &w->o, "w4-raw", 0) < 0 ||
	    sluice__rdb_cf(&w->cf, w->db, "w4", SLUICE_RDB_VALUE, 0) < 0)
		return -1;
	return 0;
}

/* Preload one side; seconds, < 0 on failure. */
static double load(w4 *w, int raw)
{
	uint8_t k[KEY_BYTES], v[VAL_BYTES];
	double t0 = bench_now();
	int64_t i;

	for (i = 0; i < w->keys && !stop; i++) {
		value_of(v, i);
		if (raw) {
			if (raw_key(w, i) < 0 ||
			    sluice__rdb_put(
				    w->db, w->cf,
				    SLUICE_SLICE(w->k.ptr, w->k.len),
				    SLUICE_SLICE(v, VAL_BYTES)) < 0)
				return -1;
			continue;
		}
		key_of(k, i);
		if (sluice_keyed_backend_set_key(
			    w->kb, SLUICE_SLICE(k, KEY_BYTES)) < 0 ||
		    sluice_value_update(w->st, SLUICE_SLICE(v, VAL_BYTES)) < 0)
			return -1;
	}
	if (stop)
		return -1;
	if ((raw ? sluice__rdb_compact(w->db)
		 : sluice__rdb_backend_compact(w->be)) < 0)
		return -1;
	return bench_now() - t0;
}

static double idle_wait; /* seconds spent in wait_idle, not timed */

/*
 * Wait (at most two minutes) until neither database flushes or compacts:
 * both live in this process, so one side's background work would
 * otherwise run during the other side's round.
 */
static void wait_idle(w4 *w)
{
	double t0 = bench_now();

	while ((sluice__rdb_backend_busy(w->be) || sluice__rdb_busy(w->db)) &&
	       bench_now() - t0 < 120 && !stop) {
		struct timespec ts = {0, 20 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	idle_wait += bench_now() - t0;
}

/*
 * Records seq[start..] (wrapping) on one side until `limit` records or
 * `seconds` (when > 0) have passed; records done in *done.  Seconds taken,
 * < 0 on failure.
 */
static double
run(w4 *w,
    int raw,
    const uint32_t *seq,
    int64_t start,
    int64_t limit,
    double seconds,
    int64_t *done)
{
	double t0, end;
	int64_t i = 0;

	wait_idle(w);
	t0 = bench_now();
	end = t0 + seconds;
	while (i < limit && !stop) {
		int64_t b = i + 256 < limit ? i + 256 : limit;

		for (; i < b; i++) {
			int64_t key = seq[(start + i) % SEQ_LEN];

			if ((raw ? raw_rmw(w, key) : keyed_rmw(w, key)) < 0)
				return -1;
		}
		if (seconds > 0 && bench_now() >= end)
			break;
	}
	*done = i;
	return stop ? -1 : bench_now() - t0;
}

static void loadavg(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/loadavg", "r");

	if (!f || !fgets(buf, (int)cap, f))
		snprintf(buf, cap, "?\n");
	if (f)
		fclose(f);
}

/* Warm-up + rounds of one distribution; medians and spreads out. */
static int bench_dist(
	w4 *w,
	dist *d,
	int rounds,
	double seconds,
	double out[6]) /* keyed/s, raw/s, ratio, spread, round ratio min, max */
{
	double *ks = calloc((size_t)rounds, sizeof(double));
	double *rs = calloc((size_t)rounds, sizeof(double));
	double *pr = calloc((size_t)rounds, sizeof(double));
	double t;
	int64_t done;
	int r, rc = -1;

	if (!ks || !rs || !pr || !(d->seq = make_seq(d->name, w->keys)))
		goto done;
	t = run(w, 0, d->seq, 0, INT64_MAX, seconds, &d->n);
	if (t < 0)
		goto done;
	fprintf(stderr, "%-8s warm-up  keyed %9.0f/s", d->name,
		(double)d->n / t);
	if ((t = run(w, 1, d->seq, 0, d->n, 0, &done)) < 0)
		goto done;
	fprintf(stderr, "  raw %9.0f/s  (%lld records)\n", (double)done / t,
		(long long)d->n);
	d->rounds = 1;
	for (r = 0; r < rounds; r++) {
		int64_t start = (int64_t)(r + 1) * d->n % SEQ_LEN;
		int side, first = r % 2; /* alternate which side goes first */

		for (side = 0; side < 2; side++) {
			int raw = side ^ first;

			t = run(w, raw, d->seq, start, d->n, 0, &done);
			if (t < 0)
				goto done;
			(raw ? rs : ks)[r] = (double)done / t;
		}
		d->rounds++;
		pr[r] = ks[r] / rs[r];
		fprintf(stderr,
			"%-8s round %d  keyed %9.0f/s  raw %9.0f/s  ratio "
			"%.3f\n",
			d->name, r + 1, ks[r], rs[r], pr[r]);
	}
	out[0] = bench_median(ks, rounds, &out[3]);
	out[1] = bench_median(rs, rounds, NULL);
	out[2] = out[0] / out[1];
	bench_median(pr, rounds, NULL);
	out[4] = pr[0];
	out[5] = pr[rounds - 1];
	rc = 0;
done:
	free(ks);
	free(rs);
	free(pr);
	return rc;
}

/* Expected counter of key i after the applied records of every dist. */
static int check(w4 *w, const dist *ds, int nd)
{
	int64_t i;
	uint32_t *hits = calloc((size_t)w->keys, sizeof(*hits));
	uint64_t seed = 4242;
	int j, c, rc = -1;

	if (!hits)
		goto done;
	for (c = 0; c < nd; c++)
		for (i = 0; i < ds[c].n * ds[c].rounds; i++)
			hits[ds[c].seq[i % SEQ_LEN]]++;
	for (j = 0; j < CHECK_KEYS; j++) {
		uint8_t k[KEY_BYTES], v[VAL_BYTES];
		sluice_slice s;

		i = (int64_t)(bench_rand(&seed) % (uint64_t)w->keys);
		if (j < CHECK_KEYS / 2 && nd > 0) /* half of them accessed */
			i = ds[j % nd].seq[bench_rand(&seed) % SEQ_LEN];
		key_of(k, i);
		value_of(v, i);
		if (sluice_keyed_backend_set_key(
			    w->kb, SLUICE_SLICE(k, KEY_BYTES)) < 0 ||
		    sluice_value_get(w->st, &s) < 0 || raw_key(w, i) < 0 ||
		    sluice__rdb_get(
			    w->db, w->cf, SLUICE_SLICE(w->k.ptr, w->k.len),
			    &w->v) < 0)
			goto done;
		if (s.len != VAL_BYTES || w->v.len != VAL_BYTES ||
		    memcmp(s.data, w->v.ptr, VAL_BYTES) ||
		    memcmp((const uint8_t *)s.data + 8, v + 8, VAL_BYTES - 8) ||
		    counter_of(s.data) != counter_of(v) + hits[i]) {
			fprintf(stderr,
				"bench_rocksdb_w4: key %lld differs (keyed "
				"counter %llu, raw %llu, expected %llu)\n",
				(long long)i,
				(unsigned long long)counter_of(s.data),
				(unsigned long long)counter_of(w->v.ptr),
				(unsigned long long)(counter_of(v) + hits[i]));
			goto done;
		}
	}
	fprintf(stderr,
		"check: %d keys equal on both sides and to the expected "
		"counters\n",
		CHECK_KEYS);
	rc = 0;
done:
	free(hits);
	return rc;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static uint64_t du_total;

static int
du_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F)
		du_total += (uint64_t)sb->st_size;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const all[] = {"uniform", "zipf"};
	const char *tmp = getenv("TMPDIR");
	char dir[4096], la[128];
	w4 w;
	dist ds[8];
	int64_t keys = argc > 1 ? atoll(argv[1]) : 10000000;
	double seconds = argc > 2 ? atof(argv[2]) : 10;
	int rounds = argc > 3 ? atoi(argv[3]) : 3, nd = 0, i, rc = 1;
	double tk, tr;

	memset(&w, 0, sizeof(w));
	memset(ds, 0, sizeof(ds));
	for (i = 4; i < argc && nd < 8; i++)
		ds[nd++].name = argv[i];
	for (i = 0; nd == 0 && i < 2; i++)
		ds[i].name = all[i];
	nd = nd ? nd : 2;
	for (i = 0; i < nd; i++)
		if (strcmp(ds[i].name, "uniform") &&
		    strcmp(ds[i].name, "zipf")) {
			fprintf(stderr, "bench_rocksdb_w4: unknown dist '%s'\n",
				ds[i].name);
			return 2;
		}
	if (keys < 1 || keys > UINT32_MAX || seconds <= 0 || rounds < 1) {
		fprintf(stderr, "usage: bench_rocksdb_w4 [keys] "
				"[seconds-per-round] [rounds] [dist...]\n");
		return 2;
	}
	snprintf(
		dir, sizeof(dir), "%s/sluice-w4-XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("bench_rocksdb_w4: mkdtemp");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	w.keys = keys;
	sluice_rocksdb_options_init(&w.o);
	w.o.block_cache_size = 256u << 20;
	w.o.local_dir = dir;
	loadavg(la, sizeof(la));
	fprintf(stderr, "keys %lld, %d B keys, %d B values, load average %s",
		(long long)keys, KEY_BYTES, VAL_BYTES, la);
	if (setup(&w) < 0 || (tk = load(&w, 0)) < 0 || (tr = load(&w, 1)) < 0)
		goto fail;
	du_total = 0;
	nftw(dir, du_entry, 16, FTW_PHYS);
	fprintf(stderr,
		"load + full compaction: keyed %.1f s, raw %.1f s; %.2f GB "
		"on disk (both)\n",
		tk, tr, (double)du_total / 1e9);
	fprintf(stderr, "%-8s %12s %12s %7s %7s %15s\n", "dist", "records/s",
		"raw rec/s", "ratio", "spread", "round ratios");
	for (i = 0; i < nd; i++) {
		double o[6];

		if (bench_dist(&w, &ds[i], rounds, seconds, o) < 0)
			goto fail;
		printf("{\"workload\":\"W4-rmw-%s\",\"backend\":\"rocksdb\","
		       "\"keys\":%lld,\"key_bytes\":%d,\"value_bytes\":%d,"
		       "\"block_cache_mb\":256,\"records_per_round\":%lld,"
		       "\"ops_per_sec\":%.0f,\"baseline\":\"raw-rocksdb\","
		       "\"baseline_ops_per_sec\":%.0f,\"ratio\":%.3f,"
		       "\"spread\":%.3f,\"round_ratio_min\":%.3f,"
		       "\"round_ratio_max\":%.3f}\n",
		       ds[i].name, (long long)keys, KEY_BYTES, VAL_BYTES,
		       (long long)ds[i].n, o[0], o[1], o[2], o[3], o[4], o[5]);
		fflush(stdout);
		fprintf(stderr, "%-8s %12.0f %12.0f %7.3f %7.3f   %.3f-%.3f\n",
			ds[i].name, o[0], o[1], o[2], o[3], o[4], o[5]);
	}
	if (check(&w, ds, nd) < 0)
		goto fail;
	loadavg(la, sizeof(la));
	fprintf(stderr,
		"waited %.1f s in total (untimed) for flushes and compactions "
		"before timed runs; load average at the end %s",
		idle_wait, la);
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "bench_rocksdb_w4: %s\n",
		stop ? "interrupted" : sluice_error_last()->message);
done:
	sluice_keyed_backend_free(w.kb);
	sluice__rdb_free(w.db);
	sluice_buf_release(&w.k);
	sluice_buf_release(&w.v);
	for (i = 0; i < nd; i++)
		free(ds[i].seq);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
