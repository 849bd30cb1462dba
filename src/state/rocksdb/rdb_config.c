/*
 * Flink's state.backend.rocksdb.* keys -> sluice_rdb_options.  Kept apart
 * from the instance code so the RocksDB primitives can be built and
 * tested without the configuration registry.
 */
#include <stddef.h>

#include "state/rocksdb/rdb.h"
#include "util/error.h"
#include "util/log.h"

#define KEY       "state.backend.rocksdb."
#define AT(field) offsetof(sluice_rocksdb_tuning, field)

/*
 * The tuning keys: where each goes and its bit.  Enumerations are listed
 * in the registry in RocksDB's numbering, so an index is RocksDB's value.
 */
static const struct tune_key {
	const char *key;
	uint32_t bit;
	sluice_option_type type;
	size_t at;
} tune_keys[] = {
	{KEY "files.open", SLUICE_ROCKSDB_TUNE_FILES_OPEN, SLUICE_OPT_INT,
	 AT(files_open)},
	{KEY "log.level", SLUICE_ROCKSDB_TUNE_LOG_LEVEL, SLUICE_OPT_ENUM,
	 AT(log_level)},
	{KEY "log.max-file-size", SLUICE_ROCKSDB_TUNE_LOG_MAX_FILE_SIZE,
	 SLUICE_OPT_MEMORY, AT(log_max_file_size)},
	{KEY "log.file-num", SLUICE_ROCKSDB_TUNE_LOG_FILE_NUM, SLUICE_OPT_INT,
	 AT(log_file_num)},
	{KEY "log.dir", SLUICE_ROCKSDB_TUNE_LOG_DIR, SLUICE_OPT_STRING,
	 AT(log_dir)},
	{KEY "compaction.style", SLUICE_ROCKSDB_TUNE_COMPACTION_STYLE,
	 SLUICE_OPT_ENUM, AT(compaction_style)},
	{KEY "compaction.level.use-dynamic-size",
	 SLUICE_ROCKSDB_TUNE_DYNAMIC_LEVEL_SIZE, SLUICE_OPT_BOOL,
	 AT(dynamic_level_size)},
	{KEY "compaction.level.target-file-size-base",
	 SLUICE_ROCKSDB_TUNE_TARGET_FILE_SIZE_BASE, SLUICE_OPT_MEMORY,
	 AT(target_file_size_base)},
	{KEY "compaction.level.max-size-level-base",
	 SLUICE_ROCKSDB_TUNE_MAX_SIZE_LEVEL_BASE, SLUICE_OPT_MEMORY,
	 AT(max_size_level_base)},
	{KEY "writebuffer.number-to-merge",
	 SLUICE_ROCKSDB_TUNE_WRITE_BUFFERS_TO_MERGE, SLUICE_OPT_INT,
	 AT(write_buffers_to_merge)},
	{KEY "block.blocksize", SLUICE_ROCKSDB_TUNE_BLOCK_SIZE,
	 SLUICE_OPT_MEMORY, AT(block_size)},
	{KEY "block.metadata-blocksize",
	 SLUICE_ROCKSDB_TUNE_METADATA_BLOCK_SIZE, SLUICE_OPT_MEMORY,
	 AT(metadata_block_size)},
	{KEY "use-bloom-filter", SLUICE_ROCKSDB_TUNE_BLOOM_FILTER,
	 SLUICE_OPT_BOOL, AT(bloom_filter)},
	{KEY "bloom-filter.bits-per-key",
	 SLUICE_ROCKSDB_TUNE_BLOOM_BITS_PER_KEY, SLUICE_OPT_DOUBLE,
	 AT(bloom_bits_per_key)},
	{KEY "compression.per.level", SLUICE_ROCKSDB_TUNE_COMPRESSION,
	 SLUICE_OPT_ENUM_LIST, AT(compression)},
};

/* 1 when the configuration holds `key` (not just its default). */
static int is_set(const sluice_config *conf, const char *key)
{
	const char *raw = NULL, *alias = NULL;
	sluice_config_source src = SLUICE_CONFIG_DEFAULT;

	return sluice_config_lookup(conf, key, &raw, &src, &alias) == 0 &&
	       raw && src != SLUICE_CONFIG_DEFAULT;
}

