/* The storage contract against the local file storage (bare paths and
 * file:// URIs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper_storage.h"

static int setup_path(storage_fixture *f)
{
	char tmpl[] = "/tmp/sluice-contract-XXXXXX";

	if (!mkdtemp(tmpl))
		return -1;
	f->st = sluice_storage_file_get();
	snprintf(f->root, sizeof(f->root), "%s", tmpl);
	return 0;
}

static int setup_uri(storage_fixture *f)
{
	char tmpl[] = "/tmp/sluice-contract-XXXXXX";

	if (!mkdtemp(tmpl))
		return -1;
	if (sluice_storage_for_uri(&f->st, "file:///") < 0)
		return -1;
	snprintf(f->root, sizeof(f->root), "file://%s", tmpl);
	return 0;
}

static void teardown(storage_fixture *f)
{
	sluice_storage_remove_tree(f->st, f->root);
	sluice_storage_rmdir(f->st, f->root);
}

int main(void)
{
	static const storage_impl bare = {
		"file storage (paths)", setup_path, teardown};
	static const storage_impl uri = {
		"file storage (file:// URIs)", setup_uri, teardown};

	return storage_contract_run(&bare) + storage_contract_run(&uri);
}
