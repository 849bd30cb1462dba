/*
 * Checkpoint storage on a real S3 server (run by tests/e2e/s3_storage.sh,
 * which starts OpenStack Swift's S3 layer): the storage contract suite on
 * s3:// and obs:// URIs (its checkpoint test commits with `_metadata`
 * written last, as object stores must), wrong credentials giving an
 * error that names the endpoint and bucket but never the secret, batched
 * deletes (a directory of 40 objects in one DeleteObjects request, really
 * gone afterwards), entropy injection (state objects under random
 * prefixes, `_metadata` without the marker, aborted checkpoints cleaned; a
 * completed one discovered, verified and discarded with one DELETE and one
 * DeleteObjects), and stale multipart uploads aborted before the first
 * checkpoint of a job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../contract/helper_storage.h"
#include "sluice/config.h"
#include "sluice/sys/metadata.h"
#include "sluice/sys/storage.h"
#include "storage/s3/client.h"
#include "util/alloc.h"

static char bucket[64];
static int run_no;

static sluice_config *test_config(const char *secret)
{
	sluice_config *conf;

	if (sluice_config_new(&conf) < 0)
		return NULL;
	sluice_config_set(
		conf, "s3.endpoint", getenv("SLUICE_TEST_S3_ENDPOINT"),
		SLUICE_CONFIG_API);
	sluice_config_set(
		conf, "fs.obs.access.key", getenv("SLUICE_TEST_S3_ACCESS_KEY"),
		SLUICE_CONFIG_API);
	sluice_config_set(
		conf, "s3.secret-key",
		secret ? secret : getenv("SLUICE_TEST_S3_SECRET_KEY"),
		SLUICE_CONFIG_API);
	sluice_config_set(
		conf, "s3.path.style.access", "true", SLUICE_CONFIG_API);
	return conf;
}

static int make_bucket(void)
{
	s3_client_opts o;
	s3_client *c;
	int rc;

	memset(&o, 0, sizeof(o));
	o.endpoint = getenv("SLUICE_TEST_S3_ENDPOINT");
	o.access_key = getenv("SLUICE_TEST_S3_ACCESS_KEY");
	o.secret_key = getenv("SLUICE_TEST_S3_SECRET_KEY");
	o.path_style = 1;
	if (s3_client_new(&c, &o) < 0)
		return -1;
	rc = s3_client_create_bucket(c, bucket);
	s3_client_free(c);
	return rc == 0 || rc == SLUICE_EEXISTS ? 0 : -1;
}

static int setup(storage_fixture *f, const char *scheme)
{
	sluice_config *conf = test_config(NULL);
	int rc;

	if (!conf)
		return -1;
	rc = sluice_storage_s3_new(&f->st, scheme, conf);
	sluice_config_free(conf);
	if (rc < 0)
		return -1;
	snprintf(
		f->root, sizeof(f->root), "%s://%s/contract-%d", scheme, bucket,
		++run_no);
	return 0;
}

static int setup_s3(storage_fixture *f)
{
	return setup(f, "s3");
}

static int setup_obs(storage_fixture *f)
{
	return setup(f, "obs");
}

static void teardown(storage_fixture *f)
{
	sluice_storage_free(f->st);
}

static void test_s3_storage__wrong_secret_names_endpoint_not_secret(void **st)
{
	sluice_config *conf = test_config("not-the-secret-xyz");
	sluice_storage *s3;
	sluice_istream *in = NULL;
	char path[256];
	const char *msg;

	(void)st;
	assert_int_equal(sluice_storage_s3_new(&s3, "s3", conf), 0);
	snprintf(path, sizeof(path), "s3://%s/anything", bucket);
	assert_true(sluice_storage_open_read(&in, s3, path) < 0);
	msg = sluice_error_last()->message;
	assert_non_null(strstr(msg, getenv("SLUICE_TEST_S3_ENDPOINT")));
	assert_non_null(strstr(msg, bucket));
	assert_null(strstr(msg, "not-the-secret-xyz"));
	sluice_storage_free(s3);
	sluice_config_free(conf);
}

static void test_s3_storage__missing_endpoint_is_a_config_error(void **st)
{
	sluice_storage *s3 = NULL;

	(void)st;
	assert_int_equal(
		sluice_storage_s3_new(&s3, "obs", NULL), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "s3.endpoint"));
}

/* A storage on the test bucket with `entropy` as s3.entropy.key (NULL:
 * none). */
