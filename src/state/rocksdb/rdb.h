/*
 * RocksDB primitives of the `rocksdb` state backend (spec §6, §7, §8.4).
 * Private to src/state/rocksdb and its tests; this header is opaque so that
 * only the .c files beside it include <rocksdb/c.h>.
 *
 * What is implemented here, and the rules it follows:
 *
 * Instance.  One RocksDB database per backend instance (one per keyed
 * operator subtask) in `<local_dir>/sluice-rdb-<label>-<uuid>/db`, where
 * local_dir is `state.backend.rocksdb.localdir` or $TMPDIR (else /tmp).
 * Options come from Flink's keys (block cache, write buffer size and count,
 * predefined options, background threads).  The WAL is off: checkpoints
 * give durability, a crashed instance is restored, never reopened.  Closing
 * deletes the instance directory; a live instance holds a lock on its
 * OWNER file, and the first instance a process creates under a local dir
 * deletes the directories of dead processes (sluice__rdb_claim_dir).
 *
 * States.  One column family per state, named after the state.  Every
 * column family has the list merge operator (harmless for value and map
 * states) and its own TTL compaction filter, which starts disabled and is
 * configured when the state is registered -- also for column families
 * found in a restored database before their state is registered again.
 *
 * Key layout (§6.5).  key group (big-endian, 1 byte when max parallelism
 * <= 128, else 2 bytes) | u32 BE key length | key | u32 BE namespace
 * length | namespace [| map user key].  Because both variable parts carry
 * their length, the encoding of (kg, key) is a prefix of exactly the
 * entries of that key and (kg, key, ns) of exactly that map's entries; a
 * key group's entries are contiguous and ordered by key group, which range
 * deletes and the canonical writer rely on.
 *
 * List values are a concatenation of elements, each `u32 BE length |
 * bytes`; appending is a RocksDB merge whose operands are encoded elements
 * and whose merge is concatenation.
 *
 * TTL (§8.2-8.4).  A TTL value is `i64 BE last-access timestamp (ms) |
 * user value` (also each map entry value); a TTL list element is `u32 BE
 * length | i64 BE timestamp | bytes` -- the stored forms of the keyed-state
 * front end (src/state/ops.c), which owns TTL semantics on reads.  expired <=>
 * ts + min(ttl, INT64_MAX - ts) <= now.  The compaction filter drops expired
 * values and map entries, rewrites lists without their expired elements (drops
 * the list when none is left), and reads the clock again only after every
 * `query_time_after` entries (Flink's query-time-after-num-entries).  A value
 * too short to carry a timestamp is kept (never dropped on a guess).
 *
 * Snapshots (§6.2).  Sync phase: a native checkpoint (memtables flushed,
 * SST files hard-linked, MANIFEST/CURRENT/OPTIONS copied) into
 * `<instance>/chk-<id>`, plus a copy of the SSTs confirmed uploaded by the
 * last completed checkpoint (the base).  Async phase: SSTs in the base
 * become PLACEHOLDER handles (registry key + size + checksum); other SSTs
 * are uploaded as shared files, MANIFEST/CURRENT/OPTIONS as private
 * (exclusive) files, in parallel with `transfer_threads` threads; the
 * handle lists them with the metadata stream.  The instance remembers
 * uploaded[id] = {sst -> registry key, size, checksum};
 * notify_complete(n) for a known n > last completed makes n the base and
 * forgets older entries; notify_aborted(n) forgets n.  The registry key of
 * a shared file is the path of its handle as the transfer returned it.
 *
 * Parts.  A handle holds one or more parts, each the files of one
 * database.  A backend of one instance writes plain file names ("000012.sst",
 * "MANIFEST-000005") and its handle is one part covering the handle's key
 * groups.  A backend of several instances (shards, below) writes every
 * file of the shard serving key groups [lo, hi] as "kg-<lo>-<hi>/<name>";
 * the parts of a handle are disjoint and lie inside its range.  A handle
 * mixing both forms, or with a malformed or overlapping prefix, is corrupt.
 *
 * Restore (§7.2).  Downloads every file of a part (checksums verified)
 * into a directory and opens it with all its column families; SSTs
 * hard-linked from local checkpoint storage are verified on other threads
 * while the database opens, and no instance is returned before every one
 * of them matched its handle.  Rescaling
 * gives a subtask the parts of several old subtasks: when 2 to
 * SLUICE_RDB_MAX_SHARDS parts intersect its key-group range, each becomes
 * a shard of the backend as it is (no copy; RocksDB 7.8 can neither ingest
 * database-written SSTs nor import column families), the shards' ranges
 * tile the subtask's range, and each shard deletes what lies outside its
 * tile with range deletes (whole files first with delete-files-in-range).
 * Operations go to the shard of their key group; iteration visits the
 * shards in key-group order.  Beyond that many parts, the one overlapping
 * the range most becomes the only instance and the entries of the others
 * inside the range are copied into it (parallel SST writers, one ingest).
 * A part restored with its whole range (no clipping) seeds its instance's
 * uploaded-files tracker, so the next incremental checkpoint references
 * its files instead of re-uploading them.
 *
 * Threading: a sluice_rdb is used by its task thread; snapshot_async and
 * the notify_* calls may run on other threads (the file tracker is guarded
 * by a mutex).  The compaction filter runs on RocksDB's threads.
 */
