/*
 * State streams and state handles: the seam between state backends (which
 * write snapshots) and checkpoint storage (which makes them durable).
 *
 * A backend writes a snapshot into a sluice_ostream obtained from storage;
 * closing the stream yields a sluice_stream_handle that says where the
 * bytes are (a file/object path, or the bytes themselves when the stream
 * stayed within the inline threshold), how many there are and their xxh3-64
 * checksum.  Handles are recorded in `_metadata`; on restore storage opens a
 * sluice_istream from a handle and verifies the checksum.
 *
 * Ownership: streams are owned by whoever opened them until close/abort,
 * which free them.  Handles are heap objects freed with
 * sluice_stream_handle_free() (NULL-safe).
 *
 * Threading: a stream is used by one thread at a time.
 */
#ifndef SLUICE_SYS_STREAM_H
#define SLUICE_SYS_STREAM_H

#include "../common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sluice_handle_kind {
	SLUICE_HANDLE_INLINE = 1, /* bytes kept in the handle (and _metadata) */
	SLUICE_HANDLE_FILE = 2,   /* absolute path / URI */
	SLUICE_HANDLE_RELATIVE = 3,   /* path relative to the checkpoint dir */
	SLUICE_HANDLE_PLACEHOLDER = 4 /* reference to an already registered
					 shared file: registry key + size */
} sluice_handle_kind;

typedef struct sluice_stream_handle {
	sluice_handle_kind kind;
	char *path;        /* FILE/RELATIVE: location; INLINE: would-be name;
			      PLACEHOLDER: registry key */
	uint64_t size;     /* bytes of state */
	uint64_t checksum; /* xxh3-64 of the bytes */
	uint8_t *data;     /* INLINE only: `size` bytes */
} sluice_stream_handle;

/* New handle; copies path and (for INLINE) data.  NULL on allocation failure.
 */
SLUICE_EXTERN(sluice_stream_handle *)
sluice_stream_handle_new(
	sluice_handle_kind kind,
	const char *path,
	uint64_t size,
	uint64_t checksum,
	const void *data);
SLUICE_EXTERN(sluice_stream_handle *)
sluice_stream_handle_dup(const sluice_stream_handle *h);
SLUICE_EXTERN(void) sluice_stream_handle_free(sluice_stream_handle *h);

typedef struct sluice_ostream sluice_ostream;
struct sluice_ostream {
	int version; /* SLUICE_STREAM_VERSION */
	/* Append bytes.  0 or a negative code (last error set). */
	int (*write)(sluice_ostream *s, const void *data, size_t len);
	/* Bytes written so far (the offset the next write starts at). */
	uint64_t (*pos)(sluice_ostream *s);
	/* Make written bytes durable (fsync / finish upload part). */
	int (*sync)(sluice_ostream *s);
	/*
	 * Finish: make the bytes durable and return their handle in `*out`
	 * (NULL when nothing was written).  Frees the stream, also on error.
	 */
	int (*close)(sluice_ostream *s, sluice_stream_handle **out);
	/* Give up: delete what was written, free the stream. */
	void (*abort)(sluice_ostream *s);
};

typedef struct sluice_istream sluice_istream;
struct sluice_istream {
	int version; /* SLUICE_STREAM_VERSION */
	/* Read up to `len` bytes; `*got` = 0 at end of stream. */
	int (*read)(sluice_istream *s, void *buf, size_t len, size_t *got);
	/* Position at absolute offset `off`. */
	int (*seek)(sluice_istream *s, uint64_t off);
	/* Total size in bytes. */
	uint64_t (*size)(sluice_istream *s);
	/* Free the stream. */
	void (*close)(sluice_istream *s);
};

#define SLUICE_STREAM_VERSION 1

/* Convenience wrappers (NULL-safe close/abort). */
SLUICE_EXTERN(int)
sluice_ostream_write(sluice_ostream *s, const void *data, size_t len);
SLUICE_EXTERN(int)
sluice_ostream_close(sluice_ostream *s, sluice_stream_handle **out);
SLUICE_EXTERN(void) sluice_ostream_abort(sluice_ostream *s);
/* Read exactly `len` bytes or fail with SLUICE_ECORRUPT ("unexpected end"). */
SLUICE_EXTERN(int)
sluice_istream_read_full(sluice_istream *s, void *buf, size_t len);
SLUICE_EXTERN(void) sluice_istream_close(sluice_istream *s);

/*
 * In-memory streams, for tests and the jobmanager (memory) storage.
 * sluice_mem_ostream_new: close() always yields an INLINE handle named
 * `name` holding every byte.  sluice_mem_istream_new reads a copy of
 * `data`.
 */
