/*
 * W6 job overhead: the counting job of a job file (sequence source,
 * parallelism 2, 10k keys -> key-by -> count -> sink) run through
 * sluice_job_run with aligned exactly-once checkpoints every second
 * against the same job with checkpointing off, alternating rounds in one
 * process.
 *
 * The configuration comes from the job file text (config: section, as
 * `sluice run` reads it); the graph is the job file's graph built from
 * the same built-in operators (jobs/builtins.h), except that the sink is
 * wrapped to note when its input ended, so that three figures come out
 * of every run:
 *  - processing: records / time until every sink subtask saw the end of
 *    its input (all records counted and delivered), the throughput the
 *    checkpoints cost;
 *  - end to end: records / time until sluice_job_run returned.  With
 *    checkpoints this includes Flink's final checkpoint (spec §2.8:
 *    tasks wait for a checkpoint after their end of data; sluice_run
 *    triggers it as soon as every task reached the end, as Flink does)
 *    and its commit, a fixed cost per run, not per record;
 *  - per CPU second: records / (user + system CPU time of the process
 *    during the run), the cost of checkpointing in work, less sensitive
 *    than wall time to other load on a shared machine.
 * Median of each over the rounds, spread (max - min) / median, ratios of
 * the medians.  Usage: bench_jobs [records] [rounds] [hashmap|rocksdb]
 * [null|file] [interval] [key=value,...] (more configuration for both
 * sides, e.g. the network buffer keys).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "jobs/builtins.h"
#include "sluice/config.h"
#include "sluice/jobfile.h"
#include "sluice/sys/storage.h"

#define PARALLELISM 2
#define KEYS        10000

/* The sink wrapper: the inner built-in sink plus an end-of-input stamp. */
static const sluice_operator *inner_sink;
static pthread_mutex_t stamp_lock = PTHREAD_MUTEX_INITIALIZER;
static double last_end; /* bench_now() when the last sink input ended */

static int sink_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	return inner_sink->process ? inner_sink->process(ctx, input, rec) : 0;
}

static int sink_end_input(sluice_ctx *ctx, int input)
{
	double now = bench_now();

	pthread_mutex_lock(&stamp_lock);
	if (now > last_end)
		last_end = now;
	pthread_mutex_unlock(&stamp_lock);
	return inner_sink->end_input ? inner_sink->end_input(ctx, input) : 0;
}

static sluice_operator wrapped_sink;

static void wrap_sink(const sluice_operator *inner)
{
	inner_sink = inner;
	wrapped_sink = *inner;
	wrapped_sink.process = sink_process;
	wrapped_sink.end_input = sink_end_input;
}

static int
add(sluice_job *job,
    int *id,
    sluice_vertex_kind kind,
    const char *uid,
    const sluice_operator *op,
    void *arg)
{
	sluice_vertex_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.kind = kind;
	spec.uid = uid;
	spec.parallelism = PARALLELISM;
	spec.op = op;
	spec.arg = arg;
	return sluice_job_add(job, id, &spec);
}

/* The job file's graph: uids as the job file would give them. */
static int
build(sluice_job **out,
      const char *name,
      long n,
      const char *sink,
      sluice__file_sink_arg *fsa,
      sluice__sequence_arg *seq)
{
	int src, cnt, snk;

	seq->count = n;
	seq->keys = KEYS;
	seq->rate = 0;
	wrap_sink(
		strcmp(sink, "file") ? &sluice__null_op
				     : &sluice__file_sink_op);
	if (sluice_job_new(out, name, NULL) < 0 ||
	    add(*out, &src, SLUICE_VERTEX_SOURCE, "0-sequence",
		&sluice__sequence_op, seq) < 0 ||
	    add(*out, &cnt, SLUICE_VERTEX_OPERATOR, "1-count",
		&sluice__count_op, NULL) < 0 ||
	    add(*out, &snk, SLUICE_VERTEX_SINK,
		strcmp(sink, "file") ? "2-null" : "2-file", &wrapped_sink,
		strcmp(sink, "file") ? NULL : fsa) < 0 ||
	    sluice_job_connect(*out, src, cnt, 0, SLUICE_EDGE_KEY_BY) < 0 ||
	    sluice_job_connect(*out, cnt, snk, 0, SLUICE_EDGE_FORWARD) < 0 ||
	    sluice_job_validate(*out) < 0)
		return -1;
	return 0;
}

typedef struct run_times {
	double processing; /* records/s until the sinks' inputs ended */
	double end_to_end; /* records/s until sluice_job_run returned */
	double cpu;        /* records per CPU second (user + system) */
} run_times;

/* CPU seconds (user + system) used by the process so far. */
static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) /
		       1e6;
}

/* `extra`: comma-separated key=value pairs set after the job file. */
static int set_extra(sluice_config *conf, const char *extra)
{
	char buf[1024], *p, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", extra);
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
		if (sluice_config_set_arg(conf, p) < 0)
			return -1;
	return 0;
}

