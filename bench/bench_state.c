/*
 * Keyed-state benchmarks W1-W3 and W5 sync pause (BENCHMARKS.md) for the
 * hashmap backend: every workload of bench/state_workloads.h against the
 * open-addressing baseline, as JSON lines on stdout and a table on stderr.
 * Usage: bench_state [keys] [seconds-per-round] [rounds]
 */
#include <stdio.h>
#include <stdlib.h>

#include "state_workloads.h"

int main(int argc, char **argv)
{
	static const char *const ops[][2] = {
		{"value", "get"},   {"value", "update"}, {"value", "add"},
		{"list", "add"},    {"list", "append"},  {"list", "get"},
		{"list", "update"}, {"list", "add-all"}, {"map", "get"},
		{"map", "put"},     {"map", "contains"}, {"map", "remove"},
		{"map", "put-all"}, {"map", "iterate"},
	};
	bw_params p = {"hashmap", NULL, NULL, 500000, 0.5, 5};
	int64_t med, max;
	double bps;
	size_t i;

	if (argc > 1)
		p.keys = atoll(argv[1]);
	if (argc > 2)
		p.seconds = atof(argv[2]);
	if (argc > 3)
		p.rounds = atoi(argv[3]);
	fprintf(stderr, "%-6s %-8s %14s %14s %7s %7s %9s\n", "state", "op",
		"ops/s", "baseline/s", "ratio", "spread", "B/entry");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		bw_result r;

		p.state = ops[i][0];
		p.op = ops[i][1];
		if (bw_run(&p, &r) < 0) {
			fprintf(stderr, "bench_state: %s\n",
				sluice_error_last()->message);
			return 1;
		}
		printf("{\"workload\":\"%s-%s\",\"backend\":\"hashmap\","
		       "\"keys\":%lld,\"ops_per_sec\":%.0f,"
		       "\"baseline_ops_per_sec\":%.0f,\"ratio\":%.3f,"
		       "\"spread\":%.3f,\"bytes_per_entry_overhead\":%.1f}\n",
		       p.state, p.op, (long long)p.keys, r.ops_per_sec,
		       r.baseline_ops, r.ops_per_sec / r.baseline_ops, r.spread,
		       r.bytes_per_entry);
		fprintf(stderr, "%-6s %-8s %14.0f %14.0f %7.3f %7.3f %9.1f\n",
			p.state, p.op, r.ops_per_sec, r.baseline_ops,
			r.ops_per_sec / r.baseline_ops, r.spread,
			r.bytes_per_entry);
	}
	if (bw_sync_pause(1000000, 7, &med, &max, &bps) < 0) {
		fprintf(stderr, "bench_state: %s\n",
			sluice_error_last()->message);
		return 1;
	}
	printf("{\"workload\":\"W5-sync-pause\",\"backend\":\"hashmap\","
	       "\"keys\":1000000,\"sync_pause_ms_median\":%.4f,"
	       "\"sync_pause_ms_max\":%.4f,\"async_write_bytes_per_sec\":%.0f}"
	       "\n",
	       (double)med / 1e6, (double)max / 1e6, bps);
	fprintf(stderr,
		"W5 sync pause at 1M keys: median %.4f ms, max %.4f ms\n",
		(double)med / 1e6, (double)max / 1e6);
	return 0;
}
