/* The backend contract suite against the embedded RocksDB backend. */
#include "helper_backend.h"
#include "sluice/sys/rocksdb.h"

int main(void)
{
	static sluice_rocksdb_options o;

	sluice_rocksdb_options_init(&o);
	/* small memtables so the suite also reads from SST files */
	o.write_buffer_size = 256 << 10;
	o.block_cache_size = 1 << 20;
	contract_factory = sluice_backend_rocksdb_new;
	contract_factory_ctx = &o;
	return contract_run("rocksdb");
}