static sluice_storage *s3_with(const char *entropy)
{
	sluice_config *conf = test_config(NULL);
	sluice_storage *s3 = NULL;

	assert_non_null(conf);
	if (entropy) {
		assert_int_equal(
			sluice_config_set(
				conf, "s3.entropy.key", entropy,
				SLUICE_CONFIG_API),
			0);
		assert_int_equal(
			sluice_config_set(
				conf, "s3.entropy.length", "4",
				SLUICE_CONFIG_API),
			0);
	}
	assert_int_equal(sluice_storage_s3_new(&s3, "s3", conf), 0);
	sluice_config_free(conf);
	return s3;
}

typedef struct keys {
	int n, metadata, injected, with_marker;
	const char *after; /* what follows the 4 random characters */
} keys;

static int count_key(void *ctx, const char *key, uint64_t size)
{
	keys *k = ctx;
	int i, alnum = 1;

	(void)size;
	k->n++;
	k->with_marker += strstr(key, "_entropy_") != NULL;
	k->metadata += strstr(key, "/_metadata") != NULL;
	for (i = 0; i < 4 && key[i]; i++)
		alnum &= (key[i] >= 'a' && key[i] <= 'z') ||
			 (key[i] >= 'A' && key[i] <= 'Z') ||
			 (key[i] >= '0' && key[i] <= '9');
	k->injected += alnum && i == 4 && k->after &&
		       !strncmp(key + 4, k->after, strlen(k->after));
	return 0;
}

static keys list_keys(sluice_storage *s3, const char *prefix, const char *after)
{
	keys k = {0, 0, 0, 0, after};

	assert_int_equal(
		s3_client_list(
			sluice__s3_storage_client(s3), bucket, prefix, 0,
			count_key, &k),
		0);
	return k;
}

/* A directory of n objects goes in ceil(n / 1000) DeleteObjects requests
 * (one here), no single DELETEs, and Swift really deletes them. */
static void test_s3_storage__remove_tree_batches_deletes(void **st)
{
	sluice_storage *s3 = s3_with(NULL);
	s3_client_counts before, after;
	char path[256];
	int i;

	(void)st;
	for (i = 0; i < 40; i++) {
		snprintf(
			path, sizeof(path), "s3://%s/batch/chk-%d/f%02d",
			bucket, i % 3, i);
		assert_int_equal(
			sluice_storage_write_file(s3, path, "x", 1), 0);
	}
	assert_int_equal(list_keys(s3, "batch/", NULL).n, 40);
	s3_client_counts_get(sluice__s3_storage_client(s3), &before);
	snprintf(path, sizeof(path), "s3://%s/batch", bucket);
	assert_int_equal(sluice_storage_remove_tree(s3, path), 0);
	s3_client_counts_get(sluice__s3_storage_client(s3), &after);
	assert_int_equal(after.delete_batches - before.delete_batches, 1);
	assert_int_equal(after.keys_deleted - before.keys_deleted, 40);
	assert_int_equal(after.deletes - before.deletes, 0);
	assert_int_equal(list_keys(s3, "batch/", NULL).n, 0);
	sluice_storage_free(s3);
}

/* Shared files no retained checkpoint uses any more leave the registry
 * in one DeleteObjects request, not a HEAD and DELETE each. */
