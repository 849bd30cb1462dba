/*
 * A RocksDB instance of the rocksdb backend: options from Flink's keys,
 * opening a fresh or restored database with one column family per state,
 * point operations, prefix iteration, range deletes and native
 * checkpoints.  This is the edge where RocksDB's `char **errptr` becomes
 * our return code and last error.  Behaviour is documented in rdb.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/rocksdb/rdb_impl.h"
#include "util/alloc.h"
#include "util/error.h"

void sluice_rocksdb_options_init(sluice_rocksdb_options *o)
{
	sluice__rdb_options_init(o);
}

void sluice__rdb_options_init(sluice_rdb_options *o)
{
	memset(o, 0, sizeof(*o));
	o->version = SLUICE_ROCKSDB_OPTIONS_VERSION;
	o->block_cache_size = 8u << 20;
	o->write_buffer_size = 64u << 20;
	o->max_write_buffers = 2;
	o->predefined = SLUICE_RDB_DEFAULT;
	o->thread_num = 2;
	o->transfer_threads = 4;
	o->ttl_query_time_after = 1000;
	o->tuning.files_open = -1;
	o->tuning.log_level = 1; /* INFO_LEVEL */
	o->tuning.log_max_file_size = 25u << 20;
	o->tuning.log_file_num = 4;
	o->tuning.compaction_style = SLUICE_ROCKSDB_COMPACTION_LEVEL;
	o->tuning.target_file_size_base = 64u << 20;
	o->tuning.max_size_level_base = 256u << 20;
	o->tuning.write_buffers_to_merge = 1;
	o->tuning.block_size = 4u << 10;
	o->tuning.metadata_block_size = 4u << 10;
	o->tuning.bloom_bits_per_key = 10.0;
	o->tuning.compression[0] = 1; /* SNAPPY_COMPRESSION */
	o->tuning.num_compression = 1;
}

int sluice__rdb_tuning_check(const sluice_rocksdb_tuning *t)
{
	const char *what = NULL;
	int i;

	if ((t->set & SLUICE_ROCKSDB_TUNE_BLOOM_BITS_PER_KEY) &&
	    !(t->bloom_bits_per_key > 0.0))
		what = "bloom-filter.bits-per-key: bits per key must be "
		       "larger than 0";
	else if (
		(t->set & SLUICE_ROCKSDB_TUNE_LOG_DIR) &&
		(!t->log_dir || t->log_dir[0] != '/'))
		what = "Configured path for key state.backend.rocksdb.log.dir "
		       "is not absolute.";
	else if (t->log_level < 0 || t->log_level > 6)
		what = "log.level: expected DEBUG_LEVEL (0) to "
		       "NUM_INFO_LOG_LEVELS (6)";
	else if (t->log_file_num < 1)
		what = "log.file-num: must be larger than 0";
	else if (
		t->compaction_style < SLUICE_ROCKSDB_COMPACTION_LEVEL ||
		t->compaction_style > SLUICE_ROCKSDB_COMPACTION_NONE)
		what = "compaction.style: expected LEVEL, UNIVERSAL, FIFO or "
		       "NONE";
	else if (
		t->write_buffers_to_merge < 1 || t->block_size == 0 ||
		t->metadata_block_size == 0 || t->target_file_size_base == 0 ||
		t->max_size_level_base == 0)
		what = "sizes and counts must be larger than 0";
	else if (
		t->num_compression < 1 ||
		t->num_compression > SLUICE_ROCKSDB_MAX_LEVELS)
		what = "compression.per.level: expected 1 to 8 entries";
	for (i = 0; !what && i < t->num_compression; i++)
		if (t->compression[i] < 0 || t->compression[i] > 7)
			what = "compression.per.level: unknown compression "
			       "type";
	if (what)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"rocksdb options: %s", what);
	return 0;
}

