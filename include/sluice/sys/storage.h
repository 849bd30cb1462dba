/*
 * Checkpoint storage: the plug-in interface (modelled on sqlite3_vfs) and the
 * checkpoint-level API the coordinator calls.
 *
 * PART 1 — the plug-in.  A sluice_storage is a table of function pointers
 * with `version` first; implementations embed it first in their own struct.
 * Storages are registered by URI scheme ("file", "memory"; "s3", "hdfs"
 * later).  Paths handed to a storage are complete locations as the user
 * wrote them ("/data/ck/x", "file:///data/ck/x", "memory://t/x"); each
 * storage interprets its own.  Directories are '/'-separated prefixes.
 * Capability bits choose the commit protocol:
 *   SLUICE_STORAGE_ATOMIC_RENAME  `_metadata` is written to a temporary
 *       name, synced, renamed into place and its directory synced;
 *   otherwise (object stores) every state object is completed first and
 *   `_metadata` is written last, directly under its final name.
 *
 * The core never calls a storage's methods directly: it goes through the
 * sluice_storage_*() wrappers below (short-write loops, error messages),
 * which is also where the fault-injecting wrapper storage sits.
 *
 * PART 2 — checkpoint storage.  A sluice_checkpoint_storage is one job's
 * view: base dir, job id, layout, inline threshold and write buffer.  The
 * coordinator's entry points, in order of use:
 *   sluice_checkpoint_storage_new()       once per job
 *   sluice_checkpoint_location_new()      chk-<n>/ for checkpoint n
 *   sluice_savepoint_location_new()       savepoint-<6hex>-<12hex>/
 *   sluice_location_open_stream()         exclusive or shared state stream
 *   sluice_location_finalize()            (metadata.h) write `_metadata`
 *   sluice_location_discard()             abort: delete what was written
 *   sluice_completed_store_add()          (metadata.h) retain + subsume
 *   sluice_completed_store_shutdown()     (metadata.h) externalized retention
 *   sluice_checkpoint_discover()          (metadata.h) restart
 *
 * Threading: storages must be safe for concurrent calls on different
 * files (the built-in ones are).  A sluice_storage_file and a stream are
 * used by one thread at a time.  sluice_location_open_stream() may be
 * called concurrently on one location (tasks snapshot in parallel);
 * finalize, discard and free must not overlap anything else on it.  A
 * sluice_checkpoint_storage may be shared by threads creating locations.
 */
#ifndef SLUICE_SYS_STORAGE_H
#define SLUICE_SYS_STORAGE_H

#include "../common.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version 2 appended remove_many, entropy_key, entropy_length and
 * cleanup; the
 * wrappers read them only from storages of version >= 2. */
#define SLUICE_STORAGE_VERSION 2

/* Capability bits. */
#define SLUICE_STORAGE_ATOMIC_RENAME 0x1u /* rename() replaces atomically */
#define SLUICE_STORAGE_DIRS          0x2u /* real directories (mkdirs/rmdir matter) */

typedef struct sluice_storage sluice_storage;
typedef struct sluice_storage_file sluice_storage_file;

/* A file open for writing.  Implementations embed this first. */
struct sluice_storage_file {
	int version; /* SLUICE_STORAGE_VERSION */
	/* Write up to `len` bytes, `*written` = how many (may be short, > 0
	 * unless an error is returned). */
	int (*write)(
		sluice_storage_file *f,
		const void *data,
		size_t len,
		size_t *written);
	/* Make every byte written so far durable. */
	int (*sync)(sluice_storage_file *f);
	/* Close and free.  Unsynced bytes may still be lost on power loss. */
	int (*close)(sluice_storage_file *f);
};

/* Listing callback: a file (not a directory) and its size.  Return
 * non-zero to stop listing (that value is returned by list). */
typedef int (*sluice_storage_list_cb)(
	const char *path, uint64_t size, void *ctx);