#ifndef SLUICE_STATE_ROCKSDB_RDB_H
#define SLUICE_STATE_ROCKSDB_RDB_H

#include <stdint.h>

#include "sluice/clock.h"
#include "sluice/common.h"
#include "sluice/config.h"
#include "sluice/sys/rocksdb.h"
#include "sluice/sys/stream.h"
#include "util/buf.h"

/* Options and transfers are the public types of sluice/sys/rocksdb.h. */
typedef sluice_rocksdb_options sluice_rdb_options;
typedef sluice_rocksdb_transfer sluice_rdb_transfer;

enum {
	SLUICE_RDB_DEFAULT = SLUICE_ROCKSDB_DEFAULT,
	SLUICE_RDB_SPINNING_DISK_OPTIMIZED =
		SLUICE_ROCKSDB_SPINNING_DISK_OPTIMIZED,
	SLUICE_RDB_SPINNING_DISK_OPTIMIZED_HIGH_MEM =
		SLUICE_ROCKSDB_SPINNING_DISK_OPTIMIZED_HIGH_MEM,
	SLUICE_RDB_FLASH_SSD_OPTIMIZED = SLUICE_ROCKSDB_FLASH_SSD_OPTIMIZED
};

/* Fill `o` with Flink's defaults. */
void sluice__rdb_options_init(sluice_rdb_options *o);

/* SLUICE_EINVALID naming the first tuning value out of range (a field
 * applies only when set; ranges are checked for every field). */
int sluice__rdb_tuning_check(const sluice_rocksdb_tuning *t);

/*
 * Read the state.backend.rocksdb.* keys of `conf` into `o` (after
 * sluice__rdb_options_init).  `state.backend.rocksdb.memory.fixed-per-slot`,
 * when set, replaces the block cache and write buffer sizes by a split of
 * that budget (half block cache, half write buffers).  local_dir is
 * borrowed from `conf`.  Returns 0 or the getter's code.
 */
int sluice__rdb_options_from_config(
	sluice_rdb_options *o, const sluice_config *conf);

/* ---- key layout (rdb_key.c, no RocksDB) ------------------------------ */

/* Key-group prefix width: 1 for 1..128, else (also 0 = unknown) 2. */
int sluice__rdb_kg_bytes(int32_t max_parallelism);

/* Append the key-group prefix of `kg` (kg_bytes wide) to `b`. */
int sluice__rdb_put_kg(sluice_buf *b, int kg_bytes, int32_t kg);

/*
 * Append kg | key | namespace to `b` (cleared first).  For map state append
 * the user key with sluice_buf_put afterwards; for a per-key prefix use
 * sluice__rdb_key_prefix.
 */
int sluice__rdb_key_encode(
	sluice_buf *b,
	int kg_bytes,
	int32_t kg,
	sluice_slice key,
	sluice_slice ns);
/* kg | key only: the prefix of every entry of `key` in a state. */
int sluice__rdb_key_prefix(
	sluice_buf *b, int kg_bytes, int32_t kg, sluice_slice key);