int sluice__rdb_err(char *err, const char *fmt, ...)
{
	char what[512];
	int code = SLUICE_ERROR;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err && strstr(err, "Corruption"))
		code = SLUICE_ECORRUPT;
	else if (err && strstr(err, "IO error"))
		code = SLUICE_EIO;
	else if (err && strstr(err, "Invalid argument"))
		code = SLUICE_EINVALID;
	sluice__error_set(
		code, SLUICE_ERRCLS_ROCKSDB, "%s: %s", what,
		err ? err : "unknown RocksDB error");
	rocksdb_free(err);
	return code;
}

/* Flink's PredefinedOptions, in our words: profiles tuned per disk. */
static void apply_predefined(
	rocksdb_options_t *opts,
	rocksdb_block_based_table_options_t *table,
	int p)
{
	rocksdb_options_set_max_open_files(opts, -1);
	rocksdb_options_set_use_fsync(opts, 0);
	if (p == SLUICE_RDB_DEFAULT || p == SLUICE_RDB_FLASH_SSD_OPTIMIZED)
		return; /* their four threads: thread.num (rdb_config.c) */
	rocksdb_options_set_compaction_style(opts, rocksdb_level_compaction);
	rocksdb_options_set_level_compaction_dynamic_level_bytes(opts, 1);
	if (p != SLUICE_RDB_SPINNING_DISK_OPTIMIZED_HIGH_MEM)
		return;
	rocksdb_options_set_target_file_size_base(opts, 256u << 20);
	rocksdb_options_set_max_bytes_for_level_base(opts, 1u << 30);
	rocksdb_options_set_min_write_buffer_number_to_merge(opts, 3);
	rocksdb_block_based_options_set_block_size(table, 128u << 10);
	/* and a Bloom filter: apply_tuning decides the filter */
}

/*
 * The tuning on top of the profile: what `set` names, and the log
 * settings always (Flink's log defaults differ from RocksDB's and no
 * profile sets them).  Before the table factory is installed: it copies
 * the table options.
 */
static void apply_tuning(sluice_rdb *db)
{
	const sluice_rocksdb_tuning *t = &db->o.tuning;
	uint32_t set = t->set;
	int bloom;

	rocksdb_options_set_info_log_level(db->opts, t->log_level);
	rocksdb_options_set_max_log_file_size(db->opts, t->log_max_file_size);
	rocksdb_options_set_keep_log_file_num(db->opts, t->log_file_num);
	if (set & SLUICE_ROCKSDB_TUNE_LOG_DIR)
		rocksdb_options_set_db_log_dir(db->opts, t->log_dir);
	if (set & SLUICE_ROCKSDB_TUNE_FILES_OPEN)
		rocksdb_options_set_max_open_files(db->opts, t->files_open);
	if (set & SLUICE_ROCKSDB_TUNE_COMPACTION_STYLE)
		rocksdb_options_set_compaction_style(
			db->opts, t->compaction_style);
	if (set & SLUICE_ROCKSDB_TUNE_DYNAMIC_LEVEL_SIZE)
		rocksdb_options_set_level_compaction_dynamic_level_bytes(
			db->opts, (unsigned char)(t->dynamic_level_size != 0));
	if (set & SLUICE_ROCKSDB_TUNE_TARGET_FILE_SIZE_BASE)
		rocksdb_options_set_target_file_size_base(
			db->opts, t->target_file_size_base);
	if (set & SLUICE_ROCKSDB_TUNE_MAX_SIZE_LEVEL_BASE)
		rocksdb_options_set_max_bytes_for_level_base(
			db->opts, t->max_size_level_base);
	if (set & SLUICE_ROCKSDB_TUNE_WRITE_BUFFERS_TO_MERGE)
		rocksdb_options_set_min_write_buffer_number_to_merge(
			db->opts, t->write_buffers_to_merge);
	if (set & SLUICE_ROCKSDB_TUNE_BLOCK_SIZE)
		rocksdb_block_based_options_set_block_size(
			db->table, t->block_size);
	if (set & SLUICE_ROCKSDB_TUNE_METADATA_BLOCK_SIZE)
		rocksdb_block_based_options_set_metadata_block_size(
			db->table, t->metadata_block_size);
	/* use-bloom-filter, else the profile's: only HIGH_MEM has one */
	bloom = set & SLUICE_ROCKSDB_TUNE_BLOOM_FILTER
			? t->bloom_filter
			: db->o.predefined ==
				  SLUICE_RDB_SPINNING_DISK_OPTIMIZED_HIGH_MEM;
	if (bloom)
		rocksdb_block_based_options_set_filter_policy(
			db->table, rocksdb_filterpolicy_create_bloom_full(
					   t->bloom_bits_per_key));
	if (set & SLUICE_ROCKSDB_TUNE_COMPRESSION)
		rocksdb_options_set_compression_per_level(
			db->opts, (int *)t->compression,
			(size_t)t->num_compression);
}

