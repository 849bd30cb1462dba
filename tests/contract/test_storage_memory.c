/* The storage contract against the in-memory storage, bare and behind a
 * fault wrapper that injects nothing (the wrapper must be transparent), and
 * without rename (the object-store commit protocol). */
#include "helper_storage.h"

#include <stdio.h>

static int setup_mem(storage_fixture *f)
{
	if (sluice_storage_memory_new(&f->st) < 0)
		return -1;
	snprintf(f->root, sizeof(f->root), "memory://contract");
	return 0;
}

/* Like an object store: no rename, so `_metadata` is written last. */
static int setup_norename(storage_fixture *f)
{
	if (setup_mem(f) < 0)
		return -1;
	f->st->caps = 0;
	f->st->rename = NULL;
	return 0;
}

static void teardown_mem(storage_fixture *f)
{
	sluice_storage_free(f->st);
}

static int setup_wrapped(storage_fixture *f)
{
	sluice_storage *inner;
	sluice_fault_options o = {SLUICE_FAULT_ANY, 0, 0, 1};

	if (sluice_storage_memory_new(&inner) < 0)
		return -1;
	f->priv = inner;
	if (sluice_fault_storage_new(&f->st, inner, &o) < 0)
		return -1;
	snprintf(f->root, sizeof(f->root), "memory://wrapped");
	return 0;
}

static void teardown_wrapped(storage_fixture *f)
{
	sluice_storage_free(f->st);
	sluice_storage_free(f->priv);
}

int main(void)
{
	static const storage_impl mem = {
		"memory storage", setup_mem, teardown_mem};
	static const storage_impl wrapped = {
		"memory storage behind the fault wrapper (short writes)",
		setup_wrapped, teardown_wrapped};
	static const storage_impl norename = {
		"memory storage without rename (object-store commit)",
		setup_norename, teardown_mem};

	return storage_contract_run(&mem) + storage_contract_run(&wrapped) +
	       storage_contract_run(&norename);
}