static void
test_s3_storage__registry_releases_shared_files_in_one_batch(void **st)
{
	sluice_storage *s3 = s3_with(NULL);
	sluice_shared_registry *reg;
	s3_client_counts before, after;
	sluice_stream_handle *h;
	char path[256], key[32];
	int i;

	(void)st;
	assert_int_equal(sluice_shared_registry_new(&reg, s3), 0);
	for (i = 0; i < 12; i++) {
		snprintf(
			path, sizeof(path), "s3://%s/reg/shared/sst-%02d",
			bucket, i);
		assert_int_equal(
			sluice_storage_write_file(s3, path, "sst", 3), 0);
		h = sluice_stream_handle_new(
			SLUICE_HANDLE_FILE, path, 3, 0, NULL);
		assert_non_null(h);
		snprintf(key, sizeof(key), "sst-%02d", i);
		/* checkpoints 1 and 2 each use six of them */
		assert_int_equal(
			sluice_shared_registry_register(
				reg, key, h, 1 + i % 2, NULL),
			0);
		sluice_stream_handle_free(h);
	}
	assert_int_equal(list_keys(s3, "reg/", NULL).n, 12);
	s3_client_counts_get(sluice__s3_storage_client(s3), &before);
	/* only checkpoint 2 retained: checkpoint 1's six go */
	assert_int_equal(sluice_shared_registry_unregister_unused(reg, 2), 0);
	s3_client_counts_get(sluice__s3_storage_client(s3), &after);
	assert_int_equal(after.delete_batches - before.delete_batches, 1);
	assert_int_equal(after.keys_deleted - before.keys_deleted, 6);
	assert_int_equal(after.deletes - before.deletes, 0);
	assert_int_equal(list_keys(s3, "reg/", NULL).n, 6);
	assert_int_equal(sluice_shared_registry_unregister_unused(reg, 3), 0);
	assert_int_equal(list_keys(s3, "reg/", NULL).n, 0);
	sluice_shared_registry_free(reg);
	sluice_storage_free(s3);
}

#define JOB "00112233445566778899aabbccddeeff"

static sluice_stream_handle *
put_stream(sluice_location *loc, sluice_scope scope, size_t n)
{
	sluice_ostream *os = NULL;
	sluice_stream_handle *h = NULL;
	char buf[256];
	size_t i;

	memset(buf, 'a' + (int)(n % 26), sizeof(buf));
	assert_int_equal(sluice_location_open_stream(&os, loc, scope), 0);
	for (i = 0; i < n; i += sizeof(buf))
		assert_int_equal(os->write(os, buf, sizeof(buf)), 0);
	assert_int_equal(os->close(os, &h), 0);
	assert_non_null(h);
	return h;
}

/* With s3.entropy.key in the checkpoint dir, state objects land under
 * random 4-character prefixes, _metadata under the path without the key;
 * the state reads back; discarding an aborted location deletes the
 * injected objects (one DeleteObjects request). */