struct sluice_storage {
	int version;        /* SLUICE_STORAGE_VERSION */
	const char *scheme; /* "file", "memory", ... */
	unsigned caps;      /* SLUICE_STORAGE_* bits */
	/* Create or truncate `path` for writing. */
	int (*open_write)(
		sluice_storage *st,
		const char *path,
		sluice_storage_file **out);
	/* Open for reading; SLUICE_ENOTFOUND when missing. */
	int (*open_read)(
		sluice_storage *st, const char *path, sluice_istream **out);
	/* Delete a file; SLUICE_ENOTFOUND when missing. */
	int (*remove)(sluice_storage *st, const char *path);
	/* Remove an empty directory; SLUICE_ENOTFOUND when missing.  May be
	 * NULL (object stores: nothing to do). */
	int (*rmdir)(sluice_storage *st, const char *path);
	/* Atomically replace `to` by `from`.  Required with ATOMIC_RENAME,
	 * else may be NULL. */
	int (*rename)(sluice_storage *st, const char *from, const char *to);
	/* 0 when `path` is a file (`*size` set, may be NULL) or a directory
	 * (`*is_dir` = 1); SLUICE_ENOTFOUND otherwise. */
	int (*stat)(
		sluice_storage *st,
		const char *path,
		uint64_t *size,
		int *is_dir);
	/* Call `cb` for every file under directory `dir`, recursively, in no
	 * particular order.  Missing dir: 0 and no calls. */
	int (*list)(
		sluice_storage *st,
		const char *dir,
		sluice_storage_list_cb cb,
		void *ctx);
	/* Create `dir` and its parents; 0 when it exists.  May be NULL. */
	int (*mkdirs)(sluice_storage *st, const char *dir);
	/* Make the entries of `dir` (creates, renames) durable.  May be
	 * NULL. */
	int (*sync_dir)(sluice_storage *st, const char *dir);
	/* Free the storage (never called for registered built-ins). */
	void (*destroy)(sluice_storage *st);
	/* --- version 2 --- */
	/* Delete `n` files in as few requests as the storage allows (object
	 * stores: DeleteObjects, up to 1000 keys per request).  Missing
	 * files are not errors.  Deletes as many as it can; returns 0 or the
	 * first failure, whose message names a file that could not be
	 * deleted and how many failed.  May be NULL: the wrapper removes one
	 * by one. */
	int (*remove_many)(
		sluice_storage *st, const char *const *paths, size_t n);
	/* Entropy injection (Flink's s3.entropy.key / s3.entropy.length):
	 * when a checkpoint directory contains `entropy_key`, state files
	 * are written with the key replaced by `entropy_length` random
	 * characters of [a-zA-Z0-9] and `_metadata` with the key removed
	 * (see sluice_storage_entropy_path).  NULL: no entropy. */
	const char *entropy_key;
	int entropy_length;
	/* Clean up what a process that died left half-written under `dir`
	 * (object stores: abort its incomplete multipart uploads, including
	 * those under entropy-injected prefixes of `dir`).  Called once per
	 * job's checkpoint storage, before its first checkpoint; failures
	 * are only logged.  May be NULL. */
	int (*cleanup)(sluice_storage *st, const char *dir);
};

/*
 * Registry of storages by URI scheme.  "file" and "memory" are built in; a
 * bare path (no "<scheme>://") means "file".  Register replaces an existing
 * entry of the same scheme; the storage is borrowed and must outlive its
 * use.  sluice_storage_for_uri returns a borrowed pointer or
 * SLUICE_EUNSUPPORTED ("no checkpoint storage for scheme 's3'").
 * Thread-safe.
 */
SLUICE_EXTERN(int) sluice_storage_register(sluice_storage *st);
SLUICE_EXTERN(int)
sluice_storage_for_uri(sluice_storage **out, const char *uri);

/* The built-in process-wide file storage (local POSIX files). */
SLUICE_EXTERN(sluice_storage *) sluice_storage_file_get(void);
/* A new, empty in-memory storage (scheme "memory", ATOMIC_RENAME).  Free
 * with sluice_storage_free.  The registered "memory" storage is one such
 * instance shared by the process. */
SLUICE_EXTERN(int) sluice_storage_memory_new(sluice_storage **out);
/* Free a storage created by a *_new function (NULL-safe). */
SLUICE_EXTERN(void) sluice_storage_free(sluice_storage *st);

