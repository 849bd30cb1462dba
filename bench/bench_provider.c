/*
 * The runtime's state providers side by side, called directly (no job):
 * the in-memory provider (memstate.c, the baseline) and the keyed-backend
 * provider over hashmap and rocksdb.  For N keys of one value state:
 * put and get throughput through the provider vtable, then the checkpoint
 * phases: synchronous (what the task thread pauses for) and asynchronous
 * (writing to memory streams), median of 5 rounds with some keys changed
 * between rounds.  One JSON line per provider.
 *
 * Usage: bench_provider [keys]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "sluice/sys/runtime.h"
#include "util/buf.h"

#define ROUNDS 5

static sluice_slice key_of(uint8_t *b, int64_t i)
{
	sluice__be64(b, (uint64_t)i);
	return SLUICE_SLICE(b, 8);
}

static int
run(const char *name, sluice_state_provider_factory f, void *arg, int64_t n)
{
	sluice_state_provider_info info = {"bench", 0, 1, 128, 0, 127, NULL};
	sluice_state_provider *p;
	double t0, put_s, get_s, sync[ROUNDS], async[ROUNDS], sp;
	uint8_t kb[8], vb[8];
	sluice_slice v;
	int64_t i;
	int r, rc;

	if ((rc = f(&p, &info, arg)) < 0)
		return rc;
	t0 = bench_now();
	for (i = 0; i < n && rc >= 0; i++)
		rc = p->value_put(p, "v", key_of(kb, i), key_of(vb, i));
	put_s = bench_now() - t0;
	t0 = bench_now();
	for (i = 0; i < n && rc >= 0; i++)
		rc = p->value_get(p, "v", key_of(kb, i), &v);
	get_s = bench_now() - t0;
	for (r = 0; r < ROUNDS && rc >= 0; r++) {
		sluice_keyed_handle *kh = NULL;
		sluice_opstate_handle *oh = NULL;
		void *snap;

		for (i = r; i < n && rc >= 0; i += 97)
			rc = p->value_put(p, "v", key_of(kb, i), key_of(vb, r));
		t0 = bench_now();
		if (rc >= 0 &&
		    (rc = p->snapshot_sync(p, r + 1, NULL, &snap)) < 0)
			break;
		sync[r] = (bench_now() - t0) * 1e3;
		t0 = bench_now();
		rc = p->snapshot_async(p, snap, &kh, &oh);
		async[r] = (bench_now() - t0) * 1e3;
		sluice_keyed_handle_free(kh);
		sluice_opstate_handle_free(oh);
	}
	p->free(p);
	if (rc < 0)
		return rc;
	printf("{\"provider\":\"%s\",\"keys\":%lld,\"put_ops_per_sec\":%.0f,"
	       "\"get_ops_per_sec\":%.0f,\"sync_ms\":%.3f,",
	       name, (long long)n, (double)n / put_s, (double)n / get_s,
	       bench_median(sync, ROUNDS, &sp));
	printf("\"sync_spread\":%.2f,\"async_ms\":%.1f}\n", sp,
	       bench_median(async, ROUNDS, NULL));
	return 0;
}

int main(int argc, char **argv)
{
	int64_t n = argc > 1 ? atoll(argv[1]) : 200000;
	sluice_keyed_provider_config hm, rdb;

	sluice_keyed_provider_config_init(&hm);
	sluice_keyed_provider_config_init(&rdb);
	rdb.keyed.backend = "rocksdb";
	if (run("memory", sluice_mem_state_provider_new, NULL, n) < 0 ||
	    run("keyed-hashmap", sluice_keyed_state_provider_factory, &hm, n) <
		    0 ||
	    run("keyed-rocksdb", sluice_keyed_state_provider_factory, &rdb, n) <
		    0) {
		fprintf(stderr, "bench_provider: %s\n",
			sluice_error_last()->message);
		return 1;
	}
	return 0;
}
