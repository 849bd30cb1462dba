/*
 * The embedded RocksDB keyed state backend (`state.backend.type:
 * rocksdb`), for code that creates backends or drives its incremental
 * snapshots.  Implements sluice/sys/backend.h; the keyed-state front end
 * (sluice/state.h) picks it by name or through sluice_backend_rocksdb_new.
 *
 * Storage: one RocksDB database per backend in a directory under
 * `state.backend.rocksdb.localdir` (default $TMPDIR or /tmp), deleted when
 * the backend is freed; one column family per state; the WAL is off
 * (checkpoints give durability).  States with TTL get a compaction filter
 * that drops expired entries (spec §8.4).  Full snapshots and savepoints
 * go through the front end's canonical format; incremental checkpoints
 * (spec §6.2) use the functions below and produce
 * sluice_incremental_handle (sluice/sys/stream.h).
 *
 * Threading: as sluice/sys/backend.h; sluice_rocksdb_snapshot_upload and
 * sluice_rocksdb_notify_* may run on other threads than the task thread.
 */
#ifndef SLUICE_SYS_ROCKSDB_H
#define SLUICE_SYS_ROCKSDB_H

#include "../clock.h"
#include "../common.h"
#include "../config.h"
#include "backend.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* state.backend.rocksdb.predefined-options, in Flink's order */
typedef enum sluice_rocksdb_predefined {
	SLUICE_ROCKSDB_DEFAULT = 0,
	SLUICE_ROCKSDB_SPINNING_DISK_OPTIMIZED = 1,
	SLUICE_ROCKSDB_SPINNING_DISK_OPTIMIZED_HIGH_MEM = 2,
	SLUICE_ROCKSDB_FLASH_SSD_OPTIMIZED = 3
} sluice_rocksdb_predefined;

/*
 * Flink's RocksDBConfigurableOptions (state.backend.rocksdb.files.open,
 * log.*, compaction.style, compaction.level.*, writebuffer.number-to-merge,
 * block.blocksize, block.metadata-blocksize, use-bloom-filter,
 * bloom-filter.*, compression.per.level).  A field applies when its bit is
 * in `set`; otherwise the predefined profile's value holds, else Flink's
 * default (which is RocksDB's, except the log: INFO, 25 MiB, 4 files).
 * Enumerations use RocksDB's numbering.
 */
enum {
	SLUICE_ROCKSDB_TUNE_FILES_OPEN = 1u << 0,
	SLUICE_ROCKSDB_TUNE_LOG_LEVEL = 1u << 1,
	SLUICE_ROCKSDB_TUNE_LOG_MAX_FILE_SIZE = 1u << 2,
	SLUICE_ROCKSDB_TUNE_LOG_FILE_NUM = 1u << 3,
	SLUICE_ROCKSDB_TUNE_LOG_DIR = 1u << 4,
	SLUICE_ROCKSDB_TUNE_COMPACTION_STYLE = 1u << 5,
	SLUICE_ROCKSDB_TUNE_DYNAMIC_LEVEL_SIZE = 1u << 6,
	SLUICE_ROCKSDB_TUNE_TARGET_FILE_SIZE_BASE = 1u << 7,
	SLUICE_ROCKSDB_TUNE_MAX_SIZE_LEVEL_BASE = 1u << 8,
	SLUICE_ROCKSDB_TUNE_WRITE_BUFFERS_TO_MERGE = 1u << 9,
	SLUICE_ROCKSDB_TUNE_BLOCK_SIZE = 1u << 10,
	SLUICE_ROCKSDB_TUNE_METADATA_BLOCK_SIZE = 1u << 11,
	SLUICE_ROCKSDB_TUNE_BLOOM_FILTER = 1u << 12,
	SLUICE_ROCKSDB_TUNE_BLOOM_BITS_PER_KEY = 1u << 13,
	SLUICE_ROCKSDB_TUNE_COMPRESSION = 1u << 14
};

/* state.backend.rocksdb.compaction.style (RocksDB's numbering) */
typedef enum sluice_rocksdb_compaction_style {
	SLUICE_ROCKSDB_COMPACTION_LEVEL = 0,
	SLUICE_ROCKSDB_COMPACTION_UNIVERSAL = 1,
	SLUICE_ROCKSDB_COMPACTION_FIFO = 2,
	SLUICE_ROCKSDB_COMPACTION_NONE = 3
} sluice_rocksdb_compaction_style;