struct sluice_config;
/*
 * S3-compatible object storage for URIs of `scheme` ("s3" or "obs"; paths
 * "<scheme>://bucket/key"), configured from `conf` (may be NULL):
 * s3.endpoint, s3.access-key / s3.secret-key (fs.obs.* are aliases; else
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), s3.region, s3.path.style.access
 * (always path-style for an IP-address endpoint), s3.attempts.maximum and
 * s3.retry.interval (retries), s3.entropy.key / s3.entropy.length (entropy
 * injection, see entropy_key above).  Deletes are batched (DeleteObjects);
 * cleanup aborts multipart uploads a killed writer left.
 * No rename and no directories (capabilities 0): checkpoints commit by
 * writing `_metadata` last.  Register it with sluice_storage_register() to
 * use the scheme; free with sluice_storage_free().  SLUICE_EINVALID names
 * the missing key; the secret is never part of a message.
 */
SLUICE_EXTERN(int)
sluice_storage_s3_new(
	sluice_storage **out,
	const char *scheme,
	const struct sluice_config *conf);

/*
 * HDFS through the WebHDFS REST protocol for URIs of `scheme` ("hdfs" or
 * "webhdfs"; "<scheme>://namenode:http-port/path": the port is the
 * NameNode's HTTP port, 9870 in Hadoop 3).  User from hadoop.user.name,
 * else HADOOP_USER_NAME.  Directories and rename (checkpoints commit by
 * renaming `_metadata` into place).  Register it with
 * sluice_storage_register(); free with sluice_storage_free().
 */
SLUICE_EXTERN(int)
sluice_storage_hdfs_new(
	sluice_storage **out,
	const char *scheme,
	const struct sluice_config *conf);

/*
 * Core wrappers: every storage call of the library goes through these.
 * They fill in documented defaults for NULL methods and set the last error
 * with the path involved.  write_all loops over short writes.
 */
SLUICE_EXTERN(int)
sluice_storage_open_write(
	sluice_storage_file **out, sluice_storage *st, const char *path);
SLUICE_EXTERN(int)
sluice_storage_write_all(sluice_storage_file *f, const void *data, size_t len);
SLUICE_EXTERN(int) sluice_storage_file_sync(sluice_storage_file *f);
SLUICE_EXTERN(int) sluice_storage_file_close(sluice_storage_file *f);
SLUICE_EXTERN(int)
sluice_storage_open_read(
	sluice_istream **out, sluice_storage *st, const char *path);
SLUICE_EXTERN(int) sluice_storage_remove(sluice_storage *st, const char *path);
SLUICE_EXTERN(int) sluice_storage_rmdir(sluice_storage *st, const char *path);
SLUICE_EXTERN(int)
sluice_storage_rename(sluice_storage *st, const char *from, const char *to);
SLUICE_EXTERN(int)
sluice_storage_stat(
	sluice_storage *st, const char *path, uint64_t *size, int *is_dir);
/* 1 exists, 0 does not, negative on error. */
SLUICE_EXTERN(int) sluice_storage_exists(sluice_storage *st, const char *path);
SLUICE_EXTERN(int)
sluice_storage_list(
	sluice_storage *st,
	const char *dir,
	sluice_storage_list_cb cb,
	void *ctx);
SLUICE_EXTERN(int) sluice_storage_mkdirs(sluice_storage *st, const char *dir);
SLUICE_EXTERN(int) sluice_storage_sync_dir(sluice_storage *st, const char *dir);
/* Whole file into `*data` (free with sluice_free_bytes), `*len` bytes. */
SLUICE_EXTERN(int)
sluice_storage_read_all(
	uint8_t **data, size_t *len, sluice_storage *st, const char *path);
/* Write `len` bytes to `path` and sync it. */
SLUICE_EXTERN(int)
sluice_storage_write_file(
	sluice_storage *st, const char *path, const void *data, size_t len);
/*
 * Replace `path` by `len` bytes atomically: on storages with
 * SLUICE_STORAGE_ATOMIC_RENAME through `path.inprogress` (write, sync,
 * rename, sync the directory), elsewhere (object stores, where a PUT is
 * atomic) directly.  Readers see the old file or the new one, never a
 * part.  Codes of the storage.
 */