static void test_s3_storage__entropy_injection_on_swift(void **st)
{
	sluice_storage *s3 = s3_with("_entropy_");
	sluice_checkpoint_storage *cs = NULL;
	sluice_storage_options o;
	sluice_location *loc = NULL, *loc2 = NULL;
	sluice_stream_handle *h[3];
	s3_client_counts before, after;
	char dir[128], want[256];
	uint8_t *data = NULL;
	size_t len = 0;
	keys k;
	int i;

	(void)st;
	snprintf(dir, sizeof(dir), "s3://%s/_entropy_/ent", bucket);
	sluice_storage_options_init(&o);
	o.checkpoint_dir = dir;
	o.inline_threshold = 0;
	o.storage = s3;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB), 0);
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 1), 0);
	snprintf(want, sizeof(want), "s3://%s/ent/%s/chk-1", bucket, JOB);
	assert_string_equal(sluice_location_dir(loc), want);
	h[0] = put_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 1000);
	h[1] = put_stream(loc, SLUICE_SCOPE_SHARED, 2000);
	assert_int_equal(sluice_location_commit(loc, "meta", 4), 0);
	k = list_keys(s3, "", "/ent/" JOB "/");
	assert_int_equal(k.with_marker, 0);
	assert_int_equal(k.injected, 2);
	assert_int_equal(list_keys(s3, "ent/", NULL).metadata, 1);
	assert_int_equal(list_keys(s3, "ent/", NULL).n, 1);
	snprintf(
		want, sizeof(want), "s3://%s/ent/%s/chk-1/_metadata", bucket,
		JOB);
	assert_int_equal(sluice_storage_exists(s3, want), 1);
	assert_int_equal(sluice_handle_read(&data, &len, s3, NULL, h[1]), 0);
	assert_int_equal(len, 2048);
	sluice_free_bytes(data);
	/* an aborted checkpoint: its objects lie under random prefixes */
	assert_int_equal(sluice_checkpoint_location_new(&loc2, cs, 2), 0);
	h[2] = put_stream(loc2, SLUICE_SCOPE_EXCLUSIVE, 1000);
	assert_int_equal(list_keys(s3, "", "/ent/" JOB "/chk-2/").injected, 1);
	s3_client_counts_get(sluice__s3_storage_client(s3), &before);
	assert_int_equal(sluice_location_discard(loc2), 0);
	s3_client_counts_get(sluice__s3_storage_client(s3), &after);
	assert_int_equal(after.delete_batches - before.delete_batches, 1);
	assert_int_equal(list_keys(s3, "", "/ent/" JOB "/chk-2/").injected, 0);
	assert_int_equal(list_keys(s3, "", "/ent/" JOB "/").injected, 2);
	for (i = 0; i < 3; i++)
		sluice_stream_handle_free(h[i]);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
	sluice_storage_free(s3);
}

/* A completed checkpoint with entropy: discovered through the plain path,
 * verified, then discarded as retention does: `_metadata` with one
 * DELETE, its 5 state objects (under random prefixes) in one DeleteObjects
 * request, nothing left. */
static void
test_s3_storage__entropy_checkpoint_discovered_and_discarded(void **st)
{
	sluice_storage *s3 = s3_with("_entropy_");
	sluice_checkpoint_storage *cs = NULL;
	sluice_checkpoint_meta *m, *back = NULL;
	sluice_operator_state *op;
	sluice_keyed_handle k = {0, 0, NULL, NULL};
	sluice_storage_options o;
	sluice_location *loc = NULL;
	s3_client_counts before, after;
	char root[128], *dir = NULL;
	int i;

	(void)st;
	snprintf(root, sizeof(root), "s3://%s/_entropy_/ret", bucket);
	sluice_storage_options_init(&o);
	o.checkpoint_dir = root;
	o.inline_threshold = 0;
	o.storage = s3;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB), 0);
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 9), 0);
	assert_int_equal(sluice_checkpoint_meta_new(&m, 9), 0);
	assert_int_equal(
		sluice_checkpoint_meta_add_operator(&op, m, "op", "", 5, 5), 0);
	for (i = 0; i < 5; i++) {
		k.stream = put_stream(loc, SLUICE_SCOPE_EXCLUSIVE, 3000);
		assert_int_equal(
			sluice_subtask_add_keyed(
				&op->subtasks[i], sluice_keyed_handle_dup(&k)),
			0);
		sluice_stream_handle_free(k.stream);
	}
	assert_int_equal(sluice_location_finalize(loc, m), 0);
	sluice_checkpoint_meta_free(m);
	sluice_location_free(loc);
	assert_int_equal(list_keys(s3, "", "/ret/" JOB "/chk-9/").injected, 5);
	assert_int_equal(
		sluice_checkpoint_discover(
			&back, &dir, s3, sluice_checkpoint_storage_job_dir(cs),
			NULL, NULL),
		0);
	assert_int_equal(back->checkpoint_id, 9);
	assert_int_equal(
		sluice_checkpoint_verify(s3, dir, back, NULL, NULL), 0);
	s3_client_counts_get(sluice__s3_storage_client(s3), &before);
	assert_int_equal(sluice_checkpoint_discard(s3, dir, back), 0);
	s3_client_counts_get(sluice__s3_storage_client(s3), &after);
	assert_int_equal(after.deletes - before.deletes, 1);
	assert_int_equal(after.delete_batches - before.delete_batches, 1);
	assert_int_equal(after.keys_deleted - before.keys_deleted, 5);
	assert_int_equal(list_keys(s3, "", "/ret/" JOB "/").injected, 0);
	assert_int_equal(list_keys(s3, "ret/", NULL).n, 0);
	sluice_checkpoint_meta_free(back);
	sluice_free_bytes(dir);
	sluice_checkpoint_storage_free(cs);
	sluice_storage_free(s3);
}

