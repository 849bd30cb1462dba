/*
 * Keyed-state benchmarks W1-W3 (BENCHMARKS.md) for the rocksdb backend:
 * every workload of bench/state_workloads.h through the keyed-state front
 * end against the raw RocksDB baseline of bench/rocksdb_workloads.h in the
 * same run.  JSON lines on stdout, a table on stderr.
 * Usage: bench_state_rocksdb [keys] [seconds-per-round] [rounds]
 */
#include <stdio.h>
#include <stdlib.h>

#include "rocksdb_workloads.h"

int main(int argc, char **argv)
{
	static const char *const ops[][2] = {
		{"value", "get"},   {"value", "update"}, {"value", "add"},
		{"list", "add"},    {"list", "append"},  {"list", "get"},
		{"list", "update"}, {"list", "add-all"}, {"map", "get"},
		{"map", "put"},     {"map", "contains"}, {"map", "remove"},
		{"map", "put-all"}, {"map", "iterate"},
	};
	bw_params p = {"rocksdb", NULL, NULL, 100000, 0.5, 3};
	size_t i;

	if (argc > 1)
		p.keys = atoll(argv[1]);
	if (argc > 2)
		p.seconds = atof(argv[2]);
	if (argc > 3)
		p.rounds = atoi(argv[3]);
	fprintf(stderr, "%-6s %-8s %14s %14s %7s %7s\n", "state", "op", "ops/s",
		"raw rocksdb/s", "ratio", "spread");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		double o, b, s;

		p.state = ops[i][0];
		p.op = ops[i][1];
		if (bwr_run(&p, &o, &b, &s) < 0) {
			fprintf(stderr, "bench_state_rocksdb: %s\n",
				sluice_error_last()->message);
			return 1;
		}
		printf("{\"workload\":\"%s-%s\",\"backend\":\"rocksdb\","
		       "\"keys\":%lld,\"ops_per_sec\":%.0f,"
		       "\"baseline\":\"raw-rocksdb\","
		       "\"baseline_ops_per_sec\":%.0f,\"ratio\":%.3f,"
		       "\"spread\":%.3f}\n",
		       p.state, p.op, (long long)p.keys, o, b, o / b, s);
		fprintf(stderr, "%-6s %-8s %14.0f %14.0f %7.3f %7.3f\n",
			p.state, p.op, o, b, o / b, s);
	}
	return 0;
}