SLUICE_EXTERN(int)
sluice_storage_write_atomic(
	sluice_storage *st, const char *path, const void *data, size_t len);
/* The storage's cleanup of `dir` (see above); 0 when it has none. */
SLUICE_EXTERN(int) sluice_storage_cleanup(sluice_storage *st, const char *dir);
/* Delete `n` files (missing ones are not errors) through the storage's
 * remove_many, else one by one; 0 or the first failure (the others are
 * still attempted). */
SLUICE_EXTERN(int)
sluice_storage_remove_many(
	sluice_storage *st, const char *const *paths, size_t n);
/*
 * Resolve the storage's entropy key in `path` into a new string `*out`
 * (free with sluice_free_bytes): inject != 0 replaces the first occurrence
 * of the key in the path part (after "scheme://authority") with random
 * alphanumerics, inject == 0 removes it; runs of '/' left behind are
 * collapsed.  Without a key, or when the path does not contain it, `*out`
 * is a copy of `path`.  0 or SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int)
sluice_storage_entropy_path(
	char **out, const sluice_storage *st, const char *path, int inject);
/* 1 when the storage injects entropy and `path` contains its key. */
SLUICE_EXTERN(int)
sluice_storage_entropy_injecting(const sluice_storage *st, const char *path);
/* Delete every file under `dir` (in batches, see remove_many), then the
 * directories (best effort on directories).  Missing dir: 0. */
SLUICE_EXTERN(int)
sluice_storage_remove_tree(sluice_storage *st, const char *dir);
/* Free bytes returned by the library (sluice_storage_read_all). */
SLUICE_EXTERN(void) sluice_free_bytes(void *p);

/*
 * Fault-injecting wrapper, for tests.  Counts operations on the inner
 * storage; the k-th operation of a selected kind fails with SLUICE_EIO
 * ("injected fault: <op> <path>").  With `crash` set, every operation after
 * the fault fails too (the process is dead).  Short writes write at most
 * half the requested bytes (at least 1).  sluice_fault_power_cut() undoes
 * on the inner storage everything not made durable: bytes written after a
 * file's last sync (files never synced disappear) and renames whose
 * target directory was not synced afterwards (on storages without
 * ATOMIC_RENAME a synced file is durable as soon as it is closed).
 */
typedef enum sluice_fault_op {
	SLUICE_FAULT_NONE = 0,
	SLUICE_FAULT_WRITE = 1 << 0,
	SLUICE_FAULT_SYNC = 1 << 1,
	SLUICE_FAULT_RENAME = 1 << 2,
	SLUICE_FAULT_DELETE = 1 << 3,
	SLUICE_FAULT_OPEN = 1 << 4,  /* open_write */
	SLUICE_FAULT_CLOSE = 1 << 5, /* close of a written file */
	SLUICE_FAULT_MKDIR = 1 << 6, /* mkdirs and sync_dir */
	SLUICE_FAULT_ANY = 0x7f
} sluice_fault_op;

typedef struct sluice_fault_options {
	unsigned ops;     /* sluice_fault_op bits counted */
	long fail_at;     /* 1-based index of the failing counted op; 0 off */
	int crash;        /* fail everything after the fault */
	int short_writes; /* writes are short */
} sluice_fault_options;

/* Wrap `inner` (borrowed, must outlive the wrapper). */
SLUICE_EXTERN(int)
sluice_fault_storage_new(
	sluice_storage **out,
	sluice_storage *inner,
	const sluice_fault_options *opts);
/* Counted operations so far (including the failed one). */
SLUICE_EXTERN(long) sluice_fault_storage_count(sluice_storage *st);
/* 1 once the injected fault has fired. */
SLUICE_EXTERN(int) sluice_fault_storage_fired(sluice_storage *st);
/* Simulate power loss on the inner storage (see above). */
SLUICE_EXTERN(int) sluice_fault_power_cut(sluice_storage *st);