static int make_options(sluice_rdb *db)
{
	const sluice_rdb_options *o = &db->o;

	if (!(db->opts = rocksdb_options_create()) ||
	    !(db->table = rocksdb_block_based_options_create()) ||
	    !(db->cache = rocksdb_cache_create_lru(o->block_cache_size)) ||
	    !(db->wo = rocksdb_writeoptions_create()) ||
	    !(db->ro = rocksdb_readoptions_create()))
		return sluice__error_oom();
	rocksdb_options_set_create_if_missing(db->opts, 1);
	rocksdb_options_set_create_missing_column_families(db->opts, 1);
	apply_predefined(db->opts, db->table, o->predefined);
	apply_tuning(db);
	rocksdb_options_increase_parallelism(db->opts, o->thread_num);
	rocksdb_options_set_max_background_jobs(db->opts, o->thread_num);
	rocksdb_options_set_write_buffer_size(db->opts, o->write_buffer_size);
	rocksdb_options_set_max_write_buffer_number(
		db->opts, o->max_write_buffers);
	rocksdb_block_based_options_set_block_cache(db->table, db->cache);
	rocksdb_options_set_block_based_table_factory(db->opts, db->table);
	rocksdb_options_set_stats_dump_period_sec(db->opts, 0);
	rocksdb_options_set_merge_operator(
		db->opts, sluice__rdb_merge_operator());
	/* checkpoints give durability: no WAL */
	rocksdb_writeoptions_disable_WAL(db->wo, 1);
	return 0;
}

static void cf_free(sluice_rdb_cf *cf)
{
	if (!cf)
		return;
	sluice__free(cf->name);
	if (cf->opts)
		rocksdb_options_destroy(cf->opts);
	sluice__rdb_filter_free(cf->filter);
	sluice__free(cf);
}

/* A column family record with its own options, merge operator, filter. */
static int cf_new(sluice_rdb_cf **out, sluice_rdb *db, const char *name)
{
	sluice_rdb_cf *cf = sluice__calloc(1, sizeof(*cf));
	int error;

	*out = NULL;
	if (!cf || !(cf->name = sluice__strdup(name))) {
		cf_free(cf);
		return sluice__error_oom();
	}
	if ((error = sluice__rdb_filter_new(
		     &cf->filter, db->o.clock, db->o.ttl_query_time_after)) <
	    0) {
		cf_free(cf);
		return error;
	}
	cf->opts = rocksdb_options_create_copy(db->opts);
	rocksdb_options_set_merge_operator(
		cf->opts, sluice__rdb_merge_operator());
	rocksdb_options_set_compaction_filter(
		cf->opts, sluice__rdb_filter_handle(cf->filter));
	*out = cf;
	return 0;
}

static int cf_append(sluice_rdb *db, sluice_rdb_cf *cf)
{
	sluice_rdb_cf **n =
		sluice__reallocarray(db->cfs, db->ncf + 1, sizeof(*n));

	if (!n)
		return sluice__error_oom();
	db->cfs = n;
	db->cfs[db->ncf++] = cf;
	return 0;
}