static void start_upload(sluice_storage *s3, const char *key)
{
	char *id = NULL;

	assert_int_equal(
		s3_client_multipart_create(
			sluice__s3_storage_client(s3), &id, bucket, key),
		0);
	sluice__free(id);
}

static size_t uploads(sluice_storage *s3, const char *prefix)
{
	size_t n = 0;

	assert_int_equal(
		s3_client_count_uploads(
			sluice__s3_storage_client(s3), &n, bucket, prefix),
		0);
	return n;
}

/* A killed writer leaves multipart uploads behind; the next run of the
 * job aborts those under its directory (and its entropy prefixes) before
 * its first checkpoint, and nobody else's. */
static void test_s3_storage__first_checkpoint_aborts_stale_uploads(void **st)
{
	sluice_storage *s3 = s3_with("_entropy_");
	sluice_checkpoint_storage *cs = NULL;
	sluice_storage_options o;
	sluice_location *loc = NULL;
	char dir[128];

	(void)st;
	start_upload(s3, "Ab12/stale/" JOB "/chk-3/f1");
	start_upload(s3, "stale/" JOB "/chk-3/_metadata");
	start_upload(s3, "Zz99/stale/" JOB "/shared/f2");
	start_upload(s3, "Ab12/stale/ffffffffffffffffffffffffffffffff/chk-1/x");
	start_upload(s3, "Ab1/stale/" JOB "/chk-3/short");
	assert_int_equal(uploads(s3, ""), 5);
	snprintf(dir, sizeof(dir), "s3://%s/_entropy_/stale", bucket);
	sluice_storage_options_init(&o);
	o.checkpoint_dir = dir;
	o.storage = s3;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB), 0);
	assert_int_equal(uploads(s3, ""), 5); /* no I/O yet */
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 4), 0);
	/* the two injected ones of this job are gone; the plain one is not
	 * under a data path of this storage (entropy on), the other job's
	 * and the malformed one stay */
	assert_int_equal(uploads(s3, ""), 3);
	assert_int_equal(uploads(s3, "Zz99/"), 0);
	assert_int_equal(uploads(s3, "Ab12/stale/" JOB), 0);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
	sluice_storage_free(s3);
	/* without entropy: everything under the job's prefix */
	s3 = s3_with(NULL);
	snprintf(dir, sizeof(dir), "s3://%s/stale", bucket);
	o.checkpoint_dir = dir;
	o.storage = s3;
	assert_int_equal(sluice_checkpoint_storage_new(&cs, &o, JOB), 0);
	assert_int_equal(sluice_checkpoint_location_new(&loc, cs, 4), 0);
	assert_int_equal(uploads(s3, "stale/"), 0);
	assert_int_equal(uploads(s3, ""), 2);
	sluice_location_free(loc);
	sluice_checkpoint_storage_free(cs);
	sluice_storage_free(s3);
}

/* ---- helper commands for the e2e scripts ------------------------------ */

typedef struct census {
	size_t n, metadata, marker, shared;
} census;

static int print_upload(void *ctx, const char *key, const char *upload_id)
{
	(void)ctx;
	printf("%s %s\n", key, upload_id);
	return 0;
}

static int census_key(void *ctx, const char *key, uint64_t size)
{
	census *c = ctx;
	const char *m = getenv("SLUICE_TEST_ENTROPY_KEY");

	(void)size;
	c->n++;
	c->metadata += strstr(key, "/_metadata") != NULL;
	c->marker += m && *m && strstr(key, m) != NULL;
	c->shared += strstr(key, "/shared/") != NULL;
	return 0;
}