/* ----------------------------------------------------------------------
 * Checkpoint storage: layout, streams, commit.
 *
 * Layout (file and memory storage; create_subdir on):
 *   <dir>/<job-id>/chk-<n>/_metadata and exclusive files (UUID names)
 *   <dir>/<job-id>/shared/   files shared by several checkpoints
 *   <dir>/<job-id>/taskowned/
 *   <savepoint-dir>/savepoint-<job-id[0:6]>-<12 random hex>/ (exclusive
 *   handles there are RELATIVE so the directory can be moved)
 */

#define SLUICE_METADATA_FILE        "_metadata"
#define SLUICE_INLINE_THRESHOLD_MAX 1048576u
#define SLUICE_INLINE_THRESHOLD_DEF 20480u
#define SLUICE_WRITE_BUFFER_DEF     4096u

typedef struct sluice_storage_options {
	/* Checkpoint base dir (URI or path); NULL = jobmanager storage: an
	 * in-memory storage under "memory://jobmanager" where every stream
	 * is inline. */
	const char *checkpoint_dir;
	const char *savepoint_dir;  /* default savepoint dir; NULL = none */
	uint64_t inline_threshold;  /* ≤ 1 MiB; inline when size ≤ this */
	uint64_t write_buffer_size; /* effective: max(this, threshold) */
	int create_subdir;          /* add <job-id>/ below checkpoint_dir */
	/* Storage to use instead of the one registered for the scheme
	 * (tests: a fault wrapper).  Borrowed. */
	sluice_storage *storage;
} sluice_storage_options;

/* Defaults: no dirs, threshold 20480, buffer 4096, create_subdir 1. */
SLUICE_EXTERN(void) sluice_storage_options_init(sluice_storage_options *o);

struct sluice_checkpoint_settings;
/*
 * Options from the configuration (include/sluice/config.h): checkpoint and
 * savepoint dir, inline threshold, write buffer, create-subdir; storage
 * "jobmanager" drops the dir (everything inline in memory).  Borrows the
 * settings' strings.  SLUICE_EINVALID for "filesystem" without a dir or an
 * unknown storage name.  num-retained and retention are for the
 * completed-checkpoint store and the metadata properties (metadata.h).
 */
SLUICE_EXTERN(int)
sluice_storage_options_from_settings(
	sluice_storage_options *o, const struct sluice_checkpoint_settings *s);

typedef struct sluice_checkpoint_storage sluice_checkpoint_storage;
typedef struct sluice_location sluice_location;

typedef enum sluice_scope {
	SLUICE_SCOPE_EXCLUSIVE = 0, /* chk-<n>/ (or the savepoint dir) */
	SLUICE_SCOPE_SHARED = 1     /* shared/ */
} sluice_scope;

/*
 * One job's checkpoint storage.  `job_id` is 32 hex characters.  Copies
 * everything it needs from `opts`.  Errors: SLUICE_EINVALID (job id,
 * "The threshold for file state size cannot be larger than 1048576"),
 * SLUICE_EUNSUPPORTED (unknown scheme), SLUICE_ENOMEM.  Does no I/O.
 */
SLUICE_EXTERN(int)
sluice_checkpoint_storage_new(
	sluice_checkpoint_storage **out,
	const sluice_storage_options *opts,
	const char *job_id);
SLUICE_EXTERN(void)
sluice_checkpoint_storage_free(sluice_checkpoint_storage *cs);
/* Borrowed: the storage and the job directory ("<dir>/<job-id>"). */
SLUICE_EXTERN(sluice_storage *)
sluice_checkpoint_storage_backend(const sluice_checkpoint_storage *cs);
SLUICE_EXTERN(const char *)
sluice_checkpoint_storage_job_dir(const sluice_checkpoint_storage *cs);

/*
 * Location of checkpoint `id`: creates `shared/` and `taskowned/` the
 * first time, then `chk-<id>/`.  The location is owned by the caller until
 * finalized, discarded or freed.
 */
SLUICE_EXTERN(int)
sluice_checkpoint_location_new(
	sluice_location **out, sluice_checkpoint_storage *cs, int64_t id);