int sluice__rdb_alloc(
	sluice_rdb **out,
	const sluice_rdb_options *o,
	const char *label,
	int32_t max_parallelism)
{
	const char *base = o->local_dir;
	char name[256];
	sluice_rdb *db;
	int error;

	*out = NULL;
	if (!base && !(base = getenv("TMPDIR")))
		base = "/tmp";
	if (!(db = sluice__calloc(1, sizeof(*db))))
		return sluice__error_oom();
	db->o = *o;
	/* borrowed pointers are not kept */
	db->o.local_dir = NULL;
	db->o.label = NULL;
	db->o.restore = NULL;
	db->o.num_restore = 0;
	db->o.transfer = NULL;
	if (!db->o.clock)
		db->o.clock = sluice_clock_system();
	db->kg_bytes = sluice__rdb_kg_bytes(max_parallelism);
	db->owner_fd = -1;
	db->last_completed = -1;
	pthread_mutex_init(&db->mu, NULL);
	sluice__rdb_random_id(db->id);
	snprintf(name, sizeof(name), "sluice-rdb-%s-%s", label, db->id);
	if (!(db->path = sluice__rdb_join(base, name)) ||
	    !(db->db_path = sluice__rdb_join(db->path, "db"))) {
		error = sluice__error_oom();
		goto fail;
	}
	if ((error = sluice__rdb_tuning_check(&db->o.tuning)) < 0 ||
	    (error = sluice__rdb_claim_dir(base, name, &db->owner_fd)) < 0 ||
	    (error = make_options(db)) < 0)
		goto fail;
	db->o.tuning.log_dir = NULL; /* borrowed: copied into the options */
	*out = db;
	return 0;
fail:
	sluice__rdb_free(db);
	return error;
}

/* Names of the column families in db->db_path (or just "default"). */
static int existing_cfs(sluice_rdb *db, char ***names, size_t *n)
{
	char *err = NULL;
	char *current = sluice__rdb_join(db->db_path, "CURRENT");
	FILE *f;

	*names = NULL;
	*n = 0;
	if (!current)
		return sluice__error_oom();
	f = fopen(current, "r");
	sluice__free(current);
	if (!f)
		return 0;
	fclose(f);
	*names = rocksdb_list_column_families(db->opts, db->db_path, n, &err);
	if (err)
		return sluice__rdb_err(
			err, "rocksdb: list column families of '%s'",
			db->db_path);
	return 0;
}

static int open_with(sluice_rdb *db, char **names, size_t n)
{
	size_t total = n ? n : 1, i;
	const char **cf_names = sluice__calloc(total, sizeof(*cf_names));
	const rocksdb_options_t **cf_opts =
		sluice__calloc(total, sizeof(*cf_opts));
	rocksdb_column_family_handle_t **hs =
		sluice__calloc(total, sizeof(*hs));
	char *err = NULL;
	int error = 0;

	if (!cf_names || !cf_opts || !hs) {
		error = sluice__error_oom();
		goto done;
	}
	cf_names[0] = "default";
	cf_opts[0] = db->opts;
	for (i = 0; i < n; i++) {
		sluice_rdb_cf *cf;

		cf_names[i] = names[i];
		cf_opts[i] = db->opts;
		if (!strcmp(names[i], "default"))
			continue;
		if ((error = cf_new(&cf, db, names[i])) < 0)
			goto done;
		if ((error = cf_append(db, cf)) < 0) {
			cf_free(cf);
			goto done;
		}
		cf_opts[i] = cf->opts;
	}
	db->db = rocksdb_open_column_families(
		db->opts, db->db_path, (int)total, cf_names, cf_opts, hs, &err);
	if (err) {
		error = sluice__rdb_err(err, "rocksdb: open '%s'", db->db_path);
		goto done;
	}
	for (i = 0; i < total; i++) {
		size_t k;

		if (!strcmp(cf_names[i], "default")) {
			db->default_cf = hs[i];
			continue;
		}
		for (k = 0; k < db->ncf; k++)
			if (!strcmp(db->cfs[k]->name, cf_names[i]))
				db->cfs[k]->h = hs[i];
	}
done:
	sluice__free(cf_names);
	sluice__free(cf_opts);
	sluice__free(hs);
	return error;
}