SLUICE_EXTERN(int)
sluice_mem_ostream_new(sluice_ostream **out, const char *name);
SLUICE_EXTERN(int)
sluice_mem_istream_new(sluice_istream **out, const void *data, size_t len);

/*
 * Keyed state handle: one subtask's keyed snapshot for a key-group range,
 * with the offset of each key group in the stream, so a rescaled restore
 * reads only the groups it owns.
 */
typedef struct sluice_keyed_handle {
	int32_t start_key_group;
	int32_t num_key_groups;
	uint64_t *offsets;            /* num_key_groups entries */
	sluice_stream_handle *stream; /* owned */
} sluice_keyed_handle;

SLUICE_EXTERN(void) sluice_keyed_handle_free(sluice_keyed_handle *h);
SLUICE_EXTERN(sluice_keyed_handle *)
sluice_keyed_handle_dup(const sluice_keyed_handle *h);

/* How operator (non-keyed) list state is redistributed on restore. */
typedef enum sluice_opstate_mode {
	SLUICE_OPSTATE_SPLIT = 0, /* even-split redistribution */
	SLUICE_OPSTATE_UNION = 1,
	SLUICE_OPSTATE_BROADCAST = 2
} sluice_opstate_mode;

typedef struct sluice_opstate_entry {
	char *name;
	sluice_opstate_mode mode;
	uint32_t count;    /* number of elements (partitions) */
	uint64_t *offsets; /* `count` offsets into the stream */
} sluice_opstate_entry;

/* Operator state handle: one subtask's operator states in one stream. */
typedef struct sluice_opstate_handle {
	uint32_t num_states;
	sluice_opstate_entry *states;
	sluice_stream_handle *stream; /* owned */
} sluice_opstate_handle;

SLUICE_EXTERN(void) sluice_opstate_handle_free(sluice_opstate_handle *h);
SLUICE_EXTERN(sluice_opstate_handle *)
sluice_opstate_handle_dup(const sluice_opstate_handle *h);

/*
 * Incremental keyed state handle: one subtask's RocksDB native snapshot
 * (spec §6.2).  SST files are shared between checkpoints: each is either
 * uploaded for this checkpoint (scope SHARED) or a PLACEHOLDER handle
 * referring to a file uploaded by an earlier confirmed checkpoint.  The
 * registry key of a shared file is the path of its handle (for a
 * placeholder the path is the key it refers to).  MANIFEST, CURRENT and
 * OPTIONS files are private to the checkpoint (scope EXCLUSIVE), as is the
 * metadata stream describing the states.  On restore every placeholder
 * must have been replaced by the registry's real handle.
 *
 * Ownership: the handle owns its strings, file handles and metadata; add
 * files with sluice_incremental_handle_add (takes over the file handle,
 * also on failure); free with sluice_incremental_handle_free (NULL-safe).
 */
typedef struct sluice_incremental_file {
	char *name;                   /* local file name, "000012.sst" */
	sluice_stream_handle *handle; /* owned */
} sluice_incremental_file;

typedef struct sluice_incremental_handle {
	char *backend_id; /* id of the backend instance that wrote it */
	int64_t checkpoint_id;
	int32_t start_key_group;
	int32_t num_key_groups;
	uint32_t num_shared;
	sluice_incremental_file *shared_files; /* SST files */
	uint32_t num_private;
	sluice_incremental_file *private_files; /* MANIFEST, CURRENT, OPTIONS */
	sluice_stream_handle *metadata;         /* owned; NULL until set */
	uint64_t checkpointed_size; /* metadata + newly uploaded bytes */
} sluice_incremental_handle;

/* New handle without files.  NULL on allocation failure. */
SLUICE_EXTERN(sluice_incremental_handle *)
sluice_incremental_handle_new(
	const char *backend_id,
	int64_t checkpoint_id,
	int32_t start_key_group,
	int32_t num_key_groups);
/*
 * Append file `name` to the shared (shared != 0) or private list, taking
 * over `file` (freed on failure).  0 or SLUICE_ENOMEM.
 */
SLUICE_EXTERN(int)
sluice_incremental_handle_add(
	sluice_incremental_handle *h,
	int shared,
	const char *name,
	sluice_stream_handle *file);
SLUICE_EXTERN(sluice_incremental_handle *)
sluice_incremental_handle_dup(const sluice_incremental_handle *h);
SLUICE_EXTERN(void)
sluice_incremental_handle_free(sluice_incremental_handle *h);

#ifdef __cplusplus
}
#endif
#endif
