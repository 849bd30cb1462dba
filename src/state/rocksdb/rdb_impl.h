/*
 * Internals shared by the .c files of src/state/rocksdb: the instance
 * struct, the RocksDB error edge, the merge operator, the TTL compaction
 * filter and small filesystem helpers.  The only header that includes
 * <rocksdb/c.h>; never included outside this directory.
 */
#ifndef SLUICE_STATE_ROCKSDB_RDB_IMPL_H
#define SLUICE_STATE_ROCKSDB_RDB_IMPL_H

#include <pthread.h>
#include <rocksdb/c.h>

#include "state/rocksdb/rdb.h"

typedef struct sluice_rdb_filter sluice_rdb_filter;

struct sluice_rdb_cf {
	char *name;
	rocksdb_column_family_handle_t *h;
	rocksdb_options_t *opts; /* owns the merge operator */
	sluice_rdb_filter *filter;
	sluice_rdb_kind kind;
};

/* One SST file of a checkpoint as the tracker remembers it. */
typedef struct sluice_rdb_sst {
	char *name; /* local file name, "000012.sst" */
	char *key;  /* registry key (handle path) */
	uint64_t size;
	uint64_t checksum;
} sluice_rdb_sst;

/* uploaded[checkpoint id] (spec §6.2 step 5) */
typedef struct sluice_rdb_upload_set {
	int64_t checkpoint_id;
	size_t count;
	sluice_rdb_sst *files;
} sluice_rdb_upload_set;

struct sluice_rdb {
	sluice_rdb_options o; /* local_dir cleared: not kept */
	char *path;           /* instance dir */
	char *db_path;        /* <path>/db */
	char id[33];
	int owner_fd; /* lock on <path>/OWNER while alive, -1 = none */
	int kg_bytes;
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_block_based_table_options_t *table;
	rocksdb_cache_t *cache;
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	rocksdb_column_family_handle_t *default_cf;
	sluice_rdb_cf **cfs;
	size_t ncf;
	/* incremental snapshot bookkeeping (rdb_snapshot.c) */
	pthread_mutex_t mu;
	sluice_rdb_upload_set *uploaded;
	size_t nuploaded;
	int64_t last_completed; /* -1 = none */
};

/*
 * Turn a RocksDB error string into the last error ("<what>: <err>") and
 * free it.  Code: ECORRUPT for corruption, EIO for I/O errors, EINVALID
 * for invalid arguments, ERROR otherwise.
 */
int sluice__rdb_err(char *err, const char *fmt, ...) SLUICE_PRINTF(2, 3);

/* Key of the record in the default column family holding the key-group
 * prefix width (1 byte: 1 or 2) the database was written with. */
#define SLUICE_RDB_LAYOUT_KEY "sluice.key-group-bytes"
/* Read that record: 0, SLUICE_ENOTFOUND, or an error. */
int sluice__rdb_layout(
	rocksdb_t *rdb,
	rocksdb_readoptions_t *ro,
	rocksdb_column_family_handle_t *cf,
	int *kg_bytes);

/* Open the DB at db->db_path with every column family found there; a
 * restored database's key-group width wins over the options. */
int sluice__rdb_open_db(sluice_rdb *db);
/* Allocate an instance struct with its directories created. */
int sluice__rdb_alloc(
	sluice_rdb **out,
	const sluice_rdb_options *o,
	const char *label,
	int32_t max_parallelism);

/* List-append merge operator (concatenation); owned by the options. */
rocksdb_mergeoperator_t *sluice__rdb_merge_operator(void);

/* TTL compaction filter of one column family; starts disabled. */
int sluice__rdb_filter_new(
	sluice_rdb_filter **out, sluice_clock *clock, int64_t query_after);
void sluice__rdb_filter_configure(
	sluice_rdb_filter *f, sluice_rdb_kind kind, int64_t ttl_ms);
/* Read time from `clock` from now on (NULL: keep the current one). */
void sluice__rdb_filter_set_clock(sluice_rdb_filter *f, sluice_clock *clock);
rocksdb_compactionfilter_t *sluice__rdb_filter_handle(sluice_rdb_filter *f);
/* Only after the DB that uses it is closed. */
void sluice__rdb_filter_free(sluice_rdb_filter *f);

/*
 * Create the instance directory <base>/<name> and hold a lock on its OWNER
 * file (*owner_fd, to close after the directory is removed) for as long as
 * the instance lives.  The first call of a process for a base directory
 * first removes the instance directories of dead processes (OWNER not
 * locked).
 */
int sluice__rdb_claim_dir(const char *base, const char *name, int *owner_fd);

/* Filesystem helpers.  Paths are returned allocated (sluice__free). */
char *sluice__rdb_join(const char *dir, const char *name);
int sluice__rdb_mkdirs(const char *path);
/* Remove a tree; a missing path is fine. */
int sluice__rdb_rmtree(const char *path);
/* Sorted regular-file names of `dir`; free with sluice__rdb_names_free. */
int sluice__rdb_list_files(char ***out, size_t *count, const char *dir);
void sluice__rdb_names_free(char **names, size_t count);
/* Size and xxh3-64 of an open file; errors read "<what>: read: ...". */
int sluice__rdb_fd_digest(
	int fd, const char *what, uint64_t *size, uint64_t *checksum);
/* An INLINE handle of zero bytes named `name` (empty files, metadata). */
int sluice__rdb_empty_handle(sluice_stream_handle **out, const char *name);
/* Fill `hex` (33 bytes) with a random 128-bit id. */
void sluice__rdb_random_id(char hex[33]);

#endif
