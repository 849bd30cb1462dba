/*
 * HDFS checkpoint storage over WebHDFS, against the endpoint named by
 * SLUICE_TEST_WEBHDFS_URL (webhdfs://host:port/base-dir): the storage
 * contract suite on webhdfs:// and hdfs:// URIs (its checkpoint test
 * commits by renaming `_metadata` into place), and requests carrying the
 * Hadoop user.  tests/e2e/hdfs_storage.sh runs it against the
 * protocol endpoint written for the tests (tests/hdfs/webhdfs_server.py);
 * point the variable at a real cluster's NameNode HTTP port to run it
 * there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../contract/helper_storage.h"
#include "sluice/config.h"

static const char *base; /* webhdfs://host:port/dir */
static int run_no;

static int setup_scheme(storage_fixture *f, const char *scheme)
{
	if (sluice_storage_hdfs_new(&f->st, scheme, NULL) < 0)
		return -1;
	/* same endpoint, spelled with the other scheme when asked */
	snprintf(
		f->root, sizeof(f->root), "%s%s/contract-%d", scheme,
		strstr(base, "://"), ++run_no);
	return 0;
}

static int setup_webhdfs(storage_fixture *f)
{
	return setup_scheme(f, "webhdfs");
}

static int setup_hdfs(storage_fixture *f)
{
	return setup_scheme(f, "hdfs");
}

static void teardown(storage_fixture *f)
{
	sluice_storage_free(f->st);
}

static void test_hdfs__wrong_user_is_refused_with_the_path(void **st)
{
	sluice_config *conf;
	sluice_storage *h;
	sluice_istream *in = NULL;
	char path[512];

	(void)st;
	if (!getenv("SLUICE_TEST_WEBHDFS_CHECKS_USER"))
		skip();
	assert_int_equal(sluice_config_new(&conf), 0);
	sluice_config_set(
		conf, "hadoop.user.name", "intruder", SLUICE_CONFIG_API);
	assert_int_equal(sluice_storage_hdfs_new(&h, "webhdfs", conf), 0);
	snprintf(path, sizeof(path), "%s/x", base);
	assert_true(sluice_storage_open_read(&in, h, path) < 0);
	assert_non_null(strstr(sluice_error_last()->message, "HTTP 403"));
	assert_non_null(strstr(sluice_error_last()->message, path));
	sluice_storage_free(h);
	sluice_config_free(conf);
}

static void test_hdfs__uri_without_namenode_is_invalid(void **st)
{
	sluice_storage *h;
	sluice_istream *in = NULL;

	(void)st;
	assert_int_equal(sluice_storage_hdfs_new(&h, "hdfs", NULL), 0);
	assert_int_equal(
		sluice_storage_open_read(&in, h, "hdfs:///x"), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "no NameNode"));
	sluice_storage_free(h);
}

int main(void)
{
	static const storage_impl webhdfs = {
		"webhdfs://", setup_webhdfs, teardown};
	static const storage_impl hdfs = {"hdfs://", setup_hdfs, teardown};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_hdfs__wrong_user_is_refused_with_the_path),
		cmocka_unit_test(test_hdfs__uri_without_namenode_is_invalid),
	};
	int failed;

	base = getenv("SLUICE_TEST_WEBHDFS_URL");
	if (!base || strncmp(base, "webhdfs://", 10)) {
		fprintf(stderr, "skipped: SLUICE_TEST_WEBHDFS_URL "
				"(webhdfs://host:port/dir) not set\n");
		return 77;
	}
	failed = storage_contract_run(&webhdfs);
	failed += storage_contract_run(&hdfs);
	failed += cmocka_run_group_tests(tests, NULL, NULL);
	return failed != 0;
}
