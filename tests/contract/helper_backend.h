/*
 * The keyed state backend contract suite: every backend implementing
 * sluice/sys/backend.h must pass it.  A test binary per backend sets the
 * factory and runs the suite (test_backend_<name>.c).
 */
#ifndef SLUICE_TEST_HELPER_BACKEND_H
#define SLUICE_TEST_HELPER_BACKEND_H

#include "sluice/state.h"

/* The backend under test, set by the test binary before running. */
extern sluice_backend_factory contract_factory;
extern void *contract_factory_ctx;

/* Run every contract test; returns the cmocka result. */
int contract_run(const char *backend_name);

#endif
