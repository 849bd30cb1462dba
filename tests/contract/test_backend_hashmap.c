/* The backend contract suite against the in-memory hashmap backend. */
#include "helper_backend.h"

int main(void)
{
	contract_factory = sluice_backend_hashmap_new;
	contract_factory_ctx = NULL;
	return contract_run("hashmap");
}