int sluice__rdb_layout(
	rocksdb_t *rdb,
	rocksdb_readoptions_t *ro,
	rocksdb_column_family_handle_t *cf,
	int *kg_bytes)
{
	char *err = NULL;
	size_t n = 0;
	char *v = rocksdb_get_cf(
		rdb, ro, cf, SLUICE_RDB_LAYOUT_KEY,
		sizeof(SLUICE_RDB_LAYOUT_KEY) - 1, &n, &err);
	int ok;

	if (err)
		return sluice__rdb_err(err, "rocksdb: read the key layout");
	if (!v)
		return SLUICE_ENOTFOUND;
	ok = n == 1 && (v[0] == 1 || v[0] == 2);
	if (ok)
		*kg_bytes = v[0];
	rocksdb_free(v);
	if (!ok)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_ROCKSDB,
			"rocksdb: key layout record of %zu bytes is invalid",
			n);
	return 0;
}

/* A restored database keeps the key-group width it was written with. */
static int layout(sluice_rdb *db)
{
	char w = (char)db->kg_bytes, *err = NULL;
	int rc = sluice__rdb_layout(
		db->db, db->ro, db->default_cf, &db->kg_bytes);

	if (rc != SLUICE_ENOTFOUND)
		return rc;
	rocksdb_put_cf(
		db->db, db->wo, db->default_cf, SLUICE_RDB_LAYOUT_KEY,
		sizeof(SLUICE_RDB_LAYOUT_KEY) - 1, &w, 1, &err);
	if (err)
		return sluice__rdb_err(err, "rocksdb: write the key layout");
	return 0;
}

int sluice__rdb_open_db(sluice_rdb *db)
{
	char **names = NULL;
	size_t n = 0;
	int error;

	if ((error = existing_cfs(db, &names, &n)) < 0)
		return error;
	error = open_with(db, names, n);
	if (names)
		rocksdb_list_column_families_destroy(names, n);
	return error < 0 ? error : layout(db);
}

int sluice__rdb_open(
	sluice_rdb **out,
	const sluice_rdb_options *o,
	const char *label,
	int32_t max_parallelism)
{
	sluice_rdb *db;
	int error;

	*out = NULL;
	SLUICE_ERRCHECK(sluice__rdb_alloc(&db, o, label, max_parallelism));
	if ((error = sluice__rdb_open_db(db)) < 0) {
		sluice__rdb_free(db);
		return error;
	}
	*out = db;
	return 0;
}

void sluice__rdb_free(sluice_rdb *db)
{
	size_t i;

	if (!db)
		return;
	for (i = 0; i < db->ncf; i++)
		if (db->cfs[i]->h)
			rocksdb_column_family_handle_destroy(db->cfs[i]->h);
	if (db->default_cf)
		rocksdb_column_family_handle_destroy(db->default_cf);
	if (db->db)
		rocksdb_close(db->db);
	/* filters only after the DB that points at them is closed */
	for (i = 0; i < db->ncf; i++)
		cf_free(db->cfs[i]);
	sluice__free(db->cfs);
	if (db->opts)
		rocksdb_options_destroy(db->opts);
	if (db->table)
		rocksdb_block_based_options_destroy(db->table);
	if (db->cache)
		rocksdb_cache_destroy(db->cache);
	if (db->wo)
		rocksdb_writeoptions_destroy(db->wo);
	if (db->ro)
		rocksdb_readoptions_destroy(db->ro);
	for (i = 0; i < db->nuploaded; i++) {
		size_t k;

		for (k = 0; k < db->uploaded[i].count; k++) {
			sluice__free(db->uploaded[i].files[k].name);
			sluice__free(db->uploaded[i].files[k].key);
		}
		sluice__free(db->uploaded[i].files);
	}
	sluice__free(db->uploaded);
	if (db->path && db->owner_fd >= 0)
		sluice__rdb_rmtree(db->path);
	if (db->owner_fd >= 0)
		close(db->owner_fd); /* after the removal: never swept alive */
	sluice__free(db->path);
	sluice__free(db->db_path);
	pthread_mutex_destroy(&db->mu);
	sluice__free(db);
}

