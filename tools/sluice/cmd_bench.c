/*
 * `sluice bench state`: runs the keyed-state benchmark workloads
 * (bench/state_workloads.h) and prints one JSON object per result line.
 */
#include <stdlib.h>
#include <string.h>

#include "../../bench/rocksdb_workloads.h"
#include "../../bench/state_workloads.h"
#include "cmd.h"

static const char *const all_ops[][2] = {
	{"value", "get"},   {"value", "update"}, {"value", "add"},
	{"list", "add"},    {"list", "append"},  {"list", "get"},
	{"list", "update"}, {"list", "add-all"}, {"map", "get"},
	{"map", "put"},     {"map", "contains"}, {"map", "remove"},
	{"map", "put-all"}, {"map", "iterate"},
};

/* rocksdb: the baseline is raw RocksDB (bench/rocksdb_workloads.h) */
static int run_one_rocksdb(const bw_params *p)
{
	double ops, base, spread;

	if (bwr_run(p, &ops, &base, &spread) < 0) {
		cli_error_last("bench state");
		return EXIT_FAIL;
	}
	printf("{\"backend\":\"rocksdb\",\"state\":\"%s\",\"op\":\"%s\","
	       "\"keys\":%lld,\"ops_per_sec\":%.0f,"
	       "\"baseline\":\"raw-rocksdb\",\"baseline_ops_per_sec\":%.0f,"
	       "\"ratio\":%.3f,\"spread\":%.3f}\n",
	       p->state, p->op, (long long)p->keys, ops, base, ops / base,
	       spread);
	fflush(stdout);
	return 0;
}

static int run_one(const bw_params *p)
{
	bw_result r;

	if (!strcmp(p->backend, "rocksdb"))
		return run_one_rocksdb(p);

	if (bw_run(p, &r) < 0) {
		cli_error_last("bench state");
		return EXIT_FAIL;
	}
	printf("{\"backend\":\"%s\",\"state\":\"%s\",\"op\":\"%s\","
	       "\"keys\":%lld,\"ops_per_sec\":%.0f,"
	       "\"baseline_ops_per_sec\":%.0f,\"ratio\":%.3f,"
	       "\"spread\":%.3f,\"bytes_per_entry_overhead\":%.1f}\n",
	       p->backend, p->state, p->op, (long long)p->keys, r.ops_per_sec,
	       r.baseline_ops, r.ops_per_sec / r.baseline_ops, r.spread,
	       r.bytes_per_entry);
	fflush(stdout);
	return 0;
}

static int run_sync_pause(long long keys, int rounds)
{
	int64_t med, max;
	double bps;

	if (bw_sync_pause(keys, rounds, &med, &max, &bps) < 0) {
		cli_error_last("bench state --sync-pause");
		return EXIT_FAIL;
	}
	printf("{\"backend\":\"hashmap\",\"workload\":\"W5-sync-pause\","
	       "\"keys\":%lld,\"sync_pause_ms_median\":%.4f,"
	       "\"sync_pause_ms_max\":%.4f,\"async_write_bytes_per_sec\":%.0f}"
	       "\n",
	       keys, (double)med / 1e6, (double)max / 1e6, bps);
	return 0;
}

static int bench_state(int argc, char **argv)
{
	bw_params p = {"hashmap", NULL, NULL, 500000, 1.0, 5};
	int i, sync_pause = 0;
	size_t k;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--sync-pause")) {
			sync_pause = 1;
			continue;
		}
		if (!v) {
			cli_error("bench state: %s needs a value", a);
			return EXIT_USAGE;
		}
		i++;
		if (!strcmp(a, "--backend"))
			p.backend = v;
		else if (!strcmp(a, "--state"))
			p.state = v;
		else if (!strcmp(a, "--op"))
			p.op = v;
		else if (!strcmp(a, "--keys"))
			p.keys = atoll(v);
		else if (!strcmp(a, "--seconds"))
			p.seconds = atof(v);
		else if (!strcmp(a, "--rounds"))
			p.rounds = atoi(v);
		else {
			cli_error("bench state: unknown option '%s'", a);
			return EXIT_USAGE;
		}
	}
	if (p.keys < 1 || p.seconds <= 0 || p.rounds < 1) {
		cli_error("bench state: --keys, --seconds and --rounds must be "
			  "positive");
		return EXIT_USAGE;
	}
	if (strcmp(p.backend, "hashmap") && strcmp(p.backend, "rocksdb")) {
		cli_error(
			"bench state: backend '%s' is not available in this "
			"build (known: hashmap, rocksdb)",
			p.backend);
		return EXIT_USAGE;
	}
	if (sync_pause && strcmp(p.backend, "hashmap")) {
		cli_error("bench state: --sync-pause measures hashmap; for "
			  "rocksdb run bench_rocksdb_checkpoint");
		return EXIT_USAGE;
	}
	if (sync_pause)
		return run_sync_pause(p.keys, p.rounds);
	if (p.state && p.op) {
		if (!bw_valid(&p)) {
			cli_error(
				"bench state: no workload '%s %s'", p.state,
				p.op);
			return EXIT_USAGE;
		}
		return run_one(&p);
	}
	for (k = 0; k < sizeof(all_ops) / sizeof(all_ops[0]); k++) {
		bw_params q = p;
		int rc;

		if (p.state && strcmp(p.state, all_ops[k][0]))
			continue;
		q.state = all_ops[k][0];
		q.op = all_ops[k][1];
		if ((rc = run_one(&q)) != 0)
			return rc;
	}
	return 0;
}

static int bench(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "state")) {
		cli_error("bench: unknown benchmark (known: state)");
		return EXIT_USAGE;
	}
	return bench_state(argc - 1, argv + 1);
}

const cmd cmd_bench_def = {
	"bench",
	bench,
	"run benchmarks (keyed state)",
	"usage: sluice bench state [--backend hashmap|rocksdb] [--state "
	"value|list|map]\n"
	"                          [--op OP] [--keys N] [--seconds S] "
	"[--rounds R]\n"
	"       sluice bench state --sync-pause [--keys N] [--rounds R]\n"
	"\n"
	"Runs ports of Flink's state benchmarks "
	"(ValueState/ListState/MapState)\n"
	"and a baseline on the same data in the same run (hashmap: a plain\n"
	"open-addressing hash map; rocksdb: raw RocksDB with the same key\n"
	"layout and options),\n"
	"printing one JSON object per result: ops_per_sec, "
	"baseline_ops_per_sec,\n"
	"ratio, spread (of the rounds) and bytes of overhead per entry.\n"
	"Ops: value get|update|add; list add|append|get|update|add-all;\n"
	"map get|put|contains|remove|put-all|iterate (per entry).  Without\n"
	"--state/--op every workload runs.  --sync-pause times the "
	"synchronous\n"
	"snapshot phase (W5) with N keys (default 500000; use 1000000).\n",
};
