/*
 * Checkpoint upload and restore throughput on a live S3 server (the
 * benchmark of issue #8).  Measured: the state of a checkpoint written as
 * state streams of a checkpoint location on s3:// (the storage plug-in:
 * buffering, xxh3-64, multipart upload with parallel parts), `_metadata`
 * written last; then restored as a restore reads it (ranged GETs, size and
 * checksum verified).  Baseline in the same run, same bytes: one plain
 * PUT and one plain GET with libcurl and its own SigV4 (CURLOPT_AWS_SIGV4;
 * the body's SHA-256 computed before timing): no checksum, no multipart,
 * no parsing.  A second restore baseline GETs, with the same libcurl, the
 * very objects the checkpoint wrote (multipart, so on Swift SLO manifests
 * whose reads cost more), to separate the client's cost from the server's.
 *
 *   bench_s3_checkpoint [MiB=64] [streams=1] [rounds=3]
 *
 * `streams` > 1 splits the state over that many streams written and read
 * by as many threads, as parallel subtasks do.  Needs SLUICE_TEST_S3_*
 * (e.g. `scripts/s3-server.sh env DIR`); exits 77 without them.  One
 * warm-up round, then `rounds` rounds; median and spread (max-min)/median;
 * one JSON line per result.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/sha.h>

#include "bench_util.h"
#include "sluice/config.h"
#include "sluice/sys/storage.h"
#include "storage/s3/client.h"

#define MIB    ((size_t)1024 * 1024)
#define JOB    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
#define ROUNDS 16

static const char *endpoint, *access_key, *secret_key;
static char bucket[64];
static uint8_t *data;
static size_t total;
static char body_sha[65]; /* hex SHA-256 of the PUT body */

/* ---- the baseline: plain libcurl ---------------------------------------- */

static size_t drop(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	*(size_t *)ud += size * n;
	return size * n;
}

/* One PUT (put != 0) of all bytes as `key`, or one GET of `key` (which
 * must hold `want` bytes); seconds, < 0 on failure. */
static double curl_plain(int put, const char *key, size_t want)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	char url[512];
	size_t got = 0;
	long status = 0;
	double t;
	CURLcode rc;

	/* libcurl 7.88 signs the body's hash but does not send it */
	snprintf(
		url, sizeof(url), "x-amz-content-sha256: %s",
		put ? body_sha
		    : "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4"
		      "95991b7852b855");
	hd = curl_slist_append(hd, url);
	/* curl signs a Content-Type even when told to drop it */
	hd = curl_slist_append(hd, "Content-Type: application/octet-stream");
	snprintf(url, sizeof(url), "%s/%s/%s", endpoint, bucket, key);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
	curl_easy_setopt(h, CURLOPT_USERNAME, access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, secret_key);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drop);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
	if (put) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(
			h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
	}
	t = bench_now();
	rc = curl_easy_perform(h);
	t = bench_now() - t;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK || status != 200 || (!put && got != want)) {
		fprintf(stderr, "curl %s: %s, HTTP %ld, %zu bytes\n",
			put ? "PUT" : "GET", curl_easy_strerror(rc), status,
			got);
		return -1;
	}
	return t;
}

/* ---- the checkpoint path ------------------------------------------------ */

typedef struct job {
	sluice_location *loc;
	sluice_storage *st;
	const char *dir;
	const uint8_t *bytes;
	size_t len;
	sluice_stream_handle *h;
	int rc;
} job;

static void *upload_one(void *arg)
{
	job *j = arg;
	sluice_ostream *os = NULL;
	size_t off, n;

	j->rc = sluice_location_open_stream(
		&os, j->loc, SLUICE_SCOPE_EXCLUSIVE);
	/* in 64 KiB writes, as a backend's serializer would */
	for (off = 0; j->rc == 0 && off < j->len; off += n) {
		n = j->len - off < 65536 ? j->len - off : 65536;
		j->rc = os->write(os, j->bytes + off, n);
	}
	if (j->rc == 0)
		j->rc = os->close(os, &j->h);
	else if (os)
		os->abort(os);
	return NULL;
}