static int read_tune_key(
	sluice_rocksdb_tuning *t,
	const sluice_config *conf,
	const struct tune_key *k)
{
	char *p = (char *)t + k->at;
	size_t n = 0;
	int list[SLUICE_CONFIG_LIST_MAX], i;

	switch (k->type) {
	case SLUICE_OPT_INT:
		return sluice_config_get_int(conf, k->key, (int32_t *)p);
	case SLUICE_OPT_ENUM:
		return sluice_config_get_enum(conf, k->key, (int *)p);
	case SLUICE_OPT_BOOL:
		return sluice_config_get_bool(conf, k->key, (int *)p);
	case SLUICE_OPT_MEMORY:
		return sluice_config_get_memory(conf, k->key, (uint64_t *)p);
	case SLUICE_OPT_DOUBLE:
		return sluice_config_get_double(conf, k->key, (double *)p);
	case SLUICE_OPT_STRING:
		return sluice_config_get_string(conf, k->key, (const char **)p);
	case SLUICE_OPT_ENUM_LIST:
		SLUICE_ERRCHECK(
			sluice_config_get_enum_list(conf, k->key, list, &n));
		if (n > SLUICE_ROCKSDB_MAX_LEVELS)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
				"Could not parse value for key '%s'. expected "
				"at most %d entries, one per level",
				k->key, SLUICE_ROCKSDB_MAX_LEVELS);
		for (i = 0; i < (int)n; i++)
			t->compression[i] = list[i];
		t->num_compression = (int)n;
		return 0;
	default:
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"rocksdb: key '%s' has an unexpected type", k->key);
	}
}

/* The tuning keys the configuration sets, checked as Flink checks them. */
static int read_tuning(sluice_rocksdb_tuning *t, const sluice_config *conf)
{
	size_t i;
	int block_based = 0, style;

	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, KEY "bloom-filter.block-based-mode", &block_based));
	if (block_based)
		sluice__warn(
			"%sbloom-filter.block-based-mode: RocksDB 7 removed "
			"block-based filters; full filters are built instead",
			KEY);

	for (i = 0; i < sizeof(tune_keys) / sizeof(tune_keys[0]); i++) {
		if (!is_set(conf, tune_keys[i].key))
			continue;
		SLUICE_ERRCHECK(read_tune_key(t, conf, &tune_keys[i]));
		t->set |= tune_keys[i].bit;
	}
	style = t->set & SLUICE_ROCKSDB_TUNE_COMPACTION_STYLE
			? t->compaction_style
			: SLUICE_ROCKSDB_COMPACTION_LEVEL;
	if (style == SLUICE_ROCKSDB_COMPACTION_FIFO)
		sluice__warn(
			"%scompaction.style FIFO: RocksDB deletes the oldest "
			"files once they pass 1 GB in total, and the state "
			"in them is lost",
			KEY);
	else if (style == SLUICE_ROCKSDB_COMPACTION_NONE)
		sluice__warn(
			"%scompaction.style NONE: nothing is compacted; "
			"RocksDB stops writes once level 0 holds 36 files",
			KEY);
	return sluice__rdb_tuning_check(t);
}

static int get_memory_opt(
	const sluice_config *conf, const char *key, uint64_t *out, int *set)
{
	int rc = sluice_config_get_memory(conf, key, out);

	*set = rc == 0;
	return rc == SLUICE_ENOTFOUND ? 0 : rc;
}

/*
 * What a predefined profile sets among the keys every configuration has
 * (Flink's PredefinedOptions: four background threads in every profile
 * but DEFAULT; four write buffers and a 256 MB block cache in
 * SPINNING_DISK_OPTIMIZED_HIGH_MEM).  The configuration's own value wins.
 */
static void profile_values(sluice_rdb_options *o, const sluice_config *conf)
{
	if (o->predefined != SLUICE_RDB_DEFAULT &&
	    !is_set(conf, KEY "thread.num"))
		o->thread_num = 4;
	if (o->predefined != SLUICE_RDB_SPINNING_DISK_OPTIMIZED_HIGH_MEM)
		return;
	if (!is_set(conf, KEY "writebuffer.count"))
		o->max_write_buffers = 4;
	if (!is_set(conf, KEY "block.cache-size"))
		o->block_cache_size = 256u << 20;
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
		conf, KEY "writebuffer.count", &o->max_write_buffers));
	SLUICE_ERRCHECK(read_tuning(&o->tuning, conf));
	SLUICE_ERRCHECK(sluice_config_get_int(
		conf, KEY "checkpoint.transfer.thread.num",
		&o->transfer_threads));
	SLUICE_ERRCHECK(sluice_config_get_long(
		conf, KEY "compaction.filter.query-time-after-num-entries",
		&o->ttl_query_time_after));
	SLUICE_ERRCHECK(get_memory_opt(
		conf, KEY "memory.fixed-per-slot", &fixed, &has_fixed));
	o->predefined = predefined;
	profile_values(o, conf);
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
