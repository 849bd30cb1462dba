/*
 * Flink's state.backend.rocksdb.* keys -> sluice_rdb_options.  Kept apart
 * from the instance code so the RocksDB primitives can be built and
 * tested without the configuration registry.
 */
#include "state/rocksdb/rdb.h"
#include "util/error.h"

#define KEY "state.backend.rocksdb."

static int get_memory_opt(
	const sluice_config *conf, const char *key, uint64_t *out, int *set)
{
	int rc = sluice_config_get_memory(conf, key, out);

	*set = rc == 0;
	return rc == SLUICE_ENOTFOUND ? 0 : rc;
}

int sluice_rocksdb_options_from_config(
	sluice_rocksdb_options *o, const sluice_config *conf)
{
	return sluice__rdb_options_from_config(o, conf);
}

int sluice__rdb_options_from_config(
	sluice_rdb_options *o, const sluice_config *conf)
{
	uint64_t fixed = 0;
	int predefined = 0, has_fixed = 0;

	SLUICE_ERRCHECK(
		sluice_config_get_string(conf, KEY "localdir", &o->local_dir));
	SLUICE_ERRCHECK(sluice_config_get_memory(
		conf, KEY "block.cache-size", &o->block_cache_size));
	SLUICE_ERRCHECK(sluice_config_get_memory(
		conf, KEY "writebuffer.size", &o->write_buffer_size));
	SLUICE_ERRCHECK(sluice_config_get_enum(
		conf, KEY "predefined-options", &predefined));
	SLUICE_ERRCHECK(
		sluice_config_get_int(conf, KEY "thread.num", &o->thread_num));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, KEY "checkpoint.transfer.thread.num",
		&o->transfer_threads));
	SLUICE_ERRCHECK(sluice_config_get_long(
		conf, KEY "compaction.filter.query-time-after-num-entries",
		&o->ttl_query_time_after));
	SLUICE_ERRCHECK(get_memory_opt(
		conf, KEY "memory.fixed-per-slot", &fixed, &has_fixed));
	o->predefined = predefined;
	if (has_fixed) {
		/* no write-buffer manager in the C API: split the budget, half
		 * for the block cache, half for the memtables */
		o->block_cache_size = fixed / 2;
		o->write_buffer_size =
			fixed / 2 /
			(uint64_t)(o->max_write_buffers > 0 ? o->max_write_buffers : 1);
	}
	return 0;
}