static run_times run_once(
	long n,
	const char *backend,
	const char *sink,
	int checkpoints,
	const char *interval,
	const char *extra,
	const char *dir)
{
	char yaml[2048], out[1024], name[32];
	sluice_config *conf;
	sluice_jobfile *jf;
	sluice_job *job = NULL;
	sluice_run_result res;
	sluice__file_sink_arg fsa;
	sluice__sequence_arg seq;
	run_times rt;
	double t0, t, c0;

	snprintf(name, sizeof(name), "bench-%s", checkpoints ? "ck" : "off");
	snprintf(out, sizeof(out), "%s/out", dir);
	fsa.path = out;
	snprintf(
		yaml, sizeof(yaml),
		"job: {name: %s, parallelism: %d}\n"
		"pipeline:\n"
		"  - source: sequence\n    count: %ld\n    keys: %d\n"
		"  - key-by: key\n"
		"  - operator: count\n"
		"  - sink: %s\n%s%s\n"
		"config:\n"
		"  execution.checkpointing.interval: %s\n"
		"  execution.checkpointing.dir: %s/ck\n"
		"  state.backend.type: %s\n",
		name, PARALLELISM, n, KEYS, sink,
		strcmp(sink, "file") ? "" : "    path: ",
		strcmp(sink, "file") ? "" : out,
		checkpoints ? interval : "0 ms", dir, backend);
	if (sluice_config_new(&conf) < 0 ||
	    sluice_jobfile_load_string(&jf, yaml, strlen(yaml), "bench", conf) <
		    0 ||
	    set_extra(conf, extra) < 0 || sluice_config_validate(conf) < 0 ||
	    build(&job, name, n, sink, &fsa, &seq) < 0) {
		fprintf(stderr, "setup: %s\n", sluice_error_last()->message);
		exit(1);
	}
	last_end = 0;
	c0 = cpu_now();
	t0 = bench_now();
	if (sluice_job_run(job, conf, NULL, &res) < 0 ||
	    res.state != SLUICE_JOB_STATE_FINISHED) {
		fprintf(stderr, "run: %s\n", res.message);
		exit(1);
	}
	t = bench_now() - t0;
	rt.cpu = (double)n / (cpu_now() - c0);
	rt.end_to_end = (double)n / t;
	rt.processing = (double)n / (last_end > t0 ? last_end - t0 : t);
	sluice_job_free(job);
	sluice_jobfile_free(jf);
	sluice_config_free(conf);
	return rt;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5, i;
	const char *backend = argc > 3 ? argv[3] : "hashmap";
	const char *sink = argc > 4 ? argv[4] : "null";
	const char *interval = argc > 5 ? argv[5] : "1 s";
	const char *extra = argc > 6 ? argv[6] : "";
	double pon[64], poff[64], eon[64], eoff[64], con[64], coff[64];
	double spon, spoff, seon, seoff, mpon, mpoff, meon, meoff;
	double scon, scoff, mcon, mcoff;
	char dir[] = "/tmp/sluice-bench-jobs-XXXXXX";

	if (rounds < 1 || rounds > 64 || !mkdtemp(dir))
		return 2;
	for (i = 0; i < rounds; i++) {
		run_times off =
			run_once(n, backend, sink, 0, interval, extra, dir);
		run_times on =
			run_once(n, backend, sink, 1, interval, extra, dir);

		poff[i] = off.processing;
		eoff[i] = off.end_to_end;
		pon[i] = on.processing;
		eon[i] = on.end_to_end;
		coff[i] = off.cpu;
		con[i] = on.cpu;
		fprintf(stderr,
			"round %d: processing off %.0f on %.0f (%.3f), end to "
			"end off %.0f on %.0f (%.3f), per CPU second off %.0f "
			"on %.0f (%.3f)\n",
			i, poff[i], pon[i], pon[i] / poff[i], eoff[i], eon[i],
			eon[i] / eoff[i], coff[i], con[i], con[i] / coff[i]);
		sluice_storage_remove_tree(sluice_storage_file_get(), dir);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return 1;
	}
	mpoff = bench_median(poff, rounds, &spoff);
	mpon = bench_median(pon, rounds, &spon);
	meoff = bench_median(eoff, rounds, &seoff);
	meon = bench_median(eon, rounds, &seon);
	mcoff = bench_median(coff, rounds, &scoff);
	mcon = bench_median(con, rounds, &scon);
	printf("{\"bench\":\"jobs\",\"records\":%ld,\"rounds\":%d,"
	       "\"backend\":\"%s\",\"sink\":\"%s\",\"interval\":\"%s\","
	       "\"off_rps\":%.0f,\"on_rps\":%.0f,\"ratio\":%.3f,"
	       "\"spread_off\":%.2f,\"spread_on\":%.2f,"
	       "\"e2e_off_rps\":%.0f,\"e2e_on_rps\":%.0f,\"e2e_ratio\":%.3f,"
	       "\"e2e_spread_off\":%.2f,\"e2e_spread_on\":%.2f,"
	       "\"cpu_off_rps\":%.0f,\"cpu_on_rps\":%.0f,\"cpu_ratio\":%.3f,"
	       "\"cpu_spread_off\":%.2f,\"cpu_spread_on\":%.2f}\n",
	       n, rounds, backend, sink, interval, mpoff, mpon, mpon / mpoff,
	       spoff, spon, meoff, meon, meon / meoff, seoff, seon, mcoff, mcon,
	       mcon / mcoff, scoff, scon);
	rmdir(dir);
	return 0;
}