/*
 * Split an encoded key.  `rest` gets the bytes after the namespace (the
 * map user key; empty for value/list state).  SLUICE_ECORRUPT when the
 * lengths do not fit.  Slices borrow from `data`.
 */
int sluice__rdb_key_decode(
	const void *data,
	size_t len,
	int kg_bytes,
	int32_t *kg,
	sluice_slice *key,
	sluice_slice *ns,
	sluice_slice *rest);

/* Append one list element (u32 BE length | bytes). */
int sluice__rdb_list_put(sluice_buf *b, sluice_slice elem);
/* Append one TTL list element (u32 BE length of elem | i64 BE ts | elem). */
int sluice__rdb_list_put_ttl(sluice_buf *b, int64_t ts_ms, sluice_slice elem);

/*
 * Iterate list elements (TTL elements when `ttl`): start with *pos = 0;
 * returns 1 with the element's user bytes (and its timestamp, 0 without
 * TTL), 0 at the end, SLUICE_ECORRUPT on a truncated element.  The raw
 * element spans [old *pos, new *pos).
 */
int sluice__rdb_list_next(
	const void *data,
	size_t len,
	int ttl,
	size_t *pos,
	sluice_slice *elem,
	int64_t *ts_ms);

/* TTL wrapper: append ts (i64 BE) then the user value. */
int sluice__rdb_ttl_wrap(sluice_buf *b, int64_t ts_ms, sluice_slice value);
/* Split a TTL value; SLUICE_ECORRUPT when shorter than 8 bytes. */
int sluice__rdb_ttl_unwrap(
	sluice_slice wrapped, int64_t *ts_ms, sluice_slice *value);
/* Flink's overflow-safe expiry rule (spec §8.3). */
int sluice__rdb_ttl_expired(int64_t ts_ms, int64_t ttl_ms, int64_t now_ms);

/* ---- instance and column families (rdb_db.c) ------------------------- */

typedef struct sluice_rdb sluice_rdb;
typedef struct sluice_rdb_cf sluice_rdb_cf;

typedef enum sluice_rdb_kind {
	SLUICE_RDB_VALUE = 0, /* value, reducing, aggregating */
	SLUICE_RDB_LIST = 1,
	SLUICE_RDB_MAP = 2
} sluice_rdb_kind;

/*
 * Open a new, empty instance.  `label` names the instance dir (e.g.
 * "op-1-sub-0"); `max_parallelism` fixes the key-group prefix width.
 * SLUICE_EIO / SLUICE_EINVALID with the path in the message.  Free with
 * sluice__rdb_free, which closes the DB and deletes the instance dir.
 */
int sluice__rdb_open(
	sluice_rdb **out,
	const sluice_rdb_options *o,
	const char *label,
	int32_t max_parallelism);
void sluice__rdb_free(sluice_rdb *db);

/* Instance directory (holds db/ and chk-<id>/); owned by db. */
const char *sluice__rdb_path(const sluice_rdb *db);
/* Random 32-hex-digit id of this instance; owned by db. */
const char *sluice__rdb_backend_id(const sluice_rdb *db);
int sluice__rdb_kg_width(const sluice_rdb *db);

/*
 * The column family of state `name`, created when missing, with its TTL
 * compaction filter configured for `kind` and `ttl_ms` (0 = no TTL).  The
 * returned pointer lives as long as `db`.
 */
int sluice__rdb_cf(
	sluice_rdb_cf **out,
	sluice_rdb *db,
	const char *name,
	sluice_rdb_kind kind,
	int64_t ttl_ms);
/* Number of column families besides "default", and the i-th one. */
size_t sluice__rdb_cf_count(const sluice_rdb *db);
sluice_rdb_cf *sluice__rdb_cf_at(const sluice_rdb *db, size_t i);
const char *sluice__rdb_cf_name(const sluice_rdb_cf *cf);

/* Point operations.  get: value into `out` (cleared), SLUICE_ENOTFOUND. */
int sluice__rdb_get(
	sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice key, sluice_buf *out);
int sluice__rdb_put(
	sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice key, sluice_slice val);
