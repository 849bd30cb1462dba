/*
 * wordcount: a streaming word count built with sluice's public C API only
 * (the headers in include/sluice/), walked through in the README.
 *
 *   lines of INPUT (file source) -> split into words -> key by word
 *     -> count (keyed state) -> exactly-once file sink in OUTPUT
 *
 * Every word occurrence produces one output line "<word>,<count so far>",
 * so after a complete run each word's lines are exactly 1..n.  The job
 * takes a checkpoint every 200 ms into CHECKPOINTS; kill the program and
 * start it again with the same arguments and it resumes from the newest
 * checkpoint, committing every line exactly once.  While it runs,
 * `sluice savepoint <job dir>` (the directory it prints) takes a savepoint.
 *
 * usage: wordcount INPUT OUTPUT CHECKPOINTS [PARALLELISM]
 * exit:  0 finished, 1 failed, 2 bad usage or configuration
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/builtins.h>
#include <sluice/config.h>
#include <sluice/job.h>
#include <sluice/monitor.h>
#include <sluice/sys/storage.h>

/* split: one record per word of the line, key = the word, lowercased */
static int split_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	const char *line = rec->value.data;
	char word[256];
	size_t i, n = 0;
	int rc;

	(void)input;
	for (i = 0; i <= rec->value.len; i++) {
		int c = i < rec->value.len ? (unsigned char)line[i] : ' ';

		if (isalnum(c) && n < sizeof(word)) {
			word[n++] = (char)tolower(c);
			continue;
		}
		if (n > 0) {
			sluice_record out = {
				SLUICE_SLICE(word, n), SLUICE_SLICE(word, n),
				rec->timestamp};

			if ((rc = sluice_ctx_emit(ctx, &out)) < 0)
				return rc;
			n = 0;
		}
	}
	return 0;
}

/* count: keyed state "count" per word; emits "<word>,<count>" */
static int count_process(sluice_ctx *ctx, int input, const sluice_record *rec)
{
	char line[300];
	sluice_record out;
	int64_t n = 0;
	int rc, len;

	(void)input;
	rc = sluice_ctx_value_get_i64(ctx, "count", &n);
	if (rc < 0 && rc != SLUICE_ENOTFOUND)
		return rc;
	if ((rc = sluice_ctx_value_put_i64(ctx, "count", ++n)) < 0)
		return rc;
	len = snprintf(
		line, sizeof(line), "%.*s,%lld", SLUICE_SLICE_FMT(rec->key),
		(long long)n);
	out.key = rec->key;
	out.value = SLUICE_SLICE(line, (size_t)len);
	out.timestamp = rec->timestamp;
	return sluice_ctx_emit(ctx, &out);
}

static const sluice_operator split_op = {
	.version = SLUICE_OPERATOR_VERSION, .process = split_process};
static const sluice_operator count_op = {
	.version = SLUICE_OPERATOR_VERSION, .process = count_process};

/* source -> split -> (key by word) -> count -> sink */
static int
build(sluice_job **job,
      int32_t p,
      sluice_file_source_options *in,
      sluice_file_sink_options *out)
{
	const sluice_vertex_spec specs[] = {
		{SLUICE_VERTEX_SOURCE, "lines", NULL, p, 0,
		 sluice_file_source_operator(), in},
		{SLUICE_VERTEX_OPERATOR, "split", NULL, p, 0, &split_op, NULL},
		{SLUICE_VERTEX_OPERATOR, "count", NULL, p, 0, &count_op, NULL},
		{SLUICE_VERTEX_SINK, "counts", NULL, p, 0,
		 sluice_file_sink_operator(), out},
	};
	const sluice_partitioning edges[] = {
		SLUICE_EDGE_FORWARD, SLUICE_EDGE_KEY_BY, SLUICE_EDGE_FORWARD};
	int id[4], i, rc;

	if ((rc = sluice_job_new(job, "wordcount", NULL)) < 0)
		return rc;
	for (i = 0; i < 4; i++)
		if ((rc = sluice_job_add(*job, &id[i], &specs[i])) < 0)
			return rc;
	for (i = 0; i < 3; i++)
		if ((rc = sluice_job_connect(
			     *job, id[i], id[i + 1], 0, edges[i])) < 0)
			return rc;
	return 0;
}

/* Flink's keys: checkpoints every 200 ms into `dir`, exactly once. */
static int configure(sluice_config **conf, const char *dir)
{
	static const char *const kv[] = {
		"execution.checkpointing.interval",
		"200 ms",
		"execution.checkpointing.mode",
		"EXACTLY_ONCE",
		"execution.checkpointing.externalized-checkpoint-retention",
		"RETAIN_ON_CANCELLATION",
		"state.backend.type",
		"hashmap"};
	size_t i;
	int rc;

	if ((rc = sluice_config_new(conf)) < 0 ||
	    (rc = sluice_config_set(
		     *conf, "execution.checkpointing.dir", dir,
		     SLUICE_CONFIG_API)) < 0)
		return rc;
	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i += 2)
		if ((rc = sluice_config_set(
			     *conf, kv[i], kv[i + 1], SLUICE_CONFIG_API)) < 0)
			return rc;
	return sluice_config_validate(*conf);
}

/* Run until the end, showing progress once a second. */
static int run(sluice_job *job, const sluice_config *conf)
{
	sluice_run_options o = {SLUICE_RUN_OPTIONS_VERSION, NULL, 1, 0};
	sluice_run_result res;
	sluice_run_metrics m;
	sluice_run *r;
	char *dir = NULL;

	if (sluice_run_start(&r, job, conf, &o) < 0)
		return -1;
	if (sluice_run_control_dir(r, &dir) == 0 &&
	    sluice_run_serve_control(r, dir) == 0)
		fprintf(stderr, "wordcount: job dir %s\n", dir);
	sluice_free_bytes(dir);
	while (sluice_run_wait(r, 1000, &res) == SLUICE_ETIMEOUT)
		if (sluice_run_metrics_read(r, &m) == 0)
			fprintf(stderr,
				"wordcount: %llu lines read, %llu counts "
				"written, last checkpoint %lld\n",
				(unsigned long long)m.job.records_in,
				(unsigned long long)m.job.records_out,
				(long long)m.last_id);
	if (res.restored_id >= 0)
		fprintf(stderr, "wordcount: resumed from checkpoint %lld\n",
			(long long)res.restored_id);
	if (res.state != SLUICE_JOB_STATE_FINISHED)
		fprintf(stderr, "wordcount: %s\n",
			res.message[0] ? res.message : "canceled");
	sluice_run_free(r);
	return res.state == SLUICE_JOB_STATE_FINISHED ? 0 : 1;
}

int main(int argc, char **argv)
{
	sluice_file_source_options in = {NULL, 0, 0};
	sluice_file_sink_options out = {NULL};
	sluice_config *conf = NULL;
	sluice_job *job = NULL;
	int32_t p = argc > 4 ? (int32_t)atoi(argv[4]) : 2;
	int rc = 2;

	if (argc < 4 || argc > 5 || p < 1) {
		fprintf(stderr, "usage: wordcount INPUT OUTPUT CHECKPOINTS "
				"[PARALLELISM]\n");
		return 2;
	}
	in.path = argv[1];
	out.path = argv[2];
	if (configure(&conf, argv[3]) < 0 || build(&job, p, &in, &out) < 0 ||
	    (rc = run(job, conf)) < 0) {
		fprintf(stderr, "wordcount: %s\n",
			sluice_error_last()->message);
		rc = rc < 0 ? 1 : 2;
	}
	sluice_job_free(job);
	sluice_config_free(conf);
	return rc;
}