const char *sluice__rdb_path(const sluice_rdb *db)
{
	return db->path;
}

const char *sluice__rdb_backend_id(const sluice_rdb *db)
{
	return db->id;
}

int sluice__rdb_kg_width(const sluice_rdb *db)
{
	return db->kg_bytes;
}

size_t sluice__rdb_cf_count(const sluice_rdb *db)
{
	return db->ncf;
}

sluice_rdb_cf *sluice__rdb_cf_at(const sluice_rdb *db, size_t i)
{
	return i < db->ncf ? db->cfs[i] : NULL;
}

const char *sluice__rdb_cf_name(const sluice_rdb_cf *cf)
{
	return cf->name;
}

int sluice__rdb_cf(
	sluice_rdb_cf **out,
	sluice_rdb *db,
	const char *name,
	sluice_rdb_kind kind,
	int64_t ttl_ms)
{
	sluice_rdb_cf *cf = NULL;
	char *err = NULL;
	size_t i;
	int error;

	*out = NULL;
	if (!strcmp(name, "default"))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_ROCKSDB,
			"rocksdb: state name 'default' is reserved");
	for (i = 0; i < db->ncf; i++)
		if (!strcmp(db->cfs[i]->name, name))
			cf = db->cfs[i];
	if (!cf) {
		SLUICE_ERRCHECK(cf_new(&cf, db, name));
		cf->h = rocksdb_create_column_family(
			db->db, cf->opts, name, &err);
		if (err) {
			cf_free(cf);
			return sluice__rdb_err(
				err, "rocksdb: create column family '%s'",
				name);
		}
		if ((error = cf_append(db, cf)) < 0) {
			rocksdb_drop_column_family(db->db, cf->h, &err);
			rocksdb_free(err);
			rocksdb_column_family_handle_destroy(cf->h);
			cf_free(cf);
			return error;
		}
	}
	cf->kind = kind;
	sluice__rdb_filter_configure(cf->filter, kind, ttl_ms);
	*out = cf;
	return 0;
}

int sluice__rdb_get(
	sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice key, sluice_buf *out)
{
	char *err = NULL;
	rocksdb_pinnableslice_t *v = rocksdb_get_pinned_cf(
		db->db, db->ro, cf->h, key.data, key.len, &err);
	const char *p;
	size_t n;
	int error;

	if (err)
		return sluice__rdb_err(err, "rocksdb: get from '%s'", cf->name);
	if (!v)
		return SLUICE_ENOTFOUND;
	p = rocksdb_pinnableslice_value(v, &n);
	sluice_buf_clear(out);
	error = sluice_buf_put(out, p, n);
	rocksdb_pinnableslice_destroy(v);
	return error;
}

int sluice__rdb_put(
	sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice key, sluice_slice val)
{
	char *err = NULL;

	rocksdb_put_cf(
		db->db, db->wo, cf->h, key.data, key.len, val.data, val.len,
		&err);
	if (err)
		return sluice__rdb_err(err, "rocksdb: put into '%s'", cf->name);
	return 0;
}

int sluice__rdb_delete(sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice key)
{
	char *err = NULL;

	rocksdb_delete_cf(db->db, db->wo, cf->h, key.data, key.len, &err);
	if (err)
		return sluice__rdb_err(
			err, "rocksdb: delete from '%s'", cf->name);
	return 0;
}

int sluice__rdb_merge(
	sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice key, sluice_slice val)
{
	char *err = NULL;

	rocksdb_merge_cf(
		db->db, db->wo, cf->h, key.data, key.len, val.data, val.len,
		&err);
	if (err)
		return sluice__rdb_err(
			err, "rocksdb: merge into '%s'", cf->name);
	return 0;
}