#define SLUICE_ROCKSDB_MAX_LEVELS 8

typedef struct sluice_rocksdb_tuning {
	uint32_t set;                   /* SLUICE_ROCKSDB_TUNE_* bits */
	int32_t files_open;             /* -1 = no limit */
	int log_level;                  /* DEBUG 0 .. HEADER 5, 6 = none */
	uint64_t log_max_file_size;     /* bytes; 0 = one file */
	int32_t log_file_num;           /* files kept */
	const char *log_dir;            /* absolute; borrowed */
	int compaction_style;           /* sluice_rocksdb_compaction_style */
	int dynamic_level_size;         /* bool */
	uint64_t target_file_size_base; /* bytes */
	uint64_t max_size_level_base;   /* bytes */
	int32_t write_buffers_to_merge; /* memtables merged per flush */
	uint64_t block_size;            /* bytes */
	uint64_t metadata_block_size;   /* bytes */
	int bloom_filter;               /* bool */
	double bloom_bits_per_key;      /* > 0 */
	/* RocksDB CompressionType per level; levels past the list take its
	 * last entry */
	int compression[SLUICE_ROCKSDB_MAX_LEVELS];
	int num_compression;
} sluice_rocksdb_tuning;

/*
 * Where snapshot files go and come from (checkpoint storage plugs in
 * here).  open_output: a stream for one file (shared != 0: scope SHARED,
 * else EXCLUSIVE; `name` is the local file name, a hint).  open_input: a
 * stream over a stored file.  discard (may be NULL): delete an uploaded
 * file after a failed snapshot.  Called concurrently from transfer
 * threads.
 */
typedef struct sluice_rocksdb_transfer {
	void *ctx;
	int (*open_output)(
		void *ctx, int shared, const char *name, sluice_ostream **out);
	int (*open_input)(
		void *ctx, const sluice_stream_handle *h, sluice_istream **out);
	void (*discard)(void *ctx, const sluice_stream_handle *h);
	/*
	 * Optional (NULL: always copy).  When `h` is a file on the local
	 * filesystem, write its path into buf (cap bytes) and return 1; else
	 * 0.  A restore then hard-links immutable SST files instead of
	 * copying them (and still verifies size and checksum).
	 */
	int (*local_path)(
		void *ctx,
		const sluice_stream_handle *h,
		char *buf,
		size_t cap);
} sluice_rocksdb_transfer;

/*
 * Files through checkpoint storage (sluice/sys/storage.h): uploads become
 * state streams of `loc` (shared scope for SST files, exclusive for the
 * rest; NULL when only restoring), downloads open handles of checkpoints
 * in `dir` (RELATIVE handles resolve against it) from `st`, discards
 * remove uploaded FILE/RELATIVE files (best effort); local files are
 * hard-linked on restore when possible.  Everything borrowed;
 * the context must outlive the transfer's use.
 */
struct sluice_location;
struct sluice_storage;
typedef struct sluice_rocksdb_storage_ctx {
	struct sluice_location *loc;
	struct sluice_storage *st;
	const char *dir;
} sluice_rocksdb_storage_ctx;

SLUICE_EXTERN(void)
sluice_rocksdb_transfer_storage(
	sluice_rocksdb_transfer *t, sluice_rocksdb_storage_ctx *ctx);

typedef struct sluice_rocksdb_options {
	int version;                  /* SLUICE_ROCKSDB_OPTIONS_VERSION */
	const char *local_dir;        /* borrowed; NULL = $TMPDIR or /tmp */
	uint64_t block_cache_size;    /* bytes, default 8 MiB */
	uint64_t write_buffer_size;   /* bytes per memtable, default 64 MiB */
	int32_t max_write_buffers;    /* writebuffer.count, default 2 */
	int predefined;               /* sluice_rocksdb_predefined */
	int32_t thread_num;           /* background threads, default 2 */
	int32_t transfer_threads;     /* upload/download threads, default 4 */
	int64_t ttl_query_time_after; /* compaction filter clock reads, 1000 */
	sluice_clock *clock;          /* borrowed; NULL = system clock */
	int32_t max_parallelism;      /* 0 = unknown: 2-byte key-group prefix */
	const char *label; /* part of the instance dir name; NULL ok */
	/* Optional: start from incremental handles instead of empty. */
	sluice_incremental_handle *const *restore; /* borrowed */
	size_t num_restore;
	int32_t restore_start, restore_end; /* key groups kept, inclusive */
	const sluice_rocksdb_transfer *transfer; /* for restore, borrowed */
	/* Rescaling restore: at most this many intersecting parts are kept
	 * as separate instances (shards) instead of being copied into one;
	 * 0 = 8, 1 = always copy into one instance. */
	int32_t max_shards;
	sluice_rocksdb_tuning tuning; /* since version 2 */
} sluice_rocksdb_options;