static void *restore_one(void *arg)
{
	job *j = arg;

	j->rc = sluice_handle_verify(j->st, j->dir, j->h);
	return NULL;
}

/* Run `fn` on every job, one thread each. */
static int run_all(job *jobs, int n, void *(*fn)(void *))
{
	pthread_t th[64];
	int i, rc = 0;

	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, fn, &jobs[i]);
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (jobs[i].rc < 0 && !rc)
			rc = jobs[i].rc;
	}
	return rc;
}

/* One checkpoint `id` of `n` streams; upload and restore seconds, and
 * `*same`: curl GETs of the very objects the checkpoint wrote (multipart
 * uploads, which Swift serves as SLO manifests), one after the other. */
static int checkpoint_round(
	sluice_checkpoint_storage *cs,
	int64_t id,
	int n,
	double *up,
	double *down,
	double *same)
{
	sluice_location *loc = NULL;
	job jobs[64];
	char *dir = NULL;
	double t;
	int i, rc;

	memset(jobs, 0, sizeof(jobs));
	t = bench_now();
	if ((rc = sluice_checkpoint_location_new(&loc, cs, id)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		jobs[i].loc = loc;
		jobs[i].bytes = data + (size_t)i * (total / (size_t)n);
		jobs[i].len = total / (size_t)n;
	}
	if ((rc = run_all(jobs, n, upload_one)) < 0 ||
	    (rc = sluice_location_commit(loc, "meta", 4)) < 0)
		goto done;
	*up = bench_now() - t;
	if (!(dir = strdup(sluice_location_dir(loc)))) {
		rc = -1;
		goto done;
	}
	t = bench_now();
	for (i = 0; i < n; i++) {
		jobs[i].st = sluice_checkpoint_storage_backend(cs);
		jobs[i].dir = dir;
	}
	rc = run_all(jobs, n, restore_one);
	*down = bench_now() - t;
	*same = 0;
	for (i = 0; rc == 0 && i < n; i++) {
		/* "s3://bucket/" + key */
		double g = curl_plain(
			0, jobs[i].h->path + strlen(bucket) + 6, jobs[i].len);
		if (g < 0)
			rc = -1;
		*same += g;
	}
done:
	for (i = 0; i < n; i++)
		sluice_stream_handle_free(jobs[i].h);
	free(dir);
	/* the round's objects go, so Swift does not grow */
	if (sluice_location_discard(loc) < 0 && rc == 0)
		rc = -1;
	return rc;
}

static void result(const char *workload, double *v, double *base, int rounds)
{
	double sv, sb, mv = bench_median(v, rounds, &sv),
		       mb = bench_median(base, rounds, &sb);
	double mbs = (double)total / (double)MIB / mv,
	       bmbs = (double)total / (double)MIB / mb;

	printf("%-28s %8.1f MiB/s (spread %.2f)   curl %8.1f MiB/s "
	       "(spread %.2f)   ratio %.2f\n",
	       workload, mbs, sv, bmbs, sb, mbs / bmbs);
	printf("{\"workload\":\"%s\",\"mib\":%zu,\"mib_per_sec\":%.1f,"
	       "\"baseline_mib_per_sec\":%.1f,\"ratio\":%.3f,"
	       "\"spread\":%.2f,\"baseline_spread\":%.2f}\n",
	       workload, total / MIB, mbs, bmbs, mbs / bmbs, sv, sb);
}

static sluice_checkpoint_storage *open_storage(sluice_storage **st)
{
	sluice_checkpoint_storage *cs = NULL;
	sluice_storage_options o;
	sluice_config *conf = NULL;
	char dir[128];

	if (sluice_config_new(&conf) < 0 ||
	    sluice_config_set(
		    conf, "s3.endpoint", endpoint, SLUICE_CONFIG_API) < 0 ||
	    sluice_config_set(
		    conf, "s3.access-key", access_key, SLUICE_CONFIG_API) < 0 ||
	    sluice_config_set(
		    conf, "s3.secret-key", secret_key, SLUICE_CONFIG_API) < 0 ||
	    sluice_config_set(
		    conf, "s3.path.style.access", "true", SLUICE_CONFIG_API) <
		    0 ||
	    sluice_storage_s3_new(st, "s3", conf) < 0) {
		sluice_config_free(conf);
		return NULL;
	}
	sluice_config_free(conf);
	snprintf(dir, sizeof(dir), "s3://%s/ck", bucket);
	sluice_storage_options_init(&o);
	o.checkpoint_dir = dir;
	o.storage = *st;
	if (sluice_checkpoint_storage_new(&cs, &o, JOB) < 0)
		return NULL;
	return cs;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 64, i;
	int streams = argc > 2 ? atoi(argv[2]) : 1;
	int rounds = argc > 3 ? atoi(argv[3]) : 3, r;
	double up[ROUNDS], down[ROUNDS], put[ROUNDS], get[ROUNDS], u = 0, d = 0;
	double same[ROUNDS], g = 0;
	sluice_checkpoint_storage *cs;
	sluice_storage *st = NULL;
	char name[64];
	uint64_t seed = 42;

	endpoint = getenv("SLUICE_TEST_S3_ENDPOINT");
	access_key = getenv("SLUICE_TEST_S3_ACCESS_KEY");
	secret_key = getenv("SLUICE_TEST_S3_SECRET_KEY");
	if (!endpoint || !access_key || !secret_key) {
		fprintf(stderr, "SLUICE_TEST_S3_* not set: skipped\n");
		return 77;
	}
	if (streams < 1 || streams > 64 || rounds < 1 || rounds > ROUNDS ||
	    mib < 1)
		return fprintf(stderr,
			       "usage: %s [MiB] [streams 1-64] "
			       "[rounds 1-%d]\n",
			       argv[0], ROUNDS),
		       2;
	total = mib * MIB;
	if (!(data = malloc(total)))
		return 1;
	for (i = 0; i + 8 <= total; i += 8) {
		uint64_t v = bench_rand(&seed);
		memcpy(data + i, &v, 8);
	}
	{
		unsigned char md[SHA256_DIGEST_LENGTH];

		SHA256(data, total, md);
		for (i = 0; i < sizeof(md); i++)
			snprintf(body_sha + 2 * i, 3, "%02x", md[i]);
	}
	snprintf(bucket, sizeof(bucket), "sluice-bench-ck-%ld", (long)getpid());
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!(cs = open_storage(&st)) ||
	    s3_client_create_bucket(sluice__s3_storage_client(st), bucket) < 0)
		return fprintf(stderr, "setup: %s\n",
			       sluice_error_last()->message),
		       1;
	printf("%zu MiB in %d stream(s) to %s, %d rounds after a warm-up\n",
	       mib, streams, endpoint, rounds);
	for (r = -1; r < rounds; r++) {
		if (checkpoint_round(cs, r + 2, streams, &u, &d, &g) < 0)
			return fprintf(stderr, "checkpoint: %s\n",
				       sluice_error_last()->message),
			       1;
		if ((put[r < 0 ? 0 : r] = curl_plain(1, "plain", 0)) < 0 ||
		    (get[r < 0 ? 0 : r] = curl_plain(0, "plain", total)) < 0)
			return 1;
		if (r >= 0) {
			up[r] = u;
			down[r] = d;
			same[r] = g;
		}
	}
	snprintf(name, sizeof(name), "s3_checkpoint_upload_x%d", streams);
	result(name, up, put, rounds);
	snprintf(name, sizeof(name), "s3_checkpoint_restore_x%d", streams);
	result(name, down, get, rounds);
	/* the same objects: what multipart costs on reading, set apart */
	snprintf(name, sizeof(name), "s3_restore_vs_same_objects_x%d", streams);
	result(name, down, same, rounds);
	s3_client_delete_object(sluice__s3_storage_client(st), bucket, "plain");
	sluice_checkpoint_storage_free(cs);
	sluice_storage_free(st);
	free(data);
	curl_global_cleanup();
	return 0;
}