int sluice__rdb_delete(sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice key);
/* Append encoded list element(s) through the merge operator. */
int sluice__rdb_merge(
	sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice key, sluice_slice val);
/* Delete every entry whose key starts with `prefix`. */
int sluice__rdb_delete_prefix(
	sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice prefix);

/*
 * Iterate the entries starting with `prefix` (empty = all) in key order.
 * Key/value slices stay valid until the next call on the iterator.
 */
typedef struct sluice_rdb_iter sluice_rdb_iter;
int sluice__rdb_iter_new(
	sluice_rdb_iter **out,
	sluice_rdb *db,
	sluice_rdb_cf *cf,
	sluice_slice prefix);
int sluice__rdb_iter_valid(sluice_rdb_iter *it);
void sluice__rdb_iter_next(sluice_rdb_iter *it);
sluice_slice sluice__rdb_iter_key(sluice_rdb_iter *it);
sluice_slice sluice__rdb_iter_value(sluice_rdb_iter *it);
/* 0, or the iteration's error (SLUICE_EIO) once iteration stopped. */
int sluice__rdb_iter_status(sluice_rdb_iter *it);
void sluice__rdb_iter_free(sluice_rdb_iter *it);

/* Flush memtables and compact every column family fully (tests, tools). */
int sluice__rdb_compact(sluice_rdb *db);
/*
 * 1 while a flush or compaction of `db` runs or is pending, else 0: lets
 * benchmarks start a timed phase with the background work done.
 */
int sluice__rdb_busy(sluice_rdb *db);

/*
 * Delete everything outside key groups [kg_start, kg_end] in every column
 * family: whole SST files first, then range tombstones.
 */
int sluice__rdb_clip(sluice_rdb *db, int32_t kg_start, int32_t kg_end);

/* Flush and fully compact the database of a rocksdb backend (tests). */
int sluice__rdb_backend_compact(sluice_backend *b);
/* sluice__rdb_busy of any instance (shard) of a rocksdb backend. */
int sluice__rdb_backend_busy(sluice_backend *b);
/* Number of instances (shards) of a rocksdb backend (tests). */
size_t sluice__rdb_backend_shards(sluice_backend *b);

/* Native checkpoint into `dir`, which must not exist (flushes first). */
int sluice__rdb_native_checkpoint(sluice_rdb *db, const char *dir);

/* ---- incremental snapshots (rdb_snapshot.c) -------------------------- */

/* Sharing strategy by snapshot type (spec §6.2 step 7). */
typedef enum sluice_rdb_sharing {
	SLUICE_RDB_FORWARD_BACKWARD = 0, /* checkpoint: reuse and be reused */
	SLUICE_RDB_FORWARD = 1,          /* full checkpoint: upload all */
	SLUICE_RDB_NO_SHARING = 2        /* native savepoint: all exclusive */
} sluice_rdb_sharing;

typedef struct sluice_rdb_snapshot sluice_rdb_snapshot;

/*
 * Synchronous phase: native checkpoint into <instance>/chk-<id> and a copy
 * of the base (files of the last completed checkpoint).  [kg_start,
 * kg_start + kg_num) is the range recorded in the handle.
 */
int sluice__rdb_snapshot_sync(
	sluice_rdb_snapshot **out,
	sluice_rdb *db,
	int64_t checkpoint_id,
	sluice_rdb_sharing sharing,
	int32_t kg_start,
	int32_t kg_num);

/*
 * Asynchronous phase: write `*meta` as the metadata stream (none when
 * meta is NULL: a later part of a handle of several), upload new
 * files in parallel, reference base SSTs by placeholders, record the
 * uploaded set.  On failure uploaded files are discarded.  May run on any
 * thread while the task thread keeps using the db.
 */
int sluice__rdb_snapshot_async(
	sluice_incremental_handle **out,
	sluice_rdb_snapshot *s,
	const sluice_rdb_transfer *t,
	const sluice_slice *meta);

/* Delete the local snapshot directory and free; NULL-safe. */
void sluice__rdb_snapshot_free(sluice_rdb_snapshot *s);