/*
 *   test_s3_storage tool mkbucket BUCKET
 *   test_s3_storage tool keys BUCKET PREFIX     "<keys> <_metadata> <marker>
 *                                               <shared/>"
 *   test_s3_storage tool uploads BUCKET PREFIX  in-progress multipart uploads
 *   test_s3_storage tool upload-keys BUCKET PREFIX  "<key> <upload id>" lines
 * against SLUICE_TEST_S3_*; exit 0 or 1 with the error on stderr.
 */
static int tool(int argc, char **argv)
{
	s3_client_opts o;
	s3_client *c = NULL;
	census k = {0, 0, 0, 0};
	size_t n = 0;
	int rc = SLUICE_EINVALID;

	memset(&o, 0, sizeof(o));
	o.endpoint = getenv("SLUICE_TEST_S3_ENDPOINT");
	o.access_key = getenv("SLUICE_TEST_S3_ACCESS_KEY");
	o.secret_key = getenv("SLUICE_TEST_S3_SECRET_KEY");
	o.path_style = 1;
	if (argc < 4 || s3_client_new(&c, &o) < 0) {
		fprintf(stderr, "usage: tool mkbucket|keys|uploads BUCKET "
				"[PREFIX]\n");
		return 2;
	}
	if (!strcmp(argv[2], "mkbucket")) {
		rc = s3_client_create_bucket(c, argv[3]);
		rc = rc == SLUICE_EEXISTS ? 0 : rc;
	} else if (!strcmp(argv[2], "keys") && argc > 4) {
		rc = s3_client_list(c, argv[3], argv[4], 0, census_key, &k);
		if (rc == 0)
			printf("%zu %zu %zu %zu\n", k.n, k.metadata, k.marker,
			       k.shared);
	} else if (!strcmp(argv[2], "upload-keys") && argc > 4) {
		rc = s3_client_list_uploads(
			c, argv[3], argv[4], print_upload, NULL);
	} else if (!strcmp(argv[2], "uploads") && argc > 4) {
		rc = s3_client_count_uploads(c, &n, argv[3], argv[4]);
		if (rc == 0)
			printf("%zu\n", n);
	}
	if (rc < 0)
		fprintf(stderr, "tool %s: %s\n", argv[2],
			sluice_error_last()->message);
	s3_client_free(c);
	return rc < 0;
}

int main(int argc, char **argv)
{
	static const storage_impl s3 = {"s3:// on Swift", setup_s3, teardown};
	static const storage_impl obs = {
		"obs:// on Swift", setup_obs, teardown};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_s3_storage__wrong_secret_names_endpoint_not_secret),
		cmocka_unit_test(
			test_s3_storage__missing_endpoint_is_a_config_error),
		cmocka_unit_test(test_s3_storage__remove_tree_batches_deletes),
		cmocka_unit_test(
			test_s3_storage__registry_releases_shared_files_in_one_batch),
		cmocka_unit_test(test_s3_storage__entropy_injection_on_swift),
		cmocka_unit_test(
			test_s3_storage__entropy_checkpoint_discovered_and_discarded),
		cmocka_unit_test(
			test_s3_storage__first_checkpoint_aborts_stale_uploads),
	};
	int failed;

	if (argc > 1 && !strcmp(argv[1], "tool"))
		return tool(argc, argv);
	if (!getenv("SLUICE_TEST_S3_ENDPOINT")) {
		fprintf(stderr, "skipped: SLUICE_TEST_S3_ENDPOINT not set\n");
		return 77;
	}
	snprintf(bucket, sizeof(bucket), "sluice-storage-%d", (int)getpid());
	if (make_bucket() < 0) {
		fprintf(stderr, "cannot create bucket %s: %s\n", bucket,
			sluice_error_last()->message);
		return 1;
	}
	failed = storage_contract_run(&s3);
	failed += storage_contract_run(&obs);
	failed += cmocka_run_group_tests(tests, NULL, NULL);
	return failed != 0;
}
