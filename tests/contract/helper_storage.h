/*
 * The storage contract suite: one set of behaviours every checkpoint
 * storage must have, run once per storage (file and memory now; S3 and
 * HDFS later).  A test binary supplies a factory and calls
 * storage_contract_run().
 */
#ifndef SLUICE_TESTS_HELPER_STORAGE_H
#define SLUICE_TESTS_HELPER_STORAGE_H

#include "sluice/sys/storage.h"

typedef struct storage_fixture {
	sluice_storage *st;
	char root[512]; /* an empty directory (URI or path) of the storage */
	void *priv;
} storage_fixture;

typedef struct storage_impl {
	const char *name;
	/* Fill st and root; return 0 or skip the suite with non-zero. */
	int (*setup)(storage_fixture *f);
	void (*teardown)(storage_fixture *f);
} storage_impl;

/* Run every contract test against `impl`; returns failed count. */
int storage_contract_run(const storage_impl *impl);

#endif