/*
 * Location of a savepoint under `target` (NULL = the configured savepoint
 * dir, else SLUICE_EINVALID "No savepoint location given and no default
 * location configured.").  Up to 10 random names are tried.
 */
SLUICE_EXTERN(int)
sluice_savepoint_location_new(
	sluice_location **out,
	sluice_checkpoint_storage *cs,
	const char *target);
/* The directory of the location (borrowed, lives as long as it). */
SLUICE_EXTERN(const char *) sluice_location_dir(const sluice_location *loc);

/*
 * A state stream.  Bytes are buffered up to the effective write buffer;
 * on close a stream that was never flushed and whose size is ≤ the inline
 * threshold yields an INLINE handle (named by its would-be path);
 * otherwise the bytes went to a file with a random UUID name, which is
 * synced, and the handle is FILE (RELATIVE for exclusive streams of a
 * savepoint).  The checksum is xxh3-64 of all bytes.  The stream is owned
 * by the caller (close or abort).  Safe to call concurrently on one
 * location from several threads.
 */
SLUICE_EXTERN(int)
sluice_location_open_stream(
	sluice_ostream **out, sluice_location *loc, sluice_scope scope);

/*
 * Commit point: write `len` bytes as `<dir>/_metadata` following the
 * storage's commit protocol.  ATOMIC_RENAME storages: sync the directories
 * the location's files were created in, write `_metadata.inprogress`, sync
 * it, close it, rename it to `_metadata`, sync the directory.  Other
 * storages: write `_metadata` last, directly.  When this returns 0 the
 * checkpoint is durable.  On failure nothing is deleted (call
 * sluice_location_discard).  The coordinator calls
 * sluice_location_finalize() (metadata.h), which encodes and calls this.
 */
SLUICE_EXTERN(int)
sluice_location_commit(sluice_location *loc, const void *data, size_t len);
/* 1 for a savepoint location. */
SLUICE_EXTERN(int) sluice_location_is_savepoint(const sluice_location *loc);
/* Abort: delete the location's directory and everything in it (shared
 * files written for it are the registry's business).  Frees `loc`. */
SLUICE_EXTERN(int) sluice_location_discard(sluice_location *loc);
/* Forget the location (after finalize), NULL-safe. */
SLUICE_EXTERN(void) sluice_location_free(sluice_location *loc);

/* ----------------------------------------------------------------------
 * Reading state back.  `dir` is the directory of the `_metadata` the
 * handle came from (RELATIVE handles are resolved against it).
 */

/* Location of a FILE/RELATIVE handle as a new string (free with
 * sluice_free_bytes); SLUICE_EINVALID for INLINE/PLACEHOLDER handles. */
SLUICE_EXTERN(int)
sluice_handle_location(
	char **out, const char *dir, const sluice_stream_handle *h);
/*
 * All bytes of a handle, checked against its size and checksum.  Errors
 * name the file: SLUICE_ENOTFOUND ("<path>: missing"), SLUICE_ECORRUPT
 * ("<path>: size 10, expected 12" / "<path>: checksum 0x.. , expected
 * 0x.."), SLUICE_EINVALID for a PLACEHOLDER.  `*data` is freed with
 * sluice_free_bytes.
 */
SLUICE_EXTERN(int)
sluice_handle_read(
	uint8_t **data,
	size_t *len,
	sluice_storage *st,
	const char *dir,
	const sluice_stream_handle *h);
/*
 * Open a handle for reading (seekable; for restoring only some key
 * groups).  INLINE handles read their own bytes.  Nothing is verified
 * here: the size is checked (SLUICE_ECORRUPT "<path>: size 10, expected
 * 12"), the checksum is the reader's business (or sluice_handle_verify).
 */
SLUICE_EXTERN(int)
sluice_handle_open(
	sluice_istream **out,
	sluice_storage *st,
	const char *dir,
	const sluice_stream_handle *h);
/* Stream the handle's bytes (bounded memory): 0 when they exist with the
 * recorded size and checksum; errors as sluice_handle_read. */
SLUICE_EXTERN(int)
sluice_handle_verify(
	sluice_storage *st, const char *dir, const sluice_stream_handle *h);

#ifdef __cplusplus
}
#endif
#endif