/* Checkpoint `id` completed / aborted (spec §6.2 step 6). */
void sluice__rdb_notify_complete(sluice_rdb *db, int64_t id);
void sluice__rdb_notify_aborted(sluice_rdb *db, int64_t id);
/* Last completed checkpoint whose files are the base, -1 = none. */
int64_t sluice__rdb_last_completed(sluice_rdb *db);

/* ---- restore (rdb_restore.c) ----------------------------------------- */

/*
 * New instance holding key groups [kg_start, kg_end] of `handles` (see the
 * header comment).  Placeholders in the handles are SLUICE_EINVALID;
 * checksum or size mismatches are SLUICE_ECORRUPT naming the file and
 * checkpoint.  `n` = 0 gives an empty instance.
 */
int sluice__rdb_restore(
	sluice_rdb **out,
	const sluice_rdb_options *o,
	const char *label,
	int32_t max_parallelism,
	int32_t kg_start,
	int32_t kg_end,
	sluice_incremental_handle *const *handles,
	size_t n,
	const sluice_rdb_transfer *t);

/*
 * One instance of a backend and the key groups [lo, hi] it serves.  A
 * backend's shards are sorted by key group and tile its range.
 */
typedef struct sluice_rdb_shard {
	sluice_rdb *db;
	int32_t lo, hi;
} sluice_rdb_shard;

/* Shards a restored backend keeps side by side at most (default). */
#define SLUICE_RDB_MAX_SHARDS 8

/*
 * The instances of a backend restored with key groups [kg_start, kg_end]
 * of `handles`: one shard per part (see "Parts" above) intersecting the
 * range when there are 2..max_shards of them, else one instance as
 * sluice__rdb_restore makes.  Memory options are split evenly over the
 * shards.  `*out` (allocated, `*n` entries) is freed with
 * sluice__rdb_shards_free.
 */
int sluice__rdb_restore_shards(
	sluice_rdb_shard **out,
	size_t *n,
	const sluice_rdb_options *o,
	const char *label,
	int32_t max_parallelism,
	int32_t kg_start,
	int32_t kg_end,
	sluice_incremental_handle *const *handles,
	size_t nhandles,
	const sluice_rdb_transfer *t);
void sluice__rdb_shards_free(sluice_rdb_shard *shards, size_t n);

/*
 * The name prefix of the files of a shard serving [lo, hi] in a handle of
 * several parts: "kg-<lo>-<hi>/" into buf (at least
 * SLUICE_RDB_PREFIX_MAX bytes).
 */
#define SLUICE_RDB_PREFIX_MAX 32
void sluice__rdb_part_prefix(char *buf, int32_t lo, int32_t hi);

/* ---- transfers (rdb_transfer.c) -------------------------------------- */

/*
 * Run job(ctx, i) for i in [0, n) on up to `threads` threads.  Returns 0
 * or the first failure's code with its message set on the calling thread.
 */
int sluice__rdb_parallel(
	size_t n, int threads, int (*job)(void *ctx, size_t i), void *ctx);
/* Upload file `path` through `t`; the handle is returned in *out. */
int sluice__rdb_upload(
	sluice_stream_handle **out,
	const sluice_rdb_transfer *t,
	int shared,
	const char *name,
	const char *path);
/*
 * Put the file of `h` at new path `path`; `what` starts error messages.
 * A file that is copied through `t` is verified (size and checksum) while
 * it is copied, and *linked_fd is -1.  An SST in local checkpoint storage
 * is hard-linked instead, and its verification is left to the caller:
 * *linked_fd is an open descriptor of it, which keeps the bytes readable
 * even after RocksDB unlinks the path, and which the caller must hand to
 * sluice__rdb_verify_linked (or close) before anything read from the file
 * leaves the restore.  On failure *linked_fd is -1.
 */
int sluice__rdb_download(
	const sluice_rdb_transfer *t,
	const sluice_stream_handle *h,
	const char *path,
	const char *what,
	int *linked_fd);
/*
 * Read the linked file behind `fd` (from sluice__rdb_download) and check
 * its size and checksum against `h`; closes `fd`.  SLUICE_ECORRUPT
 * ("<what>: got ... the handle says ...") on a mismatch.  Any thread.
 */
int sluice__rdb_verify_linked(
	int fd, const sluice_stream_handle *h, const char *what);

#endif