#define SLUICE_ROCKSDB_OPTIONS_VERSION 2

/* Flink's defaults. */
SLUICE_EXTERN(void) sluice_rocksdb_options_init(sluice_rocksdb_options *o);

/*
 * Read the state.backend.rocksdb.* keys (localdir, block.cache-size,
 * writebuffer.size, writebuffer.count, predefined-options, thread.num,
 * checkpoint.transfer.thread.num,
 * compaction.filter.query-time-after-num-entries, memory.fixed-per-slot
 * and the tuning keys above; a tuning key counts as set when the
 * configuration holds it, not from its default) into `o`, after
 * sluice_rocksdb_options_init.  A fixed per-slot memory budget is split
 * half block cache, half write buffers.  Strings are borrowed from `conf`.
 * Returns 0 or SLUICE_EINVALID naming the key and value.
 * The caller sets max_parallelism, clock and label, and passes `o` as the
 * factory context of sluice_keyed_options.
 */
SLUICE_EXTERN(int)
sluice_rocksdb_options_from_config(
	sluice_rocksdb_options *o, const sluice_config *conf);

/*
 * The backend factory (sluice_backend_factory): `ctx` is a
 * `const sluice_rocksdb_options *` (NULL = defaults).  Errors: SLUICE_EIO
 * (directory, RocksDB open), SLUICE_ECORRUPT / SLUICE_EINVALID from a
 * restore (naming file and checkpoint), SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int) sluice_backend_rocksdb_new(sluice_backend **out, void *ctx);

/* ---- incremental checkpoints (spec §6.2) ----------------------------- */

typedef enum sluice_rocksdb_sharing {
	SLUICE_ROCKSDB_CHECKPOINT = 0,      /* reuse earlier files */
	SLUICE_ROCKSDB_FULL_CHECKPOINT = 1, /* upload all, may be reused */
	SLUICE_ROCKSDB_NATIVE_SAVEPOINT = 2 /* all files exclusive */
} sluice_rocksdb_sharing;

typedef struct sluice_rocksdb_snapshot sluice_rocksdb_snapshot;

/*
 * Synchronous phase, task thread: native RocksDB checkpoint (hard links)
 * of backend `b` (a rocksdb backend, else SLUICE_EINVALID).  The handle
 * will carry key groups [kg_start, kg_start + kg_num).
 */
SLUICE_EXTERN(int)
sluice_rocksdb_snapshot_sync(
	sluice_rocksdb_snapshot **out,
	sluice_backend *b,
	int64_t checkpoint_id,
	sluice_rocksdb_sharing sharing,
	int32_t kg_start,
	int32_t kg_num);
/*
 * Asynchronous phase, any thread: write `meta` (the front end's state meta
 * data) and the files through `t`; files confirmed by the last completed
 * checkpoint become placeholders.  `*out` is owned by the caller.
 */
SLUICE_EXTERN(int)
sluice_rocksdb_snapshot_upload(
	sluice_incremental_handle **out,
	sluice_rocksdb_snapshot *s,
	const sluice_rocksdb_transfer *t,
	sluice_slice meta);
/* Deletes the local snapshot directory; NULL-safe, any thread. */
SLUICE_EXTERN(void) sluice_rocksdb_snapshot_free(sluice_rocksdb_snapshot *s);
/* Checkpoint completed / aborted: moves the base of later snapshots. */
SLUICE_EXTERN(void)
sluice_rocksdb_notify_complete(sluice_backend *b, int64_t checkpoint_id);
SLUICE_EXTERN(void)
sluice_rocksdb_notify_aborted(sluice_backend *b, int64_t checkpoint_id);

#ifdef __cplusplus
}
#endif
#endif
