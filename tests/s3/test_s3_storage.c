/*
 * Checkpoint storage on a real S3 server (run by tests/e2e/s3_storage.sh,
 * which starts OpenStack Swift's S3 layer): the storage contract suite on
 * s3:// and obs:// URIs (its checkpoint test commits with `_metadata`
 * written last, as object stores must), and wrong credentials giving an
 * error that names the endpoint and bucket but never the secret.
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
#include "storage/s3/client.h"

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

int main(void)
{
	static const storage_impl s3 = {"s3:// on Swift", setup_s3, teardown};
	static const storage_impl obs = {
		"obs:// on Swift", setup_obs, teardown};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_s3_storage__wrong_secret_names_endpoint_not_secret),
		cmocka_unit_test(
			test_s3_storage__missing_endpoint_is_a_config_error),
	};
	int failed;

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
