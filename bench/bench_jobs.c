/*
 * The counting job of a job file (W6 shape) through sluice_run: sequence
 * source (parallelism 2, 10k keys) -> key-by -> count -> sink, with
 * checkpoints every second against the same job with checkpointing off,
 * alternating rounds in one process; median records/s of each and their
 * ratio.  Usage: bench_jobs [records] [rounds] [hashmap|rocksdb]
 * [null|file].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "sluice/config.h"
#include "sluice/jobfile.h"
#include "sluice/sys/storage.h"

static double run_once(
	long n,
	const char *backend,
	const char *sink,
	int checkpoints,
	const char *dir)
{
	char yaml[2048];
	sluice_config *conf;
	sluice_jobfile *jf;
	sluice_job *job;
	sluice_run_result res;
	double t0, t;

	snprintf(
		yaml, sizeof(yaml),
		"job: {name: bench-%s, parallelism: 2}\n"
		"pipeline:\n"
		"  - source: sequence\n    count: %ld\n    keys: 10000\n"
		"  - key-by: key\n"
		"  - operator: count\n"
		"  - sink: %s\n%s%s\n"
		"config:\n"
		"  execution.checkpointing.interval: %s\n"
		"  execution.checkpointing.dir: %s/ck\n"
		"  state.backend.type: %s\n",
		checkpoints ? "ck" : "off", n, sink,
		strcmp(sink, "file") ? "" : "    path: ",
		strcmp(sink, "file") ? "" : dir, checkpoints ? "1 s" : "0 ms",
		dir, backend);
	if (sluice_config_new(&conf) < 0 ||
	    sluice_jobfile_load_string(&jf, yaml, strlen(yaml), "bench", conf) <
		    0 ||
	    sluice_config_validate(conf) < 0 ||
	    sluice_jobfile_build(jf, conf, NULL, &job) < 0) {
		fprintf(stderr, "setup: %s\n", sluice_error_last()->message);
		exit(1);
	}
	t0 = bench_now();
	if (sluice_job_run(job, conf, NULL, &res) < 0 ||
	    res.state != SLUICE_JOB_STATE_FINISHED) {
		fprintf(stderr, "run: %s\n", res.message);
		exit(1);
	}
	t = bench_now() - t0;
	sluice_jobfile_free(jf);
	sluice_config_free(conf);
	return (double)n / t;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5, i;
	const char *backend = argc > 3 ? argv[3] : "hashmap";
	const char *sink = argc > 4 ? argv[4] : "null";
	double on[64], off[64], son, soff, mon, moff;
	char dir[] = "/tmp/sluice-bench-jobs-XXXXXX";

	if (rounds < 1 || rounds > 64 || !mkdtemp(dir))
		return 2;
	for (i = 0; i < rounds; i++) {
		off[i] = run_once(n, backend, sink, 0, dir);
		on[i] = run_once(n, backend, sink, 1, dir);
		sluice_storage_remove_tree(sluice_storage_file_get(), dir);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return 1;
	}
	moff = bench_median(off, rounds, &soff);
	mon = bench_median(on, rounds, &son);
	printf("{\"bench\":\"jobs\",\"records\":%ld,\"rounds\":%d,"
	       "\"backend\":\"%s\",\"sink\":\"%s\",\"off_rps\":%.0f,"
	       "\"on_rps\":%.0f,\"ratio\":%.3f,\"spread_off\":%.2f,"
	       "\"spread_on\":%.2f}\n",
	       n, rounds, backend, sink, moff, mon, mon / moff, soff, son);
	rmdir(dir);
	return 0;
}
